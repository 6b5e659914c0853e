"""snnc's own regression test, written with its pytest plugin (snnc.testing).

The golden file ``golden/test_regression/test_mlp_regression.npz`` was recorded on real Lava::

    .venv/bin/pytest tests/golden/test_regression.py --snnc-target lava --snnc-update-golden

so the default run (``--snnc-target emulator``) checks the emulator against Lava bit for bit,
and ``--snnc-target lava`` checks that Lava itself has not changed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "mlp.nir"
X = np.load(ROOT / "examples" / "mlp_input.npz")["x"]


def test_mlp_regression(snnc_compile, snnc_run, snnc_golden, snnc_baseline):
    prog = snnc_compile(MODEL, target="loihi2")
    y = snnc_run(prog, X)
    assert y.sum() > 0
    snnc_golden.assert_spikes_match(y)
    snnc_baseline.check("latency_steps", max(prog.latency.values()))
    snnc_baseline.check("output_spikes", int(y.sum()))

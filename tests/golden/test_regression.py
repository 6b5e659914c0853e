"""Golden spikes of the shipped example MLP, written with snnc's own pytest plugin (snnc.testing).

One test, two recordings made on real Lava (``Loihi2SimCfg(select_tag="fixed_pt")``):

* ``golden/test_regression/test_mlp_regression.npz``: the program's output, as the plugin
  records it (``.venv/bin/pytest tests/golden/test_regression.py --snnc-target lava
  --snnc-update-golden``), so the default run (``--snnc-target emulator``) checks the emulator
  against Lava bit for bit and ``--snnc-target lava`` checks that Lava itself has not changed;
* ``mlp_lava.npz``: the raw spike raster of every layer (``tests/golden/make_golden.py``),
  so a regression in any layer shows up in the fast suite, without starting Lava.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent
ROOT = GOLDEN.parents[1]
MODEL = ROOT / "examples" / "mlp.nir"
X = np.load(ROOT / "examples" / "mlp_input.npz")["x"]


def test_mlp_regression(snnc_compile, snnc_run, snnc_golden, snnc_baseline):
    prog = snnc_compile(MODEL, target="loihi2")
    y = snnc_run(prog, X)
    assert y.sum() > 0
    snnc_golden.assert_spikes_match(y)
    snnc_baseline.check("latency_steps", max(prog.latency.values()))
    snnc_baseline.check("output_spikes", int(y.sum()))
    # every layer, raw chip time line: the emulator against the rasters recorded on Lava
    raw = prog.run(X, backend="emulator", return_raw=True)
    with np.load(GOLDEN / "mlp_lava.npz") as golden:
        assert sorted(golden.files) == sorted(raw.spikes)
        for layer in golden.files:
            assert golden[layer].sum() > 0
            np.testing.assert_array_equal(raw.spikes[layer].astype(np.uint8), golden[layer], err_msg=layer)

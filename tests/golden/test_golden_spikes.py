"""Golden spikes: the emulator reproduces rasters recorded from real Lava runs.

The files are written by ``tests/golden/make_golden.py`` with Lava; this test needs no Lava,
so a regression in the compiler or the emulator shows up in the fast suite too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import snnc

GOLDEN = Path(__file__).resolve().parent
ROOT = GOLDEN.parents[1]


@pytest.mark.parametrize("name", ["mlp"])
def test_emulator_matches_lava_golden(name):
    prog = snnc.compile(ROOT / "examples" / f"{name}.nir", target="loihi2")
    x = np.load(ROOT / "examples" / f"{name}_input.npz")["x"]
    raw = prog.run(x, backend="emulator", return_raw=True)
    with np.load(GOLDEN / f"{name}_lava.npz") as golden:
        assert sorted(golden.files) == sorted(raw.spikes)
        for layer in golden.files:
            assert golden[layer].sum() > 0
            np.testing.assert_array_equal(raw.spikes[layer].astype(np.uint8), golden[layer], err_msg=layer)

"""Calibration statistics and their use by the quantizer."""

from __future__ import annotations

import numpy as np
import pytest

import snnc
from snnc.calibration import observe
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.errors import CalibrationError

DT = 1e-4


def wide(n_in=2048, n_out=8, seed=0):
    rng = np.random.default_rng(seed)
    tau = np.full(n_out, 1e-3)
    return Graph(
        {
            "in": ops.Input((n_in,)),
            "fc": ops.Linear(rng.normal(0.0, 1.0, (n_out, n_in)) * 16 / np.sqrt(n_in)),
            "h": ops.LIF(tau, tau / DT, np.zeros(n_out), np.ones(n_out), np.zeros(n_out)),
            "out": ops.Output((n_out,)),
        },
        [("in", "fc"), ("fc", "h"), ("h", "out")],
    )


def test_observe_matches_a_hand_computed_drive():
    g = wide(n_in=4, n_out=2)
    x = np.zeros((1, 3, 4))
    x[0, 1] = [1, 1, 0, 0]
    stats = observe(g, x, Convention())
    w = g["fc"].weight
    # LIF in snnTorch form: g_v = 1, the drive at step 1 is W·x
    np.testing.assert_allclose(stats["h"].peak_drive, np.abs(w[:, :2].sum(axis=1)))
    ref = snnc.simulate(g, x)
    assert stats["h"].spike_rate == pytest.approx(ref.mean())


def test_calibration_raises_threshold_resolution_and_clears_overflow_flag():
    g = wide()
    rng = np.random.default_rng(1)
    x = (rng.random((8, 50, 2048)) < 0.05).astype(np.uint8)
    plain = snnc.compile(g)
    cal = snnc.compile(g, calibration=x)
    p_row, c_row = plain.layers[0], cal.layers[0]
    assert any("overflow risk" in n for n in p_row["notes"])  # worst case: all 2048 inputs at once
    assert not any("overflow risk" in n for n in c_row["notes"])
    assert c_row["vth"] > 4 * p_row["vth"]
    # and the calibrated program is at least as faithful on fresh data
    xt = (rng.random((8, 50, 2048)) < 0.05).astype(np.uint8)
    ref = snnc.simulate(g, xt)
    assert np.mean(cal.run(xt) == ref) >= np.mean(plain.run(xt) == ref) - 0.01


def test_bad_calibration_data():
    g = wide(n_in=4, n_out=2)
    with pytest.raises(CalibrationError, match="shape"):
        snnc.compile(g, calibration=np.zeros((0, 3, 4)))
    with pytest.raises(CalibrationError, match="does not fit"):
        snnc.compile(g, calibration=np.zeros((2, 3, 5)))

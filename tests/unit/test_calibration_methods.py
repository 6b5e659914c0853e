"""Calibration methods (max, percentile, search) behind snnc.compile(calibration_method=...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.calibration import methods
from snnc.calibration.methods import calibrate_graph
from snnc.calibration.search import CANDIDATES
from snnc.cli import main
from snnc.driver import compile_with
from snnc.errors import CalibrationError

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "mlp.nir"
X = np.load(ROOT / "examples" / "mlp_input.npz")["x"]


def registers(prog):
    return [(r["vth"], r["weight_exps"], r["bias_exp"], r["scale"]) for r in prog.layers]


def test_max_is_the_default_and_the_previous_behaviour():
    assert methods.DEFAULT_METHOD == "max"
    a = snnc.compile(MODEL, calibration=X)
    b = snnc.compile(MODEL, calibration=X, calibration_method="max")
    assert registers(a) == registers(b)
    cal = calibrate_graph(a.reference, X, a.convention, a.target, "max")
    stats = cal["lif1"].stats
    np.testing.assert_allclose(cal["lif1"].drive_bound, 2.0 * stats.peak_drive)
    np.testing.assert_allclose(stats.peak_drive, stats.sample_peak_drive.max(axis=0))


def test_percentile_sizes_below_the_peak_and_reports_the_risk(monkeypatch):
    # one outlier sample with every input on for 5 steps: a 90th percentile of the
    # per-sample peaks ignores it, the max method does not
    monkeypatch.setattr(methods, "PERCENTILE", 90.0)
    rng = np.random.default_rng(0)
    x = (rng.random((40, 40, 64)) < 0.1).astype(np.uint8)
    x[0, 5:10] = 1
    mx = snnc.compile(MODEL, calibration=x, calibration_method="max")
    pc = snnc.compile(MODEL, calibration=x, calibration_method="percentile")
    assert pc.layers[0]["vth"] > mx.layers[0]["vth"]  # more threshold resolution
    assert any("overflow risk" in n and "calibration samples" in n for n in pc.layers[0]["notes"])
    assert not any("calibration samples" in n for n in mx.layers[0]["notes"])
    # the risk is real: the outlier sample wraps u on the chip, the others do not
    rep = pc.report(x[:1])
    assert rep.layer("lif1").u_wraps > 0
    assert mx.report(x[:1]).layer("lif1").u_wraps == 0


def test_search_is_never_worse_than_max_on_its_own_objective():
    g = snnc.load(MODEL)
    base = snnc.compile(g, calibration=X, calibration_method="max")
    found = snnc.compile(g, calibration=X, calibration_method="search")
    rb, rs = base.report(X), found.report(X)
    for name in ("lif1", "lif2"):
        assert rs.layer(name).own_error <= rb.layer(name).own_error + 1e-12
    assert all("calibrated (search)" in r["notes"][0] for r in found.layers)
    assert len(CANDIDATES) == len(set(CANDIDATES)) and CANDIDATES[0] == (1.0, 1.0)


def test_scale_and_vth_factors_reach_the_registers():
    g = snnc.load(MODEL)
    base = snnc.compile(g)
    cal = calibrate_graph(g, X, base.convention, base.target, "max")
    ref = compile_with(g, base.convention, base.target, cal)
    cal["lif2"].scale_factor, cal["lif2"].vth_factor = 0.5, 1.02
    moved = compile_with(g, base.convention, base.target, cal)
    v0, v1 = ref.layers[1]["vth"], moved.layers[1]["vth"]
    assert v1 == round(round(v0 * 0.5) * 1.02) or abs(v1 - v0 * 0.5 * 1.02) <= 1.5
    assert moved.layers[1]["weight_exps"][0] == ref.layers[1]["weight_exps"][0] - 1
    assert moved.layers[0]["vth"] == ref.layers[0]["vth"]


def test_bad_method_and_method_without_data(capsys):
    with pytest.raises(CalibrationError, match="unknown calibration method"):
        snnc.compile(MODEL, calibration=X, calibration_method="mean")
    with pytest.raises(CalibrationError, match="needs calibration data") as e:
        snnc.compile(MODEL, calibration_method="search")
    assert "--calibration" in e.value.hint
    assert main(["compile", str(MODEL), "--calibration-method", "percentile", "-o", "/nonexistent/x"]) == 2
    assert "needs calibration data" in capsys.readouterr().err


def test_all_zero_activity_names_the_silent_layer():
    with pytest.raises(CalibrationError, match="receives no input") as e:
        snnc.compile(MODEL, calibration=np.zeros_like(X), calibration_method="percentile")
    assert e.value.node == "lif1" and "real data" in e.value.hint
    # NaN in the data is refused before any method runs
    bad = X.astype(float)
    bad[0, 0, 0] = np.nan
    with pytest.raises(CalibrationError, match="NaN"):
        snnc.compile(MODEL, calibration=bad, calibration_method="max")

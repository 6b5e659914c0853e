"""The leave-one-out validation (benchmarks/bench_energy_validation.py, docs/energy.md) on lava-dl's
PilotNet fixtures: the Loihi 2 compute-bound points predict each other within a factor of 2, and
the factors fitted to PilotNet SNN are the shipped loihi2 set's."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from snnc.profiler import load_coefficients

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_energy_validation.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_energy_validation", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    if not (mod.FIX / "pilotnet_lif" / "network.net").is_file():
        pytest.skip(f"lava-dl fixtures not found at {mod.FIX} (see ../shared/lava-dl-fixtures/README.md)")
    return mod


@pytest.fixture(scope="module")
def pilot(bench):
    return bench.pilot_snn_counts()


def test_shipped_loihi2_factors_are_the_pilotnet_fit(bench, pilot):
    base = load_coefficients("loihi1_sanafe2025")
    s, k = bench.fit_pilot(pilot, base, bench.POINTS["V1a"], 1164.0, 26.7)
    co = load_coefficients("loihi2")
    assert co["synop_ns"] == pytest.approx(base["synop_ns"] * s, rel=2e-3)
    assert co["synop_pJ"] == pytest.approx(base["synop_pJ"] * k, rel=2e-3)
    # and with them, PilotNet SNN on Oheo Gulch comes back: 152.85 us per step, 1.661 mJ per inference
    dt, e_dyn, e_static = bench.steady(*pilot, co)
    assert dt == pytest.approx(bench.POINTS["V1a"].step_s, rel=0.01)
    assert e_dyn + e_static == pytest.approx(bench.POINTS["V1a"].energy_J, rel=0.01)


def test_pilotnet_boards_predict_each_other_within_2x(bench, pilot):
    base = load_coefficients("loihi1_sanafe2025")
    for target, train in (("V1a", "V1b"), ("V1b", "V1a")):
        p, q = bench.POINTS[target], bench.POINTS[train]
        s, k = bench.fit_pilot(pilot, base, q, 1164.0, 26.7)
        co = bench.scaled(base, s, k, "loo", barrier_ns=1164.0, step_dynamic_nJ=26.7, static_power_W=0.2146)
        dt, e_dyn, e_static = bench.steady(*pilot, co)
        assert 0.5 < dt / p.step_s < 2, target
        assert 0.5 < (e_dyn + e_static) / p.energy_J < 2, target
    # a small network's modeled step is far below PilotNet's
    small = bench.nir_mlp_counts([1, 1], 50, 0.025, "loihi2")
    from snnc.profiler.energy import estimate
    assert estimate(small, load_coefficients("loihi2")).step_time_s < bench.POINTS["V1a"].step_s / 100

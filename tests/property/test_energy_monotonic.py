"""Property (issue 15): for the same program, modeled energy and latency rise with activity.

Input rates r1 < r2 are drawn nested (every spike of the r1 input is in the r2 input), into a
program whose first layer's weights are non-negative: the r2 run has at least the r1 run's input
events and SynOps, so its dynamic energy, step time and total energy are at least as large, and
strictly larger once r2 adds events.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.backends import emulator
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.profiler import count_events, load_coefficients
from snnc.profiler.energy import estimate
from snnc.profiler.routing import fallback_placement

N_IN, N_HID, N_OUT, T = 24, 16, 6, 12


def _program(seed: int) -> Graph:
    rng = np.random.default_rng(seed)

    def comp(n):
        return loihi.Compartment((n,), 2000, 1000, 12, np.zeros(n, int), 2)
    w1 = rng.integers(0, 120, (N_HID, N_IN))
    w1[rng.random(w1.shape) < 0.3] = 0
    w2 = rng.integers(0, 120, (N_OUT, N_HID))
    nodes = {"in": loihi.SpikeSource((N_IN,)), "s1": loihi.Synapse(w1), "h": comp(N_HID),
             "s2": loihi.Synapse(w2), "o": comp(N_OUT)}
    return Graph(nodes, [("in", "s1"), ("s1", "h"), ("h", "s2"), ("s2", "o")])


def _profile(g, x, co):
    raw = emulator.run(g, x, T + 2)
    counts = count_events(g, x, raw, fallback_placement(g, 8))
    return counts, estimate(counts, co)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), r1=st.floats(0.0, 0.5), factor=st.floats(1.5, 4.0),
       coefficients=st.sampled_from(["loihi2", "loihi1", "loihi1_sanafe2025"]))
def test_energy_and_latency_rise_with_input_rate(seed, r1, factor, coefficients):
    g = _program(seed)
    co = load_coefficients(coefficients)
    u = np.random.default_rng(seed + 1).random((1, T, N_IN))
    r2 = min(1.0, r1 * factor + 0.05)
    lo, hi = u < r1, u < r2  # nested: every lo spike is a hi spike
    c_lo, e_lo = _profile(g, lo, co)
    c_hi, e_hi = _profile(g, hi, co)
    assert c_hi.layers["in"].spikes >= c_lo.layers["in"].spikes
    assert c_hi.block_synops["s1"] >= c_lo.block_synops["s1"]
    assert e_hi.dynamic_J >= e_lo.dynamic_J
    assert e_hi.latency_s >= e_lo.latency_s
    assert e_hi.total_J >= e_lo.total_J
    if c_hi.block_synops["s1"] > c_lo.block_synops["s1"]:
        assert e_hi.dynamic_J > e_lo.dynamic_J and e_hi.total_J > e_lo.total_J


@pytest.mark.parametrize("coefficients", ["loihi2", "loihi1_sanafe2025"])
def test_scaled_rates_give_rising_energy_curve(coefficients):
    """Rates 0, 0.1, ..., 0.8 of one nested draw: energy and latency never fall, and rise end to end."""
    g, co = _program(3), load_coefficients(coefficients)
    u = np.random.default_rng(0).random((2, T, N_IN))
    energies, latencies, dynamic = [], [], []
    for r in np.linspace(0, 0.8, 9):
        _, e = _profile(g, u < r, co)
        energies.append(e.total_J)
        latencies.append(e.latency_s)
        dynamic.append(e.dynamic_J - e.overhead_J)  # the events (without the fixed per-step energy)
    assert all(b >= a for a, b in zip(energies, energies[1:], strict=False))
    assert all(b >= a for a, b in zip(latencies, latencies[1:], strict=False))
    assert all(b >= a for a, b in zip(dynamic, dynamic[1:], strict=False))
    # a small network: the fixed per-step barrier keeps the static share, the events' energy still moves it
    assert dynamic[-1] > 1.5 * dynamic[0] and energies[-1] > 1.05 * energies[0] and latencies[-1] > latencies[0]

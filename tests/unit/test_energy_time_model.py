"""The activity-driven time model (issue 15): per-core counts against brute force, the slowest core
bounding the step, barrier and host I/O modes, static conventions, small vs PilotNet step, students."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

import snnc
from snnc.backends import emulator
from snnc.backends.emulator.synapse import effective_weights
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.placement import Placement
from snnc.errors import InputError
from snnc.profiler import count_events, load_coefficients
from snnc.profiler.energy import estimate
from snnc.profiler.timing import IO_MODES, barrier_time, step_times

B, T = 2, 10
PILOTNET_STEP_S = 1 / (408.91 * 16)  # lava-dl pilotnet_snn benchmark, Oheo Gulch


def _net(rng) -> Graph:
    """input(6) -> dense -> c1(8) (+ recurrent) -> dense -> c2(5)."""
    def comp(n):
        return loihi.Compartment((n,), 1500, 1200, 12, rng.integers(-20, 60, n), 2)

    def w(o, i, z=0.4):
        m = rng.integers(-60, 160, (o, i))
        m[rng.random(m.shape) < z] = 0
        return m
    nodes = {"in": loihi.SpikeSource((6,)), "s1": loihi.Synapse(w(8, 6)), "c1": comp(8),
             "rec": loihi.Synapse(sp.csr_matrix(w(8, 8, 0.7))), "s2": loihi.Synapse(w(5, 8)), "c2": comp(5)}
    return Graph(nodes, [("in", "s1"), ("s1", "c1"), ("c1", "rec"), ("rec", "c1"), ("c1", "s2"), ("s2", "c2")])


def _counts(seed):
    rng = np.random.default_rng(seed)
    g = _net(rng)
    x = rng.random((B, T, 6)) < 0.4
    raw = emulator.run(g, x, T + 2)
    core_of = {c: rng.integers(0, 4, g[c].size).astype(np.int32) for c in ("c1", "c2")}
    pl = Placement("test", core_of, np.array([0, 0, 1, 1], np.int32), "random")
    return g, x, raw, pl, count_events(g, x, raw, pl)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_core_messages_equal_brute_force(seed):
    g, x, raw, pl, c = _counts(seed)
    steps = raw.steps
    spk = {n: raw.spikes[n].reshape(B, steps, -1).astype(bool) for n in ("c1", "c2")}
    xin = np.zeros((B, steps, 6), bool)
    xin[:, :T] = x
    spk["in"] = xin
    shape = (B, steps, pl.n_cores)
    msg_in, msg_out, inter, spikes, host = (np.zeros(shape, int) for _ in range(5))
    for name, pre, post in (("s1", "in", "c1"), ("rec", "c1", "c1"), ("s2", "c1", "c2")):
        w = effective_weights(g[name])
        w = w.toarray() if sp.issparse(w) else np.asarray(w)
        for b in range(B):
            for t in range(steps):
                for j in np.flatnonzero(spk[pre][b, t]):
                    cores = {int(pl.core_of[post][i]) for i in np.flatnonzero(w[:, j])}
                    for cc in cores:
                        msg_in[b, t, cc] += 1
                        if pre == "in":
                            host[b, t, 0] += 1
                        else:
                            src = int(pl.core_of[pre][j])
                            msg_out[b, t, src] += 1
                            inter[b, t, src] += pl.chip_of_core[cc] != pl.chip_of_core[src]
    for p in ("c1", "c2"):
        for b in range(B):
            for t in range(steps):
                for j in np.flatnonzero(spk[p][b, t]):
                    spikes[b, t, int(pl.core_of[p][j])] += 1
    np.testing.assert_array_equal(c.core_msg_in, msg_in)
    np.testing.assert_array_equal(c.core_msg_out, msg_out)
    np.testing.assert_array_equal(c.core_msg_interchip, inter)
    np.testing.assert_array_equal(c.core_spikes, spikes)
    np.testing.assert_array_equal(c.host_per_step, host[..., 0])
    assert msg_out.sum() and inter.sum() and host.sum(), "an empty comparison"
    # the per-core messages add up to the per-layer routed totals
    assert int(c.core_msg_out.sum()) == sum(c.total(k) for k in ("route_core", "route_chip", "route_interchip"))
    assert int(c.core_msg_interchip.sum()) == c.total("route_interchip")


def test_slowest_core_bounds_the_step_and_modes():
    *_, c = _counts(0)
    co = load_coefficients("loihi1_sanafe2025")
    t = step_times(c, co)
    work = (c.core_synops * co["synop_ns"] + c.core_active * co["neuron_update_active_ns"]
            + (c.core_neurons - c.core_active) * co["neuron_update_idle_ns"] + c.core_spikes * co["spike_out_ns"]
            + c.core_msg_out * co["msg_out_ns"] + c.core_msg_interchip * co["msg_interchip_ns"]
            + c.core_msg_in * co["msg_in_ns"]) * 1e-9
    # 4 cores on 2 chips: base + 3 more cores + 1 more chip
    barrier = (co["barrier_ns"] + 3 * co["barrier_per_core_ns"] + co["barrier_interchip_ns"]) * 1e-9
    assert barrier_time(c, co) == pytest.approx(barrier)
    np.testing.assert_allclose(t.dt, work.max(axis=2) + barrier)
    np.testing.assert_array_equal(t.busiest, work.argmax(axis=2))
    assert sum(t.bound_by().values()) == pytest.approx(1.0)
    io = (c.host_per_step > 0) * co["host_io_step_us"] * 1e-6
    np.testing.assert_allclose(step_times(c, co, "io-bound").dt, np.maximum(t.dt, io))
    np.testing.assert_allclose(step_times(c, co, "io-serial").dt, t.dt + io)
    assert step_times(c, co, "io-bound").bound_by().get("host I/O", 0) > 0.5  # 337 us >> a few us
    with pytest.raises(InputError, match="unknown host I/O mode"):
        step_times(c, co, "fast")
    assert set(IO_MODES) == {"compute", "io-bound", "io-serial"}


def test_static_energy_per_chip_or_prorated_by_cores():
    *_, c = _counts(1)
    co = load_coefficients("loihi2")
    chip, cores = estimate(c, co), estimate(c, co, static="cores", cores_per_chip=120)
    assert chip.latency_s == cores.latency_s and chip.dynamic_J == cores.dynamic_J
    assert chip.static_J == pytest.approx(co["static_power_W"] * 2 * chip.latency_s)  # two chips allocated
    assert cores.static_J == pytest.approx(co["static_power_W"] * 4 / 120 * chip.latency_s)
    assert chip.overhead_J == pytest.approx(c.steps * 2 * co["step_dynamic_nJ"] * 1e-9)
    with pytest.raises(InputError, match="static-energy convention"):
        estimate(c, co, static="half")


def test_quick_start_mlp_energy_follows_its_activity(tmp_path):
    """The quick-start MLP: modeled step far below PilotNet's measured 152.9 us; energy from its events."""
    prog = snnc.compile("examples/mlp.nir", target="loihi2")
    x = np.load("examples/mlp_input.npz")["x"]
    rep = prog.profile(x)
    assert rep.estimate.step_time_s < PILOTNET_STEP_S / 50
    e = rep.estimate
    assert e.static_J == pytest.approx(0.232 * e.latency_s)  # static power x modeled time, one chip
    assert e.dynamic_J > 0.05 * e.total_J  # no longer ~99.9 % static
    rep.to_json(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["neurobench"]["Effective_ACs"] == rep.synops
    assert 0 < d["neurobench"]["activation_sparsity"] < 1
    assert d["time_model"]["io_mode"] == "compute" and d["time_model"]["per_step_s"]["barrier_s"] > 0
    assert len(d["cores"]) == rep.counts.placement.n_cores
    assert rep.plot(tmp_path / "p.png").stat().st_size > 10_000
    prorated = prog.profile(x, static="cores")
    assert prorated.estimate.static_J < e.static_J / 10  # 2 of 120 cores
    with pytest.raises(InputError, match="unknown io_mode"):
        prog.profile(x, io_mode="bogus")


def _student(path, scale):
    """A 64-48-10 LIF student (snnTorch-style NIR) with weights x ``scale``: same shape, other spikes."""
    import nir
    rng = np.random.default_rng(7)
    tau = np.full(48, 0.02), np.full(10, 0.02)
    nodes = {"input": nir.Input(input_type=np.array([64])),
             "fc1": nir.Affine(weight=scale * rng.normal(0.05, 0.3, (48, 64)), bias=np.zeros(48)),
             "lif1": nir.LIF(tau=tau[0], r=tau[0] / 1e-3, v_leak=np.zeros(48), v_threshold=np.ones(48)),
             "fc2": nir.Affine(weight=scale * rng.normal(0.05, 0.4, (10, 48)), bias=np.zeros(10)),
             "lif2": nir.LIF(tau=tau[1], r=tau[1] / 1e-3, v_leak=np.zeros(10), v_threshold=np.ones(10)),
             "output": nir.Output(output_type=np.array([10]))}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges))
    return snnc.compile(str(path), target="loihi2")


def test_two_students_with_different_spike_counts_report_different_energies(tmp_path):
    """Two students of the same shape (different weights): the one that spikes more costs more."""
    x = np.load("examples/mlp_input.npz")["x"]
    busy = _student(tmp_path / "busy.nir", 1.0).profile(x)
    calm = _student(tmp_path / "calm.nir", 0.5).profile(x)
    assert calm.spikes < busy.spikes and calm.synops < busy.synops
    assert calm.estimate.dynamic_J < busy.estimate.dynamic_J
    assert calm.energy_J < busy.energy_J and calm.latency_s <= busy.latency_s
    assert busy.energy_J / calm.energy_J > 1.001  # a visible difference, not rounding

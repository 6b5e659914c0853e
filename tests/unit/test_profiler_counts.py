"""Profiler event counts equal brute-force per-synapse counting on small random networks.

The brute force walks every (sample, step, pre neuron, post neuron) and every kernel tap of
a convolution with plain loops; the profiler uses sparse products over the placement.  Both read
the same emulator run (every layer recorded) and the weights Lava uses (clip + truncation).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from snnc.backends import emulator
from snnc.backends.emulator.synapse import conv_weights, effective_weights
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.placement import Placement
from snnc.profiler import count_events
from snnc.profiler.routing import fallback_placement

B, T = 3, 12


def _comp(shape, rng):
    n = int(np.prod(shape))
    return loihi.Compartment(tuple(shape), 1500, 1200, 12, rng.integers(-20, 60, n), 2)


def _weights(rng, n_out, n_in, zero_frac=0.4):
    w = rng.integers(-90, 160, (n_out, n_in))
    w[rng.random(w.shape) < zero_frac] = 0
    w[0, :2] = [1, -1]  # mixed sign: 1 truncates to 0 on the chip, -1 floors to -2 (still a synapse)
    return w


def dense_net(rng) -> Graph:
    """input(7) -> dense -> c1(9) (+ recurrent sparse c1 -> c1) -> delayed dense -> c2(5)."""
    d = rng.integers(0, 3, (5, 9))
    nodes = {
        "in": loihi.SpikeSource((7,)),
        "s1": loihi.Synapse(_weights(rng, 9, 7)),
        "c1": _comp((9,), rng),
        "rec": loihi.Synapse(sp.csr_matrix(_weights(rng, 9, 9, 0.7))),
        "s2": loihi.Synapse(_weights(rng, 5, 9), delays=d),
        "c2": _comp((5,), rng),
    }
    edges = [("in", "s1"), ("s1", "c1"), ("c1", "rec"), ("rec", "c1"), ("c1", "s2"), ("s2", "c2")]
    return Graph(nodes, edges)


def conv_net(rng) -> Graph:
    """input(2,5,5) -> conv 3x3 stride 1 pad 1 (some zero taps) -> c1(3,5,5)."""
    k = rng.integers(-40, 90, (3, 2, 3, 3))
    k[rng.random(k.shape) < 0.3] = 0
    nodes = {"in": loihi.SpikeSource((2, 5, 5)),
             "conv": loihi.ConvSynapse(k, (2, 5, 5), padding=(1, 1)),
             "c1": _comp((3, 5, 5), rng)}
    return Graph(nodes, [("in", "conv"), ("conv", "c1")])


def _conv_synapses(syn: loihi.ConvSynapse):
    """(post, pre) index pairs of non-zero kernel taps, by explicit loops."""
    w = conv_weights(syn)
    c_in, h, wd = syn.in_shape
    c_out, oh, ow = syn.out_shape
    pairs = []
    for co in range(c_out):
        for y in range(oh):
            for x in range(ow):
                for ci in range(c_in):
                    for ky in range(w.shape[2]):
                        for kx in range(w.shape[3]):
                            iy, ix = y + ky - syn.padding[0], x + kx - syn.padding[1]
                            if 0 <= iy < h and 0 <= ix < wd and w[co, ci, ky, kx] != 0:
                                pairs.append(((co * oh + y) * ow + x, (ci * h + iy) * wd + ix, 0))
    return pairs


def _synapses(syn):
    if isinstance(syn, loihi.ConvSynapse):
        return _conv_synapses(syn)
    w = effective_weights(syn)
    w = w.toarray() if sp.issparse(w) else w
    d = np.zeros(w.shape, int) if syn.delays is None else np.asarray(syn.delays)
    return [(i, j, int(d[i, j])) for i in range(w.shape[0]) for j in range(w.shape[1]) if w[i, j] != 0]


def brute_force(g: Graph, x, raw, pl: Placement):
    steps = raw.steps
    spk = {n: raw.spikes[n].reshape(B, steps, -1) for n in raw.spikes}
    xin = np.zeros((B, steps, x[0, 0].size), bool)
    xin[:, : x.shape[1]] = x.reshape(B, x.shape[1], -1)
    spk["in"] = xin
    synops, route = {}, {"core": 0, "chip": 0, "inter": 0, "host": 0}
    active = {c: spk[c].copy() for c in g.of_kind(loihi.Compartment)}
    for name in g.of_kind(loihi.Synapse, loihi.ConvSynapse):
        pre, post = g.predecessors(name)[0], g.successors(name)[0]
        syns = _synapses(g[name])
        n = 0
        for b in range(B):
            for t in range(steps):
                for j in np.flatnonzero(spk[pre][b, t]):
                    cores = set()
                    for i, jj, d in syns:
                        if jj == j:
                            n += 1
                            cores.add(int(pl.core_of[post][i]))
                            if t + 1 + d < steps:
                                active[post][b, t + 1 + d, i] = True
                    for c in cores:
                        if pre == "in":
                            route["host"] += 1
                        elif c == pl.core_of[pre][j]:
                            route["core"] += 1
                        elif pl.chip_of_core[c] == pl.chip_of_core[pl.core_of[pre][j]]:
                            route["chip"] += 1
                        else:
                            route["inter"] += 1
        synops[name] = n
    return synops, route, {c: int(a.sum()) for c, a in active.items()}


def _random_placement(g: Graph, rng) -> Placement:
    core_of = {c: rng.integers(0, 4, g[c].size).astype(np.int32) for c in g.of_kind(loihi.Compartment)}
    return Placement("test", core_of, np.array([0, 0, 1, 1], np.int32), "random")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("make", [dense_net, conv_net], ids=["dense-sparse-delay-recurrent", "conv"])
def test_counts_equal_brute_force(make, seed):
    rng = np.random.default_rng(seed)
    g = make(rng)
    shape = g["in"].shape
    x = rng.random((B, T, *shape)) < 0.35
    raw = emulator.run(g, x, T + 3)
    pl = _random_placement(g, rng)
    c = count_events(g, x, raw, pl)
    synops, route, active = brute_force(g, x, raw, pl)
    assert c.block_synops == synops
    assert all(v > 0 for v in synops.values()), "a silent block makes the comparison empty"
    assert (c.total("route_core"), c.total("route_chip"), c.total("route_interchip"), c.total("route_host")) == (
        route["core"], route["chip"], route["inter"], route["host"])
    for name, n in active.items():
        lc = c.layers[name]
        assert lc.updates_active == n
        assert lc.updates_active + lc.updates_idle == B * raw.steps * g[name].size
        assert lc.spikes == int(raw.spikes[name].sum())
    # per-core, per-step SynOps add up to the blocks' totals; so do active updates
    assert int(c.core_synops.sum()) == sum(synops.values())
    assert int(c.core_active.sum()) == sum(active.values())
    assert c.layers["in"].spikes == int(x.sum())


def test_fallback_placement_blocks_of_neurons_per_core():
    g = dense_net(np.random.default_rng(0))
    pl = fallback_placement(g, 4)
    assert pl.core_of["c1"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2]  # 9 neurons -> 3 cores
    assert pl.core_of["c2"].tolist() == [3, 3, 3, 3, 4]  # a new population starts a new core
    assert pl.n_chips == 1 and pl.n_cores == 5


@pytest.mark.lava
def test_lava_backend_gives_the_same_counts():
    import snnc

    prog = snnc.compile("examples/mlp.nir", target="loihi2")
    x = np.load("examples/mlp_input.npz")["x"][:2, :12]
    emu, lava = prog.profile(x, backend="emulator"), prog.profile(x, backend="lava")
    assert lava.backend == "lava" and emu.synops > 0
    assert lava.per_inference_counts() == emu.per_inference_counts()
    assert lava.counts.block_synops == emu.counts.block_synops
    np.testing.assert_array_equal(lava.counts.core_synops, emu.counts.core_synops)
    assert lava.energy_J == emu.energy_J

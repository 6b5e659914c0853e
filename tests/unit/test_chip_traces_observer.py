"""chip_traces is an observer of the emulator's one loop: its spikes and v are emulator.run's,
and its overflow counters equal an independent count.

The reference below is written from Lava's model code line by line (lava/proc/lif/models.py
``subthr_dynamics`` in numpy **int32**, as Lava computes; Dense ``a_buff``; Conv through
``scipy.signal.correlate`` and ``signed_clamp``), not from snnc's arith, and counts on the side
what the counters define (calibration/trace.py): u' left (−2^23, 2^23]; the int64
``decay(v) + u + b`` left ±(2^23 − 1) (below only, for a spiking population); the port sum, a,
a << 6 or decay(v) + u + b left int32; a Conv sum left signed 24 bits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.signal import correlate

from snnc.backends import emulator
from snnc.calibration.trace import COUNTERS, chip_traces
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph

I32 = 1 << 31


def _graph(rng) -> Graph:
    """in (2, 6, 6) -> conv -> c1 ; in -> d_a -> c2 ; c1 -> d_b -> c2 ; c2 -> d_c -> c3 (read-out)."""
    def even(shape, lo=-256, hi=255):  # on Lava's 8-bit MIXED grid already (no clip/truncation)
        return (rng.integers(lo, hi, shape) // 2 * 2).astype(np.int64)

    kernel = rng.integers(-3, 4, (3, 2, 3, 3)) * 2**19  # sums beyond 2^23: signed_clamp wraps
    conv = loihi.ConvSynapse(kernel, in_shape=(2, 6, 6))
    n1, n2, n3 = conv.n_out, 20, 6
    nodes = {
        "in": loihi.SpikeSource((2, 6, 6)),
        "conv": conv,
        "c1": loihi.Compartment((n1,), du=0, dv=0, vth=3000, bias_mant=np.zeros(n1, np.int64)),
        "d_a": loihi.Synapse(even((n2, 72)), weight_exp=7, sign_mode=loihi.SignMode.MIXED),
        "d_b": loihi.Synapse(even((n2, n1), 100, 255), weight_exp=17, sign_mode=loihi.SignMode.MIXED),
        "c2": loihi.Compartment((n2,), du=rng.integers(0, 4096, n2), dv=1000, vth=2000,
                                bias_mant=rng.integers(-4000, 4000, n2), bias_exp=4, start_step=1),
        "d_c": loihi.Synapse(even((n3, n2), -256, -100), weight_exp=7, sign_mode=loihi.SignMode.MIXED),
        "c3": loihi.Compartment((n3,), du=4095, dv=0, vth=100, bias_mant=np.full(n3, -3000),
                                bias_exp=7, v_init=rng.integers(-9000, 9000, n3), readout="v",
                                start_step=2),
    }
    edges = [("in", "conv"), ("conv", "c1"), ("in", "d_a"), ("d_a", "c2"), ("c1", "d_b"),
             ("d_b", "c2"), ("c2", "d_c"), ("d_c", "c3")]
    return Graph(nodes, edges)


def _trunc_decay64(x, f):
    y = x.astype(np.int64) * f
    return np.sign(y) * (np.abs(y) >> 12)


def _reference(g: Graph, x: np.ndarray, steps: int):
    """Lava's step literally (int32), with the counters' quantities counted in int64."""
    b = x.shape[0]
    comps = [c for c in g.nodes if isinstance(g[c], loihi.Compartment)]
    syns = [s for s in g.nodes if isinstance(g[s], (loihi.Synapse, loihi.ConvSynapse))]
    src = {s: g.predecessors(s)[0] for s in syns}
    ins = {c: [s for s in syns if c in g.successors(s)] for c in comps}
    u = {c: np.zeros((b, g[c].size), np.int32) for c in comps}
    v = {c: np.zeros((b, g[c].size), np.int32) for c in comps}
    for c in comps:
        if g[c].start_step <= 0 and g[c].v_init is not None:
            v[c][:] = g[c].v_init
    buf = {s: np.zeros((b, g[s].n_out), np.int32) for s in syns}
    spikes = {c: np.zeros((b, steps, g[c].size), bool) for c in comps}
    volts = {c: np.zeros((b, steps, g[c].size), np.int64) for c in comps}
    counts = {c: {k: np.zeros(steps, np.int64) for k in COUNTERS} for c in comps}
    xs = x.reshape(b, x.shape[1], -1)
    for t in range(steps):
        cur = {}
        for c in comps:
            node = g[c]
            k = int(node.start_step)
            if t == k and k > 0:
                u[c][:] = 0 if node.u_init is None else node.u_init
                v[c][:] = 0 if node.v_init is None else node.v_init
            parts = [buf[s] for s in ins[c]]
            a64 = sum(p.astype(np.int64) for p in parts)
            if len(parts) > 1:
                counts[c]["int32_wraps"][t] += np.count_nonzero(np.abs(a64) >= I32)
            a = a64.astype(np.int32)  # the port adds in int32 (ports.py:333-350)
            bias = np.left_shift(np.asarray(node.bias_mant).astype(np.int16).astype(np.int32),
                                 node.bias_exp) if t >= k else np.int32(0)
            fu = 4096 - (np.asarray(node.du).astype(np.int64) + 1)
            fv = 4096 - np.asarray(node.dv).astype(np.int64)
            # the counters' int64 quantities
            a6 = a.astype(np.int64) << 6
            u_raw = _trunc_decay64(u[c], fu) + a6
            u_fold = np.where(u_raw > 2**23, u_raw - 2**24, np.where(u_raw <= -(2**23), u_raw + 2**24, u_raw))
            vv = _trunc_decay64(v[c], fv) + u_fold + bias
            counts[c]["u_wraps"][t] += np.count_nonzero((u_raw > 2**23) | (u_raw <= -(2**23)))
            wide = (np.abs(a.astype(np.int64)) >= I32) | (np.abs(a6) >= I32) | (np.abs(vv) >= I32)
            counts[c]["int32_wraps"][t] += np.count_nonzero(wide)
            low = vv < -(2**23 - 1)
            counts[c]["v_saturated"][t] += np.count_nonzero(low | (vv > 2**23 - 1) if node.readout == "v" else low)
            # lava/proc/lif/models.py:145-192, in int32 as Lava computes
            decayed_curr = np.int32(_trunc_decay64(u[c], fu))
            decayed_curr = decayed_curr + np.left_shift(a, 6)
            wrapped = np.where(decayed_curr > 2**23, decayed_curr - 2**24, decayed_curr)
            u[c] = np.where(wrapped <= -(2**23), decayed_curr + 2**24, wrapped).astype(np.int32)
            decayed_volt = np.int32(_trunc_decay64(v[c], fv))
            v_new = np.clip(decayed_volt + u[c] + bias, -(2**23) + 1, 2**23 - 1).astype(np.int32)
            s = v_new > (int(node.vth) << 6)
            v_new[s] = 0
            v[c] = v_new
            cur[c] = s
            spikes[c][:, t], volts[c][:, t] = s, v_new
        for s in syns:
            node = g[s]
            sp = xs[:, t] if src[s] == "in" and t < xs.shape[1] else (
                np.zeros((b, node.n_in), bool) if src[s] == "in" else cur[src[s]])
            if isinstance(node, loihi.ConvSynapse):
                img = sp.reshape(b, *node.in_shape).astype(np.float64)
                acc = np.stack([np.stack([sum(correlate(img[i, ci], node.weights[o, ci].astype(np.float64), mode="valid")
                                              for ci in range(node.in_shape[0]))
                                          for o in range(node.weights.shape[0])]) for i in range(b)]).reshape(b, -1)
                for c in g.successors(s):
                    counts[c]["conv_wraps"][min(t + 1, steps - 1)] += np.count_nonzero((acc < -(2**23)) | (acc >= 2**23))
                acc = acc.astype(np.int32)
                buf[s] = ((acc.astype(np.int64) + 2**23) % 2**24 - 2**23).astype(np.int32)
            else:
                acc = sp.astype(np.int64) @ np.asarray(node.weights).T
                e = int(node.weight_exp)
                buf[s] = (acc << e if e > 0 else acc >> -e).astype(np.int32)
    return spikes, volts, counts


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(7)
    g = _graph(rng)
    x = rng.random((5, 9, 2, 6, 6)) < 0.5
    return g, x


def test_chip_traces_spikes_and_v_are_emulator_runs(case):
    g, x = case
    steps = 10
    tr = chip_traces(g, x, steps)
    # every compartment a read-out (which changes nothing but what run returns): all v
    all_v = Graph({n: dataclasses.replace(node, readout="v") if isinstance(node, loihi.Compartment) else node
                   for n, node in g.nodes.items()}, list(g.edges))
    raw = emulator.run(all_v, x, steps + 2)
    for c, t in tr.items():
        k = g[c].start_step
        np.testing.assert_array_equal(t.spikes, raw.spikes[c][:, k : k + steps])
        np.testing.assert_array_equal(t.v, raw.v[c][:, k : k + steps])
        assert t.spikes.any()


def test_chip_traces_counters_equal_an_independent_count(case):
    g, x = case
    steps = 10
    tr = chip_traces(g, x, steps)
    spikes, volts, counts = _reference(g, x, steps + 2)
    for c, t in tr.items():
        k = g[c].start_step
        np.testing.assert_array_equal(t.spikes, spikes[c][:, k : k + steps])
        np.testing.assert_array_equal(t.v, volts[c][:, k : k + steps])
        for name in COUNTERS:
            np.testing.assert_array_equal(t.counters[name], counts[c][name][k : k + steps], err_msg=f"{c} {name}")
    total = {name: sum(int(t.counters[name].sum()) for t in tr.values()) for name in COUNTERS}
    assert all(n > 0 for n in total.values()), total  # every counter fires in this case


def test_teacher_forcing_replaces_a_synapse_input(case):
    g, x = case
    steps = 10
    free = chip_traces(g, x, steps)
    silent = {"c2": np.zeros((x.shape[0], steps, g["c2"].size), bool)}
    forced = chip_traces(g, x, steps, silent)
    # c3 hears nothing from c2: only its bias and v_init move it; c1, c2 are unchanged
    np.testing.assert_array_equal(forced["c2"].spikes, free["c2"].spikes)
    assert free["c2"].spikes.any()
    quiet = dataclasses.replace(g["d_c"], weights=np.zeros_like(np.asarray(g["d_c"].weights)))
    g0 = Graph({**g.nodes, "d_c": quiet}, list(g.edges))
    np.testing.assert_array_equal(forced["c3"].v, chip_traces(g0, x, steps)["c3"].v)

"""The emulator's fast path (snnc/backends/emulator/fast.py) against its exactness guards.

The generic engine (int64 with every Lava wrap) is the reference: it is checked against Lava
spike for spike by tests/property/test_lava_differential.py.  Here the fast path must equal
it on random programs from the same generators, and on hand-built blocks at the guards'
edges, plus a brute-force int64 reference written from the documented equations.
"""

from __future__ import annotations

import lava_programs  # tests/helpers: the Lava differential test's random programs
import numpy as np
import pytest
from emulator_runs import assert_same_run as assert_same  # tests/helpers
from hypothesis import HealthCheck, given, settings

from snnc.backends import emulator
from snnc.backends.emulator import fast
from snnc.backends.wiring import wiring
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import InputError


@pytest.fixture(autouse=True)
def fast_path_for_small_batches(monkeypatch):
    """These tests use small batches; let them take the fast path as a large batch would."""
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    monkeypatch.setattr(fast, "INT8_MIN_ROWS", 1)


def generic(graph, x, steps, record=None):
    old = fast.ENABLED
    fast.ENABLED = False
    try:
        return emulator.run(graph, x, steps, record)
    finally:
        fast.ENABLED = old


def one_layer(w, n_in, comp, **syn):
    nodes = {"in": loihi.SpikeSource((n_in,)), "s": loihi.Synapse(w, **syn), "c": comp}
    return Graph(nodes, [("in", "s"), ("s", "c")])


def reference(w, e, x, du, dv, vth, steps):
    """Brute force, int64, from compartment.py/synapse.py's docstrings: one layer, no bias."""
    fu, fv = 4096 - (du + 1), 4096 - dv
    batch, n_out = x.shape[0], w.shape[0]
    u = np.zeros((batch, n_out), np.int64)
    v = np.zeros((batch, n_out), np.int64)
    buf = np.zeros((batch, n_out), np.int64)
    vs, ss = [], []

    def w32(a):
        return a.astype(np.int32).astype(np.int64)

    def dec(a, f):
        y = a * f
        return np.sign(y) * (np.abs(y) >> 12)

    for t in range(steps):
        u = w32(w32(dec(u, fu)) + w32(buf << 6))
        u = np.where(u > 2**23, u - 2**24, np.where(u <= -(2**23), u + 2**24, u))
        v = np.clip(w32(w32(dec(v, fv)) + u), -(2**23 - 1), 2**23 - 1)
        s = v > (vth << 6)
        v[s] = 0
        vs.append(v.copy())
        ss.append(s)
        xt = x[:, t] if t < x.shape[1] else np.zeros((batch, w.shape[1]), bool)
        acc = xt.astype(np.int64) @ w.T.astype(np.int64)  # exact, no float anywhere
        buf = w32(acc << e if e >= 0 else acc >> -e)
    return np.stack(ss, 1), np.stack(vs, 1)


def test_sums_beyond_2_24_take_float64_and_stay_exact():
    # 65795 inputs x 255 (EXC: no truncation, not int8): sums up to 16_777_725 > 2^24, odd,
    # so float32 could not hold them; weight_exp = -7 keeps A within the fast path's guard
    n_in, e = 65795, -7
    rng = np.random.default_rng(3)
    w = np.full((2, n_in), 255)
    w[1, rng.integers(0, n_in, 1000)] = 0
    comp = loihi.Compartment((2,), du=4095, dv=0, vth=(1 << 17) - 1, bias_mant=np.zeros(2),
                             bias_exp=0, readout="v")
    g = one_layer(w, n_in, comp, weight_exp=e, sign_mode=loihi.SignMode.EXCITATORY)
    p = fast.plan(g, wiring(g))
    assert p is not None and p.blocks["s"].dtype == np.float64 and p.blocks["s"].i8 is None
    x = np.ones((2, 3, n_in), bool)
    x[1, 1] = rng.random(n_in) < 0.5
    got = emulator.run(g, x, 5)
    s_ref, v_ref = reference(w, e, x, 4095, 0, (1 << 17) - 1, 5)
    assert np.array_equal(got.v["c"], v_ref) and np.array_equal(got.spikes["c"], s_ref)
    assert_same(got, generic(g, x, 5))
    # the sums really are beyond float32: rounding them would change the result
    assert float(np.float32(16_777_725)) != 16_777_725


def test_int8_and_float32_blocks_equal_the_reference():
    rng = np.random.default_rng(4)
    for sign_mode, lo, hi, want_i8 in [(None, -256, 256, True),
                                       (loihi.SignMode.EXCITATORY, 0, 256, False)]:
        for e in (-3, 0, 2):
            w = rng.integers(lo, hi, (7, 50))
            comp = loihi.Compartment((7,), du=2047, dv=100, vth=300, bias_mant=np.zeros(7),
                                     bias_exp=0, readout="v")
            kw = {"sign_mode": sign_mode} if sign_mode else {}
            g = one_layer(w, 50, comp, weight_exp=e, **kw)
            p = fast.plan(g, wiring(g))
            assert p is not None and (p.blocks["s"].i8 is not None) == want_i8
            x = rng.random((3, 12, 50)) < 0.3
            got = emulator.run(g, x, 15)
            from snnc.backends.emulator.synapse import effective_weights

            s_ref, v_ref = reference(effective_weights(g["s"]), e, x, 2047, 100, 300, 15)
            assert np.array_equal(got.v["c"], v_ref) and np.array_equal(got.spikes["c"], s_ref)


def test_guards_send_unsafe_programs_to_the_generic_engine():
    comp = loihi.Compartment((1,), du=4095, dv=4095, vth=1, bias_mant=np.zeros(1), bias_exp=0)
    # A = 600·255 = 153000 ≤ 2^18 but the u wrap must fire (test_emulator's case): fast path
    g = one_layer(np.full((1, 600), 255), 600, comp)
    assert fast.plan(g, wiring(g)) is not None
    # A = 600·255·2^7 > 2^18: int32 wraps possible -> generic
    g = one_layer(np.full((1, 600), 255), 600, comp, weight_exp=7)
    assert fast.plan(g, wiring(g)) is None
    # delays -> generic
    g = one_layer(np.full((1, 4), 2), 4, comp, delays=np.ones((1, 4), int))
    assert fast.plan(g, wiring(g)) is None
    # growing decay (du register beyond 4095) -> generic
    big = loihi.Compartment((1,), du=np.array([9000]), dv=0, vth=1, bias_mant=np.zeros(1),
                            bias_exp=0)
    g = one_layer(np.full((1, 4), 2), 4, big)
    assert fast.plan(g, wiring(g)) is None
    for g in [one_layer(np.full((1, 600), 255), 600, comp, weight_exp=7),
              one_layer(np.full((1, 600), 255), 600, comp)]:
        x = np.ones((2, 3, 600), bool)
        assert_same(emulator.run(g, x, 6), generic(g, x, 6))


def test_chunks_and_record_subsets():
    rng = np.random.default_rng(5)
    nodes = {"in": loihi.SpikeSource((20,))}
    edges = []
    prev = "in"
    for i, n in enumerate([16, 8]):
        nodes[f"s{i}"] = loihi.Synapse(rng.integers(-256, 256, (n, nodes[prev].size)))
        nodes[f"c{i}"] = loihi.Compartment((n,), du=4095, dv=410, vth=50, bias_mant=np.zeros(n),
                                           bias_exp=0, readout="v" if i else "spikes")
        edges += [(prev, f"s{i}"), (f"s{i}", f"c{i}")]
        prev = f"c{i}"
    g = Graph(nodes, edges)
    x = rng.random((fast.CHUNK + 7, 9, 20)) < 0.2
    for record in (None, ["c1"], ["c0"]):
        assert_same(emulator.run(g, x, 12, record), generic(g, x, 12, record))


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int8, np.int32, np.float32])
def test_input_dtypes(dtype):
    g = one_layer(np.full((2, 3), 4), 3, loihi.Compartment((2,), 0, 0, 1, np.zeros(2), 0))
    x = np.random.default_rng(6).random((2, 4, 3)) < 0.5
    assert_same(emulator.run(g, x.astype(dtype), 6), emulator.run(g, x, 6))
    bad = x.astype(dtype)
    bad[1, 2, 0] = 2 if dtype is not bool else True
    if dtype is not bool:
        with pytest.raises(InputError, match="binary"):
            emulator.run(g, bad, 6)
    if dtype in (np.int8, np.int32, np.float32):
        bad[1, 2, 0] = -1
        with pytest.raises(InputError, match="binary"):
            emulator.run(g, bad, 6)


@pytest.mark.parametrize("kind", [k for k in lava_programs.KINDS])
def test_fast_equals_generic_on_random_programs(kind):
    taken = []

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=lava_programs.programs(kind))
    def prop(case):
        graph, x, steps = case
        taken.append(fast.plan(graph, wiring(graph)) is not None)
        assert_same(emulator.run(graph, x, steps), generic(graph, x, steps))

    prop()
    if kind in ("dense", "recurrent", "loop", "sparse"):
        assert any(taken), "the fast path was never taken"


def test_small_batches_take_the_generic_engine(monkeypatch):
    """Below MIN_BATCH the fast path's setup costs more than it saves: plan() is not called."""
    monkeypatch.setattr(fast, "MIN_BATCH", 8)
    calls = []
    monkeypatch.setattr(fast, "plan", lambda *a: calls.append(1))
    g = Graph({"in": loihi.SpikeSource((3,)),
               "s": loihi.Synapse(np.ones((2, 3), np.int64)),
               "c": loihi.Compartment((2,), du=4095, dv=0, vth=1, bias_mant=np.zeros(2, np.int64))},
              [("in", "s"), ("s", "c")])
    emulator.run(g, np.ones((2, 4, 3), bool), 5)
    assert calls == []
    emulator.run(g, np.ones((8, 4, 3), bool), 5)
    assert calls == [1]


def _mlp_block_graph(seed=7):
    rng = np.random.default_rng(seed)
    nodes = {"in": loihi.SpikeSource((70,)),
             "s0": loihi.Synapse(rng.integers(-128, 128, (40, 70)) * 2, weight_exp=-1),
             "c0": loihi.Compartment((40,), du=4095, dv=500, vth=60, bias_mant=np.zeros(40)),
             "s1": loihi.Synapse(rng.integers(-128, 128, (9, 40)) * 4, weight_exp=1),
             "c1": loihi.Compartment((9,), du=1000, dv=200, vth=90, bias_mant=np.zeros(9),
                                     readout="v")}
    edges = [("in", "s0"), ("s0", "c0"), ("c0", "s1"), ("s1", "c1")]
    return Graph(nodes, edges)


def test_int8_blocks_with_few_rows_use_exact_float_weights(monkeypatch):
    """Below INT8_MIN_ROWS an int8 block runs float32 weights rebuilt from its int8 copy."""
    g = _mlp_block_graph()
    p = fast.plan(g, wiring(g))
    assert all(b.i8 is not None and b.wt is None for b in p.blocks.values())
    x = np.random.default_rng(8).random((6, 15, 70)) < 0.3
    want = generic(g, x, 18)
    monkeypatch.setattr(fast, "INT8_MIN_ROWS", 10_000)
    assert_same(emulator.run(g, x, 18), want)
    assert all(b.lazy["wt"].dtype == np.float32 for b in fast.plan(g, wiring(g)).blocks.values())


def test_plan_blocks_are_cached_per_synapse_node():
    g = _mlp_block_graph()
    p1, p2 = fast.plan(g, wiring(g)), fast.plan(g, wiring(g))
    assert p1.blocks["s0"].i8 is p2.blocks["s0"].i8  # built once
    g2 = _mlp_block_graph(seed=9)  # other nodes: other blocks
    assert fast.plan(g2, wiring(g2)).blocks["s0"].i8 is not p1.blocks["s0"].i8


def test_int_mm_probe_falls_back_to_float_with_a_warning(monkeypatch, caplog):
    import torch

    def wrong(a, b):  # what a changed private API might do: a float result
        return (a.float() @ b.float()) + 1

    monkeypatch.setattr(torch, "_int_mm", wrong)
    monkeypatch.setattr(fast, "_INT_MM", fast._UNPROBED)
    monkeypatch.setattr(fast, "_BLOCKS", type(fast._BLOCKS)())
    with caplog.at_level("WARNING", logger=fast.log.name):
        assert fast.int8_matmul() is None
    assert "float32/float64 products instead" in caplog.text
    g = _mlp_block_graph()
    p = fast.plan(g, wiring(g))
    assert all(b.i8 is None and b.wt is not None for b in p.blocks.values())
    x = np.random.default_rng(8).random((6, 15, 70)) < 0.3
    assert_same(emulator.run(g, x, 18), generic(g, x, 18))
    monkeypatch.delattr(torch, "_int_mm")
    monkeypatch.setattr(fast, "_INT_MM", fast._UNPROBED)
    assert fast.int8_matmul() is None and "no _int_mm" in caplog.text


def test_threads_are_limited_during_a_run_and_restored_after(monkeypatch):
    """torch/BLAS run on one thread inside the chunk threads, the user's settings come back."""
    import torch
    from threadpoolctl import threadpool_info

    def blas_threads():  # numpy's BLAS: the one the emulator's float products use
        return [i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    before_torch, before_blas = torch.get_num_threads(), blas_threads()
    seen = []
    real = fast._block_sums

    def spy(*a, **k):
        seen.append((torch.get_num_threads(), blas_threads()))
        return real(*a, **k)

    monkeypatch.setattr(fast, "_block_sums", spy)
    monkeypatch.setattr(fast, "THREADS", 2)
    g = _mlp_block_graph()
    x = np.random.default_rng(8).random((6, 4, 70)) < 0.3
    emulator.run(g, x, 6)
    assert seen and all(t == 1 and b and all(n == 1 for n in b) for t, b in seen)
    assert torch.get_num_threads() == before_torch and blas_threads() == before_blas

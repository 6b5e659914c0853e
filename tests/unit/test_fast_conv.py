"""The fast path on convolutional programs (snnc/backends/emulator/fast_conv.py, fast.py).

References: lava-dl's own PilotNet LIF recording (every layer's spikes, from Lava) and the
generic engine (int64, every Lava wrap; checked against Lava by the differential tests) on the
Lava differential generators' random conv and direct-input programs, with the int8 and float
kernels and the float32 and float64 state each forced in turn.
"""

from __future__ import annotations

from pathlib import Path

import lava_programs  # tests/helpers: the Lava differential test's random programs
import numpy as np
import pytest
from emulator_runs import assert_same_run as assert_same  # tests/helpers
from hypothesis import HealthCheck, given, settings

import snnc
from snnc.backends import emulator
from snnc.backends.emulator import fast, fast_conv
from snnc.backends.wiring import check_input, wiring
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph

PILOT = Path(__file__).resolve().parents[2].parent / "shared" / "lava-dl-fixtures" / "pilotnet_lif"
#: snnc layer -> lava-dl fixture (tests/integration/test_lavadl_fixtures.py)
PILOT_LAYERS = {"layer0": "input", "layer1": "conv-0", "layer2": "conv-1", "layer3": "conv-2",
                "layer4": "conv-3", "layer5": "conv-4", "layer7": "fc-0", "layer8": "fc-1",
                "layer9": "fc-2", "layer10": "fc-3-s"}


def generic(graph, x, steps, **kw):
    old = fast.ENABLED
    fast.ENABLED = False
    try:
        return emulator.run(graph, x, steps, **kw)
    finally:
        fast.ENABLED = old


@pytest.fixture(scope="module")
def pilot():
    if not (PILOT / "network.net").is_file():
        pytest.fail(f"lava-dl's fixtures are missing: expected {PILOT} (see its README)")
    prog = snnc.load(PILOT / "network.net", reset_interval=17)
    image = np.load(PILOT / "image.npy").transpose(2, 1, 0)[None]  # (W, H, C) -> (1, C, H, W)
    return prog, image


def _images(image, batch, seed=0):
    rng = np.random.default_rng(seed)
    x = np.clip(image + rng.integers(-8, 9, (batch,) + image.shape[1:]), 0, 255)
    x[0] = image[0]
    return x.astype(image.dtype)


def test_pilotnet_lif_fast_path_reproduces_lava_dls_recording(pilot):
    """Sample 0 is the fixture's image; the batch of 8 takes the fast path (all five convs on
    int8 products, every population in float32) and reproduces every recorded layer."""
    prog, image = pilot
    x = _images(image, fast.MIN_BATCH)
    steps = 24 - max(prog.latency.values())
    w = wiring(prog.graph)
    p = fast.plan(prog.graph, w, check_input(prog.graph, x, steps, w, route="bias"))
    assert p is not None
    convs = [b for b in p.blocks.values() if b.conv is not None]
    assert len(convs) == 5 and all(b.conv.i8 is not None for b in convs)
    assert all(c.dtype == np.float32 and c.reset_interval == 17 for c in p.comps)
    raw = prog.run(x, input="bias", steps=steps, return_raw=True)
    assert raw.steps == 24
    for layer, name in PILOT_LAYERS.items():
        got = raw.spikes[layer][0]  # (T, C, H, W) or (T, n)
        got = got.transpose(3, 2, 1, 0) if got.ndim == 4 else got.reshape(24, -1).T
        want = np.load(PILOT / f"{name}.npy")
        want = want.reshape(got.shape[:-1] + want.shape[-1:])[..., :24].astype(bool)
        assert np.array_equal(got, want), name
    assert raw.spikes["layer5"][0].any()
    # the other (perturbed) samples: the generic engine's spikes, on both input routes
    assert_same(raw_of(prog, x, steps), raw_of(prog, x, steps, fast_on=False))
    xa = np.repeat(x[:, None], 6, axis=1).astype(np.int32)  # the a_in route: values every step
    assert_same(prog.run(xa, return_raw=True), _generic_prog(prog, xa))


def raw_of(prog, x, steps, fast_on=True):
    old = fast.ENABLED
    fast.ENABLED = fast_on
    try:
        return prog.run(x, input="bias", steps=steps, return_raw=True)
    finally:
        fast.ENABLED = old


def _generic_prog(prog, x):
    old = fast.ENABLED
    fast.ENABLED = False
    try:
        return prog.run(x, return_raw=True)
    finally:
        fast.ENABLED = old


@pytest.mark.parametrize("kind", ["conv", "input"])
@pytest.mark.parametrize("variant", ["int8", "float", "float64-state"])
def test_fast_equals_generic_on_random_conv_and_input_programs(kind, variant, monkeypatch):
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    monkeypatch.setattr(fast, "INT8_MIN_ROWS", 1)
    if variant == "float":
        monkeypatch.setattr(fast, "int8_matmul", lambda: None)
        fast._BLOCKS.clear()
    if variant == "float64-state":
        monkeypatch.setattr(fast, "F32_STATE", False)
    taken = []

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=lava_programs.programs(kind))
    def prop(case):
        graph, x, steps = case
        w = wiring(graph)
        p = fast.plan(graph, w, check_input(graph, x, steps, w))
        taken.append(p is not None)
        assert_same(emulator.run(graph, x, steps), generic(graph, x, steps))

    prop()
    fast._BLOCKS.clear()  # blocks built without int8 must not outlive this test
    assert sum(taken) >= len(taken) // 4, f"fast path taken in {sum(taken)} of {len(taken)}"


def _conv_graph(weights, in_shape, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                dv=1024, vth=10, dense_after=True, seed=0):
    rng = np.random.default_rng(seed)
    conv = loihi.ConvSynapse(weights=weights, in_shape=in_shape, stride=stride, padding=padding,
                             dilation=dilation, groups=groups)
    n = conv.n_out
    nodes = {"in": loihi.SpikeSource(in_shape), "k": conv,
             "a": loihi.Compartment(conv.out_shape, du=4095, dv=dv, vth=vth,
                                    bias_mant=rng.integers(-3, 4, n), bias_exp=6, readout="v")}
    edges = [("in", "k"), ("k", "a")]
    if dense_after:
        nodes["d"] = loihi.Synapse(rng.integers(-100, 100, (5, n)), weight_exp=-2)
        nodes["b"] = loihi.Compartment((5,), du=1000, dv=300, vth=20, bias_mant=np.zeros(5),
                                       readout="v")
        edges += [("a", "d"), ("d", "b")]
    return Graph(nodes, edges)


@pytest.mark.parametrize("geometry", [
    {"stride": (2, 1), "padding": (1, 0)},
    {"dilation": (2, 2), "padding": (2, 1)},
    {"groups": 2, "stride": (1, 2)},
])
def test_strided_dilated_grouped_convolutions(geometry, monkeypatch):
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    rng = np.random.default_rng(1)
    groups = geometry.get("groups", 1)
    w = rng.integers(-20, 21, (6, 4 // groups, 3, 3))
    g = _conv_graph(w, (4, 9, 11), **geometry)
    x = rng.random((9, 7, 4, 9, 11)) < 0.3
    p = fast.plan(g, wiring(g), check_input(g, x, 10))
    assert p is not None and p.blocks["k"].conv is not None and p.blocks["k"].conv.i8 is not None
    got = emulator.run(g, x, 10)
    assert_same(got, generic(g, x, 10))
    assert got.spikes["a"].any() and not got.spikes["a"].all()


def test_large_conv_weights_take_float_products_and_beyond_2_23_the_generic_engine(monkeypatch):
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    rng = np.random.default_rng(2)
    x = rng.random((3, 5, 2, 6, 6)) < 0.5
    # not int8 (odd values above 127), sums within 2^18: exact float32 products
    w = rng.integers(-300, 301, (3, 2, 3, 3)) | 1
    g = _conv_graph(w, (2, 6, 6), dv=0, vth=1 << 16)
    blk = fast.plan(g, wiring(g), check_input(g, x, 8)).blocks["k"].conv
    assert blk.i8 is None and blk.dtype == np.float32
    assert_same(emulator.run(g, x, 8), generic(g, x, 8))
    # Σ|W| of one output beyond 2^23 − 1: Lava's 24-bit clamp could fire -> generic engine
    big = np.full((1, 2, 3, 3), 1 << 19)
    g = _conv_graph(big, (2, 6, 6), dense_after=False)
    assert fast_conv.build(g["k"]) is None and fast.plan(g, wiring(g), check_input(g, x, 8)) is None
    assert_same(emulator.run(g, x, 8), generic(g, x, 8))


def test_float32_state_only_where_its_bound_holds(monkeypatch):
    """A population whose v could leave float32's exact integers is held in float64."""
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    w = np.full((1, 1, 3, 3), 100)
    x = np.ones((2, 6, 1, 5, 5), bool)
    small = _conv_graph(w, (1, 5, 5), dense_after=False)
    # dv = 1: factor 4095 (odd): |v|·4095 reaches 2^24 as soon as |v| > 4096
    wide = _conv_graph(w, (1, 5, 5), dv=1, vth=1 << 16, dense_after=False)
    for g, want in ((small, np.float32), (wide, np.float64)):
        p = fast.plan(g, wiring(g), check_input(g, x, 9))
        assert p.comps[0].dtype == want
        assert_same(emulator.run(g, x, 9), generic(g, x, 9))


def test_direct_input_values_enter_the_bound(monkeypatch):
    """Direct int32 values beyond the A ≤ 2^18 guard (a << 6 could wrap) take the generic engine."""
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    nodes = {"in": loihi.SpikeSource((4,), payload="int32"),
             "a": loihi.Compartment((4,), du=4095, dv=2048, vth=100, bias_mant=np.zeros(4),
                                    readout="v")}
    g = Graph(nodes, [("in", "a")])
    w = wiring(g)
    for value, taken in ((1000, True), ((1 << 25) + 3, False)):
        x = np.full((2, 3, 4), value, np.int64)
        x[1] = -value
        assert (fast.plan(g, w, check_input(g, x, 5)) is not None) == taken
        assert_same(emulator.run(g, x, 5), generic(g, x, 5))


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU (the torch engine on CUDA)")
def test_torch_engine_on_cuda_equals_the_fast_path(pilot):
    """Where a GPU is present: PilotNet LIF on the torch engine on CUDA (int64, every wrap)
    gives the fast path's spikes."""
    prog, image = pilot
    x = _images(image, fast.MIN_BATCH)
    steps = 24 - max(prog.latency.values())
    assert_same(prog.run(x, input="bias", steps=steps, return_raw=True, device="cuda"),
                prog.run(x, input="bias", steps=steps, return_raw=True))


def test_bias_route_bound_from_the_values_and_shifts_that_could_wrap(monkeypatch):
    """On the bias route the bound on b comes from the values' min and max; a bias_exp that
    could wrap b in int32 takes the generic engine.  Both equal the generic engine."""
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    x = np.array([[-4095, 3, 0, 4095], [1, 2, -3, 4], [7, -7, 100, -100]])
    for e, taken in ((6, True), (-3, True), (20, False)):
        nodes = {"in": loihi.SpikeSource((4,), payload="int32"),
                 "a": loihi.Compartment((4,), du=4095, dv=2048, vth=5000, bias_mant=np.zeros(4),
                                        bias_exp=e, readout="v")}
        g = Graph(nodes, [("in", "a")])
        w = wiring(g)
        p = fast.plan(g, w, check_input(g, x, 6, w, route="bias"))
        assert (p is not None) == taken, e
        got = emulator.run(g, x, 6, input="bias")
        assert_same(got, generic(g, x, 6, input="bias"))
        assert got.v["a"].any()


def test_pooling_blocks_too_big_to_densify_stay_sparse_on_the_fast_path(monkeypatch):
    """A 2x2 sum pool of a conv's 8x64x64 output (32768 -> 8192: 2.7e8 entries, beyond
    MAX_DENSE) runs as an exact CSR product; a dense read-out follows."""
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    rng = np.random.default_rng(4)
    conv = loihi.ConvSynapse(weights=rng.integers(-9, 10, (8, 1, 3, 3)), in_shape=(1, 66, 66))
    c, h, w = conv.out_shape
    rows, cols = [], []
    for ch in range(c):
        for i in range(h // 2):
            for j in range(w // 2):
                o = (ch * (h // 2) + i) * (w // 2) + j
                for di in (0, 1):
                    for dj in (0, 1):
                        rows.append(o)
                        cols.append((ch * h + 2 * i + di) * w + 2 * j + dj)
    import scipy.sparse as sp

    pool = sp.csr_matrix((np.full(len(rows), 3), (rows, cols)), shape=(c * h * w // 4, c * h * w))
    n_pool = pool.shape[0]
    nodes = {"in": loihi.SpikeSource((1, 66, 66)), "k": conv,
             "a": loihi.Compartment(conv.out_shape, du=4095, dv=1024, vth=6,
                                    bias_mant=np.zeros(c * h * w)),
             "p": loihi.Synapse(pool),
             "b": loihi.Compartment((n_pool,), du=4095, dv=2048, vth=2, bias_mant=np.zeros(n_pool)),
             "d": loihi.Synapse(rng.integers(-20, 20, (4, n_pool)), weight_exp=-3),
             "r": loihi.Compartment((4,), du=1000, dv=500, vth=50, bias_mant=np.zeros(4),
                                    readout="v")}
    g = Graph(nodes, [("in", "k"), ("k", "a"), ("a", "p"), ("p", "b"), ("b", "d"), ("d", "r")])
    x = rng.random((3, 5, 1, 66, 66)) < 0.4
    assert pool.shape[0] * pool.shape[1] > fast.MAX_DENSE
    p = fast.plan(g, wiring(g), check_input(g, x, 8))
    assert p is not None and p.blocks["p"].sparse is not None
    got = emulator.run(g, x, 8)
    assert_same(got, generic(g, x, 8))
    assert got.spikes["b"].any() and got.v["r"].any()


def test_a_single_conv_sample_takes_the_fast_path(pilot, monkeypatch):
    """Programs with a convolution take the fast path from one sample on (dense ones from
    MIN_BATCH): one PilotNet image, the same spikes as the generic engine."""
    prog, image = pilot
    assert fast.min_batch(prog.graph) == 1
    calls = []
    real = fast.plan
    monkeypatch.setattr(fast, "plan", lambda *a: calls.append(1) or real(*a))
    got = prog.run(image, input="bias", steps=6, return_raw=True)
    assert calls == [1]
    assert_same(got, raw_of(prog, image, 6, fast_on=False))

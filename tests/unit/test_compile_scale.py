"""Compiling at scale: structure of a ~100 k-neuron program, and the vectorized quantizer
produces exactly what the per-neuron / all-sparse implementation produced.

``FINGERPRINTS`` were recorded with the implementation before the chip-scale rewrite
(commit d14408f): the SHA-256 of the printer text plus the bytes of every integer register
and weight array of the compiled Loihi graph.  Any change to a quantized integer, a block's
storage (dense / sparse) or the printer text changes the fingerprint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pathlib

import numpy as np
import pytest
import scipy.sparse as sp

import snnc
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.printer import format_graph

DT = 1e-4
_BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_compile.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_compile", _BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fingerprint(graph: Graph) -> str:
    h = hashlib.sha256(format_graph(graph).encode())
    for name in sorted(graph.nodes):
        node = graph[name]
        h.update(name.encode())
        for f in getattr(node, "array_fields", ()):
            a = getattr(node, f)
            if a is None:
                continue
            if sp.issparse(a):
                for part in (a.data, a.indices, a.indptr):
                    h.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
            else:
                arr = np.asarray(a)
                h.update(str(arr.dtype).encode() + str(arr.shape).encode())
                h.update(np.ascontiguousarray(arr).tobytes())
        if isinstance(node, loihi.Compartment):
            h.update(repr((node.vth, node.bias_exp, float(node.v_scale).hex(), node.start_step)).encode())
        if isinstance(node, loihi.Synapse):
            h.update(repr((node.weight_exp, int(node.sign_mode), node.is_sparse)).encode())
    return h.hexdigest()


def _lif(shape, rng=None, thr=None):
    tau = np.full(shape, DT / 0.1)
    if rng is not None:
        tau = DT / (1.0 - rng.uniform(0.8, 0.95, shape))
    return ops.LIF(tau, tau / DT, np.zeros(shape), np.ones(shape) if thr is None else thr, np.zeros(shape))


def random_graph(seed: int) -> Graph:
    """Small/medium graphs through every path kind: dense Affine/Linear (with Scale and
    Flatten around them), recurrence, Delay, per-neuron thresholds and resets, CubaLIF with a
    synaptic bias, lone conv, conv→pool, avg-pool→flatten, sparse dense-layer weights."""
    rng = np.random.default_rng(seed)
    c, h = 2, 8 + 4 * (seed % 3)
    n0 = c * h * h
    m = int(rng.integers(20, 200))
    k = int(rng.integers(10, 60))
    w1 = rng.normal(0.05, 1.0, (m, n0)) / np.sqrt(n0)
    if seed % 2:
        w1[rng.random(w1.shape) < 0.9] = 0.0  # mostly zero: stored sparse
    thr = rng.uniform(0.5, 2.0, m) if seed % 3 == 0 else np.ones(m)
    reset = rng.uniform(-0.3, 0.3, m) if seed % 4 == 1 else np.zeros(m)
    tau = DT / (1.0 - rng.uniform(0.7, 0.95, m))
    nodes = {
        "in": ops.Input((c, h, h)),
        "flat": ops.Flatten((c, h, h)),
        "fc1": ops.Affine(w1, rng.normal(0, 0.05, m)),
        "sc1": ops.Scale(rng.uniform(0.5, 1.5, m)),
        "h1": ops.LIF(tau, tau / DT * rng.uniform(0.8, 1.2, m), rng.normal(0, 0.01, m), thr, reset),
        "rec": ops.Linear(rng.normal(0, 0.3, (m, m)) / np.sqrt(m)),
        "fc2": ops.Linear(rng.normal(0.0, 1.0, (k, m)) / np.sqrt(m)),
        "h2": ops.CubaLIF(np.full(k, 5e-4), np.full(k, 1e-3), np.full(k, 10.0), np.zeros(k), np.ones(k),
                          np.zeros(k), np.full(k, 1.0)),
        "fc2b": ops.Affine(rng.normal(0.0, 1.0, (k, m)) / np.sqrt(m), rng.normal(0, 0.1, k)),
        "dly": ops.Delay(np.full(m, 2 * DT)),
        "conv": ops.Conv2d((h, h), rng.normal(0, 0.5, (4, c, 3, 3)), (1, 1), (1, 1), (1, 1), 1, np.zeros(4)),
        "hc": _lif((4, h, h), rng),
        "conv2": ops.Conv2d((h, h), rng.normal(0, 0.3, (3, 4, 3, 3)), (1, 1), (1, 1), (1, 1), 1, rng.normal(0, .01, 3)),
        "pool": ops.SumPool2d((3, h, h), (2, 2), (2, 2), (0, 0)),
        "hp": _lif((3, h // 2, h // 2)),
        "avg": ops.AvgPool2d((3, h // 2, h // 2), (2, 2), (2, 2), (0, 0)),
        "flat2": ops.Flatten((3, h // 4, h // 4)),
        "fc3": ops.Affine(rng.normal(0, 1.0, (5, 3 * (h // 4) ** 2)), np.zeros(5)),
        "ro": ops.LI(np.full(5, 1e-3), np.ones(5), np.zeros(5)),
        "out": ops.Output((k,)),
        "out2": ops.Output((5,)),
        "out3": ops.Output((m,)),
    }
    edges = [
        ("in", "flat"), ("flat", "fc1"), ("fc1", "sc1"), ("sc1", "h1"), ("h1", "rec"), ("rec", "h1"),
        ("h1", "fc2"), ("fc2", "h2"), ("h1", "dly"), ("dly", "fc2b"), ("fc2b", "h2"), ("h2", "out"),
        ("in", "conv"), ("conv", "hc"), ("hc", "conv2"), ("conv2", "pool"), ("pool", "hp"), ("hp", "avg"),
        ("avg", "flat2"), ("flat2", "fc3"), ("fc3", "ro"), ("ro", "out2"), ("h1", "out3"),
    ]
    return Graph(nodes, edges)


CASES = {f"random{s}": (lambda s=s: random_graph(s)) for s in range(6)}
CASES["bench10k"] = lambda: _bench().network(24, 600)

FINGERPRINTS: dict[str, str] = {
    "bench10k": "681efbd6853ea4d6ad295c6f06210a9c877f84031da02fa3608a81913dac881c",
    "random0": "ff6370565027decb95fbe0b37cb12dc88f1c6526602f67c5f754c5f46eb0ba5a",
    "random1": "ba8c80ca601ac339f0416b56189a982bb09fb4a89745e7fcd409a77df164df25",
    "random2": "e2fe874d2f6d29695e9dbb3a5d3ef865687f1eec120fa194d5d222ea58259553",
    "random3": "db1b1869ba87aa67927ba4563474724cd82455f5e879edad4d20b877d261fa02",
    "random4": "7b3286b84c43c9269dac461045cf476038edf79a93bedf5f1525ccc826cba5a3",
    "random5": "3378c1e2f1e9b19a0eadb8c8827b40263e7be5874b35c8c4bfd05ccbeda9f7d4",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_quantized_program_is_unchanged(case):
    prog = snnc.compile(CASES[case]())
    assert fingerprint(prog.graph) == FINGERPRINTS[case]


def test_compile_100k_neurons_structure():
    bench = _bench()
    graph = bench.network(80, 1200)  # 120 k neurons, ~5 M stored synapses
    prog = snnc.compile(graph)
    g = prog.graph
    comps = g.of_kind(loihi.Compartment)
    assert sum(g[n].size for n in comps) == 102_400 + 12_800 + 800 + 2 * 1200 + 10
    assert {g[n].kind for n in g.of_kind(loihi.Synapse, loihi.ConvSynapse)} == {"Synapse", "ConvSynapse"}
    conv = g["lif1:syn"]
    assert isinstance(conv, loihi.ConvSynapse) and conv.weights.shape == (16, 2, 3, 3)
    assert conv.weights.dtype == np.int64
    assert g["lif2:syn"].is_sparse and g["lif3:syn"].is_sparse
    assert g["lif2:syn"].weights.shape == (12_800, 102_400)
    assert 3_000_000 < g["lif2:syn"].weights.nnz <= 12_800 * 16 * 16  # 16 channels x 4x4 window
    assert g["lif2:syn"].weights.data.dtype == np.int64
    for n in ("lif4:syn", "lif5:syn", "li:syn"):
        syn = g[n]
        assert not syn.is_sparse and syn.weights.dtype == np.int64
    assert g["lif4:syn"].weights.shape == (1200, 800)
    assert g["lif5:syn"].weights.shape == (1200, 1200)
    assert np.ndim(g["lif4"].du) == 0 and np.ndim(g["lif4"].dv) == 1  # per-neuron τ
    assert g["lif4"].dv.dtype == np.int64 and g["lif4"].bias_mant.dtype == np.int64
    stored = sum(g[n].num_synapses for n in g.of_kind(loihi.Synapse, loihi.ConvSynapse))
    assert 4_000_000 < stored < 6_000_000


def test_conv_then_pool_never_unrolls_the_conv(monkeypatch):
    """conv2 → SumPool is composed as one convolution (linear.conv_then_pool): the unpooled conv's
    matrix (kernel 3×3, stride 1) is never built; the 4×4 stride-2 one is.  The program is the
    same bit for bit (FINGERPRINTS above)."""
    from snnc.compiler import linear

    built = []
    real = linear._conv_matrix

    def spy(weight, in_spatial, stride, *rest):
        built.append((tuple(np.shape(weight)), tuple(stride)))
        return real(weight, in_spatial, stride, *rest)

    monkeypatch.setattr(linear, "_conv_matrix", spy)
    snnc.compile(random_graph(0))
    assert ((3, 4, 3, 3), (1, 1)) not in built
    assert ((3, 4, 4, 4), (2, 2)) in built

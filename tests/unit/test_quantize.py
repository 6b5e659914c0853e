"""The quantize pass: register values, scaling rules, alignment delays and its errors."""

from __future__ import annotations

import numpy as np
import pytest

import snnc
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.errors import ValidationError

DT = 1e-4


def lif(n, beta=0.9, thr=1.0, reset=0.0):
    beta = np.broadcast_to(np.asarray(beta, float), (n,)).copy()
    tau = DT / (1 - beta)
    return ops.LIF(tau, tau / DT, np.zeros(n), np.full(n, thr, float), np.full(n, reset, float))


def cuba(n, alpha=0.5, beta=0.9):
    ts, tm = np.full(n, DT / (1 - alpha)), np.full(n, DT / (1 - beta))
    return ops.CubaLIF(ts, tm, tm / DT, np.zeros(n), np.ones(n), np.zeros(n), ts / DT)


def mlp(neuron=lif, n_in=6, n_h=4, seed=0, bias=0.0):
    rng = np.random.default_rng(seed)
    return Graph(
        {
            "in": ops.Input((n_in,)),
            "fc": ops.Affine(rng.normal(size=(n_h, n_in)), np.full(n_h, bias)),
            "n": neuron(n_h),
            "out": ops.Output((n_h,)),
        },
        [("in", "fc"), ("fc", "n"), ("n", "out")],
    )


def comp(prog, name="n") -> loihi.Compartment:
    return prog.graph[name]


def test_lif_registers():
    p = snnc.compile(mlp())
    c = comp(p)
    assert c.du == 4095  # no synaptic state: u forgets everything each step
    assert c.dv == round(0.1 * 4096)
    assert 2**8 <= c.vth <= 2**17 - 1
    syn = p.graph["n:syn"]
    w = syn.dense_weights()
    assert w.min() >= -256 and w.max() <= 254 and np.all(w % 2 == 0)  # mixed-sign grid
    assert np.abs(w).max() > 127  # the range is used
    assert p.latency == {"out": 1} and c.start_step == 1


def test_effective_weight_ratio_matches_float():
    """w_q·2^e / vth equals g_v·w / θ for every synapse, up to grid rounding."""
    g = mlp()
    p = snnc.compile(g)
    c, syn = comp(p), p.graph["n:syn"]
    ratio_chip = syn.dense_weights() * 2.0**syn.weight_exp / c.vth
    ratio_float = g["fc"].weight / 1.0  # snnTorch convention: g_v = R·dt/τ = 1
    step = 2 * 2.0**syn.weight_exp / c.vth
    assert np.all(np.abs(ratio_chip - ratio_float) <= step)


def test_cubalif_current_decay_has_lavas_offset():
    p = snnc.compile(mlp(cuba))
    assert comp(p).du == round(0.5 * 4096) - 1
    assert comp(p).dv == round(0.1 * 4096)


def test_cubalif_bias_enters_the_current_through_an_always_on_neuron():
    g = mlp(cuba, bias=0.3)
    p = snnc.compile(g)
    src = p.graph["n:bias_source"]
    assert src.meta["role"] == "bias" and src.size == 1 and src.start_step == comp(p).start_step - 1
    assert comp(p).bias_mant.max() == 0  # nothing goes to v directly
    raw = p.run(np.zeros((1, 5, 6), np.uint8), return_raw=True)
    assert raw.spikes["n:bias_source"][0, :, 0].tolist() == [1] * (5 + p.latency["out"])
    # with no input spikes, the constant synaptic current alone drives the layer exactly
    x = np.zeros((2, 40, 6), np.uint8)
    ref = snnc.simulate(g, x)
    assert ref.sum() > 0
    np.testing.assert_array_equal(p.run(x), ref)


def test_lif_bias_is_exact_in_v_units():
    p = snnc.compile(mlp(bias=0.05))
    c = comp(p)
    chip = c.bias_mant * 2.0**c.bias_exp / 64.0 / c.vth  # per step, in threshold units
    assert np.allclose(chip, 0.05, rtol=2e-3)  # g_v = 1: the bias enters v as is


def test_nonzero_reset_is_shifted_to_zero():
    g = mlp(lambda n: lif(n, thr=1.0, reset=-0.5))
    c = comp(snnc.compile(g))
    # v' = v − v_reset starts at +0.5; the threshold θ' = θ − v_reset = 1.5
    assert c.v_init is not None and np.all(c.v_init > 0)
    assert np.allclose(c.v_init / 64.0 / c.vth, 0.5 / 1.5, rtol=1e-3)
    assert np.all(c.v_offset == -0.5)


def test_per_neuron_time_constants_become_per_neuron_decays():
    """snnTorch's learnable per-neuron β: one (du, dv) pair per neuron, reported as profiles."""
    betas = np.linspace(0.5, 0.9, 4)
    g = mlp(lambda n: lif(n, beta=betas))
    p = snnc.compile(g)
    c = comp(p)
    np.testing.assert_array_equal(c.dv, np.rint((1 - betas) * 4096).astype(int))
    assert c.du == 4095 and c.decay_profiles == 4
    assert any("4 distinct (du, dv) pairs" in n for n in p.layers[0]["notes"])
    x = (np.random.default_rng(0).random((4, 30, 6)) < 0.4).astype(np.uint8)
    ref = snnc.simulate(g, x)
    assert np.mean(p.run(x) == ref) >= 0.97


def test_threshold_below_reset_is_rejected():
    with pytest.raises(ValidationError, match="above v_reset"):
        snnc.compile(mlp(lambda n: lif(n, thr=0.1, reset=0.5)))


def test_skip_connection_gets_an_alignment_delay():
    rng = np.random.default_rng(1)
    g = Graph(
        {
            "in": ops.Input((4,)),
            "a": ops.Linear(rng.normal(size=(4, 4))),
            "h": lif(4),
            "b": ops.Linear(rng.normal(size=(3, 4))),
            "skip": ops.Linear(rng.normal(size=(3, 4))),
            "o": lif(3),
            "out": ops.Output((3,)),
        },
        [("in", "a"), ("a", "h"), ("h", "b"), ("b", "o"), ("in", "skip"), ("skip", "o"), ("o", "out")],
    )
    p = snnc.compile(g)
    syns = {p.graph[s].meta["from"]: p.graph[s] for s in p.graph.of_kind(loihi.Synapse) if s.startswith("o:")}
    assert syns["h"].delays is None
    assert np.all(syns["in"].delays == 1)  # depth 2 target, depth 0 source: one extra step
    assert p.latency["out"] == 2


def test_feedback_from_deeper_layer_is_rejected():
    rng = np.random.default_rng(2)
    g = Graph(
        {
            "in": ops.Input((3,)), "a": ops.Linear(rng.normal(size=(3, 3))), "h1": lif(3),
            "b": ops.Linear(rng.normal(size=(3, 3))), "h2": lif(3),
            "fb": ops.Linear(rng.normal(size=(3, 3))), "out": ops.Output((3,)),
        },
        [("in", "a"), ("a", "h1"), ("h1", "b"), ("b", "h2"), ("h2", "fb"), ("fb", "h1"), ("h2", "out")],
    )
    with pytest.raises(ValidationError, match="deeper layer"):
        snnc.compile(g)


def test_readouts():
    rng = np.random.default_rng(3)
    n = 3
    tau = np.full(n, 1e-3)
    g = Graph(
        {"in": ops.Input((5,)), "fc": ops.Linear(rng.normal(size=(n, 5))),
         "li": ops.LI(tau, np.ones(n), np.zeros(n)), "out": ops.Output((n,))},
        [("in", "fc"), ("fc", "li"), ("li", "out")],
    )
    p = snnc.compile(g)
    assert comp(p, "li").readout == "v"
    # an Output fed by synapses only becomes a non-leaking current read-out
    g2 = Graph(
        {"in": ops.Input((5,)), "fc": ops.Linear(rng.normal(size=(4, 5))), "h": lif(4),
         "ro": ops.Affine(rng.normal(size=(2, 4)), np.zeros(2)), "out": ops.Output((2,))},
        [("in", "fc"), ("fc", "h"), ("h", "ro"), ("ro", "out")],
    )
    p2 = snnc.compile(g2)
    assert p2.graph["out:readout"].readout == "v" and p2.latency["out"] == 2


def test_li_feeding_a_layer_is_rejected():
    n = 3
    g = Graph(
        {"in": ops.Input((3,)), "li": ops.LI(np.full(n, 1e-3), np.ones(n), np.zeros(n)),
         "fc": ops.Linear(np.eye(3)), "h": lif(3), "out": ops.Output((3,))},
        [("in", "li"), ("li", "fc"), ("fc", "h"), ("h", "out")],
    )
    with pytest.raises(ValidationError, match="non-spiking"):
        snnc.compile(g)


def test_stop_after_returns_the_graph():
    g = snnc.compile(mlp(), stop_after="validate")
    assert isinstance(g, Graph) and isinstance(g["n"], ops.LIF)


def _tie_network():
    n = 1
    g = Graph(
        {"in": ops.Input((1,)), "fc": ops.Linear(np.array([[0.25]])),
         "h": ops.IF(np.full(n, 1.0 / DT), np.ones(n), np.zeros(n)), "out": ops.Output((n,))},
        [("in", "fc"), ("fc", "h"), ("h", "out")],
    )
    x = np.zeros((1, 10, 1), dtype=np.uint8)
    x[0, [0, 1, 2, 3, 5, 6, 7, 8]] = 1  # v climbs by exactly 0.25 per spike: ties at θ
    return g, x


def test_threshold_is_exact_on_the_chip():
    """With θ·S = vth the chip's strict v > vth·64 is the float '>' even on exact ties."""
    g, x = _tie_network()
    ref = snnc.simulate(g, x, spike_if=">")
    y = snnc.compile(g, spike_if=">").run(x)
    assert list(np.flatnonzero(ref[0, :, 0])) == [5]  # v = 1.0 at step 3 does not spike
    np.testing.assert_array_equal(y[0, :, 0], ref[0, :, 0])


def test_inclusive_threshold_differs_only_on_exact_ties():
    """'>=' spikes on the tie in float; Loihi compares strictly, so the chip does not
    (documented in docs/conventions.md and in the compile summary)."""
    g, x = _tie_network()
    ref = snnc.simulate(g, x, spike_if=">=")
    prog = snnc.compile(g, spike_if=">=")
    assert list(np.flatnonzero(ref[0, :, 0])) == [3, 8]
    assert list(np.flatnonzero(prog.run(x)[0, :, 0])) == [5]
    assert "ties" in prog.summary()


def _conv_graph(thresholds: np.ndarray):
    rng = np.random.default_rng(4)
    conv = ops.Conv2d((6, 6), rng.normal(0, 0.5, (3, 2, 3, 3)), (1, 1), (1, 1), (1, 1), 1, np.zeros(3))
    n = 3 * 6 * 6
    tau = np.full(n, 1e-3)
    return Graph(
        {"in": ops.Input((2, 6, 6)), "conv": conv,
         "c": ops.LIF(tau, tau / DT, np.zeros(n), thresholds, np.zeros(n)), "out": ops.Output((n,))},
        [("in", "conv"), ("conv", "c"), ("c", "out")],
    )


def test_lone_convolution_stays_a_shared_kernel_block():
    p = snnc.compile(_conv_graph(np.ones(108)))
    syn = p.graph["c:syn"]
    assert isinstance(syn, loihi.ConvSynapse) and syn.weights.shape == (3, 2, 3, 3)
    assert np.abs(syn.weights).max() == 254  # exponent 0: the kernel itself uses the grid
    assert p.stats()["synapses"] == np.count_nonzero(syn.weights)  # shared, not unrolled
    # per-neuron thresholds give every position its own weights: a matrix block instead
    p2 = snnc.compile(_conv_graph(np.linspace(0.8, 1.2, 108)))
    assert isinstance(p2.graph["c:syn"], loihi.Synapse)
    x = (np.random.default_rng(0).random((3, 20, 2, 6, 6)) < 0.3).astype(np.uint8)
    ref = snnc.simulate(_conv_graph(np.ones(108)), x)
    assert np.mean(p.run(x) == ref) >= 0.97

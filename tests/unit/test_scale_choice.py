"""Scale choice on hand-made numbers (issue 13): when a register setting exists that holds the
threshold, ``choose_scale`` finds it; when none does, the error names the numbers in conflict.

The three conv cases are a trained sinabs CNN's layer in miniature: an IF (threshold 1) rebuilt for
reset by subtraction (its integrator leaks 1/4096 per step, so the worst case is 4096 steps of
maximal input) behind a Conv whose largest kernel weight is 1.02, 20 or 300 thresholds.  Lava's
Conv has no weight exponent, so S·max|k| must stay on the 8-bit grid.  The old rule skipped the
8-bit threshold floor whenever the Conv cap was below it and let the worst case drive vth to 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import snnc
from snnc.compiler import scaling
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.reset import IF_TAU_STEPS
from snnc.compiler.scaling import MIN_VTH_BITS, WEIGHT_TOP, InfeasibleScale, choose_scale
from snnc.compiler.targets import get_target
from snnc.errors import QuantizationError

TARGET = get_target("loihi2")
ALPHA_IF = math.exp(-1.0 / IF_TAU_STEPS)  # the rebuilt IF's integrator (exact integration)


def _conv_case(kmax: float, theta: float = 1.0):
    """(weights, bias) of the rebuilt IF: a 144-input kernel path and the −θ self path."""
    k = np.full((4, 144), kmax / 2)
    k[0, 0] = kmax
    return [k, -theta * np.eye(4)], np.zeros(4)


@pytest.mark.parametrize("kmax", [1.02, 20.0])
def test_a_conv_capped_threshold_keeps_the_resolution_the_kernel_allows(kmax):
    weights, bias = _conv_case(kmax)
    choice = choose_scale(1.0, weights, bias, (ALPHA_IF, 0.0), TARGET, conv_max=kmax)
    cap = WEIGHT_TOP / kmax
    assert choice.binding == "conv" and choice.cap == pytest.approx(cap)
    # the worst case (4096 steps of maximal input) alone would leave less than one threshold unit
    worst = (np.abs(weights[0]).sum(1).max() + 1.0) / (1.0 - ALPHA_IF)
    assert (TARGET.state_max + 1) / 64.0 / worst < 1.0
    # ... but the threshold keeps the finest grid the Conv kernel allows, with the wrap point noted
    assert choice.scale == pytest.approx(min(cap, 2.0**MIN_VTH_BITS))
    assert any("overflow risk" in n and "steps of maximal input" in n and "u wraps where it passes" in n
               for n in choice.notes)


@pytest.mark.parametrize("kmax", [1.02, 20.0])
def test_the_compiled_conv_layer_has_vth_and_an_unclipped_kernel(kmax):
    g = _conv_graph(kmax)
    prog = snnc.compile(g, reset="subtract", integration="exact", dt=1.0)
    c, syn = prog.graph["if"], prog.graph["if:syn0"]
    assert isinstance(syn, loihi.ConvSynapse)
    cap = WEIGHT_TOP / kmax
    assert c.vth == math.floor(cap) or c.vth == round(cap)  # the finest the kernel allows
    assert c.vth >= 1 and c.vth * kmax < WEIGHT_TOP + 1  # rounding never pushes the kernel off the grid
    assert np.abs(syn.weights).max() == 2 * round(c.vth * kmax / 2)  # the largest weight, not clipped


def test_an_impossible_conv_threshold_names_the_numbers():
    weights, bias = _conv_case(300.0)
    with pytest.raises(InfeasibleScale) as e:
        choose_scale(1.0, weights, bias, (ALPHA_IF, 0.0), TARGET, conv_max=300.0, layer="conv3")
    err = e.value
    assert isinstance(err, QuantizationError) and err.binding == "conv" and err.node == "conv3"
    assert "300x the threshold" in err.message and "254x" in err.message and "Conv" in err.message
    assert "S >= 1" in err.message and "caps S at 0.8467" in err.message
    assert "dense block" in err.hint and "retrain" in err.hint


def test_an_impossible_conv_is_compiled_as_a_matrix_block_with_weight_exp():
    """Through the quantizer the same layer compiles: the kernel becomes a Dense/Sparse block,
    whose weight_exp holds 2^7 times more, and the layer table says so."""
    prog = snnc.compile(_conv_graph(300.0), reset="subtract", integration="exact", dt=1.0)
    c, syn = prog.graph["if"], prog.graph["if:syn0"]
    assert isinstance(syn, loihi.Synapse) and syn.weight_exp == TARGET.weight_exp_max
    assert c.vth == math.floor(WEIGHT_TOP * 2.0**TARGET.weight_exp_max / 300.0)  # 254·2^7 / 300
    notes = " ".join(prog.layers[0]["notes"])
    assert "convolution lowered to a matrix block" in notes and "300x the threshold" in notes
    # and it runs like the float model that it is
    x = (np.random.default_rng(0).random((2, 12, 1, 6, 6)) < 0.3).astype(np.uint8)
    ref = snnc.simulate(_conv_graph(300.0), x, reset="subtract", integration="exact", dt=1.0)
    assert np.mean(prog.run(x) == ref) > 0.95


def test_an_impossible_dense_weight_names_the_layer_the_register_and_the_options():
    w = np.full((3, 5), 0.5)
    w[1, 2] = 5e4  # 50 000 thresholds: beyond 254·2^7 even with the largest weight_exp
    g = Graph({"in": ops.Input((5,)), "fc": ops.Linear(w),
               "n": ops.IF(np.ones(3) * 1e4, np.ones(3), np.zeros(3)), "out": ops.Output((3,))},
              [("in", "fc"), ("fc", "n"), ("n", "out")])
    with pytest.raises(QuantizationError) as e:
        snnc.compile(g)
    assert e.value.node == "n"
    assert "largest weight is 5e+04 = 5e+04x the threshold" in e.value.message
    assert "weight_exp ≤ 7" in e.value.message and "32512x" in e.value.message
    assert "retrain" in e.value.hint and "split" in e.value.hint


def test_scale_choice_never_loses_the_threshold():
    """Over random layers: either S holds vth ≥ 1 within every register cap, or the error is
    raised exactly when no S can (θ·cap < 1)."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        theta = float(10 ** rng.uniform(-3, 2))
        n, m = int(rng.integers(1, 6)), int(rng.integers(1, 40))
        w = rng.normal(0, 1, (n, m)) * 10 ** rng.uniform(-3, 3)
        bias = rng.normal(0, 1, n) * 10 ** rng.uniform(-3, 3) * (rng.random() < 0.5)
        conv_max = float(np.abs(w).max()) if rng.random() < 0.5 else 0.0
        alphas = (float(rng.choice([0.0, 0.5, ALPHA_IF])), float(rng.uniform(0, 1)))
        caps = scaling.register_caps(theta, float(np.abs(w).max()), float(np.abs(bias).max()), conv_max, TARGET)
        try:
            choice = choose_scale(theta, [w], bias, alphas, TARGET, conv_max=conv_max)
        except InfeasibleScale as e:
            assert theta * min(caps.values()) < 1.0 and e.binding == min(caps, key=caps.get)
            continue
        assert theta * choice.scale >= 1.0
        assert choice.scale <= min(caps.values()) * (1 + 1e-12)


def test_calibration_data_size_the_rebuilt_if_instead_of_4096_steps():
    """A reset-by-subtraction IF's integrator leaks 1/4096 per step, so its worst case is 4096
    steps of maximal input; with calibration data the wrap guard comes from what the data did."""
    rng = np.random.default_rng(1)
    w = rng.uniform(0.0, 0.1, (6, 20))  # Σ|W| ≈ θ: 4096 θ worst case, a few θ in practice
    g = Graph({"in": ops.Input((20,)), "fc": ops.Linear(w),
               "n": ops.IF(np.ones(6), np.ones(6), np.zeros(6)), "out": ops.Output((6,))},
              [("in", "fc"), ("fc", "n"), ("n", "out")])
    x = (rng.random((8, 30, 20)) < 0.2).astype(np.uint8)
    plain = snnc.compile(g, reset="subtract", dt=1.0, integration="exact")
    cal = snnc.compile(g, reset="subtract", dt=1.0, integration="exact", calibration=x)
    plain_notes, cal_notes = " ".join(plain.layers[0]["notes"]), " ".join(cal.layers[0]["notes"])
    assert "overflow risk" in plain_notes and "steps of maximal input" in plain_notes
    assert plain.graph["n"].vth < 2**MIN_VTH_BITS + 1
    assert "calibrated" in cal_notes and "overflow risk" not in cal_notes
    assert cal.graph["n"].vth > 16 * plain.graph["n"].vth
    ref = snnc.simulate(g, x, reset="subtract", dt=1.0, integration="exact")
    assert np.mean(cal.run(x) == ref) > 0.97


def _conv_graph(kmax: float, theta: float = 1.0) -> Graph:
    """Input (1, 6, 6) -> Conv2d(4, 3x3) with max |k| = kmax·θ -> IF(θ)."""
    k = np.random.default_rng(3).uniform(-0.5, 0.5, (4, 1, 3, 3)) * kmax
    k[0, 0, 1, 1] = kmax
    conv = ops.Conv2d((6, 6), k, (1, 1), (1, 1), (1, 1), 1, np.zeros(4))
    shape = (4, 6, 6)
    nodes = {"in": ops.Input((1, 6, 6)), "conv": conv,
             "if": ops.IF(np.ones(shape), np.full(shape, theta), np.zeros(shape)), "out": ops.Output(shape)}
    return Graph(nodes, [("in", "conv"), ("conv", "if"), ("if", "out")])

"""ConvSynapse (Lava ``Conv``, ``PyConvModelFixed``) in the emulator, wiring, verify, serialize.

Equality with real Lava is the job of tests/property/test_lava_differential.py (kind "conv");
here: hand-computed cases, the 24-bit wrap, torch's conv2d as the reference for geometry,
and the structural checks.  Nothing here imports Lava.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.backends import emulator
from snnc.backends.emulator.synapse import ConvSynapseState, conv_weights, wrap24
from snnc.backends.lava.build import conv_kwargs
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.printer import format_graph
from snnc.compiler.ir.serialize import load_graph, save_graph
from snnc.compiler.ir.verify import verify
from snnc.errors import IRError, ValidationError

BIG_VTH = (1 << 17) - 1


def comp(shape, du=4095, dv=4095, vth=BIG_VTH, readout="v") -> loihi.Compartment:
    n = int(np.prod(shape))
    return loihi.Compartment(tuple(shape), du, dv, vth, np.zeros(n, np.int64), readout=readout)


def conv_graph(conv: loihi.ConvSynapse, **comp_kw) -> Graph:
    return Graph(
        {"in": loihi.SpikeSource(tuple(conv.in_shape)), "c": conv,
         "A": comp(conv.out_shape, **comp_kw)},
        [("in", "c"), ("c", "A")],
    )


def torch_conv(x: np.ndarray, c: loihi.ConvSynapse) -> np.ndarray:
    """Reference: torch's conv2d (cross-correlation) on integer-valued float64 tensors."""
    y = F.conv2d(
        torch.tensor(x, dtype=torch.float64),
        torch.tensor(np.asarray(c.weights), dtype=torch.float64),
        stride=c.stride, padding=c.padding, dilation=c.dilation, groups=c.groups,
    )
    return y.numpy().astype(np.int64)


# ------------------------------------------------------------------------ arithmetic
def test_hand_computed_3x3_by_2x2():
    # input (1, 3, 3) all ones except the centre; kernel [[1, 2], [3, 4]] (cross-correlation)
    w = np.array([[[[1, 2], [3, 4]]]])
    c = loihi.ConvSynapse(w, (1, 3, 3))
    assert c.out_shape == (1, 2, 2) and c.n_in == 9 and c.n_out == 4
    x = np.ones((1, 3, 3), bool)
    x[0, 1, 1] = False
    st_ = ConvSynapseState(c, batch=1)
    st_.update(x.reshape(1, -1))
    # each 2x2 window misses exactly the centre, at kernel position (1,1),(1,0),(0,1),(0,0)
    assert st_.output().tolist() == [[10 - 4, 10 - 3, 10 - 2, 10 - 1]]


def test_one_step_delay_through_a_compartment():
    # u = a << 6 (du = 4095 forgets u), v = u (dv = 4095): v[t] = 64 * conv(x[t-1])
    c = loihi.ConvSynapse(np.array([[[[1, 2], [3, 4]]]]), (1, 3, 3))
    x = np.zeros((1, 3, 1, 3, 3), bool)
    x[0, 0, 0, 0, 0] = True  # top-left pixel: only window (0,0), kernel (0,0) -> 1
    x[0, 2, 0, 2, 2] = True  # bottom-right: only window (1,1), kernel (1,1) -> 4
    r = emulator.run(conv_graph(c), x, 4)
    v = r.v["A"][0].reshape(4, 4)
    assert v.tolist() == [[0, 0, 0, 0], [64, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 4 * 64]]
    assert r.v["A"].shape == (1, 4, 1, 2, 2)


def test_signed_clamp_24_bits():
    half = 1 << 23
    vals = np.array([0, half - 1, half, half + 1, -half, -half - 1, 3 * half, -(1 << 31)])
    assert wrap24(vals).tolist() == [0, half - 1, -half, -half + 1, -half, half - 1, -half, 0]


def test_output_wraps_at_24_bits_with_out_of_range_weights():
    # Lava does not clip Conv weights: 2 x 2**22 + 1 = 2**23 + 1 -> -2**23 + 1
    c = loihi.ConvSynapse(np.array([2**22, 2**22, 1]).reshape(1, 3, 1, 1), (3, 1, 1))
    st_ = ConvSynapseState(c, batch=2)
    st_.update(np.array([[1, 1, 1], [1, 1, 0]], bool))
    assert st_.output().tolist() == [[-(2**23) + 1], [-(2**23)]]


def test_output_wraps_at_24_bits_with_8_bit_weights():
    # 127 channels x 17 x 17 taps x 255 = 9_359_265 > 2**23: Lava hands on 9_359_265 - 2**24
    c = loihi.ConvSynapse(np.full((1, 127, 17, 17), 255), (127, 17, 17))
    st_ = ConvSynapseState(c, batch=1)
    st_.update(np.ones((1, 127 * 17 * 17), bool))
    assert st_.output()[0, 0] == 9_359_265 - 2**24 == -7_417_951


def test_weights_are_held_as_int32_and_never_clipped():
    w = np.array([700, -700, 2**32 + 5, 3]).reshape(1, 4, 1, 1)
    c = loihi.ConvSynapse(w, (4, 1, 1))
    assert conv_weights(c).ravel().tolist() == [700, -700, 5, 3]
    st_ = ConvSynapseState(c, batch=1)
    st_.update(np.ones((1, 4), bool))
    assert st_.output()[0, 0] == 700 - 700 + 5 + 3


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_geometry_matches_torch_conv2d(data):
    d = data.draw
    groups = d(st.integers(1, 3))
    c_in, c_out = groups * d(st.integers(1, 2)), groups * d(st.integers(1, 2))
    h, w = d(st.integers(1, 7)), d(st.integers(1, 7))
    geo = []
    for n in (h, w):
        dil, pad, stride = d(st.integers(1, 3)), d(st.integers(0, 3)), d(st.integers(1, 3))
        k = d(st.integers(1, min(4, (n + 2 * pad - 1) // dil + 1)))
        geo.append((k, stride, pad, dil))
    (kh, sh, ph, dh), (kw, sw, pw, dw) = geo
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    weights = rng.integers(-300, 300, (c_out, c_in // groups, kh, kw))
    c = loihi.ConvSynapse(weights, (c_in, h, w), (sh, sw), (ph, pw), (dh, dw), groups)
    x = rng.random((3, c_in, h, w)) < 0.5
    ref = torch_conv(x, c)
    assert ref.shape[1:] == c.out_shape
    st_ = ConvSynapseState(c, batch=3)
    st_.update(x.reshape(3, -1))
    assert np.array_equal(st_.output(), wrap24(ref.reshape(3, -1)))


def test_fan_in_with_a_dense_synapse_is_summed():
    c = loihi.ConvSynapse(np.array([[[[3]]], [[[5]]]]), (1, 1, 2))  # (2, 1, 1, 2) out
    g = Graph(
        {"in": loihi.SpikeSource((1, 1, 2)), "c": c,
         "d": loihi.Synapse(np.array([[1, 0], [0, 0], [0, 0], [0, 100]])),
         "A": comp((2, 1, 2))},
        [("in", "c"), ("in", "d"), ("c", "A"), ("d", "A")],
    )
    r = emulator.run(g, np.ones((1, 1, 1, 1, 2), bool), 2)
    assert (r.v["A"][0, 1].ravel() // 64).tolist() == [3 + 1, 3, 5, 5 + 100]


def test_recurrent_conv_on_a_compartment():
    # A (1, 1, 3) spikes once (vth 0 and one input), then a [1, 1, 1] "same" conv feeds it back
    c_in = loihi.ConvSynapse(np.full((1, 1, 1, 1), 1), (1, 1, 3))
    c_rec = loihi.ConvSynapse(np.full((1, 1, 1, 3), 1), (1, 1, 3), padding=(0, 1))
    g = Graph(
        {"in": loihi.SpikeSource((1, 1, 3)), "c": c_in, "r": c_rec,
         "A": comp((1, 1, 3), vth=0, readout="spikes")},
        [("in", "c"), ("c", "A"), ("A", "r"), ("r", "A")],
    )
    x = np.zeros((1, 1, 1, 1, 3), bool)
    x[0, 0, 0, 0, 1] = True
    s = emulator.run(g, x, 4).spikes["A"][0].reshape(4, 3)
    assert s.tolist() == [[0, 0, 0], [0, 1, 0], [1, 1, 1], [1, 1, 1]]


# -------------------------------------------------------------------------- lava layout
def test_lava_kwargs_flip_and_transpose_the_kernel():
    w = np.arange(2 * 3 * 2 * 4).reshape(2, 3, 2, 4)  # (C', C, kH, kW)
    c = loihi.ConvSynapse(w, (3, 5, 6), stride=(1, 2), padding=(0, 1), dilation=(2, 1))
    kw = conv_kwargs(c)
    lw = kw["weight"]
    assert lw.shape == (2, 4, 2, 3)  # (C', kW, kH, C)
    for co, x, y, ci in np.ndindex(lw.shape):
        assert lw[co, x, y, ci] == w[co, ci, 2 - 1 - y, 4 - 1 - x]
    assert kw["input_shape"] == (6, 5, 3)
    assert (kw["stride"], kw["padding"], kw["dilation"]) == ((2, 1), (1, 0), (1, 2))
    assert kw["groups"] == 1


# ------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": np.ones((2, 2, 1, 1), np.int64), "in_shape": (3, 2, 2)}, "channels"),
        ({"weights": np.ones((3, 1, 1, 1), np.int64), "in_shape": (2, 2, 2), "groups": 2},
         "does not divide"),
        ({"weights": np.ones((1, 1, 3, 3), np.int64), "in_shape": (1, 2, 2)}, "empty output"),
        ({"weights": np.ones((1, 1, 1), np.int64), "in_shape": (1, 2, 2)}, "4-D"),
        ({"weights": np.ones((1, 1, 1, 1)), "in_shape": (1, 2, 2)}, "integers"),
        ({"weights": np.ones((1, 1, 1, 1), np.int64), "in_shape": (1, 2, 2),
          "stride": (1,)}, "pair"),
        ({"weights": np.ones((1, 1, 1, 1), np.int64), "in_shape": (1, 2, 2),
          "padding": (200, 0)}, "int8"),
        ({"weights": np.ones((1, 1, 1, 1), np.int64), "in_shape": (1, 2, 2),
          "dilation": (0, 1)}, "dilation"),
    ],
)
def test_wiring_rejects_bad_geometry(kwargs, match):
    c = loihi.ConvSynapse(**kwargs)
    n = int(np.prod(kwargs["in_shape"]))
    g = Graph({"in": loihi.SpikeSource((n,)), "c": c, "A": comp((1,))},
              [("in", "c"), ("c", "A")])
    with pytest.raises(ValidationError, match=match):
        emulator.run(g, np.zeros((1, 1, n)), 1)


def test_wiring_checks_sizes_along_edges():
    c = loihi.ConvSynapse(np.ones((1, 1, 2, 2), np.int64), (1, 3, 3))  # 9 in, 4 out
    g = Graph({"in": loihi.SpikeSource((8,)), "c": c, "A": comp((4,))},
              [("in", "c"), ("c", "A")])
    with pytest.raises(ValidationError, match="input shape"):
        emulator.run(g, np.zeros((1, 1, 8)), 1)
    g = Graph({"in": loihi.SpikeSource((9,)), "c": c, "A": comp((5,))},
              [("in", "c"), ("c", "A")])
    with pytest.raises(ValidationError, match="output shape"):
        emulator.run(g, np.zeros((1, 1, 9)), 1)


def test_verify_accepts_a_valid_conv_and_catches_broken_invariants():
    good = loihi.ConvSynapse(np.full((4, 1, 3, 3), -256), (2, 5, 5), (2, 1), (1, 0), (1, 2), 2)
    verify(conv_graph(good))
    bad = {
        "weights off": good.replace(weights=np.full((4, 1, 3, 3), 256)),
        "groups": good.replace(groups=3),
        "channels": good.replace(in_shape=(4, 5, 5)),
        "pair": good.replace(stride=(1, 1, 1)),
        "padding": good.replace(padding=(-1, 0)),
        "empty": good.replace(dilation=(9, 1)),
    }
    for what, node in bad.items():
        g = Graph({"in": loihi.SpikeSource((2, 5, 5)), "c": node, "A": comp((1,))},
                  [("in", "c"), ("c", "A")])
        with pytest.raises(IRError):
            verify(g)
        del what
    # size mismatch between the conv's output and its target
    g = Graph({"in": loihi.SpikeSource((2, 5, 5)), "c": good, "A": comp((7,))},
              [("in", "c"), ("c", "A")])
    with pytest.raises(IRError, match="n_out"):
        verify(g)


# ----------------------------------------------------------------- serialize / printer
def test_serialize_round_trip_and_same_run(tmp_path):
    rng = np.random.default_rng(0)
    c = loihi.ConvSynapse(rng.integers(-256, 256, (4, 1, 2, 3)), (2, 4, 5), (1, 2), (1, 1),
                          (2, 1), 2, meta={"source": "conv1"})
    g = conv_graph(c, vth=3, readout="spikes")
    h = load_graph(save_graph(g, tmp_path / "g"))
    n = h["c"]
    assert isinstance(n, loihi.ConvSynapse)
    assert np.array_equal(n.weights, c.weights) and not n.weights.flags.writeable
    assert (n.in_shape, n.stride, n.padding, n.dilation, n.groups) == (
        (2, 4, 5), (1, 2), (1, 1), (2, 1), 2)
    assert all(isinstance(f, tuple) for f in (n.in_shape, n.stride, n.padding, n.dilation))
    assert n.meta["source"] == "conv1" and n.out_shape == c.out_shape
    x = rng.random((2, 5, 2, 4, 5)) < 0.6
    a, b = emulator.run(g, x, 7), emulator.run(h, x, 7)
    assert np.array_equal(a.spikes["A"], b.spikes["A"])


def test_printer_shows_conv_fields():
    c = loihi.ConvSynapse(np.array([[[[1, -2]]]]), (1, 1, 3), padding=(0, 1))
    text = format_graph(conv_graph(c))
    line = next(ln for ln in text.splitlines() if ln.startswith("%c "))
    assert "ConvSynapse(" in line and "i64[1x1x1x2] min=-2 max=1" in line
    assert "in_shape=(1, 1, 3)" in line and "padding=(0, 1)" in line and "<- %in" in line

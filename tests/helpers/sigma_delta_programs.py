"""Random sigma-delta programs (hypothesis strategies) for the differential tests against Lava.

A program is a chain ``input (int32) -> delta -> syn -> sigma_delta -> syn -> ... -> sigma``
(sometimes with a second sigma_delta layer, and sometimes a LIF branch reading a sigma-delta
layer through a binary synapse), its synapses all of one layer kind (:data:`KINDS`):

* ``dense``, ``sparse``, ``delaydense``: ``Synapse`` (dense / CSR / with ``delays``), weights on
  the 8-bit grid of their sign mode, ``weight_exp`` −8..7, ``num_weight_bits`` 1..8;
* ``conv``: ``ConvSynapse`` with random stride/padding/dilation/groups.

Each synapse is graded (``num_message_bits`` 1..24) or, now and then, binary (0: Lava counts
any non-zero payload, negatives included, as one spike).  Neurons draw every register: ``vth``
(0, small, or large enough that ``vth << k`` wraps), ``spike_exp``/``state_exp`` 0..7,
``cum_error``, relu/unit, ``bias`` with both signs up to 2^24 (``bias << k`` wraps).  Inputs
are int32 values of both signs, small or large (``x << k`` wraps at 2^(31−k)), held for a few
steps (zero deltas) or changed every step; |x| = 2^(31−k) exactly hits ``|INT_MIN|``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st

from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph

KINDS = ("dense", "sparse", "conv", "delaydense")


@st.composite
def _exps(draw):
    return draw(st.integers(0, 7)), draw(st.integers(0, 7))


@st.composite
def _vth(draw, k: int):
    small = draw(st.integers(0, 40))
    big = draw(st.integers(0, (1 << 31) - 1).map(lambda v: v >> k))  # vth << k near int32 (may wrap)
    wrap = draw(st.integers(1 << (31 - k), (1 << 31) - 1)) if k else small
    return draw(st.sampled_from([0, small, small, small, small, big, wrap]))


@st.composite
def sigma_delta_layer(draw, shape, neuron: str):
    if neuron == "sigma":
        return loihi.SigmaDeltaCompartment(shape=shape, neuron="sigma")
    se, te = draw(_exps())
    k = se + te
    vth = draw(_vth(k))
    kw = {}
    if neuron == "sigma_delta":
        n = int(np.prod(shape))
        hi = draw(st.sampled_from([4, 300, 1 << 12, 1 << 24]))
        kw["bias"] = np.asarray(draw(st.lists(st.integers(-hi, hi), min_size=n, max_size=n)), np.int64)
        kw["activation"] = draw(st.sampled_from(["relu", "unit"]))
    return loihi.SigmaDeltaCompartment(shape=shape, neuron=neuron, vth=vth, spike_exp=se, state_exp=te,
                                       cum_error=draw(st.booleans()), **kw)


def _weights(draw, shape) -> np.ndarray:
    n = int(np.prod(shape))
    mode = draw(st.sampled_from(["mixed", "exc", "inh"]))
    lo, hi = {"mixed": (-256, 255), "exc": (0, 255), "inh": (-255, 0)}[mode]
    w = np.asarray(draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)), np.int64).reshape(shape)
    zero = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n))).reshape(shape)
    return np.where(zero & draw(st.booleans()), 0, w)


@st.composite
def _nmb(draw):
    return draw(st.sampled_from([0, 1, 8, 16, 16, 16, 24]))


@st.composite
def synapse(draw, kind: str, in_shape, out_n: int | None = None):
    """A synapse of ``kind`` reading ``in_shape``; returns (node, out_shape)."""
    nmb = draw(_nmb())
    if kind == "conv":
        c, h, w = in_shape
        groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
        cout = groups * draw(st.integers(1, 3))
        kh, kw = draw(st.integers(1, min(3, h))), draw(st.integers(1, min(3, w)))
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
        dilation = (1, 1) if draw(st.booleans()) else (draw(st.integers(1, 2)), 1)
        node = loihi.ConvSynapse(weights=_weights(draw, (cout, c // groups, kh, kw)), in_shape=tuple(in_shape),
                                 stride=stride, padding=padding, dilation=dilation, groups=groups,
                                 num_message_bits=nmb)
        if min(node.out_shape[1:]) < 1:
            node = loihi.ConvSynapse(weights=node.weights[:, :, :1, :1].copy(), in_shape=tuple(in_shape),
                                     groups=groups, num_message_bits=nmb)
        return node, tuple(node.out_shape)
    n_in = int(np.prod(in_shape))
    n_out = out_n if out_n is not None else draw(st.integers(1, 10))
    w = _weights(draw, (n_out, n_in))
    common = dict(weight_exp=draw(st.sampled_from([0, 0, -2, 1]) | st.integers(-8, 7)),
                  num_weight_bits=draw(st.sampled_from([8, 8, 6]) | st.integers(1, 8)),
                  num_message_bits=nmb)
    if kind == "sparse":
        node = loihi.Synapse(weights=sp.csr_matrix(w), **common)
    elif kind == "delaydense":
        d = np.asarray(draw(st.lists(st.integers(0, 3), min_size=w.size, max_size=w.size)), np.int64)
        node = loihi.Synapse(weights=w, delays=d.reshape(w.shape), **common)
    else:
        node = loihi.Synapse(weights=w, **common)
    return node, (n_out,)


@st.composite
def inputs(draw, shape, steps: int, k: int):
    """int32 values (1, steps, *shape): both signs, small or large, held or changing."""
    n = int(np.prod(shape))
    scale = draw(st.sampled_from([60, 1 << 10, 1 << (31 - k) if k else 1 << 20, 1 << 30]))
    vals = []
    prev = None
    for _ in range(steps):
        if prev is not None and draw(st.integers(0, 2)) == 0:
            vals.append(prev)  # held: the delta is 0
            continue
        row = draw(st.lists(st.integers(-scale, scale), min_size=n, max_size=n))
        if draw(st.integers(0, 6)) == 0 and k:
            row[0] = -(1 << (31 - k))  # x << k == INT_MIN exactly: |INT_MIN| never fires
        prev = row
        vals.append(row)
    x = np.asarray(vals, np.int64).clip(-(1 << 31), (1 << 31) - 1)
    return x.reshape((1, steps) + tuple(shape))


@st.composite
def programs(draw, kind: str, max_steps: int = 10):
    """(graph, x, steps) of layer ``kind``."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(2, 5)), draw(st.integers(2, 5))) if kind == "conv" \
        else (draw(st.integers(1, 12)),)
    nodes: dict = {"in": loihi.SpikeSource(shape=shape, payload="int32")}
    edges = [("in", "d0")]
    d0 = draw(sigma_delta_layer(shape, "delta"))
    nodes["d0"] = d0
    prev, prev_shape = "d0", shape
    layers = draw(st.integers(1, 2))
    for i in range(layers):
        syn, out_shape = draw(synapse(kind, prev_shape))
        nodes[f"s{i}"] = syn
        nodes[f"sd{i}"] = draw(sigma_delta_layer(out_shape, "sigma_delta"))
        edges += [(prev, f"s{i}"), (f"s{i}", f"sd{i}")]
        prev, prev_shape = f"sd{i}", out_shape
    syn, out_shape = draw(synapse(kind, prev_shape))
    nodes["s_out"] = syn
    nodes["sigma"] = draw(sigma_delta_layer(out_shape, "sigma"))
    edges += [(prev, "s_out"), ("s_out", "sigma"), ("sigma", "probe")]
    if draw(st.integers(0, 3)) == 0:  # a LIF population reading a sigma-delta layer (binary or graded)
        n = int(np.prod(prev_shape))
        m = draw(st.integers(1, 6))
        w = _weights(draw, (m, n))
        nodes["s_lif"] = loihi.Synapse(weights=w, num_message_bits=draw(_nmb()))
        nodes["lif"] = loihi.Compartment(shape=(m,), du=draw(st.integers(0, 4095)), dv=draw(st.integers(0, 4095)),
                                         vth=draw(st.integers(0, 1000)),
                                         bias_mant=np.zeros(m, np.int64))
        edges += [(prev, "s_lif"), ("s_lif", "lif")]
    nodes["probe"] = loihi.Probe(shape=tuple(int(v) for v in out_shape))
    steps = draw(st.integers(3, max_steps))
    x = draw(inputs(shape, steps - draw(st.integers(0, 2)), d0.exp))
    return Graph(nodes, edges), x, steps

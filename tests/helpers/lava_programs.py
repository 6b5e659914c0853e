"""Random Loihi-dialect programs of every layer kind, for differential tests.

Hypothesis strategies shared by the tests that compare an execution of the Loihi dialect with
another: the emulator against real Lava (tests/property/test_lava_differential.py), the fast
path and the torch engine against the generic engine, the ONNX step model against the emulator.
``programs(kind)`` draws ``(graph, x, steps)`` for each of :data:`KINDS` -- dense, sparse,
conv-like and pooling-like sparse matrices, recurrent self-connections, two-population loops,
DelayDense and shared-kernel ``ConvSynapse`` layers -- with random weights (on and off the
8-bit grid, out of range), sign modes, ``num_weight_bits``, ``weight_exp`` in -8..7,
``du``/``dv`` in 0..4095 (one per population or one per neuron), ``vth`` up to 2**17-1,
``bias_mant`` ±4095 with ``bias_exp``, states that make ``u`` wrap and ``v`` saturate,
``start_step`` with ``u``/``v`` initial values, ``readout="v"`` populations, lava-dl's
periodic resets (``reset_interval``/``reset_offset``, Lava ``LIFReset``) and its relaxed
registers (``du = -1``, ``dv = 4096``, ``vth = 2**17``), and -- kind ``input`` -- lava-dl's Input
block: an input of signed int32 values (small, pixel-like, large, and extremes that make
``a << 6`` wrap in int32) or spikes wired straight to compartments' ``a_in``, summed with
synapse buffers.  :func:`bias_programs` draws the bias route (a constant per-sample input set
as those compartments' ``bias_mant``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st

from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph

KINDS = ("dense", "sparse", "convmat", "pool", "recurrent", "loop", "delay", "conv", "input")
#: int32 values that make Lava's a << 6 wrap, or u wrap at 24 bits, when they enter a_in
EXTREME_INPUTS = (0, 1, -1, 40_000, 200_000, -131_072, 1 << 25, 1 << 26, -(1 << 26), 2**31 - 1, -(2**31))


class Builder:
    """Accumulates nodes and edges; every random array comes from one seeded numpy rng."""

    def __init__(self, draw, n_in_shape, payload: str = loihi.PAYLOAD_BINARY):
        self.draw = draw
        self.rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        self.nodes = {"in": loihi.SpikeSource(tuple(n_in_shape), payload=payload)}
        self.edges: list[tuple[str, str]] = []
        self.steps = draw(st.integers(4, 24))

    # -- weights ------------------------------------------------------------------------
    def values(self, shape) -> np.ndarray:
        style = self.draw(st.sampled_from(["grid", "offgrid", "wide", "exc", "inh", "small"]))
        r = self.rng
        if style == "grid":  # already on Lava's mixed grid: even, [-256, 254]
            return 2 * r.integers(-128, 128, shape)
        if style == "offgrid":
            return r.integers(-256, 256, shape)
        if style == "wide":  # out of range: clipped by Lava
            return r.integers(-700, 700, shape)
        if style == "exc":
            return r.integers(0, 400, shape)
        if style == "inh":
            return -r.integers(0, 400, shape)
        return r.integers(-8, 9, shape)

    def synapse(self, w: np.ndarray, sparse: bool | None = None, delays: bool = False,
                **fixed) -> loihi.Synapse:
        d = self.draw
        if sparse is None:
            sparse = d(st.booleans())
        kw = {
            "weight_exp": d(st.integers(-8, 7)),
            "num_weight_bits": d(st.one_of(st.just(8), st.integers(1, 8))),
            "sign_mode": d(st.sampled_from([None, None, loihi.SignMode.MIXED,
                                         loihi.SignMode.EXCITATORY, loihi.SignMode.INHIBITORY,
                                         loihi.SignMode.NULL])),
        }
        kw.update(fixed)
        if delays:
            max_delay = d(st.one_of(st.integers(0, 4), st.integers(0, 63)))
            kw["delays"] = self.rng.integers(0, max_delay + 1, w.shape)
        weights = sp.csr_matrix(w) if sparse else w
        return loihi.Synapse(weights, **kw)

    def conv(self, in_shape: tuple[int, int, int], same: bool = False) -> loihi.ConvSynapse:
        """A random ConvSynapse on ``in_shape`` (C, H, W); ``same``: output shape == input."""
        d = self.draw
        c = in_shape[0]
        groups = d(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        c_out = c if same else groups * d(st.integers(1, 2))
        kernel, stride, padding, dilation = [], [], [], []
        for n in in_shape[1:]:
            dil = d(st.integers(1, 2))
            if same:
                k = d(st.sampled_from([1, 3]))
                s_, pad = 1, dil * (k - 1) // 2
            else:
                s_, pad = d(st.integers(1, 2)), d(st.integers(0, 2))
                k = d(st.integers(1, min(3, (n + 2 * pad - 1) // dil + 1)))
            kernel.append(k)
            stride.append(s_)
            padding.append(pad)
            dilation.append(dil)
        shape = (c_out, c // groups, *kernel)
        if d(st.integers(0, 5)) == 0:  # huge (Lava keeps them): reach the 24-bit output wrap
            w = self.rng.integers(-(2**22), 2**22, shape)
        else:
            w = self.values(shape)
        return loihi.ConvSynapse(w, tuple(in_shape), tuple(stride), tuple(padding),
                                 tuple(dilation), groups)

    def dense_w(self, n_out, n_in, density=None) -> np.ndarray:
        w = self.values((n_out, n_in))
        if density is not None:
            w = w * (self.rng.random((n_out, n_in)) < density)
        return w

    # -- compartments ------------------------------------------------------------------
    def compartment(self, n: int, shape: tuple[int, ...] | None = None) -> loihi.Compartment:
        d, r = self.draw, self.rng
        decay = st.one_of(st.sampled_from([0, 1, 4095, 2047]), st.integers(0, 4095))
        bias_range = d(st.sampled_from([0, 0, 30, 4095]))
        init = d(st.sampled_from(["none", "small", "full"]))

        def state(limit):
            if init == "none":
                return None
            lim = 5000 if init == "small" else limit
            return r.integers(-lim, lim + 1, n)

        per_neuron = d(st.sampled_from([False, False, True]))  # Lava broadcasts du/dv arrays

        def register():
            return r.integers(0, 4096, n) if per_neuron else d(decay)

        du, dv = register(), register()
        vth = d(st.one_of(st.integers(0, 300), st.integers(0, 2**17 - 1)))
        if not per_neuron and d(st.integers(0, 4)) == 0:  # lava-dl's ranges (netx)
            du = d(st.sampled_from([-1, du]))  # iDecay 0: u integrates (factor 4096)
            dv = d(st.sampled_from([4096, dv]))  # vDecay 4096: v keeps nothing
            vth = d(st.sampled_from([2**17, vth]))  # its default integrator: never spikes
        # lava-dl's periodic reset (LIFReset): 0 = none
        interval = d(st.sampled_from([0, 0, 0, 1, 2, 3, 5, 17]) | st.integers(1, self.steps + 2))
        return loihi.Compartment(
            shape or (n,),
            du=du,
            dv=dv,
            vth=vth,
            bias_mant=r.integers(-bias_range, bias_range + 1, n),
            bias_exp=d(st.one_of(st.integers(0, 7), st.integers(-3, 7))),
            u_init=state(2**23 - 1),
            v_init=state(2**23 - 1),
            readout=d(st.sampled_from(["spikes", "spikes", "v"])),
            start_step=d(st.one_of(st.just(0), st.integers(0, self.steps + 1))),
            reset_interval=interval,
            reset_offset=d(st.integers(0, 40)) if interval else 0,
        )

    # -- graph -------------------------------------------------------------------------
    def add(self, name, node, *inputs):
        self.nodes[name] = node
        self.edges += [(i, name) for i in inputs]

    def connect(self, syn_name, syn, src, dst):
        self.add(syn_name, syn, src)
        self.edges.append((syn_name, dst))

    def graph(self) -> Graph:
        if self.draw(st.integers(0, 3)) == 0:  # a part not connected to the input
            self.add("Z", self.compartment(self.draw(st.integers(1, 3))))
            if self.draw(st.booleans()):
                n = self.nodes["Z"].size
                self.connect("Z_Z", self.synapse(self.dense_w(n, n)), "Z", "Z")
        if self.draw(st.booleans()):  # probes must be ignored by the backends
            for c in [n for n, v in self.nodes.items() if isinstance(v, loihi.Compartment)][:1]:
                self.add(f"probe_{c}", loihi.Probe(self.nodes[c].shape), c)
        return Graph(self.nodes, self.edges)


def conv1d_matrix(rng, c_in, length, c_out, k, stride, pad, values) -> tuple[np.ndarray, int]:
    """Dense (c_out*L_out, c_in*length) matrix of a 1-D convolution with kernel ``values``."""
    l_out = (length + 2 * pad - k) // stride + 1
    m = np.zeros((c_out * l_out, c_in * length), dtype=np.int64)
    for co in range(c_out):
        for o in range(l_out):
            for ci in range(c_in):
                for j in range(k):
                    pos = o * stride - pad + j
                    if 0 <= pos < length:
                        m[co * l_out + o, ci * length + pos] = values[co, ci, j]
    return m, l_out


def pool1d_matrix(channels, length, k, weight) -> tuple[np.ndarray, int]:
    l_out = length // k
    m = np.zeros((channels * l_out, channels * length), dtype=np.int64)
    for c in range(channels):
        for o in range(l_out):
            m[c * l_out + o, c * length + o * k : c * length + (o + 1) * k] = weight
    return m, l_out


def input_values(draw, rng, shape) -> np.ndarray:
    """int32 input values (int64 array) of one of several styles."""
    style = draw(st.sampled_from(["small", "pixel", "large", "extreme"]))
    if style == "small":
        return rng.integers(-8, 9, shape)
    if style == "pixel":  # lava-dl's PilotNet frames: 0..255, and their differences
        return rng.integers(-255, 256, shape) if draw(st.booleans()) else rng.integers(0, 256, shape)
    if style == "large":
        return rng.integers(-(2**21), 2**21, shape)
    return rng.choice(np.array(EXTREME_INPUTS, dtype=np.int64), shape)


@st.composite
def programs(draw, kind: str, payload: str | None = None):
    """(graph, x, steps) for one layer kind (``payload``: the ``input`` kind's, else drawn)."""
    sizes = st.integers(1, 10)
    if kind == "input":
        n_in = draw(sizes)
        if payload is None:
            payload = draw(st.sampled_from([loihi.PAYLOAD_INT32, loihi.PAYLOAD_INT32, loihi.PAYLOAD_BINARY]))
        b = Builder(draw, (n_in,), payload)
    elif kind in ("convmat", "pool"):
        c_in, length = draw(st.integers(1, 3)), draw(st.integers(2, 8))
        b = Builder(draw, (c_in, length))
        n_in = c_in * length
    elif kind == "conv":
        in_shape = (draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        b = Builder(draw, in_shape)
        n_in = int(np.prod(in_shape))
    else:
        n_in = draw(sizes)
        b = Builder(draw, (n_in,))
    n_a, n_b = draw(sizes), draw(sizes)

    if kind == "dense":
        b.add("A", b.compartment(n_a))
        b.connect("in_A", b.synapse(b.dense_w(n_a, n_in), sparse=False), "in", "A")
        b.add("B", b.compartment(n_b))
        b.connect("A_B", b.synapse(b.dense_w(n_b, n_a), sparse=False), "A", "B")
        if draw(st.booleans()):  # a second synapse into B: fan-in is summed
            b.connect("in_B", b.synapse(b.dense_w(n_b, n_in), sparse=False), "in", "B")
    elif kind == "sparse":
        dens = draw(st.floats(0.05, 0.8))
        b.add("A", b.compartment(n_a))
        b.connect("in_A", b.synapse(b.dense_w(n_a, n_in, dens), sparse=True), "in", "A")
        b.add("B", b.compartment(n_b))
        b.connect("A_B", b.synapse(b.dense_w(n_b, n_a, dens), sparse=True), "A", "B")
    elif kind == "convmat":
        c_out, k = draw(st.integers(1, 3)), draw(st.integers(1, min(3, length)))
        stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
        m, l_out = conv1d_matrix(b.rng, c_in, length, c_out, k, stride, pad,
                                 b.values((c_out, c_in, k)))
        b.add("A", b.compartment(m.shape[0], (c_out, l_out)))
        b.connect("in_A", b.synapse(m), "in", "A")
        m2, _ = conv1d_matrix(b.rng, c_out, l_out, 2, 1, 1, 0, b.values((2, c_out, 1)))
        b.add("B", b.compartment(m2.shape[0]))
        b.connect("A_B", b.synapse(m2), "A", "B")
    elif kind == "conv":
        conv_a = b.conv(in_shape)
        b.add("A", b.compartment(conv_a.n_out, conv_a.out_shape))
        b.connect("in_A", conv_a, "in", "A")
        if draw(st.booleans()):  # Dense fan-in beside the conv: summed in A's a_in
            b.connect("in_A_dense", b.synapse(b.dense_w(conv_a.n_out, n_in)), "in", "A")
        recur = draw(st.sampled_from(["conv", "dense", "none"]))
        if recur == "conv":
            b.connect("A_A", b.conv(conv_a.out_shape, same=True), "A", "A")
        elif recur == "dense":
            b.connect("A_A", b.synapse(b.dense_w(conv_a.n_out, conv_a.n_out)), "A", "A")
        if draw(st.booleans()):  # a second conv layer
            conv_b = b.conv(conv_a.out_shape)
            b.add("B", b.compartment(conv_b.n_out, conv_b.out_shape))
            b.connect("A_B", conv_b, "A", "B")
            if draw(st.booleans()):
                b.connect("A_B_dense", b.synapse(b.dense_w(conv_b.n_out, conv_a.n_out)), "A", "B")
        else:  # conv -> dense read-out
            b.add("B", b.compartment(n_b))
            b.connect("A_B", b.synapse(b.dense_w(n_b, conv_a.n_out)), "A", "B")
    elif kind == "pool":
        k = draw(st.integers(1, length))
        m, _ = pool1d_matrix(c_in, length, k, draw(st.integers(1, 255)))
        b.add("A", b.compartment(m.shape[0]))
        b.connect("in_A", b.synapse(m, sign_mode=loihi.SignMode.EXCITATORY), "in", "A")
        b.add("B", b.compartment(n_b))
        b.connect("A_B", b.synapse(b.dense_w(n_b, m.shape[0])), "A", "B")
    elif kind == "recurrent":
        b.add("A", b.compartment(n_a))
        b.connect("in_A", b.synapse(b.dense_w(n_a, n_in)), "in", "A")
        b.connect("A_A", b.synapse(b.dense_w(n_a, n_a)), "A", "A")
        b.add("B", b.compartment(n_b))
        b.connect("A_B", b.synapse(b.dense_w(n_b, n_a)), "A", "B")
    elif kind == "loop":
        b.add("A", b.compartment(n_a))
        b.add("B", b.compartment(n_b))
        b.connect("in_A", b.synapse(b.dense_w(n_a, n_in)), "in", "A")
        b.connect("A_B", b.synapse(b.dense_w(n_b, n_a)), "A", "B")
        b.connect("B_A", b.synapse(b.dense_w(n_a, n_b)), "B", "A")
        if draw(st.booleans()):
            b.connect("B_B", b.synapse(b.dense_w(n_b, n_b)), "B", "B")
    elif kind == "delay":
        b.add("A", b.compartment(n_a))
        b.connect("in_A", b.synapse(b.dense_w(n_a, n_in), delays=True), "in", "A")
        b.add("B", b.compartment(n_b))
        b.connect("A_B", b.synapse(b.dense_w(n_b, n_a), delays=True), "A", "B")
        if draw(st.booleans()):
            b.connect("B_B", b.synapse(b.dense_w(n_b, n_b), delays=True), "B", "B")
    elif kind == "input":  # lava-dl's Input block: the input's values straight into a_in
        b.add("A", b.compartment(n_in), "in")
        if draw(st.booleans()):  # a_in sums a synapse buffer and the input (in int32)
            b.connect("A_A", b.synapse(b.dense_w(n_in, n_in)), "A", "A")
        b.add("B", b.compartment(n_b))
        b.connect("A_B", b.synapse(b.dense_w(n_b, n_in)), "A", "B")
        if draw(st.booleans()):  # a second compartment fed straight by the input
            b.add("C", b.compartment(n_in), "in")
        if payload == loihi.PAYLOAD_BINARY and draw(st.booleans()):  # spikes also feed a synapse
            b.connect("in_B", b.synapse(b.dense_w(n_b, n_in)), "in", "B")
    else:  # pragma: no cover
        raise AssertionError(kind)

    graph = b.graph()
    batch = draw(st.integers(1, 2))
    t_in = draw(st.integers(0, b.steps))
    shape = (batch, t_in) + b.nodes["in"].shape
    if b.nodes["in"].payload == loihi.PAYLOAD_INT32:
        x = input_values(draw, b.rng, shape)
    else:
        density = draw(st.sampled_from([0.1, 0.5, 0.9]))
        x = b.rng.random(shape) < density
    return graph, x, b.steps


@st.composite
def bias_programs(draw):
    """(graph, x, steps) for the bias route: an ``input``-kind program and x (batch, *in_shape)
    within the 13-bit bias mantissa, set as the ``bias_mant`` of the compartments the input
    feeds directly."""
    graph, _, steps = draw(programs("input", payload=loihi.PAYLOAD_INT32))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lim = draw(st.sampled_from([8, 255, 4095]))
    x = rng.integers(-lim, lim + 1, (draw(st.integers(1, 2)),) + graph["in"].shape)
    return graph, x, steps

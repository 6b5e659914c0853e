"""The integer step model: one raw step of the emulator (Lava's ``fixed_pt`` models) in int64.

Every register comes from the emulator's own objects (``CompartmentState``, ``SynapseState``,
``ConvSynapseState``), so the effective weights (clipped, LSB-truncated), decay factors,
``vth << 6`` and the shifted bias are the emulator's.  All arithmetic is int64 holding int32
values, with Lava's wraps written out (``wrap32(a) = ((a + 2³¹) mod 2³²) − 2³¹`` with ONNX
``Mod(fmod=0)``).  One raw step ``t`` (state ``t``, initially 0)::

    for every Compartment c (graph order):
        a   = Σ buffers of its synapses (wrap32 when more than one)
        u,v = u_init, v_init            if t == start_step > 0
        u   = wrap32(wrap32(Div(u·(4096 − du − 1), 4096)) + wrap32(a·64))   Div truncates to 0
        u   = u − 2²⁴ if u > 2²³ ;  u + 2²⁴ if u ≤ −2²³
        v   = wrap32(Div(v·(4096 − dv), 4096)) + u + (bias if t ≥ start_step else 0)
        v   = Clip(wrap32(v), −(2²³ − 1), 2²³ − 1) ;  s = v > vth·64 ;  v = Where(s, 0, v)
    for every Synapse k:   acc = MatMul(int64 spikes of its source at step t, W_effᵀ)
        Dense/Sparse/DelayDense:  acc = acc·2^e (e > 0) or floor(acc / 2^−e) via Mod;
                                  buf = wrap32(shift(buf) + acc)   (depth = max delay + 1)
        Conv:                     acc = INT32_MIN where acc leaves int32 (numpy's float→int32
                                  cast on x86, which the emulator reproduces); buf = wrap24(acc)

States: ``t`` (int64 scalar), ``u.<c>``, ``v.<c>`` (batch, n) int64, ``buf.<k>`` (batch, n_out,
depth) int64.  Outputs ``spikes.<c>`` (batch, *shape) uint8 for every compartment and
``v.<c>`` (batch, *shape) int64 for read-outs (``readout == "v"``), on the raw time line of
:mod:`snnc.backends.base` (outputs of a population at synaptic depth k lag the input by k).
Sparse weight blocks become dense int64 matrices.
"""

from __future__ import annotations

import numpy as np

from snnc.backends.emulator.compartment import MAX_UV, V_LIMIT, CompartmentState
from snnc.backends.emulator.synapse import CONV_BITS, synapse_state
from snnc.backends.emulator.wiring import wiring
from snnc.backends.onnx_step.builder import Builder, State
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import ValidationError

I64 = np.int64
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
#: the emulator sums in float64; beyond this an accumulator would no longer be exact there
EXACT_SUM_LIMIT = 1 << 53


def _wrap(b: Builder, a: str, bits: int) -> str:
    """Two's-complement wrap of ``a`` to ``bits`` bits: ((a + 2^(bits-1)) mod 2^bits) − half."""
    half = b.const(1 << (bits - 1), I64)
    m = b.op("Mod", [b.op("Add", [a, half]), b.const(1 << bits, I64)], fmod=0)
    return b.op("Sub", [m, half], hint=f"wrap{bits}")


def _decay(b: Builder, a: str, factor) -> str:
    """``trunc(a · factor / 4096)``: ONNX integer Div truncates toward zero."""
    return b.op("Div", [b.op("Mul", [a, b.const(factor, I64)]),
                        b.const(loihi.DECAY_UNITY, I64)], hint="decay")


def _compartment(b: Builder, name: str, c: loihi.Compartment, a: str, t: str, reset: str) -> tuple:
    cs = CompartmentState(c, 1)
    n, k = cs.n, cs.start_step
    st_u = State(f"u.{name}", I64, (n,), doc=f"current u of '{name}'")
    st_v = State(f"v.{name}", I64, (n,), doc=f"voltage v of '{name}' (after reset)")
    start = k <= 0
    u = b.state(st_u, reset, cs.u_init[None] if start else np.zeros((1, n), I64))
    v = b.state(st_v, reset, cs.v_init[None] if start else np.zeros((1, n), I64))
    if k > 0:
        at_k = b.op("Equal", [t, b.const(k, I64)])
        u = b.op("Where", [at_k, b.const(cs.u_init[None], I64), u])
        v = b.op("Where", [at_k, b.const(cs.v_init[None], I64), v])
    a64 = _wrap(b, b.op("Mul", [a, b.const(1 << loihi.ACT_SHIFT, I64)]), 32)
    u = _wrap(b, b.op("Add", [_wrap(b, _decay(b, u, cs.du_factor), 32), a64]), 32)
    two = b.const(2 * MAX_UV, I64)
    u = b.op("Where", [
        b.op("Greater", [u, b.const(MAX_UV, I64)]), b.op("Sub", [u, two]),
        b.op("Where", [b.op("LessOrEqual", [u, b.const(-MAX_UV, I64)]), b.op("Add", [u, two]), u]),
    ], hint=f"u.{name}")
    v = b.op("Add", [_wrap(b, _decay(b, v, cs.dv_factor), 32), u])
    bias = b.const(cs.bias, I64, hint=f"bias.{name}")
    if k > 0:
        bias = b.op("Where", [b.op("GreaterOrEqual", [t, b.const(k, I64)]), bias,
                              b.const(0, I64)])
    v = b.op("Add", [v, bias])
    v = b.op("Clip", [_wrap(b, v, 32), b.const(-V_LIMIT, I64), b.const(V_LIMIT, I64)])
    s = b.op("Greater", [v, b.const(cs.vth_eff, I64)], hint=f"s.{name}")
    v = b.op("Where", [s, b.const(0, I64), v], hint=f"v.{name}")
    b.state_next(st_u, u)
    b.state_next(st_v, v)
    return s, v


class _SynapseStep:
    """One synapse block: its buffer state (read first) and its accumulation (built later)."""

    def __init__(self, b: Builder, name: str, node, reset: str):
        self.b, self.name, self.node = b, name, node
        ss = synapse_state(node, 1)
        m = b.dense(ss.matrix, np.float64, name)
        worst = float(np.abs(m).sum(axis=1).max(initial=0.0))
        if worst >= EXACT_SUM_LIMIT:
            raise ValidationError(
                f"a synapse row sums to |w| = {worst:.3g} ≥ 2^53, beyond the emulator's "
                "exact range", node=name,
                hint="quantize the weights to Loihi's 8-bit grid (snnc.compile)",
            )
        self.matrix = np.rint(m).astype(I64)
        self.n_out = ss.n_out
        self.conv = isinstance(node, loihi.ConvSynapse)
        self.depth = 1 if self.conv else ss.depth
        self.weight_exp = 0 if self.conv else ss.weight_exp
        if self.conv:
            self.state = State(f"buf.{name}", I64, (self.n_out,), doc=f"output of conv '{name}'")
            self.buf = b.state(self.state, reset, 0)
            self.out = self.buf
        else:
            self.state = State(f"buf.{name}", I64, (self.n_out, self.depth),
                               doc=f"output buffer of '{name}' (one slot per delay)")
            self.buf = b.state(self.state, reset, 0)
            self.out = b.op("Squeeze", [self._slots(0, 1), b.const([2], I64)], hint=f"a.{name}")

    def _slots(self, lo: int, hi: int) -> str:
        b = self.b
        return b.op("Slice", [self.buf, b.const([lo], I64), b.const([hi], I64), b.const([2], I64)])

    def update(self, src: str) -> str:
        """The buffer after accumulating ``src`` (batch, n_in) int64 spikes of this step."""
        b = self.b
        acc = b.op("MatMul", [src, b.const(self.matrix.T, I64, hint=f"W.{self.name}")])
        if self.conv:
            outside = b.op("Or", [b.op("Greater", [acc, b.const(INT32_MAX, I64)]),
                                  b.op("Less", [acc, b.const(INT32_MIN, I64)])])
            acc = b.op("Where", [outside, b.const(INT32_MIN, I64), acc])
            return _wrap(b, acc, CONV_BITS)
        e = self.weight_exp
        if e > 0:
            acc = b.op("Mul", [acc, b.const(1 << e, I64)])
        elif e < 0:
            d = b.const(1 << -e, I64)
            acc = b.op("Div", [b.op("Sub", [acc, b.op("Mod", [acc, d], fmod=0)]), d])  # floor
        acc = b.op("Transpose", [b.op("Reshape", [acc, b.const([-1, self.depth, self.n_out],
                                                               I64)])], perm=[0, 2, 1])
        if self.depth > 1:
            cleared = b.op("Mul", [self._slots(0, 1), b.const(0, I64)])
            shifted = b.op("Concat", [self._slots(1, self.depth), cleared], axis=2)
            acc = b.op("Add", [shifted, acc])
        return _wrap(b, acc, 32)


def build(graph: Graph) -> tuple[Builder, dict]:
    """The step model of a Loihi-dialect ``graph``; returns (builder, info)."""
    w = wiring(graph)
    if w.source is None:
        raise ValidationError(
            "the program has no SpikeSource; a step model needs an input",
            hint="compile a model with an Input node",
        )
    b = Builder()
    in_shape = tuple(graph[w.source].shape)
    x = b.add_input("x", np.uint8, ("batch", *in_shape), "input spikes (0/1) of this step")
    reset = b.add_input("reset", np.bool_, (), "True on the first step: start from rest")
    st_t = State("t", I64, (), batched=False, doc="raw step counter (Lava time_step − 1)")
    t = b.state(st_t, reset, 0)
    b.state_next(st_t, b.op("Add", [t, b.const(1, I64)]))
    x64 = b.op("Cast", [b.flat(x, int(np.prod(in_shape, dtype=np.int64)))], to=b.TensorProto.INT64)
    # synapse buffers are read before the compartments update (they hold step t-1's work)
    syn = {s: _SynapseStep(b, s, graph[s], reset) for s in w.synapses}
    spikes: dict[str, str] = {}
    outputs: dict[str, list] = {}
    for c in w.compartments:
        node: loihi.Compartment = graph[c]
        ins = [syn[s].out for s in w.comp_in[c]]
        if ins:
            a = ins[0]
            for other in ins[1:]:
                a = b.op("Add", [a, other])
            a = _wrap(b, a, 32) if len(ins) > 1 else a
        else:
            a = b.batch_zeros(x, node.size, I64)
        s, v = _compartment(b, c, node, a, t, reset)
        spikes[c] = b.op("Cast", [s], to=b.TensorProto.INT64)
        shape = tuple(node.shape)
        b.add_output(b.shaped(b.op("Cast", [s], to=b.TensorProto.UINT8), shape),
                     f"spikes.{c}", np.uint8, ("batch", *shape), f"spikes of '{c}' at this step")
        outputs[f"spikes.{c}"] = list(shape)
        if node.readout == "v":
            b.add_output(b.shaped(v, shape), f"v.{c}", I64, ("batch", *shape),
                         f"voltage of '{c}' after this step")
            outputs[f"v.{c}"] = list(shape)
    for s in w.synapses:
        src = x64 if w.syn_src[s] == w.source else spikes[w.syn_src[s]]
        b.state_next(syn[s].state, syn[s].update(src))
    return b, {"input_shape": list(in_shape), "outputs": outputs, "input_dtype": "uint8"}


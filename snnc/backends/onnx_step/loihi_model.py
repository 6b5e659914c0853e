"""The integer step model: one raw step of the emulator (Lava's ``fixed_pt`` models) in int64.

The arithmetic is :mod:`snnc.compiler.ir.arith`'s, *executed symbolically*: the LIF step
(:func:`~snnc.compiler.ir.arith.lif_step`), the synapse buffers
(:func:`~snnc.compiler.ir.arith.synapse_buffer`, :func:`~snnc.compiler.ir.arith.conv_buffer`)
and the input sum run on :class:`OnnxOps`, whose primitives emit ONNX nodes instead of
computing, so the model holds the same wraps, clip and reset in the same order as the numpy
and torch engines.  The registers (effective weights, decay factors, ``vth << 6``, the
shifted bias, initial values) are :class:`~snnc.compiler.ir.arith.LifRegisters` and the
emulator's own synapse matrices.  All tensors are int64 holding int32 values; the
primitives: ``wrap(x, bits) = ((x + 2^(bits−1)) mod 2^bits) − 2^(bits−1)`` with ONNX
``Mod(fmod=0)``, truncating shifts as integer ``Div`` (ONNX's integer division truncates
toward zero), floor shifts as ``(x − (x mod 2^k)) / 2^k``.  One raw step ``t`` (state ``t``,
initially 0)::

    for every Compartment c (graph order):
        a   = Σ buffers of its synapses (wrap32 when more than one)
        u, v, s = lif_step(u, v, a, t)        (start_step: Where(t == k, init, ·))
    for every Synapse k:   acc = MatMul(int64 spikes of its source at step t, W_effᵀ)
        Dense/Sparse/DelayDense:  buf = synapse_buffer(acc, e, shifted buf)  (depth = max delay + 1)
        Conv:                     buf = conv_buffer(acc)  (INT32_MIN where acc leaves int32:
                                  numpy's float→int32 cast on x86, which the emulator reproduces)

An integer input (``SpikeSource.payload == "int32"``, lava-dl's Input block) makes ``x`` an
int32 tensor; a compartment the input feeds directly adds ``x`` itself to its ``a`` in the same
step.

Sigma-delta populations (``SigmaDeltaCompartment``) run :func:`~snnc.compiler.ir.arith.sigma_delta_step`
on the same ops (states ``sigma.<c>``, ``act.<c>``, ``residue.<c>``, ``error.<c>``; output
``payload.<c>`` int64: the int32 payload, or sigma).  Graded synapses (``num_message_bits > 0``)
multiply the payloads in int64 ``MatMul`` (exact mod 2^64, so the int32 wrap of
``graded_synapse_buffer`` is Lava's); graded DelayDense wraps each product
(``Mul``, wrap, ``ReduceSum``: ``arith.graded_delay_sums``); a binary synapse reading a
sigma-delta population counts ``payload != 0``.  A periodic reset (``reset_interval``) is ``Where(Mod(t + 1, I) == off, 0, ·)`` on u and v.

States: ``t`` (int64 scalar), ``u.<c>``, ``v.<c>`` (batch, n) int64, ``buf.<k>`` (batch, n_out,
depth) int64.  Outputs ``spikes.<c>`` (batch, *shape) uint8 for every compartment and
``v.<c>`` (batch, *shape) int64 for read-outs (``readout == "v"``), on the raw time line of
:mod:`snnc.backends.base` (outputs of a population at synaptic depth k lag the input by k).
Sparse weight blocks become dense int64 matrices.
"""

from __future__ import annotations

import numpy as np

from snnc.backends.emulator.synapse import synapse_state
from snnc.backends.wiring import BINARY, payload_of, wiring
from snnc.backends.onnx_step.builder import Builder, State
from snnc.compiler.ir import arith, loihi
from snnc.compiler.ir.arith import INT32_MAX, INT32_MIN, LifRegisters
from snnc.compiler.ir.graph import Graph
from snnc.errors import ValidationError

I64 = np.int64
#: the emulator sums in float64; beyond this an accumulator would no longer be exact there
EXACT_SUM_LIMIT = 1 << 53


class OnnxOps:
    """:mod:`~snnc.compiler.ir.arith`'s integer primitives as ONNX nodes of a :class:`Builder`:
    operands are tensor names or Python/numpy values (made int64 initializers); conditions
    that are Python bools (known when the model is built) pick without a node."""

    name = "onnx"

    def __init__(self, b: Builder):
        self.b = b

    def const(self, a):
        return a if isinstance(a, str) else self.b.const(a, I64)

    def _op(self, op_type: str, *args, **attrs) -> str:
        return self.b.op(op_type, [self.const(a) for a in args], **attrs)

    def add(self, a, b):
        return self._op("Add", a, b)

    def sub(self, a, b):
        return self._op("Sub", a, b)

    def mul(self, a, b):
        return self._op("Mul", a, b)

    def shl(self, x, k: int):
        return self.mul(x, 1 << k) if k else x

    def shr(self, x, k: int):
        """Floor shift: ``(x − (x mod 2^k)) / 2^k`` (Mod with fmod=0 is the floor modulo)."""
        if not k:
            return x
        d = 1 << k
        return self._op("Div", self._op("Sub", x, self._op("Mod", x, d, fmod=0)), d)

    def trunc_shr(self, x, k: int):
        return self._op("Div", x, 1 << k)  # ONNX integer Div truncates toward zero

    def wrap(self, x, bits: int):
        half = 1 << (bits - 1)
        m = self._op("Mod", self._op("Add", x, half), 1 << bits, fmod=0)
        return self.b.op("Sub", [m, self.const(half)], hint=f"wrap{bits}")

    def lava_int32(self, acc):
        out = self._op("Or", self._op("Greater", acc, INT32_MAX), self._op("Less", acc, INT32_MIN))
        return self._op("Where", out, INT32_MIN, acc)

    def mod(self, x, k: int):
        return self._op("Mod", x, k, fmod=0)  # the floor modulo (of the step counter)

    def gt(self, a, b):
        return self._op("Greater", a, b)

    def le(self, a, b):
        return self._op("LessOrEqual", a, b)

    def ge(self, a, b):
        return self._op("GreaterOrEqual", a, b)

    def eq(self, a, b):
        return self._op("Equal", a, b)

    def ne(self, a, b):
        return self._op("Not", self._op("Equal", a, b))

    def where(self, c, a, b):
        if c is True or c is False:
            return a if c else b
        return self._op("Where", c, a, b)

    def clip(self, x, lo: int, hi: int):
        return self._op("Clip", x, lo, hi)


def _compartment(ops: OnnxOps, name: str, c: loihi.Compartment, a: str, t: str,
                 reset: str) -> tuple:
    b = ops.b
    reg = LifRegisters.of(c)
    n = reg.n
    st_u = State(f"u.{name}", I64, (n,), doc=f"current u of '{name}'")
    st_v = State(f"v.{name}", I64, (n,), doc=f"voltage v of '{name}' (after reset)")
    u0, v0 = reg.initial()
    u = b.state(st_u, reset, u0[None])
    v = b.state(st_v, reset, v0[None])
    out = arith.lif_step(ops, reg.on(ops), u, v, a, t)
    b.state_next(st_u, out.u)
    b.state_next(st_v, out.v)
    return out.s, out.v


def _sigma_delta(ops: OnnxOps, name: str, c: loihi.SigmaDeltaCompartment, a: str, reset: str) -> str:
    """A sigma-delta population's step: its int32 output (payload or sigma), int64."""
    b = ops.b
    reg = arith.SigmaDeltaRegisters.of(c)
    sts = [State(f"{f}.{name}", I64, (reg.n,), doc=f"{f} of sigma-delta '{name}'")
           for f in arith.SigmaDeltaState._fields]
    st = arith.SigmaDeltaState(*(b.state(s, reset, 0) for s in sts))
    out = arith.sigma_delta_step(ops, reg.on(ops), st, a)
    for s, value in zip(sts, out.state, strict=True):
        b.state_next(s, value)
    return out.out


class _SynapseStep:
    """One synapse block: its buffer state (read first) and its accumulation (built later)."""

    def __init__(self, ops: OnnxOps, name: str, node, reset: str):
        b = ops.b
        self.b, self.ops, self.name, self.node = b, ops, name, node
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
        self.graded = int(node.num_message_bits) > 0
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
        b, ops = self.b, self.ops
        if self.graded and self.depth > 1:  # each int32 product wraps (arith.graded_delay_sums)
            prod = ops.wrap(b.op("Mul", [b.op("Unsqueeze", [src, b.const([1], I64)]),
                                         b.const(self.matrix, I64, hint=f"W.{self.name}")]), 32)
            acc = b.op("ReduceSum", [prod, b.const([2], I64)], keepdims=0)
        else:
            acc = b.op("MatMul", [src, b.const(self.matrix.T, I64, hint=f"W.{self.name}")])
        if self.conv:
            return arith.conv_buffer(ops, acc)
        acc = b.op("Transpose", [b.op("Reshape", [acc, b.const([-1, self.depth, self.n_out],
                                                               I64)])], perm=[0, 2, 1])
        pending = None
        if self.depth > 1:
            cleared = b.op("Mul", [self._slots(0, 1), b.const(0, I64)])
            pending = b.op("Concat", [self._slots(1, self.depth), cleared], axis=2)
        elif self.graded:
            return arith.graded_synapse_buffer(ops, acc, self.weight_exp)
        return arith.synapse_buffer(ops, acc, self.weight_exp, pending)


def build(graph: Graph) -> tuple[Builder, dict]:
    """The step model of a Loihi-dialect ``graph``; returns (builder, info)."""
    w = wiring(graph)
    if w.source is None:
        raise ValidationError(
            "the program has no SpikeSource; a step model needs an input",
            hint="compile a model with an Input node",
        )
    b = Builder()
    ops = OnnxOps(b)
    in_shape = tuple(graph[w.source].shape)
    payload = payload_of(graph, w)
    if payload == BINARY:
        in_dtype, doc = np.uint8, "input spikes (0/1) of this step"
    else:  # lava-dl's Input block: signed int32 values, straight into a_in
        in_dtype, doc = np.int32, "input values (int32) of this step"
    x = b.add_input("x", in_dtype, ("batch", *in_shape), doc)
    reset = b.add_input("reset", np.bool_, (), "True on the first step: start from rest")
    st_t = State("t", I64, (), batched=False, doc="raw step counter (Lava time_step − 1)")
    t = b.state(st_t, reset, 0)
    b.state_next(st_t, b.op("Add", [t, b.const(1, I64)]))
    x64 = b.op("Cast", [b.flat(x, int(np.prod(in_shape, dtype=np.int64)))], to=b.TensorProto.INT64)
    # synapse buffers are read before the compartments update (they hold step t-1's work)
    syn = {s: _SynapseStep(ops, s, graph[s], reset) for s in w.synapses}
    spikes: dict[str, str] = {}
    payloads: dict[str, str] = {}
    outputs: dict[str, list] = {}
    for c in w.neurons or w.compartments:
        node = graph[c]
        ins = [syn[s].out for s in w.comp_in[c]]
        if c in w.direct:  # the input's value of this step is a_in itself (RingBuffer -> a_in)
            ins.append(x64)
        if ins:
            _, a = arith.input_sum(ops, ins)
        else:
            a = b.batch_zeros(x, node.size, I64)
        shape = tuple(node.shape)
        if w.graded(c):
            payloads[c] = _sigma_delta(ops, c, node, a, reset)
            b.add_output(b.shaped(payloads[c], shape), f"payload.{c}", I64, ("batch", *shape),
                         f"int32 output of sigma-delta '{c}' at this step (payload, or sigma)")
            outputs[f"payload.{c}"] = list(shape)
            continue
        s, v = _compartment(ops, c, node, a, t, reset)
        spikes[c] = b.op("Cast", [s], to=b.TensorProto.INT64)
        b.add_output(b.shaped(b.op("Cast", [s], to=b.TensorProto.UINT8), shape),
                     f"spikes.{c}", np.uint8, ("batch", *shape), f"spikes of '{c}' at this step")
        outputs[f"spikes.{c}"] = list(shape)
        if node.readout == "v":
            b.add_output(b.shaped(v, shape), f"v.{c}", I64, ("batch", *shape),
                         f"voltage of '{c}' after this step")
            outputs[f"v.{c}"] = list(shape)
    for s in w.synapses:
        src_name = w.syn_src[s]
        if src_name == w.source:
            src = x64
        elif src_name in payloads:  # graded: the payload; binary: any non-zero payload is a spike
            src = payloads[src_name] if syn[s].graded else b.op(
                "Cast", [ops.ne(payloads[src_name], 0)], to=b.TensorProto.INT64)
        else:
            src = spikes[src_name]
        b.state_next(syn[s].state, syn[s].update(src))
    return b, {"input_shape": list(in_shape), "outputs": outputs, "input_dtype": np.dtype(in_dtype).name,
               "payload": payload}


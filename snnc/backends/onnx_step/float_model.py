"""The float step model: one step of :func:`snnc.simulate` as ONNX operators, in float64.

The graph is evaluated in ``graph.schedule()`` order exactly as
:mod:`snnc.backends.reference` does (the coefficients, rest values and delay lengths are
taken from its own objects, so the two cannot disagree):

* a node's input is the left-to-right sum of its incoming edges; a *back edge* reads the
  source's value of the previous step, from state ``prev.<source>`` (initially the source's
  rest value);
* linear ops: ``y = MatMul(x, Aᵀ) + b`` with ``A = linear.as_matrix(op)`` (dense), Flatten is
  an Identity;
* Delay: state ``delay.<name>`` (batch, n, L) is a shift register of the last ``L`` inputs
  (initially the input's rest value); ``y[:, i] = buffer[:, i, L − 1 − d_i]`` (one-hot mask and
  ReduceSum, exact);
* neurons: states ``i.<name>`` (only when I carries state: CubaLIF, CubaLI) and ``v.<name>``
  (initially 0)::

      I = α_I·I + g_in·x          (I = g_in·x when α_I = 0)
      v = (α_v·v + g_v·I) + b_v
      z = v > θ  (GreaterOrEqual for spike_if ">=") ;  v = Where(z, v_reset, v)
                                              (reset "subtract": Where(z, v − θ, v))

  spiking populations emit ``Cast(z, double)``, read-outs emit ``v``.

Inputs ``x`` (batch, *input_shape) double and ``reset``; outputs ``y.<Output name>``
(batch, *shape) double.  Rounding: every elementwise op is the same IEEE float64 operation
in the same order as numpy's; only the matrix products may sum in another order than
scipy's sparse product (a difference of a few ulp, which changes a spike only when a
membrane value lies within that distance of its threshold).
"""

from __future__ import annotations

import numpy as np

from snnc.backends import reference
from snnc.backends.onnx_step.builder import Builder, State
from snnc.compiler import linear
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph

F64 = np.float64


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _neuron(b: Builder, name: str, step: "reference._Neuron", x: str, reset: str) -> str:
    n = step.v.shape[1]
    if np.any(step.alpha_i != 0):
        st_i = State(f"i.{name}", F64, (n,), doc=f"synaptic current I of '{name}'")
        i_prev = b.state(st_i, reset, 0.0)
        i = b.op("Add", [b.op("Mul", [b.const(step.alpha_i, F64), i_prev]),
                         b.op("Mul", [b.const(step.g_in, F64), x])], hint=f"I.{name}")
        b.state_next(st_i, i)
    else:
        i = b.op("Mul", [b.const(step.g_in, F64), x], hint=f"I.{name}")
    st_v = State(f"v.{name}", F64, (n,), doc=f"membrane voltage v of '{name}' (after reset)")
    v_prev = b.state(st_v, reset, 0.0)
    v = b.op("Add", [b.op("Mul", [b.const(step.alpha_v, F64), v_prev]),
                     b.op("Mul", [b.const(step.g_v, F64), i])])
    v = b.op("Add", [v, b.const(step.b_v, F64)], hint=f"v.{name}")
    if step.threshold is None:
        b.state_next(st_v, v)
        return v
    cmp = "GreaterOrEqual" if step.inclusive else "Greater"
    z = b.op(cmp, [v, b.const(step.threshold, F64)], hint=f"z.{name}")
    after = b.op("Sub", [v, b.const(step.threshold, F64)]) if step.subtract else b.const(step.v_reset, F64)
    b.state_next(st_v, b.op("Where", [z, after, v]))
    return b.op("Cast", [z], to=b.TensorProto.DOUBLE, hint=f"spikes.{name}")


def _delay(b: Builder, name: str, line: "reference._DelayLine", x: str, reset: str) -> str:
    n, length = line.steps.size, line.length
    if length == 1:
        return x
    st = State(f"delay.{name}", F64, (n, length), doc=f"the last {length} inputs of '{name}'")
    rest = np.transpose(line.buffer[:, :1, :], (1, 2, 0))  # (1, n, L), every slot the rest value
    buf = b.state(st, reset, rest)
    older = b.op("Slice", [buf, b.const([1], np.int64), b.const([length], np.int64),
                           b.const([2], np.int64)])
    buf = b.op("Concat", [older, b.op("Unsqueeze", [x, b.const([2], np.int64)])], axis=2)
    b.state_next(st, buf)
    mask = np.zeros((1, n, length))
    mask[0, np.arange(n), length - 1 - line.steps] = 1.0
    picked = b.op("Mul", [buf, b.const(mask, F64)])
    return b.op("ReduceSum", [picked, b.const([2], np.int64)], keepdims=0, hint=f"y.{name}")


def _linear(b: Builder, name: str, node: ops.Node, x: str) -> str:
    if isinstance(node, ops.Flatten):
        return x
    a = b.dense(linear.as_matrix(node), F64, node.source or name).T
    y = b.op("MatMul", [x, b.const(a, F64, hint="weight")])
    bias = linear.bias_vector(node)
    return y if bias is None else b.op("Add", [y, b.const(bias, F64, hint="bias")])


def build(graph: Graph, conv: Convention) -> tuple[Builder, dict]:
    """The step model of a float-dialect ``graph`` under ``conv``; returns (builder, info)."""
    net = reference._Network(graph, conv, 1)  # validates the graph; rest values, steppers
    input_name = reference._input_port(graph)
    outputs = graph.of_kind(ops.Output)
    b = Builder()
    in_shape = tuple(graph[input_name].out_shape)
    x = b.add_input("x", F64, ("batch", *in_shape), "input of this step (spikes or currents)")
    reset = b.add_input("reset", np.bool_, (), "True on the first step: start from rest")
    back_sources = sorted({s for ins in net.inputs.values() for s, is_back in ins if is_back})
    prev = {}
    prev_states = {}
    for s in back_sources:
        n = _size(graph[s].out_shape)
        st = State(f"prev.{s}", F64, (n,), doc=f"last step's output of '{s}' (a back edge)")
        prev[s] = b.state(st, reset, net.rest[s])
        prev_states[s] = st
    values: dict[str, str] = {}
    for name in net.order:
        node = graph[name]
        if name == input_name:
            values[name] = b.flat(x, _size(in_shape))
            continue
        terms = [prev[s] if is_back else values[s] for s, is_back in net.inputs[name]]
        if terms:
            total = terms[0]
            for t in terms[1:]:
                total = b.op("Add", [total, t])
        else:
            total = b.batch_zeros(x, _size(node.in_shape), F64)
        step = net.steps[name]
        if isinstance(node, ops.NeuronOp):
            values[name] = _neuron(b, name, step, total, reset)
        elif isinstance(node, ops.Delay):
            values[name] = _delay(b, name, step, total, reset)
        elif name in net.linear:
            values[name] = _linear(b, name, node, total)
        else:  # Output (and any other pass-through)
            values[name] = total
    for s, st in prev_states.items():
        b.state_next(st, values[s])
    out_info = {}
    for o in outputs:
        shape = tuple(graph[o].out_shape)
        b.add_output(b.shaped(values[o], shape), f"y.{o}", F64, ("batch", *shape),
                     f"value of Output '{o}' at this step")
        out_info[f"y.{o}"] = list(shape)
    info = {"input_shape": list(in_shape), "outputs": out_info, "input_dtype": "float64"}
    return b, info

"""One handler per ONNX op: an ANN's ONNX nodes into float-dialect IR nodes.

The handlers run in the ONNX graph's (topological) order on a :class:`Builder`, which tracks
every tensor either as a **constant** (initializers, ``Constant`` nodes, anything computed from
constants only -- folded with ``onnx.reference``) or as a **value**: the IR node producing it and
its unbatched shape.  Tensors carry a batch axis first in ONNX and none in the IR.

ANN op → IR (``a`` = the ANN's activation):

==========================  ===================================================================
Gemm, MatMul (+ Add/Sub)     ``Affine``: y = W x + b, W = α·Bᵀ (or α·B with transB), b = β·C
Conv (1-D, 2-D)              ``Conv1d`` / ``Conv2d`` (bias per output channel)
BatchNormalization           folded into the Conv/Gemm before it:
                             W' = W·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β
Relu                         an ``IF`` population (a = max(0, x) becomes a spike rate); a Relu of
                             a value that is already ≥ 0 (pooled/flattened ReLU output) is dropped
AveragePool                  ``AvgPool2d`` (1-D pools as 2-D with height 1); without
                             ``count_include_pad`` a ``SumPool2d`` plus a per-position ``Scale``
MaxPool                      only a 1×1 kernel (pure subsampling, linear); otherwise refused
Flatten, Reshape             ``Flatten`` to 1-D; other reshapes only relabel the C-order vector
Identity, Dropout            dropped
Softmax, LogSoftmax          dropped when they produce a graph output (argmax is unchanged)
==========================  ===================================================================

Everything else raises :class:`~snnc.errors.UnsupportedOpError` naming the node, its op type and
why it cannot run on Loihi.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from snnc.compiler import linear
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Node
from snnc.errors import FrontendError, UnsupportedOpError

Shape = tuple[int, ...]

#: the IF parameters of a freshly loaded ANN: r·dt = 1 at the default dt = 1e-4, θ = 1, reset 0
#: (threshold balancing, :mod:`snnc.calibration.balance`, sets them for the chosen dt)
RAW_DT = 1e-4


@dataclasses.dataclass(frozen=True)
class Value:
    """A dynamic tensor: the IR node producing it, its unbatched shape, and what we know of it.

    ``nonneg``: every entry is ≥ 0 (a ReLU output, pooled or reshaped); ``weighted``: produced
    directly by an Affine/Conv whose weights and bias may still absorb a BatchNormalization or
    an Add of a constant.
    """

    node: str
    shape: Shape
    nonneg: bool = False
    weighted: bool = False


class Builder:
    """The state the handlers share: constants, values, IR nodes and edges."""

    def __init__(self, opset: int, uses: Counter):
        self.opset = opset
        self.uses = uses
        self.consts: dict[str, np.ndarray] = {}
        self.values: dict[str, Value] = {}
        self.nodes: dict[str, Node] = {}
        self.edges: list[tuple[str, str]] = []
        self.dropped: list[str] = []

    # -- lookups ------------------------------------------------------------------------
    def const(self, onnx_node, index: int, what: str) -> np.ndarray:
        name = onnx_node.input[index]
        if name not in self.consts:
            raise unsupported(
                onnx_node, f"its {what} ({name!r}) is computed at run time, not a constant",
                "export the model in eval mode with constant weights",
            )
        return self.consts[name]

    def value(self, onnx_node, index: int = 0) -> Value:
        name = onnx_node.input[index]
        if name not in self.values:
            raise unsupported(onnx_node, f"input {name!r} is not produced by a supported op",
                              "check the ops before it")
        return self.values[name]

    def optional(self, onnx_node, index: int) -> np.ndarray | None:
        if len(onnx_node.input) <= index or not onnx_node.input[index]:
            return None
        return self.const(onnx_node, index, f"input {index}")

    # -- building -----------------------------------------------------------------------
    def unique(self, onnx_node, suffix: str = "") -> str:
        base = (onnx_node.name or f"{onnx_node.op_type}_{len(self.nodes)}") + suffix
        name, i = base, 1
        while name in self.nodes:
            name, i = f"{base}_{i}", i + 1
        return name

    def emit(self, onnx_node, node: Node, src: Value, suffix: str = "", **flags: bool) -> Value:
        """Add ``node`` fed by ``src``; it produces ``onnx_node``'s output."""
        name = self.unique(onnx_node, suffix)
        meta = {"source": (onnx_node.name or name) + suffix, "onnx_op": onnx_node.op_type}
        self.nodes[name] = node.replace(meta=meta)
        self.edges.append((src.node, name))
        v = Value(name, tuple(int(d) for d in node.out_shape), **flags)
        self.values[onnx_node.output[0]] = v
        return v

    def alias(self, onnx_node, v: Value) -> None:
        self.values[onnx_node.output[0]] = v

    def single_use(self, onnx_node, v: Value) -> bool:
        """True when ``onnx_node``'s input is a weighted op's output used by nothing else."""
        return v.weighted and self.uses[onnx_node.input[0]] == 1


def unsupported(onnx_node, why: str, hint: str) -> UnsupportedOpError:
    name = onnx_node.name or "<unnamed>"
    return UnsupportedOpError(f"ONNX node {name!r} ({onnx_node.op_type}): {why}", node=name, hint=hint)


def attrs(onnx_node) -> dict[str, Any]:
    from onnx import helper

    try:
        return {a.name: helper.get_attribute_value(a) for a in onnx_node.attribute}
    except Exception as e:  # a damaged attribute (unknown type, unreadable tensor)
        raise FrontendError(f"attributes of {onnx_node.op_type} node {onnx_node.name!r} cannot be read: "
                            f"{type(e).__name__}: {e}", node=onnx_node.name or onnx_node.op_type,
                            hint="re-export the model with torch.onnx.export") from None


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# ------------------------------------------------------------------------ weighted ops
def _gemm(b: Builder, n) -> None:
    a = attrs(n)
    x = b.value(n)
    if a.get("transA", 0):
        raise unsupported(n, "transA=1 transposes the batch axis into the features", "use transA=0")
    w = _f64(b.const(n, 1, "weight B"))
    w = w if a.get("transB", 0) else w.T  # (n_out, n_in)
    w = float(a.get("alpha", 1.0)) * w
    c = b.optional(n, 2)
    bias = np.zeros(w.shape[0]) if c is None else float(a.get("beta", 1.0)) * _bias(n, c, w.shape[0])
    _check_in(n, x, (w.shape[1],))
    b.emit(n, ops.Affine(weight=w, bias=bias), x, weighted=True)


def _matmul(b: Builder, n) -> None:
    x = b.value(n)
    w = _f64(b.const(n, 1, "weight matrix"))
    if w.ndim != 2:
        raise unsupported(n, f"a {w.ndim}-D weight", "only (features_in, features_out) matrices map to synapses")
    _check_in(n, x, (w.shape[0],))
    b.emit(n, ops.Affine(weight=w.T, bias=np.zeros(w.shape[1])), x, weighted=True)


def _bias(n, c: np.ndarray, n_out: int) -> np.ndarray:
    c = _f64(c).reshape(-1)
    if c.size == 1:
        return np.full(n_out, float(c[0]))
    if c.size != n_out:
        raise unsupported(n, f"bias of {c.size} values for {n_out} outputs", "one bias per output")
    return c


def _check_in(n, x: Value, want: Shape) -> None:
    if int(np.prod(x.shape)) != int(np.prod(want)) or len(x.shape) != len(want):
        raise unsupported(
            n, f"input of shape {x.shape} where {want} is expected",
            "flatten the input (nn.Flatten) before a Linear layer" if len(want) == 1 else "check the model",
        )


def _pads(n, a: dict, kernel: Shape, spatial: Shape, strides: Shape, dil: Shape) -> Shape:
    """Symmetric per-side padding from ``pads``/``auto_pad``; asymmetric padding is refused."""
    nd = len(kernel)
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(spatial, kernel, strides, dil):
            out = -(-size // s)
            total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
            pads.append((total // 2, total - total // 2))
        begin, end = [p[0] for p in pads], [p[1] for p in pads]
    elif auto == "VALID":
        begin = end = [0] * nd
    else:
        p = list(a.get("pads", [0] * 2 * nd))
        begin, end = p[:nd], p[nd:]
    if list(begin) != list(end):
        raise unsupported(n, f"asymmetric padding {list(begin)} / {list(end)}",
                          "use symmetric padding (e.g. padding=k//2 with odd kernels)")
    return tuple(int(v) for v in begin)


def _conv(b: Builder, n) -> None:
    a = attrs(n)
    x = b.value(n)
    w = _f64(b.const(n, 1, "kernel"))
    nd = w.ndim - 2
    if nd not in (1, 2) or len(x.shape) != nd + 1:
        raise unsupported(n, f"a {nd}-D convolution on input {x.shape}", "only 1-D and 2-D convolutions map")
    kernel = tuple(w.shape[2:])
    strides = tuple(a.get("strides", [1] * nd))
    dil = tuple(a.get("dilations", [1] * nd))
    group = int(a.get("group", 1))
    pads = _pads(n, a, kernel, x.shape[1:], strides, dil)
    c = b.optional(n, 2)
    bias = np.zeros(w.shape[0]) if c is None else _bias(n, c, w.shape[0])
    if w.shape[1] * group != x.shape[0]:
        raise unsupported(n, f"kernel for {w.shape[1] * group} channels on {x.shape[0]}", "check the model")
    if nd == 1:
        op = ops.Conv1d(input_shape=x.shape[1], weight=w, stride=strides[0], padding=pads[0],
                        dilation=dil[0], groups=group, bias=bias)
    else:
        op = ops.Conv2d(input_shape=x.shape[1:], weight=w, stride=strides, padding=pads,
                        dilation=dil, groups=group, bias=bias)
    b.emit(n, op, x, weighted=True)


def _batchnorm(b: Builder, n) -> None:
    x = b.value(n)
    if not b.single_use(n, x):
        raise unsupported(
            n, "it does not directly follow a Conv or Gemm (nothing to fold it into)",
            "put BatchNorm right after a Conv/Linear layer, or fold it before export",
        )
    a = attrs(n)
    gamma, beta, mean, var = (_f64(b.const(n, i, f)).reshape(-1) for i, f in
                              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")))
    k = gamma / np.sqrt(var + float(a.get("epsilon", 1e-5)))
    op = b.nodes[x.node]
    shape = (-1,) + (1,) * (op.weight.ndim - 1)
    new = op.replace(weight=op.weight * k.reshape(shape), bias=(op.bias - mean) * k + beta)
    b.nodes[x.node] = new
    b.alias(n, x)


def _add(b: Builder, n, sign: float = 1.0) -> None:
    dyn = [i for i, name in enumerate(n.input) if name in b.values]
    if len(dyn) != 1:
        raise unsupported(
            n, "adds two computed tensors (a residual/skip connection)" if len(dyn) == 2
            else "has no computed input", "use a plain feed-forward network",
        )
    i = dyn[0]
    if sign < 0 and i != 0:
        raise unsupported(n, "subtracts the activations from a constant", "use x − c, not c − x")
    x = b.values[n.input[i]]
    c = _f64(b.consts[n.input[1 - i]])
    if not (x.weighted and b.uses[n.input[i]] == 1):
        raise unsupported(n, "adds a constant that does not follow a Conv/Gemm/MatMul (no bias to fold it into)",
                          "add biases only right after a linear layer")
    op = b.nodes[x.node]
    channels = op.bias.size
    per_channel = c.reshape(-1) if c.size in (1, channels) else None
    if per_channel is None or (isinstance(op, (ops.Conv1d, ops.Conv2d)) and c.ndim > 0 and c.shape[-1] != 1 and c.size > 1):
        raise unsupported(n, f"a constant of shape {c.shape} is not one bias per output channel",
                          "use a per-channel bias")
    b.nodes[x.node] = op.replace(bias=op.bias + sign * np.broadcast_to(per_channel, (channels,)))
    b.alias(n, x)


# ------------------------------------------------------------------------ neurons
def _relu(b: Builder, n) -> None:
    x = b.value(n)
    if x.nonneg:  # ReLU of a ReLU output (pooled/flattened): the identity
        b.alias(n, x)
        return
    if isinstance(b.nodes[x.node], ops.Input):
        raise unsupported(n, "a ReLU of the network input has no synapses in front of it",
                          "apply the ReLU to the data before the model")
    ones = np.ones(x.shape)
    b.emit(n, ops.IF(r=ones / RAW_DT, v_threshold=ones, v_reset=np.zeros(x.shape)), x, nonneg=True)


# ------------------------------------------------------------------------ pooling
def _pool_geometry(b: Builder, n, x: Value) -> tuple[Shape, Shape, Shape, Shape]:
    """(input as (C, H, W), kernel, strides, pads) -- 1-D pools as height-1 2-D pools."""
    a = attrs(n)
    kernel = tuple(a["kernel_shape"])
    nd = len(kernel)
    if len(x.shape) != nd + 1 or nd not in (1, 2):
        raise unsupported(n, f"a {nd}-D pool on input {x.shape}", "only 1-D and 2-D pooling maps")
    strides = tuple(a.get("strides", [1] * nd))
    if any(d != 1 for d in a.get("dilations", [1] * nd)):
        raise unsupported(n, "dilated pooling", "use dilation 1")
    pads = _pads(n, a, kernel, x.shape[1:], strides, (1,) * nd)
    if a.get("ceil_mode", 0):
        floor = [(s + 2 * p - k) // st + 1 for s, p, k, st in zip(x.shape[1:], pads, kernel, strides)]
        ceil = [-(-(s + 2 * p - k) // st) + 1 for s, p, k, st in zip(x.shape[1:], pads, kernel, strides)]
        if floor != ceil:
            raise unsupported(n, "ceil_mode=1 adds partial windows", "use ceil_mode=False")
    if nd == 1:
        return (x.shape[0], 1, x.shape[1]), (1,) + kernel, (1,) + strides, (0,) + pads
    return x.shape, kernel, strides, pads


def _avgpool(b: Builder, n) -> None:
    x = b.value(n)
    shape, kernel, strides, pads = _pool_geometry(b, n, x)
    args = dict(input_shape=shape, kernel_size=kernel, stride=strides, padding=pads)
    if not any(pads) or attrs(n).get("count_include_pad", 0):
        _pooled(b, n, x, b.emit(n, ops.AvgPool2d(**args), x, nonneg=x.nonneg))
        return
    # border windows average over the real inputs only: SumPool, then 1/count per position
    pool = ops.SumPool2d(**args)
    v = b.emit(n, pool, x)
    count = np.asarray(linear.as_matrix(pool) @ np.ones(int(np.prod(shape)))).reshape(pool.out_shape)
    _pooled(b, n, x, b.emit(n, ops.Scale(scale=1.0 / count), v, suffix="/divisor", nonneg=x.nonneg))


def _pooled(b: Builder, n, x: Value, v: Value) -> None:
    """A 1-D pool ran as a height-1 2-D pool: its output is (C, L') again."""
    if len(x.shape) == 2:
        b.alias(n, dataclasses.replace(v, shape=(v.shape[0], v.shape[-1])))


def _maxpool(b: Builder, n) -> None:
    x = b.value(n)
    shape, kernel, strides, pads = _pool_geometry(b, n, x)
    if any(k != 1 for k in kernel):
        raise unsupported(
            n, f"the max over a {'x'.join(map(str, kernel))} window of spike rates is not a linear "
            "function of spikes (Loihi compartments only sum weighted spikes)",
            "replace MaxPool with AvgPool (nn.AvgPool2d) and retrain, or use a stride-2 convolution",
        )
    _pooled(b, n, x, b.emit(n, ops.SumPool2d(input_shape=shape, kernel_size=kernel, stride=strides,
                                           padding=pads), x, nonneg=x.nonneg))


# ------------------------------------------------------------------------ shapes
def _flatten(b: Builder, n) -> None:
    x = b.value(n)
    if int(attrs(n).get("axis", 1)) != 1:
        raise unsupported(n, f"axis={attrs(n).get('axis')} mixes the batch axis into the features",
                          "flatten from axis 1 (nn.Flatten())")
    _to_flat(b, n, x)


def _to_flat(b: Builder, n, x: Value) -> None:
    if len(x.shape) == 1:
        b.alias(n, x)
        return
    b.emit(n, ops.Flatten(input_shape=x.shape, start_dim=0, end_dim=-1), x, nonneg=x.nonneg)


def _reshape(b: Builder, n) -> None:
    x = b.value(n)
    target = [int(v) for v in np.asarray(b.const(n, 1, "target shape")).reshape(-1)]
    size = int(np.prod(x.shape))
    rest = [x.shape[i] if v == 0 and i < len(x.shape) else v for i, v in enumerate(target[1:])]
    if not rest or rest.count(-1) > 1 or any(v < -1 for v in rest):
        raise unsupported(n, f"reshape to {target} changes the batch axis",
                          "reshape as x.view(x.size(0), -1) (keep the batch axis first)")
    if -1 in rest:
        known = int(np.prod([v for v in rest if v != -1]))
        rest[rest.index(-1)] = size // known if known else 0
    if int(np.prod(rest)) != size:
        raise unsupported(n, f"reshape of {x.shape} to {target} changes the batch axis",
                          "keep the batch axis first")
    if len(rest) == 1:
        _to_flat(b, n, x)
    else:  # relabel the same C-order vector
        b.alias(n, dataclasses.replace(x, shape=tuple(rest), weighted=False))


def _identity(b: Builder, n) -> None:
    b.alias(n, b.value(n))


HANDLERS: dict[str, Callable[[Builder, Any], None]] = {
    "Gemm": _gemm, "MatMul": _matmul, "Conv": _conv, "BatchNormalization": _batchnorm,
    "Add": _add, "Sub": lambda b, n: _add(b, n, -1.0), "Relu": _relu,
    "AveragePool": _avgpool, "MaxPool": _maxpool, "Flatten": _flatten, "Reshape": _reshape,
    "Identity": _identity, "Dropout": _identity,
}

#: ops dropped when they produce a graph output: they do not change the argmax
FINAL_OPS = ("Softmax", "LogSoftmax")

#: why common ops that are not mapped cannot be (the error message's reason)
WHY_NOT = {
    "Sigmoid": "a saturating non-linearity has no rate-coded IF equivalent",
    "Tanh": "a saturating, signed non-linearity has no rate-coded IF equivalent",
    "LeakyRelu": "negative activations cannot be carried by spike rates",
    "Clip": "a clipped activation (e.g. ReLU6) is not a plain ReLU",
    "Mul": "an elementwise product of activations is not a sum of weighted spikes",
    "Div": "a division of activations is not a sum of weighted spikes",
    "Concat": "concatenation of branches is not supported by the ANN converter",
    "Transpose": "transposing activations is not supported by the ANN converter",
    "GlobalAveragePool": "global pooling is not mapped yet",
    "LSTM": "recurrent ANN cells have no rate-coded equivalent",
    "GRU": "recurrent ANN cells have no rate-coded equivalent",
}


def handle(b: Builder, n, graph_outputs: set[str]) -> None:
    """Convert one ONNX node (see the module docstring)."""
    handler = HANDLERS.get(n.op_type)
    if handler is not None and (n.domain in ("", "ai.onnx")):
        handler(b, n)
        return
    if n.op_type in FINAL_OPS and n.output[0] in graph_outputs and n.input[0] in b.values:
        b.dropped.append(f"{n.op_type} {n.name or ''}".strip())
        b.alias(n, b.values[n.input[0]])
        return
    why = WHY_NOT.get(n.op_type, "no spiking equivalent is implemented for this op")
    raise unsupported(
        n, why, "supported ops: " + ", ".join(sorted(HANDLERS)) + " (+ a final Softmax); "
        "replace the op before export",
    )

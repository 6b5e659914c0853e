"""NIR frontend: a NIR 1.0.8 graph (file or ``nir.NIRGraph``) into the float dialect.

``load_nir(source) -> Graph`` does, in order:

1. **read** -- a path is checked (exists, is HDF5, holds a NIR ``node`` group, every node type is
   one NIR knows) and read with ``nir.read(..., type_check=False)``; every failure becomes a
   one-line :class:`~snnc.errors.FrontendError` with a hint, never an h5py/KeyError traceback;
2. **flatten** -- nested ``NIRGraph`` nodes are inlined, their node names joined with ``"."``
   (``meta["source"]`` keeps that NIR path).  A subgraph's own ``Input``/``Output`` nodes are
   pass-throughs: they are removed and every predecessor is wired to every successor.  An edge may
   name a subgraph (meaning its single Input/Output) or one of its ports (``"sub.input"``);
3. **convert** -- nodes are converted in topological order by one handler per NIR type
   (:data:`SUPPORTED_NIR_TYPES`).  Shapes the file leaves out (Conv ``input_shape=None``, pooling and
   Flatten types, populations whose parameters are all scalars) are inferred from the converted
   predecessors, exactly as ``nir.NIRGraph.infer_types`` would, but without mutating the source;
4. **check** -- every array must be finite (:class:`~snnc.errors.ValidationError` naming node and
   field), the graph has nodes and an Input, no node has a zero in its shape (a 0-neuron layer),
   and every edge must join equal shapes (:class:`~snnc.errors.FrontendError`).

Conventions: scalar neuron parameters are broadcast to the population shape, ``v_reset=None`` reads
as zeros, conv padding becomes explicit symmetric per-side integers (``'same'`` only with stride 1
and an even total padding), Flatten's ``start_dim``/``end_dim`` are taken as NIR writes them,
relative to the unbatched tensor.  ``Input``/``Output`` nodes are kept; edges are kept as in NIR
(several edges into one node are summed).  ``Graph.meta`` is ``{"format": "nir", "nir_version": …}``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph, Node
from snnc.errors import FrontendError, ValidationError
from snnc.frontends.nir_reader import _REEXPORT, flatten_nir, open_nir, unsupported

__all__ = ["load_nir", "SUPPORTED_NIR_TYPES"]

Shape = tuple[int, ...]
log = logging.getLogger(__name__)


# ============================================================================ conversion
@dataclasses.dataclass
class _Context:
    """What a handler needs: the NIR node, its name and the shape flowing into it."""

    name: str
    node: Any
    upstream: Shape | None  # out_shape of an already converted forward predecessor

    @property
    def meta(self) -> dict[str, Any]:
        return {"source": self.name, "nir_type": type(self.node).__name__}

    def error(self, message: str, hint: str | None = None) -> FrontendError:
        return FrontendError(message, node=self.name, hint=hint or _REEXPORT)

    def array(self, field: str, value: Any = None) -> np.ndarray:
        """Field ``field`` (or ``value``) as a finite float64 array."""
        raw = getattr(self.node, field) if value is None else value
        try:
            arr = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.error(f"field '{field}' is not numeric: {raw!r}") from None
        if not np.all(np.isfinite(arr)):
            bad = "NaN" if np.any(np.isnan(arr)) else "inf"
            raise ValidationError(
                f"field '{field}' contains {bad} ({int(np.sum(~np.isfinite(arr)))} of "
                f"{arr.size} values)",
                node=self.name,
                hint="the model's parameters must be finite; check the training/export",
            )
        return arr

    def ints(self, field: str, ndim: int, value: Any = None) -> Shape:
        """An int or a sequence of ``ndim`` ints (one broadcast to all dims)."""
        raw = getattr(self.node, field) if value is None else value
        try:
            arr = np.atleast_1d(np.asarray(raw)).astype(np.float64).ravel()
        except (TypeError, ValueError):
            raise self.error(f"field '{field}' must be integers, got {raw!r}") from None
        if arr.size == 1:
            arr = np.repeat(arr, ndim)
        if arr.size != ndim or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise self.error(f"field '{field}' must be {ndim} integer(s), got {raw!r}")
        return tuple(int(v) for v in arr)

    def declared_input(self) -> Shape | None:
        types = getattr(self.node, "input_type", None) or {}
        shape = types.get("input") if isinstance(types, Mapping) else None
        if shape is None or np.size(shape) == 0:
            return None
        return tuple(int(v) for v in np.atleast_1d(np.asarray(shape)))

    def input_shape(self) -> Shape:
        """The unbatched input shape: declared by the node, else from its predecessor."""
        shape = self.declared_input() or self.upstream
        if shape is None:
            raise self.error(
                "cannot infer the input shape: the node declares none and has no predecessor "
                "with a known shape",
                hint="add an Input node with a shape in front of it",
            )
        return shape


Handler = Callable[[_Context], Node]


def _port(op_cls: type, type_key: str, port_key: str) -> Handler:
    def handler(ctx: _Context) -> Node:
        types = getattr(ctx.node, type_key, None) or {}
        shape = types.get(port_key) if isinstance(types, Mapping) else None
        if shape is None or np.size(shape) == 0:
            shape = ctx.upstream
        if shape is None:
            raise ctx.error(f"{op_cls.__name__} node has no shape")
        return op_cls(shape=tuple(ctx.ints("shape", len(np.atleast_1d(shape)), shape)),
                      meta=ctx.meta)

    return handler


def _matrix(ctx: _Context) -> np.ndarray:
    weight = ctx.array("weight")
    if weight.ndim != 2:
        raise ctx.error(
            f"weight must be 2-D (n_out, n_in), got shape {weight.shape}",
            hint="batched (>2-D) NIR weights are not supported",
        )
    return weight


def _affine(ctx: _Context) -> Node:
    weight = _matrix(ctx)
    bias = ctx.array("bias")
    try:
        bias = np.broadcast_to(bias, (weight.shape[0],)).copy()
    except ValueError:
        raise ctx.error(f"bias of shape {bias.shape} does not fit weight {weight.shape}") from None
    return ops.Affine(weight=weight, bias=bias, meta=ctx.meta)


def _linear(ctx: _Context) -> Node:
    return ops.Linear(weight=_matrix(ctx), meta=ctx.meta)


def _scale(ctx: _Context) -> Node:
    scale = ctx.array("scale")
    if scale.ndim == 0:
        scale = np.full(ctx.input_shape(), float(scale))
    return ops.Scale(scale=scale, meta=ctx.meta)


def _padding(ctx: _Context, kernel: Shape, dilation: Shape, stride: Shape) -> Shape:
    """NIR padding ('same' | 'valid' | int | per-dim | per-side pairs) -> per-side ints."""
    nd = len(kernel)
    pad = ctx.node.padding
    if isinstance(pad, bytes):
        pad = pad.decode("utf8")
    if isinstance(pad, np.ndarray) and pad.dtype.kind in "SUO" and pad.size == 1:
        pad = str(pad.item().decode("utf8") if isinstance(pad.item(), bytes) else pad.item())
    if isinstance(pad, str):
        if pad == "valid":
            return (0,) * nd
        if pad != "same":
            raise ctx.error(f"padding must be 'same', 'valid' or integers, got {pad!r}")
        if any(s != 1 for s in stride):
            raise ctx.error(
                f"padding='same' with stride {stride} is ambiguous (NIR keeps the input size, "
                "torch rejects it)",
                hint="export explicit integer padding",
            )
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if any(t % 2 for t in total):
            raise ctx.error(
                f"padding='same' with kernel {kernel} needs asymmetric padding",
                hint="use an odd kernel size or explicit padding",
            )
        return tuple(t // 2 for t in total)
    flat = np.atleast_1d(np.asarray(pad)).ravel()
    if flat.size == 2 * nd:  # (before, after) per dim
        before, after = flat.reshape(nd, 2).T
        if np.any(before != after):
            raise ctx.error(
                f"asymmetric padding {pad!r} is not supported",
                hint="pad symmetrically, or insert explicit zero inputs",
            )
        flat = before
    padding = ctx.ints("padding", nd, flat)
    if any(p < 0 for p in padding):
        raise ctx.error(f"padding must be >= 0, got {padding}")
    return padding


def _conv_common(ctx: _Context, nd: int) -> dict[str, Any]:
    weight = ctx.array("weight")
    if weight.ndim != nd + 2:
        raise ctx.error(f"Conv{nd}d weight must be {nd + 2}-D, got shape {weight.shape}")
    kernel = tuple(int(k) for k in weight.shape[2:])
    stride = ctx.ints("stride", nd)
    dilation = ctx.ints("dilation", nd)
    (groups,) = ctx.ints("groups", 1)
    if min(stride + dilation + (groups,)) < 1 or weight.shape[0] % groups:
        raise ctx.error(
            f"invalid conv parameters: stride {stride}, dilation {dilation}, groups {groups} "
            f"for {weight.shape[0]} output channels"
        )
    raw_shape = getattr(ctx.node, "input_shape", None)
    if raw_shape is not None and np.size(raw_shape) == nd:
        spatial = ctx.ints("input_shape", nd)
    else:
        spatial = ctx.input_shape()[1:]
        if len(spatial) != nd:
            raise ctx.error(f"Conv{nd}d input must be (C, {'N' if nd == 1 else 'H, W'}), "
                            f"got {ctx.input_shape()}")
    bias = ctx.array("bias")
    try:
        bias = np.broadcast_to(bias, (weight.shape[0],)).copy()
    except ValueError:
        raise ctx.error(f"bias of shape {bias.shape} does not fit {weight.shape[0]} channels") \
            from None
    padding = _padding(ctx, kernel, dilation, stride)
    return dict(weight=weight, bias=bias, groups=groups, spatial=spatial, stride=stride,
                padding=padding, dilation=dilation)


def _conv1d(ctx: _Context) -> Node:
    c = _conv_common(ctx, 1)
    return ops.Conv1d(
        input_shape=c["spatial"][0], weight=c["weight"], stride=c["stride"][0],
        padding=c["padding"][0], dilation=c["dilation"][0], groups=c["groups"], bias=c["bias"],
        meta=ctx.meta,
    )


def _conv2d(ctx: _Context) -> Node:
    c = _conv_common(ctx, 2)
    return ops.Conv2d(
        input_shape=c["spatial"], weight=c["weight"], stride=c["stride"], padding=c["padding"],
        dilation=c["dilation"], groups=c["groups"], bias=c["bias"], meta=ctx.meta,
    )


def _pool(op_cls: type) -> Handler:
    def handler(ctx: _Context) -> Node:
        shape = ctx.input_shape()
        if len(shape) != 3:
            raise ctx.error(f"{op_cls.__name__} input must be (C, H, W), got {shape}")
        kernel = ctx.ints("kernel_size", 2)
        stride = ctx.ints("stride", 2)
        padding = ctx.ints("padding", 2)
        if min(kernel + stride) < 1 or min(padding) < 0:
            raise ctx.error(f"invalid pooling: kernel {kernel}, stride {stride}, pad {padding}")
        return op_cls(input_shape=shape, kernel_size=kernel, stride=stride, padding=padding,
                      meta=ctx.meta)

    return handler


def _flatten_op(ctx: _Context) -> Node:
    shape = ctx.input_shape()
    (start,) = ctx.ints("start_dim", 1)
    (end,) = ctx.ints("end_dim", 1)
    n = len(shape)
    if not (-n <= start < n and -n <= end < n) or start % n > end % n:
        raise ctx.error(
            f"Flatten dims start_dim={start}, end_dim={end} do not fit the unbatched input "
            f"shape {shape}",
            hint="NIR's Flatten dims exclude the batch dimension (snnTorch writes start_dim=0)",
        )
    return ops.Flatten(input_shape=shape, start_dim=start, end_dim=end, meta=ctx.meta)


def _delay(ctx: _Context) -> Node:
    delay = ctx.array("delay")
    if delay.ndim == 0:
        delay = np.full(ctx.input_shape(), float(delay))
    return ops.Delay(delay=delay, meta=ctx.meta)


def _neuron(op_cls: type, fields: tuple[str, ...]) -> Handler:
    """Handler for a neuron type: finite float arrays broadcast to the population shape."""

    def handler(ctx: _Context) -> Node:
        params = {}
        for f in fields:
            raw = getattr(ctx.node, f, None)
            params[f] = ctx.array(f, 0.0 if raw is None and f == "v_reset" else raw)
        try:
            shape = np.broadcast_shapes(*(a.shape for a in params.values()))
        except ValueError:
            shapes = {f: a.shape for f, a in params.items()}
            raise ctx.error(f"parameter shapes do not broadcast: {shapes}") from None
        if shape == ():
            shape = ctx.input_shape()
        try:
            arrays = {f: np.broadcast_to(a, shape).copy() for f, a in params.items()}
        except ValueError:
            raise ctx.error(f"parameters of shape {shape} do not fit the input") from None
        return op_cls(**arrays, meta=ctx.meta)

    return handler


#: one handler per supported NIR type (key: the NIR class name)
_HANDLERS: dict[str, Handler] = {
    "Input": _port(ops.Input, "input_type", "input"),
    "Output": _port(ops.Output, "output_type", "output"),
    "Affine": _affine,
    "Linear": _linear,
    "Scale": _scale,
    "Conv1d": _conv1d,
    "Conv2d": _conv2d,
    "SumPool2d": _pool(ops.SumPool2d),
    "AvgPool2d": _pool(ops.AvgPool2d),
    "Flatten": _flatten_op,
    "Delay": _delay,
    "LIF": _neuron(ops.LIF, ("tau", "r", "v_leak", "v_threshold", "v_reset")),
    "CubaLIF": _neuron(
        ops.CubaLIF, ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
    ),
    "CubaLI": _neuron(ops.CubaLI, ("tau_syn", "tau_mem", "r", "v_leak", "w_in")),
    "IF": _neuron(ops.IF, ("r", "v_threshold", "v_reset")),
    "LI": _neuron(ops.LI, ("tau", "r", "v_leak")),
    "I": _neuron(ops.I, ("r",)),
}

#: NIR node types load_nir converts (nested NIRGraphs are flattened, not converted)
SUPPORTED_NIR_TYPES: tuple[str, ...] = tuple(_HANDLERS)


def _convert(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> dict[str, Node]:
    """Convert in topological order so missing shapes come from converted predecessors."""
    skeleton = Graph({name: Node() for name in nodes}, edges)
    order, back = skeleton.schedule()
    converted: dict[str, Node] = {}
    for name in order:
        node = nodes[name]
        kind = type(node).__name__
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise unsupported(name, kind, SUPPORTED_NIR_TYPES)
        upstream = next(
            (converted[s].out_shape for s, d in edges if d == name and (s, d) not in back
             and s in converted),
            None,
        )
        converted[name] = handler(_Context(name, node, upstream))
    return {name: converted[name] for name in nodes}  # keep the file's node order


def _trim_ports(nodes: dict[str, Node], edges: list[tuple[str, str]]) -> None:
    """Drop leading dims an exporter wrote into an Input/Output port's shape (Rockpool's
    ``to_nir`` writes (batch, T, *shape)) when the rest is exactly the neighbour's shape."""
    for src, dst in edges:
        for port, other, want in ((src, dst, "in_shape"), (dst, src, "out_shape")):
            node = nodes[port]
            if not isinstance(node, (ops.Input, ops.Output)):
                continue
            shape, inner = tuple(node.shape), tuple(getattr(nodes[other], want))
            if len(shape) > len(inner) and shape[len(shape) - len(inner):] == inner:
                lead = shape[: len(shape) - len(inner)]
                log.warning(
                    "%s '%s' declares shape %s; its leading dims %s are batch/time dims written by the "
                    "exporter (Rockpool's and Sinabs' to_nir do), read as %s", type(node).__name__, port, shape,
                    lead, inner,
                )
                nodes[port] = dataclasses.replace(node, shape=inner)


def _check_edges(nodes: Mapping[str, Node], edges: list[tuple[str, str]]) -> None:
    for src, dst in edges:
        out_shape, in_shape = tuple(nodes[src].out_shape), tuple(nodes[dst].in_shape)
        if out_shape != in_shape:
            leaked = len(out_shape) != len(in_shape) and (
                out_shape[1:] == in_shape or out_shape == in_shape[1:]
            )
            raise FrontendError(
                f"shape mismatch on edge '{src}' -> '{dst}': '{src}' outputs {out_shape}, "
                f"'{dst}' expects {in_shape}",
                node=dst,
                hint=(
                    "a batch dimension leaked into the graph; export without it (snnTorch: "
                    "export_to_nir(..., ignore_dims=[0]))"
                    if leaked
                    else "the graph's shapes are inconsistent; " + _REEXPORT
                ),
            )


def _check_sizes(nodes: Mapping[str, Node]) -> None:
    """No empty graph, and no node whose shape has a zero (a 0-neuron layer, an empty input)."""
    if not nodes:
        raise FrontendError("the NIR graph has no nodes", hint=_REEXPORT)
    if not any(isinstance(n, ops.Input) for n in nodes.values()):
        raise FrontendError("the NIR graph has no Input node", hint="export the model with its input")
    for name, node in nodes.items():
        for what in ("in_shape", "out_shape"):
            shape = tuple(getattr(node, what))
            if 0 in shape:
                raise FrontendError(
                    f"{type(node).__name__} has an empty {what.replace('_', ' ')} {shape} (a layer "
                    "without neurons or inputs)", node=name,
                    hint="remove the layer or give it at least one neuron; " + _REEXPORT)


def load_nir(source: str | Path | Any) -> Graph:
    """Load a NIR graph (a ``.nir`` path or a ``nir.NIRGraph``) into the float dialect."""
    graph, meta = open_nir(source, SUPPORTED_NIR_TYPES)
    nodes, edges = flatten_nir(graph)
    if not nodes:
        raise FrontendError("the NIR graph has no nodes", hint=_REEXPORT)
    converted = _convert(nodes, edges)
    _trim_ports(converted, edges)
    _check_sizes(converted)
    _check_edges(converted, edges)
    return Graph(converted, edges, meta)

"""ONNX frontend: a ReLU ANN (as ``torch.onnx.export`` writes it) into an IF network.

``load_onnx(source) -> Graph`` (``source``: a path or an ``onnx.ModelProto``) does, in order:

1. **read** -- the file is parsed with ``onnx.load`` and checked with ``onnx.checker``; an snnc
   *step model* (``snnc.frontends.onnx_step.is_step_model``) is handed to ``load_step_model``;
2. **input** -- exactly one graph input, ``(batch, *in_shape)``: the first axis is the batch
   (symbolic or fixed), every other axis must be a fixed size (dynamic shapes are refused);
3. **convert** -- nodes in the file's topological order through one handler per op
   (:mod:`snnc.frontends.onnx_ops`).  Tensors computed from constants only (weights behind
   ``Identity``, ``Shape→Gather→Concat`` chains of a ``view(x.size(0), -1)``) are folded with
   ``onnx.reference``; the batch size in a ``Shape`` reads as 0, which ``Reshape`` copies.

The result is a float-dialect :class:`~snnc.compiler.ir.graph.Graph`: every ReLU is an ``IF``
population (``r·dt = 1`` at dt = 1e-4, ``θ = 1``, reset to 0), every Conv/Gemm a synapse op with
the ANN's own (BatchNorm-folded) weights, and the last linear layer feeds the ``Output``
directly -- a non-spiking read-out of the per-step input current.  ``Graph.meta["ann"]`` marks
it as an ANN still to be converted: its weights are not yet balanced to spike rates, which
:func:`snnc.calibration.balance.convert` does with calibration data (``snnc.compile(g,
calibration=X, timesteps=T)``); with ``neuron="sdnn"`` it becomes a sigma-delta network
instead (:func:`snnc.calibration.sigma_delta.convert_sdnn`).  See docs/conversion.md.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from snnc.compiler.artifact import Artifact
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.errors import FrontendError, UnsupportedOpError
from snnc.frontends import onnx_ops
from snnc.frontends.onnx_ops import Builder, Value
from snnc.frontends.onnx_step import is_step_model, load_step_model

__all__ = ["load_onnx", "is_ann", "read_model"]

#: Graph.meta["ann"]["format"] of graphs this module writes
ANN_FORMAT = 1


def is_ann(graph: Graph) -> bool:
    """True for a graph loaded from an ANN that still needs threshold balancing."""
    ann = graph.meta.get("ann")
    return bool(ann) and not ann.get("balanced", False)


def read_model(source: Any):
    """An ``onnx.ModelProto`` from a path or a ModelProto, checked; FrontendError otherwise."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        model = source
    else:
        path = Path(source)
        try:
            model = onnx.load(str(path))
        except Exception as e:  # protobuf DecodeError, truncated files, ...
            raise FrontendError(
                f"{path.name!r} is not a readable ONNX model: {type(e).__name__}: {e}",
                hint="re-export the model with torch.onnx.export",
            ) from None
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise FrontendError(f"the ONNX model is invalid: {e}".splitlines()[0],
                            hint="re-export the model with torch.onnx.export") from None
    return model


def _step_model(model):
    """The Graph/Artifact of an snnc step model (:mod:`snnc.frontends.onnx_step`), else None."""
    return load_step_model(model) if is_step_model(model) else None


def _opset(model) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)


def _input(model, b: Builder) -> str:
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise UnsupportedOpError(
            f"the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
            "the ANN converter takes exactly one",
            hint="export a model with one input tensor",
        )
    inp = inputs[0]
    dims = inp.type.tensor_type.shape.dim
    shape = []
    for k, d in enumerate(dims[1:], start=1):
        if not d.HasField("dim_value") or d.dim_value <= 0:
            raise UnsupportedOpError(
                f"input {inp.name!r} has a dynamic axis {k} ({d.dim_param or '?'}); only the batch "
                "axis (axis 0) may be dynamic",
                node=inp.name,
                hint="export with a fixed input size (dynamic_axes only for the batch axis)",
            )
        shape.append(int(d.dim_value))
    if len(dims) < 2:
        raise UnsupportedOpError(
            f"input {inp.name!r} has {len(dims)} axes; expected (batch, *features)",
            node=inp.name, hint="export with a batch axis first",
        )
    b.nodes["input"] = ops.Input(shape=tuple(shape), meta={"source": inp.name})
    b.values[inp.name] = Value("input", tuple(shape))
    return inp.name


def _fold(model, n, b: Builder) -> bool:
    """Evaluate ``n`` when all its inputs are constants (or shapes of values); True if done."""
    names = [i for i in n.input if i]
    if n.op_type == "Shape" and names and names[0] in b.values:
        shape = np.array((0,) + b.values[names[0]].shape, dtype=np.int64)  # batch reads as 0
        a = onnx_ops.attrs(n)
        b.consts[n.output[0]] = shape[a.get("start", 0): a.get("end", None)]
        return True
    if not all(i in b.consts for i in names):
        return False
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    feeds = {i: b.consts[i] for i in names}
    graph = helper.make_graph(
        [n], "fold",
        [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for i, v in feeds.items()],
        [helper.make_tensor_value_info(o, 0, None) for o in n.output if o],
    )
    single = helper.make_model(graph, opset_imports=list(model.opset_import))
    try:
        outs = ReferenceEvaluator(single).run(None, feeds)
    except Exception as e:
        raise onnx_ops.unsupported(n, f"cannot evaluate it on constants ({type(e).__name__}: {e})",
                                   "simplify the model (onnxsim) before loading") from None
    for o, v in zip([o for o in n.output if o], outs):
        b.consts[o] = np.asarray(v)
    return True


def load_onnx(source: Any) -> Graph | Artifact:
    """Load an ONNX ANN as an (unbalanced) IF network; see the module docstring (an snnc step
    model: the Graph or compiled program it was exported from)."""
    from onnx import numpy_helper

    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise FrontendError(f"no such file: {str(source)!r}", hint="check the path")
    model = read_model(source)
    step = _step_model(model)
    if step is not None:
        return step
    uses = Counter(i for n in model.graph.node for i in n.input)
    uses.update(o.name for o in model.graph.output)
    b = Builder(_opset(model), uses)
    for t in model.graph.initializer:
        try:
            b.consts[t.name] = numpy_helper.to_array(t)
        except Exception as e:  # a data type onnx does not know, a short raw buffer: damage
            raise FrontendError(f"initializer {t.name!r} cannot be read: {type(e).__name__}: {e}",
                                node=t.name, hint="re-export the model with torch.onnx.export") from None
    input_name = _input(model, b)
    if not model.graph.output:
        raise FrontendError("the ONNX graph declares no output", hint="export the model with its output tensor")
    outputs = {o.name for o in model.graph.output}
    for n in model.graph.node:
        if _fold(model, n, b):
            continue
        onnx_ops.handle(b, n, outputs)
    out_names = []
    for o in model.graph.output:
        v = b.values.get(o.name)
        if v is None or v.node == "input":
            raise UnsupportedOpError(
                f"graph output {o.name!r} is " + ("the input itself" if v else "not computed from the input"),
                node=o.name, hint="export a model whose output depends on its input",
            )
        name = f"output:{o.name}" if len(model.graph.output) > 1 else "output"
        b.nodes[name] = ops.Output(shape=v.shape, meta={"source": o.name})
        b.edges.append((v.node, name))
        out_names.append(name)
    for name, node in b.nodes.items():
        for what in ("in_shape", "out_shape"):
            shape = tuple(getattr(node, what, ()) or ())
            if 0 in shape:
                raise FrontendError(f"{type(node).__name__} has an empty {what.replace('_', ' ')} {shape} "
                                    "(a layer without neurons or inputs)", node=node.source or name,
                                    hint="remove the layer or give it at least one unit, and re-export")
        for f in node.array_fields:
            arr = getattr(node, f)
            if arr is not None and not np.all(np.isfinite(arr)):
                raise FrontendError(f"{f} holds NaN or inf", node=node.source or name,
                                    hint="check the trained weights before export")
    meta = {
        "format": "onnx",
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "opset": b.opset,
        "ann": {"format": ANN_FORMAT, "input": input_name, "dropped": list(b.dropped)},
    }
    return _prune(Graph(b.nodes, b.edges, meta), out_names)


def _prune(graph: Graph, outputs: list[str]) -> Graph:
    """Drop nodes that no output depends on (e.g. an unused branch)."""
    keep: set[str] = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if n not in keep:
            keep.add(n)
            stack.extend(graph.predecessors(n))
    keep.add("input")
    nodes = {n: v for n, v in graph.nodes.items() if n in keep}
    return graph.with_changes(nodes=nodes, edges=[e for e in graph.edges if e[0] in keep and e[1] in keep])

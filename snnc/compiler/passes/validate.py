"""validate: user-facing checks of a float-dialect graph before lowering.

Everything here is a property of the user's model, so failures are
:class:`~snnc.errors.ValidationError` naming the layer (never an ``assert``):
one input port, at least one output, matching sizes along every edge, finite parameters.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.passes.context import CompileContext
from snnc.errors import ValidationError


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def validate(graph: Graph, ctx: CompileContext | None = None) -> Graph:
    """Check the graph; return it unchanged (``ctx`` is not read)."""
    inputs = graph.of_kind(ops.Input)
    if len(inputs) != 1:
        raise ValidationError(
            f"the model has {len(inputs)} input ports; snnc compiles models with exactly one",
            hint="merge the inputs into one Input node",
        )
    if not graph.of_kind(ops.Output):
        raise ValidationError("the model has no Output node", hint="mark the read-out layer with an Output")
    for name, node in graph.nodes.items():
        if not isinstance(node, ops.FLOAT_OPS):
            raise ValidationError(f"node of kind {node.kind} is not a float-dialect op", node=name)
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise ValidationError(
                    f"{f.name} contains NaN or inf",
                    node=node.source or name,
                    hint="fix the exported parameters (a diverged training run?)",
                )
    for s, d in graph.edges:
        out_n, in_n = _size(graph[s].out_shape), _size(graph[d].in_shape)
        if out_n != in_n:
            raise ValidationError(
                f"edge {graph[s].source or s} -> {graph[d].source or d}: {out_n} values flow into "
                f"a node that takes {in_n} ({tuple(graph[s].out_shape)} vs {tuple(graph[d].in_shape)})",
                node=graph[d].source or d,
                hint="check the layer shapes of the exported model",
            )
    return graph

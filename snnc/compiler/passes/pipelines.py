"""Named pass sequences and the pass manager.

A pass is a plain function ``(graph, ctx) -> graph``.  The manager runs them in order,
verifies the IR after each one (:func:`snnc.compiler.ir.verify.verify`; not after analysis
passes that return it unchanged), times each pass and can stop after any named pass
(``snnc compile --stop-after validate``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.verify import verify
from snnc.compiler.passes.context import CompileContext
from snnc.compiler.passes.partition import partition
from snnc.compiler.passes.quantize import quantize
from snnc.compiler.passes.quantize_sd import quantize_sigma_delta
from snnc.compiler.passes.resources import check_resources
from snnc.compiler.passes.validate import validate
from snnc.errors import ValidationError

__all__ = ["ANALYSIS_PASSES", "LOIHI_PIPELINE", "CompileContext", "Pass", "run_pipeline"]

log = logging.getLogger(__name__)

Pass = Callable[[Graph, CompileContext], Graph]


def quantize_any(graph: Graph, ctx: CompileContext) -> Graph:
    """The ``quantize`` pass: :func:`~snnc.compiler.passes.quantize_sd.quantize_sigma_delta` for a
    sigma-delta network (``SigmaDeltaOp`` populations), :func:`~snnc.compiler.passes.quantize.quantize`
    otherwise."""
    if graph.of_kind(ops.SigmaDeltaOp):
        return quantize_sigma_delta(graph, ctx)
    return quantize(graph, ctx)


#: the default pipeline from a float-dialect graph to a Loihi program
LOIHI_PIPELINE: tuple[tuple[str, Pass], ...] = (
    ("validate", validate),
    ("quantize", quantize_any),
    ("partition", partition),
    ("check_resources", check_resources),
)


#: passes that only read the graph (their results go to ctx.reports)
ANALYSIS_PASSES = frozenset({"partition", "check_resources"})


def run_pipeline(
    graph: Graph,
    ctx: CompileContext,
    passes: tuple[tuple[str, Pass], ...] = LOIHI_PIPELINE,
    stop_after: str | None = None,
) -> Graph:
    names = [n for n, _ in passes]
    if stop_after is not None and stop_after not in names:
        raise ValidationError(f"unknown pass {stop_after!r}", hint=f"passes: {', '.join(names)}")
    for name, fn in passes:
        t0 = time.perf_counter()
        out = fn(graph, ctx)
        if not (name in ANALYSIS_PASSES and out is graph):  # unchanged: verified already
            verify(out)
        graph = out
        ctx.timings[name] = time.perf_counter() - t0
        log.debug("pass %s: %.3f s", name, ctx.timings[name])
        if name == stop_after:
            break
    return graph

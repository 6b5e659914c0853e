"""partition: split every Compartment across cores and place the cores on chips.

Runs after ``quantize`` (the synapse-memory cost depends on the quantized weight formats).
The split is :func:`snnc.mapping.split.split_compartments` (neuron, synapse-memory and axon
limits of ``ctx.target``; ``ctx.allow_split=False`` keeps each compartment on one core), the
chip placement :func:`snnc.mapping.chips.place` (``ctx.mapping``: ``greedy`` or ``comm``).
The graph is unchanged; the :class:`~snnc.mapping.Placement` goes to
``ctx.reports["placement"]`` and the per-core usage to ``ctx.reports["usage"]``, which
``check_resources`` then checks.
"""

from __future__ import annotations

from snnc.compiler.ir.graph import Graph
from snnc.errors import ValidationError
from snnc.mapping.chips import place
from snnc.mapping.placement import Placement
from snnc.mapping.split import split_compartments
from snnc.mapping.usage import blocks_of

STRATEGIES = ("comm", "greedy")


def partition(graph: Graph, ctx) -> Graph:
    spec = ctx.target
    strategy = getattr(ctx, "mapping", "comm")
    if strategy not in STRATEGIES:
        raise ValidationError(f"unknown mapping strategy {strategy!r}", hint=f"use one of: {', '.join(STRATEGIES)}")
    blocks = blocks_of(graph, spec)
    split, usage = split_compartments(graph, blocks, spec, getattr(ctx, "allow_split", True))
    chip_of_core, notes = place(split, blocks, spec.cores_per_chip, spec.chips_per_system, strategy)
    core_of = {c: split.core_of(c) for c in split.starts}
    ctx.reports["placement"] = Placement(spec.name, core_of, chip_of_core, strategy, tuple(notes))
    ctx.reports["usage"] = usage
    return graph


def place_program(prog, spec, mapping: str = "comm", allow_split: bool = True) -> None:
    """Map an already fixed-point program (a netx file) for ``spec``'s resources, in place."""
    from snnc.compiler.passes.pipelines import CompileContext
    from snnc.compiler.passes.resources import check_resources
    from snnc.compiler.targets import with_resources

    prog.target = with_resources(prog.target, spec)
    ctx = CompileContext(convention=prog.convention, target=prog.target, mapping=mapping, allow_split=allow_split)
    check_resources(partition(prog.graph, ctx), ctx)
    prog.placement = ctx.reports["placement"]

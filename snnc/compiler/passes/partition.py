"""partition: split every Compartment across cores and place the cores on chips.

Runs after ``quantize`` (the synapse-memory cost depends on the quantized weight formats).
The split is :func:`snnc.compiler.mapping.split.split_compartments` (neuron, synapse-memory and axon
limits of ``ctx.target``; ``ctx.allow_split=False`` keeps each compartment on one core), the
chip placement :func:`snnc.compiler.mapping.chips.place` (``ctx.mapping``: ``greedy`` or ``comm``).
The graph is unchanged; the :class:`~snnc.compiler.mapping.Placement` goes to
``ctx.reports["placement"]`` and the per-core usage to ``ctx.reports["usage"]``, which
``check_resources`` then checks.
"""

from __future__ import annotations

from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.chips import place
from snnc.compiler.mapping.placement import Placement
from snnc.compiler.mapping.split import split_compartments
from snnc.compiler.mapping.usage import blocks_of
from snnc.compiler.passes.context import STRATEGIES, CompileContext
from snnc.errors import ValidationError


def partition(graph: Graph, ctx: CompileContext) -> Graph:
    spec = ctx.target
    strategy = ctx.mapping
    if strategy not in STRATEGIES:
        raise ValidationError(f"unknown mapping strategy {strategy!r}", hint=f"use one of: {', '.join(STRATEGIES)}")
    blocks = blocks_of(graph, spec)
    split, usage = split_compartments(graph, blocks, spec, ctx.allow_split)
    chip_of_core, notes = place(split, blocks, spec.cores_per_chip, spec.chips_per_system, strategy)
    core_of = {c: split.core_of(c) for c in split.starts}
    ctx.reports["placement"] = Placement(spec.name, core_of, chip_of_core, strategy, tuple(notes))
    ctx.reports["usage"] = usage
    return graph


"""CompileContext: the options and results the passes of one compile share.

A pass is ``(graph, ctx: CompileContext) -> graph`` (:mod:`.pipelines` runs them); it reads the
options below as fields and writes what it found to ``ctx.reports`` (``quantize``: the per-layer
:class:`~snnc.compiler.passes.quantize.LayerReport` list and ``latency``; ``partition``:
``placement`` and ``usage``).  The context lives in its own module so that passes need not
import the pipeline that runs them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from snnc.compiler.discretize import Convention
from snnc.compiler.scaling import LayerCalibration, PopulationStats
from snnc.compiler.targets import TargetSpec

#: core -> chip placement strategies of the ``partition`` pass
STRATEGIES = ("comm", "greedy")


@dataclasses.dataclass
class CompileContext:
    """Options and results shared by the passes of one compile."""

    convention: Convention
    target: TargetSpec
    #: per-population calibration (:mod:`snnc.calibration.methods`; bare statistics are read
    #: with the ``max`` rule), or None: worst-case sizing
    calibration: dict[str, LayerCalibration | PopulationStats] | None = None
    #: quantize every weight block as hi + lo 8-bit blocks (snnc.compiler.weight_split)
    split_weights: bool = False
    #: core -> chip placement strategy (one of :data:`STRATEGIES`) and whether layers may span cores
    mapping: str = "comm"
    allow_split: bool = True
    reports: dict[str, Any] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)

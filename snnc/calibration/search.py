"""The ``search`` calibration method: per layer, keep the registers the emulator likes best.

Starting from the ``max`` method's sizing, populations are visited in depth order.  For each,
every candidate ``(scale_factor, vth_factor)`` of :data:`CANDIDATES` is compiled (the whole
network, the layers before it already fixed) and run on the emulator on the calibration data
with *teacher forcing* (:func:`snnc.calibration.trace.chip_traces`: the layer's synapses read
the float model's upstream spikes), and the candidate with the smallest own error is kept:

* spiking layer: spike-count error ``Σ_{b,i} |C_fixed − C_float| / Σ C_float``, ties broken
  by the elementwise disagreement;
* read-out: membrane RMS error relative to the float v range.

``scale_factor`` ≤ 1 lowers S after it was snapped to the weight grid (the largest weight
becomes ``254·f·2^e``: a different 8-bit rounding of every weight; f = 0.5 is one step of
``weight_exp`` down) and so never endangers the 24-bit state; ``vth_factor`` moves the
17-bit threshold mantissa by up to ±2 %, correcting the systematic rate bias of the chip's
per-step truncation toward zero.  The first candidate is (1, 1), the ``max`` method's
choice, and a candidate must be strictly better to replace it.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from typing import Any

from snnc.calibration.report import layer_metrics
from snnc.calibration.trace import chip_traces, float_traces
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.passes.context import CompileContext
from snnc.compiler.passes.pipelines import run_pipeline
from snnc.compiler.scaling import LayerCalibration
from snnc.compiler.targets import TargetSpec

SCALE_FACTORS = (1.0, 0.875, 0.75, 0.625, 0.5)
VTH_FACTORS = (1.0, 0.99, 1.01, 0.98, 1.02)
CANDIDATES = tuple(itertools.product(SCALE_FACTORS, VTH_FACTORS))


def lower_with(graph: Graph, convention: Convention, target: TargetSpec,
               cal: dict[str, LayerCalibration]) -> Graph:
    """The Loihi-dialect graph of the float ``graph`` compiled with explicit per-layer
    calibration decisions (the compile pipeline; a Program is the roof's: snnc.driver)."""
    return run_pipeline(graph, CompileContext(convention=convention, target=target, calibration=cal))


def search(
    graph: Graph, x: Any, convention, target, cal: dict[str, LayerCalibration], progress: bool | None = None
) -> dict[str, LayerCalibration]:
    """Refine ``cal`` (the ``max`` sizing) layer by layer; see the module docstring."""
    from tqdm.auto import tqdm

    order = [n for n in graph.schedule()[0] if isinstance(graph[n], ops.NeuronOp) and n in cal]
    ref = float_traces(graph, x, convention)
    steps = ref[order[0]].v.shape[1] if order else 0
    teacher = {n: ref[n].spikes for n in order if ref[n].spikes is not None}
    cal = dict(cal)
    show = sys.stderr.isatty() if progress is None else progress  # off when not a terminal
    bar = tqdm(total=len(order) * len(CANDIDATES), desc="calibration search", disable=not show, leave=False)
    for name in order:
        best, best_key = cal[name], None
        for sf, vf in CANDIDATES:
            trial = dict(cal)
            trial[name] = dataclasses.replace(cal[name], scale_factor=sf, vth_factor=vf)
            lowered = lower_with(graph, convention, target, trial)
            comp: loihi.Compartment = lowered[name]
            c = chip_traces(lowered, x, steps, teacher)[name]
            m = layer_metrics(comp, graph[name], ref[name], c, convention)
            key = (round(m[5], 12), round(1.0 - m[1], 12))
            if best_key is None or key < best_key:
                best, best_key = trial[name], key
            bar.update()
        cal[name] = best
    bar.close()
    return cal

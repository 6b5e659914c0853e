"""The roof's orchestration: load a model, compile it, place fixed-point programs.

``snnc.load`` and ``snnc.compile`` are :func:`load` and :func:`compile`: model → float graph
(:mod:`snnc.frontends`) → calibration (:mod:`snnc.calibration`) → pipeline
(:mod:`snnc.compiler.passes`) → :class:`snnc.Program`.  Fixed-point formats (lava-dl netx, snnc
ONNX step models) load as an :class:`~snnc.compiler.artifact.Artifact`, which is wrapped in a
Program here (docs/decisions/0005-layering.md).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from snnc import frontends
from snnc.calibration.balance import prepare
from snnc.calibration.methods import calibrate_graph, no_data
from snnc.calibration.sigma_delta import prepare_sdnn
from snnc.compiler.artifact import Artifact
from snnc.compiler.conventions import preset, repair_exporter_bugs
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.passes.context import CompileContext
from snnc.compiler.passes.partition import partition
from snnc.compiler.passes.pipelines import run_pipeline
from snnc.compiler.passes.resources import check_resources
from snnc.compiler.reset import subtractive
from snnc.compiler.scaling import LayerCalibration
from snnc.compiler.targets import TargetSpec, get_target, with_resources
from snnc.errors import ValidationError
from snnc.program import Program

__all__ = ["compile", "compile_with", "load", "place_program"]

log = logging.getLogger(__name__)

#: what a converted ANN's ReLUs become: rate-coded IF neurons (the default) or sigma-delta neurons
NEURONS = ("if", "sdnn")
#: the Loihi-dialect populations (a graph without any is returned as it is: stop_after)
_POPULATIONS = tuple(c for c in (loihi.Compartment, getattr(loihi, "SigmaDeltaCompartment", None)) if c)


def load(source: Any, example_input: Any = None, **options: Any) -> Graph | Program:
    """``snnc.load``: a model as a float-dialect Graph (:func:`snnc.frontends.load`), or, for a
    fixed-point file (lava-dl netx, an snnc ONNX step model of a program), a :class:`Program`.
    ``options`` go to the format's reader: ``reset_interval``/``reset_offset`` for lava-dl netx
    files (lava-dl's ``hdf5.Network`` keywords).  A Program (or Artifact) is returned as it is."""
    if isinstance(source, Artifact) and not options:
        return Program.wrap(source)
    model = frontends.load(source, example_input, **options)
    return Program.wrap(model) if isinstance(model, Artifact) else model


def compile(  # noqa: A001 - the public name is snnc.compile
    model: Any,
    target: str = "loihi2",
    *,
    dt: float | None = None,
    integration: str | None = None,
    spike_if: str | None = None,
    synapse_input: str | None = None,
    reset: str | None = None,
    calibration: Any = None,
    calibration_method: str | None = None,
    split_weights: bool = False,
    timesteps: int | None = None,
    stop_after: str | None = None,
    convention: Any = None,
    mapping: str = "comm",
    allow_split: bool = True,
    neuron: str = "if",
    threshold: float | None = None,
) -> Program | Graph:
    """Compile ``model`` (a path, a ``nir.NIRGraph`` or a float-dialect Graph) for ``target``.

    The discretization options are those of :class:`snnc.compiler.discretize.Convention`
    (defaults: snnTorch's ``dt = 1e-4``, forward Euler, ``v > θ``, CubaLIF input as NIR's
    ODE).  ``calibration`` (input spikes (batch, T, *input_shape)) sizes each layer's scale
    from the drive the data produce (:mod:`snnc.calibration`) instead of the worst case;
    ``calibration_method`` picks how (``max``, ``percentile``, ``search``; default
    :data:`snnc.calibration.methods.DEFAULT_METHOD`).  Without calibration data the
    quantizer's output does not depend on it.  ``split_weights=True`` quantizes every weight
    block as two 8-bit blocks (hi + rounding residual, ~14-bit weights, twice the synapses;
    :mod:`snnc.compiler.weight_split`).
    An ANN (an ONNX model) is first converted to a rate-coded IF network on ``calibration``
    (static inputs (batch, *input_shape)) for ``timesteps`` steps per sample
    (:mod:`snnc.calibration.balance`); the program then carries the input encoder.
    ``neuron="sdnn"`` converts it to a sigma-delta network instead (graded messages, Lava's
    Delta/SigmaDelta/Sigma; :mod:`snnc.calibration.sigma_delta`): ``calibration`` then picks the
    units and the delta ``threshold`` (θ in activation units; None searches the largest θ that
    keeps the ANN's decisions within 0.5 pp), ``timesteps`` is how long a static input is held
    (default 1: the output is final after depth + 1 chip steps), and sequences (batch, T,
    *input_shape) run step by step.  ``neuron="if"`` (the default) is the rate-coded conversion.
    ``reset="subtract"`` (v ← v − θ, the default of snnTorch, Sinabs and Rockpool) rebuilds every
    IF/LIF from Lava's registers (:mod:`snnc.compiler.reset`); the program's float reference is
    the rebuilt graph, read with reset to value.
    ``convention`` (an exporter name: snntorch, norse, sinabs, rockpool, or a Convention)
    sets the five discretization options (:mod:`snnc.compiler.conventions`); a discretization
    keyword given explicitly (not None) always overrides it, as a flag does ``--from`` on the
    command line: ``compile(g, convention="snntorch", reset="subtract")`` subtracts.
    ``target`` is a name (``loihi2``, ``loihi2-kapoho-point``, ...) or a ``.toml``/``.json``
    target file (:mod:`snnc.compiler.targets`); ``mapping`` (``comm``, ``greedy``) and
    ``allow_split`` steer the ``partition`` pass, and ``check_resources`` raises a
    :class:`~snnc.errors.ResourceError` when the network does not fit (docs/mapping.md).
    With ``stop_after`` the graph after that pass is returned instead of a Program.
    """
    spec = get_target(target)
    conv = _convention(convention, dt=dt, integration=integration, spike_if=spike_if,
                       synapse_input=synapse_input, reset=reset)
    graph = load(model)
    if isinstance(graph, Program):  # already fixed point (a lava-dl netx file): nothing to quantize
        log.info("%s is already a compiled program; compile options do not apply", model)
        place_program(graph, spec, mapping, allow_split)  # but it still has to fit
        return graph
    graph, quirks = repair_exporter_bugs(graph, conv)  # logged warnings + layer notes
    # ANN -> rate-coded SNN (or sigma-delta network); a no-op otherwise
    if neuron not in NEURONS:
        raise ValidationError(f"neuron={neuron!r}", hint=f"use one of {', '.join(NEURONS)} (docs/conversion.md)")
    if neuron == "sdnn":
        if calibration_method is not None:
            raise ValidationError(
                f"calibration_method={calibration_method!r} applies to LIF programs; the sigma-delta "
                "conversion picks its units from the calibration data itself (docs/conversion.md)",
                hint="leave out calibration_method (--calibration-method)")
        if split_weights:
            raise ValidationError("split_weights=True applies to LIF programs: the sigma-delta lowering has "
                                  "no hi/lo weight blocks", hint="leave out split_weights (--split-weights)")
        graph, calibration, encoder = prepare_sdnn(graph, calibration, conv, timesteps, threshold)
    else:
        if threshold is not None:
            raise ValidationError("threshold= applies to neuron='sdnn' (the sigma-delta conversion) only",
                                  hint="leave it out, or pass neuron='sdnn'")
        graph, calibration, encoder = prepare(graph, calibration, conv, timesteps)
    if conv.reset == "subtract":  # NIR cannot say it; Lava cannot do it: rebuild from its registers
        graph, conv = _subtractive(graph, conv, quirks)
    stats = None
    if calibration is not None:
        stats = calibrate_graph(graph, calibration, conv, spec, calibration_method)
    elif calibration_method is not None:
        no_data(calibration_method)
    ctx = CompileContext(convention=conv, target=spec, calibration=stats, split_weights=split_weights,
                         mapping=mapping, allow_split=allow_split)
    out = run_pipeline(graph, ctx, stop_after=stop_after)
    if not out.of_kind(*_POPULATIONS):
        return out
    layers = [r.to_dict() for r in ctx.reports.get("quantize", [])]
    for r in layers:
        r["notes"] = list(r["notes"]) + quirks.get(r["name"], [])
    prog = Program(out, conv, spec, ctx.reports["latency"], layers, ctx.timings)
    prog.placement = ctx.reports.get("placement")  # snnc.compiler.mapping.Placement (partition pass)
    prog.reference = graph  # the float model, for prog.report() (snnc.calibration.report)
    prog.encoder = encoder  # static inputs -> spikes (converted ANNs), saved with the program
    return prog


def _convention(convention: Any, **given: Any) -> Convention:
    """The Convention to compile with: ``convention`` (an exporter preset name, a Convention, or
    None for :class:`Convention`'s defaults), with every keyword in ``given`` that is not None
    put over it -- an explicit keyword always wins over a preset (the CLI's ``apply_preset``)."""
    if convention is None:
        base = Convention()
    elif isinstance(convention, Convention):
        base = convention
    else:  # an exporter preset name (snnc.compiler.conventions)
        base = preset(convention)
    explicit = {k: v for k, v in given.items() if v is not None}
    return dataclasses.replace(base, **explicit) if explicit else base


def compile_with(graph: Graph, convention: Convention, target: TargetSpec,
                 calibration: dict[str, LayerCalibration]) -> Program:
    """Compile the float ``graph`` with explicit per-layer calibration decisions
    (:mod:`snnc.calibration.methods`), e.g. to see what a ``scale_factor`` does."""
    ctx = CompileContext(convention=convention, target=target, calibration=calibration)
    out = run_pipeline(graph, ctx)
    prog = Program(out, convention, target, ctx.reports["latency"], [r.to_dict() for r in ctx.reports["quantize"]])
    prog.reference = graph
    return prog


def place_program(prog: Artifact, spec: TargetSpec, mapping: str = "comm", allow_split: bool = True) -> None:
    """Map an already fixed-point program (a netx file) for ``spec``'s resources, in place."""
    prog.target = with_resources(prog.target, spec)
    ctx = CompileContext(convention=prog.convention, target=prog.target, mapping=mapping, allow_split=allow_split)
    check_resources(partition(prog.graph, ctx), ctx)
    prog.placement = ctx.reports["placement"]


def _subtractive(graph: Graph, conv: Convention, notes: dict[str, list[str]]) -> tuple[Graph, Convention]:
    """``graph`` with every IF/LIF rebuilt for reset by subtraction, and the convention to read
    the rebuilt graph with (reset to value); each rebuilt layer gets a note."""
    rebuilt = [graph[n].source or n for n in graph.of_kind(ops.IF, ops.LIF)]
    graph = subtractive(graph, conv)
    for layer in rebuilt:
        notes.setdefault(layer, []).append(
            "reset by subtraction rebuilt from Lava's registers: u integrates, v copies it, "
            "and a −α·θ self-synapse subtracts the threshold one step later (snnc.compiler.reset)"
        )
    return graph, dataclasses.replace(conv, reset="value")

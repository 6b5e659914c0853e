"""The compile driver: model → float graph → pipeline → :class:`snnc.Program`."""

from __future__ import annotations

import logging
from typing import Any

from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.passes.pipelines import CompileContext, run_pipeline
from snnc.compiler.targets import get_target
from snnc.frontends import load
from snnc.program import Program

log = logging.getLogger(__name__)


def compile(  # noqa: A001 - the public name is snnc.compile
    model: Any,
    target: str = "loihi2",
    *,
    dt: float = 1e-4,
    integration: str = "euler",
    spike_if: str = ">",
    synapse_input: str = "ode",
    reset: str = "value",
    calibration: Any = None,
    calibration_method: str | None = None,
    split_weights: bool = False,
    timesteps: int | None = None,
    stop_after: str | None = None,
    convention: Any = None,
    mapping: str = "comm",
    allow_split: bool = True,
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
    ``reset="subtract"`` (v ← v − θ, the default of snnTorch, Sinabs and Rockpool) rebuilds every
    IF/LIF from Lava's registers (:mod:`snnc.compiler.reset`); the program's float reference is
    the rebuilt graph, read with reset to value.
    ``convention`` (an exporter name: snntorch, norse, sinabs, rockpool, or a Convention)
    replaces the five discretization options (:mod:`snnc.frontends.conventions`).
    ``target`` is a name (``loihi2``, ``loihi2-kapoho-point``, ...) or a ``.toml``/``.json``
    target file (:mod:`snnc.compiler.targets`); ``mapping`` (``comm``, ``greedy``) and
    ``allow_split`` steer the ``partition`` pass, and ``check_resources`` raises a
    :class:`~snnc.errors.ResourceError` when the network does not fit (docs/mapping.md).
    With ``stop_after`` the graph after that pass is returned instead of a Program.
    """
    spec = get_target(target)
    conv = Convention(dt=dt, integration=integration, spike_if=spike_if, synapse_input=synapse_input,
                      reset=reset)
    if convention is not None:  # an exporter preset name or a Convention (snnc.frontends.conventions)
        from snnc.frontends.conventions import preset

        conv = convention if isinstance(convention, Convention) else preset(convention)
    graph = load(model)
    if isinstance(graph, Program):  # already fixed point (a lava-dl netx file): nothing to quantize
        log.info("%s is already a compiled program; compile options do not apply", model)
        from snnc.compiler.passes.partition import place_program  # but it still has to fit

        place_program(graph, spec, mapping, allow_split)
        return graph
    from snnc.frontends.conventions import repair_exporter_bugs  # logged warnings + layer notes

    graph, quirks = repair_exporter_bugs(graph, conv)
    from snnc.calibration.balance import prepare  # ANN -> rate-coded SNN; a no-op otherwise

    graph, calibration, encoder = prepare(graph, calibration, conv, timesteps)
    if conv.reset == "subtract":  # NIR cannot say it; Lava cannot do it: rebuild from its registers
        graph, conv = _subtractive(graph, conv, quirks)
    stats = None
    if calibration is not None:
        from snnc.calibration.methods import calibrate_graph

        stats = calibrate_graph(graph, calibration, conv, spec, calibration_method)
    elif calibration_method is not None:
        from snnc.calibration.methods import no_data

        no_data(calibration_method)
    ctx = CompileContext(convention=conv, target=spec, calibration=stats, split_weights=split_weights,
                         mapping=mapping, allow_split=allow_split)
    out = run_pipeline(graph, ctx, stop_after=stop_after)
    if not out.of_kind(loihi.Compartment):
        return out
    layers = [r.as_dict() for r in ctx.reports.get("quantize", [])]
    for r in layers:
        r["notes"] = list(r["notes"]) + quirks.get(r["name"], [])
    prog = Program(out, conv, spec, ctx.reports["latency"], layers, ctx.timings)
    prog.placement = ctx.reports.get("placement")  # snnc.mapping.Placement (partition pass)
    prog.reference = graph  # the float model, for prog.report() (snnc.calibration.report)
    prog.encoder = encoder  # static inputs -> spikes (converted ANNs), saved with the program
    return prog


def _subtractive(graph: Graph, conv: Convention, notes: dict[str, list[str]]) -> tuple[Graph, Convention]:
    """``graph`` with every IF/LIF rebuilt for reset by subtraction, and the convention to read
    the rebuilt graph with (reset to value); each rebuilt layer gets a note."""
    import dataclasses

    from snnc.compiler.ir import ops
    from snnc.compiler.reset import subtractive

    rebuilt = [graph[n].source or n for n in graph.of_kind(ops.IF, ops.LIF)]
    graph = subtractive(graph, conv)
    for layer in rebuilt:
        notes.setdefault(layer, []).append(
            "reset by subtraction rebuilt from Lava's registers: u integrates, v copies it, "
            "and a −α·θ self-synapse subtracts the threshold one step later (snnc.compiler.reset)"
        )
    return graph, dataclasses.replace(conv, reset="value")

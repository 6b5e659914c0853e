"""``profile(prog, x)``: run with every layer recorded, count events, apply a coefficient set."""

from __future__ import annotations

from typing import Any

import numpy as np

from snnc.backends.registry import get_backend
from snnc.errors import InputError
from snnc.profiler.ann import nvml_energy_per_inference, nvml_status, teacher_macs
from snnc.profiler.coefficients import CoefficientSet, load_coefficients
from snnc.profiler.counts import count_events
from snnc.profiler.energy import STATIC_MODES, estimate
from snnc.profiler.report import AnnComparison, EnergyReport
from snnc.profiler.routing import FALLBACK, fallback_placement
from snnc.profiler.timing import IO_MODES


def placement_of(prog) -> tuple[Any, list[str]]:
    """The program's placement, or the fallback (with a note saying so)."""
    if getattr(prog, "placement", None) is not None:
        return prog.placement, []
    pl = fallback_placement(prog.graph, prog.target.neurons_per_core, prog.target.name)
    return pl, [f"the program has no placement; used the {FALLBACK} "
                f"({pl.n_cores} cores; recompile with this snnc to get the partition pass's placement)"]


def profile(prog, x: Any, coefficients: "str | CoefficientSet" = "loihi2", teacher: Any = None, *,
            teacher_input: Any = None, backend: str = "emulator", name: str | None = None,
            measure_gpu: bool = False, progress: bool | None = None, io_mode: str = "compute",
            static: str = "chip") -> EnergyReport:
    """Energy per inference of ``prog`` on ``x`` (spikes (batch, T, *shape), or static inputs
    when the program carries an encoder).

    ``coefficients``: a shipped set name (``loihi2``, ``loihi1``, ...) or a JSON/TOML file.
    ``teacher``: an ONNX path/``ModelProto`` or a torch module (with ``teacher_input``; for a
    program with an encoder the static ``x`` is used) for the MAC proxy comparison.
    ``measure_gpu``: also measure a torch teacher with NVML where CUDA is present.
    ``io_mode``: host I/O in the time model, ``"compute"`` (inputs on chip, default), ``"io-bound"``
    (each step at least the measured host I/O floor) or ``"io-serial"`` (chip time + host I/O), see
    :data:`snnc.profiler.timing.IO_MODES`.  ``static``: ``"chip"`` (static power of every allocated
    chip, default) or ``"cores"`` (prorated by the cores the network uses, labelled so).
    """
    get_backend(backend)  # an unknown name fails before any work
    co = load_coefficients(coefficients)
    if io_mode not in IO_MODES or static not in STATIC_MODES:
        bad, name, ok = (io_mode, "io_mode", IO_MODES) if io_mode not in IO_MODES else (static, "static", STATIC_MODES)
        raise InputError(f"unknown {name} {bad!r}", hint=f"use one of {', '.join(ok)} (docs/energy.md)")
    cpc = int(getattr(prog.target, "cores_per_chip", 120) or 120)
    spikes = prog.check_input(x)  # checked once: the run and the counts take it as it is
    raw = prog.run(spikes, backend=backend, return_raw=True, progress=progress)
    placement, notes = placement_of(prog)
    counts = count_events(prog.graph, spikes, raw, placement)
    notes.append(f"{raw.steps} raw steps per inference: the input's {spikes.steps} plus the "
                 f"network latency of {raw.steps - spikes.steps} (one step per synapse layer)")
    if counts.graded_messages:
        notes.append("graded messages: every non-zero payload a sigma-delta population (or the int32 input) "
                     "sends is one message; into a graded synapse it costs its fan-out in graded SynOps and "
                     "carries num_message_bits payload bits per route (graded_payload_bit_pJ, an estimate); "
                     "a binary synapse counts it as a spike")
    else:
        notes.append("binary spikes only: graded SynOps are 0")
    kw = {"io_mode": io_mode, "static": static, "cores_per_chip": cpc}
    est = {which: estimate(counts, co.bound(which), **kw) for which in ("low", "high")}
    notes.append(f"time model: host I/O mode {io_mode!r} ({IO_MODES[io_mode]}); static energy {static!r} "
                 f"({STATIC_MODES[static]})")
    ann = None
    if teacher is not None:
        t_in = teacher_input
        if t_in is None and prog.encoder is not None and prog.encoder.is_static(x):
            t_in = np.asarray(x)
        macs = teacher_macs(teacher, t_in)
        status, measured = nvml_status(), None
        if measure_gpu and status == "available" and macs.source == "torch":
            measured = nvml_energy_per_inference(teacher, t_in)
            status = f"measured {measured * 1e3:.4g} mJ per inference (NVML, GPU board energy)"
        ann = AnnComparison(macs, counts.synops / max(counts.batch, 1), status, measured)
    return EnergyReport(name or repr(prog), backend, counts, co, estimate(counts, co, **kw), est["low"], est["high"],
                        ann, notes)

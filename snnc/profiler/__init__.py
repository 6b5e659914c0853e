"""Energy-per-inference profiler (docs/energy.md).

``prog.profile(x, coefficients="loihi2", teacher=None)`` runs the program with every layer
recorded (:mod:`.counts`: exact SynOps, neuron updates, spikes, messages by distance from the
placement, :mod:`.routing`), applies a named coefficient set (:mod:`.coefficients`) through the
activity-driven time model (:mod:`.timing`: per-core work, slowest core, barrier, host I/O modes)
and the energy model (:mod:`.energy`) and returns an :class:`EnergyReport` (:mod:`.report`)
with the teacher's MAC proxy beside it (:mod:`.ann`).  :func:`sweep_timesteps` (:mod:`.sweep`)
trades accuracy against energy over T.
"""

from snnc.profiler.ann import onnx_macs, teacher_macs, torch_macs
from snnc.profiler.coefficients import (
    CoefficientError,
    CoefficientSet,
    available,
    load_coefficients,
)
from snnc.profiler.counts import EventCounts, count_events
from snnc.profiler.energy import STATIC_MODES, estimate, intel_energy_per_inference, static_energy
from snnc.profiler.profile import profile
from snnc.profiler.report import EnergyReport
from snnc.profiler.sweep import SweepResult, sweep_timesteps
from snnc.profiler.timing import IO_MODES, StepTimes, step_times

__all__ = [
    "IO_MODES", "STATIC_MODES", "CoefficientError", "CoefficientSet", "EnergyReport", "EventCounts", "StepTimes",
    "SweepResult", "available", "step_times",
    "count_events", "estimate", "intel_energy_per_inference", "load_coefficients", "onnx_macs", "profile",
    "static_energy", "sweep_timesteps", "teacher_macs", "torch_macs",
]

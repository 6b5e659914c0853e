"""The activity-driven step-time model: each core's work in each step, the slowest core, the barrier, host I/O.

Per raw step t of sample b and core c (exact per-core counts of :mod:`snnc.profiler.counts`)::

    work_c(t) = SynOps_c·t_syn + GradedSynOps_c·t_graded + PayloadBitsIn_c·t_bit          (receive)
              + Nactive_c·t_act + Nidle_c·t_idle                                           (neuron updates)
              + Spikes_c·t_spike + MsgOut_c·t_msg_out + MsgInterchip_c·t_interchip         (send)
              + MsgIn_c·t_msg_in                                                           (messages in)
    t_barrier = barrier_ns + barrier_per_core_ns·(cores_used − 1) + barrier_interchip_ns·(chips − 1)
    Δt_chip(t) = max( max_c work_c(t) + t_barrier , step_floor )          (the slowest core bounds the step)

Binary SynOps are ``SynOps_c − GradedSynOps_c``.  A core's work is the sum of its receive, update
and send work (conservative: SANA-FE's ``simple`` model takes the max of sending and receiving
work per core, SLAM-Lab/SANA-FE ``src/schedule.cpp``).  ``barrier_ns`` carries the fixed per-step
cost (barrier + management) measured on a network of one or two cores.

Host input/output is a separate term, per step that exchanges data with the host::

    t_io(t) = [H(t) > 0]·host_io_step_us + H(t)·host_io_message_ns        (H: messages from the host)

with three documented modes (:data:`IO_MODES`)::

    "compute"     Δt = Δt_chip               inputs live on chip (bias, embedded generators): I/O not on the path
    "io-bound"    Δt = max(Δt_chip, t_io)    the host streams input concurrently; t_io is a measured floor
    "io-serial"   Δt = Δt_chip + t_io        the host exchanges data between steps (Lava Python encoder, SNIPs)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.errors import InputError
from snnc.profiler.coefficients import CoefficientSet
from snnc.profiler.counts import EventCounts

NS = 1e-9
US = 1e-6

IO_MODES = {
    "compute": "inputs on chip (bias, embedded spike generators): host I/O is not on the step's path",
    "io-bound": "host input overlapped with the chip: each step lasts at least the measured host I/O floor",
    "io-serial": "host input between steps: each step lasts the chip's time plus the host I/O time",
}

#: work term -> (EventCounts array or callable, coefficient in ns)
WORK_TERMS = ("synops", "graded_synops", "payload_bits", "neuron_active", "neuron_idle", "spikes",
              "msg_out", "msg_interchip", "msg_in")


def _arr(counts: EventCounts, name: str) -> np.ndarray:
    a = getattr(counts, name, None)
    return np.zeros_like(counts.core_synops) if a is None else a


def core_work_terms(counts: EventCounts, co: CoefficientSet) -> dict[str, np.ndarray]:
    """Per term, (batch, steps, n_cores) seconds of core work."""
    graded = _arr(counts, "core_graded_synops")
    idle = counts.core_neurons[None, None, :] - counts.core_active
    return {
        "synops": (counts.core_synops - graded) * co["synop_ns"] * NS,
        "graded_synops": graded * co["graded_synop_ns"] * NS,
        "payload_bits": _arr(counts, "core_bits_in") * co["graded_payload_bit_ns"] * NS,
        "neuron_active": counts.core_active * co["neuron_update_active_ns"] * NS,
        "neuron_idle": idle * co["neuron_update_idle_ns"] * NS,
        "spikes": _arr(counts, "core_spikes") * co["spike_out_ns"] * NS,
        "msg_out": _arr(counts, "core_msg_out") * co["msg_out_ns"] * NS,
        "msg_interchip": _arr(counts, "core_msg_interchip") * co["msg_interchip_ns"] * NS,
        "msg_in": _arr(counts, "core_msg_in") * co["msg_in_ns"] * NS,
    }


def cores_in_use(counts: EventCounts) -> int:
    """Cores that hold neurons."""
    return int((counts.core_neurons > 0).sum())


def barrier_time(counts: EventCounts, co: CoefficientSet) -> float:
    """``t_barrier`` in seconds (module docstring)."""
    cores = max(cores_in_use(counts), 1)
    chips = max(counts.placement.n_chips, 1)
    return (co["barrier_ns"] + co["barrier_per_core_ns"] * (cores - 1)
            + co["barrier_interchip_ns"] * (chips - 1)) * NS


@dataclasses.dataclass
class StepTimes:
    """The time model's result for one run (seconds)."""

    mode: str
    dt: np.ndarray  # (batch, steps) step time
    chip: np.ndarray  # (batch, steps) Δt_chip (floor applied)
    work: np.ndarray  # (batch, steps, n_cores) core work
    terms: dict[str, np.ndarray]  # per work term, (batch, steps, n_cores)
    barrier_s: float
    floor_s: float
    io: np.ndarray  # (batch, steps) host I/O time (whatever the mode)

    @property
    def busiest(self) -> np.ndarray:
        """(batch, steps) index of the core that bounds each step (-1 without cores)."""
        if not self.work.shape[2]:
            return np.full(self.dt.shape, -1)
        return self.work.argmax(axis=2)

    def bound_by(self) -> dict[str, float]:
        """Fraction of steps bounded by each limit: ``core k``, ``floor``, ``host I/O``."""
        n = max(self.dt.size, 1)
        busy = self.work.max(axis=2) if self.work.shape[2] else np.zeros(self.dt.shape)
        on_floor = busy + self.barrier_s < self.floor_s
        io = (self.io > self.chip) if self.mode == "io-bound" else np.zeros(self.dt.shape, dtype=bool)
        out: dict[str, float] = {}
        if io.any():
            out["host I/O"] = float(io.sum()) / n
        fl = on_floor & ~io
        if fl.any():
            out["floor"] = float(fl.sum()) / n
        rest = ~(fl | io)
        if rest.any() and self.work.shape[2]:
            cores, k = np.unique(self.busiest[rest], return_counts=True)
            for c, m in sorted(zip(cores.tolist(), k.tolist(), strict=True), key=lambda v: -v[1]):
                out[f"core {c}"] = m / n
        return out

    def breakdown(self) -> dict[str, float]:
        """Mean seconds per step: the bounding core's work by term, the barrier, host I/O, the total."""
        if self.work.shape[2]:
            idx = self.busiest[..., None]
            per = {k: float(np.take_along_axis(v, idx, axis=2).mean()) for k, v in self.terms.items()}
            busy = float(self.work.max(axis=2).mean())
        else:
            per, busy = dict.fromkeys(self.terms, 0.0), 0.0
        return {"busiest_core_work_s": busy, **{f"busiest_core_{k}_s": v for k, v in per.items()},
                "barrier_s": self.barrier_s, "floor_s": self.floor_s,
                "chip_s": float(self.chip.mean()) if self.chip.size else 0.0,
                "host_io_s": float(self.io.mean()) if self.io.size else 0.0,
                "step_s": float(self.dt.mean()) if self.dt.size else 0.0}


def step_times(counts: EventCounts, co: CoefficientSet, io_mode: str = "compute") -> StepTimes:
    """The step times of a counted run under coefficients ``co`` (module docstring)."""
    if io_mode not in IO_MODES:
        raise InputError(f"unknown host I/O mode {io_mode!r}",
                         hint=f"use one of {', '.join(IO_MODES)} (docs/energy.md, 'The time model')")
    terms = core_work_terms(counts, co)
    work = sum(terms.values()) if terms else np.zeros_like(counts.core_synops, dtype=np.float64)
    work = np.asarray(work, dtype=np.float64)
    busiest = work.max(axis=2) if work.shape[2] else np.zeros(work.shape[:2])
    barrier = barrier_time(counts, co)
    floor = co["step_floor_us"] * US
    chip = np.maximum(busiest + barrier, floor)
    host = getattr(counts, "host_per_step", None)
    host = np.zeros(chip.shape) if host is None else np.asarray(host, dtype=np.float64)
    io = (host > 0) * co["host_io_step_us"] * US + host * co["host_io_message_ns"] * NS
    dt = {"compute": chip, "io-bound": np.maximum(chip, io), "io-serial": chip + io}[io_mode]
    return StepTimes(io_mode, dt, chip, work, terms, barrier, floor, io)

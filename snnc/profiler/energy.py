"""The energy and latency model: exact event counts × per-operation coefficients + static power × modeled time.

Step times come from the activity-driven time model (:mod:`snnc.profiler.timing`: each core's
work in each step, the slowest core, the barrier, host I/O in a named mode); per inference
``latency = Σ_t Δt(t)`` (mean over the batch).  Energy per inference (means over the batch)::

    E_dyn    = SynOps·E_syn + GradedSynOps·E_graded + PayloadBits·E_bit + Nact·E_act + Nidle·E_idle
             + Spikes·E_spk + Routed_core·E_rc + Routed_chip·E_rch + Routed_interchip·E_ri + HostMsgs·E_host
             + steps·N_chips·E_step                              (fixed management per step and chip)
             + P_host·latency                                    (I/O modes only: host interface / x86)
    E_static = P_static · N_chips · latency                       (static="chip", Intel's convention)
             | P_static · (cores_used / cores_per_chip) · latency (static="cores": prorated, labelled so)
    E        = E_dyn + E_static

A graded message (a sigma-delta payload) is charged like a spike (its routes, its fan-out as
SynOps: graded SynOps at ``graded_synop_pJ``) plus its payload: ``PayloadBits`` =
``num_message_bits`` × routed graded messages (:mod:`snnc.profiler.counts`), at
``graded_payload_bit_pJ`` per bit (an estimate: no Loihi 2 figure is published).

``N_chips`` are the chips the placement allocates.  Per layer, the dynamic terms are the layer's
own events (SynOps in its synapse memory, its neurons' updates, its spikes and their messages);
the static energy is shared out in proportion to the cores each layer occupies.  Per core, the
compute energy (SynOps, neuron updates, spikes) is exact; message energy stays per layer.
:func:`intel_energy_per_inference` is Intel's recipe for *measured* board power (lava-dl
PilotNet notebooks), used to check the static term against their published numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.errors import InputError
from snnc.profiler import timing
from snnc.profiler.coefficients import CoefficientSet
from snnc.profiler.counts import EventCounts, LayerCounts

PJ = 1e-12
NS = 1e-9
US = 1e-6

#: dynamic term -> (count field of LayerCounts, coefficient)
DYNAMIC_TERMS: dict[str, tuple[str, str]] = {
    "synops": ("synops_in", "synop_pJ"),
    "graded_synops": ("graded_synops_in", "graded_synop_pJ"),
    "graded_payload": ("payload_bits", "graded_payload_bit_pJ"),
    "neuron_active": ("updates_active", "neuron_update_active_pJ"),
    "neuron_idle": ("updates_idle", "neuron_update_idle_pJ"),
    "spikes_out": ("spikes", "spike_out_pJ"),
    "route_core": ("route_core", "route_core_pJ"),
    "route_chip": ("route_chip", "route_chip_pJ"),
    "route_interchip": ("route_interchip", "route_interchip_pJ"),
    "route_host": ("route_host", "host_message_pJ"),
}


def static_energy(static_power_w: float, chips: int, steps: float, step_time_s: float) -> float:
    """``P_static · N_chips · steps · Δt`` in joules."""
    return float(static_power_w) * int(chips) * float(steps) * float(step_time_s)


def intel_energy_per_inference(total_power_w: float, static_power_per_chip_w: float, num_chips: int,
                               inference_rate: float, board_chips: int | None = None) -> dict[str, float]:
    """Intel's energy-per-inference arithmetic from measured power (loihi.md §3.3).

    ``P = P_total − (board_chips − num_chips)·P_static`` (idle chips of the board removed);
    ``E = P / rate``; ``E_static = num_chips·P_static / rate``; ``E_dyn = E − E_static``.
    """
    board = num_chips if board_chips is None else board_chips
    p = total_power_w - (board - num_chips) * static_power_per_chip_w
    e = p / inference_rate
    e_static = num_chips * static_power_per_chip_w / inference_rate
    return {"total_J": e, "static_J": e_static, "dynamic_J": e - e_static,
            "step_time_s": float("nan")}


#: static energy conventions
STATIC_MODES = {
    "chip": "static power x every chip the placement allocates x modeled time (Intel's convention)",
    "cores": "PRORATED: static power x (cores in use / cores per chip) x modeled time (a share of the chip)",
}


def step_times(counts: EventCounts, co: CoefficientSet, io_mode: str = "compute") -> np.ndarray:
    """Δt(b, t) in seconds, (batch, steps) (:func:`snnc.profiler.timing.step_times`)."""
    return timing.step_times(counts, co, io_mode).dt


@dataclasses.dataclass
class LayerEnergy:
    name: str
    kind: str
    cores: int
    dynamic_J: dict[str, float]  # per inference, by term
    static_J: float

    @property
    def dynamic_total_J(self) -> float:
        return float(sum(self.dynamic_J.values()))

    @property
    def total_J(self) -> float:
        return self.dynamic_total_J + self.static_J


@dataclasses.dataclass
class CoreEnergy:
    """One core: its neurons, the layers on it, compute energy and work per step (per inference)."""

    core: int
    chip: int
    neurons: int
    layers: list[str]
    compute_J: float  # SynOps + neuron updates + spikes of this core
    work_s: float  # mean core work per step
    bounds: float  # fraction of steps this core bounds


@dataclasses.dataclass
class EnergyEstimate:
    layers: list[LayerEnergy]
    latency_s: float  # mean per inference
    step_time_s: float  # mean Δt
    chips: int
    overhead_J: float = 0.0  # steps × chips × step_dynamic_nJ
    host_J: float = 0.0  # host interface power × latency (I/O modes)
    times: "timing.StepTimes | None" = None
    static_mode: str = "chip"
    cores_used: int = 0
    cores: list[CoreEnergy] = dataclasses.field(default_factory=list)

    @property
    def dynamic_J(self) -> float:
        return self.events_J + self.overhead_J + self.host_J

    @property
    def events_J(self) -> float:
        """The event part of ``dynamic_J``: SynOps, neuron updates, spikes and routing, without
        the fixed per-step management and the host interface."""
        return float(sum(la.dynamic_total_J for la in self.layers))

    @property
    def static_J(self) -> float:
        return float(sum(la.static_J for la in self.layers))

    @property
    def total_J(self) -> float:
        return self.dynamic_J + self.static_J


def _layer_dynamic(lc: LayerCounts, co: CoefficientSet, batch: int) -> dict[str, float]:
    out = {}
    for term, (field, key) in DYNAMIC_TERMS.items():
        n = getattr(lc, field)
        if term == "spikes_out" and lc.kind == "input":
            n = 0  # input spikes come from the host: charged as host messages
        out[term] = n * co[key] * PJ / max(batch, 1)
    return out


def _cores(counts: EventCounts, co: CoefficientSet, times: "timing.StepTimes") -> list[CoreEnergy]:
    b = max(counts.batch, 1)
    graded = timing._arr(counts, "core_graded_synops")
    idle = counts.core_neurons[None, None, :] - counts.core_active
    compute = ((counts.core_synops - graded) * co["synop_pJ"] + graded * co["graded_synop_pJ"]
               + counts.core_active * co["neuron_update_active_pJ"] + idle * co["neuron_update_idle_pJ"]
               + timing._arr(counts, "core_spikes") * co["spike_out_pJ"]).sum(axis=(0, 1)) * PJ / b
    on: dict[int, list[str]] = {}
    for name, lc in counts.layers.items():
        for c in lc.cores:
            on.setdefault(int(c), []).append(name)
    work = times.work.mean(axis=(0, 1)) if times.work.size else np.zeros(counts.core_neurons.shape)
    bound = times.bound_by()
    chip_of = np.asarray(counts.placement.chip_of_core)
    return [CoreEnergy(c, int(chip_of[c]) if c < chip_of.size else 0, int(counts.core_neurons[c]), on.get(c, []),
                       float(compute[c]), float(work[c]), bound.get(f"core {c}", 0.0))
            for c in range(counts.core_neurons.size)]


def estimate(counts: EventCounts, co: CoefficientSet, io_mode: str = "compute", static: str = "chip",
             cores_per_chip: int = 120) -> EnergyEstimate:
    """Energy per inference (mean over the batch) of the counted run under coefficients ``co``.

    ``io_mode``: host I/O mode of the time model (:data:`snnc.profiler.timing.IO_MODES`);
    ``static``: ``"chip"`` (every allocated chip) or ``"cores"`` (prorated by the cores in use
    out of ``cores_per_chip``, :data:`STATIC_MODES`).
    """
    if static not in STATIC_MODES:
        raise InputError(f"unknown static-energy convention {static!r}",
                         hint=f"use one of {', '.join(STATIC_MODES)} (docs/energy.md)")
    times = timing.step_times(counts, co, io_mode)
    dt = times.dt
    latency = float(dt.sum(axis=1).mean()) if dt.size else 0.0
    chips = max(counts.placement.n_chips, 1)
    used = timing.cores_in_use(counts)
    share = chips if static == "chip" else used / max(int(cores_per_chip), 1)
    e_static = float(co["static_power_W"]) * share * latency
    total_cores = sum(len(lc.cores) for lc in counts.layers.values()) or 1
    layers = [LayerEnergy(lc.name, lc.kind, len(lc.cores), _layer_dynamic(lc, co, counts.batch),
                          e_static * len(lc.cores) / total_cores)
              for lc in counts.layers.values()]
    overhead = counts.steps * chips * co["step_dynamic_nJ"] * 1e-9
    host = co["host_power_W"] * latency if io_mode != "compute" else 0.0
    return EnergyEstimate(layers, latency, float(dt.mean()) if dt.size else 0.0, chips, overhead, host, times,
                          static, used, _cores(counts, co, times))

"""The energy and latency model: exact event counts × per-operation coefficients + static power.

Per raw step t of sample b, on every core c (counts from :mod:`snnc.profiler.counts`)::

    work_c(b,t) = SynOps_c·t_syn + Nact_c·t_act + Nidle_c·t_idle
    Δt(b,t)     = max( max_c work_c(b,t) + t_barrier , Δt_floor )          (step time)
    latency(b)  = Σ_t Δt(b,t)                                              (per inference)

Energy per inference (means over the batch)::

    E_dyn    = SynOps·E_syn + GradedSynOps·E_graded + PayloadBits·E_bit + Nact·E_act + Nidle·E_idle
             + Spikes·E_spk + Routed_core·E_rc + Routed_chip·E_rch + Routed_interchip·E_ri + HostMsgs·E_host

A graded message (a sigma-delta payload) is charged like a spike (its routes, its fan-out as
SynOps: graded SynOps at ``graded_synop_pJ``) plus its payload: ``PayloadBits`` =
``num_message_bits`` × routed graded messages (:mod:`snnc.profiler.counts`), at
``graded_payload_bit_pJ`` per bit (an estimate: no Loihi 2 figure is published).
    E_static = P_static · N_chips · latency
    E        = E_dyn + E_static

``N_chips`` are the chips the placement allocates.  Per layer, the dynamic terms are the layer's
own events (SynOps in its synapse memory, its neurons' updates, its spikes and their messages);
the static energy is shared out in proportion to the cores each layer occupies.
:func:`intel_energy_per_inference` is Intel's recipe for *measured* board power (lava-dl
PilotNet notebooks), used to check the static term against their published numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

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


def step_times(counts: EventCounts, co: CoefficientSet) -> np.ndarray:
    """Δt(b, t) in seconds, (batch, steps)."""
    idle = counts.core_neurons[None, None, :] - counts.core_active
    work = (counts.core_synops * co["synop_ns"] + counts.core_active * co["neuron_update_active_ns"]
            + idle * co["neuron_update_idle_ns"]) * NS
    busiest = work.max(axis=2) if work.shape[2] else np.zeros(work.shape[:2])
    return np.maximum(busiest + co["barrier_ns"] * NS, co["step_floor_us"] * US)


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
class EnergyEstimate:
    layers: list[LayerEnergy]
    latency_s: float  # mean per inference
    step_time_s: float  # mean Δt
    chips: int

    @property
    def dynamic_J(self) -> float:
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


def estimate(counts: EventCounts, co: CoefficientSet) -> EnergyEstimate:
    """Energy per inference (mean over the batch) of the counted run under coefficients ``co``."""
    dt = step_times(counts, co)
    latency = float(dt.sum(axis=1).mean()) if dt.size else 0.0
    chips = max(counts.placement.n_chips, 1)
    e_static = static_energy(co["static_power_W"], chips, 1, latency)
    total_cores = sum(len(lc.cores) for lc in counts.layers.values()) or 1
    layers = [LayerEnergy(lc.name, lc.kind, len(lc.cores), _layer_dynamic(lc, co, counts.batch),
                          e_static * len(lc.cores) / total_cores)
              for lc in counts.layers.values()]
    return EnergyEstimate(layers, latency, float(dt.mean()) if dt.size else 0.0, chips)

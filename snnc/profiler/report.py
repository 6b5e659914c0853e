"""EnergyReport: per-layer and total energy per inference, latency, counts, ANN proxy; text/JSON/PNG."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from snnc.profiler.ann import AC_FP32_PJ, HOROWITZ, MAC_FP32_PJ, MacCount
from snnc.profiler.coefficients import CoefficientSet
from snnc.profiler.counts import EventCounts
from snnc.profiler.energy import DYNAMIC_TERMS, PJ, EnergyEstimate
from snnc.profiler.timing import IO_MODES
from snnc.reporting import Report, figure, figure_path


@dataclasses.dataclass
class AnnComparison:
    """The teacher's MACs and the Horowitz 45 nm op-count proxies (not device measurements)."""

    macs: MacCount
    snn_synops: float  # per inference
    nvml: str  # "not measured: ..." or a measured figure
    nvml_J: float | None = None

    @property
    def ann_proxy_J(self) -> float:
        return self.macs.macs * MAC_FP32_PJ * PJ

    @property
    def snn_proxy_J(self) -> float:
        return self.snn_synops * AC_FP32_PJ * PJ

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": "Horowitz-45nm op-count proxy (not a device measurement)",
            "source": HOROWITZ, "mac_pJ": MAC_FP32_PJ, "ac_pJ": AC_FP32_PJ,
            "teacher_format": self.macs.source, "teacher_macs": self.macs.macs,
            "teacher_macs_per_node": self.macs.per_node,
            "ann_proxy_J": self.ann_proxy_J, "snn_synops": self.snn_synops, "snn_proxy_J": self.snn_proxy_J,
            "proxy_ratio_ann_over_snn": self.ann_proxy_J / self.snn_proxy_J if self.snn_proxy_J else None,
            "nvml": self.nvml, "nvml_J": self.nvml_J,
        }


@dataclasses.dataclass
class EnergyReport(Report):
    program: str
    backend: str
    counts: EventCounts
    coefficients: CoefficientSet
    estimate: EnergyEstimate
    low: EnergyEstimate  # every coefficient at the low end of its range
    high: EnergyEstimate
    ann: AnnComparison | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    # ------------------------------------------------------------------ figures
    @property
    def energy_J(self) -> float:
        return self.estimate.total_J

    @property
    def latency_s(self) -> float:
        return self.estimate.latency_s

    @property
    def throughput(self) -> float:
        return 1.0 / self.latency_s if self.latency_s else float("inf")

    @property
    def synops(self) -> float:
        return self.counts.synops / max(self.counts.batch, 1)

    @property
    def spikes(self) -> float:
        """Spikes per inference emitted by the network's neurons (input spikes excluded)."""
        return sum(lc.spikes for lc in self.counts.layers.values() if lc.kind != "input") / max(self.counts.batch, 1)

    def per_inference_counts(self) -> dict[str, float]:
        c = self.counts
        return {
            "synops": self.synops,
            "graded_synops": c.graded_synops / max(c.batch, 1),
            "spikes": self.spikes,
            "input_spikes": sum(lc.spikes for lc in c.layers.values() if lc.kind == "input") / max(c.batch, 1),
            "neuron_updates_active": c.per_inference("updates_active"),
            "neuron_updates_idle": c.per_inference("updates_idle"),
            "routed_within_core": c.per_inference("route_core"),
            "routed_within_chip": c.per_inference("route_chip"),
            "routed_across_chips": c.per_inference("route_interchip"),
            "host_messages": c.per_inference("route_host"),
            "steps": c.steps,
            # every message sent (spikes and graded payloads, the input's included) and the graded part
            "messages": c.per_inference("spikes"),
            "graded_messages": c.graded_messages / max(c.batch, 1),
            "payload_bits": c.per_inference("payload_bits"),
        }

    def graded_per_step(self) -> list[float]:
        """Graded messages sent at each raw step, per inference (mean over the batch)."""
        g = self.counts.graded_per_step
        return [] if g is None else (np.asarray(g, dtype=np.float64) / max(self.counts.batch, 1)).tolist()

    # ------------------------------------------------------------------ output
    def _graded_layer(self, name: str) -> dict[str, Any]:
        lc, b = self.counts.layers[name], max(self.counts.batch, 1)
        return {"graded": lc.graded, "graded_messages": lc.graded_messages / b,
                "graded_synops": lc.graded_synops_in / b, "payload_bits": lc.payload_bits / b}

    def to_dict(self) -> dict[str, Any]:
        e, pl = self.estimate, self.counts.placement
        return {
            "program": self.program, "backend": self.backend, "samples": self.counts.batch,
            "coefficients": self.coefficients.to_dict(),
            "placement": {"strategy": pl.strategy, "cores": pl.n_cores, "chips": e.chips, "notes": list(pl.notes)},
            "per_inference": {
                "energy_J": e.total_J, "dynamic_J": e.dynamic_J, "static_J": e.static_J,
                "energy_range_J": [self.low.total_J, self.high.total_J],
                "latency_s": e.latency_s, "latency_range_s": [self.low.latency_s, self.high.latency_s],
                "step_time_s": e.step_time_s, "throughput_per_s": self.throughput,
                "counts": self.per_inference_counts(),
                "graded_messages_per_step": self.graded_per_step(),
                # activity-driven time model (issue 15)
                "step_overhead_J": e.overhead_J, "host_io_J": e.host_J,
                "static_mode": e.static_mode, "cores_used": e.cores_used,
            },
            "time_model": self.time_model(),
            "cores": [dataclasses.asdict(c) for c in e.cores],
            "neurobench": self.neurobench(),
            "layers": [{"name": la.name, "kind": la.kind, "cores": la.cores, "dynamic_J": la.dynamic_J,
                        "dynamic_total_J": la.dynamic_total_J, "static_J": la.static_J, "total_J": la.total_J,
                        "synops": self.counts.layers[la.name].synops_in / max(self.counts.batch, 1),
                        "spikes": self.counts.layers[la.name].spikes / max(self.counts.batch, 1),
                        **self._graded_layer(la.name)}
                       for la in e.layers],
            "block_synops": {k: v / max(self.counts.batch, 1) for k, v in self.counts.block_synops.items()},
            "block_graded_synops": {k: v / max(self.counts.batch, 1)
                                    for k, v in self.counts.block_graded_synops.items()},
            "ann_comparison": self.ann.to_dict() if self.ann else None,
            "notes": list(self.notes),
        }

    def time_model(self) -> dict[str, Any]:
        """Mean time per step: what bounds it (a core, the floor, host I/O), the bounding core's
        work by term, the barrier, host I/O (module :mod:`snnc.profiler.timing`)."""
        t = self.estimate.times
        if t is None:
            return {}
        return {"io_mode": t.mode, "io_mode_meaning": IO_MODES[t.mode], "bound_by": t.bound_by(),
                "per_step_s": t.breakdown(),
                "step_time_range_s": [self.low.step_time_s, self.high.step_time_s]}

    def neurobench(self) -> dict[str, Any]:
        """NeuroBench metric names (per inference): SynOps = Effective_ACs (binary) + Effective_MACs
        (graded: payload × weight); activation sparsity = 1 − spikes / (neurons × steps)."""
        c, b = self.counts, max(self.counts.batch, 1)
        slots = sum(lc.neurons for lc in c.layers.values() if lc.kind != "input") * c.steps
        return {"SynOps": (c.synops + c.graded_synops) / b, "Effective_ACs": c.synops / b,
                "Effective_MACs": c.graded_synops / b,
                "activation_sparsity": 1.0 - self.spikes / slots if slots else None}

    def text(self) -> str:
        e, co = self.estimate, self.coefficients
        c = self.per_inference_counts()
        lines = [
            f"energy profile of {self.program} ({self.backend}, {self.counts.batch} samples, "
            f"{self.counts.steps} steps each); coefficients {co.label} ({co.chip})",
            f"placement: {self.counts.placement.strategy}; {self.counts.placement.n_cores} cores on {e.chips} chip(s)",
            f"per inference: energy {_j(e.total_J)} (dynamic {_j(e.dynamic_J)}, static {_j(e.static_J)}); "
            f"range {_j(self.low.total_J)} .. {_j(self.high.total_J)} over the coefficient ranges",
            f"latency {e.latency_s * 1e3:.4g} ms ({e.step_time_s * 1e6:.4g} us/step), "
            f"throughput {self.throughput:.4g} inferences/s",
            *self._time_lines(),
            f"SynOps {c['synops']:.6g} (graded {c['graded_synops']:.6g}), spikes {c['spikes']:.6g} "
            f"(+ {c['input_spikes']:.6g} input), neuron updates {c['neuron_updates_active']:.6g} active / "
            f"{c['neuron_updates_idle']:.6g} idle",
            f"messages: {c['routed_within_core']:.6g} within core, {c['routed_within_chip']:.6g} within chip, "
            f"{c['routed_across_chips']:.6g} across chips, {c['host_messages']:.6g} from the host",
        ]
        if c["graded_messages"]:
            g = self.graded_per_step()
            peak = max(g) if g else 0.0
            graded_j = sum(la.dynamic_J["graded_synops"] + la.dynamic_J["graded_payload"] for la in e.layers)
            lines.append(
                f"graded messages {c['graded_messages']:.6g} per inference of {c['messages']:.6g} messages "
                f"({c['graded_messages'] / max(c['steps'], 1):.4g} per step on average, peak {peak:.6g}); "
                f"{c['payload_bits']:.6g} payload bits, graded SynOps {c['graded_synops']:.6g}: {_j(graded_j)} "
                f"(graded_synop_pJ {co['graded_synop_pJ']:g} per SynOp + graded_payload_bit_pJ "
                f"{co['graded_payload_bit_pJ']:g} per bit, {co.coefficients['graded_payload_bit_pJ'].grade})")
        lines += [
            "",
            f"{'layer':<20} {'cores':>5} {'SynOps':>10} {'spikes':>9} {'dynamic':>11} {'static':>11} {'total':>11}",
        ]
        for la in e.layers:
            lc = self.counts.layers[la.name]
            b = max(self.counts.batch, 1)
            lines.append(f"{la.name[:20]:<20} {la.cores:>5} {(lc.synops_in + lc.graded_synops_in) / b:>10.5g} "
                         f"{lc.spikes / b:>9.5g} "
                         f"{_j(la.dynamic_total_J):>11} {_j(la.static_J):>11} {_j(la.total_J):>11}")
        lines += ["", "coefficients (value, grade, source):"]
        for k, cf in co.coefficients.items():
            rng = f" [{cf.range[0]:g}..{cf.range[1]:g}]" if cf.range else ""
            lines.append(f"  {k:<24} {cf.value:>9g}{rng} {cf.grade}: {cf.source}")
        if self.ann:
            a = self.ann
            ratio = a.ann_proxy_J / a.snn_proxy_J if a.snn_proxy_J else float("inf")
            lines += ["", "ANN teacher vs SNN, Horowitz-45nm op-count PROXY (not a device measurement):",
                      f"  teacher MACs {a.macs.macs} x {MAC_FP32_PJ} pJ = {_j(a.ann_proxy_J)}; "
                      f"SNN SynOps {a.snn_synops:.6g} x {AC_FP32_PJ} pJ = {_j(a.snn_proxy_J)}; "
                      f"proxy ratio {ratio:.3g}x (proxy vs proxy only)",
                      f"  the device estimate above ({_j(e.total_J)}) is a different model: "
                      f"{_j(a.ann_proxy_J)} (ANN proxy) / {_j(e.total_J)} (Loihi model) = "
                      f"{a.ann_proxy_J / e.total_J if e.total_J else float('inf'):.3g} compares a 45 nm op count "
                      f"with a chip-level estimate",
                      f"  GPU (NVML): {a.nvml}"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _time_lines(self) -> list[str]:
        t = self.estimate.times
        if t is None:
            return []
        br, bound = t.breakdown(), t.bound_by()
        top = ", ".join(f"{k} {v:.0%}" for k, v in list(bound.items())[:4])
        work = sorted(((k[len("busiest_core_"):-2], v) for k, v in br.items()
                       if k.startswith("busiest_core_") and k != "busiest_core_work_s" and v), key=lambda kv: -kv[1])
        e = self.estimate
        return [f"time per step (mode {t.mode}): slowest core {br['busiest_core_work_s'] * 1e6:.4g} us "
                f"({', '.join(f'{k} {v * 1e6:.3g}' for k, v in work[:4]) or 'no work'}) + barrier "
                f"{br['barrier_s'] * 1e6:.4g} us; "
                + (f"host I/O {br['host_io_s'] * 1e6:.4g} us (on the path); " if t.mode != "compute" else
                   "host I/O not on the path (inputs on chip; --io-mode io-bound|io-serial adds it); ")
                + f"bound by: {top or '-'}",
                f"dynamic = events {_j(e.events_J)} + fixed per-step management "
                f"{_j(e.overhead_J)} + host interface {_j(e.host_J)}; static ({e.static_mode}: "
                f"{'prorated by ' + str(e.cores_used) + ' cores in use' if e.static_mode == 'cores' else 'whole chips'})"]

    def plot(self, path: str | os.PathLike) -> Path:
        """Three panels, log scales: energy per layer by term (µJ per inference), the time per
        step (bounding core's work by term, barrier, host I/O; µs) and each core's work per step."""
        e = self.estimate
        layers = e.layers
        names = [la.name for la in layers]
        with figure(path, 1, 3, figsize=(max(12.0, 1.2 * len(names) + 8), 4.5)) as (fig, (a1, a2, a3)):
            terms = [t for t in list(DYNAMIC_TERMS) + ["static"]
                     if any((la.static_J if t == "static" else la.dynamic_J[t]) for la in layers)]
            width = 0.8 / max(len(terms), 1)
            for i, term in enumerate(terms):
                vals = [(la.static_J if term == "static" else la.dynamic_J[term]) * 1e6 for la in layers]
                vals = [v if v > 0 else np.nan for v in vals]  # nothing to draw on a log axis
                a1.bar(np.arange(len(names)) + i * width, vals, width, label=term)
            a1.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=30, fontsize=7)
            a1.set_yscale("log")
            a1.set_ylabel("energy per inference (µJ, log)")
            a1.set_title(f"{_j(self.energy_J)}/inference: dyn {_j(e.dynamic_J)}, static {_j(e.static_J)}", fontsize=9)
            a1.legend(fontsize=6)
            if e.times is not None:
                br = e.times.breakdown()
                items = [(k[len("busiest_core_"):-2], v) for k, v in br.items()
                         if k.startswith("busiest_core_") and k != "busiest_core_work_s" and v]
                items += [("barrier", br["barrier_s"]), ("step", br["step_s"])]
                if e.times.mode != "compute":  # host I/O is on the step's path only in the I/O modes
                    items.insert(-1, ("host I/O", br["host_io_s"]))
                items = [(k, v * 1e6) for k, v in items if v > 0]
                a2.barh([k for k, _ in items], [v for _, v in items], color="tab:orange")
                a2.set_xscale("log")
                a2.set_xlabel("µs per step (log)")
                a2.set_title(f"time per step ({e.times.mode})", fontsize=9)
                work = e.times.work.mean(axis=(0, 1)) * 1e6 if e.times.work.size else np.zeros(0)
                a3.bar(np.arange(work.size), np.where(work > 0, work, np.nan), color="tab:green")
                a3.xaxis.get_major_locator().set_params(integer=True)
                a3.axhline(br["barrier_s"] * 1e6, color="k", ls="--", lw=1, label="barrier")
                a3.set_yscale("log")
                a3.set_xlabel("core")
                a3.set_ylabel("mean work per step (µs, log)")
                a3.set_title("per core", fontsize=9)
                a3.legend(fontsize=7)
            fig.suptitle(f"{self.program} ({self.coefficients.label})", fontsize=10)
        return figure_path(path)

def _j(v: float) -> str:
    """Joules with an SI prefix."""
    for unit, f in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(v) >= f:
            return f"{v / f:.4g} {unit}"
    return f"{v / 1e-12:.4g} pJ"

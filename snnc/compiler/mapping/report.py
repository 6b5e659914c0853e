"""Resource report: where a compiled program sits and how full each core is.

Fields (``to_dict()``; the text table and the JSON carry the same):

* ``target`` — chip, system, every limit used, with its evidence grade and source;
* ``cores``, ``chips``, ``chips_per_system``, ``smallest_system`` (the smallest known system of
  that chip that holds the placement), ``strategy`` and its ``notes``;
* ``layers`` — per compartment: neurons, cores, chips, and its peak utilisation of each limit;
* ``per_core`` — per core: layer, chip, neurons, synapse-memory bits, input and output axons
  (utilisation = value / limit), neuron state bits (``state_bits``, limit
  ``neuron_state_bits``: sigma-delta neurons hold more state than LIF) and the widest graded
  payload its synapses read (``message_bits``, 0: binary spikes);
* ``traffic`` — per synapse block: stored synapses, synapses whose pre and post neurons sit on
  different chips, and cross-chip *routes* (one per (pre neuron, destination core) pair on
  another chip: the spike messages that cross chips per step if every pre neuron spiked once).
  Dense blocks are exact for routes and density-scaled for synapses, sparse blocks exact,
  conv blocks an estimate (uniform spread: ``estimate: true``).  Input from the host is not
  counted.  Measured spike counts come from the energy profiler (``prog.profile``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from snnc.compiler.ir.graph import Graph
from snnc.compiler.targets import SYSTEMS, TargetSpec
from snnc.errors import ValidationError
from snnc.reporting import Report, figure, figure_path
from snnc.compiler.mapping.chips import layer_fractions
from snnc.compiler.mapping.cost import state_bits_limit
from snnc.compiler.mapping.placement import Placement
from snnc.compiler.mapping.usage import (
    Block,
    Split,
    Usage,
    blocks_of,
    conv_dest_cores,
    evaluate,
    sparse_runs,
)

LIMITS = (("neurons", "neurons_per_core"), ("synapse_bits", "synapse_memory_bits"),
          ("axons_in", "fan_in_axons"), ("axons_out", "fan_out_axons"))


def split_of(placement: Placement) -> Split:
    """The :class:`Split` behind a placement (cores of a compartment must be consecutive)."""
    starts, first = {}, {}
    for name, cores in placement.core_of.items():
        cores = np.asarray(cores)
        if cores.size == 0:
            starts[name], first[name] = np.array([0, 0]), 0
            continue
        step = np.diff(cores)
        if np.any((step != 0) & (step != 1)):
            raise ValidationError(f"placement of {name!r} is not in consecutive cores", node=name,
                                  hint="recompile the program (its placement comes from snnc's partition pass)")
        cut = np.flatnonzero(step) + 1
        starts[name] = np.concatenate([[0], cut, [cores.size]]).astype(np.int64)
        first[name] = int(cores[0])
    return Split(starts, first)


def _traffic(blk: Block, split: Split, chip_of_core: np.ndarray) -> dict[str, Any]:
    row = {"block": blk.name, "pre": blk.pre, "post": blk.post, "kind": blk.kind,
           "synapses": blk.synapses, "cross_chip_synapses": 0, "cross_chip_routes": 0, "estimate": False}
    if blk.pre not in split.starts:
        row["from_host"] = True
        return row
    q_cores = split.cores(blk.post)
    n_pre, n_post = int(split.starts[blk.pre][-1]), int(split.starts[blk.post][-1])
    if blk.kind == "sparse":
        local = np.repeat(np.arange(q_cores.size, dtype=np.int32), np.diff(split.starts[blk.post]))
        per_col, core, length = sparse_runs(blk, local)
        pre_chip = np.repeat(chip_of_core[split.core_of(blk.pre)], per_col)
        cross = chip_of_core[q_cores][core] != pre_chip
        row["cross_chip_synapses"] = int(length[cross].sum())
        row["cross_chip_routes"] = int(cross.sum())
        return row
    fp = layer_fractions(split, chip_of_core, blk.pre)
    fq = layer_fractions(split, chip_of_core, blk.post)
    same = sum(v * fq.get(x, 0.0) for x, v in fp.items())
    if blk.kind == "dense":
        kq = np.bincount(chip_of_core[q_cores])
        same_routes = sum(v * n_pre * (kq[x] if x < kq.size else 0) for x, v in fp.items())
        row["cross_chip_routes"] = int(round(n_pre * q_cores.size - same_routes))
        row["cross_chip_synapses"] = int(round(blk.synapses * (1.0 - same)))
    else:  # conv: unrolled synapses, uniform spread
        w = np.asarray(blk.node.weights)
        unrolled = n_post * np.count_nonzero(w) / max(w.shape[0], 1)
        row["cross_chip_synapses"] = int(round(unrolled * (1.0 - same)))
        routes = conv_dest_cores(blk.node, split.starts[blk.pre], split.starts[blk.post]).sum()
        row["cross_chip_routes"] = int(round(routes * (1.0 - same)))
        row["estimate"] = True
    return row


@dataclasses.dataclass
class ResourceReport(Report):
    """See the module docstring; build it with :func:`resource_report` or ``prog.resources()``."""

    json_indent = 1  # per-core lists: one value per line at most

    target: TargetSpec
    placement: Placement
    usage: Usage
    names: dict[str, str]  # compartment -> the user's layer name
    traffic: list[dict[str, Any]]

    @property
    def chip_of_core(self) -> np.ndarray:
        return np.asarray(self.placement.chip_of_core)

    def smallest_system(self) -> str | None:
        fits = [(n, s) for s, (n, _) in SYSTEMS.get(self.target.name, {}).items() if n >= self.placement.n_chips]
        return min(fits)[1] if fits else None

    def utilisation(self) -> dict[str, np.ndarray]:
        """Per core: value / limit for each of the four limits."""
        return {q: getattr(self.usage, q) / getattr(self.target, f) for q, f in LIMITS}

    def _states(self) -> np.ndarray:
        st = self.usage.state_bits
        return np.zeros(self.placement.n_cores, np.int64) if st is None else np.asarray(st)

    def _messages(self) -> np.ndarray:
        mb = self.usage.message_bits
        return np.zeros(self.placement.n_cores, np.int64) if mb is None else np.asarray(mb)

    def layer_rows(self) -> list[dict[str, Any]]:
        util = self.utilisation()
        rows = []
        for i, p in enumerate(self.usage.layers):
            mine = self.usage.layer == i
            rows.append({
                "layer": self.names.get(p, p), "population": p, "neurons": int(self.usage.neurons[mine].sum()),
                "cores": int(mine.sum()), "chips": sorted({int(c) for c in self.chip_of_core[mine]}),
                **{f"max_{q}_util": float(util[q][mine].max(initial=0.0)) for q, _ in LIMITS},
                "max_state_bits_util": float((self._states() / state_bits_limit(self.target))[mine].max(initial=0.0)),
                "message_bits": int(self._messages()[mine].max(initial=0)),
            })
        return rows

    def to_dict(self) -> dict[str, Any]:
        t = self.target
        return {
            "target": {"name": t.name, "system": t.system, "chips_per_system": t.chips_per_system,
                       "limits": {f: getattr(t, f) for _, f in LIMITS} | {"cores_per_chip": t.cores_per_chip,
                                                                           "neuron_state_bits": state_bits_limit(t)},
                       "sources": {k: list(v) for k, v in t.sources.items()}},
            "strategy": self.placement.strategy, "notes": list(self.placement.notes),
            "cores": self.placement.n_cores, "chips": self.placement.n_chips,
            "smallest_system": self.smallest_system(),
            "cross_chip_synapses": int(sum(r["cross_chip_synapses"] for r in self.traffic)),
            "cross_chip_routes": int(sum(r["cross_chip_routes"] for r in self.traffic)),
            "layers": self.layer_rows(),
            "per_core": {"layer": [self.usage.layers[i] for i in self.usage.layer],
                         "chip": self.chip_of_core.tolist(),
                         **{q: getattr(self.usage, q).tolist() for q, _ in LIMITS},
                         "state_bits": self._states().tolist(), "message_bits": self._messages().tolist()},
            "traffic": self.traffic,
        }

    def summary_line(self) -> str:
        util = self.utilisation()
        peak = {q: float(u.max(initial=0.0)) for q, u in util.items()}
        d = self.to_dict()
        return (f"resources: {d['cores']} cores on {d['chips']} chip(s) of {self.target.system} "
                f"({self.target.chips_per_system}; smallest system: {d['smallest_system'] or '-'}), "
                f"strategy {d['strategy']}; peak per core: neurons {100 * peak['neurons']:.0f}%, "
                f"synapse memory {100 * peak['synapse_bits']:.0f}%, axons in {100 * peak['axons_in']:.0f}% / "
                f"out {100 * peak['axons_out']:.0f}%{self._graded_summary()}; {d['cross_chip_synapses']} synapses "
                f"across chips")

    def _graded_summary(self) -> str:
        """", neuron state N%, graded payloads M bits" for a program with graded synapses."""
        msg = self._messages()
        if not msg.size or not msg.max():
            return ""
        state = float((self._states() / state_bits_limit(self.target)).max(initial=0.0))
        return f", neuron state {100 * state:.0f}%, graded payloads up to {int(msg.max())} bits"

    def text(self) -> str:
        d = self.to_dict()
        lines = [self.summary_line()]
        lines += [f"  note: {n}" for n in d["notes"]]
        lines.append(f"{'layer':<16} {'neurons':>9} {'cores':>6} {'chips':>9} {'neur%':>6} {'mem%':>6} "
                     f"{'in%':>6} {'out%':>6} {'state%':>6} {'msg':>4}")
        for r in d["layers"]:
            chips = r["chips"]
            span = "-" if not chips else (str(chips[0]) if len(chips) == 1 else f"{chips[0]}..{chips[-1]}")
            lines.append(f"{r['layer'][:16]:<16} {r['neurons']:>9} {r['cores']:>6} {span:>9} "
                         f"{100 * r['max_neurons_util']:>5.0f}% {100 * r['max_synapse_bits_util']:>5.0f}% "
                         f"{100 * r['max_axons_in_util']:>5.0f}% {100 * r['max_axons_out_util']:>5.0f}% "
                         f"{100 * r['max_state_bits_util']:>5.0f}% {r['message_bits']:>4}")
        lines.append(f"{'block':<16} {'kind':<7} {'synapses':>12} {'x-chip syn':>12} {'x-chip routes':>14}")
        for r in self.traffic:
            tag = " (host input)" if r.get("from_host") else (" (estimate)" if r["estimate"] else "")
            lines.append(f"{r['block'][:16]:<16} {r['kind']:<7} {r['synapses']:>12} "
                         f"{r['cross_chip_synapses']:>12} {r['cross_chip_routes']:>14}{tag}")
        graded = sorted({g for g, _ in self.target.sources.values()})
        lines.append(f"limits: {', '.join(f'{f}={getattr(self.target, f)}' for _, f in LIMITS)}, "
                     f"neuron_state_bits={state_bits_limit(self.target)} (state%: per-neuron state, 48 bits a "
                     f"LIF, 72 a sigma_delta; msg: graded payload bits in), "
                     f"cores_per_chip={self.target.cores_per_chip} (evidence: {', '.join(graded) or '-'}; "
                     f"see docs/mapping.md)")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike) -> Path:
        """Per-core utilisation of the four limits (PNG, matplotlib Agg), chip boundaries dashed."""
        util = self.utilisation()
        labels = {"neurons": "neurons", "synapse_bits": "synapse memory", "axons_in": "input axons",
                  "axons_out": "output axons"}
        from matplotlib.patches import Patch
        from matplotlib.ticker import MaxNLocator

        with figure(path, 4, 1, figsize=(10, 7), sharex=True) as (fig, axes):
            x = np.arange(self.placement.n_cores)
            edges = np.flatnonzero(np.diff(self.chip_of_core)) + 0.5
            for ax, (q, u) in zip(axes, util.items(), strict=True):
                ax.bar(x, 100 * u, width=1.0, color=[f"C{i % 10}" for i in self.usage.layer])
                ax.axhline(100, color="k", lw=0.8)
                for e in edges:
                    ax.axvline(e, color="grey", ls="--", lw=0.6)
                ax.set_ylabel(f"{labels[q]} %")
            axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # cores are whole numbers
            axes[-1].set_xlabel("core" + (" (dashed: chip boundary)" if len(edges) else ""))
            layers = [self.names.get(p, p) for p in self.usage.layers]
            handles = [Patch(color=f"C{i % 10}", label=name) for i, name in enumerate(layers)]
            axes[0].legend(handles=handles, title="layer", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                           fontsize="small", title_fontsize="small")
            axes[0].set_title(f"{self.target.name} / {self.target.system}: {self.placement.n_cores} cores, "
                              f"{self.placement.n_chips} chips ({self.placement.strategy})")
        return figure_path(path)

def resource_report(graph: Graph, placement: Placement, target: TargetSpec) -> ResourceReport:
    """Recompute the per-core usage of ``placement`` and the cross-chip traffic."""
    blocks = blocks_of(graph, target)
    split = split_of(placement)
    usage = evaluate(graph, blocks, split, target)
    chip = np.asarray(placement.chip_of_core)
    traffic = [_traffic(b, split, chip) for b in blocks]
    names = {p: (graph[p].source or p) for p in split.starts}
    return ResourceReport(target, placement, usage, names, traffic)

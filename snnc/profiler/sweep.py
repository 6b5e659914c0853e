"""Timestep sweep: accuracy and energy per inference for each T, to pick the smallest T that works.

For each ``T`` in the user's list the same compiled program runs on ``T`` input steps: static
inputs are rate-encoded for ``T`` steps by the program's encoder; spike inputs are cut to their
first ``T`` steps.  Accuracy (when ``labels`` are given) is the class with the most output
spikes (read-outs: the largest summed voltage) over the aligned output window::

    pred = argmax_k Σ_{t<T} y[b, t, k]          accuracy = mean(pred == labels)

The weights stay those compiled (threshold balancing, if any, was done for the compile-time T).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from snnc.errors import InputError
from snnc.profiler.coefficients import CoefficientSet
from snnc.profiler.profile import profile
from snnc.reporting import Report, figure, figure_path


@dataclasses.dataclass
class SweepResult(Report):
    timesteps: list[int]
    accuracy: list[float | None]
    energy_J: list[float]
    dynamic_J: list[float]
    static_J: list[float]
    latency_s: list[float]
    synops: list[float]
    coefficients: str

    def rows(self) -> list[dict[str, Any]]:
        return [dict(T=t, accuracy=a, energy_J=e, dynamic_J=d, static_J=s, latency_s=la, synops=so)
                for t, a, e, d, s, la, so in zip(self.timesteps, self.accuracy, self.energy_J, self.dynamic_J,
                                                 self.static_J, self.latency_s, self.synops, strict=True)]

    def smallest_t(self, target_accuracy: float) -> int | None:
        """The smallest T whose accuracy reaches ``target_accuracy`` (None if none does)."""
        ok = [t for t, a in zip(self.timesteps, self.accuracy, strict=True) if a is not None and a >= target_accuracy]
        return min(ok) if ok else None

    def text(self) -> str:
        lines = [f"timestep sweep ({self.coefficients})",
                 f"{'T':>5} {'accuracy':>9} {'energy/inf':>12} {'dynamic':>12} {'static':>12} {'latency':>10} {'SynOps':>10}"]
        for r in self.rows():
            acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
            lines.append(f"{r['T']:>5} {acc:>9} {r['energy_J'] * 1e6:>10.4g}uJ {r['dynamic_J'] * 1e6:>10.4g}uJ "
                         f"{r['static_J'] * 1e6:>10.4g}uJ {r['latency_s'] * 1e3:>8.4g}ms {r['synops']:>10.5g}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"coefficients": self.coefficients, "rows": self.rows()}

    def plot(self, path: str | os.PathLike) -> Path:
        """Energy per inference (bars: dynamic + static) and accuracy (line) against T, PNG."""
        with figure(path, figsize=(6, 4)) as (fig, ax):
            labels = [str(t) for t in self.timesteps]
            dyn = [v * 1e6 for v in self.dynamic_J]
            ax.bar(labels, dyn, label="dynamic")
            ax.bar(labels, [v * 1e6 for v in self.static_J], bottom=dyn, label="static")
            ax.set_xlabel("timesteps T")
            ax.set_ylabel("energy per inference (µJ)")
            if any(a is not None for a in self.accuracy):
                ax2 = ax.twinx()
                ax2.plot(labels, [np.nan if a is None else a for a in self.accuracy], "k-o", label="accuracy")
                ax2.set_ylabel("accuracy")
                ax2.set_ylim(0, 1.05)
            ax.legend(loc="upper left", fontsize=8)
            ax.set_title(f"accuracy and energy vs T ({self.coefficients})")
        return figure_path(path)

def _inputs_for(prog, x: np.ndarray, t: int) -> np.ndarray:
    if prog.encoder is not None and prog.encoder.is_static(x):
        return prog.encoder.encode(x, timesteps=t)
    if x.ndim < 2 or x.shape[1] < t:
        raise InputError(f"cannot sweep T={t}: the spike input has {x.shape[1] if x.ndim >= 2 else 0} steps",
                         hint="give T values up to the input's length, or static inputs to a program with an encoder")
    return x[:, :t]


def _predict(y: Any) -> np.ndarray:
    y = next(iter(y.values())) if isinstance(y, dict) else y
    return np.asarray(y, dtype=np.float64).sum(axis=1).reshape(y.shape[0], -1).argmax(axis=1)


def sweep_timesteps(prog, x: Any, labels: Any = None, timesteps: Sequence[int] = (8, 16, 32),
                    coefficients: "str | CoefficientSet" = "loihi2", *, backend: str = "emulator",
                    progress: bool | None = None) -> SweepResult:
    """Accuracy and energy per inference of ``prog`` on ``x`` for every T in ``timesteps``."""
    ts = [int(t) for t in timesteps]
    if not ts or any(t < 1 for t in ts):
        raise InputError(f"timesteps must be a non-empty list of integers >= 1, got {list(timesteps)!r}",
                         hint="e.g. timesteps=[8, 16, 32]")
    x = np.asarray(x)
    lab = None if labels is None else np.asarray(labels).reshape(-1)
    if lab is not None and lab.shape[0] != x.shape[0]:
        raise InputError(f"{lab.shape[0]} labels for {x.shape[0]} samples", hint="give one label per sample")
    res = SweepResult(ts, [], [], [], [], [], [], "")
    for t in ts:
        xs = _inputs_for(prog, x, t)
        rep = profile(prog, xs, coefficients, backend=backend, progress=progress)
        res.coefficients = rep.coefficients.label
        acc = None
        if lab is not None:
            acc = float(np.mean(_predict(prog.run(xs, backend=backend)) == lab))
        res.accuracy.append(acc)
        res.energy_J.append(rep.estimate.total_J)
        res.dynamic_J.append(rep.estimate.dynamic_J)
        res.static_J.append(rep.estimate.static_J)
        res.latency_s.append(rep.latency_s)
        res.synops.append(rep.synops)
    return res

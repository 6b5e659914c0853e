"""Cross-backend check: run one program on the emulator and on Lava and compare every layer."""

from __future__ import annotations

import dataclasses
import time

import numpy as np


@dataclasses.dataclass
class BackendComparison:
    """Per-layer agreement between two backends on the same input (raw chip time line)."""

    layers: dict[str, dict[str, int]]  # name -> {"spikes_a", "spikes_b", "mismatches"}
    samples: int
    steps: int
    seconds: dict[str, float]

    @property
    def agree(self) -> bool:
        return all(r["mismatches"] == 0 for r in self.layers.values())

    def text(self) -> str:
        lines = [
            f"emulator vs lava on {self.samples} samples x {self.steps} steps "
            f"(emulator {self.seconds['emulator']:.2f} s, lava {self.seconds['lava']:.2f} s):"
        ]
        for name, r in self.layers.items():
            state = "equal" if r["mismatches"] == 0 else f"{r['mismatches']} MISMATCHES"
            lines.append(f"  {name:<20} spikes {r['spikes_a']:>7} vs {r['spikes_b']:>7}  {state}")
        lines.append(
            "emulator and Lava agree: every layer's spikes are equal"
            if self.agree
            else "emulator and Lava DISAGREE (see the layers above)"
        )
        return "\n".join(lines)


def compare_backends(prog, x, timeout: float | None = None) -> BackendComparison:
    """Run ``x`` through ``prog`` on both backends and compare every compartment's raster."""
    seconds = {}
    raws = {}
    for backend in ("emulator", "lava"):
        t0 = time.perf_counter()
        raws[backend] = prog.run(x, backend=backend, timeout=timeout, return_raw=True)
        seconds[backend] = time.perf_counter() - t0
    a, b = raws["emulator"], raws["lava"]
    layers = {}
    for name in a.spikes:
        sa, sb = a.spikes[name], b.spikes[name]
        mism = int(np.count_nonzero(sa != sb))
        if name in a.v and name in b.v:
            mism += int(np.count_nonzero(a.v[name] != b.v[name]))
        label = prog.graph[name].source or name
        layers[label] = {"spikes_a": int(sa.sum()), "spikes_b": int(sb.sum()), "mismatches": mism}
    return BackendComparison(layers, int(np.asarray(x).shape[0]), a.steps, seconds)

"""Cross-backend check: run one program on the emulator and on Lava and compare every layer."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from snnc.backends.reference import simulate


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


def compare_backends(prog, x, timeout: float | None = None, progress: bool | None = None) -> BackendComparison:
    """Run ``x`` through ``prog`` on both backends and compare every compartment's raster.
    ``progress``: progress bars over the batch (``None``: when stderr is a terminal)."""
    seconds = {}
    raws = {}
    for backend in ("emulator", "lava"):
        t0 = time.perf_counter()
        raws[backend] = prog.run(x, backend=backend, timeout=timeout, return_raw=True, progress=progress)
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


@dataclasses.dataclass
class FloatComparison:
    """Compiled program (emulator) vs the float reference on the same input, per output."""

    outputs: dict[str, dict[str, float]]  # name -> {"agreement", "count_fixed", "count_float"}

    def text(self) -> str:
        lines = ["float reference vs fixed point (emulator), outputs aligned in time:"]
        for name, r in self.outputs.items():
            if "agreement" in r:
                lines.append(
                    f"  {name:<20} {100 * r['agreement']:.1f}% of spikes equal; spike count "
                    f"{int(r['count_fixed'])} fixed vs {int(r['count_float'])} float"
                )
            else:
                lines.append(f"  {name:<20} read-out RMS error {r['rms']:.4g} (float range {r['range']:.4g})")
        return "\n".join(lines)


def compare_float(graph, prog, x) -> FloatComparison:
    """Run the float reference of ``graph`` and the compiled ``prog`` (emulator) on ``x``."""
    conv = prog.convention
    ref = simulate(
        graph, x, dt=conv.dt, integration=conv.integration, spike_if=conv.spike_if,
        synapse_input=conv.synapse_input, reset=conv.reset, record=prog.outputs,
    )
    y = prog.run(x)
    y = y if isinstance(y, dict) else {prog.outputs[0]: y}
    out = {}
    for name in prog.outputs:
        a, b = y[name], ref[name]
        label = prog.graph[name].source or name
        if a.dtype == np.uint8:
            out[label] = {"agreement": float(np.mean(a == b)), "count_fixed": float(a.sum()), "count_float": float(b.sum())}
        else:
            out[label] = {"rms": float(np.sqrt(np.mean((a - b) ** 2))), "range": float(np.ptp(b))}
    return FloatComparison(out)

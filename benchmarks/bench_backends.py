"""Emulator vs Lava (fixed_pt) per-sample time, measured side by side in one run.

    .venv/bin/python benchmarks/bench_backends.py [--lava-samples 3] [--emu-samples 200]

Network: LIF MLP 784-256-256-10 in snnTorch's convention (β = 0.9, θ = 1), input Poisson
spikes at 10 % per step, T = 100.  Lava runs in its watchdog child process, one sample at a
time (process build + compile + run + stop per sample, as ``Program.run(backend="lava")``
does); the emulator runs the whole batch at once.  The first samples of both are checked for
bit-exact equality in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import snnc
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph

DT = 1e-4


def mlp(widths: list[int], seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    nodes: dict = {"in": ops.Input((widths[0],))}
    edges = []
    prev = "in"
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        tau = np.full(b, DT / 0.1)
        nodes[f"fc{i}"] = ops.Linear(rng.normal(0.02, 1.0, (b, a)) * 2.5 / np.sqrt(a))
        nodes[f"lif{i}"] = ops.LIF(tau, tau / DT, np.zeros(b), np.ones(b), np.zeros(b))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["out"] = ops.Output((widths[-1],))
    edges.append((prev, "out"))
    return Graph(nodes, edges)


def poisson(batch: int, steps: int, n: int, rate: float = 0.1, seed: int = 1) -> np.ndarray:
    """uint8 spikes (batch, steps, n) at ``rate``: ``rng.random(...) < rate`` drawn 32 samples
    at a time (the same samples as one call, without its float64 temporary)."""
    rng = np.random.default_rng(seed)
    x = np.empty((batch, steps, n), np.uint8)
    for lo in range(0, batch, 32):
        hi = min(lo + 32, batch)
        x[lo:hi] = rng.random((hi - lo, steps, n)) < rate
    return x


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB: ``VmHWM`` of /proc/self/status.

    Not ``ru_maxrss``: on Linux it survives fork + exec, so a child started by a big parent
    reports the parent's RSS (a child of a 1.5 GB parent that allocates nothing reports
    1533 MiB; measured).
    """
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lava-samples", type=int, default=3)
    ap.add_argument("--emu-samples", type=int, default=200)
    ap.add_argument("--steps", type=int, default=100)
    a = ap.parse_args()
    prog = snnc.compile(mlp([784, 256, 256, 10]))
    rng = np.random.default_rng(1)
    x = (rng.random((max(a.emu_samples, a.lava_samples), a.steps, 784)) < 0.1).astype(np.uint8)

    t0 = time.perf_counter()
    y_emu = prog.run(x[: a.emu_samples], return_raw=True)
    t_emu = (time.perf_counter() - t0) / a.emu_samples

    t0 = time.perf_counter()
    y_lava = prog.run(x[: a.lava_samples], backend="lava", return_raw=True)
    t_lava = (time.perf_counter() - t0) / a.lava_samples

    exact = all(
        np.array_equal(y_emu.spikes[k][: a.lava_samples], y_lava.spikes[k]) for k in y_lava.spikes
    )
    rates = {k: float(v.mean()) for k, v in y_emu.spikes.items()}
    print(f"network 784-256-256-10 LIF, T={a.steps}, input rate 10%, layer rates "
          + ", ".join(f"{k} {100 * r:.1f}%" for k, r in rates.items()))
    print(f"emulator: {a.emu_samples} samples, {1e3 * t_emu:.2f} ms/sample")
    print(f"lava    : {a.lava_samples} samples, {1e3 * t_lava:.1f} ms/sample (incl. build, compile, child process)")
    print(f"ratio   : emulator is {t_lava / t_emu:.0f}x faster per sample; bit-exact on the first "
          f"{a.lava_samples} samples: {exact}")


if __name__ == "__main__":
    main()

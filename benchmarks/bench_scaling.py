"""How emulator cost grows with width, depth and batch, next to Lava, measured in one run.

    .venv/bin/python benchmarks/bench_scaling.py [--samples 256] [--steps 100]

LIF MLPs from bench_backends.py (input 784 at 10 %, T = 100).  Part 1 varies the hidden
width (256 → 4096, 2 hidden layers) and the depth (2 → 9 hidden layers of 256); for each it
prints the emulator's ms/sample over ``--samples`` samples, Lava's steady-state ms/sample
(one in-process run, compile excluded, as in bench_emulator.py), their ratio, and the
emulator's growth relative to the smallest network.  Part 2 varies the batch (1 → 4096) on
784-256-256-10 and prints ms/sample and peak RSS of a fresh child process per batch size.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from bench_backends import mlp  # noqa: E402
from bench_emulator import lava_steady  # noqa: E402

import snnc  # noqa: E402


def emulator_ms(prog, x, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        prog.run(x)
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best / x.shape[0]


def batch_child(batch: int, steps: int) -> dict:
    prog = snnc.compile(mlp([784, 256, 256, 10]))
    x = (np.random.default_rng(1).random((batch, steps, 784)) < 0.1).astype(np.uint8)
    prog.run(x[:1])  # warm-up: imports, thread pool
    ms = emulator_ms(prog, x)
    return {"batch": batch, "ms": ms, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--child-batch", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_batch:
        print(json.dumps(batch_child(a.child_batch, a.steps)))
        return

    rng = np.random.default_rng(1)
    x = (rng.random((a.samples, a.steps, 784)) < 0.1).astype(np.uint8)
    configs = [("width", w, [784, w, w, 10]) for w in (256, 1024, 4096)]
    configs += [("depth", d, [784] + [256] * d + [10]) for d in (2, 5, 9)]
    print(f"part 1: emulator ({a.samples} samples) vs Lava steady state (1 sample), T={a.steps}")
    print(f"{'vary':<6} {'value':>5} {'neurons':>8} {'synapses':>10} {'emu ms/s':>9} {'lava ms/s':>10} {'ratio':>7} {'emu growth':>10}")
    base = None
    for kind, value, widths in configs:
        prog = snnc.compile(mlp(widths))
        st = prog.stats()
        prog.run(x[:1])
        emu = emulator_ms(prog, x)
        steps = a.steps + max(prog.latency.values())
        s_per_step, _, _ = lava_steady(prog, x[0], steps)
        lava = 1e3 * s_per_step * steps
        base = base or emu
        print(f"{kind:<6} {value:>5} {st['neurons']:>8} {st['synapses']:>10} {emu:>9.3f} {lava:>10.1f} "
              f"{lava / emu:>6.0f}x {emu / base:>9.1f}x")
    print("part 2: batch size on 784-256-256-10 (fresh process per batch)")
    print(f"{'batch':>6} {'ms/sample':>10} {'peak RSS MiB':>13}")
    for batch in (1, 16, 256, 1024, 4096):
        out = subprocess.run([sys.executable, __file__, "--child-batch", str(batch), "--steps", str(a.steps)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['batch']:>6} {r['ms']:>10.3f} {r['rss_mib']:>13.0f}")


if __name__ == "__main__":
    main()

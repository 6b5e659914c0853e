"""How emulator cost grows with width, depth and batch, next to Lava, measured in one run.

    .venv/bin/python benchmarks/bench_scaling.py [--samples 256] [--steps 100]

LIF MLPs from bench_backends.py (input 784 at 10 %, T = 100).  Part 1 varies the hidden
width (256 → 4096, 2 hidden layers) and the depth (2 → 9 hidden layers of 256); for each it
prints the emulator's ms/sample over ``--samples`` samples, Lava's steady-state ms/sample
(one in-process run, compile excluded, as in bench_emulator.py), their ratio, and the
emulator's growth relative to the smallest network.  Part 2 varies the batch (1 → 4096) on
784-256-256-10 and prints ms/sample and the RSS of a fresh child process per batch size (after
compiling, after a warm-up run, the input's size, and the peak: ``VmHWM``, not ``ru_maxrss``,
which a child inherits from its parent on Linux).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from bench_backends import mlp, peak_rss_mib, poisson  # noqa: E402
from bench_emulator import lava_steady  # noqa: E402

import snnc  # noqa: E402


def emulator_ms(prog, x, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        prog.run(x)
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best / x.shape[0]


def current_rss_mib() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20


def batch_child(batch: int, steps: int) -> dict:
    prog = snnc.compile(mlp([784, 256, 256, 10]))
    rss_compiled = current_rss_mib()
    x = poisson(batch, steps, 784)
    prog.run(x[: min(batch, 8)])  # warm-up: imports (torch for the fast path), thread pool
    rss_warm = current_rss_mib()
    ms = emulator_ms(prog, x)
    return {"batch": batch, "ms": ms, "rss_mib": peak_rss_mib(), "compiled_mib": rss_compiled,
            "warm_mib": rss_warm, "x_mib": x.nbytes / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--child-batch", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_batch:
        print(json.dumps(batch_child(a.child_batch, a.steps)))
        return

    x = poisson(a.samples, a.steps, 784)
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
    print(f"{'batch':>6} {'ms/sample':>10} {'compiled':>9} {'warm':>6} {'input x':>8} {'peak RSS':>9}  (MiB)")
    for batch in (1, 16, 256, 1024, 4096):
        out = subprocess.run([sys.executable, __file__, "--child-batch", str(batch), "--steps", str(a.steps)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['batch']:>6} {r['ms']:>10.3f} {r['compiled_mib']:>9.0f} {r['warm_mib']:>6.0f} "
              f"{r['x_mib']:>8.0f} {r['rss_mib']:>9.0f}")
    print("compiled: RSS after imports + snnc.compile; warm: after a first run of up to 8 samples "
          "(the fast path imports torch); peak: VmHWM of the child")


if __name__ == "__main__":
    main()

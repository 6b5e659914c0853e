"""The emulator of an older commit vs the working tree's, alternating in one run.

    .venv/bin/python benchmarks/bench_before_after.py --rev 939c0c9 [--widths 256,1024] [--samples 256]

Exports ``snnc/`` of ``--rev`` (``git archive``) into a temporary directory; then, per width,
times ``emulator.run`` of 784-W-W-10 (T = 100, 10 % input) in child processes that import
either version, alternating before/after twice, and keeps the best of 2 runs per child.  Both
sides see the same machine load, so the ratio is fair when absolute times are not.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def child(width: int, samples: int) -> dict:
    sys.path.insert(0, str(HERE))
    from bench_backends import mlp, poisson

    import snnc
    from snnc.backends import emulator

    prog = snnc.compile(mlp([784, width, width, 10]))
    x = poisson(samples, 100, 784)
    steps = 100 + max(prog.latency.values())
    emulator.run(prog.graph, x[:16], steps)  # warm-up: imports, threads
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        emulator.run(prog.graph, x, steps)
        best = min(best, time.perf_counter() - t0)
    return {"ms": 1e3 * best / samples, "snnc": snnc.__file__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="939c0c9")
    ap.add_argument("--widths", default="256,1024,4096")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.samples)))
        return
    with tempfile.TemporaryDirectory(prefix="snnc-before-") as old:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", a.rev, "snnc"], capture_output=True,
                             check=True).stdout
        subprocess.run(["tar", "-x", "-C", old], input=tar, check=True)
        print(f"emulator.run, 784-W-W-10, {a.samples} samples, T=100: {a.rev} vs working tree")
        for w in (int(v) for v in a.widths.split(",")):
            res: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(2):
                for ver, path in (("before", old), ("after", str(ROOT))):
                    env = dict(os.environ, PYTHONPATH=path)
                    out = subprocess.run([sys.executable, __file__, "--child", str(w), "--samples",
                                          str(a.samples)], env=env, capture_output=True, text=True,
                                         check=True)
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    assert r["snnc"].startswith(path), r  # the intended version was imported
                    res[ver].append(r["ms"])
            b, n = min(res["before"]), min(res["after"])
            print(f"784-{w}-{w}-10: before {b:.3f} ms/sample, after {n:.3f} ms/sample -> {b / n:.1f}x "
                  f"faster (runs: {', '.join(f'{v:.2f}' for v in res['before'])} / "
                  f"{', '.join(f'{v:.2f}' for v in res['after'])})", flush=True)


if __name__ == "__main__":
    main()

"""Emulator throughput on whole test sets vs Lava fixed_pt, measured side by side in one run.

    .venv/bin/python benchmarks/bench_emulator.py [--samples 1000] [--lava-samples 3]

Network: the LIF MLP 784-256-256-10 of bench_backends.py (snnTorch convention, β = 0.9,
θ = 1), Poisson input at 10 % per step, T = 100.  Reported:

* emulator: ``Program.run`` on ``--samples`` samples at once (samples/s, ms/sample), peak
  RSS of this process (``resource.getrusage``, so it includes Lava's imports when they
  come first: the emulator runs first);
* Lava, compile included: ``Program.run(x, backend="lava")`` per sample (watchdog child,
  build + compile + run + stop);
* Lava, compile excluded: one sample built with ``snnc.backends.lava.to_lava`` in this
  process; its run is split into a short first segment (compile + start + the start-step
  segments) and the remaining steps, timed alone: steady-state s/step × steps;
* bit-exactness of the emulator against both Lava runs on the Lava samples.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from bench_backends import mlp  # noqa: E402

import snnc  # noqa: E402


def lava_steady(prog, x_sample, steps: int, warm: int = 5):
    """(s/step steady state, first-segment s, spikes) of one in-process Lava run."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from snnc.backends.lava import to_lava

    net = to_lava(prog.graph, x_sample, steps)
    assert len(net.parts) == 1
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    anchor = next(iter(net.compartments.values()))
    bounds = sorted({k for k, _ in net.starts.values() if 0 < k < steps})
    first = max([*bounds, warm]) + 1
    t = 0
    seg = {}
    try:
        for b in [*bounds, first, steps]:
            if b <= t:
                continue
            t0 = time.perf_counter()
            anchor.run(condition=RunSteps(num_steps=b - t), run_cfg=cfg)
            seg[(t, b)] = time.perf_counter() - t0
            t = b
            for c, (k, values) in net.starts.items():
                if k == b:
                    for var, value in values.items():
                        getattr(net.compartments[c], var).set(value)
        spikes = {c: np.asarray(s.data.get()).T != 0 for c, s in net.sinks.items()}
    finally:
        anchor.stop()
    steady = seg[(first, steps)] / (steps - first)
    head = sum(v for k, v in seg.items() if k != (first, steps))
    return steady, head, spikes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--lava-samples", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3, help="emulator timings (best is kept)")
    ap.add_argument("--before-samples", type=int, default=200,
                    help="samples for the generic engine (fast path off): the 'before' number")
    a = ap.parse_args()
    t0 = time.perf_counter()
    prog = snnc.compile(mlp([784, 256, 256, 10]))
    t_compile = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    x = (rng.random((a.samples, a.steps, 784)) < 0.1).astype(np.uint8)

    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        y_emu = prog.run(x, return_raw=True)
        times.append(time.perf_counter() - t0)
    t_emu = min(times) / a.samples
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    raw_steps = y_emu.steps

    from snnc.backends import emulator
    from snnc.backends.emulator import fast

    eng = []
    for _ in range(a.repeats):  # the engine alone: without Program.run's input check/copy
        t0 = time.perf_counter()
        emulator.run(prog.graph, x, raw_steps)
        eng.append(time.perf_counter() - t0)
    t_eng = min(eng) / a.samples

    nb = min(a.before_samples, a.samples)
    fast.ENABLED = False
    try:
        t0 = time.perf_counter()
        y_gen = prog.run(x[:nb], return_raw=True)
        t_gen = (time.perf_counter() - t0) / nb
    finally:
        fast.ENABLED = True
    same_gen = all(np.array_equal(y_emu.spikes[k][:nb], y_gen.spikes[k]) for k in y_gen.spikes)

    n = a.lava_samples
    t0 = time.perf_counter()
    y_lava = prog.run(x[:n], backend="lava", return_raw=True)
    t_lava_incl = (time.perf_counter() - t0) / n
    exact = all(np.array_equal(y_emu.spikes[k][:n], y_lava.spikes[k]) for k in y_lava.spikes)

    steady, head, sp0 = lava_steady(prog, x[0], raw_steps)
    exact_inproc = all(np.array_equal(y_emu.spikes[k][0], sp0[k]) for k in sp0)
    t_lava_excl = steady * raw_steps

    rates = ", ".join(f"{k} {100 * float(v.mean()):.1f}%" for k, v in y_emu.spikes.items())
    print(f"network 784-256-256-10 LIF, T={a.steps} ({raw_steps} raw steps), input rate 10%, "
          f"layer rates {rates}; snnc.compile {t_compile:.2f} s")
    print(f"emulator          : {a.samples} samples in {min(times):.3f} s (best of "
          f"{a.repeats}: {', '.join(f'{t:.3f}' for t in times)}) = "
          f"{a.samples / min(times):.0f} samples/s, {1e3 * t_emu:.3f} ms/sample; "
          f"peak RSS {rss_mb:.0f} MiB")
    print(f"emulator.run only : {1e3 * t_eng:.3f} ms/sample (best of {a.repeats}; Program.run "
          f"adds {1e3 * (t_emu - t_eng):.3f} ms/sample of input checks)")
    print(f"generic engine    : {nb} samples, {1e3 * t_gen:.3f} ms/sample (fast path off: "
          f"the 'before'); fast path {t_gen / t_emu:.1f}x faster, same spikes: {same_gen}")
    print(f"lava incl. compile: {n} samples, {1e3 * t_lava_incl:.1f} ms/sample "
          "(Program.run: child process, build, compile, run, stop)")
    print(f"lava excl. compile: {1 / steady:.0f} steps/s steady state "
          f"-> {1e3 * t_lava_excl:.1f} ms per {raw_steps}-step sample "
          f"(first segment incl. compile {head:.2f} s)")
    print(f"bit-exact: emulator == Program.run(lava) on {n} samples: {exact}; "
          f"== in-process Lava on sample 0: {exact_inproc}")
    print(f"ratio: emulator {t_lava_excl / t_emu:.0f}x faster than Lava compile excluded, "
          f"{t_lava_incl / t_emu:.0f}x compile included (target >= 300x); engine alone "
          f"{t_lava_excl / t_eng:.0f}x / {t_lava_incl / t_eng:.0f}x")
    if not (exact and exact_inproc and same_gen):
        raise SystemExit("emulator and Lava differ")


if __name__ == "__main__":
    main()

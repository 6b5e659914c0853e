"""Emulator throughput on whole test sets vs Lava fixed_pt, measured side by side in one run.

    .venv/bin/python benchmarks/bench_emulator.py [--samples 1000] [--lava-samples 3]
    .venv/bin/python benchmarks/bench_emulator.py --profile 256,1024,4096   # where the time goes

Network: the LIF MLP 784-256-256-10 of bench_backends.py (snnTorch convention, β = 0.9,
θ = 1), Poisson input at 10 % per step, T = 100.  Reported:

* emulator: ``Program.run`` on ``--samples`` samples at once (samples/s, ms/sample), peak
  RSS of this process at that point (``VmHWM``: the input, the compiled program, torch);
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
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from bench_backends import mlp, peak_rss_mib, poisson  # noqa: E402

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


#: kernel rows of the profile: (label, function name, "tt" self time | "ct" with callees | caller)
KERNELS = [
    ("input layer sums (step tiles: transpose, int8 matmul, shifts)", "at", "ct"),
    ("hidden layer sums (int8 matmul per step, shifts)", "_block_sums", "_run_chunk"),
    ("compartment update (decay, add, clip, threshold, reset)", "_lif_step", "ct"),
    ("time loop, v records, spike transposes", "_run_chunk", "tt"),
    ("input to bool spikes (spike_array)", "spike_array", "ct"),
    ("input checks (Program._check_input, validate_input)", ("_check_input", "validate_input"), "ct"),
    ("plan (cached per Synapse after the first run)", "plan", "ct"),
]


def profile_table(widths: list[int], samples: int, steps: int) -> None:
    """Where the time goes: cProfile of Program.run per kernel, one thread (cProfile sees the
    main thread only; the chunks' work is the same on each thread)."""
    import cProfile
    import pstats

    from snnc.backends.emulator import fast

    threads = fast.THREADS
    fast.THREADS = 1
    x = poisson(samples, steps, 784)
    rows = {}
    try:
        for w in widths:
            prog = snnc.compile(mlp([784, w, w, 10]))
            prog.run(x)  # warm: torch import, plan cache
            t0 = time.perf_counter()
            prog.run(x)
            wall = time.perf_counter() - t0
            pr = cProfile.Profile()
            pr.runcall(prog.run, x)
            st = pstats.Stats(pr).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
            total = sum(v[2] for v in st.values())
            col = []
            for _, names, how in KERNELS:
                names = (names,) if isinstance(names, str) else names
                t = 0.0
                for (_, _, fn), (cc, nc, tt, ct, callers) in st.items():
                    if fn not in names:
                        continue
                    if how == "tt":
                        t += tt
                    elif how == "ct":
                        t += ct
                    else:
                        t += sum(v[3] for (_, _, caller), v in callers.items() if caller == how)
                col.append(t)
            col.append(total - sum(col))
            rows[w] = (col, total, wall)
    finally:
        fast.THREADS = threads
    labels = [k[0] for k in KERNELS] + ["other (Program.run decode, Python)"]
    print(f"cProfile of Program.run, 784-W-W-10 LIF, {samples} samples, T={steps}, one thread")
    print("| kernel | " + " | ".join(f"W={w}" for w in widths) + " |")
    print("|---|" + "---|" * len(widths))
    for i, lab in enumerate(labels):
        print(f"| {lab} | " + " | ".join(f"{100 * rows[w][0][i] / rows[w][1]:.0f} %" for w in widths) + " |")
    print("| **total (profiled) / wall without profiler** | " + " | ".join(
        f"{rows[w][1]:.2f} s / {rows[w][2]:.2f} s" for w in widths) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default=None, metavar="W,W,...",
                    help="only print the per-kernel profile of 784-W-W-10 for these widths")
    ap.add_argument("--profile-samples", type=int, default=256)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--lava-samples", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3, help="emulator timings (best is kept)")
    ap.add_argument("--before-samples", type=int, default=200,
                    help="samples for the generic engine (fast path off): the 'before' number")
    a = ap.parse_args()
    if a.profile:
        profile_table([int(w) for w in a.profile.split(",")], a.profile_samples, a.steps)
        return
    t0 = time.perf_counter()
    prog = snnc.compile(mlp([784, 256, 256, 10]))
    t_compile = time.perf_counter() - t0
    x = poisson(a.samples, a.steps, 784)

    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        y_emu = prog.run(x, return_raw=True)
        times.append(time.perf_counter() - t0)
    t_emu = min(times) / a.samples
    rss_mb = peak_rss_mib()
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

"""Energy per inference of the example MLP (examples/mlp.nir) vs an ANN of the same shape, and the
profiler's cost next to a plain run.

    .venv/bin/python benchmarks/bench_energy.py [--batch 256] [--repeats 3]

Prints, per coefficient set (the activity-driven ``loihi2`` = ``loihi2_activity2026``, the former
``loihi2_intel2024`` with PilotNet's 152.9 us step as a floor, and Loihi 1), the Loihi device-model
estimate per inference (dynamic, static, latency, step time and what bounds it), then the Horowitz-45nm op-count proxies (ANN MACs × 4.6 pJ vs SNN SynOps × 0.9 pJ)
for an ANN 64-48-10 (the MLP's layer sizes; the example has no trained teacher), and the wall
time of ``prog.profile`` (every layer recorded + counting) vs ``prog.run`` (outputs only) on the
same input, measured in this run.  Inputs: the example's 4 samples tiled to ``--batch`` with
fresh Bernoulli(rate of the example) spikes (seed 0).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    import torch

    import snnc
    from snnc.profiler.ann import AC_FP32_PJ, MAC_FP32_PJ

    prog = snnc.compile("examples/mlp.nir", target="loihi2")
    x0 = np.load("examples/mlp_input.npz")["x"]
    x = (np.random.default_rng(0).random((a.batch,) + x0.shape[1:]) < x0.mean()).astype(np.uint8)
    teacher = torch.nn.Sequential(torch.nn.Linear(64, 48), torch.nn.ReLU(), torch.nn.Linear(48, 10))
    print(f"example MLP 64-48-10, {a.batch} samples x {x.shape[1]} steps, input rate {x.mean():.3f}")
    print(f"{'coefficients':<26} {'E/inf':>10} {'dynamic':>10} {'static':>10} {'range':>22} {'latency':>10} "
          f"{'step':>9} {'SynOps':>8}  bound by")
    reps = {}
    for co in ("loihi2", "loihi2_intel2024", "loihi1", "loihi1_sanafe2025"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = prog.profile(x, coefficients=co, teacher=teacher, teacher_input=np.zeros((1, 64)))
        reps[co] = r
        e = r.estimate
        bound = ", ".join(f"{k} {v:.0%}" for k, v in list(e.times.bound_by().items())[:2])
        print(f"{r.coefficients.label:<26} {e.total_J * 1e6:>8.4g}uJ {e.dynamic_J * 1e6:>8.4g}uJ "
              f"{e.static_J * 1e6:>8.4g}uJ {r.low.total_J * 1e6:>9.3g}..{r.high.total_J * 1e6:<9.3g}uJ "
              f"{e.latency_s * 1e3:>8.4g}ms {e.step_time_s * 1e6:>7.4g}us {r.synops:>8.0f}  {bound}")
    ann = reps["loihi2"].ann
    print(f"ANN proxy: {ann.macs.macs} MACs x {MAC_FP32_PJ} pJ = {ann.ann_proxy_J * 1e9:.4g} nJ; "
          f"SNN proxy: {ann.snn_synops:.0f} SynOps x {AC_FP32_PJ} pJ = {ann.snn_proxy_J * 1e9:.4g} nJ; "
          f"proxy ratio ANN/SNN = {ann.ann_proxy_J / ann.snn_proxy_J:.3g} (45 nm op counts, not devices)")
    for co, r in reps.items():
        print(f"device model ({co}) / ANN proxy: {r.estimate.total_J / ann.ann_proxy_J:.3g}x "
              f"(a Loihi chip-level estimate over a 45 nm op count: different models)")

    def best(f):
        ts = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return min(ts)

    import os
    print(f"load average {os.getloadavg()[0]:.2f}")
    t_run = best(lambda: prog.run(x, progress=False))
    t_prof = best(lambda: prog.profile(x, progress=False))
    print(f"wall time (best of {a.repeats}): run {t_run * 1e3:.1f} ms, profile {t_prof * 1e3:.1f} ms, "
          f"ratio profile/run {t_prof / t_run:.2f}")


if __name__ == "__main__":
    main()

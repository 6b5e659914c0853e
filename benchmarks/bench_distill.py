"""Distillation benchmark: one table per task -- teacher, CE student, KD arms, >= 3 seeds.

    .venv/bin/python benchmarks/bench_distill.py --task digits            # the table of docs/benchmarks.md
    .venv/bin/python benchmarks/bench_distill.py --task digits --quick    # a smoke run (1 seed, tiny)

Per seed one teacher (trained once, shared by the arms), then one student per arm, trained in
float for ``--epochs`` and ``--qat-epochs`` in QAT mode (the registers of ``snnc compile``),
exported to NIR, compiled for loihi2 and run on the bit-exact emulator.  Per arm and seed:

* accuracy (%, mean ± sd over seeds) of the float forward, of the QAT forward and deployed (emulator, fixed point);
  QAT = deployed is the bit-exactness claim, checked here on every student;
* spikes per inference (every population, every step, on the emulator) and the profiler's
  energy per inference (``Program.profile``, its current model);
* wall time of training + deployment (s).

Arms: ``ce`` (CE only, no teacher), ``kd`` (CE + τ²·KL, τ = 1), ``feature`` (kd + MSE of the
last hidden layer's rate, through an affine projector, onto the teacher's last hidden ReLU),
``feature_affine`` (the same with an ``AffineDecoder`` LN(W·r + b) on the tap).

Noise: for each arm the per-seed difference to ``ce`` (same seed, same teacher) is tested
with a paired t-test (two-sided, 95 %, n − 1 degrees of freedom); a difference whose
interval contains 0 is reported "within noise".  One digits test image is 0.28 pp.

Writes ``--json`` (every row, the settings and the load) and ``--md`` (the table);
``load`` is ``os.getloadavg()``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

import torch

from snnc.distill.deploy import evaluate
from snnc.distill.experiment import default_threads, distil, parser, spec
from snnc.distill.trainer import train_teacher

ARMS = {  # arm -> (loss family, tap decoder)
    "ce": ("ce", "rate"),
    "kd": ("kd", "rate"),
    "feature": ("feature", "rate"),
    "feature_affine": ("feature", "affine"),
}


def _args(opts, seed: int) -> argparse.Namespace:
    a = parser("").parse_args([])
    a.__dict__.update(dataset=opts.task, seed=seed, hidden=opts.hidden, epochs=opts.epochs, timesteps=opts.timesteps,
                      teacher_epochs=opts.teacher_epochs, qat_epochs=opts.qat_epochs, student=opts.student,
                      channels=opts.channels, teacher=opts.teacher, tau=opts.tau)
    return a


def run_seed(opts, seed: int, data) -> list[dict]:
    sp = spec(opts.task, opts.student, opts.teacher)
    args = _args(opts, seed)
    xtr, ytr, xte, yte = data
    t0 = time.perf_counter()
    teacher = train_teacher(sp["make_teacher"], sp["teacher_input"](xtr), ytr, epochs=opts.teacher_epochs,
                            seed=seed, progress=False, **sp["teacher_opts"])
    t_acc = evaluate(teacher, sp["teacher_input"](xte), yte)["acc"]
    rows = [{"arm": "teacher", "seed": seed, "float": round(t_acc, 2), "qat": None, "deployed": None,
             "spikes": None, "energy_j": None, "seconds": round(time.perf_counter() - t0, 1)}]
    for arm in opts.arms:
        args.loss, args.decoder = ARMS[arm]
        r = distil(args, data, teacher, t_acc, sp["teacher_input"], sp["make_student"], sp["pairs"],
                   student_input=sp["student_input"])
        rows.append({"arm": arm, "seed": seed, "float": r["student_float_acc"], "qat": r["student_qat_acc"],
                     "deployed": r["student_fixed_acc"], "spikes": r["spikes_per_inference"],
                     "energy_j": r["energy_per_inference_j"], "seconds": r["seconds"],
                     "load": os.getloadavg()[0]})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _ms(v, nd=2) -> str:
    v = [x for x in v if x is not None]
    if not v:
        return "—"
    if len(v) == 1:
        return f"{v[0]:.{nd}f}"
    return f"{statistics.mean(v):.{nd}f} ± {statistics.stdev(v):.{nd}f}"


def paired(deltas: list[float]) -> tuple[float, float | None, bool]:
    """(mean Δ, 95 % half-width, within noise) of per-seed paired differences."""
    m = statistics.mean(deltas)
    if len(deltas) < 2:
        return m, None, True
    from scipy.stats import t as student_t

    sd = statistics.stdev(deltas)
    half = float(student_t.ppf(0.975, len(deltas) - 1)) * sd / len(deltas) ** 0.5
    return m, half, abs(m) <= half


def table(opts, rows: list[dict], load) -> str:
    seeds = sorted({r["seed"] for r in rows})
    by = {(r["arm"], r["seed"]): r for r in rows}
    te = [by["teacher", s]["float"] for s in seeds]
    head = (f"**{opts.task}**: {opts.teacher} teacher ({_ms(te)} %, {opts.teacher_epochs} epochs), "
            f"{opts.student} student "
            f"{opts.hidden}-{opts.hidden}, T = {opts.timesteps}, {opts.epochs} float + {opts.qat_epochs} QAT "
            f"epochs, seeds {seeds}, {opts.threads} threads, load (1/5/15 min) before "
            f"{', '.join(f'{x:.2f}' for x in load)}\n\n")
    lines = ["| arm | float % | QAT % | deployed % (emulator) | QAT = deployed | Δ deployed vs ce, pp: mean "
             "± 95 % CI half-width (per seed) | vs ce (paired t-test) | spikes / inference | "
             "energy / inference (µJ, profiler) | wall s (train + deploy) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines.append(f"| teacher | {_ms(te)} | — | — | — | — | — | — | — | "
                 f"{_ms([by['teacher', s]['seconds'] for s in seeds], 1)} |")
    for arm in opts.arms:
        rs = [by[arm, s] for s in seeds]
        dep = [r["deployed"] for r in rs]
        same = all(r["qat"] == r["deployed"] for r in rs) if opts.qat_epochs else None
        if arm == "ce" or "ce" not in opts.arms:
            delta, verdict = "—", "—"
        else:
            d = [r["deployed"] - by["ce", s]["deployed"] for r, s in zip(rs, seeds)]
            m, half, noise = paired(d)
            hw = "" if half is None else f" ± {half:.2f}"
            delta = f"{m:+.2f}{hw} ({', '.join(f'{x:+.2f}' for x in d)})"
            if half is None:
                verdict = "n/a (1 seed)"
            else:
                verdict = "within noise" if noise else ("better" if m > 0 else "worse")
                verdict += f" ({sum(x > 0 for x in d)} up, {sum(x < 0 for x in d)} down of {len(d)})"
        energy = [None if r["energy_j"] is None else r["energy_j"] * 1e6 for r in rs]
        lines.append(f"| {arm} | {_ms([r['float'] for r in rs])} | {_ms([r['qat'] for r in rs])} | {_ms(dep)} | "
                     f"{'—' if same is None else ('yes' if same else 'NO')} | {delta} | {verdict} | "
                     f"{_ms([r['spikes'] for r in rs], 0)} | {_ms(energy, 1)} | "
                     f"{_ms([r['seconds'] for r in rs], 1)} |")
    return head + "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=["digits", "mnist1d"], default="digits")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--teacher", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--student", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--channels", type=int, nargs="+", default=[8])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--timesteps", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--qat-epochs", type=int, default=1)
    p.add_argument("--teacher-epochs", type=int, default=40)
    p.add_argument("--tau", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=default_threads())
    p.add_argument("--quick", action="store_true", help="1 seed, 2 epochs, 5 teacher epochs: a smoke run")
    p.add_argument("--json", default=None, help="default out/bench_distill_<task>.json")
    p.add_argument("--md", default=None, help="default out/bench_distill_<task>.md")
    opts = p.parse_args(argv)
    if opts.quick:
        opts.seeds, opts.epochs, opts.teacher_epochs = opts.seeds[:1], min(opts.epochs, 2), min(opts.teacher_epochs, 5)
    torch.set_num_threads(opts.threads)
    load = os.getloadavg()
    t0 = time.perf_counter()
    data = spec(opts.task)["load"]()
    rows = [r for s in opts.seeds for r in run_seed(opts, s, data)]
    wall = time.perf_counter() - t0
    md = table(opts, rows, load) + f"\nTotal wall time {wall:.0f} s; load after {os.getloadavg()[0]:.2f}.\n"
    print(md)
    out = {"settings": {k: v for k, v in vars(opts).items() if k not in ("json", "md")}, "load_before": load,
           "load_after": os.getloadavg(), "wall_s": round(wall, 1), "rows": rows, "markdown": md}
    for path, text in ((opts.json or f"out/bench_distill_{opts.task}.json", json.dumps(out, indent=1)),
                       (opts.md or f"out/bench_distill_{opts.task}.md", md)):
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(path).write_text(text)
    return out


if __name__ == "__main__":
    main()

"""Distillation benchmark: arms × seeds on one dataset, one teacher per seed, a Markdown table.

    .venv/bin/python examples/distill_sweep.py --dataset digits --seeds 0 1 2 \\
        --arms ce kd:1 kd:4 kd_step:1 twoway:1 --hidden 16 --epochs 20 --jobs 2 --out digits.jsonl

An arm is ``family[:tau[:alpha]]``.  Every row is one deployed student (float accuracy, the
emulator's fixed-point accuracy, spikes per inference); the table gives mean ± sd over seeds.
"""

import argparse
import json
import multiprocessing as mp
import statistics

import torch

from snnc.distill.experiment import (
    STUDENTS,
    TEACHERS,
    default_threads,
    distil,
    parser,
    prepare_teacher,
    spec,
)


def _seed_job(job):
    opts, seed = job
    torch.set_num_threads(max(1, opts.threads // max(1, opts.jobs)))
    sp = spec(opts.dataset, opts.student, opts.teacher)
    data = sp["load"]()
    args = parser("").parse_args([])
    args.__dict__.update(dataset=opts.dataset, seed=seed, hidden=opts.hidden, epochs=opts.epochs,
                         timesteps=opts.timesteps, teacher_epochs=opts.teacher_epochs, qat_epochs=opts.qat_epochs,
                         student=opts.student, channels=opts.channels, teacher=opts.teacher)
    teacher, acc = prepare_teacher(args, data, sp["make_teacher"], sp["teacher_input"], sp["teacher_opts"])
    rows = []
    for arm in opts.arms:
        fam, *rest = arm.split(":")
        args.loss, args.tau = fam, float(rest[0]) if rest else 1.0
        args.alpha = float(rest[1]) if len(rest) > 1 else 1.0
        row = distil(args, data, teacher, acc, sp["teacher_input"], sp["make_student"], sp["pairs"],
                     student_input=sp["student_input"])
        row["arm"] = arm
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def _ms(v):
    return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", choices=["digits", "mnist1d"], default="digits")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=["ce", "kd:1", "kd:4", "twoway:1"])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--teacher-epochs", type=int, default=60)
    p.add_argument("--qat-epochs", type=int, default=0)
    p.add_argument("--student", choices=STUDENTS, default="mlp")
    p.add_argument("--channels", type=int, nargs="+", default=[8], help="conv student channels")
    p.add_argument("--teacher", choices=TEACHERS, default=None, help="default: the data set's")
    p.add_argument("--jobs", type=int, default=1, help="seeds run in parallel processes")
    p.add_argument("--threads", type=int, default=default_threads(),
                   help="torch threads in all (split over --jobs); default: the usable cores")
    p.add_argument("--out", default=None, help="write every row as JSON lines")
    opts = p.parse_args()
    opts.teacher = opts.teacher or {"digits": "mlp", "mnist1d": "cnn"}[opts.dataset]
    jobs = [(opts, s) for s in opts.seeds]
    if opts.jobs > 1:
        with mp.get_context("spawn").Pool(opts.jobs) as pool:
            rows = [r for rs in pool.map(_seed_job, jobs) for r in rs]
    else:
        rows = [r for j in jobs for r in _seed_job(j)]
    if opts.out:
        with open(opts.out, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"\n{opts.dataset}, {opts.hidden}-{opts.hidden} student, T={opts.timesteps}, {opts.epochs} epochs, "
          f"{opts.student} student, {opts.teacher} teacher, seeds {opts.seeds}; teacher {_ms([r['teacher_acc'] for r in rows if r['arm'] == opts.arms[0]])}\n")
    print("| arm | float acc % | fixed-point acc % (emulator) | fixed − float pp | spikes / inference |")
    print("|---|---|---|---|---|")
    for arm in opts.arms:
        rs = [r for r in rows if r["arm"] == arm]
        fl, fx = [r["student_float_acc"] for r in rs], [r["student_fixed_acc"] for r in rs]
        print(f"| {arm} | {_ms(fl)} | {_ms(fx)} | {_ms([b - a for a, b in zip(fl, fx)])} | "
              f"{_ms([r['spikes_per_inference'] for r in rs])} |")


if __name__ == "__main__":
    main()

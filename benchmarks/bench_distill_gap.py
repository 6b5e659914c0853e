"""The mnist1d student gap (issue 16): students with the teacher's own topology, initialised from
the trained teacher, against the teacher, on the same seed.

Arms (each: float, QAT and deployed accuracy; spikes or graded messages per inference; wall s):

* ``lif_scratch``   CUBA LIF student with the teacher's topology (convolutions as dense layers,
                    :func:`snnc.distill.conversion.lif_student_like`), random init, rate-coded
                    input, KD (τ 2) + 1 QAT epoch, at each ``--timesteps`` T;
* ``lif_init``      the same initialised from the teacher (the input standardisation folded
                    exactly: :func:`~snnc.distill.conversion.padded_input_fold`, the host pads x
                    with μ);
* ``lif_direct``    ``lif_init`` fed the analog input x every step instead of spikes ("direct
                    encoding"): **float only**, snnc cannot deploy a graded input into a LIF
                    student yet (docs/distill.md, "Closing the mnist1d gap");
* ``sd_convert``    the sigma-delta student (``--student sd --teacher-init``): the teacher
                    converted, no training;
* ``sd_kd``         the same after 5 KD epochs (τ 2) + 1 QAT epoch;
* ``sd3_convert``, ``sd3_kd``: the same with the three-weight-layer teacher ``cnn3``
                    (:func:`snnc.distill.experiment.mnist1d_cnn3_teacher`; latency 4 steps, not 5),
                    compared with that teacher (row ``teacher_cnn3``).

    .venv/bin/python benchmarks/bench_distill_gap.py [--seeds 0 1 2] [--timesteps 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from snnc.distill import (
    Distiller,
    evaluate,
    evaluate_deployed,
    experiment,
    fit,
    loss_family,
    train_teacher,
)
from snnc.distill import data as datasets
from snnc.distill.conversion import lif_student_like, padded_input_fold
from snnc.distill.data import rate_encode

ARMS = ("lif_scratch", "lif_init", "lif_direct", "sd_convert", "sd_kd", "sd3_convert", "sd3_kd")


def lif_arm(arm: str, teacher, data, timesteps: int, epochs: int, seed: int) -> dict:
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = data
    body, mu, pad = padded_input_fold(teacher)
    shape = (1, 1, xtr.shape[1] + 2 * pad)
    torch.manual_seed(seed)
    student = lif_student_like(body, shape)
    if arm == "lif_scratch":
        for m in student.modules():
            if isinstance(m, torch.nn.Linear):
                m.reset_parameters()

    def host(x):  # the host's padding with μ, flattened
        return F.pad(x, (pad, pad), value=mu)

    if arm == "lif_direct":
        enc = lambda x: host(x)[:, None].repeat(1, timesteps, 1)  # noqa: E731
    else:
        enc = lambda x: rate_encode(host(x), timesteps)  # noqa: E731
    str_, ste = enc(xtr), enc(xte)
    qat_epochs = 0 if arm == "lif_direct" else 1
    dist = Distiller(teacher, student, loss_family("kd", tau=2.0))
    fit(dist, xtr, str_, ytr, epochs=epochs, qat_epochs=qat_epochs, seed=seed, progress=False)
    student = dist.student
    qat = evaluate(student, ste, yte)["acc"] if qat_epochs else None
    student.set_qat(False)
    fl = evaluate(student, ste, yte)
    dep = None if arm == "lif_direct" else evaluate_deployed(student, ste, yte, profile=False)
    return {"float": fl["acc"], "qat": qat, "deployed": None if dep is None else dep["acc"],
            "spikes": fl["spikes"] if dep is None else dep["spikes"], "latency": timesteps,
            "seconds": time.perf_counter() - t0}


def sd_arm(arm: str, teacher, t_acc, data, seed: int) -> dict:
    convert = arm.endswith("_convert")
    kind = "cnn3" if arm.startswith("sd3") else "cnn"
    args = experiment.parser("", "mnist1d").parse_args(
        ["--student", "sd", "--teacher", kind, "--teacher-init", "--loss", "kd", "--tau", "2", "--seed", str(seed),
         "--epochs", "0" if convert else "5", "--qat-epochs", "0" if convert else "1"])
    sp = experiment.spec("mnist1d", "sd", kind)
    r = experiment.distil(args, data, teacher, t_acc, sp["teacher_input"], sp["make_student"], sp["pairs"],
                          student_input=sp["student_input"])
    return {"float": r["student_float_acc"], "qat": r["student_qat_acc"], "deployed": r["student_fixed_acc"],
            "spikes": r["spikes_per_inference"], "latency": r["latency_steps"], "seconds": r["seconds"],
            "synops": r["synops_per_inference"]}


def _ms(v, nd=2) -> str:
    v = [x for x in v if x is not None]
    if not v:
        return "—"
    return f"{v[0]:.{nd}f}" if len(v) == 1 else f"{statistics.mean(v):.{nd}f} ± {statistics.stdev(v):.{nd}f}"


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--timesteps", type=int, nargs="+", default=[2, 4])
    p.add_argument("--epochs", type=int, default=20, help="float epochs of the LIF arms")
    p.add_argument("--teacher-epochs", type=int, default=40)
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    p.add_argument("--threads", type=int, default=1)
    opts = p.parse_args(argv)
    torch.set_num_threads(opts.threads)
    load0 = os.getloadavg()
    t_start = time.perf_counter()
    data = datasets.mnist1d()
    xtr, ytr, xte, yte = data
    rows = []
    for seed in opts.seeds:
        t0 = time.perf_counter()
        teacher = train_teacher(experiment.mnist1d_teacher, xtr, ytr, epochs=opts.teacher_epochs, seed=seed,
                                lr=1e-2, weight_decay=0.0, progress=False)
        t_acc = evaluate(teacher, xte, yte)["acc"]
        rows.append({"arm": "teacher", "T": None, "seed": seed, "float": t_acc, "qat": None, "deployed": None,
                     "spikes": None, "latency": None, "seconds": time.perf_counter() - t0})
        teacher3 = t3_acc = None
        if any(a.startswith("sd3") for a in opts.arms):
            t0 = time.perf_counter()
            teacher3 = train_teacher(experiment.mnist1d_cnn3_teacher, xtr, ytr, epochs=opts.teacher_epochs,
                                     seed=seed, lr=1e-2, weight_decay=0.0, progress=False)
            t3_acc = evaluate(teacher3, xte, yte)["acc"]
            rows.append({"arm": "teacher_cnn3", "T": None, "seed": seed, "float": t3_acc, "qat": None,
                         "deployed": None, "spikes": None, "latency": None, "seconds": time.perf_counter() - t0})
        for arm in opts.arms:
            for T in (opts.timesteps if arm.startswith("lif") else [None]):
                own, own_acc = (teacher3, t3_acc) if arm.startswith("sd3") else (teacher, t_acc)
                r = (lif_arm(arm, teacher, data, T, opts.epochs, seed) if arm.startswith("lif")
                     else sd_arm(arm, own, own_acc, data, seed))
                rows.append({"arm": arm, "T": T, "seed": seed, **r, "teacher": own_acc, "load": os.getloadavg()[0]})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    seeds = sorted({r["seed"] for r in rows})
    teacher = [r["float"] for r in rows if r["arm"] == "teacher"]
    print(f"**mnist1d**: cnn teacher {_ms(teacher)} % ({opts.teacher_epochs} epochs), seeds {seeds}, "
          f"{opts.threads} thread(s), load (1/5/15 min) before {', '.join(f'{v:.2f}' for v in load0)}\n")
    print("| arm | T / latency (steps) | float % | QAT % | deployed % | deployed − own teacher, pp (per seed) "
          "| spikes or messages / inference | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    keys = []
    for r in rows:
        if (r["arm"], r["T"]) not in keys:
            keys.append((r["arm"], r["T"]))
    for arm, T in keys:
        sel = [r for r in rows if r["arm"] == arm and r["T"] == T]
        gap = [r["deployed"] - r["teacher"] for r in sel if r["deployed"] is not None]
        lat = sorted({r["latency"] for r in sel if r["latency"] is not None})
        gap_s = "—" if not gap else f"{statistics.mean(gap):+.2f} ({', '.join(f'{g:+.1f}' for g in gap)})"
        print(f"| {arm} | {', '.join(map(str, lat)) or '—'} | {_ms([r['float'] for r in sel])} | "
              f"{_ms([r['qat'] for r in sel])} | {_ms([r['deployed'] for r in sel])} | {gap_s} | "
              f"{_ms([r['spikes'] for r in sel], 0)} | {_ms([r['seconds'] for r in sel], 1)} |")
    print(f"\nTotal wall time {time.perf_counter() - t_start:.0f} s; load after {os.getloadavg()[0]:.2f}.")
    return rows


if __name__ == "__main__":
    main()

"""Distillation benchmark: one command, one table per task (teacher, CE student, every KD arm,
the two-way loop and its teacher-only control, >= 3 seeds) and a timestep sweep.

    .venv/bin/python benchmarks/bench_distill.py                      # every task of experiment.DATASETS
    .venv/bin/python benchmarks/bench_distill.py --task digits mnist1d --timesteps 1 2 4 8
    .venv/bin/python benchmarks/bench_distill.py --task digits --quick    # a smoke run (1 seed, tiny)

Per task and seed one teacher (trained once, shared by every arm and every T), then one
student per arm and T, trained in float for ``--epochs`` and ``--qat-epochs`` in QAT mode
(the registers of ``snnc compile``), exported to NIR, compiled for loihi2 and run on the
bit-exact emulator.  Per arm (mean ± sd over seeds):

* accuracy (%) of the float forward, of the QAT forward and deployed (emulator, fixed point);
  QAT = deployed is the bit-exactness claim, checked on every student;
* spikes per inference (every population, every step, on the emulator) and the profiler's
  energy per inference (``Program.profile`` with its default coefficient set, named in the
  header);
* for ``twoway`` and ``control`` (the arms whose teacher keeps training), the teacher's test
  accuracy before and after distillation;
* wall time of training + deployment (s).

Tables: the main one at ``--main-t`` (every arm of ``--arms``); a T sweep (deployed accuracy
of ``--sweep-arms`` at every ``--timesteps``; ``best`` = the arm other than ce/kd with the
best mean deployed accuracy in the main table, picked on the test set: read it as optimistic);
the two-way summary (twoway − control and twoway − kd, student and teacher, paired).

Noise: each arm's per-seed difference to ``ce`` (same seed, same teacher, same T) is tested
with a paired t-test (two-sided, 95 %, n − 1 degrees of freedom); a difference whose interval
contains 0 is reported "within noise".  One digits test image is 0.28 pp, one mnist1d 0.1 pp.

Writes ``--json`` (every row, the settings and the load) and ``--md`` (the tables); the load
(``os.getloadavg()``) is printed before and after.

Arms (:data:`ARMS`): an :class:`Arm` is a loss family (``experiment.FAMILIES``), the tap
decoder of the feature losses, extra attributes set on the experiment's argument namespace
(options of ``experiment.parser``, by their attribute names: the registry test checks them) and a student
kind (``experiment.STUDENTS``; None = ``--student``).  A new arm is one line, e.g.::

    ARMS["kd_tau4"] = Arm("kd", args={"tau": 4.0}, note="kd at τ = 4")
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import statistics
import sys
import time

import torch

from snnc.distill import experiment
from snnc.distill.deploy import evaluate
from snnc.distill.experiment import (
    DATASETS,
    STUDENTS,
    TEACHERS,
    default_threads,
    distil,
    parser,
    spec,
)
from snnc.distill.trainer import train_teacher


@dataclasses.dataclass(frozen=True)
class Arm:
    """One benchmark arm: ``loss`` family, tap ``decoder`` (feature/relation/ot), ``args``
    set on the experiment namespace before :func:`experiment.distil`, ``student`` kind (None:
    the command's ``--student``), ``note`` (the table's legend)."""

    loss: str
    decoder: str = "rate"
    args: dict = dataclasses.field(default_factory=dict)
    student: str | None = None
    note: str = ""


ARMS: dict[str, Arm] = {
    "ce": Arm("ce", note="CE only, no teacher"),
    "kd": Arm("kd", note="CE + τ²·KL(p_T‖p_S) on the decoded logits, τ = 1"),
    "kd_step": Arm("kd_step", note="CE + the KL at every timestep's logits (per-timestep KD)"),
    "feature": Arm("feature", args={"target_norm": "layer"},
                   note="kd + MSE(projector(rate of the last hidden layer)), teacher's last hidden ReLU "
                        "standardised per sample (LayerNorm, no affine)"),
    "feature_raw": Arm("feature", note="feature with the raw (unnormalised) teacher ReLU: its MSE swamps CE"),
    "feature_affine": Arm("feature", "affine", note="kd + MSE(projector(AffineDecoder LN(W·r + b))), raw teacher ReLU"),
    "relation": Arm("relation", "affine", note="kd + MSE of the B×B relation matrices (AffineDecoder on the tap)"),
    "ot": Arm("ot", note="kd + Sinkhorn OT cost (1 − cos)² between projected rates and teacher features"),
    "twoway": Arm("twoway", note="kd; the teacher steps on CE + γ·τ²·KL(p_S‖p_T), γ = 0.5, lr 1e-4"),
    "twoway_g01": Arm("twoway", args={"gamma": 0.1}, note="twoway with γ = 0.1"),
    "control": Arm("control", note="kd; the teacher steps on CE alone, lr 1e-4 (the two-way loop's control)"),
    "tet": Arm("tet", note="TET: (1/T) Σ_t CE(z^t, y) on the per-step logits, no teacher"),
    "kd_tet": Arm("kd_tet", note="tet + per-timestep KD"),
    "learn": Arm("ce", args={"learn_decay": True, "learn_threshold": "layer"},
                 note="ce; α, β and θ learnt per layer inside du/dv/vth"),
    "learn_kd": Arm("kd", args={"learn_decay": True, "learn_threshold": "channel"},
                    note="kd; α, β per layer and θ per channel learnt inside the registers"),
    "bn": Arm("ce", args={"batchnorm": True}, note="ce; batch norm on the drive, folded for deployment"),
    "sd_kd": Arm("kd", student="sd", args={"teacher_init": True, "epochs": 5, "tau": 2.0},
                 note="sigma-delta student: the teacher's topology initialised from the teacher, 5 KD epochs "
                      "(τ = 2) + the QAT epochs; static input, answers after its latency (depth + 1 steps), "
                      "not after T; spikes = graded messages"),
}
#: the default arms of the main table (``feature_raw``: the unnormalised feature arm, kept side by side)
DEFAULT_ARMS = ("ce", "kd", "kd_step", "feature", "feature_raw", "feature_affine", "relation", "ot", "twoway", "control",
                "tet", "learn", "learn_kd", "bn", "sd_kd")
#: the teacher per task where it is not the data set's default (the tables of docs/benchmarks.md)
BENCH_TEACHERS = {"digits": "cnn"}
TEACHER_TRAINS = ("twoway", "control")  # loss families whose teacher keeps training: before/after reported


def _default_teacher(task: str) -> str | None:
    """The data set's default teacher kind (None: let ``experiment.spec`` pick it)."""
    return getattr(experiment, "_DATASETS", {}).get(task, {}).get("default")


def _args(opts, task: str, seed: int, arm: Arm, timesteps: int) -> argparse.Namespace:
    a = parser("").parse_args([])
    a.__dict__.update(dataset=task, seed=seed, hidden=opts.hidden, epochs=opts.epochs, timesteps=timesteps,
                      teacher_epochs=opts.teacher_epochs, qat_epochs=opts.qat_epochs,
                      student=arm.student or opts.student, channels=opts.channels, teacher=opts.teacher[task],
                      tau=opts.tau, loss=arm.loss, decoder=arm.decoder)
    a.__dict__.update(arm.args)
    return a


def student_row(task: str, name: str, seed: int, timesteps: int, r: dict) -> dict:
    return {"task": task, "arm": name, "T": timesteps, "seed": seed, "float": r["student_float_acc"],
            "qat": r["student_qat_acc"], "deployed": r["student_fixed_acc"], "spikes": r["spikes_per_inference"],
            "energy_j": r["energy_per_inference_j"], "event_energy_j": r.get("event_energy_per_inference_j"),
            "synops": r.get("synops_per_inference"), "latency": r.get("latency_steps"), "seconds": r["seconds"],
            "teacher_before": r.get("teacher_acc_before", r["teacher_acc"]),
            "teacher_after": r.get("teacher_acc_after", r["teacher_acc"]), "load": os.getloadavg()[0]}


def run_arm(opts, task: str, name: str, seed: int, timesteps: int, data, teacher, t_acc: float) -> dict:
    arm = ARMS[name]
    args = _args(opts, task, seed, arm, timesteps)
    sp = spec(task, args.student, args.teacher)
    r = distil(args, data, teacher, t_acc, sp["teacher_input"], sp["make_student"], sp["pairs"],
               student_input=sp["student_input"])
    row = student_row(task, name, seed, timesteps, r)
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def run_teacher(opts, task: str, seed: int, data) -> tuple[torch.nn.Module, float, dict]:
    sp = spec(task, opts.student, opts.teacher[task])
    xtr, ytr, xte, yte = data
    t0 = time.perf_counter()
    teacher = train_teacher(sp["make_teacher"], sp["teacher_input"](xtr), ytr, epochs=opts.teacher_epochs,
                            seed=seed, progress=False, **sp["teacher_opts"])
    t_acc = evaluate(teacher, sp["teacher_input"](xte), yte)["acc"]
    row = {"task": task, "arm": "teacher", "T": None, "seed": seed, "float": round(t_acc, 2), "qat": None,
           "deployed": None, "spikes": None, "energy_j": None, "seconds": round(time.perf_counter() - t0, 1),
           "teacher_before": None, "teacher_after": None, "load": os.getloadavg()[0]}
    return teacher, t_acc, row


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


def verdict(d: list[float]) -> tuple[str, str]:
    """(``mean ± half (per seed)``, ``within noise / better / worse (k up, j down of n)``)."""
    m, half, noise = paired(d)
    hw = "" if half is None else f" ± {half:.2f}"
    delta = f"{m:+.2f}{hw} ({', '.join(f'{x:+.2f}' for x in d)})"
    if half is None:
        return delta, "n/a (1 seed)"
    v = "within noise" if noise else ("better" if m > 0 else "worse")
    return delta, v + f" ({sum(x > 0 for x in d)} up, {sum(x < 0 for x in d)} down of {len(d)})"


def _by(rows):
    return {(r["arm"], r["T"], r["seed"]): r for r in rows}


def main_table(opts, task: str, rows: list[dict], seeds: list[int]) -> str:
    by, t = _by(rows), opts.main_t
    lines = ["| arm | float % | QAT % | deployed % (emulator) | QAT = deployed | Δ deployed vs ce, pp: mean "
             "± 95 % CI half-width (per seed) | vs ce (paired t-test) | teacher % before → after | "
             "spikes / inference | SynOps / inference | energy / inference (µJ, profiler) | event part (nJ) | "
             "wall s (train + deploy) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    te = [by["teacher", None, s]["float"] for s in seeds]
    lines.append(f"| teacher | {_ms(te)} | — | — | — | — | — | — | — | — | — | — | "
                 f"{_ms([by['teacher', None, s]['seconds'] for s in seeds], 1)} |")
    for arm in opts.arms:
        rs = [by[arm, t, s] for s in seeds]
        same = all(r["qat"] == r["deployed"] for r in rs) if opts.qat_epochs else None
        if arm == "ce" or "ce" not in opts.arms:
            delta, verd = "—", "—"
        else:
            delta, verd = verdict([r["deployed"] - by["ce", t, s]["deployed"] for r, s in zip(rs, seeds)])
        teach = "—"
        if ARMS[arm].loss in TEACHER_TRAINS:
            teach = f"{_ms([r['teacher_before'] for r in rs])} → {_ms([r['teacher_after'] for r in rs])}"
        energy = [None if r["energy_j"] is None else r["energy_j"] * 1e6 for r in rs]
        event = [None if r.get("event_energy_j") is None else r["event_energy_j"] * 1e9 for r in rs]
        lat = {r.get("latency") for r in rs} - {None}
        label = arm + (f" (latency {'/'.join(map(str, sorted(lat)))})" if lat else "")
        lines.append(f"| {label} | {_ms([r['float'] for r in rs])} | {_ms([r['qat'] for r in rs])} | "
                     f"{_ms([r['deployed'] for r in rs])} | {'—' if same is None else ('yes' if same else 'NO')} | "
                     f"{delta} | {verd} | {teach} | {_ms([r['spikes'] for r in rs], 0)} | "
                     f"{_ms([r.get('synops') for r in rs], 0)} | {_ms(energy, 2)} | {_ms(event, 1)} | "
                     f"{_ms([r['seconds'] for r in rs], 1)} |")
    return "\n".join(lines) + "\n"


def best_arm(opts, rows: list[dict], seeds: list[int]) -> str | None:
    """The arm other than ce/kd with the best mean deployed accuracy at ``--main-t``."""
    by = _by(rows)
    # a sigma-delta student does not run for T steps: it has no place in the T sweep
    cand = [a for a in opts.arms if a not in ("ce", "kd") and ARMS[a].student != "sd"]
    if not cand:
        return None
    return max(cand, key=lambda a: statistics.mean(by[a, opts.main_t, s]["deployed"] for s in seeds))


def sweep_arms(opts, rows, seeds) -> list[str]:
    out = []
    for a in opts.sweep_arms:
        a = best_arm(opts, rows, seeds) if a == "best" else a
        if a is not None and a not in out:
            out.append(a)
    return out


def sweep_table(opts, rows: list[dict], seeds: list[int], arms: list[str]) -> str:
    by = _by(rows)
    ts = opts.timesteps
    head = "| arm | " + " | ".join(f"T = {t}: deployed % (Δ vs ce, pp) | T = {t}: spikes / µJ" for t in ts) + " |"
    lines = [head, "|---|" + "---|---|" * len(ts)]
    for arm in arms:
        cells = []
        for t in ts:
            rs = [by[arm, t, s] for s in seeds]
            acc = _ms([r["deployed"] for r in rs])
            if arm != "ce" and all(("ce", t, s) in by for s in seeds):
                d = [r["deployed"] - by["ce", t, s]["deployed"] for r, s in zip(rs, seeds)]
                m, half, noise = paired(d)
                acc += f" ({m:+.2f}{'' if half is None else f' ± {half:.2f}'}{', noise' if noise else ''})"
            same = all(r["qat"] == r["deployed"] for r in rs) if opts.qat_epochs else True
            acc += "" if same else " QAT≠deployed"
            energy = [None if r["energy_j"] is None else r["energy_j"] * 1e6 for r in rs]
            cells += [acc, f"{_ms([r['spikes'] for r in rs], 0)} / {_ms(energy, 2)}"]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def twoway_summary(opts, rows: list[dict], seeds: list[int]) -> str:
    """twoway − control and twoway − kd (students), twoway − control (teachers after), paired."""
    by, t = _by(rows), opts.main_t
    if not all(a in opts.arms for a in ("twoway", "control")):
        return ""
    pairs = [("student deployed, twoway − control", "twoway", "control", "deployed"),
             ("teacher after, twoway − control", "twoway", "control", "teacher_after"),
             ("teacher after − before, control", "control", None, "teacher_after"),
             ("teacher after − before, twoway", "twoway", None, "teacher_after")]
    if "kd" in opts.arms:
        pairs.insert(1, ("student deployed, twoway − kd", "twoway", "kd", "deployed"))
        pairs.insert(2, ("student deployed, control − kd", "control", "kd", "deployed"))
    lines = ["| comparison (pp) | mean ± 95 % CI half-width (per seed) | paired t-test |", "|---|---|---|"]
    for label, a, b, key in pairs:
        d = [by[a, t, s][key] - (by[b, t, s][key] if b else by[a, t, s]["teacher_before"]) for s in seeds]
        delta, verd = verdict(d)
        lines.append(f"| {label} | {delta} | {verd} |")
    return "\n".join(lines) + "\n"


def _student_label(opts) -> str:
    if opts.student == "conv":
        return f"conv student (channels {'-'.join(map(str, opts.channels))}, hidden {opts.hidden})"
    return f"{opts.student} student {opts.hidden}-{opts.hidden}"


def task_markdown(opts, task: str, rows: list[dict], load, energy_model: str) -> str:
    seeds = sorted({r["seed"] for r in rows})
    te = [r["float"] for r in rows if r["arm"] == "teacher"]
    head = (f"**{task}**: {opts.teacher[task] or 'default'} teacher ({_ms(te)} %, {opts.teacher_epochs} epochs), "
            f"{_student_label(opts)}, {opts.epochs} float + {opts.qat_epochs} QAT "
            f"epochs, seeds {seeds}, {opts.threads} threads, energy: profiler default `{energy_model}`, "
            f"load (1/5/15 min) before {', '.join(f'{x:.2f}' for x in load)}\n\n")
    md = head + f"Main table, T = {opts.main_t}:\n\n" + main_table(opts, task, rows, seeds)
    tw = twoway_summary(opts, rows, seeds)
    if tw:
        md += f"\nTwo-way loop vs its teacher-only control (T = {opts.main_t}, paired per seed):\n\n" + tw
    sw = sweep_arms(opts, rows, seeds)
    if sw and any(t != opts.main_t for t in opts.timesteps):
        md += (f"\nT sweep (deployed accuracy; `best` = {best_arm(opts, rows, seeds)}; 'noise': the paired "
               f"Δ vs ce is within noise):\n\n" + sweep_table(opts, rows, seeds, sw))
    return md


#: per-task settings where an option was not given on the command line (the events task
#: trains a conv student on 2x16x16 frames: its students take 5-10x a digits student, so its
#: default arm set is smaller; sd students take static input and do not apply)
TASK_SETTINGS = {
    "events": dict(student="conv", channels=[8, 16], teacher_epochs=15,
                   arms=["ce", "kd", "kd_step", "feature", "relation", "twoway", "control", "tet", "learn", "bn"]),
}
#: the global defaults of the options TASK_SETTINGS may set
GLOBAL_DEFAULTS = dict(student="mlp", channels=[8], teacher_epochs=40, arms=list(DEFAULT_ARMS))


def task_opts(opts, task: str) -> argparse.Namespace:
    """``opts`` for one task: options left unset (None) take the task's :data:`TASK_SETTINGS`,
    then :data:`GLOBAL_DEFAULTS`."""
    o = argparse.Namespace(**vars(opts))
    for k, v in GLOBAL_DEFAULTS.items():
        if getattr(o, k, None) is None:
            setattr(o, k, TASK_SETTINGS.get(task, {}).get(k, v))
    if getattr(o, "quick", False):
        o.teacher_epochs = min(o.teacher_epochs, 5)
    return o


def run_task(opts, task: str) -> tuple[list[dict], dict]:
    """Every row of one task and its info (load before/after, wall time, energy model)."""
    opts = task_opts(opts, task)
    load = os.getloadavg()
    t0 = time.perf_counter()
    data = spec(task)["load"]()
    rows: list[dict] = []
    teachers = {}
    for seed in opts.seeds:
        teacher, t_acc, trow = run_teacher(opts, task, seed, data)
        teachers[seed] = teacher, t_acc  # distil() trains a copy: this one stays as trained
        rows.append(trow)
        for arm in opts.arms:
            rows.append(run_arm(opts, task, arm, seed, opts.main_t, data, teacher, t_acc))
    seeds = sorted(opts.seeds)
    extra_ts = [t for t in opts.timesteps if t != opts.main_t]
    if extra_ts:
        sw = sweep_arms(opts, rows, seeds)
        for seed in opts.seeds:  # the same teacher as the main table
            teacher, t_acc = teachers[seed]
            for t in extra_ts:
                for arm in sw:
                    rows.append(run_arm(opts, task, arm, seed, t, data, teacher, t_acc))
    from snnc.profiler.coefficients import load_coefficients

    return rows, {"task": task, "load_before": load, "load_after": os.getloadavg(),
                  "wall_s": round(time.perf_counter() - t0, 1), "energy_model": load_coefficients("loihi2").label}


def render(opts, rows: list[dict], infos: list[dict], wall: float, load_after) -> str:
    """The markdown of every task (from the rows: ``--render`` redraws a saved JSON)."""
    mds = []
    for info in infos:
        task = info["task"]
        md = task_markdown(task_opts(opts, task), task, [r for r in rows if r["task"] == task], info["load_before"],
                           info["energy_model"])
        mds.append(md + f"\nWall time {info['wall_s']:.0f} s; load after "
                        f"{', '.join(f'{x:.2f}' for x in info['load_after'])}.\n")
    tasks = ", ".join(i["task"] for i in infos)
    return "\n".join(mds) + f"\nTotal wall time {wall:.0f} s ({tasks}); load after " \
                            f"{', '.join(f'{x:.2f}' for x in load_after)}.\n"


def _write(opts, out: dict) -> None:
    for path, text in ((opts.json or "out/bench_distill.json", json.dumps(out, indent=1)),
                       (opts.md or "out/bench_distill.md", out["markdown"])):
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(path).write_text(text)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", nargs="+", choices=[*DATASETS, "all"], default=["all"],
                   help="tasks (default all: every data set of experiment.DATASETS)")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=None,
                   help="default: DEFAULT_ARMS (the events task: TASK_SETTINGS)")
    p.add_argument("--timesteps", type=int, nargs="+", default=[1, 2, 4, 8], help="T of the sweep")
    p.add_argument("--main-t", type=int, default=4, help="T of the main table (every arm)")
    p.add_argument("--sweep-arms", nargs="+", default=["ce", "kd", "best"],
                   help="arms of the T sweep; 'best' = the best arm other than ce/kd of the main table")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--teacher", choices=TEACHERS, default=None,
                   help="teacher kind for every task (default: cnn on digits, else the data set's default)")
    p.add_argument("--student", choices=STUDENTS, default=None, help="default mlp (events: conv)")
    p.add_argument("--channels", type=int, nargs="+", default=None, help="default 8 (events: 8 16)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--qat-epochs", type=int, default=1)
    p.add_argument("--teacher-epochs", type=int, default=None, help="default 40 (events: 15)")
    p.add_argument("--tau", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=default_threads(),
                   help="torch threads (default: the usable cores; on a machine shared with other "
                        "jobs 1 thread was several times faster than 2)")
    p.add_argument("--quick", action="store_true", help="1 seed, 2 epochs, 5 teacher epochs, T 4 only: a smoke run")
    p.add_argument("--json", default=None, help="default out/bench_distill.json")
    p.add_argument("--md", default=None, help="default out/bench_distill.md")
    p.add_argument("--render", default=None, metavar="JSON",
                   help="redraw the tables of a JSON this benchmark wrote (no training); writes --md")
    opts = p.parse_args(argv)
    if opts.render:
        saved = json.loads(pathlib.Path(opts.render).read_text())
        kept = argparse.Namespace(**saved["settings"])
        kept.json, kept.md = opts.render, opts.md
        saved["markdown"] = render(kept, saved["rows"], saved["task_info"], saved["wall_s"], saved["load_after"])
        print(saved["markdown"])
        if opts.md:
            pathlib.Path(opts.md).write_text(saved["markdown"])
        return saved
    tasks = list(DATASETS) if "all" in opts.task else list(dict.fromkeys(opts.task))
    opts.teacher = {t: opts.teacher or BENCH_TEACHERS.get(t) or _default_teacher(t) for t in tasks}
    if opts.quick:
        opts.seeds, opts.epochs = opts.seeds[:1], min(opts.epochs, 2)
        opts.timesteps = [opts.main_t]  # teacher epochs: at most 5 (task_opts)
    torch.set_num_threads(opts.threads)
    load = os.getloadavg()
    print(f"load (1/5/15 min) before: {load}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    rows, infos = [], []
    for task in tasks:
        r, info = run_task(opts, task)
        rows += r
        infos.append(info)
    wall = round(time.perf_counter() - t0, 1)
    load_after = os.getloadavg()
    md = render(opts, rows, infos, wall, load_after)
    print(md, flush=True)
    settings = {k: v for k, v in vars(opts).items() if k not in ("json", "md", "render")}
    out = {"settings": settings, "tasks": tasks, "load_before": load, "load_after": load_after,
           "wall_s": wall, "task_info": infos, "arms": {a: dataclasses.asdict(ARMS[a]) for t in tasks for a in task_opts(opts, t).arms},
           "rows": rows, "markdown": md}
    _write(opts, out)
    return out


if __name__ == "__main__":
    main()

"""The shared driver of ``examples/distill_*.py``: train a teacher, distil a student with one
loss family, export, compile for Loihi 2, run on the emulator, print one JSON line."""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable

import torch
from torch import nn

from snnc.distill import data as datasets
from snnc.distill.data import rate_encode
from snnc.distill.deploy import evaluate, evaluate_deployed
from snnc.distill.distiller import Distiller, ReverseKD
from snnc.distill.init import init_from_ann
from snnc.distill.losses import loss_family
from snnc.distill.student import OUTPUTS, dense_student
from snnc.distill.trainer import fit, seed_everything, train_teacher

FAMILIES = ("ce", "kd", "kd_step", "kd_focal", "feature", "relation", "ot", "twoway")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--loss", choices=FAMILIES, default="kd", help="loss family (default kd: CE + LogitKD)")
    p.add_argument("--tau", type=float, default=1.0, help="KD temperature (default 1)")
    p.add_argument("--alpha", type=float, default=1.0, help="weight of the logit KD term")
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--hidden", type=int, default=64, help="student hidden width")
    p.add_argument("--epochs", type=int, default=40, help="student float epochs")
    p.add_argument("--qat-epochs", type=int, default=0, help="QAT fine-tuning epochs after the float ones")
    p.add_argument("--teacher-epochs", type=int, default=60)
    p.add_argument("--output", choices=OUTPUTS, default="mem_mean", help="deployable output decoder")
    p.add_argument("--budget", type=float, default=None, help="add SpikeBudget(target_rate)")
    p.add_argument("--ann-init", action="store_true", help="initialise the student from a same-topology ANN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a tiny run (< 1 min) for tests")
    p.add_argument("--checkpoint", default=None, help="student checkpoint file (resumed if present)")
    return p


def quick(args) -> None:
    """Shrink a run to the --quick budget (< 1 minute)."""
    if args.quick:
        args.epochs, args.teacher_epochs, args.qat_epochs = min(args.epochs, 3), min(args.teacher_epochs, 5), 0
        args.timesteps = min(args.timesteps, 4)


def prepare_teacher(args, data, make_teacher: Callable[[], nn.Module], teacher_input: Callable):
    """Train and score the teacher once (shared by every arm of a sweep): (teacher, acc %)."""
    xtr, ytr, xte, yte = data
    seed_everything(args.seed)
    teacher = train_teacher(make_teacher(), teacher_input(xtr), ytr, epochs=args.teacher_epochs, seed=args.seed)
    return teacher, evaluate(teacher, teacher_input(xte), yte)["acc"]


def distil(args, data, teacher: nn.Module, teacher_acc: float, teacher_input: Callable, make_student: Callable,
           pairs: dict[str, str], make_twin: Callable[[], nn.Module] | None = None) -> dict:
    """Distil one student from a (copy of the) trained teacher, deploy it, return the result row."""
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = data
    teacher = copy.deepcopy(teacher)  # the two-way loop updates it
    seed_everything(args.seed)
    student = make_student(args)
    if args.ann_init and make_twin is not None:
        twin = train_teacher(make_twin(), xtr, ytr, epochs=args.teacher_epochs, seed=args.seed)
        init_from_ann(student, twin)
    str_, ste = rate_encode(xtr, args.timesteps), rate_encode(xte, args.timesteps)
    feat = args.loss in ("feature", "relation", "ot")
    losses = loss_family(args.loss, tau=args.tau, alpha=args.alpha, pairs=pairs if feat else None,
                         budget=args.budget)
    reverse = ReverseKD(tau=args.tau) if args.loss == "twoway" else None
    dist = Distiller(None if args.loss == "ce" else teacher, student, losses, taps=pairs if feat else None,
                     reverse=reverse)
    fit(dist, teacher_input(xtr), str_, ytr, epochs=args.epochs, qat_epochs=args.qat_epochs, seed=args.seed,
        checkpoint=args.checkpoint)
    student = dist.student
    qat_acc = evaluate(student, ste, yte)["acc"] if args.qat_epochs else None
    student.set_qat(False)
    fl = evaluate(student, ste, yte)
    dep = evaluate_deployed(student, ste, yte)
    return {
        "dataset": args.dataset, "loss": args.loss, "tau": args.tau, "alpha": args.alpha, "seed": args.seed,
        "timesteps": args.timesteps, "hidden": args.hidden, "output": args.output, "epochs": args.epochs,
        "teacher_acc": round(teacher_acc, 2), "student_float_acc": round(fl["acc"], 2),
        "student_fixed_acc": round(dep["acc"], 2), "student_qat_acc": None if qat_acc is None else round(qat_acc, 2),
        "spikes_per_inference": round(dep["spikes"], 1), "float_spikes_per_inference": round(fl["spikes"], 1),
        "energy_per_inference_j": dep.get("energy_per_inference_j"),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def run(args, data, make_teacher: Callable[[], nn.Module], teacher_input: Callable, make_student: Callable,
        pairs: dict[str, str], make_twin: Callable[[], nn.Module] | None = None) -> dict:
    """One experiment from the command line; prints the JSON line and returns it."""
    quick(args)
    if args.quick:
        data = tuple(a[:n] for a, n in zip(data, (400, 400, 200, 200)))
    teacher, acc = prepare_teacher(args, data, make_teacher, teacher_input)
    res = distil(args, data, teacher, acc, teacher_input, make_student, pairs, make_twin)
    print(json.dumps(res))
    return res


def digits_teacher() -> nn.Module:
    """MLP 64-256-256-10 (ReLU)."""
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def mnist1d_teacher() -> nn.Module:
    """1-D CNN conv32-conv32(stride 2)-fc128 on the length-40 sequence."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)), nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.Conv1d(32, 32, 5, stride=2, padding=2),
        nn.ReLU(), nn.Flatten(), nn.Linear(32 * 20, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def _mlp_twin(n_in: int):
    def make(args) -> nn.Module:  # same topology as the student, for --ann-init
        h = args.hidden
        return nn.Sequential(nn.Linear(n_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10))

    return make


def spec(dataset: str) -> dict:
    """Data loader, teacher, student and tap pairs of an example dataset."""
    n_in, load, teacher, tap = {
        "digits": (64, datasets.digits, digits_teacher, "3"),
        "mnist1d": (40, datasets.mnist1d, mnist1d_teacher, "8"),
    }[dataset]
    return dict(load=load, make_teacher=teacher, teacher_input=lambda x: x,
                make_student=lambda a: dense_student([n_in, a.hidden, a.hidden, 10], output=a.output),
                pairs={"body.fc2": tap}, make_twin=_mlp_twin(n_in))


def main(dataset: str, description: str, argv=None) -> dict:
    """Entry point of ``examples/distill_<dataset>.py``."""
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))  # small nets: more threads cost more
    args = parser(description).parse_args(argv)
    args.dataset = dataset
    sp = spec(dataset)
    twin = sp.pop("make_twin")
    return run(args, sp.pop("load")(), make_twin=lambda: twin(args), **sp)

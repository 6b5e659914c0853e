"""The shared driver of ``examples/distill_*.py``: train a teacher, distil a student with one
loss family, export, compile for Loihi 2, run on the emulator, print one JSON line."""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from collections.abc import Callable

import torch
from torch import nn

from snnc.distill import data as datasets
from snnc.distill import events as event_task
from snnc.distill.conversion import deployable_body
from snnc.distill.data import rate_encode
from snnc.distill.deploy import evaluate, evaluate_deployed
from snnc.distill.distiller import Distiller, ReverseKD, TeacherCE
from snnc.distill.init import init_from_ann, init_from_teacher
from snnc.distill.losses import TEACHERLESS, loss_family
from snnc.distill.sigma_delta import SigmaDeltaStudent, evaluate_sd_deployed
from snnc.distill.student import OUTPUTS, conv_student, dense_student
from snnc.distill.trainer import fit, seed_everything, train_teacher
from snnc.errors import InputError, ValidationError

#: loss families of ``--loss``; ``twoway`` = kd + the teacher trained on CE + γ·KL toward the
#: student (ReverseKD), ``control`` = kd + the teacher trained on CE alone (TeacherCE), same lr;
#: ``tet`` = per-timestep CE (TETLoss), ``kd_tet`` = tet + per-timestep KD
FAMILIES = ("ce", "kd", "kd_step", "kd_focal", "feature", "relation", "ot", "twoway", "control", "tet", "kd_tet")
DATASETS = ("digits", "mnist1d", "events")
STUDENTS = ("mlp", "conv", "sd")
#: static training inputs a sigma-delta student is calibrated on (the conversion's units)
SD_CALIBRATION = 300
TEACHERS = ("mlp", "cnn", "cnn3")


def parser(description: str, dataset: str = "digits") -> argparse.ArgumentParser:
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
    p.add_argument("--decoder", choices=("rate", "affine"), default="rate",
                   help="decoder of the student tap in feature/relation/ot (affine: a trained LN(W r + b))")
    p.add_argument("--gamma", type=float, default=0.5, help="twoway: weight of the teacher's KL toward the student")
    p.add_argument("--teacher-lr", type=float, default=1e-4,
                   help="twoway/control: Adam lr of the teacher's steps during distillation")
    p.add_argument("--target-norm", choices=("none", "layer"), default="none",
                   help="feature/relation/ot: standardise each teacher tap feature per sample (layer)")
    p.add_argument("--budget", type=float, default=None, help="add SpikeBudget(target_rate)")
    p.add_argument("--ann-init", action="store_true", help="initialise the student from a same-topology ANN")
    p.add_argument("--teacher-init", action="store_true",
                   help="initialise the student from the trained teacher itself (--student sd: the teacher's topology)")
    p.add_argument("--sd-threshold", type=_threshold, default=0.0,
                   help="--student sd: the delta threshold θ in activation units (default 0: the quantized ANN "
                        "exactly); 'search': the largest θ within 0.5 pp of θ = 0 on the calibration inputs")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the teacher's and the student's initialisation and the batch order")
    p.add_argument("--quick", action="store_true", help="a short run, see QUICK / docs/distill.md")
    p.add_argument("--checkpoint", default=None, help="student checkpoint file (resumed if present)")
    p.add_argument("--dataset", choices=DATASETS, default=dataset, help=f"data set (default {dataset})")
    p.add_argument("--student", choices=STUDENTS, default="mlp",
                   help="mlp: n_in-H-H-10 CUBA LIF; conv: conv LIF layers (--channels, 3x3, stride 2), "
                        "a dense H layer, the read-out; sd: the teacher's topology as a sigma-delta network "
                        "(static input, latency depth + 1 steps; --timesteps unused)")
    p.add_argument("--channels", type=int, nargs="+", default=[8], help="conv student channels per layer")
    p.add_argument("--teacher", choices=TEACHERS, default=None,
                   help="teacher kind (default: mlp on digits, cnn on mnist1d and events)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: the cores this process may run on, os.sched_getaffinity)")
    p.add_argument("--tet-lambda", type=float, default=0.0, help="tet/kd_tet: weight λ of the MSE(z^t, 1) term")
    p.add_argument("--learn-decay", action="store_true", help="learn α, β per hidden layer (on the 12-bit grid)")
    p.add_argument("--learn-threshold", nargs="?", const="layer", default=False, choices=("layer", "channel"),
                   help="learn θ per hidden layer (or per output channel: --learn-threshold channel)")
    p.add_argument("--batchnorm", action="store_true", help="BN on every hidden layer's drive, folded on export")
    return p


def _recipes(a) -> dict:
    """The neuron recipes of the CLI flags (--learn-decay, --learn-threshold, --batchnorm)."""
    return dict(learn_decay=getattr(a, "learn_decay", False), learn_threshold=getattr(a, "learn_threshold", False),
                batchnorm=getattr(a, "batchnorm", False))


def _threshold(text: str) -> float | None:
    """``--sd-threshold``: a float, or ``search`` (None: snnc's threshold search)."""
    return None if text == "search" else float(text)


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: what ``--quick`` sets per data set (epochs and timesteps are capped at these values;
#: ``train``/``test``: the first n samples, None = the whole split).  On digits it reaches
#: >= 90 % deployed in well under a minute on 2 cores (tests/integration/test_distill_examples.py).
QUICK = {
    "digits": dict(epochs=8, teacher_epochs=20, qat_epochs=0, timesteps=4, train=None, test=None),
    "mnist1d": dict(epochs=3, teacher_epochs=5, qat_epochs=0, timesteps=4, train=400, test=200),
    "events": dict(epochs=3, teacher_epochs=4, qat_epochs=1, timesteps=4, train=600, test=300),
}


def quick(args) -> None:
    """Shrink a run to the --quick budget of its data set (:data:`QUICK`)."""
    if args.quick:
        q = QUICK[args.dataset]
        for k in ("epochs", "teacher_epochs", "qat_epochs", "timesteps"):
            setattr(args, k, min(getattr(args, k), q[k]))


def subset(data, dataset: str):
    """The --quick subset of (x_train, y_train, x_test, y_test)."""
    n_tr, n_te = QUICK[dataset]["train"], QUICK[dataset]["test"]
    return tuple(a if n is None else a[:n] for a, n in zip(data, (n_tr, n_tr, n_te, n_te)))


def prepare_teacher(args, data, make_teacher: Callable[[], nn.Module], teacher_input: Callable,
                    teacher_opts: dict | None = None):
    """Train and score the teacher once (shared by every arm of a sweep): (teacher, acc %).
    ``teacher_opts``: ``lr``/``weight_decay`` for :func:`train_teacher` (the spec's)."""
    xtr, ytr, xte, yte = data
    teacher = train_teacher(make_teacher, teacher_input(xtr), ytr, epochs=args.teacher_epochs, seed=args.seed,
                            **(teacher_opts or {}))
    return teacher, evaluate(teacher, teacher_input(xte), yte)["acc"]


def distil(args, data, teacher: nn.Module, teacher_acc: float, teacher_input: Callable, make_student: Callable,
           pairs: dict[str, str], make_twin: Callable[[], nn.Module] | None = None,
           student_input: Callable = lambda x: x, encode: Callable | None = None) -> dict:
    """Distil one student from a (copy of the) trained teacher, deploy it, return the result row.
    ``encode(x, T)``: the student's spikes (default: :func:`student_encoder` of the data set)."""
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = data
    teacher = copy.deepcopy(teacher)  # the two-way loop and its control update it
    seed_everything(args.seed)
    student = make_student(args)
    encode = encode or student_encoder(_DATASETS.get(args.dataset, {}).get("encode"), student_input)
    if args.ann_init and make_twin is not None:
        if "encode" in _DATASETS.get(args.dataset, {}):
            raise ValidationError(f"--ann-init is not available on {args.dataset!r} (the twin ANN reads static input)",
                                  hint="drop --ann-init")
        twin = train_teacher(make_twin, xtr, ytr, epochs=args.teacher_epochs, seed=args.seed)
        init_from_ann(student, twin)
    if getattr(args, "teacher_init", False):
        init_from_teacher(student, teacher)
    sd = isinstance(student, SigmaDeltaStudent)
    if sd:  # static inputs (the host-side standardisation, then the program's DeltaEncoder)
        str_, ste = student.prepare(student_input(xtr)), student.prepare(student_input(xte))
        student.calibrate(str_[:SD_CALIBRATION])
    else:
        str_, ste = encode(xtr, args.timesteps), encode(xte, args.timesteps)
    feat = args.loss in ("feature", "relation", "ot")
    family = "kd" if args.loss in ("twoway", "control") else args.loss  # the student's step is kd's
    losses = loss_family(family, tau=args.tau, alpha=args.alpha, pairs=pairs if feat else None,
                         budget=args.budget, decoder=getattr(args, "decoder", "rate"),
                         tet_lambda=getattr(args, "tet_lambda", 0.0))
    t_lr = getattr(args, "teacher_lr", 1e-4)
    reverse = None  # one-way: the teacher stays as trained
    if args.loss == "twoway":
        reverse = ReverseKD(tau=args.tau, gamma=getattr(args, "gamma", 0.5), teacher_lr=t_lr)
    elif args.loss == "control":
        reverse = TeacherCE(tau=args.tau, teacher_lr=t_lr)
    norm = getattr(args, "target_norm", "none")
    dist = Distiller(None if args.loss in TEACHERLESS else teacher, student, losses, taps=pairs if feat else None,
                     reverse=reverse, target_norm=None if norm == "none" else norm)
    fit(dist, teacher_input(xtr), str_, ytr, epochs=args.epochs, qat_epochs=args.qat_epochs, seed=args.seed,
        checkpoint=args.checkpoint)
    student = dist.student
    # the teacher's test accuracy after distillation: changed only where it trained (twoway, control)
    teacher_after = evaluate(dist.teacher, teacher_input(xte), yte)["acc"] if reverse is not None else teacher_acc
    qat_acc = evaluate(student, ste, yte)["acc"] if args.qat_epochs else None
    student.set_qat(False)
    fl = evaluate(student, ste, yte)
    dep = evaluate_sd_deployed(student, ste, yte) if sd else evaluate_deployed(student, ste, yte)
    sd_row = {}
    if sd:  # a sigma-delta student sends graded messages: "spikes" = messages (input and bias relays included)
        dep["spikes"] = dep["messages"]
        sd_row = {"timesteps": None, "latency_steps": dep["latency_steps"],
                  "synops_per_inference": round(dep["synops"], 1),
                  "teacher_init": bool(getattr(args, "teacher_init", False))}
    return {
        "dataset": args.dataset, "loss": args.loss, "tau": args.tau, "alpha": args.alpha, "seed": args.seed,
        "timesteps": args.timesteps, "hidden": args.hidden, "output": args.output, "epochs": args.epochs,
        "decoder": getattr(args, "decoder", "rate") if feat else None,
        "student": getattr(args, "student", "mlp"), "teacher": getattr(args, "teacher", None),
        "teacher_epochs": args.teacher_epochs, "threads": torch.get_num_threads(),
        "teacher_acc": round(teacher_acc, 2), "teacher_acc_before": round(teacher_acc, 2),
        "teacher_acc_after": round(teacher_after, 2), "reverse": None if reverse is None else reverse.name,
        "gamma": None if reverse is None else reverse.gamma, "teacher_lr": None if reverse is None else t_lr,
        "target_norm": norm if feat else None, "student_float_acc": round(fl["acc"], 2),
        "student_fixed_acc": round(dep["acc"], 2), "student_qat_acc": None if qat_acc is None else round(qat_acc, 2),
        "spikes_per_inference": round(dep["spikes"], 1), "float_spikes_per_inference": round(fl["spikes"], 1),
        "energy_per_inference_j": dep.get("energy_per_inference_j"),
        "event_energy_per_inference_j": dep.get("event_energy_per_inference_j"),
        "synops_per_inference": None if dep.get("synops_per_inference") is None else round(dep["synops_per_inference"], 1),
        "seconds": round(time.perf_counter() - t0, 1), **_recipes(args), **sd_row,
    }


def run(args, data, make_teacher: Callable[[], nn.Module], teacher_input: Callable, make_student: Callable,
        pairs: dict[str, str], make_twin: Callable[[], nn.Module] | None = None,
        student_input: Callable = lambda x: x, teacher_opts: dict | None = None,
        encode: Callable | None = None) -> dict:
    """One experiment from the command line; prints the JSON line and returns it."""
    t0 = time.perf_counter()
    quick(args)
    if args.quick:
        data = subset(data, args.dataset)
    teacher, acc = prepare_teacher(args, data, make_teacher, teacher_input, teacher_opts)
    res = distil(args, data, teacher, acc, teacher_input, make_student, pairs, make_twin, student_input, encode)
    res["total_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res))
    return res


def mlp_teacher(n_in: int) -> Callable[[], nn.Module]:
    """MLP n_in-256-256-10 (ReLU); its feature tap is ``"3"`` (the second ReLU)."""
    return lambda: nn.Sequential(nn.Linear(n_in, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def digits_teacher() -> nn.Module:
    """MLP 64-256-256-10 (ReLU)."""
    return mlp_teacher(64)()


def digits_cnn_teacher() -> nn.Module:
    """2-D CNN on the 8x8 image: conv32-conv64(stride 2)-fc128; feature tap ``"7"`` (fc128's ReLU)."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1),
        nn.ReLU(), nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def mnist1d_teacher() -> nn.Module:
    """The mnist1d paper's 1-D CNN (conv25 k5/2, conv25 k3/2, conv25 k3/2, linear 125→10) after
    a standardising input BatchNorm (no affine); trained with Adam lr 1e-2 and no weight decay
    (:data:`_DATASETS`) it reaches ~92 % (the old conv32-conv32-fc128 on the [0, 1] input with
    lr 1e-3 and weight decay stayed at 52-64 %).  Feature tap ``"7"`` (the last ReLU, 25×5)."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)), nn.BatchNorm1d(1, affine=False), nn.Conv1d(1, 25, 5, stride=2, padding=1),
        nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(), nn.Flatten(), nn.Linear(125, 10),
    )


def mnist1d_cnn3_teacher() -> nn.Module:
    """:func:`mnist1d_teacher` with two wider convolutions (conv32 k5/2, conv64 k3/2, linear 640→10):
    three weight layers, so its sigma-delta student (``--student sd``) answers after 4 steps, not
    5.  Same recipe (lr 1e-2, no weight decay): 92.9 % after 40 epochs (seed 0).  Tap ``"5"``."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)), nn.BatchNorm1d(1, affine=False), nn.Conv1d(1, 32, 5, stride=2, padding=1),
        nn.ReLU(), nn.Conv1d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(640, 10),
    )


def events_cnn_teacher() -> nn.Module:
    """2-D CNN on the event task's teacher view (:func:`snnc.distill.events.frames`: 8 bins × 2
    polarities = 16 channels, 16×16): conv32-conv64/2-conv64/2-fc128; feature tap ``"8"``
    (fc128's ReLU)."""
    return nn.Sequential(
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def events_mlp_teacher() -> nn.Module:
    """MLP (16·16·16)-256-256-10 on the flattened teacher view (16 channels of 16×16); feature tap
    ``"4"`` (the second ReLU)."""
    n_in = 16 * event_task.SIZE * event_task.SIZE
    return nn.Sequential(nn.Flatten(), *mlp_teacher(n_in)())


def student_encoder(encode: Callable | None, student_input: Callable) -> Callable:
    """The student's spikes ``(x, T) -> (N, T, *input_shape)``: ``rate_encode(student_input(x), T)``
    for static data (``encode`` None), else ``encode(x, T)`` (N, T, ...) with ``student_input``
    shaping each step (e.g. the binned events, :func:`snnc.distill.events.bin_events`)."""
    if encode is None:
        return lambda x, t: rate_encode(student_input(x), t)

    def enc(x, t):
        s = encode(x, t)
        return student_input(s.flatten(0, 1)).unflatten(0, tuple(s.shape[:2]))

    return enc


_DEFAULT_OPTS = dict(lr=1e-3, weight_decay=1e-4)

#: per data set: input width, the conv student's input shape (C, H, W), loader, teachers
#: {kind: (factory, feature tap, train_teacher options)} and the default teacher kind
_DATASETS = {
    "digits": dict(n_in=64, image=(1, 8, 8), load=datasets.digits, default="mlp",
                   teachers={"mlp": (mlp_teacher(64), "3", _DEFAULT_OPTS),
                             "cnn": (digits_cnn_teacher, "7", _DEFAULT_OPTS)}),
    "mnist1d": dict(n_in=40, image=(1, 1, 40), load=datasets.mnist1d, default="cnn",
                    teachers={"mlp": (mlp_teacher(40), "3", _DEFAULT_OPTS),
                              "cnn": (mnist1d_teacher, "7", dict(lr=1e-2, weight_decay=0.0)),
                              "cnn3": (mnist1d_cnn3_teacher, "5", dict(lr=1e-2, weight_decay=0.0))}),
    # events: the student sees the binned spikes (encode), the teacher 8 count frames (teacher_input)
    "events": dict(n_in=2 * 16 * 16, image=(2, 16, 16), load=datasets.events, default="cnn",
                   encode=event_task.bin_events, teacher_input=lambda x: event_task.frames(x, 8),
                   teachers={"mlp": (events_mlp_teacher, "4", _DEFAULT_OPTS),
                             "cnn": (events_cnn_teacher, "8", _DEFAULT_OPTS)}),
}


def _mlp_twin(n_in: int):
    def make(args) -> nn.Module:  # same topology as the MLP student, for --ann-init
        h = args.hidden
        return nn.Sequential(nn.Linear(n_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10))

    return make


def _conv_twin(image: tuple[int, ...]):
    def make(args) -> nn.Module:  # same topology as conv_student, for --ann-init
        layers: list[nn.Module] = [nn.Unflatten(1, image)]
        c, shape = image[0], image
        for ch in args.channels:
            conv = nn.Conv2d(c, ch, 3, stride=2, padding=1)
            with torch.no_grad():
                shape = tuple(conv(torch.zeros(1, *shape)).shape[1:])
            layers += [conv, nn.ReLU()]
            c = ch
        n = int(torch.tensor(shape).prod())
        layers += [nn.Flatten(), nn.Linear(n, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10)]
        return nn.Sequential(*layers)

    return make


def spec(dataset: str, student: str = "mlp", teacher: str | None = None) -> dict:
    """Data loader, teacher, student, the student's input shaping and the tap pairs of an
    example: ``student`` in :data:`STUDENTS`, ``teacher`` in :data:`TEACHERS` (None: the
    data set's default)."""
    d = _DATASETS[dataset]
    if (teacher or d["default"]) not in d["teachers"]:
        raise InputError(f"no {teacher!r} teacher for {dataset}", hint=f"use one of {sorted(d['teachers'])}")
    make_teacher, tap, opts = d["teachers"][teacher or d["default"]]
    n_in, image = d["n_in"], d["image"]
    teacher_input = d.get("teacher_input", lambda x: x)
    if student == "sd":  # the teacher's topology (Conv1d as (1, k) Conv2d) on static inputs
        if "encode" in d:
            raise InputError(f"--student sd takes static inputs; {dataset!r} is an event stream",
                             hint="use --student mlp or conv on event data")
        shape = image if any(isinstance(m, (nn.Conv1d, nn.Conv2d)) for m in make_teacher().modules()) else (n_in,)
        return dict(load=d["load"], make_teacher=make_teacher, teacher_input=teacher_input,
                    make_student=lambda a: SigmaDeltaStudent(deployable_body(make_teacher()), shape, None,
                                                             threshold=getattr(a, "sd_threshold", 0.0)),
                    student_input=lambda x: x.reshape(x.shape[0], *shape), pairs={}, make_twin=None,
                    teacher_opts=dict(opts))
    if student == "conv":
        shape = lambda x: x.reshape(x.shape[0], *image)  # noqa: E731
        return dict(load=d["load"], make_teacher=make_teacher, teacher_input=teacher_input,
                    make_student=lambda a: conv_student(image, a.channels, a.hidden, 10, output=a.output,
                                                         **_recipes(a)),
                    student_input=shape, encode=student_encoder(d.get("encode"), shape),
                    pairs={"body.fc": tap}, make_twin=_conv_twin(image), teacher_opts=dict(opts))
    shape = lambda x: x.reshape(x.shape[0], n_in)  # noqa: E731
    return dict(load=d["load"], make_teacher=make_teacher, teacher_input=teacher_input,
                make_student=lambda a: dense_student([n_in, a.hidden, a.hidden, 10], output=a.output, **_recipes(a)),
                student_input=shape, encode=student_encoder(d.get("encode"), shape),
                pairs={"body.fc2": tap}, make_twin=_mlp_twin(n_in), teacher_opts=dict(opts))


def main(dataset: str, description: str, argv=None) -> dict:
    """Entry point of ``examples/distill_<dataset>.py`` (``--dataset`` overrides ``dataset``)."""
    args = parser(description, dataset).parse_args(argv)
    args.threads = args.threads or default_threads()
    torch.set_num_threads(args.threads)
    args.teacher = args.teacher or _DATASETS[args.dataset]["default"]
    sp = spec(args.dataset, args.student, args.teacher)
    twin = sp.pop("make_twin")
    return run(args, sp.pop("load")(), make_twin=None if twin is None else lambda: twin(args), **sp)

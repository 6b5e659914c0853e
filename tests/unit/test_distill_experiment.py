"""The examples' driver (snnc.distill.experiment): seeds fix the numbers (initialisation
included), threads default to the usable cores, conv students and the data set come from the
command line, and --quick is what docs/distill.md says."""

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from snnc.distill import experiment, train_teacher
from snnc.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--epochs", "1", "--teacher-epochs", "2", "--timesteps", "2", "--hidden", "16"]


@pytest.fixture(autouse=True)
def _keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 12, generator=g)
    return x, (x[:, :6].sum(1) > x[:, 6:].sum(1)).long()


def _factory():
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))


def test_train_teacher_seed_fixes_the_initialisation_of_a_factory():
    x, y = _data()
    torch.manual_seed(123)  # global state before the call must not matter
    a = train_teacher(_factory, x, y, epochs=2, seed=5, progress=False)
    torch.manual_seed(999)
    b = train_teacher(_factory, x, y, epochs=2, seed=5, progress=False)
    c = train_teacher(_factory, x, y, epochs=2, seed=6, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))
    assert not a.training


def test_train_teacher_rejects_what_is_not_a_module_or_factory():
    x, y = _data()
    with pytest.raises(InputError, match="not a module or a factory"):
        train_teacher(3, x, y, epochs=1)
    with pytest.raises(InputError, match="factory returned a int"):
        train_teacher(lambda: 3, x, y, epochs=1)


def _row(*argv):
    row = experiment.main("digits", "", list(argv))
    return {k: v for k, v in row.items() if k not in ("seconds", "total_seconds")}


def test_same_seed_same_numbers_other_seed_other_numbers():
    a, b = _row(*TINY, "--seed", "3"), _row(*TINY, "--seed", "3")
    assert a == b
    c = _row(*TINY, "--seed", "4")
    keys = ("teacher_acc", "student_float_acc", "student_fixed_acc", "spikes_per_inference")
    assert [a[k] for k in keys] != [c[k] for k in keys]


def test_threads_default_to_the_usable_cores_and_the_option_overrides():
    assert experiment.default_threads() == len(os.sched_getaffinity(0))
    assert _row(*TINY)["threads"] == len(os.sched_getaffinity(0))
    assert _row(*TINY, "--threads", "1")["threads"] == 1


def test_conv_student_and_dataset_from_the_command_line():
    row = _row(*TINY, "--student", "conv", "--channels", "4", "--dataset", "mnist1d", "--loss", "feature",
               "--timesteps", "4", "--epochs", "2")
    assert row["dataset"] == "mnist1d" and row["student"] == "conv" and row["teacher"] == "cnn"
    assert row["spikes_per_inference"] > 0
    assert row["timesteps"] == 4 and row["hidden"] == 16
    row = _row(*TINY, "--student", "conv", "--teacher", "cnn", "--ann-init")
    assert row["dataset"] == "digits" and row["student"] == "conv" and row["teacher"] == "cnn"


def test_quick_configuration_is_the_documented_one():
    doc = (ROOT / "docs" / "distill.md").read_text()
    for name, q in experiment.QUICK.items():
        line = (f"| {name} | {q['epochs']} | {q['teacher_epochs']} | {q['timesteps']} | "
                f"{q['train'] or 'all'} | {q['test'] or 'all'} |")
        assert line in doc, line
    args = experiment.parser("").parse_args(["--quick"])
    experiment.quick(args)
    q = experiment.QUICK["digits"]
    assert (args.epochs, args.teacher_epochs, args.timesteps, args.qat_epochs) == (
        q["epochs"], q["teacher_epochs"], q["timesteps"], 0)


def test_decoder_option_reaches_the_feature_loss():
    from snnc.distill.losses import FeatureKD, loss_family

    feat = [m for m in loss_family("feature", pairs={"body.fc2": "3"}, decoder="affine")[-1].modules()
            if isinstance(m, FeatureKD)]
    assert feat and feat[0].decoder is None and feat[0].decoder_kind == "affine"
    row = _row(*TINY, "--loss", "feature", "--decoder", "affine")
    assert row["decoder"] == "affine" and row["loss"] == "feature"


def test_mnist1d_teacher_tap_is_its_last_relu():
    sp = experiment.spec("mnist1d")
    teacher = sp["make_teacher"]()
    (tap,) = sp["pairs"].values()
    mods = dict(teacher.named_modules())
    assert isinstance(mods[tap], nn.ReLU)
    assert not any(isinstance(m, nn.ReLU) for n, m in mods.items() if n and int(n) > int(tap))
    assert sp["teacher_opts"] == {"lr": 1e-2, "weight_decay": 0.0}


@pytest.mark.slow
def test_mnist1d_cnn_teacher_reaches_90_percent():
    # issue 16: the old mnist1d teacher stayed at 52-64 % (published CNNs ~94 %); measured
    # 92.1 % after 30 epochs (seed 0): 8 s on a quiet 2-core machine, ~100 s when contended
    torch.set_num_threads(experiment.default_threads())
    sp = experiment.spec("mnist1d")
    args = experiment.parser("", "mnist1d").parse_args(["--teacher-epochs", "30"])
    _, acc = experiment.prepare_teacher(args, sp["load"](), sp["make_teacher"], sp["teacher_input"],
                                        sp["teacher_opts"])
    assert acc >= 90.0

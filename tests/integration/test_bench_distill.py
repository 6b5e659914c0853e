"""benchmarks/bench_distill.py: one command writes the JSON and the markdown tables (the main
table, the two-way summary, the T sweep); every student's QAT accuracy equals its deployed
(emulator) accuracy; the two-way loop and its control carry the teacher's accuracy before and
after; the noise verdict is a paired t-test on per-seed differences."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_distill", ROOT / "benchmarks" / "bench_distill.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_distill"] = mod  # dataclasses resolve their module's namespace
    spec.loader.exec_module(mod)
    return mod


def test_paired_noise_verdict():
    paired = _bench().paired
    m, half, noise = paired([0.28, -0.28, 0.56])  # mean 0.19, t-interval far wider: noise
    assert m == pytest.approx(0.56 / 3) and half > abs(m) and noise
    m, half, noise = paired([1.0, 1.2, 1.1])  # consistent +1.1 pp on every seed: not noise
    assert not noise and half < 1.1
    assert paired([0.5]) == (0.5, None, True)


def test_arm_registry_entries_are_valid():
    from snnc.distill.experiment import FAMILIES, STUDENTS, parser

    bench = _bench()
    known = set(vars(parser("").parse_args([])))
    for name, arm in bench.ARMS.items():
        assert arm.loss in FAMILIES, name
        assert arm.student is None or arm.student in STUDENTS, name
        assert arm.note, name
    assert set(bench.DEFAULT_ARMS) <= set(bench.ARMS)
    # the arms of the issue are in the default set
    assert {"ce", "kd", "kd_step", "feature_affine", "relation", "ot", "twoway", "control"} <= set(bench.DEFAULT_ARMS)
    # extra args of the registered arms are options of the experiment's parser
    assert all(set(a.args) <= known for a in bench.ARMS.values())


def test_quick_run_writes_tables_and_qat_equals_deployed(tmp_path):
    n = torch.get_num_threads()
    arms = ["ce", "kd", "feature", "twoway", "control"]
    try:
        out = _bench().main(["--task", "digits", "--epochs", "2", "--teacher", "mlp", "--arms", *arms,
                             "--seeds", "0", "1", "--teacher-epochs", "3", "--timesteps", "2", "4",
                             "--sweep-arms", "ce", "kd", "--threads", "1", "--hidden", "16", "--json", str(tmp_path / "t.json"),
                             "--md", str(tmp_path / "t.md")])
    finally:
        torch.set_num_threads(n)
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["rows"] == out["rows"] and out["tasks"] == ["digits"]
    rows = out["rows"]
    # (teacher + 5 arms at T = 4) x 2 seeds + (ce, kd at T = 2) x 2 seeds
    assert len(rows) == 2 * 6 + 2 * 2
    students = [r for r in rows if r["arm"] != "teacher"]
    assert all(r["qat"] == r["deployed"] for r in students)  # bit-exact deployment, every student
    assert all(r["spikes"] > 0 and r["energy_j"] > 0 for r in students)
    teacher = {r["seed"]: r["float"] for r in rows if r["arm"] == "teacher"}
    for r in students:
        assert r["teacher_before"] == teacher[r["seed"]]
        if r["arm"] in ("twoway", "control"):  # the teacher trained on: its accuracy after
            assert isinstance(r["teacher_after"], float)
        else:  # the shared teacher is never changed by an arm
            assert r["teacher_after"] == r["teacher_before"]
    assert {(r["arm"], r["T"]) for r in students} == {(a, 4) for a in arms} | {("ce", 2), ("kd", 2)}
    md = (tmp_path / "t.md").read_text()
    assert md == out["markdown"] and md.startswith("**digits**: mlp teacher (") and "student 16-16" in md
    for arm in ("teacher", *arms):
        assert f"| {arm} |" in md
    main = md.split("Two-way loop")[0]
    assert main.count("within noise (") + main.count("better (") + main.count("worse (") == len(arms) - 1
    tw = next(line for line in md.splitlines() if line.startswith("| twoway |"))
    assert "→" in tw  # the teacher's accuracy before → after
    assert "| student deployed, twoway − control |" in md and "| teacher after, twoway − control |" in md
    assert "T sweep" in md and "T = 2: deployed %" in md and "T = 4: deployed %" in md
    redrawn = _bench().main(["--render", str(tmp_path / "t.json"), "--md", str(tmp_path / "r.md")])
    assert redrawn["markdown"] == md == (tmp_path / "r.md").read_text()  # the tables come from the rows


def test_task_settings_fill_only_unset_options():
    """events gets its conv student, teacher epochs and arm set where the command line is
    silent; an explicit option wins; other tasks keep the global defaults; every per-task arm
    is registered and no sigma-delta arm runs on event streams (static input only)."""
    import argparse

    bench = _bench()
    unset = argparse.Namespace(student=None, channels=None, teacher_epochs=None, arms=None, quick=False)
    ev = bench.task_opts(unset, "events")
    assert (ev.student, ev.channels, ev.teacher_epochs) == ("conv", [8, 16], 15)
    assert set(ev.arms) <= set(bench.ARMS) and "ce" in ev.arms
    assert all(bench.ARMS[a].student != "sd" for a in ev.arms)
    dig = bench.task_opts(unset, "digits")
    assert (dig.student, dig.channels, dig.teacher_epochs) == ("mlp", [8], 40)
    assert list(dig.arms) == list(bench.DEFAULT_ARMS) and "sd_kd" in dig.arms
    given = argparse.Namespace(student="mlp", channels=[4], teacher_epochs=7, arms=["ce"], quick=False)
    assert vars(bench.task_opts(given, "events")) == vars(given)
    quick = bench.task_opts(argparse.Namespace(**{**vars(unset), "quick": True}), "events")
    assert quick.teacher_epochs == 5
    assert unset.student is None  # the caller's namespace is not changed

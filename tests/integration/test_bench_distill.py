"""benchmarks/bench_distill.py: one command writes the JSON and the markdown table; every
student's QAT accuracy equals its deployed (emulator) accuracy; the noise verdict is a paired
t-test on per-seed differences."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_distill", ROOT / "benchmarks" / "bench_distill.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_paired_noise_verdict():
    paired = _bench().paired
    m, half, noise = paired([0.28, -0.28, 0.56])  # mean 0.19, t-interval far wider: noise
    assert m == pytest.approx(0.56 / 3) and half > abs(m) and noise
    m, half, noise = paired([1.0, 1.2, 1.1])  # consistent +1.1 pp on every seed: not noise
    assert not noise and half < 1.1
    assert paired([0.5]) == (0.5, None, True)


def test_quick_run_writes_json_and_table_and_qat_equals_deployed(tmp_path):
    n = torch.get_num_threads()
    try:
        out = _bench().main(["--epochs", "2", "--teacher", "mlp", "--arms", "ce", "kd", "feature_affine", "--seeds", "0", "1",
                             "--teacher-epochs", "3", "--json", str(tmp_path / "t.json"),
                             "--md", str(tmp_path / "t.md")])
    finally:
        torch.set_num_threads(n)
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["rows"] == out["rows"] and len(out["rows"]) == 2 * 4  # (teacher + 3 arms) x 2 seeds
    students = [r for r in out["rows"] if r["arm"] != "teacher"]
    assert all(r["qat"] == r["deployed"] for r in students)  # bit-exact deployment
    assert all(r["spikes"] > 0 for r in students)
    md = (tmp_path / "t.md").read_text()
    assert md == out["markdown"] and md.startswith("**digits**: mlp teacher (")
    for arm in ("teacher", "ce", "kd", "feature_affine"):
        assert f"| {arm} |" in md
    assert md.count("within noise (") + md.count("better (") + md.count("worse (") == 2

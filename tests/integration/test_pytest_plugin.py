"""The snnc pytest plugin, exercised in throw-away test projects with pytester."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

REGRESSION_TEST = f'''
import numpy as np

MODEL = {str(ROOT / "examples" / "mlp.nir")!r}
X = np.load({str(ROOT / "examples" / "mlp_input.npz")!r})["x"][:2, :20]


def test_mlp(snnc_compile, snnc_run, snnc_golden, snnc_baseline):
    prog = snnc_compile(MODEL, target="loihi2")
    y = snnc_run(prog, X)
    snnc_golden.assert_spikes_match(y)
    snnc_baseline.check("latency_steps", max(prog.latency.values()))
    snnc_baseline.check("spikes", int(y.sum()))


def test_compiled_once(snnc_compile):
    snnc_compile(MODEL, target="loihi2")
    assert snnc_compile.compiled == 1
'''


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    """pytester's in-process runs drop the modules first imported inside them, and h5py (under
    nir) cannot be imported twice in one process: import the whole compile path up front."""
    import snnc

    snnc.compile(ROOT / "examples" / "mlp.nir", target="loihi2")


@pytest.fixture
def project(pytester):
    pytester.makepyfile(test_model=REGRESSION_TEST)
    return pytester


def _golden(p) -> Path:
    return Path(p.path) / "golden" / "test_model" / "test_mlp.npz"


def test_record_then_compare(project):
    r = project.runpytest("--snnc-update-golden")
    r.assert_outcomes(passed=2)
    r.stdout.fnmatch_lines(["*snnc golden files updated*", "*test_mlp.npz"])
    assert _golden(project).is_file()
    base = json.loads((_golden(project).parent / "test_mlp.baseline.json").read_text())
    (key, values), = base["baselines"].items()
    assert key.startswith("emulator|") and values["latency_steps"] == 2 and values["spikes"] > 0
    project.runpytest().assert_outcomes(passed=2)


def test_changed_spikes_fail_with_the_first_difference(project):
    project.runpytest("--snnc-update-golden").assert_outcomes(passed=2)
    path = _golden(project)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["y"] = arrays["y"].copy()
    arrays["y"][1, 7, 3] ^= 1
    np.savez(path, **arrays)
    r = project.runpytest()
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*1 of * elements differ; first at (1, 7, 3)*",
                            "*--snnc-update-golden*"])


def test_golden_of_the_wrong_shape_names_file_and_field(project):
    project.runpytest("--snnc-update-golden").assert_outcomes(passed=2)
    np.savez(_golden(project), y=np.zeros((2, 5, 10), np.uint8))
    r = project.runpytest()
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*GoldenFileError*test_mlp.npz: field 'y' has shape (2, 5, 10)*"])


def test_missing_golden_and_baseline_tolerance(project):
    r = project.runpytest()
    r.stdout.fnmatch_lines(["*golden file*does not exist*"])
    project.runpytest("--snnc-update-golden").assert_outcomes(passed=2)
    bfile = _golden(project).parent / "test_mlp.baseline.json"
    doc = json.loads(bfile.read_text())
    key = next(iter(doc["baselines"]))
    doc["baselines"][key]["spikes"] *= 1.1
    bfile.write_text(json.dumps(doc))
    project.runpytest().stdout.fnmatch_lines(["*spikes = *, baseline * (rtol 0, atol 0)*"])
    doc["tolerances"] = {"emulator": {"spikes": {"rtol": 0.2}}}
    bfile.write_text(json.dumps(doc))
    project.runpytest().assert_outcomes(passed=2)


def test_hardware_tolerances_compare_counts_and_argmax(project):
    from snnc.testing import assert_spikes_match

    golden = np.zeros((2, 4, 3), np.uint8)
    golden[0, :, 1] = 1
    golden[1, :2, 2] = 1
    near = golden.copy()
    near[0, 0, 0] = 1  # one extra spike: count within 20 %, argmax unchanged
    assert_spikes_match(near, golden, exact=False, count_rtol=0.2)
    with pytest.raises(AssertionError, match="argmax agrees on 50.0%"):
        flipped = golden.copy()
        flipped[1, :, 0] = 1
        assert_spikes_match(flipped, golden, exact=False, count_rtol=1.0)


def test_hw_marker_skips_with_the_reason(pytester, monkeypatch):
    from snnc.backends import loihi2_hw

    monkeypatch.setattr(loihi2_hw, "REQUIRED_MODULES", {"snnc_absent_module.nc": "test"})
    pytester.makepyfile(test_hw='''
import pytest

@pytest.mark.hw
def test_on_board():
    raise AssertionError("must not run without a board")

def test_plain():
    pass
''')
    r = pytester.runpytest("-rs")
    r.assert_outcomes(passed=1, skipped=1)
    r.stdout.fnmatch_lines(["*Loihi 2 hardware absent: lava-loihi is not installed*"])

    pytester.makeini("[pytest]\nsnnc_hw_marker =\nmarkers = hw: my own hardware\n")
    pytester.runpytest().assert_outcomes(passed=1, failed=1)  # the project's own 'hw' runs


def test_loihi2_target_without_a_board_skips_only_the_tests_that_run(project, monkeypatch):
    from snnc.backends import loihi2_hw

    monkeypatch.setattr(loihi2_hw, "REQUIRED_MODULES", {"snnc_absent_module.nc": "test"})
    r = project.runpytest("-rs", "--snnc-target", "loihi2")
    r.assert_outcomes(passed=1, skipped=1)  # test_compiled_once runs nothing on the target
    r.stdout.fnmatch_lines(["*SKIPPED*Loihi 2 hardware absent: lava-loihi is not installed*"])


def test_unused_plugin_changes_nothing(pytester):
    pytester.makepyfile(test_plain="def test_a():\n    assert 1 + 1 == 2\n")
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:snnc").assert_outcomes(passed=1)


def test_plugin_import_is_light():
    code = ("import sys, snnc.testing.plugin; heavy = [m for m in ('torch', 'lava', 'onnx', "
            "'onnxruntime', 'nir', 'h5py') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.lava
def test_lava_target_matches_the_emulator_golden(project):
    project.runpytest("--snnc-update-golden", "-k", "test_mlp").assert_outcomes(passed=1)
    r = project.runpytest("--snnc-target", "lava", "-k", "test_mlp")
    r.assert_outcomes(passed=1)


@pytest.mark.parametrize("target", ["emulator", pytest.param("lava", marks=pytest.mark.lava)])
def test_project_regression_tests_run_on_each_target(target):
    """`pytest tests/golden --snnc-target lava|emulator`: snnc's own golden test on that target."""
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/golden",
         "--snnc-target", target],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:]
    assert " passed" in r.stdout.splitlines()[-1] and "failed" not in r.stdout.splitlines()[-1]


def test_compile_cache_tells_large_arrays_apart():
    """Calibration arrays that differ in one spike are different compiles (a numpy repr elides
    the middle of a large array, so it cannot be the key)."""
    from snnc.testing.plugin import Compiler

    x = np.concatenate([np.load(ROOT / "examples" / "mlp_input.npz")["x"]] * 8)
    y = x.copy()
    y.flat[y.size // 2] ^= 1
    assert repr(x) == repr(y)
    compile_ = Compiler()
    a = compile_(ROOT / "examples" / "mlp.nir", calibration=x)
    assert compile_(ROOT / "examples" / "mlp.nir", calibration=x.copy()) is a
    compile_(ROOT / "examples" / "mlp.nir", calibration=y)
    assert compile_.compiled == 2

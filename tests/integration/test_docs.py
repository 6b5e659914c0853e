"""The documentation site builds strictly, its generated pages follow the code, and the
regression-test example of docs/testing.md works as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).with_name("mkdocs")


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    """pytester drops the modules first imported while it is set up, and h5py (under nir)
    cannot be imported twice in one process: import the compile path before it."""
    import snnc

    snnc.compile(ROOT / "examples" / "mlp.nir")


def test_site_builds_strictly_with_generated_reference(tmp_path):
    site = tmp_path / "site"
    r = subprocess.run([str(MKDOCS), "build", "--strict", "-d", str(site)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    ops_page = (site / "supported-ops" / "index.html").read_text()
    from snnc.frontends.nir import SUPPORTED_NIR_TYPES

    for name in SUPPORTED_NIR_TYPES:
        assert f"<code>{name}</code>" in ops_page, name
    cli_page = (site / "reference" / "cli" / "index.html").read_text()
    assert "--snnc" not in cli_page and "--backend" in cli_page and "loihi2" in cli_page
    api_page = (site / "reference" / "api" / "index.html").read_text()
    assert "snnc.Program.export_onnx" in api_page and "snnc.testing.golden.assert_spikes_match" in api_page
    for page in ("testing", "hardware", "onnx-step-models", "errors", "quickstart"):
        assert (site / page / "index.html").is_file(), page


def test_nav_drops_pages_that_do_not_exist_yet():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import mkdocs_hooks
    finally:
        sys.path.remove(str(ROOT / "tools"))
    nav = [{"Home": "index.md"}, {"Guides": [{"A": "no-such-page.md"}, {"T": "testing.md"}]},
           {"Empty": [{"B": "missing.md"}]}, {"Ops": "supported-ops.md"}]
    assert mkdocs_hooks._prune(nav, ROOT / "docs") == [
        {"Home": "index.md"}, {"Guides": [{"T": "testing.md"}]}, {"Ops": "supported-ops.md"}]


def _doc_example(page: str, tag: str) -> str:
    text = (ROOT / "docs" / page).read_text()
    m = re.search(rf"<!-- example: {tag} -->\s*```python\n(.*?)```", text, re.S)
    assert m, f"no '{tag}' example in docs/{page}"
    return m.group(1)


def test_regression_example_in_docs_works_as_written(pytester):
    code = _doc_example("testing.md", "regression-test")
    assert len([ln for ln in code.splitlines() if ln.strip() and not ln.startswith("#")]) <= 10
    (pytester.path / "examples").mkdir()
    for f in ("mlp.nir", "mlp_input.npz"):
        shutil.copy(ROOT / "examples" / f, pytester.path / "examples" / f)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_my_model.py").write_text(code)
    pytester.runpytest("tests/test_my_model.py", "--snnc-update-golden").assert_outcomes(passed=1)
    assert (pytester.path / "tests" / "golden" / "test_my_model" / "test_my_model.npz").is_file()
    pytester.runpytest("tests/test_my_model.py").assert_outcomes(passed=1)


def test_onnxruntime_loop_in_docs_works_as_written(tmp_path, monkeypatch):
    (tmp_path / "examples").mkdir()
    for f in ("mlp.nir", "mlp_input.npz"):
        shutil.copy(ROOT / "examples" / f, tmp_path / "examples" / f)
    monkeypatch.chdir(tmp_path)
    exec(compile(_doc_example("onnx-step-models.md", "onnxruntime-loop"), "docs-example", "exec"), {})
    assert (tmp_path / "mlp.onnx").is_file()


@pytest.mark.lava
def test_regression_example_records_on_lava(pytester):
    """The recording command of docs/testing.md (--snnc-target lava) works too."""
    (pytester.path / "examples").mkdir()
    for f in ("mlp.nir", "mlp_input.npz"):
        shutil.copy(ROOT / "examples" / f, pytester.path / "examples" / f)
    pytester.makepyfile(test_my_model=_doc_example("testing.md", "regression-test"))
    pytester.runpytest("--snnc-target", "lava", "--snnc-update-golden").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)

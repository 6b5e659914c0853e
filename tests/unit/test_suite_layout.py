"""The test suite's own layout: shared generators live in tests/helpers, never in a test file.

A test module that loads another test module by path (``importlib.util.spec_from_file_location``)
runs that module's top level a second time (its markers, skips and module-level set-up) and ties
two tests together by a file path; the shared code belongs in ``tests/helpers/`` (on
``sys.path`` through ``tests/conftest.py``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_test_loads_another_test_file():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text()
        tree = ast.parse(text)
        loads_by_path = any(isinstance(node, ast.Attribute)
                            and node.attr in ("spec_from_file_location", "load_source")
                            for node in ast.walk(tree))
        # (loading a benchmark script, which is no package, is fine; a test file is not)
        if loads_by_path and re.search(r"[\"']test_\w+\.py[\"']", text):
            offenders.append(f"{path.relative_to(TESTS)} loads a test file by path")
        for name in _imported_names(tree):
            if name.split(".")[-1].startswith("test_"):
                offenders.append(f"{path.relative_to(TESTS)} imports the test module {name}")
    assert not offenders, "move shared test code to tests/helpers/:\n" + "\n".join(offenders)


def test_helpers_are_not_collected_as_tests():
    helpers = TESTS / "helpers"
    assert helpers.is_dir()
    assert not [p.name for p in helpers.glob("test_*.py")]

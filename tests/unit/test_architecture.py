"""The package's architecture (docs/decisions/0005-layering.md): floors, no cycles, lazy imports
only of optional heavy dependencies, and a light ``import snnc``.

The import graph is read from the source (an AST walk of every module under ``snnc/``, imports
inside functions included), so a regression fails here as well as in ``lint-imports``.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "snnc"

#: optional heavy dependencies: the only imports allowed inside functions, each with its reason
HEAVY = {
    "torch": "the emulator's torch engine, distillation, torch frontends and MAC counts: ~1 s to import",
    "lava": "the Lava backend and netx runs: slow to import and it forks workers (docs/loihi.md)",
    "onnx": "ONNX frontend and step-model export; an optional dependency of the ONNX paths",
    "onnxruntime": "runs ONNX step models; heavy native library",
    "matplotlib": "report plots only (plot(path)); slow to import",
    "h5py": "NIR and netx files only; ~0.1 s to import",
    "nir": "the NIR frontend only; imports h5py",
    "tqdm": "progress bars only, when shown",
    "threadpoolctl": "the emulator's fast path only, when it limits BLAS threads",
    "snntorch": "torch frontend: that framework's NIR exporter (needs torch)",
    "norse": "torch frontend: that framework's NIR exporter (needs torch)",
    "sinabs": "torch frontend: that framework's NIR exporter (needs torch)",
    "rockpool": "torch frontend: that framework's NIR exporter (needs torch)",
    "sklearn": "distillation example data only (optional)",
    "mnist1d": "distillation example data only (optional)",
    "pynvml": "GPU energy read-out of the ANN baseline only (optional)",
}

#: snnc imports allowed inside functions: (importer, imported) -> why.  Empty, and to stay so:
#: an import that would close a cycle means the module is on the wrong floor.
SNNC_LAZY_ALLOWED: dict[tuple[str, str], str] = {}

#: deprecated import paths kept for one release; no snnc module may import them
DEPRECATED = {
    "snnc.compiler.driver": "snnc.driver",
    "snnc.mapping": "snnc.compiler.mapping",
    "snnc.interop": "snnc.backends",
    "snnc.frontends.conventions": "snnc.compiler.conventions",
    "snnc.backends.emulator.wiring": "snnc.backends.wiring",
}

#: the floors, top to bottom (as in .importlinter); a module imports its own floor or lower ones
FLOORS = [
    ["snnc.cli", "snnc.testing", "snnc.distill"],
    ["snnc.check", "snnc.emit"],
    ["snnc.driver"],
    ["snnc.program"],
    ["snnc.profiler"],
    ["snnc.calibration"],
    ["snnc.frontends"],
    ["snnc.backends"],
    ["snnc.compiler"],
    ["snnc.encoding", "snnc.progress", "snnc.reporting"],
    ["snnc.errors", "snnc.version"],
]


# ------------------------------------------------------------------------------ the graph
def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """The modules an import statement names (``from a import b``: ``a.b`` when it is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts) + (f".{node.module}" if node.module else "")
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _owner(name: str) -> str | None:
    """The snnc module that ``name`` (a module or a module's attribute) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports() -> list[tuple[str, str, int, bool]]:
    """(importer, imported, line, inside a function) for every import in the package."""
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"

        def walk(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for name in _resolve(module, child, is_package):
                        found.append((module, name, child.lineno, in_function))
                walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

        walk(tree, False)
    return found


IMPORTS = _imports()


def _snnc_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for importer, name, _, _ in IMPORTS:
        if name == "snnc" or name.startswith("snnc."):
            target = _owner(name)
            if target is not None and target != importer:
                edges[importer].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    scc = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        scc.append(w)
                        if w == v:
                            break
                    if len(scc) > 1:
                        out.append(sorted(scc))
    return out


def _floor(module: str) -> tuple[int, str] | None:
    """(floor index, top-level name) of ``module``: 0 is the top."""
    for i, floor in enumerate(FLOORS):
        for top in floor:
            if module == top or module.startswith(top + "."):
                return i, top
    return None


# ------------------------------------------------------------------------------ the tests
def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_counting_imports_inside_functions():
    assert _cycles(_snnc_edges()) == []


def test_imports_inside_functions_are_optional_heavy_dependencies_only():
    bad = []
    for importer, name, line, in_function in IMPORTS:
        if not in_function:
            continue
        top = name.split(".")[0]
        if top == "snnc":
            if (importer, _owner(name)) not in SNNC_LAZY_ALLOWED:
                bad.append(f"{importer}:{line} imports {name} inside a function (move it to the top)")
        elif top not in HEAVY:
            bad.append(f"{importer}:{line} imports {name} inside a function; only the optional heavy "
                       f"dependencies of HEAVY may be (add it there with the reason, or import it at the top)")
    assert bad == []


def test_every_module_is_on_a_floor_and_imports_only_downward():
    shims = tuple(DEPRECATED)
    unplaced = [m for m in MODULES if m != "snnc" and _floor(m) is None
                and not any(m == s or m.startswith(s + ".") for s in shims)]
    assert unplaced == [], "put these modules on a floor (.importlinter, FLOORS, docs/decisions/0005)"
    allowed_upward = {("snnc.compiler.driver", "snnc.driver")}  # the deprecated alias (.importlinter)
    bad = []
    for importer, targets in _snnc_edges().items():
        for target in targets:
            a, b = _floor(importer), _floor(target)
            if target == "snnc":  # the package itself is the roof: only the roof imports it
                if a is not None and a[0] > 0:
                    bad.append(f"{importer} imports the snnc package (the roof)")
                continue
            if a is None or b is None:
                continue
            if b[0] < a[0] and (importer, target) not in allowed_upward:
                bad.append(f"{importer} (floor {a[1]}) imports {target} (floor {b[1]}, above it)")
            elif b[0] == a[0] and a[1] != b[1]:
                bad.append(f"{importer} imports {target}: independent siblings on one floor")
    assert bad == []


def test_no_snnc_module_uses_a_deprecated_path():
    users = sorted({(importer, target) for importer, targets in _snnc_edges().items() for target in targets
                    if any(target == d or target.startswith(d + ".") for d in DEPRECATED)
                    and not any(importer == d or importer.startswith(d + ".") for d in DEPRECATED)})
    assert users == []


def test_the_import_linter_contract_is_kept():
    pytest.importorskip("importlinter")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("lint-imports is not installed (requirements-test.txt)")
    out = subprocess.run([exe, "--no-cache", "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_import_snnc_loads_no_heavy_dependency():
    code = ("import sys, snnc; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'torch', 'lava', 'onnx', 'onnxruntime', 'onnxscript', 'matplotlib', 'h5py', 'nir', 'tqdm'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_module_but_distill_imports_without_a_heavy_dependency():
    """Module tops import only numpy/scipy and snnc: heavy dependencies load where they are used."""
    names = [m for m in MODULES if not m.startswith("snnc.distill")]
    code = ("import importlib, sys, warnings; warnings.simplefilter('ignore')\n"
            f"for m in {names!r}: importlib.import_module(m)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lava', 'onnx', 'onnxruntime', "
            "'onnxscript', 'matplotlib', 'h5py', 'nir', 'tqdm'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("old,name,new", [
    ("snnc.compiler.driver", "compile", "snnc.driver"),
    ("snnc.mapping", "Placement", "snnc.compiler.mapping.placement"),
    ("snnc.mapping.placement", "Placement", "snnc.compiler.mapping.placement"),
    ("snnc.mapping.report", "resource_report", "snnc.compiler.mapping.report"),
    ("snnc.interop.netx_weights", "netx_optimize", "snnc.backends.netx_weights"),
    ("snnc.interop.netx_lava", "run_netx", "snnc.backends.lava.netx"),
    ("snnc.frontends.conventions", "preset", "snnc.compiler.conventions"),
    ("snnc.backends.emulator.wiring", "wiring", "snnc.backends.wiring"),
])
def test_deprecated_paths_still_work_and_warn(old, name, new):
    import importlib

    code = (f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    import {old}\nexcept DeprecationWarning as e:\n    print('warned', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("warned") and new.split(".")[1] in out.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)

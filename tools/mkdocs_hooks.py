"""mkdocs hooks: reference pages generated from the code at build time.

Generated pages (never stale: rebuilt from the code on every ``mkdocs build``):

* ``supported-ops.md`` -- the frontends' handler tables: NIR types
  (:data:`snnc.frontends.nir.SUPPORTED_NIR_TYPES`) with the IR op and its equation, and the ONNX
  ANN ops (:data:`snnc.frontends.onnx_ops.HANDLERS`, ``FINAL_OPS``, ``WHY_NOT``);
* ``reference/cli.md`` -- ``snnc --help`` and every subcommand's help;
* ``reference/api.md`` -- signatures and docstrings of the public API (:data:`API`).

``on_config`` drops nav entries whose page is neither in docs/ nor generated (kept from the
parallel build of the site, and tested); a module of :data:`API` that does not import fails the
build.

Run ``python tools/mkdocs_hooks.py DIR`` to write the generated pages into DIR for a look.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from pathlib import Path

GENERATED = ("supported-ops.md", "reference/cli.md", "reference/api.md")

#: the public API documented on reference/api.md: module -> names (classes list their methods)
API = {
    "snnc": ["load", "compile", "simulate", "Program"],
    "snnc.emit": ["export_onnx"],
    "snnc.backends.onnx_step": ["export_graph", "export_program", "run_step_model"],
    "snnc.frontends.onnx_step": ["is_step_model", "load_step_model", "step_model_convention"],
    "snnc.backends.loihi2_hw": ["status", "run", "read_profile"],
    "snnc.backends.registry": ["get_backend", "checked_options"],
    "snnc.backends.base": ["Backend", "BackendSpec"],
    "snnc.backends.wiring": ["check_input", "Spikes"],
    "snnc.reporting": ["Report", "figure", "figure_path", "output_path", "write_json"],
    "snnc.testing.golden": ["assert_spikes_match", "write_golden", "read_golden"],
    "snnc.testing.baseline": ["Baselines", "baseline_key"],
}


# ------------------------------------------------------------------------------ pages
def _one_line(doc: str | None) -> str:
    """A docstring as one table cell: whitespace collapsed, RST ``literals`` as `code`."""
    return " ".join(inspect.cleandoc(doc).split()).replace("``", "`") if doc else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def supported_ops() -> str:
    from snnc.compiler.ir import ops
    from snnc.frontends.nir import SUPPORTED_NIR_TYPES

    lines = [
        "# Supported ops",
        "",
        "Generated at build time from the frontends' handler tables (`tools/mkdocs_hooks.py`).",
        "",
        "## NIR (`snnc.frontends.nir.SUPPORTED_NIR_TYPES`)",
        "",
        "| NIR type | snnc IR op | meaning |",
        "|---|---|---|",
    ]
    for name in SUPPORTED_NIR_TYPES:
        op = getattr(ops, name, None)
        what = _one_line(op.__doc__) if op is not None else ""
        lines.append(f"| `{name}` | {'`ops.' + name + '`' if op else '-'} | {_cell(what)} |")
    lines += ["", "Nested `NIRGraph` nodes are flattened (their node names joined with `.`)."]
    onnx_ops = importlib.import_module("snnc.frontends.onnx_ops")
    lines += ["", "## ONNX ANN ops (`snnc.frontends.onnx_ops.HANDLERS`)", "",
              "| ONNX op | converted |", "|---|---|"]
    for name in sorted(onnx_ops.HANDLERS):
        lines.append(f"| `{name}` | yes |")
    for name in getattr(onnx_ops, "FINAL_OPS", ()):
        lines.append(f"| `{name}` | dropped when it produces a graph output (argmax unchanged) |")
    why = getattr(onnx_ops, "WHY_NOT", {})
    if why:
        lines += ["", "Refused, with the reason the error gives:", "", "| ONNX op | why not |",
                  "|---|---|"]
        lines += [f"| `{k}` | {_cell(v)} |" for k, v in sorted(why.items())]
    return "\n".join(lines) + "\n"


def cli_reference() -> str:
    from snnc import cli

    os.environ["COLUMNS"] = "100"
    parser = cli._parser()
    out = ["# Command line", "", "Generated at build time from `snnc.cli` (`snnc COMMAND --help`).",
           "", "```text", parser.format_help().rstrip(), "```"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        out += ["", f"## snnc {name}", "", "```text", p.format_help().rstrip(), "```"]
    return "\n".join(out) + "\n"


def _entry(qualname: str, obj) -> list[str]:
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        sig = "(...)"
    doc = inspect.getdoc(obj) or "(no docstring)"
    body = "\n".join("    " + ln if ln else "" for ln in doc.splitlines())
    return [f"### `{qualname}`", "", "```python", f"{qualname}{sig}", "```", "", body, ""]


def api_reference() -> str:
    out = ["# Python API", "", "Generated at build time from the docstrings (`tools/mkdocs_hooks.py`).", ""]
    for module, names in API.items():
        mod = importlib.import_module(module)  # a broken import must fail the strict build
        out += [f"## `{module}`", ""]
        for name in names:
            obj = getattr(mod, name, None)
            if obj is None:
                continue
            out += _entry(f"{module}.{name}", obj)
            if inspect.isclass(obj):
                for m, member in inspect.getmembers(obj):
                    if not m.startswith("_") and (inspect.isfunction(member)
                                                  or isinstance(member, property)):
                        target = member.fget if isinstance(member, property) else member
                        out += _entry(f"{module}.{name}.{m}", target)
    return "\n".join(out) + "\n"


def pages() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    return {"supported-ops.md": supported_ops(), "reference/cli.md": cli_reference(),
            "reference/api.md": api_reference()}


# ------------------------------------------------------------------------------ hooks
def _prune(nav, docs_dir: Path):
    """The nav without entries whose page is neither in docs/ nor generated."""
    out = []
    for item in nav:
        if isinstance(item, dict):
            (title, value), = item.items()
            if isinstance(value, list):
                kept = _prune(value, docs_dir)
                if kept:
                    out.append({title: kept})
            elif "://" in value or value in GENERATED or (docs_dir / value).is_file():
                out.append(item)
        elif item in GENERATED or (docs_dir / item).is_file():
            out.append(item)
    return out


def on_config(config, **kwargs):
    if config.get("nav"):
        config["nav"] = _prune(config["nav"], Path(config["docs_dir"]))
    return config


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for name, text in pages().items():
        files.append(File.generated(config, name, content=text))
    return files


if __name__ == "__main__":
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else "build/generated-docs")
    for name, text in pages().items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(text)
        print(f"wrote {dest / name}")

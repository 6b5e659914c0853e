"""Lava's fixed-point arithmetic has one home, ``snnc/compiler/ir/arith.py`` (decision 0005).

The scan below reads every module of ``snnc/`` except ``arith.py`` (as syntax trees, so
docstrings and comments may describe the arithmetic freely) and reports what looks like a
second definition of it:

* an assignment to one of arith's constant names (``MAX_UV = ...``);
* an integer expression whose value is one of Lava's widths or bounds: 4096, 2^23, 2^23 − 1,
  2^24, 2^31, 2^31 − 1, −2^31 (however it is written: ``1 << 23``, ``2**23``, ``8388607``);
* a shift by 12 (the decay shift) or by 6 (``a << 6``, ``vth << 6``), and ``2 * MAX_UV``
  (the ±2^24 fold of u);
* a function named like one of arith's formulas (``wrap32``, ``decay``, ``clip_weights``...);
* the int32 wrap idiom ``.astype(np.int32).astype(np.int64)`` / ``.to(torch.int32).to(torch.int64)``.

Whatever it reports must be on :data:`ALLOWED`, with the reason it is not arithmetic to move.
An entry that no longer matches anything fails the test too, so the list stays honest.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "snnc"
HOME = "snnc/compiler/ir/arith.py"

CONSTANT_NAMES = {
    "DECAY_SHIFT", "DECAY_UNITY", "DS_OFFSET", "DM_OFFSET", "VTH_SHIFT", "ACT_SHIFT", "UV_BITS",
    "MAX_UV", "V_LIMIT", "CONV_BITS", "INT32_BITS", "INT32_MIN", "INT32_MAX", "WEIGHT_BITS",
}
FORBIDDEN_VALUES = {
    4096: "DECAY_UNITY", 1 << 23: "MAX_UV", (1 << 23) - 1: "V_LIMIT", 1 << 24: "2^24 (u wrap, CONV_BITS)",
    1 << 31: "2^31 (int32 range)", (1 << 31) - 1: "INT32_MAX", -(1 << 31): "INT32_MIN",
}
FORMULA_NAMES = {
    "wrap32", "wrap24", "wrap_uv", "signed_clamp", "decay", "decay_inplace", "du_factor",
    "dv_factor", "effective_bias", "effective_vth", "clip_weights", "truncate_weights",
    "effective_weights", "conv_weights", "weight_exp_shift", "lif_step", "synapse_buffer",
    "conv_buffer", "weight_clip_bounds", "truncation_bits",
}
SHIFTS = {12: "the decay shift (>> 12)", 6: "the act/vth shift (<< 6)"}

#: (module, kind, detail) -> why it stays.  ``detail`` is the name or the value reported.
ALLOWED = {
    ("snnc/backends/emulator/fast.py", "value", "MAX_DENSE = 16777216"):
        "a memory bound (entries of a sparse block densified), not Lava's 2^24",
    ("snnc/compiler/linear.py", "value", "2147483648"):
        "the int32 *index* range of a scipy sparse matrix, not Lava's int32 registers",
    ("snnc/backends/emulator/fast.py", "value", "INPUT_TILE_BYTES = 8388608"):
        "a memory bound (8 MiB of input sums per tile), equal to 2^23 by chance",
    ("snnc/backends/emulator/torch_engine.py", "value", "SPAN = 4096"):
        "samples per device transfer (a batching size), equal to 4096 by chance",
    ("snnc/compiler/targets.py", "value", "fan_in_axons = 4096"):
        "nengo-loihi's MAX_IN_AXONS (block.py:9), a resource limit equal to 4096 by chance",
    ("snnc/compiler/targets.py", "value", "fan_out_axons = 4096"):
        "nengo-loihi's MAX_OUT_AXONS (block.py:10), a resource limit equal to 4096 by chance",
    ("snnc/compiler/blocks.py", "value", "4096"):
        "a size threshold for storing a block sparse (compiler heuristic), not arithmetic",
    ("snnc/compiler/discretize.py", "function", "decay"):
        "the float dialect's decay factor exp(-dt/tau), not Lava's integer decay",
}


def _value(node: ast.AST):
    """The value of a constant integer/float expression, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _value(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp):
        a, b = _value(node.left), _value(node.right)
        if a is None or b is None:
            return None
        try:
            if isinstance(node.op, ast.LShift):
                return int(a) << int(b)
            if isinstance(node.op, ast.RShift):
                return int(a) >> int(b)
            if isinstance(node.op, ast.Pow) and abs(b) < 64:
                return a**b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def _dtype_name(node: ast.AST) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _cast_to(call: ast.AST) -> str | None:
    """``x.astype(np.intN)`` / ``x.to(torch.intN)`` -> 'intN'."""
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in ("astype", "to") and call.args:
        return _dtype_name(call.args[0])
    return None


def scan(source: str, rel: str) -> list[tuple[str, str, str, int]]:
    """Offences in one module: (module, kind, detail, line)."""
    tree = ast.parse(source)
    found = []
    # values inside an already reported expression are not reported again
    covered: set[int] = set()
    # a value assigned to a name, or passed as a keyword, is reported as "name = value"
    named: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                named[id(node.value)] = targets[0].id
        elif isinstance(node, ast.keyword) and node.arg:
            named[id(node.value)] = node.arg

    def report(kind, detail, node):
        found.append((rel, kind, detail, node.lineno))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and n.id in CONSTANT_NAMES:
                        report("constant", n.id, node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in FORMULA_NAMES:
            report("function", node.name, node)
        if isinstance(node, ast.BinOp) and id(node) not in covered:
            if isinstance(node.op, (ast.LShift, ast.RShift)):
                k = _value(node.right)
                if k in SHIFTS and _value(node.left) not in (1,):
                    report("shift", SHIFTS[k], node)
                elif k == 6 and _value(node.left) == 1:
                    report("shift", "1 << 6", node)
            if isinstance(node.op, ast.Mult) and {_value(node.left), getattr(node.right, "id", None),
                                                  getattr(node.left, "id", None), _value(node.right)} >= {2, "MAX_UV"}:
                report("shift", "2 * MAX_UV (the u fold)", node)
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Constant)) and id(node) not in covered:
            v = _value(node)
            if v is not None and v in FORBIDDEN_VALUES and not isinstance(v, bool):
                for sub in ast.walk(node):
                    covered.add(id(sub))
                detail = f"{named[id(node)]} = {v}" if id(node) in named else str(v)
                report("value", detail, node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            outer, inner = _cast_to(node), _cast_to(node.func.value)
            if outer == "int64" and inner == "int32":
                report("wrap idiom", "int32 -> int64 cast", node)
    return found


def _modules():
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(ROOT).as_posix()
        if rel != HOME:
            yield rel, p.read_text(encoding="utf-8")


def test_lavas_arithmetic_is_defined_only_in_arith():
    found = [f for rel, src in _modules() for f in scan(src, rel)]
    bad = [f for f in found if f[:3] not in ALLOWED]
    assert not bad, "second definitions of Lava's arithmetic outside arith.py:\n" + "\n".join(
        f"  {m}:{line}: {kind}: {detail}" for m, kind, detail, line in bad)
    stale = set(ALLOWED) - {f[:3] for f in found}
    assert not stale, f"allowlist entries that match nothing any more: {sorted(stale)}"


@pytest.mark.parametrize("snippet,kind", [
    ("MAX_UV = 1 << 23", "constant"),
    ("LIMIT = 8388607", "value"),
    ("HALF = 2**23", "value"),
    ("def wrap32(a):\n    return a.astype(np.int32).astype(np.int64)", "function"),
    ("y = x.to(torch.int32).to(torch.int64)", "wrap idiom"),
    ("y = abs(x) >> 12", "shift"),
    ("a6 = a << 6", "shift"),
    ("u = u - 2 * MAX_UV", "shift"),
])
def test_the_scan_catches_a_second_definition(snippet, kind):
    """E.g. re-adding ``MAX_UV = 1 << 23`` to torch_engine.py fails the test above."""
    path = PKG / "backends" / "emulator" / "torch_engine.py"
    src = path.read_text(encoding="utf-8") + "\n\n" + snippet + "\n"
    found = scan(src, "snnc/backends/emulator/torch_engine.py")
    assert any(f[1] == kind and f[:3] not in ALLOWED for f in found), found

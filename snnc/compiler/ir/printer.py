"""A stable text form of a graph (either dialect), for ``snnc inspect`` and ``--dump-ir``.

One line per node in schedule order::

    %fc1 = Compartment(shape=(128,), du=4095, dv=410, vth=8192, ...)  <- %fc1:syn

Arrays print as ``i64[128x784] min=-256 max=254 nnz=12345 sum=...`` so the text is short,
deterministic and changes whenever the numbers do.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir.graph import Graph, Node


def _fmt_array(a) -> str:
    if sp.issparse(a):
        d = a.data
        shape = "x".join(map(str, a.shape))
        kind = f"csr<{d.dtype.kind}{d.dtype.itemsize * 8}>"
    else:
        d = np.asarray(a)
        shape = "x".join(map(str, d.shape)) or "scalar"
        kind = f"{d.dtype.kind}{d.dtype.itemsize * 8}"
    if d.size == 0:
        return f"{kind}[{shape}] empty"
    nnz = int(np.count_nonzero(d))
    fmt = (lambda v: f"{v:.6g}") if d.dtype.kind == "f" else (lambda v: str(int(v)))
    return (
        f"{kind}[{shape}] min={fmt(d.min())} max={fmt(d.max())} nnz={nnz} sum={fmt(d.sum())}"
    )


def _fmt_value(v) -> str:
    if isinstance(v, np.ndarray) or sp.issparse(v):
        return _fmt_array(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    if hasattr(v, "name") and hasattr(v, "value"):  # enums
        return v.name
    return repr(v)


def _shown(node: Node, f: dataclasses.Field) -> bool:
    """Fields print unless None or ``meta``; a field a node class lists in ``quiet_fields`` (one
    added later, e.g. ``reset_interval``) only when it differs from its default, so the text of
    programs that do not use it stays what it was."""
    v = getattr(node, f.name)
    if f.name == "meta" or v is None:
        return False
    return not (f.name in getattr(node, "quiet_fields", ()) and v == f.default)


def format_node(name: str, node: Node, preds: list[str]) -> str:
    fields = ", ".join(
        f"{f.name}={_fmt_value(getattr(node, f.name))}"
        for f in dataclasses.fields(node)
        if _shown(node, f)
    )
    src = f"  # {node.source}" if node.source and node.source != name else ""
    arrow = f"  <- {', '.join('%' + p for p in preds)}" if preds else ""
    return f"%{name} = {node.kind}({fields}){arrow}{src}"


def format_graph(graph: Graph) -> str:
    order, back = graph.schedule()
    lines = [format_node(n, graph[n], graph.predecessors(n)) for n in order]
    if back:
        lines.append("# back edges (previous step): " + ", ".join(f"{s}->{d}" for s, d in sorted(back)))
    return "\n".join(lines)

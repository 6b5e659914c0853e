"""The graph container shared by both IR dialects.

A :class:`Graph` is an ordered mapping ``name -> Node`` plus directed edges ``(src, dst)``.
Several edges into one node are summed (NIR's rule).  Cycles are allowed: the edges that
close a cycle ("back edges") carry the source's value of the *previous* time step.

Graphs and nodes are immutable; passes build new graphs and share unchanged nodes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from snnc.errors import IRError


def frozen_array(a: Any, dtype: Any = None) -> np.ndarray:
    """Return a read-only copy-free view of ``a`` as an ndarray (copies only if needed)."""
    arr = np.array(a, dtype=dtype, copy=True) if dtype is not None else np.array(a, copy=True)
    arr.setflags(write=False)
    return arr


@dataclasses.dataclass(frozen=True, eq=False)
class Node:
    """Base of every IR node.  ``meta`` keeps provenance such as ``meta["source"]``."""

    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict, kw_only=True)

    #: names of the fields that hold arrays (made read-only on construction)
    array_fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for f in self.array_fields:
            value = getattr(self, f)
            if value is not None and isinstance(value, np.ndarray) and value.flags.writeable:
                object.__setattr__(self, f, frozen_array(value))
        if not isinstance(self.meta, MappingProxyType):
            object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def source(self) -> str | None:
        """The user's own name for this node (e.g. the NIR node name), if known."""
        return self.meta.get("source")

    def replace(self, **changes: Any) -> "Node":
        """A copy of this node with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


class Graph:
    """Named nodes and directed edges; immutable once built."""

    __slots__ = ("_nodes", "_edges", "_meta")

    def __init__(
        self,
        nodes: Mapping[str, Node],
        edges: Iterable[tuple[str, str]],
        meta: Mapping[str, Any] | None = None,
    ):
        self._nodes: Mapping[str, Node] = MappingProxyType(dict(nodes))
        self._edges: tuple[tuple[str, str], ...] = tuple((str(s), str(d)) for s, d in edges)
        self._meta = MappingProxyType(dict(meta or {}))
        for s, d in self._edges:
            if s not in self._nodes or d not in self._nodes:
                raise IRError(f"edge ({s!r}, {d!r}) references a missing node")

    # -- access -------------------------------------------------------------------------
    @property
    def nodes(self) -> Mapping[str, Node]:
        return self._nodes

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        return self._edges

    @property
    def meta(self) -> Mapping[str, Any]:
        return self._meta

    def __getitem__(self, name: str) -> Node:
        return self._nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def predecessors(self, name: str) -> list[str]:
        return [s for s, d in self._edges if d == name]

    def successors(self, name: str) -> list[str]:
        return [d for s, d in self._edges if s == name]

    def of_kind(self, *kinds: type) -> list[str]:
        """Names of the nodes that are instances of any of ``kinds``, in graph order."""
        return [n for n, node in self._nodes.items() if isinstance(node, kinds)]

    # -- building -----------------------------------------------------------------------
    def with_changes(
        self,
        nodes: Mapping[str, Node] | None = None,
        edges: Iterable[tuple[str, str]] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> "Graph":
        """A new graph; arguments left out are taken from this one."""
        return Graph(
            self._nodes if nodes is None else nodes,
            self._edges if edges is None else edges,
            self._meta if meta is None else meta,
        )

    # -- order --------------------------------------------------------------------------
    def schedule(self) -> tuple[list[str], set[tuple[str, str]]]:
        """Topological order plus the set of back edges that close cycles.

        A depth-first search from the graph's sources (nodes without predecessors, in
        insertion order) classifies an edge as *back* when it points to a node still on
        the DFS stack.  Removing the back edges leaves a DAG whose reverse post-order is
        returned.  Back edges carry the previous step's value in every simulator.
        """
        succ: dict[str, list[str]] = {n: [] for n in self._nodes}
        indeg: dict[str, int] = {n: 0 for n in self._nodes}
        for s, d in self._edges:
            succ[s].append(d)
            indeg[d] += 1
        roots = [n for n in self._nodes if indeg[n] == 0] + list(self._nodes)
        state: dict[str, int] = {}  # 1 = on stack, 2 = done
        post: list[str] = []
        back: set[tuple[str, str]] = set()
        for root in roots:
            if root in state:
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            state[root] = 1
            while stack:
                node, i = stack.pop()
                if i < len(succ[node]):
                    stack.append((node, i + 1))
                    nxt = succ[node][i]
                    st = state.get(nxt)
                    if st == 1:
                        back.add((node, nxt))
                    elif st is None:
                        state[nxt] = 1
                        stack.append((nxt, 0))
                else:
                    state[node] = 2
                    post.append(node)
        return post[::-1], back

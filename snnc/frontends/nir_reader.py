"""Reading NIR files and flattening nested graphs (steps 1 and 2 of :mod:`snnc.frontends.nir`).

``open_nir(source, supported)`` turns a path or ``nir.NIRGraph`` into a ``nir.NIRGraph`` plus
graph meta, with every file problem reported as a one-line :class:`~snnc.errors.FrontendError`
(node types NIR itself cannot build are refused naming ``supported``, the types the caller's
handler table converts: :data:`snnc.frontends.nir.SUPPORTED_NIR_TYPES`);
``flatten_nir(graph)`` inlines nested ``NIRGraph`` nodes and removes their pass-through ports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from snnc.errors import BackendUnavailableError, FrontendError, UnsupportedOpError


def _nir() -> Any:
    """Import ``nir`` lazily, so that ``snnc`` imports without it."""
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - nir is a dependency
        raise BackendUnavailableError(
            "the 'nir' package is not installed", hint="pip install nir==1.0.8"
        ) from exc
    return nir


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# =============================================================================== reading
_REEXPORT = "re-export the model with nir.write() (nir 1.0.8)"


def _scan_types(group: Any, prefix: str, known: set[str], supported: Sequence[str]) -> None:
    """Walk the HDF5 node tree and reject node types NIR itself cannot build."""
    nodes = group["nodes"] if "nodes" in group else {}
    for name in nodes:
        child = nodes[name]
        full = f"{prefix}{name}"
        if "type" not in child:
            raise FrontendError(
                f"NIR node '{full}' has no 'type' field", node=full, hint=_REEXPORT
            )
        kind = child["type"][()]
        kind = kind.decode("utf8") if isinstance(kind, bytes) else str(kind)
        if kind not in known:
            raise unsupported(full, kind, supported)
        if kind == "NIRGraph":
            _scan_types(child, f"{full}.", known, supported)


def _read_file(path: Path, supported: Sequence[str]) -> tuple[Any, str | None]:
    """Read a .nir file into a ``nir.NIRGraph`` plus the file's NIR version string."""
    import h5py

    nir = _nir()
    if not path.exists():
        raise FrontendError(f"NIR file not found: '{path}'", hint="check the path and file name")
    if path.is_dir():
        raise FrontendError(f"'{path}' is a directory, not a NIR file", hint="pass the .nir file")
    try:
        is_hdf5 = h5py.is_hdf5(str(path))
    except OSError:
        is_hdf5 = False
    if not is_hdf5:
        raise FrontendError(
            f"'{path}' is not an HDF5 file; NIR graphs are stored as HDF5",
            hint="pass a file written by nir.write() (usually *.nir)",
        )
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f or not isinstance(f["node"], h5py.Group):
                raise FrontendError(
                    f"'{path}' is an HDF5 file but not a NIR graph (no 'node' group)",
                    hint="pass a file written by nir.write()",
                )
            version = f["version"][()] if "version" in f else None
            version = version.decode("utf8") if isinstance(version, bytes) else version
            known = set(nir.ir.__dict__.get("__all_ir", ())) or {
                t for t in dir(nir) if isinstance(getattr(nir, t), type)
            }
            _scan_types(f["node"], "", known | {"NIRGraph"}, supported)
    except FrontendError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError, ... on damage
        raise FrontendError(
            f"cannot read '{path}': the HDF5 file is damaged or truncated ({_one_line(exc)})",
            hint=_REEXPORT,
        ) from None
    try:
        graph = nir.read(str(path), type_check=False)
    except Exception as exc:  # nir.read asserts, raises KeyError/TypeError/ValueError freely
        raise FrontendError(
            f"cannot build a NIR graph from '{path}': {_one_line(exc)}", hint=_REEXPORT
        ) from None
    return graph, None if version is None else str(version)


def open_nir(source: Any, supported: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """``(nir.NIRGraph, graph meta)`` of a path or a ``nir.NIRGraph`` (see the module docstring)."""
    nir = _nir()
    if isinstance(source, nir.NIRGraph):
        return source, {"format": "nir", "nir_version": getattr(nir, "__version__", None)}
    if isinstance(source, (str, Path)):
        path = Path(source)
        graph, version = _read_file(path, supported)
        if not isinstance(graph, nir.NIRGraph):
            raise FrontendError(
                f"'{path}' holds a single {type(graph).__name__} node, not a NIRGraph",
                hint="wrap the node in a nir.NIRGraph with Input and Output nodes",
            )
        return graph, {"format": "nir", "nir_version": version, "path": str(path)}
    raise FrontendError(
        f"load_nir expects a path or a nir.NIRGraph, got {type(source).__name__}",
        hint="pass the .nir file's path",
    )


# ============================================================================ flattening
@dataclasses.dataclass
class _Flat:
    nodes: dict[str, Any]
    edges: list[tuple[str, str]]
    inputs: list[str]  # this level's Input nodes (full names)
    outputs: list[str]
    passthrough: set[str]  # Input/Output nodes of nested subgraphs, to be removed


def _flatten(graph: Any, prefix: str = "") -> _Flat:
    """Inline nested graphs; names are joined with '.'; subgraph ports become pass-throughs."""
    nir = _nir()
    flat = _Flat({}, [], [], [], set())
    ports: dict[str, tuple[list[str], list[str]]] = {}
    for name, node in graph.nodes.items():
        full = f"{prefix}{name}"
        if isinstance(node, nir.NIRGraph):
            inner = _flatten(node, f"{full}.")
            flat.nodes.update(inner.nodes)
            flat.edges.extend(inner.edges)
            flat.passthrough |= inner.passthrough | set(inner.inputs) | set(inner.outputs)
            ports[str(name)] = (inner.inputs, inner.outputs)
            continue
        flat.nodes[full] = node
        if isinstance(node, nir.Input):
            flat.inputs.append(full)
        elif isinstance(node, nir.Output):
            flat.outputs.append(full)

    def resolve(end: str, as_source: bool, edge: tuple[str, str]) -> str:
        if end in ports:
            candidates = ports[end][1] if as_source else ports[end][0]
            kind = "Output" if as_source else "Input"
            if len(candidates) != 1:
                raise FrontendError(
                    f"edge {edge} names subgraph '{prefix}{end}', which has "
                    f"{len(candidates)} {kind} nodes",
                    node=f"{prefix}{end}",
                    hint=f"name the port explicitly, e.g. '{end}.<{kind.lower()} node>'",
                )
            return candidates[0]
        if f"{prefix}{end}" in flat.nodes:
            return f"{prefix}{end}"
        raise FrontendError(
            f"edge {edge} references a missing node '{prefix}{end}'",
            node=f"{prefix}{end}",
            hint="the graph is inconsistent; " + _REEXPORT,
        )

    for edge in graph.edges:
        try:
            src, dst = (str(e.decode("utf8") if isinstance(e, bytes) else e) for e in edge)
        except (TypeError, ValueError):
            raise FrontendError(
                f"malformed edge {edge!r}: expected a (source, destination) pair", hint=_REEXPORT
            ) from None
        flat.edges.append((resolve(src, True, (src, dst)), resolve(dst, False, (src, dst))))
    return flat


def _remove_passthroughs(flat: _Flat) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Drop subgraph ports, wiring each predecessor to each successor (edge order kept)."""
    nodes = dict(flat.nodes)
    edges = list(flat.edges)
    for port in [n for n in flat.nodes if n in flat.passthrough]:
        preds = [s for s, d in edges if d == port]
        succs = [d for s, d in edges if s == port]
        if port in preds:
            raise FrontendError(
                f"subgraph port '{port}' feeds itself", node=port, hint=_REEXPORT
            )
        rewired: list[tuple[str, str]] = []
        for s, d in edges:
            if d == port:
                rewired.extend((s, succ) for succ in succs)
            elif s != port:
                rewired.append((s, d))
        edges = rewired
        del nodes[port]
    return nodes, edges


def unsupported(name: str, kind: str, supported: Sequence[str]) -> UnsupportedOpError:
    """The error for NIR node ``name`` of type ``kind``, naming the ``supported`` types."""
    return UnsupportedOpError(
        f"NIR node type '{kind}' is not supported on Loihi; supported types: "
        f"{', '.join(supported)} (and nested NIRGraph)",
        node=name,
        hint="replace the node with a supported equivalent before export",
    )


def flatten_nir(graph: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested graphs; return the flat nodes and edges (pass-through ports removed)."""
    return _remove_passthroughs(_flatten(graph))


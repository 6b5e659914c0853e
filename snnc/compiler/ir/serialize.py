"""Save and load a :class:`~snnc.compiler.ir.graph.Graph` without pickle.

A graph is written to a directory as two files::

    DIR/graph.json   structure and scalars (format name + version, nodes in order, edges, meta)
    DIR/arrays.npz   every array, read back with ``allow_pickle=False``

Both IR dialects (and any node class registered with :func:`register_node_class`) are
handled generically: a node is written as its class name plus the values of its
``dataclasses.fields`` (``meta`` included); loading looks the class name up in a registry
(never an import path taken from the file) and calls the class with those fields, so
``__post_init__`` runs again (arrays frozen, sign modes normalised, ...).

Values are encoded in JSON as follows (tags are one-key objects starting with ``$``)::

    None, bool, int, str, finite float     as themselves
    non-finite float                       {"$float": "nan" | "inf" | "-inf"}
    tuple                                  {"$tuple": [...]}           (shapes stay tuples)
    list                                   [...]
    dict / Mapping with str keys           {"$dict": {...}}
    numpy scalar                           the Python scalar (``.item()``)
    numpy array (not object dtype)         {"$array": KEY}             -> arrays.npz[KEY]
    scipy sparse matrix                    {"$sparse": KEY, "format": "csr"}
                                           -> KEY.data, KEY.indices, KEY.indptr, KEY.shape
    registered enum member                 {"$enum": CLASS_NAME, "value": v}

Any other value raises :class:`~snnc.errors.IRError` on save (it would not survive a
round trip).  :data:`FORMAT_VERSION` is bumped on incompatible changes; :func:`load_graph`
refuses files written by a newer version.  Other modules (``Program.save``) store their
own files beside these two.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph, Node
from snnc.errors import FrontendError, IRError

FORMAT_NAME = "snnc-graph"
FORMAT_VERSION = 1
GRAPH_FILE = "graph.json"
ARRAYS_FILE = "arrays.npz"

_NODE_CLASSES: dict[str, type[Node]] = {}
_ENUMS: dict[str, type[Enum]] = {}


def register_node_class(cls: type[Node]) -> type[Node]:
    """Make ``cls`` (a frozen dataclass ``Node``) loadable by its class name; usable as decorator."""
    if not (isinstance(cls, type) and issubclass(cls, Node) and dataclasses.is_dataclass(cls)):
        raise IRError(f"{cls!r} is not a dataclass Node subclass")
    other = _NODE_CLASSES.get(cls.__name__)
    if other is not None and other is not cls:
        raise IRError(f"two node classes named {cls.__name__!r}: {other!r} and {cls!r}")
    _NODE_CLASSES[cls.__name__] = cls
    return cls


def register_enum(cls: type[Enum]) -> type[Enum]:
    """Make members of the enum ``cls`` storable (by class name and value)."""
    _ENUMS[cls.__name__] = cls
    return cls


for _cls in (*ops.FLOAT_OPS, *loihi.LOIHI_OPS):
    register_node_class(_cls)
register_enum(loihi.SignMode)


# ------------------------------------------------------------------------------ encode
class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _key(self, hint: str) -> str:
        key = f"a{len(self.arrays)}_{hint}"
        return "".join(c if c.isalnum() or c in "_-." else "_" for c in key)

    def encode(self, value: Any, hint: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, Enum):
            cls = type(value)
            if _ENUMS.get(cls.__name__) is not cls:
                raise IRError(f"cannot save enum {cls.__name__} (not registered): {hint}")
            return {"$enum": cls.__name__, "value": self.encode(value.value, hint)}
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            f = float(value)
            return f if math.isfinite(f) else {"$float": repr(f)}
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise IRError(f"cannot save an object array ({hint})")
            key = self._key(hint)
            self.arrays[key] = np.ascontiguousarray(value)
            return {"$array": key}
        if sp.issparse(value):
            m = sp.csr_matrix(value)
            key = self._key(hint)
            self.arrays[key + ".data"] = m.data
            self.arrays[key + ".indices"] = m.indices
            self.arrays[key + ".indptr"] = m.indptr
            self.arrays[key + ".shape"] = np.asarray(m.shape, dtype=np.int64)
            return {"$sparse": key, "format": "csr"}
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, hint) for v in value]}
        if isinstance(value, list):
            return [self.encode(v, hint) for v in value]
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise IRError(f"cannot save a mapping with non-string key {k!r} ({hint})")
                out[k] = self.encode(v, f"{hint}.{k}")
            return {"$dict": out}
        raise IRError(f"cannot save a value of type {type(value).__name__} ({hint})")


class _Damaged(Exception):
    """A saved graph that does not decode (raised inside :func:`load_graph`, which names the file)."""


def _decode(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "$array" in value:
        key = value["$array"]
        if not isinstance(key, str) or key not in arrays:
            raise _Damaged(f"array {key!r} is missing from {ARRAYS_FILE}")
        return np.array(arrays[key])
    if "$sparse" in value:
        key = value["$sparse"]
        if value.get("format", "csr") != "csr":
            raise _Damaged(f"unknown sparse format {value.get('format')!r}")
        parts = [f"{key}.{p}" for p in ("data", "indices", "indptr", "shape")]
        missing = [p for p in parts if p not in arrays]
        if not isinstance(key, str) or missing:
            raise _Damaged(f"sparse matrix {key!r} lacks {', '.join(missing) or 'its arrays'} in {ARRAYS_FILE}")
        shape = arrays[parts[3]]
        if shape.shape != (2,) or shape.dtype.kind not in "iu" or np.any(shape < 0):
            raise _Damaged(f"sparse matrix {key!r} has shape {shape.tolist()!r}")
        data, indices, indptr = arrays[parts[0]], arrays[parts[1]], arrays[parts[2]]
        if not (data.ndim == indices.ndim == indptr.ndim == 1) or indices.dtype.kind not in "iu" \
                or indptr.dtype.kind not in "iu":
            raise _Damaged(f"sparse matrix {key!r} has index arrays of the wrong kind")
        rows, cols = (int(v) for v in shape)
        if not (indptr.size == rows + 1 and indices.size == data.size and indptr[0] == 0
                and indptr[-1] == indices.size and np.all(np.diff(indptr.astype(np.int64)) >= 0)
                and (indices.size == 0 or (indices.min() >= 0 and indices.max() < cols))):
            # scipy's sparsetools trusts these and reads out of bounds otherwise
            raise _Damaged(f"sparse matrix {key!r} has inconsistent index arrays (CSR of shape {(rows, cols)})")
        try:
            m = sp.csr_matrix((data, indices.astype(np.int64), indptr.astype(np.int64)), shape=(rows, cols))
            m.check_format(full_check=True)
            return m
        except (ValueError, TypeError, IndexError, OverflowError) as e:
            raise _Damaged(f"sparse matrix {key!r}: {e}") from None
    if "$tuple" in value:
        if not isinstance(value["$tuple"], list):
            raise _Damaged(f"a $tuple holds {type(value['$tuple']).__name__}, not a list")
        return tuple(_decode(v, arrays) for v in value["$tuple"])
    if "$dict" in value:
        if not isinstance(value["$dict"], dict):
            raise _Damaged(f"a $dict holds {type(value['$dict']).__name__}, not an object")
        return {k: _decode(v, arrays) for k, v in value["$dict"].items()}
    if "$float" in value:
        if value["$float"] not in ("nan", "inf", "-inf"):
            raise _Damaged(f"$float {value['$float']!r} is not nan, inf or -inf")
        return float(value["$float"])
    if "$enum" in value:
        cls = _ENUMS.get(value["$enum"]) if isinstance(value["$enum"], str) else None
        if cls is None:
            raise _Damaged(f"unknown enum {value['$enum']!r}")
        try:
            return cls(_decode(value.get("value"), arrays))
        except (ValueError, TypeError):
            raise _Damaged(f"{value.get('value')!r} is not a {cls.__name__}") from None
    raise _Damaged(f"unknown value tag {sorted(value)}")


# ------------------------------------------------------------------------------ public
def save_graph(graph: Graph, path: str | os.PathLike) -> Path:
    """Write ``graph`` to the directory ``path`` (created if needed); returns the path."""
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    enc = _Encoder()
    nodes = []
    for i, (name, node) in enumerate(graph.nodes.items()):
        cls = type(node)
        if _NODE_CLASSES.get(cls.__name__) is not cls:
            raise IRError(
                f"node class {cls.__name__} is not registered for saving",
                node=name,
                hint="call snnc.compiler.ir.serialize.register_node_class on it",
            )
        fields = {}
        for f in dataclasses.fields(node):
            if not f.init:
                continue
            fields[f.name] = enc.encode(getattr(node, f.name), f"n{i}_{f.name}")
        nodes.append({"name": name, "kind": cls.__name__, "fields": fields})
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "nodes": nodes,
        "edges": [list(e) for e in graph.edges],
        "meta": enc.encode(dict(graph.meta), "graph_meta"),
    }
    (d / GRAPH_FILE).write_text(json.dumps(doc, indent=1, allow_nan=False))
    with open(d / ARRAYS_FILE, "wb") as fh:
        np.savez(fh, **enc.arrays)
    return d


def _read_arrays(afile: Path) -> dict[str, np.ndarray]:
    """Every array of ``afile`` (an npz without pickles), read now: a truncated or garbled file
    (bad zip, CRC, short read, a pickled array) is a :class:`~snnc.errors.FrontendError`."""
    if not afile.is_file():
        raise FrontendError(f"{str(afile)!r} is missing", hint="the saved graph is incomplete; save it again")
    try:
        with np.load(afile, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            return {k: z[k] for k in z.files}
    except Exception as e:  # zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, ...
        raise FrontendError(f"{str(afile)!r} is damaged: {type(e).__name__}: {e}",
                            hint="the file was truncated or altered; save or compile it again") from None


def load_graph(path: str | os.PathLike) -> Graph:
    """Read a graph written by :func:`save_graph` from the directory ``path``.

    A damaged graph (truncated or garbled files, edited JSON: unknown node kinds or fields,
    missing arrays, duplicate node names, dangling edges) raises
    :class:`~snnc.errors.FrontendError` naming the file; the invariants of the dialect are
    :mod:`snnc.compiler.ir.verify`'s (callers verify).
    """
    d = Path(path)
    gfile = d / GRAPH_FILE
    if not gfile.is_file():
        raise FrontendError(
            f"{str(d)!r} holds no saved graph (no {GRAPH_FILE})",
            hint="write one with snnc.compiler.ir.serialize.save_graph",
        )
    try:
        doc = json.loads(gfile.read_bytes())
    except (ValueError, RecursionError, OSError) as e:
        raise FrontendError(f"{str(gfile)!r} is not valid JSON: {e}",
                            hint="the file was truncated or altered; save or compile it again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise FrontendError(f"{str(gfile)!r} is not an snnc graph file")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise FrontendError(
            f"{str(gfile)!r} has graph format version {version!r}; this snnc reads up to "
            f"{FORMAT_VERSION}",
            hint="upgrade snnc to load this file",
        )
    arrays = _read_arrays(d / ARRAYS_FILE)
    try:
        return _build(doc, arrays)
    except _Damaged as e:
        raise FrontendError(f"{str(gfile)!r} is damaged: {e}",
                            hint="the file was altered or comes from another program; save or compile it again") from None
    except RecursionError:
        raise FrontendError(f"{str(gfile)!r} is damaged: nested too deeply") from None


def _build(doc: dict, arrays: Mapping[str, np.ndarray]) -> Graph:
    entries, edges = doc.get("nodes"), doc.get("edges")
    if not isinstance(entries, list) or not isinstance(edges, list):
        raise _Damaged("'nodes' and 'edges' must be lists")
    nodes: dict[str, Node] = {}
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and isinstance(entry.get("kind"), str) and isinstance(entry.get("fields"), dict)):
            raise _Damaged(f"node #{i} is not an object with a name, a kind and fields")
        name = entry["name"]
        if name in nodes:
            raise _Damaged(f"node {name!r} appears twice")
        cls = _NODE_CLASSES.get(entry["kind"])
        if cls is None:
            raise _Damaged(f"unknown node kind {entry['kind']!r} (node {name!r})")
        kwargs = {k: _decode(v, arrays) for k, v in entry["fields"].items()}
        w = kwargs.get("weights")
        if cls is loihi.Synapse and sp.issparse(w) and w.dtype.kind not in "iu":
            # Synapse casts sparse weights to int64, which would hide floats (and truncate them)
            raise _Damaged(f"node {name!r}: sparse weights of dtype {w.dtype} (a Loihi synapse holds integers)")
        try:
            nodes[name] = cls(**kwargs)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
            raise _Damaged(f"node {name!r} does not match {cls.__name__}: {type(e).__name__}: {e}") from None
    pairs = []
    for e in edges:
        if not (isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e)):
            raise _Damaged(f"edge {e!r} is not a pair of node names")
        for v in e:
            if v not in nodes:
                raise _Damaged(f"edge {e!r} names the missing node {v!r} (a dangling edge)")
        pairs.append((e[0], e[1]))
    meta = _decode(doc.get("meta"), arrays) or {}
    if not isinstance(meta, Mapping):
        raise _Damaged(f"graph meta is a {type(meta).__name__}, not a mapping")
    return Graph(nodes, pairs, meta)


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "load_graph",
    "register_enum",
    "register_node_class",
    "save_graph",
]

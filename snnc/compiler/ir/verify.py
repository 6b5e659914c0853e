"""verify: internal invariants of both dialects, checked after every pass.

A failure here is a bug in snnc (or a hand-built graph), never a user error, so it raises
:class:`~snnc.errors.IRError`.  Checked: one dialect per graph; sizes match along edges;
Loihi nodes hold integers inside Lava's register ranges (``du``, ``dv`` 0..4095,
``vth`` 0..2^17−1, |``bias_mant``| ≤ 4095, ``bias_exp`` 0..7, weights on the 8-bit grid,
delays 0..62) and synapses sit between a source and a compartment.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import IRError


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _fail(name: str, msg: str) -> None:
    raise IRError(f"IR invariant broken at {name!r}: {msg}", node=name)


def verify(graph: Graph) -> None:
    kinds = {type(n) for n in graph.nodes.values()}
    is_loihi = bool(kinds & set(loihi.LOIHI_OPS))
    if is_loihi and kinds - set(loihi.LOIHI_OPS):
        _fail("<graph>", "mixes Loihi and float dialect nodes")
    if is_loihi:
        _verify_loihi(graph)
    else:
        for s, d in graph.edges:
            if _size(graph[s].out_shape) != _size(graph[d].in_shape):
                _fail(d, f"size mismatch on edge from {s!r}")


def _size_of(node) -> int:
    if isinstance(node, loihi.Synapse):
        return node.n_out
    return _size(node.shape)


def _verify_loihi(graph: Graph) -> None:
    for name, node in graph.nodes.items():
        preds = graph.predecessors(name)
        if isinstance(node, loihi.Synapse):
            if len(preds) != 1 or not isinstance(graph[preds[0]], (loihi.SpikeSource, loihi.Compartment)):
                _fail(name, "a synapse needs exactly one source population")
            if _size_of(graph[preds[0]]) != node.n_in:
                _fail(name, f"n_in {node.n_in} != source size {_size_of(graph[preds[0]])}")
            for d in graph.successors(name):
                if not isinstance(graph[d], loihi.Compartment) or graph[d].size != node.n_out:
                    _fail(name, "a synapse must feed compartments of size n_out")
            w = node.weights.data if sp.issparse(node.weights) else np.asarray(node.weights)
            if w.size and (w.min() < -256 or w.max() > 255):
                _fail(name, "weights off the 8-bit grid")
            if node.delays is not None and (node.delays.min() < 0 or node.delays.max() > 62):
                _fail(name, "delays outside 0..62")
        elif isinstance(node, loihi.Compartment):
            for reg, lo, hi in (("du", 0, 4095), ("dv", 0, 4095), ("vth", 0, (1 << 17) - 1), ("bias_exp", 0, 7)):
                v = np.asarray(getattr(node, reg))
                if v.size and not (lo <= v.min() and v.max() <= hi):
                    shown = int(v) if v.ndim == 0 else f"{int(v.min())}..{int(v.max())}"
                    _fail(name, f"{reg}={shown} outside {lo}..{hi}")
            if node.bias_mant.size and np.abs(node.bias_mant).max() > 4095:
                _fail(name, "bias_mant outside ±4095")
            if node.readout not in ("spikes", "v"):
                _fail(name, f"readout {node.readout!r}")
        elif isinstance(node, loihi.Probe):
            if len(preds) != 1 or not isinstance(graph[preds[0]], loihi.Compartment):
                _fail(name, "a probe records exactly one compartment")

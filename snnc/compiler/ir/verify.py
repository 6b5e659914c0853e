"""verify: internal invariants of both dialects, checked after every pass.

A failure here is a bug in snnc (or a hand-built graph), never a user error, so it raises
:class:`~snnc.errors.IRError`.  Checked: one dialect per graph; sizes match along edges;
Loihi nodes hold integers inside Lava's register ranges (``du``, ``dv`` 0..4095,
``vth`` 0..2^17−1, |``bias_mant``| ≤ 4095, ``bias_exp`` 0..7, weights on the 8-bit grid,
delays 0..62) and synapses sit between a source and a compartment.  A ``ConvSynapse`` holds
an integer 4-D kernel (C', C/groups, kH, kW) in [-256, 255], a 3-D ``in_shape`` whose size
is its source's, ``stride``/``padding``/``dilation`` pairs (≥ 1, ≥ 0, ≥ 1), ``groups``
dividing both channel counts, and an output (C', H', W') whose size is its targets'.
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
    if isinstance(node, (loihi.Synapse, loihi.ConvSynapse)):
        return node.n_out
    return _size(node.shape)


def _is_pair(value, lo: int) -> bool:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return False
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo for v in value)


def _verify_conv(name: str, node: loihi.ConvSynapse) -> None:
    w = np.asarray(node.weights)
    if w.ndim != 4 or w.dtype.kind not in "iu":
        _fail(name, f"conv weights must be a 4-D integer array, got {w.dtype} {w.shape}")
    if w.size == 0:
        _fail(name, f"conv kernel {w.shape} is empty")
    if w.min() < -256 or w.max() > 255:
        _fail(name, f"conv weights {int(w.min())}..{int(w.max())} outside -256..255")
    if not (isinstance(node.in_shape, (tuple, list)) and len(node.in_shape) == 3
            and all(isinstance(d, (int, np.integer)) and d >= 1 for d in node.in_shape)):
        _fail(name, f"in_shape {node.in_shape!r} is not a positive (C, H, W)")
    for field, lo in (("stride", 1), ("padding", 0), ("dilation", 1)):
        if not _is_pair(getattr(node, field), lo):
            _fail(name, f"{field} {getattr(node, field)!r} is not a pair of ints >= {lo}")
    g = node.groups
    if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1:
        _fail(name, f"groups {g!r} is not a positive int")
    c_out, cin_g = w.shape[:2]
    if cin_g * g != node.in_shape[0]:
        _fail(name, f"{cin_g} channels per group x {g} groups != {node.in_shape[0]} input channels")
    if c_out % g:
        _fail(name, f"groups {g} does not divide {c_out} output channels")
    if min(node.out_shape[1:]) < 1:
        _fail(name, f"empty conv output {node.out_shape}")


def _verify_loihi(graph: Graph) -> None:
    for name, node in graph.nodes.items():
        preds = graph.predecessors(name)
        if isinstance(node, loihi.ConvSynapse):
            _verify_conv(name, node)
            if len(preds) != 1 or not isinstance(graph[preds[0]], (loihi.SpikeSource, loihi.Compartment)):
                _fail(name, "a conv synapse needs exactly one source population")
            if _size_of(graph[preds[0]]) != node.n_in:
                _fail(name, f"in_shape {node.in_shape} (n_in {node.n_in}) != source size "
                            f"{_size_of(graph[preds[0]])}")
            for d in graph.successors(name):
                if not isinstance(graph[d], loihi.Compartment) or graph[d].size != node.n_out:
                    _fail(name, f"a conv synapse must feed compartments of size n_out {node.n_out}")
        elif isinstance(node, loihi.Synapse):
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

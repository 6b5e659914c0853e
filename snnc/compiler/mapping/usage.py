"""Per-core resource usage of a split: neurons, synapse memory, input and output axons.

A *split* assigns each Compartment's neurons, in their flat (C-order) index order, to
consecutive cores: ``starts[P] = [0, s1, ..., n]`` gives core ``first[P] + k`` the neurons
``starts[k] : starts[k+1]``.  For every synapse block (``pre → post``) this module counts, per
post core, the synapse-memory bits (:mod:`snnc.compiler.mapping.cost`) and the input axons, and per
pre core the output axons (Loihi's routing: one output axon per (neuron, destination core),
one input axon per (source, core) pair):

* dense:  every post core stores all ``n_in`` axons; each pre neuron reaches every post core;
* sparse: exact, from the block's column-major (CSC) structure: along a column the post
  cores are non-decreasing, so each *run* of equal cores is one (source, core) axon holding
  ``run length`` synapses;
* conv-shared: the kernel once per core, fed by *population* axons (the spike carries its
  position and channel, as nengo-loihi's pop16/pop32 convolution axons do): one input axon
  per channel group on each post core, and one output axon per (pre core, post core of the
  group) pair.  Loihi 2's lava-loihi placed PilotNet's conv layers with 1–2 input axons per
  core (loihi.md §2.3), which this model reproduces; the exact Loihi 2 format is not public
  (estimate).

Per core also: the neuron state bits (neurons × :func:`~snnc.compiler.mapping.cost.state_bits`:
2 × 24 for a LIF, 3 × 24 for a sigma_delta) and the widest graded payload its synapses read
(``num_message_bits``, 0 for binary spikes).

Everything is vectorised over synapses; the CSC structure of a sparse block is computed once.
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np
from scipy.sparse import _sparsetools

from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.targets import TargetSpec
from snnc.compiler.mapping.cost import axon_bits, index_bits, message_bits, state_bits, synapse_field_bits

_CSC_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclasses.dataclass
class Block:
    """One synapse block as the mapper sees it."""

    name: str
    pre: str  # a population (Compartment, SigmaDeltaCompartment) or the SpikeSource
    post: str  # a population
    kind: str  # "dense", "sparse" or "conv"
    node: loihi.Synapse | loihi.ConvSynapse
    field_bits: int  # bits per synapse without index
    synapses: int  # stored synapses
    _csc: tuple[np.ndarray, np.ndarray] | None = None
    _memo: tuple | None = None  # (post starts, post_side result)

    @property
    def n_in(self) -> int:
        return self.node.n_in

    def csc(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, row indices) of the block in column-major order, rows sorted per column
        (kept per Synapse node while it lives, so the report does not rebuild it)."""
        if self._csc is None:
            self._csc = _CSC_CACHE.get(self.node)
        if self._csc is None:
            w = self.node.weights
            nnz = int(w.indptr[-1])
            idx = w.indices.dtype
            indptr = np.empty(w.shape[1] + 1, dtype=idx)
            rows = np.empty(nnz, dtype=idx)
            data = np.zeros(nnz, dtype=np.int8)
            _sparsetools.csr_tocsc(w.shape[0], w.shape[1], w.indptr, w.indices, data, indptr, rows,
                                   np.empty(nnz, dtype=np.int8))
            self._csc = _CSC_CACHE[self.node] = (indptr, rows)
        return self._csc


def blocks_of(graph: Graph, spec: TargetSpec) -> list[Block]:
    """Every Synapse/ConvSynapse of ``graph`` between its source and its compartment."""
    out = []
    for name in graph.of_kind(loihi.Synapse, loihi.ConvSynapse):
        node = graph[name]
        pre, post = graph.predecessors(name)[0], graph.successors(name)[0]
        if isinstance(node, loihi.ConvSynapse):
            kind = "conv"
        else:
            kind = "sparse" if node.is_sparse else "dense"
        out.append(Block(name, pre, post, kind, node, synapse_field_bits(node, spec), node.num_synapses))
    return out


@dataclasses.dataclass
class Split:
    """Core ranges per compartment (see the module docstring)."""

    starts: dict[str, np.ndarray]
    first: dict[str, int]

    @classmethod
    def from_starts(cls, starts: dict[str, np.ndarray]) -> "Split":
        first, base = {}, 0
        for name, s in starts.items():
            first[name] = base
            base += len(s) - 1
        return cls(starts, first)

    @property
    def n_cores(self) -> int:
        return sum(len(s) - 1 for s in self.starts.values())

    def cores(self, name: str) -> np.ndarray:
        return self.first[name] + np.arange(len(self.starts[name]) - 1)

    def core_of(self, name: str) -> np.ndarray:
        s = self.starts[name]
        return np.repeat(self.cores(name).astype(np.int32), np.diff(s))


@dataclasses.dataclass
class Usage:
    """Per-core resource use (arrays of length n_cores) and per-block routing summaries."""

    neurons: np.ndarray
    synapse_bits: np.ndarray
    axons_in: np.ndarray
    axons_out: np.ndarray
    layer: np.ndarray  # index into ``layers`` of each core
    layers: list[str]
    #: neuron state bits per core (neurons × state bits per neuron of its population)
    state_bits: np.ndarray | None = None
    #: widest graded payload (num_message_bits) the core's synapses read; 0: binary only
    message_bits: np.ndarray | None = None


def sparse_runs(block: Block, post_core: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(runs per column, post core of each run, synapses of each run) of a sparse block.

    A run is one (source, core) input axon; runs are ordered by column, so the column of
    each run is ``np.repeat(arange(n_in), runs_per_column)``.
    """
    indptr, rows = block.csc()
    nnz = rows.size
    if nnz == 0:
        e = np.zeros(0, dtype=np.int64)
        return np.zeros(block.n_in, dtype=np.int64), e, e
    core_seq = post_core[rows]
    new = np.empty(nnz, dtype=bool)
    new[0] = True
    np.not_equal(core_seq[1:], core_seq[:-1], out=new[1:])
    nonempty = np.diff(indptr) > 0
    new[indptr[:-1][nonempty]] = True
    pos = np.flatnonzero(new)
    length = np.empty(pos.size, dtype=np.int64)
    np.subtract(pos[1:], pos[:-1], out=length[:-1])
    length[-1] = nnz - pos[-1]
    per_col = np.diff(np.searchsorted(pos, indptr))  # runs start inside each column's range
    return per_col, core_seq[pos], length


def _run_bits(core: np.ndarray, length: np.ndarray, field_bits: int, m_q: np.ndarray,
              spec: TargetSpec) -> np.ndarray:
    """Σ axon_bits(run length, field + index bits of its core) per core, via a length histogram."""
    k_q = m_q.size
    top = int(length.max(initial=0)) + 1
    if k_q * top > 20_000_000:  # long runs: evaluate per run
        bits = axon_bits(length, field_bits + index_bits(m_q)[core], spec)
        return np.bincount(core, weights=bits, minlength=k_q).astype(np.int64)
    hist = np.bincount(core.astype(np.int64) * top + length, minlength=k_q * top).reshape(k_q, top)
    table = axon_bits(np.arange(top)[None, :], (field_bits + index_bits(m_q))[:, None], spec)
    return (hist * table).sum(axis=1)


def _conv_channels(node: loihi.ConvSynapse, starts: np.ndarray):
    """Per post core: first/last output channel, first/last group; input channels per group."""
    c_out, h_out, w_out = node.out_shape
    hw = h_out * w_out
    opg, ipg = c_out // node.groups, node.in_shape[0] // node.groups
    c0, c1 = starts[:-1] // hw, (starts[1:] - 1) // hw
    return c0, c1, c0 // opg, c1 // opg, ipg


def conv_dest_cores(node: loihi.ConvSynapse, pre_starts: np.ndarray, post_starts: np.ndarray) -> np.ndarray:
    """Per pre core: post cores holding an output channel of a group its neurons feed."""
    _, _, g0, g1, _ = _conv_channels(node, post_starts)
    touch = np.zeros(node.groups + 1, dtype=np.int64)
    np.add.at(touch, g0, 1)
    np.add.at(touch, g1 + 1, -1)
    cores_per_group = np.cumsum(touch)[:-1]
    c_in, h_in, w_in = node.in_shape
    per_group_in = (c_in // node.groups) * h_in * w_in
    a, b = pre_starts[:-1] // per_group_in, (pre_starts[1:] - 1) // per_group_in
    csum = np.concatenate([[0], np.cumsum(cores_per_group)])
    return csum[b + 1] - csum[a]


def post_side(blk: Block, s_q: np.ndarray, spec: TargetSpec):
    """Per post core synapse bits and input axons, and per pre neuron its destination cores
    (``None`` for conv: population axons); memoised on the block for the same ``s_q``."""
    if blk._memo is not None and blk._memo[0] is s_q:
        return blk._memo[1]
    k_q = len(s_q) - 1
    m_q = np.diff(s_q)
    if blk.kind == "dense":
        out = (blk.n_in * axon_bits(m_q, blk.field_bits, spec), blk.n_in, np.full(blk.n_in, k_q, dtype=np.int64))
    elif blk.kind == "sparse":
        local = np.repeat(np.arange(k_q, dtype=np.int32), m_q)
        dest, core, length = sparse_runs(blk, local)
        out = (_run_bits(core, length, blk.field_bits, m_q, spec), np.bincount(core, minlength=k_q), dest)
    else:
        node = blk.node
        c0, c1, g0, g1, ipg = _conv_channels(node, s_q)
        kh, kw = node.weights.shape[2:]
        gt = g1 - g0 + 1
        per_group = -(-(c1 - c0 + 1) // gt)
        out = (gt * ipg * axon_bits(per_group * kh * kw, blk.field_bits, spec), gt, None)
    blk._memo = (s_q, out)
    return out


def evaluate(graph: Graph, blocks: list[Block], split: Split, spec: TargetSpec) -> Usage:
    """Per-core usage of ``split``; see the module docstring for the model."""
    layers = list(split.starts)
    n = split.n_cores
    neurons = np.concatenate([np.diff(split.starts[p]) for p in layers]) if layers else np.zeros(0, np.int64)
    layer = np.concatenate([np.full(len(split.starts[p]) - 1, i) for i, p in enumerate(layers)]) if layers \
        else np.zeros(0, np.int64)
    syn = np.zeros(n, dtype=np.int64)
    ax_in = np.zeros(n, dtype=np.int64)
    ax_out = np.zeros(n, dtype=np.int64)
    per_neuron = np.array([state_bits(graph[p]) for p in layers], dtype=np.int64)
    states = neurons.astype(np.int64) * (per_neuron[layer] if n else 0)
    msg = np.zeros(n, dtype=np.int64)
    for blk in blocks:
        s_q = split.starts[blk.post]
        sl = slice(split.first[blk.post], split.first[blk.post] + len(s_q) - 1)
        syn_q, in_q, dest = post_side(blk, s_q, spec)
        syn[sl] += syn_q
        ax_in[sl] += in_q
        msg[sl] = np.maximum(msg[sl], message_bits(blk.node))
        if blk.pre not in split.starts:  # the SpikeSource lives off-chip: no output axons to count
            continue
        s_p = split.starts[blk.pre]
        out = slice(split.first[blk.pre], split.first[blk.pre] + len(s_p) - 1)
        if dest is None:  # population axons: one per (pre core, post core) of the groups it feeds
            ax_out[out] += conv_dest_cores(blk.node, s_p, s_q)
        else:
            csum = np.concatenate([[0], np.cumsum(dest, dtype=np.int64)])
            ax_out[out] += csum[s_p[1:]] - csum[s_p[:-1]]
    return Usage(neurons.astype(np.int64), syn, ax_in, ax_out, layer.astype(np.int64), layers,
                 np.asarray(states, dtype=np.int64).reshape(n), msg)

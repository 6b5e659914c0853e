"""Where each synaptic event lands: per-core fan-out matrices from a placement.

For a synapse block k from population p (n_in neurons) to population q, with the weights the
chip actually uses ``W'`` (Lava's clip + truncation; for convolutions the unrolled kernel)::

    F_k[j, c]  = #{ i : W'[i, j] ≠ 0  and  core_of[q][i] = c }        (SynOps per spike of j, by core)
    R_k[j, c]  = [ F_k[j, c] > 0 ]                                    (one routed message per core)

A spike of pre-neuron j costs ``Σ_c F_k[j, c]`` synaptic operations (its non-zero fan-out) and
sends one message to each destination core c with ``R_k[j, c] = 1``.  That message stays
*within a core* when ``c`` is j's own core, *within a chip* when ``c`` is on j's chip, and
goes *across chips* otherwise (input spikes from the host have no core: they are counted as
host messages).

Programs without a placement get :func:`fallback_placement`: each population on consecutive
cores of ``target.neurons_per_core`` neurons, every core on chip 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from snnc.backends.emulator.synapse import conv_matrix, effective_weights
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.placement import Placement

#: Placement.strategy of the fallback (the report says so)
FALLBACK = "fallback: consecutive blocks of neurons_per_core per population, all on chip 0"


def fallback_placement(graph: Graph, neurons_per_core: int, target: str = "") -> Placement:
    """One population after the other on fresh cores of ``neurons_per_core`` neurons, chip 0."""
    core_of: dict[str, np.ndarray] = {}
    next_core = 0
    for name in graph.of_kind(*loihi.NEURON_OPS):
        n = graph[name].size
        core_of[name] = (next_core + np.arange(n) // max(int(neurons_per_core), 1)).astype(np.int32)
        next_core += -(-n // max(int(neurons_per_core), 1)) if n else 0
    return Placement(target, core_of, np.zeros(next_core, dtype=np.int32), FALLBACK)


def nonzero_pattern(syn: loihi.Synapse | loihi.ConvSynapse) -> sp.csr_matrix:
    """0/1 CSR matrix (n_out, n_in) of the synapses the chip stores with a non-zero weight."""
    m = conv_matrix(syn) if isinstance(syn, loihi.ConvSynapse) else effective_weights(syn)
    m = sp.csr_matrix(m)
    m.eliminate_zeros()
    return sp.csr_matrix((np.ones_like(m.data, dtype=np.int64), m.indices, m.indptr), shape=m.shape)


@dataclasses.dataclass(frozen=True)
class BlockRouting:
    """Fan-out of one synapse block by destination core (see the module docstring)."""

    name: str
    pre: str
    post: str
    pattern: sp.csr_matrix  # (n_out, n_in) 0/1 non-zero weights
    delays: np.ndarray | None  # per-synapse extra delays (dense, like the weights) or None
    fanout_by_core: sp.csr_matrix  # F (n_in, n_cores)
    route_core: np.ndarray  # per pre neuron: messages within its own core
    route_chip: np.ndarray  # ... to other cores of its chip
    route_interchip: np.ndarray  # ... to cores on other chips
    route_host: np.ndarray  # ... from the host (input layer: every destination core)

    @property
    def fanout(self) -> np.ndarray:
        """Non-zero fan-out of each pre neuron (SynOps per spike)."""
        return np.asarray(self.pattern.sum(axis=0)).reshape(-1).astype(np.int64)


def block_routing(graph: Graph, name: str, pre: str, post: str, placement: Placement) -> BlockRouting:
    syn = graph[name]
    pat = nonzero_pattern(syn)
    n_cores = placement.n_cores
    dst_core = np.asarray(placement.core_of[post], dtype=np.int64)
    onehot = sp.csr_matrix((np.ones(dst_core.size, np.int64), (np.arange(dst_core.size), dst_core)),
                           shape=(dst_core.size, n_cores))
    fan = sp.csr_matrix(pat.T @ onehot)  # (n_in, n_cores)
    msgs = sp.csr_matrix((fan > 0).astype(np.int64))
    n_in = pat.shape[1]
    zero = np.zeros(n_in, dtype=np.int64)
    per_core = np.asarray(msgs.sum(axis=1)).reshape(-1).astype(np.int64)
    if pre in placement.core_of:
        src_core = np.asarray(placement.core_of[pre], dtype=np.int64)
        chip = np.asarray(placement.chip_of_core, dtype=np.int64)
        rows, cols = msgs.nonzero()
        same_core = cols == src_core[rows]
        same_chip = chip[cols] == chip[src_core[rows]]
        core = np.bincount(rows[same_core], minlength=n_in)
        chip_ = np.bincount(rows[same_chip & ~same_core], minlength=n_in)
        inter = np.bincount(rows[~same_chip], minlength=n_in)
        host = zero
    else:
        core, chip_, inter, host = zero, zero, zero, per_core
    delays = None
    if isinstance(syn, loihi.Synapse) and syn.delays is not None and np.any(syn.delays):
        delays = np.asarray(syn.delays, dtype=np.int64)
    return BlockRouting(name, pre, post, pat, delays, fan, core.astype(np.int64),
                        chip_.astype(np.int64), inter.astype(np.int64), host.astype(np.int64))

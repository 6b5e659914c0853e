"""Split each Compartment across cores within the neuron, synapse-memory and axon limits.

Neurons stay in their flat order; a compartment of ``n`` neurons gets cores holding
consecutive ranges.  First pass, per compartment, with a per-neuron additive cost

    c_i = Σ_dense n_in · (b + H/B)  +  Σ_sparse nnz_i · (b + index + H/B)

(``b`` bits per synapse, ``H``/``B`` the block header per ``B`` synapses, :mod:`cost`) and a
per-core constant (dense word rounding ``n_in · w``, the conv kernel), a core takes neurons
until ``neurons_per_core`` or the memory budget is reached: the fewest cores whose
equal-cost cuts (a cumulative-sum search) keep every core within both.  A compartment with
sparse inputs first gets its neurons-per-core cap from a binary search on a few sampled
windows of consecutive neurons, each checked exactly (distinct input axons, memory).  Second pass: the exact usage
(:func:`snnc.compiler.mapping.usage.evaluate`) is computed and every compartment with a core over a
limit (memory, input axons, or output axons of its own neurons) is re-split with its
neurons-per-core cap scaled down by ``limit / usage``, up to :data:`MAX_REFINE` times.
What still does not fit (one neuron's fan-in larger than a core) is left for
``check_resources`` to report.
"""

from __future__ import annotations

import logging

import numpy as np

from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.targets import TargetSpec
from snnc.compiler.mapping.cost import axon_bits, index_bits, neurons_per_core
from snnc.compiler.mapping.usage import Block, Split, Usage, evaluate

MAX_REFINE = 8
log = logging.getLogger(__name__)


def _kernel_bits(blk: Block, spec: TargetSpec) -> int:
    """A conv block's kernel with every output channel on one core (an upper bound per core)."""
    node = blk.node
    ipg = node.in_shape[0] // node.groups
    taps = int(np.prod(node.weights.shape[2:]))
    return int(ipg * axon_bits(node.weights.shape[0] * taps, blk.field_bits, spec))


def _neuron_cost(n: int, incoming: list[Block], spec: TargetSpec, cap: int) -> tuple[np.ndarray | float, int]:
    """Per-neuron additive memory bits (array or scalar) and the per-core constant."""
    hdr = spec.block_header_bits / spec.synapses_per_block
    per: np.ndarray | float = 0.0
    const = 0
    for blk in incoming:
        if blk.kind == "dense":
            per = per + blk.n_in * (blk.field_bits + hdr)
            const += blk.n_in * spec.memory_word_bits
        elif blk.kind == "sparse":
            nnz_row = np.diff(blk.node.weights.indptr)
            per = per + nnz_row * (blk.field_bits + int(index_bits(cap)) + hdr)
            const += spec.memory_word_bits  # rounding of the last block of each axon, amortised
        else:
            const += _kernel_bits(blk, spec)
    return per, const


def _dense_fit(incoming: list[Block], spec: TargetSpec, cap: int) -> int:
    """Most neurons per core (≤ cap, ≥ 1) whose dense + conv synapse memory fits exactly."""
    m = np.arange(1, cap + 1)
    bits = np.zeros(cap, dtype=np.int64)
    for blk in incoming:
        if blk.kind == "dense":
            bits += blk.n_in * axon_bits(m, blk.field_bits, spec)
        else:
            bits += _kernel_bits(blk, spec)
    ok = np.flatnonzero(bits <= spec.synapse_memory_bits)
    return int(ok[-1]) + 1 if ok.size else 1


def _window_fits(incoming: list[Block], a: int, m: int, spec: TargetSpec) -> bool:
    """Do neurons ``a : a+m`` fit one core (exact memory and input axons)?"""
    bits, axons = 0, 0
    for blk in incoming:
        if blk.kind == "dense":
            bits += blk.n_in * int(axon_bits(m, blk.field_bits, spec))
            axons += blk.n_in
        elif blk.kind == "sparse":
            w = blk.node.weights
            cols = w.indices[w.indptr[a]: w.indptr[a + m]]
            _, counts = np.unique(cols, return_counts=True)
            bits += int(axon_bits(counts, blk.field_bits + int(index_bits(m)), spec).sum())
            axons += counts.size
        else:
            bits += _kernel_bits(blk, spec)
            axons += 1
    # 3 % headroom: a sample can miss the fullest window, and each miss costs a re-evaluation
    return bits <= 0.97 * spec.synapse_memory_bits and axons <= 0.97 * spec.fan_in_axons


def _sampled_fit(incoming: list[Block], n: int, hi: int, spec: TargetSpec, samples: int = 5) -> int:
    """Largest m ≤ hi whose windows of m neurons at ``samples`` places all fit (binary search)."""
    def fits(m: int) -> bool:
        places = np.unique(np.linspace(0, max(n - m, 0), samples).astype(np.int64))
        return all(_window_fits(incoming, int(a), min(m, n - int(a)), spec) for a in places)

    lo, hi = 1, max(1, min(hi, n))
    if fits(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _chunks(n: int, per: np.ndarray | float, budget: float, cap: int) -> np.ndarray:
    """Core boundaries [0, ..., n]: at most ``cap`` neurons and ``budget`` bits per core."""
    if np.ndim(per) == 0:
        fit = cap if per <= 0 else int(max(1, min(cap, budget // per)))
        k = -(-n // fit)
        return np.round(np.linspace(0, n, k + 1)).astype(np.int64)
    csum = np.concatenate([[0.0], np.cumsum(per)])
    k = max(-(-n // cap), int(np.ceil(csum[-1] / budget)), 1)
    while True:  # equal-cost cuts; one more core until every core is within cap and budget
        cut = np.searchsorted(csum, np.linspace(0, csum[-1], k + 1)[1:-1], side="left")
        starts = np.unique(np.concatenate([[0], cut, [n]]).astype(np.int64))
        size = np.diff(starts)
        cost = csum[starts[1:]] - csum[starts[:-1]]
        if k >= n or (np.all(size <= cap) and np.all((cost <= budget) | (size == 1))):
            return starts
        k = min(n, max(k + 1, int(k * 1.02)))


def split_compartments(graph: Graph, blocks: list[Block], spec: TargetSpec,
                       allow_split: bool = True) -> tuple[Split, Usage]:
    """Split every population (LIF or sigma-delta) onto cores; return the split and its exact
    usage.  A core holds at most ``neurons_per_core`` neurons of a LIF population, fewer of a
    population with more state per neuron (:func:`snnc.compiler.mapping.cost.neurons_per_core`)."""
    comps = graph.of_kind(*loihi.NEURON_OPS)
    incoming: dict[str, list[Block]] = {c: [] for c in comps}
    for blk in blocks:
        incoming[blk.post].append(blk)
    size = {c: graph[c].size for c in comps}
    caps = {c: (neurons_per_core(graph[c], spec) if allow_split else max(size[c], 1)) for c in comps}

    def starts_of(c: str) -> np.ndarray:
        if not allow_split or size[c] == 0:
            return np.array([0, size[c]], dtype=np.int64)
        if all(b.kind != "sparse" for b in incoming[c]):  # memory is an exact function of m
            fit = _dense_fit(incoming[c], spec, caps[c])
            k = -(-size[c] // fit)
            return np.round(np.linspace(0, size[c], k + 1)).astype(np.int64)
        per, const = _neuron_cost(size[c], incoming[c], spec, caps[c])
        budget = max(spec.synapse_memory_bits - const, 1)
        return _chunks(size[c], per, budget, caps[c])

    for c in comps:  # sparse inputs: size the cap on sampled windows of consecutive neurons
        if allow_split and any(b.kind == "sparse" for b in incoming[c]) and size[c] > 0:
            per, const = _neuron_cost(size[c], incoming[c], spec, caps[c])
            mean = float(np.mean(per)) if np.ndim(per) else float(per)
            guess = caps[c] if mean <= 0 else max(1, min(caps[c], int((spec.synapse_memory_bits - const) / mean)))
            caps[c] = _sampled_fit(incoming[c], size[c], guess, spec)
    starts = {c: starts_of(c) for c in comps}
    split = Split.from_starts(starts)
    usage = evaluate(graph, blocks, split, spec)
    if not allow_split:
        return split, usage
    for _ in range(MAX_REFINE):
        ratio = np.maximum.reduce([
            usage.synapse_bits / spec.synapse_memory_bits,
            usage.axons_in / spec.fan_in_axons,
            usage.axons_out / spec.fan_out_axons,
        ]) if usage.neurons.size else np.zeros(0)
        changed = False
        for i, c in enumerate(usage.layers):
            mine = usage.layer == i
            worst = float(ratio[mine].max()) if mine.any() else 0.0
            if worst <= 1.0:
                continue
            most = int(usage.neurons[mine].max())
            new_cap = max(1, min(caps[c], int(most / worst + 1e-9)))
            if new_cap >= most and most == 1:
                continue  # one neuron per core already: not fixable by splitting
            new_cap = min(new_cap, most - 1) if most > 1 else 1
            caps[c] = new_cap
            log.debug('refine %s: cap %d (worst %.3f)', c, new_cap, worst)
            starts[c] = starts_of(c)
            changed = True
        if not changed:
            break
        split = Split.from_starts(starts)
        usage = evaluate(graph, blocks, split, spec)
    return split, usage

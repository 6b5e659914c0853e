"""Place cores on chips: ``greedy`` and the communication-aware ``comm`` strategy.

``greedy`` fills chip after chip with the cores in layer order (``chip = core // cores_per_chip``).

``comm`` keeps chatty layers on one chip.  Layers are nodes of a graph whose edge weights are
the synapses between them (every synapse of a block carries the pre neuron's spikes, so
synapse count is the traffic at equal rates).  Edges are taken heaviest first and their two
layer groups merged when the merged group still fits one chip (Kruskal with a capacity, a
greedy approximation of the capacitated min cut); groups are then packed first-fit
decreasing onto chips (a layer larger than a chip takes whole chips, its remainder is packed
like a group).  The layout with the smaller expected cut (:func:`expected_cut`) is kept, so
``comm`` never cuts more synapses than ``greedy``; when ``comm``'s grouping needs more chips
than the system has, the greedy layout is kept.

``expected_cut`` assumes each block's synapses are spread uniformly over its pre and post
neurons: ``cut = Σ_blocks S · (1 − Σ_x f_pre(x) f_post(x))`` with ``f(x)`` the fraction of a
layer's neurons on chip ``x``.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.mapping.usage import Block, Split


def greedy(split: Split, cores_per_chip: int) -> np.ndarray:
    """Chip of each core, filling chips in core order."""
    return (np.arange(split.n_cores) // cores_per_chip).astype(np.int32)


def layer_fractions(split: Split, chip_of_core: np.ndarray, layer: str) -> dict[int, float]:
    s = split.starts[layer]
    n = max(int(s[-1]), 1)
    chips = chip_of_core[split.cores(layer)]
    w = np.bincount(chips, weights=np.diff(s))
    nz = np.flatnonzero(w)
    return {int(x): float(w[x]) / n for x in nz}


def expected_cut(split: Split, blocks: list[Block], chip_of_core: np.ndarray) -> float:
    """Synapses expected to cross chips (uniform spread within each block)."""
    frac = {p: layer_fractions(split, chip_of_core, p) for p in split.starts}
    cut = 0.0
    for blk in blocks:
        if blk.pre not in frac:  # input from the host: crosses into the chips anyway
            continue
        fp, fq = frac[blk.pre], frac[blk.post]
        same = sum(v * fq.get(x, 0.0) for x, v in fp.items())
        cut += blk.synapses * (1.0 - same)
    return cut


def _groups(split: Split, blocks: list[Block], cap: int) -> list[list[str]]:
    """Layer groups merged along the heaviest edges while a group fits one chip."""
    layers = list(split.starts)
    parent = {p: p for p in layers}
    cores = {p: len(split.starts[p]) - 1 for p in layers}

    def find(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    weight: dict[tuple[str, str], int] = {}
    for blk in blocks:
        if blk.pre in parent and blk.pre != blk.post:
            key = tuple(sorted((blk.pre, blk.post)))
            weight[key] = weight.get(key, 0) + blk.synapses
    for (a, b), _ in sorted(weight.items(), key=lambda kv: -kv[1]):
        ra, rb = find(a), find(b)
        if ra != rb and cores[ra] + cores[rb] <= cap:
            parent[rb] = ra
            cores[ra] += cores[rb]
    groups: dict[str, list[str]] = {}
    for p in layers:
        groups.setdefault(find(p), []).append(p)
    return list(groups.values())


def comm(split: Split, blocks: list[Block], cores_per_chip: int) -> np.ndarray:
    """Chip of each core, grouping layers by traffic (see the module docstring)."""
    chip = np.full(split.n_cores, -1, dtype=np.int32)
    items: list[tuple[int, np.ndarray]] = []  # (cores, core ids) still to pack
    n_chips = 0
    for group in _groups(split, blocks, cores_per_chip):
        ids = np.concatenate([split.cores(p) for p in group])
        whole = (ids.size // cores_per_chip) * cores_per_chip
        if whole:
            chip[ids[:whole]] = n_chips + np.arange(whole) // cores_per_chip
            n_chips += whole // cores_per_chip
        if ids.size > whole:
            items.append((ids.size - whole, ids[whole:]))
    free: list[int] = []
    base = n_chips
    for size, ids in sorted(items, key=lambda it: -it[0]):
        for i, room in enumerate(free):
            if room >= size:
                chip[ids] = base + i
                free[i] -= size
                break
        else:
            chip[ids] = base + len(free)
            free.append(cores_per_chip - size)
    # number chips in order of their first core, so chip 0 holds the first layer
    _, first = np.unique(chip, return_index=True)
    order = np.argsort(np.argsort(first))
    return order[np.searchsorted(np.unique(chip), chip)].astype(np.int32)


def place(split: Split, blocks: list[Block], cores_per_chip: int, chips_available: int,
          strategy: str = "comm") -> tuple[np.ndarray, list[str]]:
    """Chip of each core for ``strategy`` (``greedy`` or ``comm``) and notes on the choice."""
    g = greedy(split, cores_per_chip)
    if strategy == "greedy":
        return g, []
    c = comm(split, blocks, cores_per_chip)
    cut_g, cut_c = expected_cut(split, blocks, g), expected_cut(split, blocks, c)
    n_g, n_c = int(g.max(initial=-1)) + 1, int(c.max(initial=-1)) + 1
    if n_c > max(chips_available, n_g):
        return g, [f"comm: its grouping needs {n_c} chips > {chips_available} available; greedy layout kept"]
    if cut_c < cut_g:
        return c, [f"comm: {cut_c:.0f} synapses expected across chips vs {cut_g:.0f} greedy"]
    return g, [f"comm: no grouping cuts fewer synapses than greedy ({cut_g:.0f}); greedy layout kept"]

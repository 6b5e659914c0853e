"""Exact event counts of a run, from every layer's raw spike timeline.

With ``s_p[b, t, j]`` the spikes of population p (or of the input, ``x`` padded with silent
steps to the run's length) on the chip's raw time line (:mod:`snnc.backends.base`), and the
per-block routing of :mod:`snnc.profiler.routing`::

    SynOps_k      = Σ_{b,t,j} s_p[b,t,j] · fanout_k[j]          (presynaptic spikes × non-zero fan-out)
    SynOps_k(c)   = Σ_j s_p[b,t,j] · F_k[j, c]                  (per step and destination core)
    routed_k      = Σ_{b,t,j} s_p[b,t,j] · (route_core, route_chip, route_interchip, route_host)[j]
    spikes_p      = Σ s_p                                        (axon-out events)
    updates_q     = B · steps · n_q                              (every neuron is updated every step)
    active_q[b,t,i] = spiked_q[b,t,i]  or  i receives ≥ 1 synaptic event at t
                    (a spike of j at t reaches i at t + 1 + d_ij, Lava's one-step synaptic delay)

``SynOps`` counts binary messages (NeuroBench's ``Eff_ACs``); snnc programs carry no graded
messages, so ``graded_synops`` is 0 and listed separately.  An input wired straight to a
compartment (lava-dl's Input block: int32 values into ``a_in``) is counted as one host message
per non-zero value and target compartment (``route_host`` of the input; the neuron is active at
that step) and performs no SynOps; what a graded payload costs is not modelled here.  Counts are totals over the batch;
:class:`EventCounts` divides by the batch for per-inference figures.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from snnc.backends.base import RunResult
from snnc.backends.wiring import Spikes, check_input, wiring
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.placement import Placement
from snnc.profiler.routing import BlockRouting, block_routing


@dataclasses.dataclass
class LayerCounts:
    """Totals over the batch for one population (or the input, ``kind == "input"``)."""

    name: str
    kind: str  # "input" or "neurons"
    neurons: int
    cores: tuple[int, ...]
    spikes: int = 0
    synops_in: int = 0  # SynOps performed by this layer's synapse memory (incoming blocks)
    graded_synops_in: int = 0
    updates_active: int = 0
    updates_idle: int = 0
    route_core: int = 0  # messages sent by this layer's spikes, by distance
    route_chip: int = 0
    route_interchip: int = 0
    route_host: int = 0


@dataclasses.dataclass
class EventCounts:
    """Exact event counts of one run (totals over ``batch`` samples of ``steps`` raw steps)."""

    batch: int
    steps: int
    placement: Placement
    layers: dict[str, LayerCounts]
    block_synops: dict[str, int]  # synapse block -> SynOps (binary)
    #: (batch, steps, n_cores) per-core work of each step, for the step-time model
    core_synops: np.ndarray
    core_active: np.ndarray
    core_neurons: np.ndarray  # (n_cores,) neurons placed on each core

    @property
    def synops(self) -> int:
        return int(sum(self.block_synops.values()))

    @property
    def graded_synops(self) -> int:
        return int(sum(lc.graded_synops_in for lc in self.layers.values()))

    def total(self, field: str) -> int:
        return int(sum(getattr(lc, field) for lc in self.layers.values()))

    def per_inference(self, field: str) -> float:
        return self.total(field) / max(self.batch, 1)


def _timeline(graph: Graph, name: str, x: Spikes, raw: RunResult, steps: int) -> np.ndarray:
    """(batch, steps, n) bool spikes of a population or of the SpikeSource (x padded)."""
    if isinstance(graph[name], loihi.SpikeSource):
        return x.padded(steps)
    s = raw.spikes[name]
    return np.asarray(s, dtype=bool).reshape(s.shape[0], s.shape[1], -1)


def _arrivals(r: BlockRouting, s2d: np.ndarray, batch: int, steps: int) -> np.ndarray:
    """(batch, steps, n_out) bool: neurons of ``r.post`` receiving ≥ 1 event at each step."""
    n_out = r.pattern.shape[0]
    got = np.zeros((batch, steps, n_out), dtype=bool)
    if r.delays is None:
        groups = [(0, r.pattern)]
    else:
        rows, cols = r.pattern.nonzero()
        d = r.delays[rows, cols]
        groups = [(int(v), sp.csr_matrix((np.ones(int((d == v).sum())), (rows[d == v], cols[d == v])),
                                         shape=r.pattern.shape)) for v in np.unique(d)]
    for d, pat in groups:
        ev = (pat.astype(np.float32) @ s2d.T.astype(np.float32)).T.reshape(batch, steps, n_out) > 0
        lag = 1 + d
        if lag < steps:
            got[:, lag:] |= ev[:, : steps - lag]
    return got


def count_events(graph: Graph, x: np.ndarray | Spikes, raw: RunResult, placement: Placement) -> EventCounts:
    """Count every event of a run with all layers recorded (``prog.run(x, return_raw=True)``).

    ``x``: the input spikes (batch, T_in, *shape) that produced ``raw``, an array or the
    checked :class:`~snnc.backends.wiring.Spikes` (taken as they are).
    """
    w = wiring(graph)
    steps = int(raw.steps)
    x = check_input(graph, x, steps, w)
    batch = x.batch
    n_cores = placement.n_cores
    layers: dict[str, LayerCounts] = {}
    if w.source is not None:
        layers[w.source] = LayerCounts(w.source, "input", 0, ())
    core_neurons = np.zeros(n_cores, dtype=np.int64)
    for c in w.compartments:
        cores = np.asarray(placement.core_of[c], dtype=np.int64)
        core_neurons += np.bincount(cores, minlength=n_cores)[:n_cores]
        layers[c] = LayerCounts(c, "neurons", graph[c].size, tuple(int(v) for v in np.unique(cores)))
    core_synops = np.zeros((batch, steps, n_cores), dtype=np.int64)
    core_active = np.zeros((batch, steps, n_cores), dtype=np.int64)
    block_synops: dict[str, int] = {}
    spikes = {p: _timeline(graph, p, x, raw, steps) for p in layers}
    active = {c: spikes[c].copy() for c in w.compartments}
    for name in w.synapses:
        pre = w.syn_src[name]
        s2d = spikes[pre].reshape(batch * steps, -1)
        per_neuron = s2d.sum(axis=0, dtype=np.int64)
        for post in w.syn_dst[name]:
            r = block_routing(graph, name, pre, post, placement)
            ops = int(per_neuron @ r.fanout)
            block_synops[name] = block_synops.get(name, 0) + ops
            layers[post].synops_in += ops
            lp = layers[pre]
            lp.route_core += int(per_neuron @ r.route_core)
            lp.route_chip += int(per_neuron @ r.route_chip)
            lp.route_interchip += int(per_neuron @ r.route_interchip)
            lp.route_host += int(per_neuron @ r.route_host)
            if ops:
                by_core = (r.fanout_by_core.T.astype(np.float64) @ s2d.T.astype(np.float64)).T  # exact < 2**53
                core_synops += np.rint(by_core).astype(np.int64).reshape(batch, steps, n_cores)
                active[post] |= _arrivals(r, s2d, batch, steps)
    for post in w.direct:  # the input's non-zero values enter a_in in the same step
        ev = spikes[w.source]
        layers[w.source].route_host += int(ev.sum())
        active[post] |= ev
    for p, lc in layers.items():
        lc.spikes = int(spikes[p].sum())
        if lc.kind == "input":
            continue
        a = active[p].reshape(batch * steps, -1)
        lc.updates_active = int(a.sum())
        lc.updates_idle = batch * steps * lc.neurons - lc.updates_active
        cores = np.asarray(placement.core_of[p], dtype=np.int64)
        onehot_t = sp.csr_matrix((np.ones(cores.size), (cores, np.arange(cores.size))), shape=(n_cores, cores.size))
        core_active += np.rint((onehot_t @ a.T.astype(np.float64)).T).astype(np.int64).reshape(batch, steps, n_cores)
    return EventCounts(batch, steps, placement, layers, block_synops, core_synops, core_active, core_neurons)

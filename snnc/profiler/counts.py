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

``SynOps`` counts binary messages (NeuroBench's ``Eff_ACs``).  Graded spikes (sigma-delta
populations, decision 0007; an int32 input) are messages too: a **graded message** is one
non-zero payload ``p[b, t, j] ≠ 0`` a population (or the input) sends, and ``s_p`` above is
``p ≠ 0`` for it (a Sigma sends its sum every step: each non-zero sum is a message).  Into a
graded synapse (``num_message_bits`` m > 0) each message costs its fan-out in **graded SynOps**
(a multiply-accumulate of payload × weight) instead of binary SynOps, and carries m payload
bits along every route it takes::

    GradedSynOps_k = Σ_{b,t,j} [p_j ≠ 0] · fanout_k[j]                     (m_k > 0)
    PayloadBits_k  = m_k · Σ_{b,t,j} [p_j ≠ 0] · (route_core + route_chip + route_interchip + route_host)[j]
    graded_messages_p = Σ [p ≠ 0]    (per step: ``graded_per_step``)

A binary synapse (m = 0) fed by a sigma-delta population counts every non-zero payload as one
spike (Lava's binary path): binary SynOps.  An input wired straight to a population (lava-dl's
Input block: int32 values into ``a_in``) is counted as one host message per non-zero value and
target population (``route_host`` of the input, carrying ``HOST_PAYLOAD_BITS`` = 24 payload
bits: one Loihi 2 graded message; the neuron is active at that step) and performs no SynOps.  Counts are totals over the batch; :class:`EventCounts` divides by the batch
for per-inference figures.

Per core c and step (the time model's inputs, :mod:`snnc.profiler.timing`), with ``R_k`` the
0/1 (pre neuron, destination core) message matrix of :mod:`snnc.profiler.routing`::

    MsgIn_c(t)        = Σ_k Σ_j s_pre(k)[t, j] · R_k[j, c]                    (host messages included)
    MsgOut_c(t)       = Σ_k Σ_{j on c} s_pre(k)[t, j] · Σ_c' R_k[j, c']
    MsgInterchip_c(t) = Σ_k Σ_{j on c} s_pre(k)[t, j] · #{c' on another chip : R_k[j, c'] = 1}
    Spikes_c(t)       = Σ_p Σ_{j on c} s_p[t, j]            GradedSynOps_c(t), BitsIn_c(t) = m_k · MsgIn
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from snnc.backends.base import RunResult
from snnc.backends.wiring import Spikes, check_input, wiring
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.cost import MAX_MESSAGE_BITS
from snnc.compiler.mapping.placement import Placement
from snnc.profiler.routing import BlockRouting, block_routing

#: payload bits of one input value sent straight into a population's a_in (an int32 value from
#: the host: charged as one Loihi 2 graded message, 24 bits)
HOST_PAYLOAD_BITS = MAX_MESSAGE_BITS


@dataclasses.dataclass
class LayerCounts:
    """Totals over the batch for one population (or the input, ``kind == "input"``)."""

    name: str
    kind: str  # "input" or "neurons"
    neurons: int
    cores: tuple[int, ...]
    spikes: int = 0  # messages sent: spikes, or non-zero payloads of a graded population
    synops_in: int = 0  # binary SynOps performed by this layer's synapse memory (incoming blocks)
    graded_synops_in: int = 0  # graded SynOps (incoming blocks with num_message_bits > 0)
    graded: bool = False  # the layer sends graded payloads (sigma-delta, or an int32 input)
    graded_messages: int = 0  # non-zero payloads sent (= spikes for a graded layer)
    payload_bits: int = 0  # payload bits its messages carry along graded routes
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
    #: synapse block -> graded SynOps (blocks with num_message_bits > 0)
    block_graded_synops: dict[str, int] = dataclasses.field(default_factory=dict)
    #: (steps,) graded messages sent at each raw step, summed over the batch
    graded_per_step: np.ndarray | None = None
    #: (batch, steps, n_cores) more per-core work for the time model (:mod:`snnc.profiler.timing`):
    #: graded SynOps (part of core_synops), spikes/messages generated by the core's neurons,
    #: messages sent by them (one per destination core), of those the ones to another chip,
    #: messages received (host messages included), payload bits received
    core_graded_synops: np.ndarray | None = None
    core_spikes: np.ndarray | None = None
    core_msg_out: np.ndarray | None = None
    core_msg_interchip: np.ndarray | None = None
    core_msg_in: np.ndarray | None = None
    core_bits_in: np.ndarray | None = None
    #: (batch, steps) messages the host sends at each raw step (input spikes/values routed)
    host_per_step: np.ndarray | None = None

    @property
    def synops(self) -> int:
        return int(sum(self.block_synops.values()))

    @property
    def graded_messages(self) -> int:
        return int(sum(lc.graded_messages for lc in self.layers.values()))

    @property
    def graded_synops(self) -> int:
        return int(sum(lc.graded_synops_in for lc in self.layers.values()))

    def total(self, field: str) -> int:
        return int(sum(getattr(lc, field) for lc in self.layers.values()))

    def per_inference(self, field: str) -> float:
        return self.total(field) / max(self.batch, 1)


def _timeline(graph: Graph, name: str, x: Spikes, raw: RunResult, steps: int) -> np.ndarray:
    """(batch, steps, n) bool events of a population or of the SpikeSource (x padded): spikes,
    or the non-zero payloads of a graded population."""
    if isinstance(graph[name], loihi.SpikeSource):
        return x.padded(steps)
    payload = getattr(raw, "payload", {}) or {}
    s = raw.spikes[name] if name in raw.spikes else payload[name]
    return np.asarray(s, dtype=bool).reshape(s.shape[0], s.shape[1], -1)


def _is_graded(graph: Graph, name: str) -> bool:
    node = graph[name]
    if isinstance(node, loihi.SpikeSource):
        return getattr(node, "payload", loihi.PAYLOAD_BINARY) != loihi.PAYLOAD_BINARY
    return isinstance(node, getattr(loihi, "SigmaDeltaCompartment", ()))


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
        layers[w.source] = LayerCounts(w.source, "input", 0, (), graded=_is_graded(graph, w.source))
    core_neurons = np.zeros(n_cores, dtype=np.int64)
    populations = tuple(getattr(w, "neurons", ()) or w.compartments)
    for c in populations:
        cores = np.asarray(placement.core_of[c], dtype=np.int64)
        core_neurons += np.bincount(cores, minlength=n_cores)[:n_cores]
        layers[c] = LayerCounts(c, "neurons", graph[c].size, tuple(int(v) for v in np.unique(cores)),
                                graded=_is_graded(graph, c))
    core_synops = np.zeros((batch, steps, n_cores), dtype=np.int64)
    core_active = np.zeros((batch, steps, n_cores), dtype=np.int64)
    core = {k: np.zeros((batch, steps, n_cores), dtype=np.int64)
            for k in ("graded", "spikes", "msg_out", "msg_interchip", "msg_in", "bits_in")}
    host_per_step = np.zeros((batch, steps), dtype=np.int64)
    block_synops: dict[str, int] = {}
    block_graded: dict[str, int] = {}
    spikes = {p: _timeline(graph, p, x, raw, steps) for p in layers}
    active = {c: spikes[c].copy() for c in populations}
    for name in w.synapses:
        pre = w.syn_src[name]
        s2d = spikes[pre].reshape(batch * steps, -1)
        per_neuron = s2d.sum(axis=0, dtype=np.int64)
        bits = int(getattr(graph[name], "num_message_bits", 0) or 0)
        for post in w.syn_dst[name]:
            r = block_routing(graph, name, pre, post, placement)
            ops = int(per_neuron @ r.fanout)
            lp = layers[pre]
            routed = [int(per_neuron @ v) for v in (r.route_core, r.route_chip, r.route_interchip, r.route_host)]
            if bits:  # graded: payload × weight per synapse, the payload rides every route
                block_graded[name] = block_graded.get(name, 0) + ops
                layers[post].graded_synops_in += ops
                lp.payload_bits += bits * sum(routed)
            else:  # binary (a graded population's non-zero payloads count as spikes)
                block_synops[name] = block_synops.get(name, 0) + ops
                layers[post].synops_in += ops
            lp.route_core += routed[0]
            lp.route_chip += routed[1]
            lp.route_interchip += routed[2]
            lp.route_host += routed[3]
            if ops:
                by_core = (r.fanout_by_core.T.astype(np.float64) @ s2d.T.astype(np.float64)).T  # exact < 2**53
                by_core = np.rint(by_core).astype(np.int64).reshape(batch, steps, n_cores)
                core_synops += by_core
                if bits:
                    core["graded"] += by_core
                active[post] |= _arrivals(r, s2d, batch, steps)
            _core_messages(r, s2d, placement, bits, core, host_per_step)
    for post in w.direct:  # the input's non-zero values enter a_in in the same step
        ev = spikes[w.source]
        layers[w.source].route_host += int(ev.sum())
        layers[w.source].payload_bits += HOST_PAYLOAD_BITS * int(ev.sum())
        active[post] |= ev
        by_core = _by_core(ev.reshape(batch * steps, -1), placement.core_of[post], n_cores).reshape(batch, steps, -1)
        core["msg_in"] += by_core
        core["bits_in"] += HOST_PAYLOAD_BITS * by_core
        host_per_step += ev.reshape(batch, steps, -1).sum(axis=2, dtype=np.int64)
    graded_per_step = np.zeros(steps, dtype=np.int64)
    for p, lc in layers.items():
        lc.spikes = int(spikes[p].sum())
        if lc.graded:
            lc.graded_messages = lc.spikes
            graded_per_step += spikes[p].sum(axis=(0, 2), dtype=np.int64)
        if lc.kind == "input":
            continue
        a = active[p].reshape(batch * steps, -1)
        lc.updates_active = int(a.sum())
        lc.updates_idle = batch * steps * lc.neurons - lc.updates_active
        core_active += _by_core(a, placement.core_of[p], n_cores).reshape(batch, steps, n_cores)
        core["spikes"] += _by_core(spikes[p].reshape(batch * steps, -1), placement.core_of[p],
                                   n_cores).reshape(batch, steps, n_cores)
    return EventCounts(batch, steps, placement, layers, block_synops, core_synops, core_active, core_neurons,
                       block_graded, graded_per_step, core["graded"], core["spikes"], core["msg_out"],
                       core["msg_interchip"], core["msg_in"], core["bits_in"], host_per_step)


def _by_core(ev2d: np.ndarray, core_of: np.ndarray, n_cores: int, weight: np.ndarray | None = None) -> np.ndarray:
    """(rows, n_cores): Σ_j ev[:, j]·weight[j] over the neurons j placed on each core."""
    cores = np.asarray(core_of, dtype=np.int64)
    w = np.ones(cores.size) if weight is None else np.asarray(weight, dtype=np.float64)
    onehot_t = sp.csr_matrix((w, (cores, np.arange(cores.size))), shape=(n_cores, cores.size))
    return np.rint((onehot_t @ ev2d.T.astype(np.float64)).T).astype(np.int64)


def _core_messages(r: BlockRouting, s2d: np.ndarray, placement: Placement, bits: int,
                   core: dict[str, np.ndarray], host_per_step: np.ndarray) -> None:
    """Per-core messages of one block: received by each destination core (one per sending neuron
    with a non-zero target there), sent by each source core, and of those the ones across chips."""
    n_cores = placement.n_cores
    shape = core["msg_in"].shape
    msgs = sp.csr_matrix((r.fanout_by_core > 0).astype(np.float64))  # (n_in, n_cores)
    got = np.rint((msgs.T @ s2d.T.astype(np.float64)).T).astype(np.int64).reshape(shape)
    core["msg_in"] += got
    if bits:
        core["bits_in"] += bits * got
    if r.pre in placement.core_of:
        sent = r.route_core + r.route_chip + r.route_interchip
        core["msg_out"] += _by_core(s2d, placement.core_of[r.pre], n_cores, sent).reshape(shape)
        if r.route_interchip.any():
            core["msg_interchip"] += _by_core(s2d, placement.core_of[r.pre], n_cores,
                                              r.route_interchip).reshape(shape)
    else:
        host_per_step += got.sum(axis=2)

"""Traces of every population, float and fixed point, aligned on the float model's time line.

:func:`float_traces` records the float reference's spikes z and membrane v of every neuron
population (and the value of every Output) per step.  :func:`chip_traces` runs a compiled
program's Loihi-dialect graph on the emulator's own loop (:func:`snnc.backends.emulator.run`
with an :class:`~snnc.backends.emulator.engine.Observer`) and records, besides spikes and v
of *every* compartment, how often Lava's limited-width arithmetic changed a value on each
step, from the intermediates of each step (:class:`snnc.compiler.ir.arith.LifStep`)::

    u_wraps      u' = decay(u) + (a << 6) left (−2^23, 2^23]; Lava folds it by ∓2^24
    v_saturated  decay(v) + u + b left ±(2^23 − 1) and Lava's clip changed the outcome: below
                 −(2^23 − 1), or above it for a read-out (a spiking neuron above it fires and
                 resets either way, since vth·64 < 2^23)
    int32_wraps  a (sum of synapse buffers), a << 6 or decay(v) + u + b left the int32 range
    conv_wraps   a Conv block's sum left Lava's signed 24-bit output (signed_clamp)

The counts judge the int64 values before any wrap; in ``decay(v) + u + b`` the ``u`` is u'
after the ±2^24 fold alone (not after Lava's int32 wrap of u', which only differs once u'
left the int32 range).

A population at synaptic depth k (``start_step``) computes float step t at raw step t + k,
so chip traces are returned as ``raw[:, k : k + T]``.  The spikes and v are
``emulator.run``'s (the same loop; a test checks it).  It is the generic loop, for reports on
modest batches.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from snnc.backends.emulator.engine import NAME as EMULATOR
from snnc.backends.emulator.engine import Observer
from snnc.backends.registry import get_backend
from snnc.backends.wiring import check_input, refuse_sigma_delta, wiring
from snnc.backends.reference import observe_states, simulate
from snnc.compiler.discretize import Convention, coefficients
from snnc.compiler.ir import arith, loihi, ops
from snnc.compiler.ir.arith import CONV_BITS, INT32_MAX, INT32_MIN, MAX_UV, NUMPY, V_LIMIT
from snnc.compiler.ir.graph import Graph

INT32 = INT32_MAX + 1
COUNTERS = ("u_wraps", "v_saturated", "int32_wraps", "conv_wraps")


@dataclasses.dataclass
class Trace:
    """One population over (batch, T, n): spikes (None for read-outs) and membrane v.

    Float traces hold v in float units; chip traces hold the raw integer v (int64) and the
    overflow counters (per float step, summed over batch and neurons).
    """

    spikes: np.ndarray | None
    v: np.ndarray
    counters: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def float_traces(graph: Graph, x: Any, convention: Convention) -> dict[str, Trace]:
    """Spikes and v of every neuron population of the float ``graph``, and every Output's value."""
    pops = graph.of_kind(ops.NeuronOp)
    zs: dict[str, list] = {n: [] for n in pops}
    vs: dict[str, list] = {n: [] for n in pops}

    def observer(t: int, neurons: dict[str, Any]) -> None:
        for n, state in neurons.items():
            vs[n].append(np.array(state.v, dtype=np.float64))
            if state.z is not None:
                zs[n].append(np.asarray(state.z, dtype=bool).copy())

    observe_states(graph, x, convention, observer)
    out = {n: Trace(np.stack(zs[n], 1) if zs[n] else None, np.stack(vs[n], 1)) for n in pops}
    outputs = graph.of_kind(ops.Output)
    if outputs:
        vals = simulate(
            graph, x, dt=convention.dt, integration=convention.integration, spike_if=convention.spike_if,
            synapse_input=convention.synapse_input, reset=convention.reset, record=outputs,
        )
        vals = vals if isinstance(vals, dict) else {outputs[0]: vals}
        for o, a in vals.items():
            out[o] = Trace(None, a.reshape(a.shape[0], a.shape[1], -1))
    return out


def chip_traces(graph: Graph, x: Any, steps: int, teacher: dict[str, np.ndarray] | None = None) -> dict[str, Trace]:
    """Run the Loihi-dialect ``graph`` for ``steps`` float steps (+ each layer's latency).

    Returns, per compartment, spikes (bool), raw v (int64) and the overflow counters, all
    aligned to the float time line (``raw[:, k : k + steps]``, k = ``start_step``).
    ``teacher`` (compartment -> float spikes (batch, steps, n)) makes every synapse block
    read those spikes instead of its source compartment's (teacher forcing): each layer then
    sees exactly the float model's input, and its error is its own.
    """
    w = wiring(graph)
    if w.sigma_deltas:  # its observer reads LIF steps (u, v, overflow counters)
        refuse_sigma_delta(graph, "the per-layer error report (chip traces)",
                           hint="compare the outputs of Program.run with the float model instead")
    depth = {c: int(graph[c].start_step) for c in w.compartments}
    raw_steps = steps + max(depth.values(), default=0)
    xv = check_input(graph, x, raw_steps, w)  # the run takes it as it is
    obs = _Traces(graph, w, xv.batch, raw_steps, steps, depth, teacher)
    get_backend(EMULATOR).run(graph, xv, raw_steps, record=[], observer=obs)
    return {
        c: Trace(
            obs.spikes[c][:, depth[c] : depth[c] + steps],
            obs.v[c][:, depth[c] : depth[c] + steps],
            {k: a[depth[c] : depth[c] + steps] for k, a in obs.counts[c].items()},
        )
        for c in w.compartments
    }


class _Traces(Observer):
    """Records spikes and v of every compartment, counts overflows, forces teachers' spikes."""

    def __init__(self, graph: Graph, w, batch: int, raw_steps: int, steps: int, depth: dict,
                 teacher: dict | None):
        self.w, self.raw_steps, self.steps, self.depth = w, raw_steps, steps, depth
        self.teacher = teacher or {}
        self.readout = {c: graph[c].readout == "v" for c in w.compartments}
        self.conv = {s for s in w.synapses if isinstance(graph[s], loihi.ConvSynapse)}
        size = {c: graph[c].size for c in w.compartments}
        self.spikes = {c: np.zeros((batch, raw_steps, size[c]), dtype=bool) for c in size}
        self.v = {c: np.zeros((batch, raw_steps, size[c]), dtype=np.int64) for c in size}
        self.counts = {c: {k: np.zeros(raw_steps, dtype=np.int64) for k in COUNTERS} for c in size}
        self.lo = self.hi = 0

    def span(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def compartment(self, name: str, t: int, a_sum, a, step: arith.LifStep) -> None:
        self.spikes[name][self.lo : self.hi, t] = step.s
        self.v[name][self.lo : self.hi, t] = step.v
        counts = self.counts[name]
        if len(self.w.comp_in[name]) > 1:  # Lava adds the input ports in int32
            counts["int32_wraps"][t] += int(np.count_nonzero(np.abs(a_sum) >= INT32))
        u_raw, v_raw = step.u_raw, step.v_raw
        if np.any((u_raw > INT32_MAX) | (u_raw < INT32_MIN)):
            # the counts read decay(v) + fold(u') + b with u' unwrapped (module docstring)
            v_raw = v_raw + (arith.wrap_uv(NUMPY, u_raw) - step.u)
        counts["u_wraps"][t] += int(np.count_nonzero((u_raw > MAX_UV) | (u_raw <= -MAX_UV)))
        wide = (np.abs(a) >= INT32) | (np.abs(step.a_shift) >= INT32) | (np.abs(v_raw) >= INT32)
        counts["int32_wraps"][t] += int(np.count_nonzero(wide))
        # above +V_LIMIT a spiking neuron fires and resets either way (vth·64 < 2^23): harmless
        low = v_raw < -V_LIMIT
        sat = low | (v_raw > V_LIMIT) if self.readout[name] else low
        counts["v_saturated"][t] += int(np.count_nonzero(sat))

    def synapse_input(self, name: str, t: int, spikes):
        src = self.w.syn_src[name]
        if src not in self.teacher:
            return None
        tf = t - self.depth[src]
        if 0 <= tf < self.steps:
            return self.teacher[src][self.lo : self.hi, tf]
        return np.zeros_like(spikes)

    def synapse_sums(self, name: str, t: int, sums) -> None:
        if name not in self.conv:
            return
        half = 1 << (CONV_BITS - 1)
        n = int(np.count_nonzero((sums < -half) | (sums >= half)))
        for c in self.w.syn_dst[name]:
            self.counts[c]["conv_wraps"][min(t + 1, self.raw_steps - 1)] += n


def chip_v_in_float_units(comp: loihi.Compartment, node: ops.Node | None, v: np.ndarray, convention) -> np.ndarray:
    """Raw chip v (batch, T, n) → the float model's v: ``v / (64·S) · k + v_reset``.

    ``k = (θ_i − v_reset_i) / max(θ − v_reset)`` undoes the per-neuron threshold fold
    (decision 0003 §6); ``v_offset`` holds the reset shift.
    """
    out = v.astype(np.float64) / comp.v_scale
    if isinstance(node, ops.NeuronOp) and node.spiking:
        c = coefficients(node, convention)
        if c.v_threshold is not None:
            n = out.shape[-1]
            theta = np.broadcast_to(np.asarray(c.v_threshold, dtype=np.float64).reshape(-1), (n,))
            reset = np.zeros(n) if c.v_reset is None else np.broadcast_to(np.asarray(c.v_reset, dtype=np.float64).reshape(-1), (n,))
            tp = theta - reset
            out = out * (tp / tp.max()) + reset
            return out
    if comp.v_offset is not None:
        out = out + np.asarray(comp.v_offset, dtype=np.float64).reshape(-1)
    return out

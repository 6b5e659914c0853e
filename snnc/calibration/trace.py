"""Traces of every population, float and fixed point, aligned on the float model's time line.

:func:`float_traces` records the float reference's spikes z and membrane v of every neuron
population (and the value of every Output) per step.  :func:`chip_traces` runs a compiled
program's Loihi-dialect graph with the emulator's own per-step state objects
(:class:`~snnc.backends.emulator.compartment.CompartmentState`, Lava's order of operations)
and records, besides spikes and v of *every* compartment, how often Lava's limited-width
arithmetic changed a value on each step::

    u_wraps      u' = decay(u) + (a << 6) left (−2^23, 2^23]; Lava folds it by ∓2^24
    v_saturated  decay(v) + u + b left ±(2^23 − 1) and Lava's clip changed the outcome: below
                 −(2^23 − 1), or above it for a read-out (a spiking neuron above it fires and
                 resets either way, since vth·64 < 2^23)
    int32_wraps  a (sum of synapse buffers), a << 6 or decay(v) + u + b left the int32 range
    conv_wraps   a Conv block's sum left Lava's signed 24-bit output (signed_clamp)

A population at synaptic depth k (``start_step``) computes float step t at raw step t + k,
so chip traces are returned as ``raw[:, k : k + T]``.  The spikes equal ``emulator.run``'s
(a test checks it); this loop is the slow generic one, for reports on modest batches.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from snnc.backends.emulator.compartment import MAX_UV, V_LIMIT, CompartmentState, decay
from snnc.backends.emulator.synapse import CONV_BITS, ConvSynapseState, synapse_state, wrap32
from snnc.backends.emulator.wiring import check_input, wiring
from snnc.backends.reference import observe_states, simulate
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph

INT32 = 1 << 31
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
    depth = {c: int(graph[c].start_step) for c in w.compartments}
    raw_steps = steps + max(depth.values(), default=0)
    xs = check_input(graph, w, x, raw_steps)
    batch = xs.shape[0]
    comps = {c: CompartmentState(graph[c], batch) for c in w.compartments}
    for c, state in comps.items():
        state.readout = graph[c].readout == "v"
    syns = {s: synapse_state(graph[s], batch) for s in w.synapses}
    spikes = {c: np.zeros((batch, raw_steps, comps[c].n), dtype=bool) for c in comps}
    v = {c: np.zeros((batch, raw_steps, comps[c].n), dtype=np.int64) for c in comps}
    counts = {c: {k: np.zeros(raw_steps, dtype=np.int64) for k in COUNTERS} for c in comps}
    current: dict[str, np.ndarray] = {}
    for t in range(raw_steps):
        for c, state in comps.items():
            a = sum((syns[s].output() for s in w.comp_in[c]), np.zeros((batch, state.n), dtype=np.int64))
            if len(w.comp_in[c]) > 1:  # Lava adds the input ports in int32
                counts[c]["int32_wraps"][t] += int(np.count_nonzero(np.abs(a) >= INT32))
                a = wrap32(a)
            _count_overflow(state, a, t, counts[c])
            current[c] = state.step(a, t)
            spikes[c][:, t] = current[c]
            v[c][:, t] = state.v
        for s, state in syns.items():
            src = w.syn_src[s]
            s_in = xs[:, t] if src == w.source else current[src]
            if teacher is not None and src in teacher:
                tf = t - depth[src]
                s_in = teacher[src][:, tf] if 0 <= tf < steps else np.zeros_like(s_in)
            if isinstance(state, ConvSynapseState):
                acc = np.asarray(state.matrix @ np.asarray(s_in, dtype=bool).astype(np.float64).T).T
                half = 1 << (CONV_BITS - 1)
                for c in w.syn_dst[s]:
                    counts[c]["conv_wraps"][min(t + 1, raw_steps - 1)] += int(np.count_nonzero((acc < -half) | (acc >= half)))
            state.update(s_in)
    return {
        c: Trace(
            spikes[c][:, depth[c] : depth[c] + steps],
            v[c][:, depth[c] : depth[c] + steps],
            {k: a[depth[c] : depth[c] + steps] for k, a in counts[c].items()},
        )
        for c in comps
    }


def _count_overflow(state: CompartmentState, a: np.ndarray, t: int, counts: dict[str, np.ndarray]) -> None:
    """Count, before ``state.step(a, t)``, the values Lava's limited widths will change."""
    u0, v0 = (state.u_init, state.v_init) if (t == state.start_step and t > 0) else (state.u, state.v)
    du = decay(np.broadcast_to(u0, a.shape), state.du_factor)
    u = du + np.left_shift(a, 6)
    wide = (np.abs(a) >= INT32) | (np.abs(np.left_shift(a, 6)) >= INT32)
    counts["u_wraps"][t] += int(np.count_nonzero((u > MAX_UV) | (u <= -MAX_UV)))
    u = np.where(u > MAX_UV, u - 2 * MAX_UV, np.where(u <= -MAX_UV, u + 2 * MAX_UV, u))
    vv = decay(np.broadcast_to(v0, a.shape), state.dv_factor) + u + (state.bias if t >= state.start_step else 0)
    wide |= np.abs(vv) >= INT32
    counts["int32_wraps"][t] += int(np.count_nonzero(wide))
    # above +V_LIMIT a spiking neuron fires and resets either way (vth·64 < 2^23): harmless
    low = vv < -V_LIMIT
    counts["v_saturated"][t] += int(np.count_nonzero(low | (vv > V_LIMIT) if state.readout else low))


def chip_v_in_float_units(comp: loihi.Compartment, node: ops.Node | None, v: np.ndarray, convention) -> np.ndarray:
    """Raw chip v (batch, T, n) → the float model's v: ``v / (64·S) · k + v_reset``.

    ``k = (θ_i − v_reset_i) / max(θ − v_reset)`` undoes the per-neuron threshold fold
    (decision 0003 §6); ``v_offset`` holds the reset shift.
    """
    out = v.astype(np.float64) / comp.v_scale
    if isinstance(node, ops.NeuronOp) and node.spiking:
        from snnc.compiler.discretize import coefficients

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

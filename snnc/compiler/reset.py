"""Reset by subtraction (v ← v − θ after a spike), built from Lava's LIF registers.

NIR only knows reset to a value (``v ← v_reset``); snnTorch, Sinabs and Rockpool subtract the
threshold by default, so :class:`~snnc.compiler.discretize.Convention` has ``reset="subtract"``
and :func:`snnc.simulate` runs it directly.  Lava's LIF (and Loihi's compartment) cannot: it
zeroes v on a spike.  It never touches the current u, though, so the integrator moves into u and
v becomes a copy of it, with a self-inhibiting synapse:

    original (IF: α = 1;  LIF: α = α_v of the convention, g = its input gain)
        v[t] = α·(v[t−1] − θ·z[t−1]) + g·x[t]             z[t] = v[t] > θ (or ≥)
    rebuilt
        I[t] = α_I·I[t−1] + g·(x[t] − (α·θ/g)·z[t−1])      α_I = α (LIF) or e^(−1/4096) / 1 − 1/4096 (IF)
        v[t] = I[t]                                        α_v ≈ 0: τ_mem = dt (Euler), dt/40 (exact)

so I[t] is the original v[t] before its reset, spike for spike.  The subtraction arrives one
step late through the back edge, exactly as Lava's recurrent Dense delivers it, and Lava's zeroing
of v is harmless because v is rebuilt from I each step.  An IF's integrator gets a leak of
1/4096 per step (τ_syn = 4096·dt), the only approximation.

The rebuilt op is a ``CubaLIF`` plus a ``Scale(−α·θ/g)`` back edge; its input gain equals g
under either ``synapse_input``.  A CubaLIF (I and v both carry state) cannot be rebuilt this way:
there is no third state variable.  Neither can an LIF with a leak towards v_leak ≠ 0 (the
constant drive would enter I, which has no bias): both are refused with the layer named.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler import discretize
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.arith import DECAY_UNITY
from snnc.compiler.ir.graph import Graph
from snnc.errors import ValidationError

#: τ_syn of an IF's rebuilt integrator, in steps (the float model's stand-in for Lava's du = 0:
#: one 12-bit decay LSB per step)
IF_TAU_STEPS = float(DECAY_UNITY)
#: τ_mem of the copy compartment under exact integration, in steps (e^−40 ≈ 4e−18)
COPY_TAU_STEPS_EXACT = 1.0 / 40.0


def _refuse(name: str, why: str) -> ValidationError:
    return ValidationError(
        f"reset='subtract' cannot be built from Lava's LIF registers here: {why}",
        node=name,
        hint="compile with --reset value (Lava's reset to v_reset; spikes then differ from the "
        "exporter's own simulation), or use IF/LIF neurons without synaptic current for this layer",
    )


def subtractive(graph: Graph, conv: Convention) -> Graph:
    """Every IF and LIF of ``graph`` rebuilt as a reset-by-subtraction neuron (module docstring).

    The result, run with reset to value, equals ``graph`` run with ``reset="subtract"``.
    """
    dt = conv.dt
    tau_mem = dt if conv.integration == "euler" else dt * COPY_TAU_STEPS_EXACT
    alpha_copy = float(discretize.decay(np.float64(tau_mem), conv, "tau_mem", None))  # 0 or e^−40
    nodes = dict(graph.nodes)
    edges = list(graph.edges)
    for name in graph.of_kind(ops.CubaLIF):
        if graph[name].meta.get("reset") != "subtract":  # already rebuilt ones carry the mark
            raise _refuse(graph[name].source or name, "a CubaLIF keeps both I and v between steps")
    for name in graph.of_kind(ops.IF, ops.LIF):
        node = graph[name]
        layer = node.source or name
        c = discretize.coefficients(node, conv)
        if np.any(c.b_v != 0):
            raise _refuse(layer, "its leak towards v_leak ≠ 0 would need a bias on the current")
        gain = np.asarray(c.g_v, dtype=np.float64)
        if np.any(gain == 0):
            raise _refuse(layer, "an input gain of 0 (r = 0)")
        ones = np.ones(node.shape)
        if isinstance(node, ops.IF):  # the original has no leak; the integrator gets the least one
            tau_syn, leak = ones * IF_TAU_STEPS * dt, ones
            alpha_i = discretize.decay(tau_syn, conv, "tau_syn", layer)
        else:  # the integrator leaks as the membrane did
            tau_syn = np.broadcast_to(np.asarray(node.tau, dtype=np.float64), node.shape).copy()
            leak = alpha_i = np.asarray(c.alpha_v, dtype=np.float64)
        w_in = gain / (1.0 - alpha_i) if conv.synapse_input == "ode" else gain
        theta = np.broadcast_to(np.asarray(node.v_threshold, dtype=np.float64), node.shape)
        nodes[name] = ops.CubaLIF(
            tau_syn=tau_syn, tau_mem=ones * tau_mem, r=ones / (1.0 - alpha_copy), v_leak=0 * ones,
            v_threshold=theta.copy(), v_reset=0 * ones, w_in=w_in,
            meta={**dict(node.meta), "reset": "subtract"},
        )
        loop = f"{name}:reset"
        nodes[loop] = ops.Scale(scale=-leak * theta / gain, meta={"source": f"{layer} (reset by subtraction)"})
        edges += [(name, loop), (loop, name)]
    return graph.with_changes(nodes=nodes, edges=edges)

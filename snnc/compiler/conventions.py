"""Exporter presets: the discretization under which a NIR file reproduces its exporter's own
simulation, and detection (and, where the file allows it, repair) of known exporter bugs.

NIR carries no time step, integration scheme or reset mode (docs/interop.md,
shared/reference/nir.md §5).  Measured per exporter against its own simulator (tests in
tests/unit/test_frontend_torch.py and tests/integration/test_nir_exporters.py):

============  ====================  ===========  ========  =============  ========  ==========================
exporter      dt                    integration  spike_if  synapse_input  reset     exact when
============  ====================  ===========  ========  =============  ========  ==========================
snntorch      1e-4 (hard-coded)     euler        ``>``     ode            value     reset "zero", reset_delay
                                                                                    False (``subtract``: with
                                                                                    reset="subtract")
norse         dt_export² (1e-6 at   euler        ``>``     jump           value     always (its tau = dt/tau_inv
              its default 1e-3)                                                     bug, norse #411)
sinabs        1 (τ in steps)        exact        ``>=``    ode            subtract  SingleSpike (MultiSpike has no
                                                                                    NIR form); MembraneReset:
                                                                                    reset="value"
rockpool      1e-3 (its default)    exact        ``>=``    jump           subtract  max_spikes_per_dt=1, bias 0
                                                                                    (its exporter drops biases);
                                                                                    r repaired (below)
============  ====================  ===========  ========  =============  ========  ==========================

:func:`exporter_quirks` recognises three signatures and returns one note per layer (also
logged with ``logging.warning``): Norse 1.1.0's τ = dt/tau_inv (r = 1, v_leak = 0 and
dt/τ > 1 under Euler), snnTorch's w_in = τ_syn/dt written for another dt than the one
compiled with, and Rockpool 3.1.0's r = τ_mem·e^(−dt/τ_mem)/dt.  Rockpool's own update adds
its (already decayed) current to v with gain 1 (``v ← α·v + I``, ``I ← β·(I + x)``), which no
reading of that r reproduces; :func:`repair_exporter_bugs` rewrites r so that the discrete
membrane gain is β (the factor Rockpool's current carries) under the compile convention.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.errors import ValidationError

log = logging.getLogger(__name__)

#: Norse's default time step (norse.torch.functional.lif: dt = 0.001)
NORSE_DEFAULT_DT = 1e-3
#: Rockpool's default time step (rockpool.nn.modules.torch.lif_torch: dt = 1e-3)
ROCKPOOL_DEFAULT_DT = 1e-3

PRESETS: dict[str, dict[str, Any]] = {
    "snntorch": {"dt": 1e-4, "integration": "euler", "spike_if": ">", "synapse_input": "ode", "reset": "value"},
    "norse": {"dt": NORSE_DEFAULT_DT**2, "integration": "euler", "spike_if": ">", "synapse_input": "jump",
              "reset": "value"},
    "sinabs": {"dt": 1.0, "integration": "exact", "spike_if": ">=", "synapse_input": "ode", "reset": "subtract"},
    "rockpool": {"dt": ROCKPOOL_DEFAULT_DT, "integration": "exact", "spike_if": ">=", "synapse_input": "jump",
                 "reset": "subtract"},
}


def preset(name: str, export_dt: float | None = None) -> Convention:
    """The :class:`Convention` that reproduces exporter ``name``; ``export_dt`` is the dt the
    model was simulated with when exported (Norse: the preset reads the graph at dt²)."""
    key = str(name).lower()
    if key not in PRESETS:
        raise ValidationError(f"unknown exporter preset {name!r}", hint=f"use one of: {', '.join(PRESETS)}")
    flags = dict(PRESETS[key])
    if export_dt is not None:
        flags["dt"] = export_dt**2 if key == "norse" else export_dt
    return Convention(**flags)


def apply_preset(args: Any, name: str | None) -> None:
    """CLI ``--from NAME``: fill ``args.dt`` etc. that were not given (None) from the preset,
    then from :class:`Convention`'s defaults; flags given on the command line always win."""
    default = Convention()
    for field in dataclasses.fields(Convention):
        if getattr(args, field.name) is None:
            value = PRESETS[name][field.name] if name is not None else getattr(default, field.name)
            setattr(args, field.name, value)


def _all(a: Any, value: float) -> bool:
    return bool(np.all(np.asarray(a, dtype=np.float64) == value))


def exporter_quirks(graph, conv: Convention) -> dict[str, list[str]]:
    """Notes per layer on known exporter bugs seen in ``graph`` under ``conv``; each is logged."""
    notes: dict[str, list[str]] = {}
    for name, node in getattr(graph, "nodes", {}).items():
        layer = node.source or name
        if isinstance(node, (ops.LIF, ops.CubaLIF)):
            tau = np.asarray(node.tau if isinstance(node, ops.LIF) else node.tau_mem, dtype=np.float64)
            ratio = float(conv.dt / tau.min()) if tau.size and tau.min() > 0 else 0.0
            if conv.integration == "euler" and ratio > 1 and _all(node.r, 1.0) and _all(node.v_leak, 0.0):
                true_dt = float(np.sqrt(conv.dt)) if conv.dt < 1 else conv.dt
                notes.setdefault(layer, []).append(
                    f"tau={float(tau.min()):.3g} with r=1 gives dt/tau={ratio:.3g} > 1: the signature of "
                    "Norse 1.1.0's exporter, which writes tau = dt/tau_inv (norse #411); the graph "
                    f"reproduces Norse at dt = dt_export^2 (e.g. {NORSE_DEFAULT_DT**2:g} for Norse's default "
                    f"dt {NORSE_DEFAULT_DT:g}; here dt_export would be {true_dt:g}): use convention='norse' / --from norse"
                )
        if isinstance(node, ops.CubaLIF):
            w_in = np.asarray(node.w_in, dtype=np.float64)
            tau_syn = np.broadcast_to(np.asarray(node.tau_syn, dtype=np.float64), w_in.shape)
            if w_in.size and np.all(w_in > 1) and conv.synapse_input == "ode":
                implied = tau_syn / w_in
                dt_w = float(implied.flat[0])
                if np.allclose(implied, dt_w, rtol=1e-6) and not np.isclose(dt_w, conv.dt, rtol=1e-6):
                    notes.setdefault(layer, []).append(
                        f"w_in = tau_syn/dt holds for dt={dt_w:g} (snnTorch's exporter writes w_in = "
                        f"tau_syn/dt), but the model is compiled with dt={conv.dt:g}: pass --dt {dt_w:g}"
                    )
        if isinstance(node, (ops.LIF, ops.CubaLIF)) and _rockpool_r(node, conv.dt) is not None:
            fix = ("repaired: r set so that the membrane gain is Rockpool's" if conv.integration == "exact"
                   else "it is only repaired under --integration exact: use --from rockpool")
            notes.setdefault(layer, []).append(
                f"r = tau_mem*exp(-dt/tau_mem)/dt at dt={conv.dt:g}: the signature of Rockpool 3.1.0's "
                f"exporter, whose own update adds the current to v with gain 1; {fix}"
            )
    for layer, msgs in notes.items():
        for m in msgs:
            log.warning("layer '%s': %s", layer, m)
    return notes


def _rockpool_r(node, dt: float) -> np.ndarray | None:
    """α_v = e^(−dt/τ_mem) when ``node`` carries Rockpool's r = τ_mem·α_v/dt (and v_leak = 0,
    w_in = 1), else None."""
    tau = np.asarray(node.tau if isinstance(node, ops.LIF) else node.tau_mem, dtype=np.float64)
    if not tau.size or np.any(tau <= 0) or not _all(node.v_leak, 0.0):
        return None
    if isinstance(node, ops.CubaLIF) and not _all(node.w_in, 1.0):
        return None
    alpha = np.exp(-dt / tau)
    r = np.asarray(node.r, dtype=np.float64)
    return alpha if np.allclose(r, tau * alpha / dt, rtol=1e-5, atol=0.0) else None


def repair_rockpool(graph, conv: Convention):
    """``(graph, layers)``: ``graph`` with Rockpool's r rewritten (under exact integration), and
    the layers rewritten.

    Rockpool: ``I ← β·(I + x)``, ``v ← α·v + I``.  snnc's jump reading has I' = I/β, so the
    membrane gain r·(1 − α) must be β; under the ODE reading the input gain is (1 − β), so
    r·(1 − α)·(1 − β) = β.  Rockpool's ``LIFNeuronTorch`` (→ LIF) has ``v ← α·v + x``: r·(1 − α) = 1.
    """
    if conv.integration != "exact":
        return graph, []
    nodes = dict(getattr(graph, "nodes", {}))
    fixed = []
    for name, node in nodes.items():
        alpha = _rockpool_r(node, conv.dt) if isinstance(node, (ops.LIF, ops.CubaLIF)) else None
        if alpha is None:
            continue
        if isinstance(node, ops.LIF):
            nodes[name] = node.replace(r=1.0 / (1.0 - alpha))
        else:
            beta = np.exp(-conv.dt / np.asarray(node.tau_syn, dtype=np.float64))
            input_gain = (1.0 - beta) if conv.synapse_input == "ode" else 1.0
            nodes[name] = node.replace(r=beta / ((1.0 - alpha) * input_gain))
        fixed.append(node.source or name)
    return (graph.with_changes(nodes=nodes) if fixed else graph), fixed


# ------------------------------------------------------------------ snnTorch's reset timing
#: where snnTorch 1.0.0's RSynaptic drops its immediate reset (the reset is written into the local
#: argument ``mem``, never into ``self.mem``; snnTorch fixed the same bug in Synaptic, PR #363)
RSYNAPTIC_BUG = "snntorch/_neurons/rsynaptic.py:366-375"
#: where snnTorch's Leaky/Synaptic judge the reset on the stored, already reset membrane
SNNTORCH_RESET_LINES = "snntorch/_neurons/leaky.py:209-227, synaptic.py:235-256"
#: measured agreement of compiled RSynaptic programs with snnTorch (docs/interop.md)
RSYNAPTIC_AGREEMENT = ("measured on 12 RSynaptic networks with reset to zero, trained and untrained: 62-89 % "
                       "of hidden and 64-94 % of output spikes equal")
#: the node ``meta`` key the float reference reads (:mod:`snnc.backends.reference`)
SNNTORCH_RESET = "snntorch_reset"
#: RSynaptic: r[t] = z[t−1] (the previous step's spike, on the un-reset membrane) is applied to the
#: new membrane -- zero: v[t] = v_reset where r[t]; subtract: v[t] −= r[t]·θ -- and v is not reset
#: on the spike step itself
DELAYED = "delayed"
#: Leaky/Synaptic with reset_delay=False and reset by subtraction: r = H(v_stored − θ) on the stored
#: (already subtracted) membrane, z judged on v − r·θ, then v ← base − z·θ
SUBTRACT_JUDGED_AFTER_RESET = "subtract-judged-after-reset"


def _close(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(a.size) and bool(np.allclose(a, b, rtol=1e-6, atol=0.0))


def snntorch_signature(node, conv: Convention) -> bool:
    """Whether ``node`` carries snnTorch's export at ``conv.dt`` and ``conv`` reads it as snnTorch
    runs (forward Euler, ``v > θ``, NIR's ODE input): LIF with R = τ/dt; CubaLIF (Synaptic) with
    also w_in = τ_syn/dt; v_leak = 0.  A node rebuilt for reset by subtraction never matches."""
    if conv.integration != "euler" or conv.spike_if != ">" or node.meta.get("reset") == "subtract":
        return False
    if isinstance(node, ops.LIF):
        return _all(node.v_leak, 0.0) and _close(node.r, np.asarray(node.tau, dtype=np.float64) / conv.dt)
    if isinstance(node, ops.CubaLIF):
        return (conv.synapse_input == "ode" and _all(node.v_leak, 0.0)
                and _close(node.r, np.asarray(node.tau_mem, dtype=np.float64) / conv.dt)
                and _close(node.w_in, np.asarray(node.tau_syn, dtype=np.float64) / conv.dt))
    return False


def rsynaptic_layers(graph, conv: Convention) -> list[str]:
    """CubaLIF nodes that carry snnTorch's RSynaptic export: the Synaptic signature
    (:func:`snntorch_signature`) closed on itself through one linear node fed only by the CubaLIF
    (nirtorch names them ``<m>.lif`` / ``<m>.w_rec``: an Affine, or a diagonal Linear for
    ``all_to_all=False``)."""
    found = []
    for name in graph.of_kind(ops.CubaLIF):
        if not snntorch_signature(graph[name], conv):
            continue
        for p in graph.predecessors(name):
            if isinstance(graph[p], ops.LinearOp) and graph.predecessors(p) == [name]:
                found.append(name)
                break
    return found


def mark_snntorch_resets(graph, conv: Convention):
    """``(graph, notes)``: ``graph`` with snnTorch's reset timing marked on the layers that have it
    (``meta[SNNTORCH_RESET]``, read by the float reference), and one note per marked layer.

    * RSynaptic (:func:`rsynaptic_layers`): snnTorch 1.0.0 always resets one step late
      (:data:`DELAYED`), whatever ``reset_delay`` says -- a bug in :data:`RSYNAPTIC_BUG` that NIR
      cannot express (a delayed reset to zero is a one-step refractory gate).  Logged as a warning.
    * under ``reset="subtract"``, every other snnTorch LIF/CubaLIF
      (:data:`SUBTRACT_JUDGED_AFTER_RESET`): snnTorch judges the spike after subtracting once more
      while the stored membrane is still above θ (it only matters there).
    """
    nodes = dict(getattr(graph, "nodes", {}))
    notes: dict[str, list[str]] = {}
    delayed = set(rsynaptic_layers(graph, conv))
    for name in delayed:
        layer = graph[name].source or name
        nodes[name] = graph[name].replace(meta={**graph[name].meta, SNNTORCH_RESET: DELAYED})
        reset = "subtracts the threshold" if conv.reset == "subtract" else "zeroes the membrane"
        msg = (f"snnTorch RSynaptic signature (a Synaptic CubaLIF closed on itself through one linear node): "
               f"snnTorch 1.0.0 resets it one step late whatever reset_delay says (a bug in {RSYNAPTIC_BUG}: "
               f"the immediate reset is written into a local and dropped), so it {reset} on the step after a "
               "spike, which NIR cannot express; the float reference simulates snnTorch's delayed reset. "
               "Lava's LIF resets on the spike step and has no refractory period, so a compiled program "
               f"resets there instead: spikes differ from snnTorch ({RSYNAPTIC_AGREEMENT}; docs/interop.md)")
        notes.setdefault(layer, []).append(msg)
        log.warning("layer '%s': %s", layer, msg)
    if conv.reset == "subtract":
        for name, node in graph.nodes.items():
            if name in delayed or not isinstance(node, (ops.LIF, ops.CubaLIF)) or not snntorch_signature(node, conv):
                continue
            nodes[name] = node.replace(meta={**node.meta, SNNTORCH_RESET: SUBTRACT_JUDGED_AFTER_RESET})
            notes.setdefault(node.source or name, []).append(
                "snnTorch's subtractive reset (reset_delay=False) judges the spike on the membrane after "
                f"subtracting again while the stored membrane is above the threshold ({SNNTORCH_RESET_LINES}); "
                "the float reference does so too, the chip's rebuilt reset does not (they differ only there)")
    if not notes:
        return graph, notes
    return graph.with_changes(nodes=nodes), notes


def repair_exporter_bugs(graph, conv: Convention):
    """``(graph, notes)``: :func:`exporter_quirks`' notes (logged), and ``graph`` with the bugs
    that the file itself pins down repaired (:func:`repair_rockpool`) or marked for the float
    reference (:func:`mark_snntorch_resets`)."""
    notes = exporter_quirks(graph, conv)
    graph, _ = repair_rockpool(graph, conv)
    graph, marked = mark_snntorch_resets(graph, conv)
    for layer, msgs in marked.items():
        notes.setdefault(layer, []).extend(msgs)
    return graph, notes

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


def repair_exporter_bugs(graph, conv: Convention):
    """``(graph, notes)``: :func:`exporter_quirks`' notes (logged), and ``graph`` with the bugs
    that the file itself pins down repaired (:func:`repair_rockpool`)."""
    notes = exporter_quirks(graph, conv)
    graph, _ = repair_rockpool(graph, conv)
    return graph, notes

"""Exporter presets: the discretization under which a NIR file reproduces its exporter's own
simulation, and detection of known exporter bugs.

NIR carries no time step or integration scheme (docs/interop.md, shared/reference/nir.md §5).
Measured per exporter (snntorch 1.0.0, norse 1.1.0, sinabs 3.1.3, rockpool 3.1.0):

============  =======================  ===========  ========  ==============  ======================
exporter      dt                       integration  spike_if  synapse_input   exact?
============  =======================  ===========  ========  ==============  ======================
snntorch      1e-4 (hard-coded)        euler        ``>``     ode             yes (reset_delay=False)
norse         dt_export² (1e-6 at its  euler        ``>``     jump            yes (its tau = dt/tau_inv
              default dt = 1e-3)                                              bug, norse #411)
sinabs        1 (τ in steps)           exact        ``>=``    ode             IF/LIF with SingleSpike,
                                                                              reset to zero
rockpool      1e-3 (its default dt)    exact        ``>=``    jump            approximate (subtractive
                                                                              reset; bias dropped)
============  =======================  ===========  ========  ==============  ======================

:func:`exporter_quirks` recognises two signatures and returns one note per layer (also
logged with ``logging.warning``): Norse 1.1.0's τ = dt/tau_inv (r = 1, v_leak = 0 and
dt/τ > 1 under Euler), and snnTorch's w_in = τ_syn/dt written for another dt than the one
compiled with.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.errors import ValidationError

log = logging.getLogger(__name__)

#: Norse's default time step (norse.torch.functional.lif: dt = 0.001)
NORSE_DEFAULT_DT = 1e-3

PRESETS: dict[str, dict[str, Any]] = {
    "snntorch": {"dt": 1e-4, "integration": "euler", "spike_if": ">", "synapse_input": "ode"},
    "norse": {"dt": NORSE_DEFAULT_DT**2, "integration": "euler", "spike_if": ">", "synapse_input": "jump"},
    "sinabs": {"dt": 1.0, "integration": "exact", "spike_if": ">=", "synapse_input": "ode"},
    "rockpool": {"dt": 1e-3, "integration": "exact", "spike_if": ">=", "synapse_input": "jump"},
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
    """CLI ``--from NAME``: set ``args.dt`` etc. from the preset where they are at their defaults."""
    if name is None:
        return
    default = Convention()
    for field, value in PRESETS[name].items():
        if getattr(args, field) == getattr(default, field):
            setattr(args, field, value)


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
    for layer, msgs in notes.items():
        for m in msgs:
            log.warning("layer '%s': %s", layer, m)
    return notes

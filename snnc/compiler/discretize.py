"""Discretization: from NIR's continuous-time neuron ODEs to one update per time step.

NIR carries no time step, so ``dt`` and the integration scheme are compile options
(:class:`Convention`).  Every neuron kind becomes the same two-stage CUBA update, in the order
Lava (and snnTorch) apply it -- current first, then voltage::

    I[t] = α_I ⊙ I[t−1] + g_in ⊙ x[t]            x: summed synaptic input of step t
    v[t] = α_v ⊙ v[t−1] + g_v ⊙ I[t] + b_v
    z[t] = v[t] > θ   (or ≥ θ, per ``spike_if``) ;   v[t] ← v_reset where z[t]
                                                   (or v[t] − θ, per ``reset="subtract"``)

Coefficients per neuron kind (Euler = forward Euler, exact = zero-order hold of each
first-order stage, applied in the order above):

=========  ======================  =====================  ===============  ===============
kind        α_I                     g_in                   α_v              g_v, b_v
=========  ======================  =====================  ===============  ===============
LIF         0                       1                      1 − dt/τ | e^(−dt/τ)   R·(1−α_v), v_leak·(1−α_v)
IF, I       0                       1                      1                R·dt, 0
LI          0                       1                      as LIF           as LIF
CubaLIF     1 − dt/τ_syn | e^…      see below              1 − dt/τ_mem | e^…     R·(1−α_v), v_leak·(1−α_v)
=========  ======================  =====================  ===============  ===============

CubaLIF's input gain depends on ``synapse_input``: ``"ode"`` reads NIR's equation
τ_syn·dI/dt = −I + w_in·S literally, so g_in = w_in·(1 − α_I); ``"jump"`` adds the input
to the current as a jump (Norse's reading), so g_in = w_in.  Under Euler, (1 − α_v) = dt/τ,
so for snnTorch's export (τ = dt/(1−β), R = τ/dt) the update is exactly v = β·v + I.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from snnc.compiler.ir import ops
from snnc.errors import ValidationError

INTEGRATIONS = ("euler", "exact")
SPIKE_IFS = (">", ">=")
SYNAPSE_INPUTS = ("ode", "jump")
RESETS = ("value", "subtract")


@dataclasses.dataclass(frozen=True)
class Convention:
    """How a NIR graph is read in discrete time.

    Defaults follow snnTorch's exporter and the NIR paper graphs: ``dt = 1e-4``, forward
    Euler, spike when ``v > θ``, CubaLIF input read as NIR's ODE, reset to NIR's ``v_reset``.
    ``reset="subtract"`` (v ← v − θ) is what snnTorch, Sinabs and Rockpool do by default and
    what NIR cannot say; on Loihi it is rebuilt from Lava's registers (:mod:`snnc.compiler.reset`).
    """

    dt: float = 1e-4
    integration: str = "euler"
    spike_if: str = ">"
    synapse_input: str = "ode"
    reset: str = "value"

    def __post_init__(self) -> None:
        if not (isinstance(self.dt, (int, float)) and math.isfinite(self.dt) and self.dt > 0):
            raise ValidationError(
                f"dt must be a positive finite number, got {self.dt!r}",
                hint="pass the time step the model was trained with, e.g. --dt 1e-4",
            )
        for value, allowed, name in (
            (self.integration, INTEGRATIONS, "integration"),
            (self.spike_if, SPIKE_IFS, "spike_if"),
            (self.synapse_input, SYNAPSE_INPUTS, "synapse_input"),
            (self.reset, RESETS, "reset"),
        ):
            if value not in allowed:
                raise ValidationError(
                    f"{name} must be one of {', '.join(allowed)}; got {value!r}",
                    hint=f"use --{name.replace('_', '-')} {allowed[0]}",
                )

    def describe(self) -> str:
        return (
            f"dt={self.dt:g}, integration={self.integration}, spike_if='{self.spike_if}', "
            f"synapse_input={self.synapse_input}, reset={self.reset}"
        )


@dataclasses.dataclass(frozen=True)
class StepCoefficients:
    """Per-neuron coefficients of the discrete update (arrays of the population's shape)."""

    alpha_i: np.ndarray
    g_in: np.ndarray
    alpha_v: np.ndarray
    g_v: np.ndarray
    b_v: np.ndarray
    v_threshold: np.ndarray | None  # None for read-outs (LI, I, CubaLI)
    v_reset: np.ndarray | None
    has_current: bool  # True when I carries state between steps (CubaLIF, CubaLI)


def decay(tau: np.ndarray, conv: Convention, name: str, node: str | None) -> np.ndarray:
    """α = 1 − dt/τ (Euler, refused when dt/τ > 1) or e^(−dt/τ) (exact), per element."""
    tau = np.asarray(tau, dtype=np.float64)
    if np.any(~np.isfinite(tau)) or np.any(tau <= 0):
        bad = tau[~(np.isfinite(tau) & (tau > 0))].flat[0]
        raise ValidationError(
            f"{name} must be positive and finite, got {bad!r}",
            node=node,
            hint="time constants are in the model's time unit and must be > 0",
        )
    ratio = conv.dt / tau
    if conv.integration == "exact":
        return np.exp(-ratio)
    if np.any(ratio > 1.0):
        worst = float(ratio.max())
        raise ValidationError(
            f"forward Euler is unstable here: dt/{name} = {worst:.3g} > 1 "
            f"(dt={conv.dt:g}, {name}={float(tau.min()):.3g})",
            node=node,
            hint="pass the dt the model was exported with (--dt), or use --integration exact",
        )
    return 1.0 - ratio


def coefficients(node: ops.NeuronOp, conv: Convention) -> StepCoefficients:
    """The discrete update coefficients of one neuron population; see the module docstring."""
    name = node.source
    shape = node.shape
    zeros = np.zeros(shape)
    ones = np.ones(shape)
    f64 = lambda a: np.broadcast_to(np.asarray(a, dtype=np.float64), shape)  # noqa: E731
    if isinstance(node, (ops.LIF, ops.LI)):
        alpha_v = decay(f64(node.tau), conv, "tau", name)
        gain = 1.0 - alpha_v
        thr = f64(node.v_threshold) if isinstance(node, ops.LIF) else None
        reset = f64(node.v_reset) if isinstance(node, ops.LIF) else None
        return StepCoefficients(
            zeros, ones, alpha_v, f64(node.r) * gain, f64(node.v_leak) * gain, thr, reset, False
        )
    if isinstance(node, (ops.IF, ops.I)):
        thr = f64(node.v_threshold) if isinstance(node, ops.IF) else None
        reset = f64(node.v_reset) if isinstance(node, ops.IF) else None
        return StepCoefficients(
            zeros, ones, ones.copy(), f64(node.r) * conv.dt, zeros.copy(), thr, reset, False
        )
    if isinstance(node, (ops.CubaLIF, ops.CubaLI)):
        alpha_i = decay(f64(node.tau_syn), conv, "tau_syn", name)
        alpha_v = decay(f64(node.tau_mem), conv, "tau_mem", name)
        w_in = f64(node.w_in)
        g_in = w_in * (1.0 - alpha_i) if conv.synapse_input == "ode" else w_in.copy()
        gain = 1.0 - alpha_v
        spiking = isinstance(node, ops.CubaLIF)
        return StepCoefficients(
            alpha_i,
            g_in,
            alpha_v,
            f64(node.r) * gain,
            f64(node.v_leak) * gain,
            f64(node.v_threshold) if spiking else None,
            f64(node.v_reset) if spiking else None,
            True,
        )
    raise TypeError(f"not a neuron op: {type(node).__name__}")


def delay_steps(node: ops.Delay, conv: Convention) -> np.ndarray:
    """Delay in whole time steps, round(τ/dt); rejects delays that are not whole steps."""
    steps = np.asarray(node.delay, dtype=np.float64) / conv.dt
    rounded = np.rint(steps)
    if np.any(~np.isfinite(steps)) or np.any(rounded < 0) or np.any(np.abs(steps - rounded) > 1e-6):
        bad = steps.flat[int(np.argmax(np.abs(steps - rounded)))]
        raise ValidationError(
            f"delay of {bad:g} steps is not a whole, non-negative number of steps (dt={conv.dt:g})",
            node=node.source,
            hint="delays must be multiples of dt; check --dt",
        )
    return rounded.astype(np.int64)

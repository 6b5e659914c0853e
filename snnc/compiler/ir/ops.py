"""Float dialect: NIR-shaped nodes with NIR's parameter names and continuous-time equations.

Shapes never include the batch or time dimension.  Every neuron parameter is an array of
the population's shape (scalars are broadcast by the frontend).  Time constants are in the
model's own time unit; the discretization (``dt``, Euler or exact) is a compile option,
see :mod:`snnc.compiler.discretize`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from snnc.compiler.ir.graph import Node

Shape = tuple[int, ...]


def _shape(s) -> Shape:
    return tuple(int(v) for v in np.atleast_1d(np.asarray(s, dtype=np.int64)))


# ----------------------------------------------------------------------------- ports
class _Port(Node):
    """Marker base of the graph's ports: what flows in flows out, of ``shape``."""

    @property
    def in_shape(self) -> Shape:
        return self.shape

    @property
    def out_shape(self) -> Shape:
        return self.shape


@dataclasses.dataclass(frozen=True, eq=False)
class Input(_Port):
    """Graph input port.  Carries spikes (or currents, in the float simulator) of ``shape``."""

    shape: Shape


@dataclasses.dataclass(frozen=True, eq=False)
class Output(_Port):
    """Graph output port: records whatever flows into it."""

    shape: Shape


# -------------------------------------------------------------------------- synapses
class LinearOp(Node):
    """Marker base of stateless linear maps (synapses and shape operations)."""


class _MatrixOp(LinearOp):
    """Marker base of ops given by a weight matrix (n_out, n_in) on flat vectors."""

    @property
    def in_shape(self) -> Shape:
        return (self.weight.shape[1],)

    @property
    def out_shape(self) -> Shape:
        return (self.weight.shape[0],)


@dataclasses.dataclass(frozen=True, eq=False)
class Affine(_MatrixOp):
    """y = W x + b,  W: (n_out, n_in)."""

    weight: np.ndarray
    bias: np.ndarray
    array_fields: ClassVar = ("weight", "bias")


@dataclasses.dataclass(frozen=True, eq=False)
class Linear(_MatrixOp):
    """y = W x,  W: (n_out, n_in)."""

    weight: np.ndarray
    array_fields: ClassVar = ("weight",)


@dataclasses.dataclass(frozen=True, eq=False)
class Scale(LinearOp):
    """y = s ⊙ x  (elementwise)."""

    scale: np.ndarray
    array_fields: ClassVar = ("scale",)

    @property
    def in_shape(self) -> Shape:
        return tuple(self.scale.shape)

    @property
    def out_shape(self) -> Shape:
        return tuple(self.scale.shape)


@dataclasses.dataclass(frozen=True, eq=False)
class Conv1d(LinearOp):
    """y[c_o, n] = b[c_o] + Σ_{c_i,k} W[c_o, c_i, k] · x_pad[c_i, s·n + d·k]   (groups allowed).

    ``input_shape`` is the input length N; ``padding`` is a per-side integer.
    """

    input_shape: int
    weight: np.ndarray  # (C_out, C_in / groups, K)
    stride: int
    padding: int
    dilation: int
    groups: int
    bias: np.ndarray  # (C_out,)
    array_fields: ClassVar = ("weight", "bias")

    @property
    def in_shape(self) -> Shape:
        return (self.weight.shape[1] * self.groups, self.input_shape)

    @property
    def out_shape(self) -> Shape:
        k = self.weight.shape[2]
        n = (self.input_shape + 2 * self.padding - self.dilation * (k - 1) - 1) // self.stride + 1
        return (self.weight.shape[0], n)


@dataclasses.dataclass(frozen=True, eq=False)
class Conv2d(LinearOp):
    """y[c_o,i,j] = b[c_o] + Σ W[c_o,c_i,p,q] · x_pad[c_i, s_h·i + d_h·p, s_w·j + d_w·q].

    ``input_shape`` is (H, W); ``stride``, ``padding`` (per side), ``dilation`` are pairs.
    """

    input_shape: Shape
    weight: np.ndarray  # (C_out, C_in / groups, kH, kW)
    stride: Shape
    padding: Shape
    dilation: Shape
    groups: int
    bias: np.ndarray
    array_fields: ClassVar = ("weight", "bias")

    @property
    def in_shape(self) -> Shape:
        return (self.weight.shape[1] * self.groups, *self.input_shape)

    @property
    def out_shape(self) -> Shape:
        dims = []
        for n, k, s, p, d in zip(
            self.input_shape, self.weight.shape[2:], self.stride, self.padding, self.dilation
        ):
            dims.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
        return (self.weight.shape[0], *dims)


@dataclasses.dataclass(frozen=True, eq=False)
class SumPool2d(LinearOp):
    """y[c,i,j] = Σ_{p<kH, q<kW} x_pad[c, s_h·i + p, s_w·j + q]  (zero padding)."""

    input_shape: Shape  # (C, H, W)
    kernel_size: Shape
    stride: Shape
    padding: Shape

    @property
    def in_shape(self) -> Shape:
        return tuple(self.input_shape)

    @property
    def out_shape(self) -> Shape:
        c, *hw = self.input_shape
        dims = [
            (n + 2 * p - k) // s + 1
            for n, k, s, p in zip(hw, self.kernel_size, self.stride, self.padding)
        ]
        return (c, *dims)


@dataclasses.dataclass(frozen=True, eq=False)
class AvgPool2d(SumPool2d):
    """y = SumPool2d(x) / (kH·kW)  -- padding counts in the divisor (NIR: "SumPooling; Scale")."""


@dataclasses.dataclass(frozen=True, eq=False)
class Flatten(LinearOp):
    """Row-major (C-order) flatten of dims ``start_dim..end_dim`` of the unbatched tensor."""

    input_shape: Shape
    start_dim: int = 0
    end_dim: int = -1

    @property
    def in_shape(self) -> Shape:
        return tuple(self.input_shape)

    @property
    def out_shape(self) -> Shape:
        shape = list(self.input_shape)
        n = len(shape)
        s = self.start_dim % n
        e = self.end_dim % n
        merged = int(np.prod(shape[s : e + 1], dtype=np.int64))
        return tuple(shape[:s] + [merged] + shape[e + 1 :])


@dataclasses.dataclass(frozen=True, eq=False)
class Delay(LinearOp):
    """y(t) = x(t − τ)  elementwise; τ (``delay``) is in the model's time unit."""

    delay: np.ndarray
    array_fields: ClassVar = ("delay",)

    @property
    def in_shape(self) -> Shape:
        return tuple(self.delay.shape)

    @property
    def out_shape(self) -> Shape:
        return tuple(self.delay.shape)


# --------------------------------------------------------------------------- neurons
class NeuronOp(Node):
    """Marker base of stateful neuron populations."""

    #: True when the population emits spikes; False for membrane read-outs (LI, I, CubaLI)
    spiking: ClassVar[bool] = True

    @property
    def shape(self) -> Shape:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def in_shape(self) -> Shape:
        return self.shape

    @property
    def out_shape(self) -> Shape:
        return self.shape


def _pop_shape(arr: np.ndarray) -> Shape:
    return tuple(int(v) for v in arr.shape)


@dataclasses.dataclass(frozen=True, eq=False)
class LIF(NeuronOp):
    """Leaky integrate-and-fire.

    τ·dv/dt = (v_leak − v) + R·I ;  z = [v > v_threshold] ;  v ← v_reset where z = 1.
    """

    tau: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    array_fields: ClassVar = ("tau", "r", "v_leak", "v_threshold", "v_reset")

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.v_threshold)


@dataclasses.dataclass(frozen=True, eq=False)
class CubaLIF(NeuronOp):
    """Current-based LIF.

    τ_syn·dI/dt = −I + w_in·S ;  τ_mem·dv/dt = (v_leak − v) + R·I ;
    z = [v > v_threshold] ;  v ← v_reset where z = 1.  I is never reset.
    """

    tau_syn: np.ndarray
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    w_in: np.ndarray
    array_fields: ClassVar = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.v_threshold)


@dataclasses.dataclass(frozen=True, eq=False)
class CubaLI(NeuronOp):
    """Current-based leaky integrator (no threshold): CubaLIF's two ODEs, output v."""

    tau_syn: np.ndarray
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    w_in: np.ndarray
    array_fields: ClassVar = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
    spiking: ClassVar[bool] = False

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.v_leak)


@dataclasses.dataclass(frozen=True, eq=False)
class IF(NeuronOp):
    """Integrate-and-fire.  dv/dt = R·I ;  z = [v > v_threshold] ;  v ← v_reset where z = 1."""

    r: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    array_fields: ClassVar = ("r", "v_threshold", "v_reset")

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.v_threshold)


@dataclasses.dataclass(frozen=True, eq=False)
class LI(NeuronOp):
    """Leaky integrator (read-out, no spikes).  τ·dv/dt = (v_leak − v) + R·I ; output v."""

    tau: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    array_fields: ClassVar = ("tau", "r", "v_leak")
    spiking: ClassVar[bool] = False

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.r)


@dataclasses.dataclass(frozen=True, eq=False)
class I(NeuronOp):  # noqa: E742 - NIR's name
    """Integrator (read-out, no spikes).  dv/dt = R·I ; output v."""

    r: np.ndarray
    array_fields: ClassVar = ("r",)
    spiking: ClassVar[bool] = False

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.r)


# ------------------------------------------------------------------ sigma-delta neurons
class SigmaDeltaOp(NeuronOp):
    """Marker base of the sigma-delta populations (docs/decisions/0007-sigma-delta.md).

    They exchange **graded messages**, not spikes: each step a population sends, per neuron,
    the change of its activation since what it last sent, when that change is at least the
    threshold θ, and 0 (nothing) otherwise.  With ``ŝ[t−1] = Σ_{τ<t} s[τ]`` (what the receivers
    hold)::

        d[t] = y[t] − ŝ[t−1] ;   s[t] = d[t] where |d[t]| ≥ θ else 0

    so a receiver that sums the messages it gets (a :class:`SigmaDelta` or :class:`Sigma`)
    holds ``ŝ``, within θ of the sender's activation ``y``.  θ = 0 sends every change.
    """


@dataclasses.dataclass(frozen=True, eq=False)
class Delta(SigmaDeltaOp):
    """Delta encoder (Lava ``Delta``): ``y[t] = x[t]`` (the summed input, e.g. the data),
    sent as the thresholded change (see :class:`SigmaDeltaOp`)."""

    threshold: np.ndarray
    array_fields: ClassVar = ("threshold",)

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.threshold)


@dataclasses.dataclass(frozen=True, eq=False)
class SigmaDelta(SigmaDeltaOp):
    """Sigma-delta ReLU (Lava ``SigmaDelta``, act_mode RELU)::

        σ[t] = σ[t−1] + x[t] ;   y[t] = max(σ[t] + b, 0) ;   sent: the change of y ≥ θ

    ``x`` is the sum of the weighted messages it receives, so σ holds ``W·ŝ_in``: the
    population computes ReLU(W·a_in + b) of what its inputs have sent.  The bias ``b`` is the
    neuron's, not the synapse's (a synapse sees messages, i.e. changes, so a bias there would be
    added on every step); it acts from the population's first input (on the chip: from its
    synaptic depth, see docs/conversion.md).
    """

    threshold: np.ndarray
    bias: np.ndarray
    array_fields: ClassVar = ("threshold", "bias")

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.bias)


@dataclasses.dataclass(frozen=True, eq=False)
class Sigma(SigmaDeltaOp):
    """Sigma read-out (Lava ``Sigma``): ``σ[t] = σ[t−1] + x[t]`` ; output ``σ[t] + b`` every step
    (no threshold, no messages: the network's output)."""

    bias: np.ndarray
    array_fields: ClassVar = ("bias",)
    spiking: ClassVar[bool] = False

    @property
    def shape(self) -> Shape:
        return _pop_shape(self.bias)


FLOAT_OPS: tuple[type[Node], ...] = (
    Input, Output, Affine, Linear, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Delay,
    LIF, CubaLIF, CubaLI, IF, LI, I, Delta, SigmaDelta, Sigma,
)

"""Loihi dialect: what the chip runs, named after Lava's registers (lava-nc 0.10.0).

A compiled program is a graph of three node kinds:

``SpikeSource``  the program's input of a given shape (Lava: ``io.source.RingBuffer``), with a
                 ``payload``: ``"binary"`` spikes (0/1, read by synapses), or ``"int32"``
                 signed integer values per element and step (lava-dl's Input block: a
                 ``RingBuffer(int32)`` wired to a LIF's ``a_in``).  A source may feed
                 ``Compartment``s directly (no synapse): its value ``x[t]`` is then the
                 compartment's ``a_in`` in the *same* step ``t`` (added to its synapses' buffers,
                 in int32), and enters ``u`` as ``x[t] << 6``.
``Synapse``      a connection block (Lava: ``Dense``, ``Sparse``, ``DelayDense``)::

                     a[t] = shift( Σ_j W'[i, j] · s_j[t − 1 − d_ij], weight_exp )

                 ``W'`` is ``weights`` after Lava's clip to 8 bits and LSB truncation to
                 ``num_weight_bits`` for ``sign_mode``; ``shift`` is ``<< e`` for e > 0 and an
                 arithmetic (floor) ``>> −e`` otherwise; ``d_ij`` are optional extra delays.
                 ``num_message_bits = 0``: ``s`` are spikes (a graded payload ≠ 0 counts as 1);
                 > 0: ``s`` are graded int32 payloads (arith.graded_synapse_buffer).
``Compartment``  a CUBA LIF population (Lava: ``lif.LIF``, ``PyLifModelBitAcc``)::

                     u ← trunc(u · (4096 − du − 1) / 4096) + (a_in << 6)      (wraps at 24 bits)
                     v ← clip(trunc(v · (4096 − dv) / 4096) + u + bias_mant << bias_exp, ±(2²³−1))
                     s = v > (vth << 6) ;  v ← 0 where s

                 ``trunc`` rounds toward zero.  ``vth`` is shared by the population;
                 ``du`` may be −1 (lava-dl's ``iDecay = 0``: factor 4096, u integrates
                 perfectly) and ``dv`` 4096 (``vDecay = 4096``: v keeps nothing), ``vth`` up
                 to 2^17 (lava-dl's neuron-less dense default: never spikes).
                 ``reset_interval = I > 0`` (Lava ``LIFReset``, lava-dl's periodic state reset):
                 at the start of Lava ``time_step`` τ (raw step τ − 1) with
                 τ mod I = ``reset_offset`` mod I, u and v are set to 0 before the update (after
                 the step's input is received, so that input enters the fresh state);
                 ``bias_mant`` is per neuron; ``du``/``dv`` are one value or one per neuron
                 (Lava's CPU model broadcasts them; on the chip each distinct pair needs a
                 compartment profile).  ``readout="v"`` marks a population
                 whose membrane voltage (not its spikes) is the output; ``v_scale`` /
                 ``v_offset`` decode it to the float model's units: v_float = v / v_scale + v_offset.

``SigmaDeltaCompartment``  a sigma-delta population (Lava ``sdn.Delta``, ``SigmaDelta``,
                 ``Sigma``; ``PyDeltaModelFixed``, ``PySigmaDeltaModelFixed``,
                 ``PySigmaModelFixed``) sending graded int32 payloads; ``neuron`` picks the
                 process.  With k = spike_exp + state_exp, VTH = wrap32(vth << k) and
                 BIAS = wrap32(bias << k) (docs/decisions/0007-sigma-delta.md)::

                     delta:        y = wrap32(a_in << k)
                     sigma_delta:  σ ← wrap32(σ + a_in) ;  y = relu(wrap32(σ + BIAS))  (or unit)
                     both:         s = delta_core(y) (send |Δ| ≥ VTH) ;  out = s >> state_exp
                     sigma:        σ ← wrap32(σ + a_in) ;  out = σ        (every step)

                 The equations, with every wrap, are :func:`snnc.compiler.ir.arith.sigma_delta_step`.
                 Synapses carry its output as a graded payload when their ``num_message_bits``
                 is > 0 (the payload multiplies the weight); with 0 (binary) any non-zero
                 payload, negatives included, counts as one spike.

Populations are one-dimensional on the chip; ``shape`` keeps the model's shape (C-order).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

# Lava's constants and SignMode live in arith (the one statement of Lava's arithmetic);
# re-exported here for the modules that import them from the dialect
from snnc.compiler.ir.arith import (  # noqa: F401
    ACT_SHIFT,
    DECAY_SHIFT,
    DECAY_UNITY,
    DS_OFFSET,
    UV_BITS,
    VTH_SHIFT,
    SignMode,
)
from snnc.compiler.ir.graph import Node

Shape = tuple[int, ...]


def sign_mode_of(weights: np.ndarray | sp.spmatrix) -> SignMode:
    """Lava's ``determine_sign_mode``: EXC if min ≥ 0, INH if max ≤ 0, else MIXED."""
    w = weights.data if sp.issparse(weights) else np.asarray(weights)
    if w.size == 0 or w.min() >= 0:
        return SignMode.EXCITATORY
    if w.max() <= 0:
        return SignMode.INHIBITORY
    return SignMode.MIXED


#: payloads a SpikeSource can send: binary spikes, or signed int32 values (lava-dl's Input block)
PAYLOAD_BINARY = "binary"
PAYLOAD_INT32 = "int32"
PAYLOADS = (PAYLOAD_BINARY, PAYLOAD_INT32)


@dataclasses.dataclass(frozen=True, eq=False)
class SpikeSource(Node):
    """The program's input of ``shape`` (flattened to one axon per element on the chip):
    binary spikes, or with ``payload="int32"`` signed integer values fed straight into the
    ``a_in`` of the compartments it is wired to (see the module docstring)."""

    shape: Shape
    payload: str = PAYLOAD_BINARY
    #: printed only when not the default (snnc.compiler.ir.printer): older program texts stay
    quiet_fields: ClassVar = ("payload",)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclasses.dataclass(frozen=True, eq=False)
class Synapse(Node):
    """A synapse block between two flattened populations; see the module docstring.

    ``weights`` is an int64 array (n_out, n_in) or a ``scipy.sparse.csr_matrix`` (stored
    sparse when most entries are zero, lowered to Lava ``Sparse``).  ``delays`` (same
    shape, ints ≥ 0, or ``None``) are *extra* steps on top of the one-step synaptic delay
    (Lava ``DelayDense``: a delay of 0 means "next step").
    """

    weights: np.ndarray | sp.csr_matrix
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: SignMode | None = None
    delays: np.ndarray | None = None
    #: 0: binary spikes (Lava's default); > 0: graded payloads multiply the weights (Lava's
    #: CPU models clip nothing to this width; it selects the graded path)
    num_message_bits: int = 0
    array_fields: ClassVar = ("weights", "delays")
    quiet_fields: ClassVar = ("num_message_bits",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if sp.issparse(self.weights):
            w = sp.csr_matrix(self.weights, dtype=np.int64)
            w.sort_indices()
            for a in (w.data, w.indices, w.indptr):
                a.setflags(write=False)
            object.__setattr__(self, "weights", w)
        if self.sign_mode is None:
            object.__setattr__(self, "sign_mode", sign_mode_of(self.weights))
        else:
            object.__setattr__(self, "sign_mode", SignMode(self.sign_mode))

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.weights)

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])

    @property
    def max_delay(self) -> int:
        return 0 if self.delays is None else int(np.max(self.delays, initial=0))

    def dense_weights(self) -> np.ndarray:
        return self.weights.toarray() if self.is_sparse else np.asarray(self.weights)

    @property
    def num_synapses(self) -> int:
        """Stored (non-zero) synapses."""
        if self.is_sparse:
            return int(self.weights.nnz)
        return int(np.count_nonzero(self.weights))


@dataclasses.dataclass(frozen=True, eq=False)
class ConvSynapse(Node):
    """A shared-weight 2-D convolution block (Lava: ``conv.Conv``, ``PyConvModelFixed``)::

        a[t][c', i, j] = wrap24( Σ_{c, p, q} W[c', c, p, q] · s[t − 1][c, s_h·i + d_h·p − pad_h,
                                                                    s_w·j + d_w·q − pad_w] )

    Shapes follow the model (NIR): input (C, H, W), output (C', H', W'), ``weights``
    (C', C/groups, kH, kW) as integers; the Lava backend transposes to Lava's (W, H, C) layout.
    Lava's fixed-point Conv model applies **no** weight clipping or truncation and **no**
    ``weight_exp`` (declared but unused, lava/proc/conv/models.py), and wraps the output to
    signed 24 bits; the quantizer therefore emits on-grid weights with an implied exponent 0.
    """

    weights: np.ndarray
    in_shape: Shape
    stride: Shape = (1, 1)
    padding: Shape = (0, 0)
    dilation: Shape = (1, 1)
    groups: int = 1
    #: 0: binary spikes (a non-zero payload counts as 1); > 0: graded payloads (Lava Conv)
    num_message_bits: int = 0
    array_fields: ClassVar = ("weights",)
    quiet_fields: ClassVar = ("num_message_bits",)

    @property
    def out_shape(self) -> Shape:
        _, h, w = self.in_shape
        dims = [
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, k, s, p, d in zip(
                (h, w), self.weights.shape[2:], self.stride, self.padding, self.dilation, strict=True
            )
        ]
        return (int(self.weights.shape[0]), *dims)

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape, dtype=np.int64))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape, dtype=np.int64))

    @property
    def num_synapses(self) -> int:
        """Stored (shared) weights: the kernel, not the unrolled matrix."""
        return int(np.count_nonzero(self.weights))


@dataclasses.dataclass(frozen=True, eq=False)
class Compartment(Node):
    """A CUBA LIF population with Lava's fixed-point registers; see the module docstring."""

    shape: Shape
    du: int | np.ndarray  # one value, or one per neuron (a compartment profile each)
    dv: int | np.ndarray
    vth: int
    bias_mant: np.ndarray  # int, per neuron
    bias_exp: int = 0
    u_init: np.ndarray | None = None
    v_init: np.ndarray | None = None
    readout: str = "spikes"  # or "v"
    v_scale: float = 1.0
    v_offset: np.ndarray | None = None
    start_step: int = 0
    reset_interval: int = 0  # Lava LIFReset: u = v = 0 every reset_interval steps (0: never)
    reset_offset: int = 0  # ≥ 0: at time_step τ with τ % reset_interval == reset_offset % reset_interval
    array_fields: ClassVar = ("du", "dv", "bias_mant", "u_init", "v_init", "v_offset")
    quiet_fields: ClassVar = ("reset_interval", "reset_offset")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def decay_profiles(self) -> int:
        """Number of distinct (du, dv) pairs: 1 unless the decays are per neuron."""
        if np.ndim(self.du) == 0 and np.ndim(self.dv) == 0:
            return 1
        du = np.broadcast_to(np.asarray(self.du).reshape(-1), (self.size,))
        dv = np.broadcast_to(np.asarray(self.dv).reshape(-1), (self.size,))
        return int(np.unique(np.stack([du, dv]), axis=1).shape[1]) if self.size else 1


#: the sigma-delta processes (``SigmaDeltaCompartment.neuron``): Lava's Delta, SigmaDelta, Sigma
DELTA = "delta"
SIGMA_DELTA = "sigma_delta"
SIGMA = "sigma"
SD_NEURONS = (DELTA, SIGMA_DELTA, SIGMA)
#: SigmaDelta's activations (Lava ``ActivationMode``: UNIT = 0, RELU = 1)
SD_ACTIVATIONS = ("relu", "unit")


@dataclasses.dataclass(frozen=True, eq=False)
class SigmaDeltaCompartment(Node):
    """A sigma-delta population with Lava's constructor values; see the module docstring.

    ``neuron`` is ``"delta"`` (Lava ``Delta``), ``"sigma_delta"`` (``SigmaDelta``) or
    ``"sigma"`` (``Sigma``).  ``vth`` (one int, the constructor's value: the register is
    ``vth << (spike_exp + state_exp)``), ``spike_exp``, ``state_exp`` and ``cum_error`` apply to
    ``delta`` and ``sigma_delta``; ``bias`` (one int per neuron, or ``None``: 0) and
    ``activation`` (``"relu"`` | ``"unit"``) to ``sigma_delta`` only.  Each step ``delta`` and
    ``sigma_delta`` send the graded payload ``s >> state_exp`` (0: nothing sent), ``sigma`` its
    accumulated ``sigma``; a ``Probe`` records that int32 value, decoded as
    ``value / out_scale``.
    """

    shape: Shape
    neuron: str
    vth: int = 0
    bias: np.ndarray | None = None
    spike_exp: int = 0
    state_exp: int = 0
    cum_error: bool = False
    activation: str = "relu"
    out_scale: float = 1.0
    array_fields: ClassVar = ("bias",)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def exp(self) -> int:
        """k = spike_exp + state_exp: the pre-scale of vth and bias (and of a delta's input)."""
        return int(self.spike_exp) + int(self.state_exp)


@dataclasses.dataclass(frozen=True, eq=False)
class Probe(Node):
    """A program output: records the spikes (or ``v`` for read-outs) of its one predecessor;
    of a ``SigmaDeltaCompartment`` its int32 output (payload, or sigma)."""

    shape: Shape


#: the populations of the dialect (what a synapse reads and feeds)
NEURON_OPS: tuple[type[Node], ...] = (Compartment, SigmaDeltaCompartment)
LOIHI_OPS: tuple[type[Node], ...] = (SpikeSource, Synapse, ConvSynapse, Compartment,
                                     SigmaDeltaCompartment, Probe)

"""Lava 0.10.0's fixed-point arithmetic, stated once.

Every realisation of the Loihi dialect computes with what is defined here: the numpy and
torch engines of the emulator (:mod:`snnc.backends.emulator`, and through the torch one the
distillation QAT forward, :mod:`snnc.distill.integer`), the ONNX step model
(:mod:`snnc.backends.onnx_step.loihi_model`) and, under its exactness proofs, the emulator's
fast path (:mod:`snnc.backends.emulator.fast`).  ``tests/unit/test_arith_single_home.py``
fails when another module defines one of these constants or formulas again.

Paths are relative to the installed ``lava`` package (lava-nc 0.10.0); see
``shared/reference/loihi.md`` §1 for the measurements that confirm them.

Constants
---------
=================  ==========  ==================================================================
``DECAY_SHIFT``    12          ``decay_shift`` (lava/proc/lif/models.py:104)
``DECAY_UNITY``    4096        ``decay_unity = 2**decay_shift`` (models.py:105)
``DS_OFFSET``      1           ``ds_offset``: u decays by 4096 − (du + 1) (models.py:94, 145)
``DM_OFFSET``      0           ``dm_offset``: v decays by 4096 − dv (models.py:95, 174)
``VTH_SHIFT``      6           ``vth_shift``: the threshold compares as vth << 6 (models.py:107, 273)
``ACT_SHIFT``      6           ``act_shift``: synaptic input enters u as a << 6 (models.py:108, 155)
``UV_BITS``        24          ``uv_bitwidth`` of u and v (models.py:101)
``MAX_UV``         2^23        ``max_uv_val = 2**(uv_bitwidth − 1)`` (models.py:102)
``V_LIMIT``        2^23 − 1    v saturates at ±(max_uv_val − 1) (models.py:176-177, 186)
``CONV_BITS``      24          Conv's ``signed_clamp(x, bits=24)`` (lava/proc/conv/models.py:79)
``INT32_MIN/MAX``  ∓2^31       Lava's int32 registers, ports and buffers (models.py:80-81; dense
                               a_out, lava/proc/dense/models.py:64; ports sum in the port dtype,
                               lava/magma/core/model/py/ports.py:333-350)
``WEIGHT_BITS``    8           ``clip_weights(..., num_bits=8)`` (dense/models.py:87)
=================  ==========  ==================================================================

Formulas (all values int64 holding Lava's int32 values)
-------------------------------------------------------
::

    wrap(x, 32)      = ((x + 2^31) mod 2^32) − 2^31       numpy's int64 → int32 cast (Lava's int32
                                                          arithmetic, ports and buffers)
    signed_clamp(x)  = ((x + 2^23) mod 2^24) − 2^23       conv/utils.py:83-84 (= wrap(x, 24))
    decay(x, f)      = sign(x·f) · (|x·f| >> 12)          models.py:149-153, 180-184 (toward 0)
    du factor        = 4096 − (du + 1)                    models.py:145, 149
    dv factor        = 4096 − dv                          models.py:174, 180
    b                = int32(int16(bias_mant)) << bias_exp  (>> −bias_exp, floor; models.py:110-121)
    W                = truncate(clip(int32(weights)))     lava/utils/weightutils.py:204-295:
        clip         on w (−w for INH): [−256, 255] MIXED | [0, 255] EXC, NULL | [−255, 0] INH
        truncate     k = 8 − num_weight_bits + (sign_mode == MIXED);  w = (w >> k) << k
                     (on −w for INH; floor: MIXED −3 → −4)
    a_buf            = wrap(shift(Σ_j W[i, j]·s_j, weight_exp), 32)   dense/models.py:77-107
                       (shift: << e for e > 0, else the floor >> −e)
    conv a_buf       = signed_clamp(int32(Σ W ⋆ s))       conv/models.py:37-51, conv/utils.py:218
                       (the float64 sum cast as numpy casts: INT_MIN out of range on x86)

The LIF step (``PyLifModelBitAcc``, models.py:138-216, 268-278), :func:`lif_step`::

    a_shift = a << 6
    u_raw   = decay(u, du factor) + a_shift
    u       = wrap_uv(wrap(u_raw, 32))              wrap_uv: − 2^24 if > 2^23; + 2^24 if ≤ −2^23
    v_raw   = decay(v, dv factor) + u + b
    v_pre   = clip(wrap(v_raw, 32), −(2^23 − 1), 2^23 − 1)
    s       = v_pre > vth << 6 ;   v = 0 where s, else v_pre        (u is not reset)

``a`` is the sum of the compartment's input ports (:func:`input_sum`): its synapses' buffers
and, for a compartment wired straight to the program's input (lava-dl's Input block, a
``RingBuffer(int32)`` on ``a_in``), the input's int32 value of the *same* step
(io/source.py:43-61: ``data[..., (time_step − 1) % T]`` as int32; the LIF's int16 ``a_in``
port adds into ``zeros(int16) + int32`` = int32 and is never clipped, ports.py:333-350).
``a << 6`` is Lava's int32 shift (models.py:155): an input of 2^26 or more wraps.

Periodic reset (``LIFReset``, ``PyLifResetModelBitAcc``, models.py:386-449; lava-dl's
``Network(reset_interval=...)``): with ``reset_interval = I > 0`` and
``off = reset_offset mod I`` (models.py:412), at the start of raw step t (Lava
``time_step = t + 1``) with ``(t + 1) mod I = off`` -- after the input is received and before
the update (models.py:428-436) -- ``u ← 0`` and ``v ← 0``; the step's input and bias then
enter the fresh state.  The bias and threshold are not touched.  (:func:`reset_due`.)

Lava wraps each int32 term separately (``np.int32(decayed)`` then ``+=`` in int32,
models.py:153-157, 184-185); one wrap of the int64 sum is the same value, since a two's
complement wrap is a reduction mod 2^32.  The ±2^24 wrap is a single conditional step, as
Lava writes it (a value more than 2^24 out of range is not folded twice).

``start_step = k > 0`` (snnc's switch-on of a population at its synaptic depth; the Lava
backend realises it by running in segments): for raw steps t < k the population runs from
u = v = 0 with zero bias; at the start of step k, before its update, ``u ← u_init``,
``v ← v_init`` and the bias is on from then on.  With k ≤ 0 the population starts from
(u_init, v_init) and its bias is always on.  (:class:`LifRegisters`, :func:`lif_step`.)
The start-step load comes first: a periodic reset due at step k zeroes the loaded values.

Sigma-delta neurons and graded synapses (``lava/proc/sdn``, docs/decisions/0007-sigma-delta.md)
------------------------------------------------------------------------------------------
Registers, fixed by the Process constructor (sdn/process.py:99, 179-180; the Var copy wraps to
int32, lava/magma/compiler/builders/py_builder.py:399-402), :class:`SigmaDeltaRegisters`::

    k    = spike_exp + state_exp                  (0..7 each: declared precision=3, models.py:218-219)
    VTH  = wrap(vth << k, 32)                     shared
    BIAS = wrap(bias << k, 32)                    per neuron (SigmaDelta only)

State per neuron, all int32 and 0 at the start: ``sigma``, ``act``, ``residue``, ``error``.
The delta encoder (``AbstractDeltaModel.delta_dynamics``, sdn/models.py:85-100),
:func:`delta_core`::

    abs32(x) = wrap(|x|, 32)                      np.abs on int32: |−2^31| stays −2^31 (never fires)
    delta    = wrap(y − act + residue, 32)
    cum_error:  error = wrap(error + delta, 32)
                s     = delta where abs32(error) ≥ VTH, else 0       (models.py:90; sends delta)
                error = 0 where abs32(s) > 0                          (models.py:92)
    else:       s     = delta where abs32(delta) ≥ VTH, else 0       (models.py:96)
    residue  = wrap(delta − s, 32) ;  act = y

The comparison is ``≥`` (the code), not the ``>`` of Lava's docstrings (process.py:66,73,138,147).
The three steps (:func:`sigma_delta_step`), ``a`` this step's int32 input (:func:`input_sum`)::

    Delta       (models.py:223-231):  y = wrap(a << k, 32) ; s = delta_core(y) ; out = s >> state_exp
    SigmaDelta  (models.py:279-284):  sigma = wrap(sigma + a, 32) ; p = wrap(sigma + BIAS, 32) ;
                                      y = max(p, 0) (RELU, models.py:17-30) or p (UNIT) ;
                                      s = delta_core(y) ; out = s >> state_exp
    Sigma       (models.py:54-57):    sigma = wrap(sigma + a, 32) ; out = sigma       (every step)

``>>`` is the floor shift; the floored bits are lost (``residue`` is taken before the shift).
Nothing saturates.  Graded synapse buffers (``num_message_bits > 0``; the payload ``s`` is
int32 and multiplies the weight, dense/models.py:97-99, 339-352; sparse/models.py:97-107)::

    Dense/Sparse  buf = wrap(shift(wrap(Σ_j W[i, j]·s_j, 32), e), 32)   int32 dot: wrap BEFORE the
                                                                        shift (graded_synapse_buffer)
    DelayDense    acc_d = Σ_j wrap(W[i, j]·s_j, 32)·[d_ij = d]          each product wraps (int32
                  buf   = wrap(pending + shift(acc, e), 32)              product, int64 row sum)
    Conv          buf = signed_clamp(int32(Σ W ⋆ s))                    as binary, with s the payload

With ``num_message_bits = 0`` (binary) a synapse counts every non-zero payload, negatives
included, as one spike (``s_in.astype(bool)``, dense/models.py:100-102).

One statement, several executions
---------------------------------
The formulas are written once against a small namespace of integer primitives (``ops``):
:class:`NumpyOps` (the numpy engine), :class:`TorchOps` (the torch engine, the QAT forward)
and the ONNX step-model builder's adapter (``loihi_model.OnnxOps``, which emits nodes instead
of computing).  A primitive is an operation every backend has (add, shifts, a two's-complement
wrap of ``bits`` bits, comparisons, where, clip); the order of the wraps, the clip and the
reset exists only in the formulas below.  The fast path, which holds u and v as float64 in
place under proofs that make most wraps impossible, uses the float forms at the end of this
module (:func:`decay_inplace`, :func:`wrap_uv_inplace`) and the same constants.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

# ------------------------------------------------------------------------------ constants
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
DS_OFFSET = 1
DM_OFFSET = 0
VTH_SHIFT = 6
ACT_SHIFT = 6
UV_BITS = 24
MAX_UV = 1 << (UV_BITS - 1)
V_LIMIT = MAX_UV - 1
CONV_BITS = 24
INT32_BITS = 32
INT32_MIN = -(1 << (INT32_BITS - 1))
INT32_MAX = (1 << (INT32_BITS - 1)) - 1
WEIGHT_BITS = 8


class SignMode(IntEnum):
    """Lava's ``lava.utils.weightutils.SignMode``."""

    NULL = 0
    MIXED = 1
    EXCITATORY = 2
    INHIBITORY = 3


# ------------------------------------------------------------------------------- registers
def per_neuron(a, n: int, dtype) -> np.ndarray:
    """``a`` (None: zeros) broadcast to (n,) and cast to Lava's Var ``dtype``, as int64."""
    if a is None:
        return np.zeros(n, dtype=np.int64)
    arr = np.broadcast_to(np.asarray(a).reshape(-1), (n,))
    return arr.astype(dtype).astype(np.int64)


def decay_register(d, n: int) -> int | np.ndarray:
    """``du``/``dv`` as Lava holds them: a scalar stays a Python int (``LavaPyType(int, ...)``,
    models.py:82-83, so netx's du = −1 works), per-neuron values are uint16 (int64 (n,))."""
    if np.ndim(d) == 0:
        return int(d)
    return per_neuron(d, n, np.uint16)


def du_factor(du):
    """u's decay factor ``4096 − (du + ds_offset)`` (models.py:145, 149)."""
    return DECAY_UNITY - (du + DS_OFFSET)


def dv_factor(dv):
    """v's decay factor ``4096 − (dv + dm_offset)`` (models.py:174, 180)."""
    return DECAY_UNITY - (dv + DM_OFFSET)


def effective_bias(c) -> np.ndarray:
    """Lava's ``scale_bias`` (models.py:110-121) of a Compartment ``c``: ``bias_mant`` (an int16
    Var) promoted to int32, ``<< bias_exp`` (int32: wraps) or the floor ``>> −bias_exp``."""
    return scale_bias(per_neuron(c.bias_mant, c.size, np.int16), c.bias_exp)


def scale_bias(bias_mant, bias_exp) -> np.ndarray:
    """``scale_bias`` of int64 ``bias_mant`` values (any shape, already cast to the int16 Var,
    e.g. one row per sample when the input is set as the bias): int64 holding int32 values."""
    b = np.asarray(bias_mant, dtype=np.int64)
    e = int(bias_exp)
    return wrap32(np.left_shift(b, e)) if e >= 0 else np.right_shift(b, -e)


def bias_mant_register(values) -> np.ndarray:
    """``values`` as Lava's int16 ``bias_mant`` Var holds them (numpy's cast), as int64."""
    return np.asarray(values).astype(np.int16).astype(np.int64)


def effective_vth(vth) -> int:
    """``scale_threshold``: ``vth << 6`` (models.py:268-274)."""
    return int(vth) << VTH_SHIFT


@dataclasses.dataclass(frozen=True)
class LifRegisters:
    """One population's registers as the LIF step uses them (numpy; see :meth:`on`)."""

    n: int
    du_factor: Any  # int, or int64 (n,)
    dv_factor: Any
    vth_eff: int
    bias: Any  # int64 (n,)
    start_step: int
    u_init: Any  # int64 (n,) (int32 Vars)
    v_init: Any
    reset_interval: int = 0  # LIFReset's interval (0: no periodic reset)
    reset_offset: int = 0  # LIFReset's offset, already taken mod reset_interval

    @classmethod
    def of(cls, c) -> LifRegisters:
        """The registers of a ``loihi.Compartment``."""
        n = c.size
        interval = int(getattr(c, "reset_interval", 0) or 0)
        return cls(
            n=n,
            du_factor=du_factor(decay_register(c.du, n)),
            dv_factor=dv_factor(decay_register(c.dv, n)),
            vth_eff=effective_vth(c.vth),
            bias=effective_bias(c),
            start_step=int(c.start_step),
            u_init=per_neuron(c.u_init, n, np.int32),
            v_init=per_neuron(c.v_init, n, np.int32),
            reset_interval=interval,
            reset_offset=int(c.reset_offset) % interval if interval > 0 else 0,
        )

    def with_bias_mant(self, bias_mant, bias_exp) -> LifRegisters:
        """The same registers with ``bias_mant`` replaced (int16-cast values, shape (n,) or
        (batch, n): one row per sample), as when a run sets the bias from its input."""
        return dataclasses.replace(self, bias=scale_bias(bias_mant, bias_exp))

    def initial(self) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) before raw step 0: (u_init, v_init) if ``start_step ≤ 0``, else zeros (the
        initial values are then loaded at ``start_step``, by :func:`lif_step`)."""
        if self.start_step <= 0:
            return self.u_init, self.v_init
        z = np.zeros(self.n, dtype=np.int64)
        return z, z

    def on(self, ops) -> LifRegisters:
        """The same registers in ``ops``' own form (device tensors, ONNX initializers); the
        initial values only where :func:`lif_step` reads them (``start_step > 0``)."""
        late = self.start_step > 0
        return dataclasses.replace(
            self, du_factor=ops.const(self.du_factor), dv_factor=ops.const(self.dv_factor),
            bias=ops.const(self.bias),
            u_init=ops.const(self.u_init) if late else None,
            v_init=ops.const(self.v_init) if late else None,
        )


# --------------------------------------------------------------------------------- weights
def weight_clip_bounds(sign_mode: SignMode) -> tuple[int, int]:
    """``clip_weights``' bounds on w (on −w for INHIBITORY): weightutils.py:277-287."""
    mixed = int(sign_mode == SignMode.MIXED)
    return (-(1 << WEIGHT_BITS)) * mixed, (1 << WEIGHT_BITS) - 1


def clip_weights(w: np.ndarray, sign_mode: SignMode) -> np.ndarray:
    """Lava's ``clip_weights(w, sign_mode, num_bits=8)`` (weightutils.py:250-295), int32."""
    w = np.asarray(w).astype(np.int32)
    inh = sign_mode == SignMode.INHIBITORY
    if inh:
        w = -w
    lo, hi = weight_clip_bounds(sign_mode)
    w = np.clip(w, lo, hi).astype(np.int32)
    return -w if inh else w


def truncation_bits(sign_mode: SignMode, num_weight_bits: int) -> int:
    """LSBs ``truncate_weights`` drops: ``8 − num_weight_bits + is_mixed`` (weightutils.py:235-236)."""
    return WEIGHT_BITS - int(num_weight_bits) + int(sign_mode == SignMode.MIXED)


def truncate_weights(w: np.ndarray, sign_mode: SignMode, num_weight_bits: int) -> np.ndarray:
    """Lava's ``truncate_weights`` (weightutils.py:204-247): drop :func:`truncation_bits` LSBs
    (floor; on the magnitude for INHIBITORY), int32."""
    w = np.asarray(w).astype(np.int32)
    inh = sign_mode == SignMode.INHIBITORY
    k = np.int32(truncation_bits(sign_mode, num_weight_bits))
    if inh:
        w = -w
    w = (w >> k) << k
    return -w if inh else w


def effective_weights(syn) -> np.ndarray | sp.csr_matrix:
    """The weights Lava's Dense/Sparse use (clip, then truncate; dense/models.py:83-92) of a
    ``loihi.Synapse``: int32 values as int64, dense or CSR like ``syn``."""
    sm = SignMode(syn.sign_mode)
    if sp.issparse(syn.weights):
        m = sp.csr_matrix(syn.weights, copy=True)
        data = truncate_weights(clip_weights(m.data, sm), sm, syn.num_weight_bits)
        m = sp.csr_matrix((data.astype(np.int64), m.indices, m.indptr), shape=m.shape)
        m.eliminate_zeros()
        return m
    w = np.asarray(syn.weights)
    return truncate_weights(clip_weights(w, sm), sm, syn.num_weight_bits).astype(np.int64)


def conv_weights(syn) -> np.ndarray:
    """A ``loihi.ConvSynapse``'s kernel as Lava's ``PyConvModelFixed`` holds it: the ``weight``
    Var is int32 (conv/models.py:76), nothing clipped or truncated, no exponent (Lava declares
    ``weight_exp``/``num_weight_bits`` on Conv but never reads them)."""
    return wrap32(np.asarray(syn.weights).astype(np.int64))


# ------------------------------------------------------------------------------ primitives
class _Operators:
    """The primitives that are Python's own operators on numpy arrays and torch tensors alike
    (elementwise ``+ − ·`` and comparisons); the array-specific ones are in each subclass."""

    @staticmethod
    def add(a, b):
        return a + b

    @staticmethod
    def sub(a, b):
        return a - b

    @staticmethod
    def mul(a, b):
        return a * b

    @staticmethod
    def gt(a, b):
        return a > b

    @staticmethod
    def le(a, b):
        return a <= b

    @staticmethod
    def ge(a, b):
        return a >= b

    @staticmethod
    def eq(a, b):
        return a == b

    @staticmethod
    def ne(a, b):
        return a != b


class NumpyOps(_Operators):
    """The primitives on numpy int64 arrays.  Casts are numpy's, i.e. Lava's own."""

    name = "numpy"

    @staticmethod
    def const(a):
        return a

    @staticmethod
    def shl(x, k: int):
        return np.left_shift(x, k)

    @staticmethod
    def shr(x, k: int):
        """Arithmetic right shift: floor(x / 2^k)."""
        return np.right_shift(x, k)

    @staticmethod
    def trunc_shr(x, k: int):
        """x / 2^k rounded toward zero: ``sign(x) · (|x| >> k)``."""
        return np.sign(x) * np.right_shift(np.abs(x), k)

    @staticmethod
    def wrap(x, bits: int):
        """Two's-complement wrap to ``bits`` bits (int64 kept); 32 bits: numpy's int32 cast."""
        x = np.asarray(x, dtype=np.int64)
        if bits == INT32_BITS:
            return x.astype(np.int32).astype(np.int64)
        half = 1 << (bits - 1)
        return np.mod(x + half, 1 << bits) - half

    @staticmethod
    def lava_int32(acc):
        """Lava's float64 → int32 cast of a sum (numpy's cast: INT_MIN out of range on x86)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(acc).astype(np.int32).astype(np.int64)

    @staticmethod
    def mod(x, k: int):
        """Floor modulo ``x mod k`` (k > 0): of the step counter."""
        return x % k

    @staticmethod
    def where(c, a, b):
        if c is True or c is False:  # a condition on the (Python int) step counter
            return a if c else b
        return np.where(c, a, b)

    @staticmethod
    def clip(x, lo: int, hi: int):
        return np.clip(x, lo, hi)


NUMPY = NumpyOps()


class TorchOps(_Operators):
    """The primitives on torch int64 tensors on ``device`` (numpy's int32 cast as x86 does it:
    out-of-range floats → INT_MIN, written out since CUDA saturates instead)."""

    name = "torch"

    def __init__(self, device=None):
        import torch  # optional heavy dependency: only the torch engine and QAT need it

        self.torch = torch
        self.device = torch.device("cpu") if device is None else torch.device(device)

    def __reduce__(self):  # copies and pickles rebuild it (a module cannot be pickled)
        return type(self), (str(self.device),)

    def const(self, a):
        if isinstance(a, (int, np.integer)):
            return int(a)
        return self.torch.as_tensor(np.asarray(a, dtype=np.int64), device=self.device)

    def shl(self, x, k: int):
        return self.torch.bitwise_left_shift(x, k)

    def shr(self, x, k: int):
        return self.torch.bitwise_right_shift(x, k)

    def trunc_shr(self, x, k: int):
        return self.torch.sign(x) * self.torch.bitwise_right_shift(x.abs(), k)

    def wrap(self, x, bits: int):
        if bits == INT32_BITS:
            return x.to(self.torch.int32).to(self.torch.int64)
        half = 1 << (bits - 1)
        return self.torch.remainder(x + half, 1 << bits) - half

    def lava_int32(self, acc):
        acc = acc.to(self.torch.int64)
        out = (acc > INT32_MAX) | (acc < INT32_MIN)
        return self.torch.where(out, self.torch.full_like(acc, INT32_MIN), acc)

    def mod(self, x, k: int):
        return x % k if isinstance(x, int) else self.torch.remainder(x, k)

    def where(self, c, a, b):
        if c is True or c is False:
            return a if c else b
        return self.torch.where(c, a, b)

    def clip(self, x, lo: int, hi: int):
        return self.torch.clamp(x, lo, hi)


# -------------------------------------------------------------------------------- formulas
def wrap32(a):
    """Two's-complement wrap of int64 values to the int32 range (kept int64), numpy."""
    return NUMPY.wrap(a, INT32_BITS)


def wrap24(a):
    """Lava Conv's ``signed_clamp(x, 24)`` (conv/utils.py:67-84), numpy: the result lies in
    [−2^23, 2^23 − 1] (unlike the LIF u wrap, +2^23 is folded too)."""
    return NUMPY.wrap(a, CONV_BITS)


def decay(ops, x, factor):
    """``sign(x·f) · (|x·f| >> 12)``: x·f/4096 truncated toward zero (models.py:149-153)."""
    return ops.trunc_shr(ops.mul(x, factor), DECAY_SHIFT)


def wrap_uv(ops, u):
    """Lava's u wrap (models.py:161-170): ``u − 2^24`` if u > 2^23, ``u + 2^24`` if u ≤ −2^23."""
    two = 2 * MAX_UV
    return ops.where(ops.gt(u, MAX_UV), ops.sub(u, two),
                     ops.where(ops.le(u, -MAX_UV), ops.add(u, two), u))


def input_sum(ops, bufs: list):
    """(raw sum, a) of a compartment's input ports (at least one): its synapse buffers and, when
    it is wired straight to the program's input, the input's int32 value of this step.  Lava
    adds the ports in int32 (ports.py:333-350), so several are wrapped; one is already int32."""
    a = bufs[0]
    for b in bufs[1:]:
        a = ops.add(a, b)
    return a, (ops.wrap(a, INT32_BITS) if len(bufs) > 1 else a)


def weight_exp_shift(ops, acc, weight_exp: int):
    """``acc << e`` for e > 0, else the floor ``acc >> −e`` (dense/models.py:103-107)."""
    e = int(weight_exp)
    return ops.shl(acc, e) if e > 0 else ops.shr(acc, -e)


def synapse_buffer(ops, acc, weight_exp: int, pending=None):
    """Dense/Sparse/DelayDense: the int32 buffer ``wrap(pending + shift(acc, e), 32)`` from the
    int64 sums ``acc``; ``pending`` is what earlier steps left for later delays (DelayDense)."""
    acc = weight_exp_shift(ops, acc, weight_exp)
    return ops.wrap(acc if pending is None else ops.add(pending, acc), INT32_BITS)


def conv_buffer(ops, acc):
    """Conv: ``signed_clamp(int32(acc), 24)`` of the float64 sums (conv/models.py:49-51, 79)."""
    return ops.wrap(ops.lava_int32(acc), CONV_BITS)


# ---------------------------------------------------------------- sigma-delta (lava/proc/sdn)
#: ``spike_exp``/``state_exp`` are declared ``precision=3`` (sdn/models.py:218-219): 0..7
SD_EXP_MAX = 7
#: Loihi 2's graded messages have 24 bits (signed): |payload| < 2^23 (Lava's CPU models clip
#: nothing; a larger payload is a hardware divergence, verify.hardware_warnings)
MAX_PAYLOAD = 1 << 23


def sd_vth_register(vth: int, k: int) -> int:
    """``VTH = wrap(vth << k, 32)``: the constructor's ``vth * (1 << k)`` (sdn/process.py:99,
    179) copied into the int32 Var (py_builder.py:399-402)."""
    return int(wrap32(np.int64(int(vth)) << np.int64(k)))


def sd_bias_register(bias, n: int, k: int) -> np.ndarray:
    """``BIAS = wrap(bias << k, 32)`` per neuron (sdn/process.py:180), int64 (n,); ``None``: 0."""
    if bias is None:
        return np.zeros(n, dtype=np.int64)
    b = np.broadcast_to(np.asarray(bias, dtype=np.int64).reshape(-1), (n,))
    return wrap32(np.left_shift(b, int(k)))


@dataclasses.dataclass(frozen=True)
class SigmaDeltaRegisters:
    """One sigma-delta population's registers (numpy; :meth:`on` for another backend)."""

    n: int
    neuron: str  # "delta" | "sigma_delta" | "sigma"
    vth: int  # VTH (already << k, wrapped)
    bias: Any  # BIAS, int64 (n,)
    spike_exp: int
    state_exp: int
    cum_error: bool
    relu: bool

    @property
    def k(self) -> int:
        return self.spike_exp + self.state_exp

    @classmethod
    def of(cls, c) -> SigmaDeltaRegisters:
        """The registers of a ``loihi.SigmaDeltaCompartment``."""
        n = c.size
        k = int(c.spike_exp) + int(c.state_exp)
        return cls(
            n=n, neuron=str(c.neuron), vth=sd_vth_register(c.vth, k),
            bias=sd_bias_register(c.bias, n, k), spike_exp=int(c.spike_exp),
            state_exp=int(c.state_exp), cum_error=bool(c.cum_error),
            relu=c.activation == "relu",
        )

    def on(self, ops) -> SigmaDeltaRegisters:
        """The same registers with the bias in ``ops``' own form."""
        return dataclasses.replace(self, bias=ops.const(self.bias))


class SigmaDeltaState(NamedTuple):
    """A population's state: ``sigma``, ``act``, ``residue``, ``error`` (int32 as int64)."""

    sigma: Any
    act: Any
    residue: Any
    error: Any


class SigmaDeltaStep(NamedTuple):
    """One sigma-delta step's results."""

    out: Any  # what s_out sends: the payload s >> state_exp, or sigma (neuron "sigma")
    s: Any  # the delta sent, before the shift (0 where nothing is sent; sigma for "sigma")
    state: SigmaDeltaState  # the state after the step


def abs32(ops, x):
    """``np.abs`` on int32 values: ``wrap(|x|, 32)``, so |−2^31| stays −2^31 (sdn/models.py:90, 96)."""
    return ops.wrap(ops.where(ops.ge(x, 0), x, ops.sub(0, x)), INT32_BITS)


def delta_core(ops, reg: SigmaDeltaRegisters, y, st: SigmaDeltaState) -> tuple[Any, SigmaDeltaState]:
    """Lava's delta encoder (``delta_dynamics``, sdn/models.py:85-100) of the new activation
    ``y``: (s, the state with ``act = y``); see the module docstring (``≥``, abs32, wraps)."""
    delta = ops.wrap(ops.add(ops.sub(y, st.act), st.residue), INT32_BITS)
    error = st.error
    if reg.cum_error:
        error = ops.wrap(ops.add(error, delta), INT32_BITS)
        s = ops.where(ops.ge(abs32(ops, error), reg.vth), delta, 0)
        error = ops.where(ops.gt(abs32(ops, s), 0), 0, error)
    else:
        s = ops.where(ops.ge(abs32(ops, delta), reg.vth), delta, 0)
    residue = ops.wrap(ops.sub(delta, s), INT32_BITS)
    return s, SigmaDeltaState(st.sigma, y, residue, error)


def sigma_delta_step(ops, reg: SigmaDeltaRegisters, st: SigmaDeltaState, a) -> SigmaDeltaStep:
    """One step of Lava's ``PyDeltaModelFixed`` (sdn/models.py:223-231),
    ``PySigmaDeltaModelFixed`` (:279-284) or ``PySigmaModelFixed`` (:54-57), by
    ``reg.neuron``, with this step's int32 input ``a``; ``reg`` in ``ops``' form."""
    if reg.neuron == "sigma":
        sigma = ops.wrap(ops.add(st.sigma, a), INT32_BITS)
        return SigmaDeltaStep(sigma, sigma, st._replace(sigma=sigma))
    if reg.neuron == "delta":
        y = ops.wrap(ops.shl(a, reg.k), INT32_BITS)
    else:
        sigma = ops.wrap(ops.add(st.sigma, a), INT32_BITS)
        st = st._replace(sigma=sigma)
        y = ops.wrap(ops.add(sigma, reg.bias), INT32_BITS)
        if reg.relu:
            y = ops.where(ops.gt(y, 0), y, 0)
    s, st = delta_core(ops, reg, y, st)
    return SigmaDeltaStep(ops.shr(s, reg.state_exp), s, st)


def graded_synapse_buffer(ops, acc, weight_exp: int):
    """Dense/Sparse with graded payloads (``num_message_bits > 0``): Lava's int32 dot wraps
    the exact sums ``acc`` *before* the ``weight_exp`` shift (dense/models.py:97-107; the
    binary path shifts its int64 sums first, :func:`synapse_buffer`)."""
    return ops.wrap(weight_exp_shift(ops, ops.wrap(acc, INT32_BITS), weight_exp), INT32_BITS)


def graded_delay_sums(ops, w, s):
    """DelayDense with graded payloads: ``Σ_j wrap(W[r, j]·s_j, 32)`` per row ``r`` of the
    stacked delay blocks ``w`` (rows, n_in) for payloads ``s`` (batch, n_in): Lava multiplies
    in int32 (each product wraps) and sums the row in int64 (dense/models.py:202-218); the
    result goes through :func:`synapse_buffer`."""
    return ops.wrap(ops.mul(w[None, :, :], s[:, None, :]), INT32_BITS).sum(-1)


class LifStep(NamedTuple):
    """One LIF step's results and the intermediates it computed (see the module docstring)."""

    u: Any  # u after the step
    v: Any  # v after the reset
    s: Any  # spikes (bool)
    v_pre: Any  # v after the clip, before the reset
    a_shift: Any  # a << 6, before its int32 wrap
    u_raw: Any  # decay(u) + (a << 6): before the int32 and the 24-bit wrap
    v_raw: Any  # decay(v) + u + b: before the int32 wrap and the clip


def reset_due(ops, t, interval: int, offset: int):
    """``LIFReset``'s condition at raw step ``t``: ``time_step mod I == offset mod I`` with
    ``time_step = t + 1`` (models.py:412, 432); ``offset`` already taken mod ``interval``."""
    return ops.eq(ops.mod(ops.add(t, 1), int(interval)), int(offset) % int(interval))


def lif_step(ops, reg: LifRegisters, u, v, a, t) -> LifStep:
    """Lava's LIF update at raw step ``t`` (a Python int, or the backend's step tensor) with
    summed input ``a``; ``reg`` in ``ops``' form (:meth:`LifRegisters.on`).  With
    ``reg.reset_interval > 0`` it is ``LIFReset``'s update (u, v zeroed first when due)."""
    bias = reg.bias
    k = reg.start_step
    if k > 0:
        at_k = ops.eq(t, k)
        u = ops.where(at_k, reg.u_init, u)
        v = ops.where(at_k, reg.v_init, v)
        bias = ops.where(ops.ge(t, k), bias, 0)
    if reg.reset_interval > 0:
        due = reset_due(ops, t, reg.reset_interval, reg.reset_offset)
        if due is not False:  # a Python bool when t is a Python int: nothing to build
            u = ops.where(due, ops.mul(u, 0), u)
            v = ops.where(due, ops.mul(v, 0), v)
    a_shift = ops.shl(a, ACT_SHIFT)
    u_raw = ops.add(decay(ops, u, reg.du_factor), a_shift)
    u = wrap_uv(ops, ops.wrap(u_raw, INT32_BITS))
    v_raw = ops.add(ops.add(decay(ops, v, reg.dv_factor), u), bias)
    v_pre = ops.clip(ops.wrap(v_raw, INT32_BITS), -V_LIMIT, V_LIMIT)
    s = ops.gt(v_pre, reg.vth_eff)
    return LifStep(u, ops.where(s, 0, v_pre), s, v_pre, a_shift, u_raw, v_raw)


# --------------------------------------------------- float forms (the fast path, under proofs)
def decay_fraction(factor) -> np.ndarray:
    """A decay factor as the float64 fraction ``factor / 4096`` that :func:`decay_inplace`
    multiplies by (exact: a 12-bit binary fraction)."""
    return np.asarray(factor, dtype=np.float64) / DECAY_UNITY


def decay_inplace(x: np.ndarray, fraction) -> None:
    """``x ← trunc(x · factor / 4096)`` in place on float64 integers: :func:`decay` exactly while
    |x · factor| < 2^53 (the product is then exact and ``trunc`` rounds toward zero)."""
    np.multiply(x, fraction, out=x)
    np.trunc(x, out=x)


def wrap_uv_inplace(u: np.ndarray, mask: np.ndarray, tmp: np.ndarray) -> None:
    """:func:`wrap_uv` in place (float or int ``u``; ``mask`` bool, ``tmp`` like ``u``).

    ``u − 2^24·[u > 2^23]`` then ``+ 2^24·[u ≤ −2^23]`` on the result, which is Lava's single
    conditional step (a value just lowered lies above −2^23).  Multiplying by the mask is ~10x
    faster than a masked ufunc (``where=``)."""
    np.greater(u, MAX_UV, out=mask)
    np.multiply(mask, 2 * MAX_UV, out=tmp)
    u -= tmp
    np.less_equal(u, -MAX_UV, out=mask)
    np.multiply(mask, 2 * MAX_UV, out=tmp)
    u += tmp

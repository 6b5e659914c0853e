"""Synapse blocks exactly as Lava 0.10.0's bit-accurate connection models compute them.

(Convolution blocks, ``ConvSynapse``: :class:`ConvSynapseState`, documented there.)

``PyDenseModelBitAcc`` / ``PySparseModelBitAcc`` (lava/proc/{dense,sparse}/models.py:77-107)
and ``PyDelayDenseModelBitAcc`` (lava/proc/dense/models.py:314-352), for binary spikes
(``num_message_bits = 0``).

Weights, once (Lava does it on its first ``run_spk``; lava/utils/weightutils.py)::

    W  = int32(weights)                                    (the Var's dtype)
    W  = clip(W, [-256, 255] MIXED | [0, 255] EXC, NULL | [-255, 0] INH)
    k  = 8 - num_weight_bits + (sign_mode == MIXED)
    W  = (W >> k) << k          on |W| for INH, on W otherwise (floor: MIXED -3 -> -4)

Every step t, with s[t] the source's spikes of step t (binary)::

    send   buf[:, 0]                                        (computed at step t-1)
    acc_d  = Σ_j  W[i, j] · s_j[t] · [delay_ij == d]        (int64, d = 0..D)
    acc_d  = acc_d << e   if e > 0   else   acc_d >> -e     (e = weight_exp; floor)
    buf    = roll(buf, -1) with the old column 0 cleared;  buf[:, d] += acc_d
    buf    = int32 wrap                                      (Lava: int32 channel / a_buff)

Without ``delays`` D = 0 and ``buf[:, 0] = int32(acc_0)``: the classic one-step delay.
The sums are computed as float64 matrix products of 0/1 spikes with integer weights,
exact because every partial sum stays far below 2**53.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.compiler import linear
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.loihi import SignMode

#: Lava's Conv output precision (``PyConvModelFixed.clamp_precision``: ``signed_clamp(x, 24)``)
CONV_BITS = 24


def wrap32(a: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (kept as int64)."""
    return np.asarray(a, dtype=np.int64).astype(np.int32).astype(np.int64)


def clip_weights(w: np.ndarray, sign_mode: SignMode) -> np.ndarray:
    """Lava's ``clip_weights(w, sign_mode, num_bits=8)`` on an int32 array."""
    w = np.asarray(w).astype(np.int32)
    inh = sign_mode == SignMode.INHIBITORY
    mixed = sign_mode == SignMode.MIXED
    if inh:
        w = -w
    w = np.clip(w, -256 if mixed else 0, 255).astype(np.int32)
    return -w if inh else w


def truncate_weights(w: np.ndarray, sign_mode: SignMode, num_weight_bits: int) -> np.ndarray:
    """Lava's ``truncate_weights``: drop ``8 - num_weight_bits + is_mixed`` LSBs (floor)."""
    w = np.asarray(w).astype(np.int32)
    inh = sign_mode == SignMode.INHIBITORY
    k = np.int32(8 - int(num_weight_bits) + int(sign_mode == SignMode.MIXED))
    if inh:
        w = -w
    w = (w >> k) << k
    return -w if inh else w


def effective_weights(syn: loihi.Synapse) -> np.ndarray | sp.csr_matrix:
    """The weights Lava actually uses (int32 values as int64), dense or CSR like ``syn``."""
    sm = SignMode(syn.sign_mode)
    if syn.is_sparse:
        m = sp.csr_matrix(syn.weights, copy=True)
        data = truncate_weights(clip_weights(m.data, sm), sm, syn.num_weight_bits)
        m = sp.csr_matrix((data.astype(np.int64), m.indices, m.indptr), shape=m.shape)
        m.eliminate_zeros()
        return m
    w = np.asarray(syn.weights)
    return truncate_weights(clip_weights(w, sm), sm, syn.num_weight_bits).astype(np.int64)


def apply_weight_exp(acc: np.ndarray, weight_exp: int) -> np.ndarray:
    """``acc << e`` for e > 0, else the arithmetic (floor) ``acc >> -e``, in int64."""
    e = int(weight_exp)
    return np.left_shift(acc, e) if e > 0 else np.right_shift(acc, -e)


class SynapseState:
    """One synapse block for a batch: its effective weights and its output buffer."""

    def __init__(self, syn: loihi.Synapse, batch: int):
        w = effective_weights(syn)
        self.n_out, self.n_in = syn.n_out, syn.n_in
        self.weight_exp = int(syn.weight_exp)
        if syn.delays is None:
            self.depth = 1
            blocks = [w]
        else:
            delays = np.asarray(syn.delays, dtype=np.int64)
            self.depth = int(delays.max(initial=0)) + 1
            wd = w.toarray() if sp.issparse(w) else w
            blocks = [np.where(delays == d, wd, 0) for d in range(self.depth)]
            if sp.issparse(w):
                blocks = [sp.csr_matrix(b) for b in blocks]
        # stacked (depth * n_out, n_in) matrix; row block d holds the delay-d weights
        if sp.issparse(blocks[0]):
            self.matrix = sp.vstack(blocks, format="csr").astype(np.float64)
        else:
            self.matrix = np.vstack(blocks).astype(np.float64)
        self.buf = np.zeros((batch, self.n_out, self.depth), dtype=np.int64)

    def output(self) -> np.ndarray:
        """What the block sends this step: (batch, n_out) int32 values (as int64)."""
        return self.buf[:, :, 0]

    def update(self, spikes: np.ndarray) -> None:
        """Accumulate this step's binary source spikes (batch, n_in) into the buffer."""
        s = spikes.astype(np.float64)
        if sp.issparse(self.matrix):
            acc = np.asarray(self.matrix @ s.T).T
        else:
            acc = s @ self.matrix.T
        acc = acc.astype(np.int64).reshape(s.shape[0], self.depth, self.n_out)
        acc = apply_weight_exp(acc, self.weight_exp).transpose(0, 2, 1)
        if self.depth == 1:
            self.buf = wrap32(acc)
        else:
            buf = np.roll(self.buf, -1, axis=2)
            buf[:, :, -1] = 0
            self.buf = wrap32(buf + acc)


def wrap24(a: np.ndarray) -> np.ndarray:
    """Lava's ``signed_clamp(x, bits=24)``: ``(x + 2^23) mod 2^24 − 2^23`` (floor mod), int64.

    The result lies in [−2^23, 2^23 − 1] (unlike the LIF ``u`` wrap, +2^23 is folded too).
    """
    half = 1 << (CONV_BITS - 1)
    return np.mod(np.asarray(a, dtype=np.int64) + half, 1 << CONV_BITS) - half


def conv_weights(syn: loihi.ConvSynapse) -> np.ndarray:
    """The kernel as Lava's ``PyConvModelFixed`` holds it: the ``weight`` Var is int32.

    No clip, no truncation, no exponent (Lava declares ``weight_exp``/``num_weight_bits``
    on Conv but never reads them).  Integer weights beyond int32 wrap (int64 -> int32 cast).
    """
    return np.asarray(syn.weights).astype(np.int64).astype(np.int32).astype(np.int64)


def conv_matrix(syn: loihi.ConvSynapse) -> sp.csr_matrix:
    """The convolution of ``syn`` as a float64 CSR matrix (n_out, n_in) over C-order (C, H, W).

    Built by :func:`snnc.compiler.linear.as_matrix` of the equivalent ``ops.Conv2d`` (torch's
    cross-correlation convention, the model's), so compiler and emulator share one meaning.
    """
    w = conv_weights(syn)
    op = ops.Conv2d(
        input_shape=tuple(int(d) for d in syn.in_shape[1:]),
        weight=w.astype(np.float64),
        stride=tuple(int(v) for v in syn.stride),
        padding=tuple(int(v) for v in syn.padding),
        dilation=tuple(int(v) for v in syn.dilation),
        groups=int(syn.groups),
        bias=np.zeros(w.shape[0]),
    )
    return linear.as_matrix(op).tocsr()


class ConvSynapseState:
    """One ``ConvSynapse`` for a batch, as Lava 0.10.0's ``PyConvModelFixed`` computes it.

    lava/proc/conv/models.py:34-54 and lava/proc/conv/utils.py (``conv``, ``conv_scipy``,
    ``signed_clamp``).  Lava 0.10.0 hard-codes ``TORCH_IS_AVAILABLE = False``, so the
    convolution is ``scipy.signal.convolve2d`` in **float64** (not float32 torch)::

        send   a_buf                                        (computed at step t-1)
        acc    = conv(s[t] as bool, W)                      (float64; exact: |acc| < 2^53)
        acc    = acc.astype(int32)                          (``output.astype(weight.dtype)``)
        a_buf  = (acc + 2^23) mod 2^24 − 2^23               (``signed_clamp``, 24 bits)

    ``W`` is int32 (see :func:`conv_weights`).  Here ``acc`` is the same float64 sum, taken as
    a sparse matrix product (exact for the same range), then cast to int32 with numpy's own
    cast, so even an accumulator beyond int32 (numpy gives INT_MIN on x86) matches Lava.
    """

    def __init__(self, syn: loihi.ConvSynapse, batch: int):
        self.n_out, self.n_in = syn.n_out, syn.n_in
        self.matrix = conv_matrix(syn)
        self.buf = np.zeros((batch, self.n_out), dtype=np.int64)

    def output(self) -> np.ndarray:
        """What the block sends this step: (batch, n_out) signed 24-bit values (as int64)."""
        return self.buf

    def update(self, spikes: np.ndarray) -> None:
        """Convolve this step's binary source spikes (batch, n_in) into the buffer."""
        s = np.asarray(spikes).astype(bool).astype(np.float64)
        acc = np.asarray(self.matrix @ s.T).T
        with np.errstate(invalid="ignore"):
            acc32 = acc.astype(np.int32)
        self.buf = wrap24(acc32)


def synapse_state(syn: loihi.Synapse | loihi.ConvSynapse, batch: int):
    """The emulator state of either connection kind."""
    if isinstance(syn, loihi.ConvSynapse):
        return ConvSynapseState(syn, batch)
    return SynapseState(syn, batch)

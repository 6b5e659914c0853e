"""Synapse blocks exactly as Lava 0.10.0's bit-accurate connection models compute them.

``PyDenseModelBitAcc`` / ``PySparseModelBitAcc`` (lava/proc/{dense,sparse}/models.py:77-107)
and ``PyDelayDenseModelBitAcc`` (lava/proc/dense/models.py:314-352), for binary spikes
(``num_message_bits = 0``); convolution blocks (``ConvSynapse``): :class:`ConvSynapseState`.

The arithmetic is stated in :mod:`snnc.compiler.ir.arith`: the weights Lava uses
(``effective_weights``: int32, clip, LSB truncation), the buffer of a step
(``synapse_buffer``: ``weight_exp`` shift, int32 wrap; ``conv_buffer``: int32 cast, 24-bit
``signed_clamp``).  This module holds a block's matrix and buffer for a batch, on numpy or
(given the torch engine's arrays) on torch, in this order every step t::

    send   buf[:, 0]                                        (computed at step t-1)
    acc_d  = Σ_j  W[i, j] · s_j[t] · [delay_ij == d]        (d = 0..D)
    buf    = roll(buf, -1) with the old column 0 cleared;  buf = synapse_buffer(acc, e, buf)

Without ``delays`` D = 0 and ``buf[:, 0] = synapse_buffer(acc_0, e)``: the classic one-step
delay.  The sums are float64 matrix products of 0/1 spikes with integer weights, exact
because every partial sum stays far below 2**53.

Graded payloads (``num_message_bits > 0``; the source is a sigma-delta population or an int32
input, ``s_j`` int32): Dense/Sparse take the exact integer sums (:func:`exact_sums`) through
``arith.graded_synapse_buffer`` (int32 wrap before the shift); DelayDense wraps each product
(``arith.graded_delay_sums``, computed only when a product can reach 2^31: otherwise the exact
sums are the same) then ``synapse_buffer``; Conv takes the float64 sums of the payloads, as
Lava does.  With ``num_message_bits = 0`` any non-zero payload counts as one spike.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.backends.emulator.arrays import NUMPY_ARRAYS
from snnc.compiler import linear
from snnc.compiler.ir import arith, loihi, ops
from snnc.compiler.ir.arith import (  # noqa: F401 (re-exported: netx_weights, profiler, tests)
    CONV_BITS,
    INT32_MAX,
    clip_weights,
    conv_weights,
    effective_weights,
    truncate_weights,
    wrap24,
    wrap32,
)
from snnc.errors import ValidationError

#: every integer below it is a float64: a float64 sum of integers below it is exact
F64_EXACT = 1 << 53
#: payload split for :func:`exact_sums`: s = hi · 2^16 + lo, 0 ≤ lo < 2^16
SPLIT_BITS = 16


def exact_sums(xp, m, payload, bound: int):
    """Σ_j M[i, j]·s_j exactly, int64 (b, rows), for integer payloads ``s`` (b, n_in) and a
    float64 integer matrix ``M`` whose absolute row sums are at most ``bound``.

    One float64 product when max|s| · bound < 2^53 (every partial sum is then an exact
    integer, whatever the summation order); otherwise s = hi·2^16 + lo and two products,
    each exact (bound < 2^37), combined in int64."""
    mx = xp.max_abs(payload)
    if mx * bound < F64_EXACT:
        return xp.to_int64(xp.sums(m, payload))
    if bound << SPLIT_BITS >= F64_EXACT:
        raise ValidationError(f"synapse rows sum to {bound} in absolute value: too large for exact "
                              "graded sums", hint="keep weights on Lava's 8-bit grid")
    hi = xp.shr(payload, SPLIT_BITS)
    lo = xp.sub(payload, xp.shl(hi, SPLIT_BITS))
    return xp.add(xp.shl(xp.to_int64(xp.sums(m, hi)), SPLIT_BITS), xp.to_int64(xp.sums(m, lo)))


def _row_bound(m) -> int:
    """max_i Σ_j |M[i, j]| of a float64 integer matrix (dense or sparse)."""
    a = abs(m).sum(axis=1)
    return int(np.max(np.asarray(a), initial=0))


class SynapseState:
    """One synapse block for a batch: its effective weights and its output buffer."""

    def __init__(self, syn: loihi.Synapse, batch: int, xp=NUMPY_ARRAYS):
        self.xp = xp
        self.graded = int(syn.num_message_bits) > 0
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
        self.bound = _row_bound(self.matrix) if self.graded else 0
        # DelayDense, graded: Lava's int32 products wrap one by one (arith.graded_delay_sums)
        self.w_max = int(np.max(np.abs(self.matrix.data if sp.issparse(self.matrix) else self.matrix),
                                initial=0))
        self.w_int = None
        if self.graded and self.depth > 1:
            stacked = self.matrix.toarray() if sp.issparse(self.matrix) else self.matrix
            self.w_int = xp.const(stacked.astype(np.int64))
        self.matrix = xp.matrix(self.matrix)
        self.reset(batch)

    def reset(self, batch: int) -> None:
        """Empty buffers for a batch of ``batch`` samples."""
        self.buf = self.xp.zeros((batch, self.n_out, self.depth))

    def output(self):
        """What the block sends this step: (batch, n_out) int32 values (as int64)."""
        return self.buf[:, :, 0]

    def sums(self, spikes):
        """Σ_j W_d[i, j]·s_j of this step's source output (batch, n_in), delay-major
        (batch, depth·n_out): binary (any non-zero value is a spike), float64, exact; graded,
        int64, exact (DelayDense: each product wrapped to int32 as Lava's)."""
        xp = self.xp
        if not self.graded:
            return xp.sums(self.matrix, spikes, binary=True)
        if self.w_int is not None and xp.max_abs(spikes) * self.w_max > INT32_MAX:
            return arith.graded_delay_sums(xp, self.w_int, xp.to_int64(spikes))
        return exact_sums(xp, self.matrix, spikes, self.bound)

    def load(self, acc) -> None:
        """Accumulate this step's sums (:meth:`sums`) into the buffer."""
        xp = self.xp
        acc = xp.by_delay(xp.to_int64(acc), self.depth, self.n_out)
        pending = xp.advance(self.buf) if self.depth > 1 else None
        if self.graded and pending is None:
            self.buf = arith.graded_synapse_buffer(xp, acc, self.weight_exp)
        else:
            self.buf = arith.synapse_buffer(xp, acc, self.weight_exp, pending)

    def update(self, spikes) -> None:
        """Accumulate this step's source output (batch, n_in) into the buffer."""
        self.load(self.sums(spikes))


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

    def __init__(self, syn: loihi.ConvSynapse, batch: int, xp=NUMPY_ARRAYS):
        self.xp = xp
        self.graded = int(syn.num_message_bits) > 0
        self.n_out, self.n_in = syn.n_out, syn.n_in
        self.matrix = xp.matrix(conv_matrix(syn))
        self.reset(batch)

    def reset(self, batch: int) -> None:
        self.buf = self.xp.zeros((batch, self.n_out))

    def output(self):
        """What the block sends this step: (batch, n_out) signed 24-bit values (as int64)."""
        return self.buf

    def sums(self, spikes):
        """The float64 convolution sums (batch, n_out) of this step's spikes (as bool), or of
        its graded payloads (Lava's float64 sums: exact while below 2^53)."""
        return self.xp.sums(self.matrix, spikes, binary=not self.graded)

    def load(self, acc) -> None:
        self.buf = arith.conv_buffer(self.xp, acc)

    def update(self, spikes) -> None:
        """Convolve this step's binary source spikes (batch, n_in) into the buffer."""
        self.load(self.sums(spikes))


def synapse_state(syn: loihi.Synapse | loihi.ConvSynapse, batch: int, xp=NUMPY_ARRAYS):
    """The emulator state of either connection kind."""
    if isinstance(syn, loihi.ConvSynapse):
        return ConvSynapseState(syn, batch, xp)
    return SynapseState(syn, batch, xp)

"""Convolution blocks on the emulator's fast path: im2col of channels-last spikes, one exact
matrix product per group.

Lava's ``PyConvModelFixed`` (see :class:`~snnc.backends.emulator.synapse.ConvSynapseState`)
sends, for the spikes ``s`` of step t::

    acc[o, i, j] = Σ_{c, p, q} W[o, c, p, q] · s[c, s_h·i + d_h·p − pad_h, s_w·j + d_w·q − pad_w]
    a_buf        = signed_clamp(int32(acc), 24)          (arith.conv_buffer)

Exactness (B = max_o Σ_{c,p,q} |W[o, c, p, q]|, the largest |acc| any output can reach; a
padded position only removes terms):

* ``B ≤ 2^23 − 1``: every ``acc`` lies in [−2^23, 2^23 − 1], so the int32 cast and the 24-bit
  ``signed_clamp`` change nothing and ``a_buf = acc``; otherwise the block is refused (generic
  engine);
* **int8**: when W = 2^k·W8 with int8 W8 and B < 2^31, the sums are int8 × int8 → int32 products
  (``torch._int_mm``, probed against numpy as for the dense blocks): exact, each partial sum
  lies within ±B;
* **float**: otherwise, with 64·B ≤ 2^24 (implied by the fast path's A_c ≤ 2^18 guard), the
  products of 0/1 spikes with ``64·W`` in float32 are exact whatever the summation order (every
  partial sum is an integer of magnitude ≤ 64·B ≤ 2^24); float64 otherwise (64·B < 2^53).

Both return ``a << 6`` (the compartment's input as it enters u).  The spikes are held
channels-last, (H, W, C) in C order, by the compartments a convolution reads or writes
(:func:`hwc_order`), so the im2col of one step is one strided copy of bytes
(batch·H'·W', kH·kW·C/groups) per group and its product's rows are already the next
population's channels-last layout: no transposes per step.

Event-driven accumulation (adding the kernel of each input spike) was measured against these
products on PilotNet's layers at their 10 % spike rates (docs/benchmarks.md): the products win,
so only they are implemented.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.compiler.ir import loihi
from snnc.compiler.ir.arith import ACT_SHIFT, CONV_BITS, INT32_MAX, conv_weights

#: largest |acc| for which Lava's int32 cast and 24-bit clamp are provably idle
MAX_CONV_SUM = (1 << (CONV_BITS - 1)) - 1
F32_EXACT = 2 ** (np.finfo(np.float32).nmant + 1)  # every integer below it is a float32
I32_EXACT = INT32_MAX + 1  # int32 accumulators (torch._int_mm)


def hwc_order(shape) -> np.ndarray:
    """The channels-last order of a (C, H, W) population: position i of the (H, W, C) layout
    holds C-order element ``hwc_order(shape)[i]``."""
    c, h, w = (int(d) for d in shape)
    return np.arange(c * h * w, dtype=np.int64).reshape(c, h, w).transpose(1, 2, 0).ravel()


@dataclasses.dataclass
class ConvBlock:
    """One ``ConvSynapse`` in the fast path's form (see the module docstring)."""

    in_shape: tuple[int, int, int]  # (C, H, W)
    out_shape: tuple[int, int, int]  # (C', H', W')
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    bound: int  # B
    dtype: type  # the float product's dtype (float32 or float64)
    wf: np.ndarray  # (groups, K, C'/groups) float, scaled by 64, K = kH·kW·C/groups (kH, kW, c)
    i8: list | None = None  # per group: torch int8 (K, C'/groups) column-major
    i8_shift: int = 0

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))


def build(syn: loihi.ConvSynapse, int_mm=None) -> ConvBlock | None:
    """The fast path's form of ``syn``, or ``None`` if its sums could exceed what is proven
    exact.  ``int_mm``: the probed ``torch._int_mm`` (``None``: float products only)."""
    w = conv_weights(syn)  # (C', C/g, kH, kW) int64 holding int32
    bound = int(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
    if bound > MAX_CONV_SUM:
        return None
    g = int(syn.groups)
    co, cg, kh, kw = w.shape
    # (g, C'/g, C/g, kH, kW) -> (g, kH, kW, C/g, C'/g) -> (g, K, C'/g): rows in im2col order
    wg = w.reshape(g, co // g, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(g, kh * kw * cg, co // g)
    dtype = np.float32 if (bound << ACT_SHIFT) <= F32_EXACT else np.float64
    blk = ConvBlock(
        in_shape=tuple(int(d) for d in syn.in_shape), out_shape=tuple(int(d) for d in syn.out_shape),
        kernel=(kh, kw), stride=tuple(int(v) for v in syn.stride),
        padding=tuple(int(v) for v in syn.padding), dilation=tuple(int(v) for v in syn.dilation),
        groups=g, bound=bound, dtype=dtype,
        wf=np.ascontiguousarray((wg.astype(np.float64) * (1 << ACT_SHIFT)).astype(dtype)),
    )
    if int_mm is not None and bound < I32_EXACT:
        _int8_weights(blk, wg, int_mm)
    return blk


def int8_factor(w: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(k, W8)`` with ``w = 2^k·W8`` and W8 within int8 (k: the largest power of two dividing
    every non-zero weight, at most 31), or ``None`` when W8 does not fit or ``w`` is empty."""
    nz = w[w != 0]
    k = 0
    if nz.size:
        while k < 31 and not np.any(nz & ((1 << (k + 1)) - 1)):
            k += 1
    w8 = w >> k
    if w8.size == 0 or w8.min() < -128 or w8.max() > 127:
        return None
    return k, w8


def int8_probe(int_mm, mat, ref: np.ndarray, rows: tuple[int, ...]) -> bool:
    """Whether ``int_mm(spikes, mat)`` equals numpy's ``spikes @ ref`` (ref: (K, N) int) on random
    0/1 spikes of each row count (torch's private ``_int_mm``: any exception means no)."""
    import torch  # optional heavy dependency: present, since int_mm was found

    rng = np.random.default_rng(0)
    for n in rows:
        probe = (rng.random((n, ref.shape[0])) < 0.5).astype(np.int8)
        try:
            got = int_mm(torch.from_numpy(probe), mat).numpy()
        except Exception:  # noqa: BLE001 - private API: any problem means "not available"
            return False
        if not np.array_equal(got, probe.astype(np.int64) @ ref):
            return False
    return True


def _int8_weights(blk: ConvBlock, wg: np.ndarray, int_mm) -> None:
    """W = 2^k·W8 with int8 W8: torch int8 weights per group, probed against numpy."""
    import torch  # optional heavy dependency: present, since int_mm was found

    factored = int8_factor(wg)
    if factored is None or factored[1].shape[1] < 16:
        return  # K < 16: torch 2.13's CPU _int_mm is wrong for K = 1 (fast.py), and gains nothing
    k, w8 = factored
    # (K, C'/g) column-major: _int_mm's fast layout (the transpose of a C-order (C'/g, K))
    mats = [torch.from_numpy(np.ascontiguousarray(w8[i].T.astype(np.int8))).t() for i in range(blk.groups)]
    if int8_probe(int_mm, mats[0], w8[0], (1, 3, 32, 65)):
        blk.i8, blk.i8_shift = mats, k


class Im2col:
    """The im2col of one block for a fixed number of rows (samples × steps) of spikes: a
    zero-padded channels-last byte buffer, refilled each call, and strided views of it."""

    def __init__(self, blk: ConvBlock, rows: int, torch_module=None):
        c, h, w = blk.in_shape
        ph, pw = blk.padding
        self.blk, self.rows, self.torch = blk, rows, torch_module
        self.pad = np.zeros((rows, h + 2 * ph, w + 2 * pw, c), np.uint8)
        self.inner = self.pad[:, ph:ph + h, pw:pw + w, :]
        _, ho, wo = blk.out_shape
        kh, kw = blk.kernel
        sh, sw = blk.stride
        dh, dw = blk.dilation
        st = self.pad.strides
        self.view = np.lib.stride_tricks.as_strided(
            self.pad, (rows, ho, wo, kh, kw, c),
            (st[0], st[1] * sh, st[2] * sw, st[1] * dh, st[2] * dw, st[3]), writeable=False)
        self.out_rows = rows * ho * wo

    def columns(self, group: int) -> np.ndarray:
        """uint8 (rows·H'·W', K) of group ``group`` of the spikes last :meth:`load`-ed."""
        cg = self.blk.in_shape[0] // self.blk.groups
        v = self.view if self.blk.groups == 1 else self.view[..., group * cg:(group + 1) * cg]
        return np.ascontiguousarray(v).reshape(self.out_rows, -1)

    def load(self, x: np.ndarray) -> None:
        """Spikes ``x`` (rows, H·W·C) bool, channels-last, into the padded buffer."""
        c, h, w = self.blk.in_shape
        np.copyto(self.inner, x.reshape(x.shape[0], h, w, c).view(np.uint8))


def sums(blk: ConvBlock, x: np.ndarray, int_mm=None, cache: dict | None = None) -> np.ndarray:
    """``a << 6`` of block ``blk`` for spikes ``x`` (rows, H·W·C) bool channels-last: (rows,
    H'·W'·C') channels-last, int32 (int8 kernel) or ``blk.dtype``.  ``cache`` keeps the im2col
    buffers between calls of the same row count."""
    rows = x.shape[0]
    key = ("im2col", rows)
    if cache is not None and key in cache:
        ic = cache[key]
    else:
        ic = Im2col(blk, rows)
        if cache is not None:
            cache[key] = ic
    ic.load(x)
    co = blk.out_shape[0]
    cog = co // blk.groups
    use8 = blk.i8 is not None and int_mm is not None
    out = None if blk.groups == 1 else np.empty((ic.out_rows, co), np.int32 if use8 else blk.dtype)
    for gi in range(blk.groups):
        cols = ic.columns(gi)
        if use8:
            import torch  # optional heavy dependency: loaded by the int8 probe already

            r = int_mm(torch.from_numpy(cols.view(np.int8)), blk.i8[gi]).numpy()
        else:
            r = np.matmul(cols.astype(blk.dtype), blk.wf[gi])
        if blk.groups == 1:
            out = r
        else:
            out[:, gi * cog:(gi + 1) * cog] = r
    if use8:
        out <<= blk.i8_shift + ACT_SHIFT
    return out.reshape(rows, -1)

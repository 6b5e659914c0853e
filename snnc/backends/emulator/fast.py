"""The emulator's fast path: the arithmetic of :mod:`snnc.compiler.ir.arith` (its constants,
registers, effective weights and float forms), in floating point where that is provably
exact, in place, with no int32 wraps where none can occur.

:func:`plan` inspects a graph and returns ``None`` (use the generic engine) unless every
guard below holds; :func:`run_fast` then computes exactly what the generic engine computes.

Guards (B_k = ceil(max_i Σ_j |W_k[i, j]| · 2^e_k), the largest |acc| block k can send; A_c = Σ of
B_k over the blocks feeding compartment c):

* no sigma-delta population and no graded synapse (``num_message_bits > 0``): generic path;
* every connection is a ``Synapse`` without ``delays`` (DelayDense: generic path) or a
  ``ConvSynapse`` whose Σ|W| per output is at most 2^23 − 1, so Lava's int32 cast and 24-bit
  clamp are idle (:mod:`.fast_conv`: im2col, int8 or exact float products, its proofs); a
  sparse block with more than :data:`MAX_DENSE` entries (pooling) stays a CSR product, exact
  under the same row-sum bounds as the dense float products;
* a compartment fed by the input directly adds the input's value of the step to its a_in
  (A_c includes max |x| over the run's input), or on the bias route takes each sample's bias
  (|b| ≤ 2^29 checked on the values); a periodic reset (``reset_interval``, LIFReset) zeroes
  u and v before the update, as :func:`snnc.compiler.ir.arith.lif_step` does;
* block sums are exact: max_i Σ_j |W[i, j]| < 2^24 → float32 products (every partial sum of
  0/1 spikes times integers is an integer below 2^24, so float32 BLAS rounds nothing,
  whatever its summation order); < 2^53 → float64; otherwise generic.  Scaling the
  weights by 2^(e+6) (e ≥ 0) or by 2^e (e < 0, then ``floor``) changes exponents only;
* ``0 ≤ 4096 − (du + 1) ≤ 4096`` and ``0 ≤ 4096 − dv ≤ 4096`` (decays shrink),
  ``|u_init| ≤ 2^23``, ``|v_init| < 2^23``, ``|b| ≤ 2^29`` and ``A_c ≤ 2^18``.

Then, by induction, |u| ≤ 2^23 after every step (64·A ≤ 2^24: one conditional ±2^24 brings u'
back), |u'| < 2^31, |a << 6| < 2^31, every buffer and every sum of buffers < 2^31 and
|decay(v) + u + b| < 2^31: none of Lava's int32 wraps can change a value, so they are
skipped.  u and v are held as float64 integers (all < 2^53, so ``u·f/4096`` is exact and
``trunc`` is Lava's ``sign(x)·(|x| >> 12)``).

Two more shortcuts, each exact:

* with ``du = 4095`` everywhere (Lava's factor 4096 − (du + 1) = 0: u keeps nothing from the
  step before) and 64·A_c < 2^23 (the ±2^24 wrap cannot fire), ``u = a << 6`` is added
  straight into v and never stored;
* with ``vth << 6 < 2^23 − 1`` the upper clip is dropped: a v above 2^23 − 1 spikes and is
  reset to 0 either way, so only ``max(v, −(2^23 − 1))`` remains; with the bound M_v of
  :func:`_v_bound` ≤ 2^23 − 1 neither side of the clip can fire and it is dropped;
* u and v are held in **float32** where :func:`_f32_exact` proves every value an integer below
  2^24 and every decay product exact (half the memory traffic of float64);
* the step of a ``du = 4095`` population runs fused in C where a compiler is available
  (:mod:`.fast_native`: one pass per row, the same exact operations in the same order).

Convolutions read and write their populations channels-last ((H, W, C) order, one im2col copy
per step and no transposes); recorded spikes and v are put back in C order.

The per-synapse part of a plan (effective weights, row sums, int8 or float copies) is cached
per ``Synapse`` node (nodes are immutable, their arrays read-only), so repeated runs of one
program pay it once.  The input blocks' sums are computed for a tile of steps at a time (one
matrix product per tile, at most :data:`INPUT_TILE_BYTES` of sums), the other blocks' per step.

int8 kernel: when W = 2^k·W8 with int8 W8 and Σ|W| < 2^31, the sums run as int8 × int8 → int32
through torch's private ``torch._int_mm`` (oneDNN; AMX/VNNI where the CPU has them).  It is
probed once (:func:`int8_matmul`), against numpy, on first use; when torch or ``_int_mm`` is
missing or wrong (a torch upgrade), a warning is logged and the exact float32/float64 products
are used instead: same results, slower.

Why this path keeps its own step and loop (:func:`_lif_step`, :func:`_run_chunk`) instead of
:func:`snnc.compiler.ir.arith.lif_step` and the engine's loop: it computes in float64 *in
place* on preallocated buffers (one ufunc pass per operation, no temporaries), drops the wraps
its guards prove idle, feeds time tiles of input sums and int8 kernels, and runs batch chunks
on threads; the generic formulation allocates every intermediate, which is what makes it
general.  Its constants, registers (:class:`~snnc.compiler.ir.arith.LifRegisters`), weights
and the float forms of the decay and of the u fold (``arith.decay_inplace``,
``arith.wrap_uv_inplace``) are arith's; the tests run both paths on the same programs
(``tests/unit/test_emulator_fast.py``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import weakref

import numpy as np
import scipy.sparse as sp

from snnc.backends.emulator import fast_conv, fast_native
from snnc.backends.wiring import BIAS, Wiring
from snnc.compiler.ir import arith, loihi
from snnc.compiler.ir.arith import (
    ACT_SHIFT,
    INT32_MAX,
    MAX_UV,
    UV_BITS,
    V_LIMIT,
    LifRegisters,
    decay_fraction,
    decay_inplace,
    effective_weights,
    wrap_uv_inplace,
)
from snnc.compiler.ir.graph import Graph

try:  # the clip ufunc itself: one pass, without np.clip's Python wrapper
    from numpy.core.umath import clip as _clip
except ImportError:  # pragma: no cover - numpy layouts without it
    _clip = np.clip

log = logging.getLogger(__name__)

#: False forces the generic engine (tests compare the two)
ENABLED = True
#: False holds every u and v in float64 (tests and benchmarks compare the two)
F32_STATE = True
#: False keeps the numpy LIF step where the fused C step (:mod:`.fast_native`) could run
FUSED = True
F32_EXACT = 2 ** (np.finfo(np.float32).nmant + 1)  # every integer below it is a float32
I32_EXACT = INT32_MAX + 1  # int32 accumulators (torch._int_mm)
F64_EXACT = 2 ** (np.finfo(np.float64).nmant + 1)
MAX_INPUT = (1 << UV_BITS) >> ACT_SHIFT  # A_c bound: 64·A ≤ 2^24
MAX_BIAS = 1 << 29
MAX_DENSE = 1 << 24  # sparse blocks up to this many entries are densified
#: smallest batch that takes the fast path (below, its per-call setup costs more than it saves)
MIN_BATCH = 8
#: most samples per thread chunk with the numpy step (its whole-array passes stay in cache);
#: smaller batches are split evenly over threads
CHUNK = 128
#: most samples per chunk with the fused step (it works row by row: bigger chunks only mean
#: fewer, larger products; the MLP of bench_conv.py: 0.31 s with 128, 0.13 s with 500, measured)
CHUNK_FUSED = 1024
#: most bytes of per-chunk state (u, v, spikes, block buffers): bounds a chunk of a big network
CHUNK_BYTES = 128 << 20
#: fewest rows for which torch's int8 ``_int_mm`` beats a float matmul (it is ~1 ms per call
#: for a handful of rows, measured on 784-256-256-10: 272 ms per single-sample run)
INT8_MIN_ROWS = 64
#: fewest inputs (K) per block for the int8 kernel: torch 2.13's CPU ``_int_mm`` returns wrong,
#: varying sums for K = 1 (measured); small fan-ins gain nothing from it anyway
INT8_MIN_FAN_IN = 16
#: most bytes of input-block sums held at once per chunk (a tile of steps)
INPUT_TILE_BYTES = 8 << 20
#: chunks run in parallel threads (the per-step work is numpy ufuncs on whole arrays)
THREADS = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)))


@dataclasses.dataclass
class _Block:
    name: str
    src: str
    n_in: int
    n_out: int
    floor: bool  # e < 0: floor(acc·2^e) · 64
    bound: float  # B_k
    dtype: type  # float32 or float64: the exact float product
    exp: int = 0  # e
    rowsum: int = 0  # max_i Σ_j |W[i, j]|
    wt: np.ndarray | None = None  # (n_in, n_out) dtype, scaled by 2^(e+6) or 2^e; lazy with i8
    i8: object = None  # torch int8 (n_in, n_out) W / 2^k (column-major), when W / 2^k fits int8
    i8_shift: int = 0  # k
    lazy: dict = dataclasses.field(default_factory=dict)  # shared by the per-plan copies
    conv: fast_conv.ConvBlock | None = None  # a ConvSynapse (wt/i8 unused)
    sparse: sp.csr_matrix | None = None  # (n_out, n_in) scaled, a sparse block too big to densify
    gin: np.ndarray | None = None  # conv: its channels-last input = source spikes[:, gin]
    gout: np.ndarray | None = None  # conv: what its target holds = channels-last sums[:, gout]

    def float_weights(self) -> np.ndarray:
        """The scaled float weights (built from the int8 copy on first need: exact)."""
        if self.wt is not None:
            return self.wt
        if "wt" not in self.lazy:
            w = self.i8.numpy().astype(np.float64)  # (n_in, n_out) = W8ᵀ
            k = self.i8_shift + (self.exp + ACT_SHIFT if self.exp >= 0 else self.exp)
            self.lazy["wt"] = np.ascontiguousarray((w * 2.0**k).astype(self.dtype))
        return self.lazy["wt"]


@dataclasses.dataclass
class _Comp:
    name: str
    n: int
    fu: np.ndarray | float  # decay factors / 4096
    fv: np.ndarray | float
    vth: float
    bias: np.ndarray  # float64 (n,)
    start: int
    u_init: np.ndarray
    v_init: np.ndarray
    ins: tuple[str, ...]
    no_u_decay: bool = False  # fu = 0 everywhere: u = a << 6
    no_u_wrap: bool = False  # |u'| < 2^23 always: the ±2^24 wrap never fires
    no_v_decay: bool = False  # fv = 0 everywhere
    has_bias: bool = True
    clip_high: bool = True  # vth << 6 ≥ 2^23 − 1: the upper clip can matter
    no_clip: bool = False  # |v| provably ≤ 2^23 − 1 before the clip (_v_bound)
    reset_interval: int = 0  # LIFReset: u = v = 0 at raw steps t with (t + 1) mod I = offset
    reset_offset: int = 0
    order: np.ndarray | None = None  # held in this order of its C-order neurons (None: C order)
    chw: tuple[int, int, int] | None = None  # the (C, H, W) whose channels-last order it is
    direct: bool = False  # the input's value of each step is added to its a_in
    dtype: type = np.float64  # of u and v: float32 where _f32_exact proves it exact
    bias_exp: int | None = None  # the bias route: each sample's bias is its values << bias_exp


@dataclasses.dataclass
class Plan:
    blocks: dict[str, _Block]
    comps: list[_Comp]
    source: str | None = None
    route: str = "a_in"  # or BIAS: the input is the direct compartments' bias_mant


# ------------------------------------------------------------------------ int8 kernel probe
_UNPROBED = object()
_INT_MM = _UNPROBED


def int8_matmul():
    """``torch._int_mm`` if it exists and computes exact int8 × int8 → int32 sums, else ``None``.

    Probed once, on first use (importing torch costs ~0.8 s, so not at import of snnc).
    """
    global _INT_MM
    if _INT_MM is _UNPROBED:
        _INT_MM = _probe_int_mm()
    return _INT_MM


def _probe_int_mm():
    fallback = "the emulator uses exact float32/float64 products instead (same results, slower)"
    try:
        import torch  # optional heavy dependency (~0.8 s): probed on first use only
    except ImportError:
        log.warning("torch is not installed: %s", fallback)
        return None
    f = getattr(torch, "_int_mm", None)
    if f is None:
        log.warning("torch %s has no _int_mm (a private API): %s", torch.__version__, fallback)
        return None
    rng = np.random.default_rng(0)
    a = (rng.random((33, 70)) < 0.5).astype(np.int8)
    b = rng.integers(-128, 128, (9, 70)).astype(np.int8)  # column-major (70, 9), as used
    try:
        got = f(torch.from_numpy(a), torch.from_numpy(b).t()).numpy()
        ok = got.dtype == np.int32 and np.array_equal(got, a.astype(np.int64) @ b.T)
    except Exception as e:  # noqa: BLE001 - private API: any problem means "not available"
        log.warning("torch._int_mm failed its probe (%s: %s): %s", type(e).__name__, e, fallback)
        return None
    if not ok:
        log.warning("torch._int_mm gave wrong sums in its probe (torch %s): %s",
                    torch.__version__, fallback)
        return None
    return f


_OUT = []


def int8_matmul_into() -> bool:
    """Whether ``torch._int_mm(a, b, out=c)`` writes the same sums into ``c`` (probed once, as
    :func:`int8_matmul`): the per-step blocks then reuse one int32 buffer (no allocation)."""
    if not _OUT:
        _OUT.append(_probe_int_mm_out())
    return _OUT[0]


def _probe_int_mm_out() -> bool:
    f = int8_matmul()
    if f is None:
        return False
    import torch  # optional heavy dependency: present, since the probe found _int_mm

    rng = np.random.default_rng(1)
    a = (rng.random((65, 40)) < 0.5).astype(np.int8)
    b = rng.integers(-128, 128, (7, 40)).astype(np.int8)
    out = np.full((65, 7), -1, np.int32)
    try:
        f(torch.from_numpy(a), torch.from_numpy(b).t(), out=torch.from_numpy(out))
    except Exception:  # noqa: BLE001 - private API: any problem means "allocate instead"
        return False
    return bool(np.array_equal(out, a.astype(np.int64) @ b.T))


# ---------------------------------------------------------------------------------- plan
_BLOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fraction(factor):
    """A decay factor as its fraction of 4096, or ``None`` if it lies outside [0, 4096]."""
    f = np.asarray(factor)
    if np.any(f < 0) or np.any(f > arith.DECAY_UNITY):
        return None
    return decay_fraction(f)


def _block(name: str, src: str, syn) -> _Block | None:
    """The fast path's form of one Synapse or ConvSynapse (cached per node), or ``None`` if a
    guard fails."""
    if isinstance(syn, loihi.ConvSynapse):
        build = _build_conv_block
    elif isinstance(syn, loihi.Synapse) and syn.delays is None:
        build = _build_block
    else:
        return None
    try:
        cached = _BLOCKS[syn]
    except KeyError:
        cached = _BLOCKS[syn] = build(syn)
    if cached is None:
        return None
    return dataclasses.replace(cached, name=name, src=src)


def _build_block(syn: loihi.Synapse) -> _Block | None:
    wm = effective_weights(syn)
    big = sp.issparse(wm) and wm.shape[0] * wm.shape[1] > MAX_DENSE  # stays sparse (pooling)
    if sp.issparse(wm) and not big:
        wm = wm.toarray()
    rowsum = int(np.asarray(abs(wm).sum(axis=1)).max(initial=0))
    if rowsum < F32_EXACT:
        dtype = np.float32
    elif rowsum < F64_EXACT:
        dtype = np.float64
    else:
        return None
    e = int(syn.weight_exp)
    # |floor(acc · 2^e)| ≤ ceil(rowsum · 2^e) for e < 0
    bound = float(rowsum << e) if e >= 0 else float(-(-rowsum >> -e))
    blk = _Block("", "", wm.shape[1], wm.shape[0], e < 0, bound, dtype, exp=e, rowsum=rowsum)
    scale = 2.0 ** (e + ACT_SHIFT) if e >= 0 else 2.0**e
    if big:  # the same exact products, as a CSR product (cost ∝ stored synapses × rows)
        blk.sparse = sp.csr_matrix(((wm.data * scale).astype(dtype), wm.indices, wm.indptr),
                                   shape=wm.shape)
        return blk
    _int8_weights(blk, wm)
    if blk.i8 is None:
        blk.wt = np.ascontiguousarray((wm.T.astype(np.float64) * scale).astype(dtype))
    return blk


def _build_conv_block(syn: loihi.ConvSynapse) -> _Block | None:
    conv = fast_conv.build(syn, int8_matmul())
    if conv is None:
        return None
    return _Block("", "", conv.n_in, conv.n_out, False, float(conv.bound), conv.dtype,
                  rowsum=conv.bound, conv=conv)


def _orders(graph: Graph, w: Wiring) -> dict[str, tuple[int, int, int] | None]:
    """The (C, H, W) whose channels-last order (:func:`fast_conv.hwc_order`) each compartment is
    held in: a convolution's output shape for one it writes, else its input shape for one it
    reads; ``None``: C order."""
    chw: dict[str, tuple[int, int, int] | None] = {c: None for c in w.compartments}
    for s in w.synapses:  # written by a convolution first: its rows need no gather then
        if isinstance(graph[s], loihi.ConvSynapse):
            for c in w.syn_dst[s]:
                if chw[c] is None:
                    chw[c] = tuple(int(d) for d in graph[s].out_shape)
    for s in w.synapses:
        src = w.syn_src[s]
        if isinstance(graph[s], loihi.ConvSynapse) and src in chw and chw[src] is None:
            chw[src] = tuple(int(d) for d in graph[s].in_shape)
    return chw


def _inverse(order: np.ndarray | None, n: int) -> np.ndarray:
    inv = np.empty(n, np.int64)
    inv[np.arange(n) if order is None else order] = np.arange(n)
    return inv


def _gather(idx: np.ndarray) -> np.ndarray | None:
    """``idx`` as a column gather, ``None`` where it is the identity."""
    return None if np.array_equal(idx, np.arange(idx.size)) else idx


def _reordered(blk: _Block, syn, o_src, o_dst) -> _Block:
    """``blk`` for a source held in order ``o_src`` and a target held in ``o_dst``."""
    if blk.conv is not None:
        # the columns of the channels-last input, and of the target's order in the product
        hwc_in = fast_conv.hwc_order(syn.in_shape)
        gin = _gather(hwc_in if o_src is None else _inverse(o_src, blk.n_in)[hwc_in])
        inv_out = _inverse(fast_conv.hwc_order(syn.out_shape), blk.n_out)
        gout = _gather(inv_out if o_dst is None else inv_out[o_dst])
        return dataclasses.replace(blk, gin=gin, gout=gout)
    if o_src is None and o_dst is None:
        return blk
    rows = np.arange(blk.n_out) if o_dst is None else o_dst
    cols = np.arange(blk.n_in) if o_src is None else o_src
    if blk.sparse is not None:
        return dataclasses.replace(blk, sparse=blk.sparse[rows][:, cols].tocsr())
    if blk.i8 is not None:  # (n_in, n_out) column-major: W8ᵀ
        import torch  # optional heavy dependency: present, since the block holds an int8 copy

        w8 = blk.i8.t().numpy()[np.ix_(rows, cols)]
        return dataclasses.replace(blk, i8=torch.from_numpy(np.ascontiguousarray(w8)).t(),
                                   wt=None, lazy={})
    return dataclasses.replace(blk, wt=np.ascontiguousarray(blk.wt[np.ix_(cols, rows)]))


def min_batch(graph: Graph) -> int:
    """The smallest batch that takes the fast path: :data:`MIN_BATCH`, or 1 for a program with
    a convolution (one PilotNet LIF sample: 30 ms of CPU against the generic engine's 410 ms,
    measured)."""
    return 1 if graph.of_kind(loihi.ConvSynapse) else MIN_BATCH


def plan(graph: Graph, w: Wiring, x=None) -> Plan | None:
    """The fast path's precomputed state, or ``None`` when a guard fails.

    ``x``: the run's checked input (a :class:`~snnc.backends.wiring.Spikes`, or a
    :class:`~snnc.backends.wiring.Constant` on the bias route): its values enter the bounds of
    the compartments the input feeds directly (their a_in, or their bias).  Without it a graph
    with such compartments is refused."""
    if w.sigma_deltas or any(graph[s].num_message_bits for s in w.synapses):
        return None  # sigma-delta populations and graded payloads: the generic engine
    route = getattr(x, "route", "a_in")
    if w.direct and x is None:
        return None
    direct_max = 0
    if w.direct and route != BIAS:  # a_in = Σ buffers + x[t]: |x| enters A_c
        data = np.asarray(x.data)
        direct_max = int(np.abs(data).max(initial=0)) if data.size else 0
    chws = _orders(graph, w)
    order = {c: None if d is None else fast_conv.hwc_order(d) for c, d in chws.items()}
    blocks: dict[str, _Block] = {}
    for s in w.synapses:
        blk = _block(s, w.syn_src[s], graph[s])
        if blk is None:
            return None
        o_dst = {_key(order[c]) for c in w.syn_dst[s]}
        if len(o_dst) > 1:  # one block, targets held in different orders
            return None
        blocks[s] = _reordered(blk, graph[s], order.get(w.syn_src[s]), order[w.syn_dst[s][0]])
    comps = []
    for c in w.compartments:
        reg = LifRegisters.of(graph[c])
        fu, fv = _fraction(reg.du_factor), _fraction(reg.dv_factor)
        if fu is None or fv is None:
            return None
        ins = w.comp_in[c]
        direct = c in w.direct and route != BIAS
        a_max = sum(blocks[k].bound for k in ins) + (direct_max if direct else 0)
        if a_max > MAX_INPUT:
            return None
        bias = reg.bias
        from_input = c in w.direct and route == BIAS
        if from_input:  # each sample's bias, built per chunk (run_span); here only its bound
            bias = _input_bias_bound(x, graph[c].bias_exp)
            if bias is None:
                return None
        if (
            np.abs(bias).max(initial=0) > MAX_BIAS
            or np.abs(reg.u_init).max(initial=0) > MAX_UV
            or np.abs(reg.v_init).max(initial=0) >= MAX_UV
        ):
            return None
        no_u_decay = not np.any(fu)
        o = order[c]
        m_u = _u_bound(reg, a_max)
        dtype = np.float32 if F32_STATE and _f32_exact(reg, a_max, bias, m_u) else np.float64
        m_v = _v_bound(reg, m_u, bias)

        def held(a, o=o, dtype=dtype):  # a register in the held order and dtype
            return _held(np.asarray(a, np.float64), o, dtype)

        comps.append(
            _Comp(
                c, reg.n, held(fu), held(fv), float(reg.vth_eff),
                held(np.zeros(reg.n) if from_input else bias), reg.start_step,
                held(reg.u_init), held(reg.v_init), ins,
                # with fu = 0, u' = a << 6 and |a << 6| ≤ 64·A_c
                no_u_decay=no_u_decay,
                no_u_wrap=m_u < MAX_UV,
                no_v_decay=not np.any(fv),
                has_bias=bool(np.any(bias)) or from_input,
                clip_high=reg.vth_eff >= V_LIMIT,
                no_clip=m_v <= V_LIMIT,
                reset_interval=reg.reset_interval, reset_offset=reg.reset_offset,
                order=o, chw=chws[c], direct=direct, dtype=dtype,
                bias_exp=int(graph[c].bias_exp) if from_input else None,
            )
        )
    return Plan(blocks, comps, w.source, route)


def _input_bias_bound(x, bias_exp: int) -> np.ndarray | None:
    """max |b| over the bias route's values (``scale_bias`` of the int16 ``bias_mant``, from
    their min and max: monotonic while no int32 wrap can occur), or ``None`` if it could wrap."""
    data = np.asarray(x.data)
    if not data.size:
        return np.zeros(1)
    ends = arith.bias_mant_register(np.array([data.min(), data.max()]))
    e = int(bias_exp)
    if e > 0 and int(np.abs(ends).max()) << e > INT32_MAX:
        return None
    return np.abs(arith.scale_bias(ends, e)).astype(np.float64)


def _u_bound(reg: LifRegisters, a_max: float) -> float:
    """A bound on |u| at every step when no wrap fires: u' = trunc(u·f) + (a << 6) with
    |a << 6| ≤ 64·A gives |u| ≤ max(|u_init|, 64·A / (1 − f)) for f = max factor / 4096 < 1
    (u = a << 6 when f = 0); ``inf`` for f = 1 (u integrates)."""
    f = float(np.max(reg.du_factor)) / arith.DECAY_UNITY
    if f >= 1.0:
        return float("inf")
    u0 = float(np.abs(reg.u_init).max(initial=0)) if f > 0 else 0.0
    return max(u0, (a_max * (1 << ACT_SHIFT)) / (1.0 - f))


def _odd_part(factor) -> int:
    """The largest odd part F / 2^tz(F) of the decay factors F (a product x·F/4096 is exact in
    float32 when |x|·odd(F) < 2^24: the powers of two only move the exponent)."""
    f = np.atleast_1d(np.asarray(factor, np.int64))
    f = f[f > 0]
    return int((f // (f & -f)).max(initial=0))


def _v_bound(reg: LifRegisters, m_u: float, bias) -> float:
    """A bound M_v on |v| before the clip at every step, the clip aside: with |u| ≤ M_u, |b| ≤ B
    and f = max dv factor / 4096 < 1, |v'| ≤ f·|v| + M_u + B, so M_v = max(|v_init|,
    (M_u + B) / (1 − f)) holds by induction (a reset or a periodic reset only lowers |v|);
    ``inf`` for f = 1 or an unbounded u."""
    fv = float(np.max(reg.dv_factor)) / arith.DECAY_UNITY
    if fv >= 1.0 or m_u >= MAX_UV:
        return float("inf")
    b = float(np.abs(bias).max(initial=0))
    v0 = float(np.abs(reg.v_init).max(initial=0))
    return max(v0, (m_u + b) / (1.0 - fv))


def _f32_exact(reg: LifRegisters, a_max: float, bias, m_u: float) -> bool:
    """Whether u and v can be held in float32 exactly (every value an integer below 2^24 in
    magnitude, the decay products exact; the clip and the threshold compare are then exact).

    With M_u = :func:`_u_bound` < 2^23 (no u wrap fires), |b| ≤ B and f_v = max dv factor/4096:
    |v'| ≤ f_v·|v| + M_u + B, so |v| ≤ M_v = min(2^23 − 1, max(|v_init|, (M_u + B)/(1 − f_v)))
    (the clip bounds it when f_v = 1).  Exact when M_v·odd(F_v) < 2^24, M_u·odd(F_u) < 2^24 and
    M_v + M_u + B < 2^24 (every partial sum of decay(v) + u + b)."""
    if m_u >= MAX_UV:
        return False
    b = float(np.abs(bias).max(initial=0))
    fv = float(np.max(reg.dv_factor)) / arith.DECAY_UNITY
    v0 = float(np.abs(reg.v_init).max(initial=0))
    m_v = float(V_LIMIT) if fv >= 1.0 else min(float(V_LIMIT), max(v0, (m_u + b) / (1.0 - fv)))
    return (m_v * _odd_part(reg.dv_factor) < fast_conv.F32_EXACT
            and m_u * _odd_part(reg.du_factor) < fast_conv.F32_EXACT
            and m_v + m_u + b < fast_conv.F32_EXACT)


def _key(order: np.ndarray | None):
    return None if order is None else order.tobytes()


def _int8_weights(blk: _Block, wm: np.ndarray) -> None:
    """W = 2^k · W8 with int8 W8 → exact int8 × int8 → int32 products.

    torch's ``_int_mm`` accumulates in int32: exact when max_i Σ_j |W[i, j]| < 2^31, and so
    are the shifts after it (|acc · 2^(e+6)| ≤ 64·B < 2^31).  The weights are checked once on
    a small product against numpy; any failure keeps float.
    """
    if blk.rowsum >= I32_EXACT or blk.bound * (1 << ACT_SHIFT) >= I32_EXACT:  # sums, shifts
        return
    if blk.n_in < INT8_MIN_FAN_IN:
        return
    int_mm = int8_matmul()
    if int_mm is None:
        return
    import torch  # optional heavy dependency: present, since the probe above found _int_mm

    factored = fast_conv.int8_factor(wm)
    if factored is None:
        return
    k, w8 = factored
    # (n_out, n_in) C-order viewed as (n_in, n_out) column-major: _int_mm's fast layout
    t8 = torch.from_numpy(np.ascontiguousarray(w8.astype(np.int8))).t()
    if fast_conv.int8_probe(int_mm, t8, w8.T, (1, 3, 32, INT8_MIN_ROWS + 1)):
        blk.i8, blk.i8_shift = t8, k


# --------------------------------------------------------------------------- the kernels
def _use_int8(blk: _Block, rows: int) -> bool:
    return blk.i8 is not None and rows >= INT8_MIN_ROWS


def _block_sums(blk: _Block, x: np.ndarray, fx: np.ndarray | None = None,
                out: np.ndarray | None = None, cache: dict | None = None) -> np.ndarray:
    """What block ``blk`` sends for 0/1 spikes ``x`` (rows, n_in) bool: ``a << 6`` per row.

    int8: ``(acc << e << 6)`` or ``((acc >> −e) << 6)`` as int32; float: the exact product with
    the pre-scaled weights (``floor`` then ×64 for e < 0).  ``fx``/``out`` are optional float
    buffers (rows, n_in)/(rows, n_out) of the block's dtype (``out`` int32 for the int8 kernel,
    written in place when ``torch._int_mm`` takes ``out=``).  A convolution: im2col and one
    product per group (:mod:`.fast_conv`; ``cache`` keeps its buffers).
    """
    if blk.conv is not None:
        if blk.gin is not None:
            x = np.take(x, blk.gin, axis=1)
        rows = x.shape[0] * blk.conv.out_shape[1] * blk.conv.out_shape[2]
        int_mm = int8_matmul() if blk.conv.i8 is not None and rows >= INT8_MIN_ROWS else None
        r = fast_conv.sums(blk.conv, x, int_mm, cache)
        return r if blk.gout is None else np.take(r, blk.gout, axis=1)
    if _use_int8(blk, x.shape[0]):
        import torch  # optional heavy dependency: loaded by the int8 probe already

        xt = torch.from_numpy(x.view(np.int8))
        if (out is not None and out.dtype == np.int32 and out.shape == (x.shape[0], blk.n_out)
                and out.flags.c_contiguous and int8_matmul_into()):
            int8_matmul()(xt, blk.i8, out=torch.from_numpy(out))
            r = out
        else:
            r = int8_matmul()(xt, blk.i8).numpy()
        e, k = blk.exp, blk.i8_shift
        if e >= 0:
            r <<= k + e + ACT_SHIFT
        else:
            r <<= k
            r >>= -e
            r <<= ACT_SHIFT
        return r
    if fx is None:
        fx = x.astype(blk.dtype)
    else:
        np.copyto(fx, x)
    if blk.sparse is not None:
        acc = np.ascontiguousarray((blk.sparse @ fx.T).T)
    else:
        acc = np.matmul(fx, blk.float_weights(), out=out)
    if blk.floor:
        np.floor(acc, out=acc)
        acc *= 1 << ACT_SHIFT
    return acc


class _InputSums:
    """What the blocks fed by the SpikeSource send, a tile of steps at a time.

    ``at(k, t)`` is block k's output computed from the input spikes of step t (delivered at
    t + 1).  One matrix product per tile of steps (time-major rows), so the sums held at
    once stay below :data:`INPUT_TILE_BYTES` whatever the number of steps.
    """

    def __init__(self, blocks: list[_Block], xs: np.ndarray):
        self.blocks, self.xs = blocks, xs
        b, steps = xs.shape[0], xs.shape[1]
        per_step = max(1, 8 * b * sum(blk.n_out for blk in blocks))
        self.tile = max(1, min(steps, INPUT_TILE_BYTES // per_step))
        self.t0 = self.t1 = 0
        self.sums: dict[str, np.ndarray] = {}

    def at(self, k: str, t: int) -> np.ndarray:
        if not self.t0 <= t < self.t1:
            b, steps = self.xs.shape[0], self.xs.shape[1]
            self.t0, self.t1 = t, min(t + self.tile, steps)
            xt = np.ascontiguousarray(self.xs[:, self.t0:self.t1].transpose(1, 0, 2))
            xt = xt.reshape((self.t1 - self.t0) * b, -1)
            for blk in self.blocks:
                self.sums[blk.name] = _block_sums(blk, xt).reshape(self.t1 - self.t0, b, -1)
        return self.sums[k][t - self.t0]


def _lif_step(c: _Comp, u, v, tmp, ns, s, ins: list[np.ndarray], t: int, bias=None) -> None:
    """One raw step of compartment ``c``: u, v in place, spikes into ``s`` (bool).  ``bias``:
    the chunk's own (batch, n) bias (the bias route), else ``c.bias``."""
    if t == c.start and t > 0:
        u[:] = c.u_init
        v[:] = c.v_init
    if c.reset_interval and (t + 1) % c.reset_interval == c.reset_offset:
        u.fill(0.0)  # LIFReset (arith.reset_due): after the start-step load, before the update
        v.fill(0.0)
    if c.no_u_decay and c.no_u_wrap:
        # u = Σ a << 6 exactly (no decay, no wrap): added straight into v, never stored
        if c.no_v_decay:
            if ins:
                np.copyto(v, ins[0])
                ins = ins[1:]
            else:
                v.fill(0.0)
        else:
            decay_inplace(v, c.fv)
        for a in ins:
            _add(v, a)
    else:
        # u = trunc(u · fu) + (a << 6), then Lava's single conditional ±2^24
        if c.no_u_decay:
            u.fill(0.0)
        else:
            decay_inplace(u, c.fu)
        for a in ins:
            _add(u, a)
        if not c.no_u_wrap:
            wrap_uv_inplace(u, s, tmp)
        # v = trunc(v · fv) + u
        if c.no_v_decay:
            np.copyto(v, u)
        else:
            decay_inplace(v, c.fv)
            v += u
    if t >= c.start and c.has_bias:
        v += c.bias if bias is None else bias
    if c.no_clip:  # |v| ≤ M_v ≤ 2^23 − 1 before the clip (_v_bound): it never fires
        pass
    elif c.clip_high:
        _clip(v, -V_LIMIT, V_LIMIT, out=v)
    else:  # v > 2^23 − 1 > vth spikes and resets to 0 whether clipped or not
        np.maximum(v, -V_LIMIT, out=v)
    np.greater(v, c.vth, out=s)
    np.copyto(v, 0.0, where=s)  # reset (2x faster than multiplying by the bool mask)


def _add(x: np.ndarray, a: np.ndarray) -> None:
    """``x += a`` in x's dtype (int32 or float64 sums into float32 state: exact, every value is
    an integer below 2^24; numpy's own mixed loop would go through float64, 7x slower)."""
    if a.dtype == x.dtype:
        x += a
    else:
        np.add(x, a, out=x, dtype=x.dtype, casting="unsafe")


# ------------------------------------------------------------------------------- the loop
def run_span(p: Plan, x, lo: int, spikes: dict[str, np.ndarray], v_rec: dict[str, np.ndarray],
             steps: int) -> None:
    """Run the samples ``x`` (the checked input's span ``lo:lo + batch``: a
    :class:`~snnc.backends.wiring.Spikes`, or a :class:`~snnc.backends.wiring.Constant` on the
    bias route) for ``steps`` raw steps, filling ``spikes``/``v_rec`` (the span's slices)."""
    from_input = [c for c in p.comps if c.bias_exp is not None]

    def bias_of(a: int, b: int) -> dict[str, np.ndarray]:
        """The bias rows of samples a:b of the span (the bias route), in each held order."""
        if not from_input:
            return {}
        mant = x[a:b].bias_mant()
        return {c.name: _held(arith.scale_bias(mant, c.bias_exp), c.order, c.dtype)
                for c in from_input}

    if p.route == BIAS:
        xs = np.zeros((x.batch, 0, x.n_in), bool)
        values = None
    else:
        xs = x.view()
        values = x.data.reshape(x.batch, x.steps, x.n_in) if any(c.direct for c in p.comps) else None
    run_fast(p, p.source, xs, spikes, v_rec, steps=steps, values=values, bias_of=bias_of)


def _held(a, order: np.ndarray | None, dtype) -> np.ndarray:
    """Per-neuron values (last axis, C order) in a population's held order and dtype."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a.astype(dtype)
    return np.ascontiguousarray(a if order is None else a[..., order], dtype=dtype)


def run_fast(
    p: Plan,
    source: str | None,
    xs: np.ndarray,
    spikes: dict[str, np.ndarray],
    v_rec: dict[str, np.ndarray],
    chunk: int | None = None,
    steps: int | None = None,
    values: np.ndarray | None = None,
    bias_of=None,
) -> None:
    """Run the batch ``xs`` (batch, T_in, n_in) bool for ``steps`` ≥ T_in raw steps (default
    T_in; no input after T_in), filling ``spikes``/``v_rec`` in place.  ``values`` (batch, T_in,
    n_in) integers: the input's values, added to the a_in of the compartments it feeds directly;
    ``bias_of(lo, hi)``: per compartment, the (hi − lo, n) bias rows of samples lo:hi (the bias
    route) in its held order.

    The batch is split into chunks of at most :data:`CHUNK` samples, evenly over
    :data:`THREADS` threads when the batch is small.
    """
    batch = xs.shape[0]
    steps = xs.shape[1] if steps is None else steps
    if chunk is None:
        fused = FUSED and fast_native.kernel() is not None
        most = max(1, min(CHUNK_FUSED if fused else CHUNK, CHUNK_BYTES // _sample_bytes(p)))
        chunk = max(1, min(most, -(-batch // THREADS)))

    def one(lo: int) -> None:
        sl = slice(lo, min(lo + chunk, batch))
        _run_chunk(p, source, xs[sl], {c: a[sl] for c, a in spikes.items()},
                   {c: a[sl] for c, a in v_rec.items()}, steps,
                   None if values is None else values[sl],
                   bias_of(sl.start, sl.stop) if bias_of is not None else {})

    starts = list(range(0, batch, chunk))
    workers = min(len(starts), THREADS)
    int8 = any(blk.i8 is not None or (blk.conv is not None and blk.conv.i8 is not None)
               for blk in p.blocks.values())
    with one_thread_per_kernel(int8, workers > 1):
        if workers <= 1:
            for lo in starts:
                one(lo)
            return
        # chunks are independent and write disjoint slices; numpy/torch release the GIL
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            list(ex.map(one, starts))


@contextlib.contextmanager
def one_thread_per_kernel(torch_used: bool, threaded: bool):
    """torch's intra-op threads set to 1 for the run, and BLAS's too when chunks run on threads.

    The chunks already run on one thread per core.  torch's OpenMP threads on top of them
    oversubscribe the cores, and an OpenMP barrier then waits for a descheduled thread: on a
    2-core machine with one other busy process, a 0.005 ms ``_int_mm`` took 4-8 ms with 2
    intra-op threads and 0.005 ms with 1 (measured, torch 2.13).  OpenBLAS (the float
    products) is limited the same way through ``threadpoolctl`` when it is installed.
    Everything is restored afterwards.
    """
    with contextlib.ExitStack() as stack:
        if torch_used:
            import torch  # optional heavy dependency: loaded by the int8 probe already

            prev = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, prev)
        if threaded:
            ctl = _blas_controller()
            if ctl is not None:
                stack.enter_context(ctl.limit(limits=1, user_api="blas"))
        yield


_BLAS = []


def _blas_controller():
    """threadpoolctl's controller (its library scan costs ~2 ms: done once), or ``None``."""
    if not _BLAS:
        try:  # optional dependency, imported on first use (keeps ``import snnc`` light)
            from threadpoolctl import ThreadpoolController
        except ImportError:  # without it BLAS keeps its own threads
            _BLAS.append(None)
        else:
            _BLAS.append(ThreadpoolController())
    return _BLAS[0]


def _run_chunk(p: Plan, source, xs, spikes, v_rec, steps, values=None, bias=None) -> None:
    b, t_in = xs.shape[0], xs.shape[1]
    inputs = _InputSums([blk for blk in p.blocks.values() if blk.src == source], xs)
    # what the other blocks send next step: int8 results (int32) are replaced each step,
    # float ones are written into these buffers; convolutions return fresh arrays
    buf = {k: np.zeros((b, blk.n_out), np.int32 if _use_int8(blk, b) else blk.dtype)
           for k, blk in p.blocks.items() if blk.src != source}
    fsp = {}  # float copies of each compartment's spikes that feed a float block
    for blk in p.blocks.values():
        if (blk.src != source and blk.conv is None and not _use_int8(blk, b)
                and (blk.src, blk.dtype) not in fsp):
            fsp[(blk.src, blk.dtype)] = np.zeros((b, blk.n_in), blk.dtype)
    caches = {k: {} for k, blk in p.blocks.items() if blk.conv is not None}
    need_tmp = {c.name for c in p.comps if not (c.no_u_decay and c.no_u_wrap)}
    st = {}
    for c in p.comps:
        big = c.name in need_tmp
        st[c.name] = (np.zeros((b, c.n) if big else (1, c.n), c.dtype), np.zeros((b, c.n), c.dtype),
                      np.zeros((b, c.n) if big else (1, c.n), c.dtype), np.zeros((b, c.n), bool),
                      np.zeros((b, c.n), bool))
    direct = {c.name: np.zeros((b, c.n), c.dtype) for c in p.comps if c.direct and values is not None}
    t_val = 0 if values is None else values.shape[1]
    held = {c.name: c.chw for c in p.comps}
    for c in p.comps:
        if c.start <= 0:
            u, v = st[c.name][:2]
            u[:] = c.u_init
            v[:] = c.v_init
    lib = fast_native.kernel() if FUSED else None
    fused = {c.name: fast_native.Step(lib, st[c.name][1], c.fv, None, _clip_mode(c), c.vth)
             for c in p.comps if lib is not None and c.no_u_decay and c.no_u_wrap}
    # recorded in C order by the fused step itself, into the result's (batch, steps, n) rows
    # (a channels-last population's rows transposed on the way, while they are in cache); the
    # others time-major (contiguous rows per step), reordered once at the end
    straight = {c: a for c, a in spikes.items()
                if c in fused and fast_native.record_row(a[:, 0], st[c][1])}
    rec = {c: np.zeros((steps, b, a.shape[2]), bool) for c, a in spikes.items() if c not in straight}
    spk = {}  # this step's spikes of each compartment (a row of its record, or a buffer)
    for t in range(steps):
        for c in p.comps:
            u, v, tmp, ns, s = st[c.name]
            if c.name in rec:
                s = rec[c.name][t]
            # the input blocks send the sums of input step t − 1 (none before 0 or after T_in)
            ins = [buf[k] if k in buf else inputs.at(k, t - 1)
                   for k in c.ins if k in buf or 0 < t <= t_in]
            if c.name in direct and t < t_val:  # the input's value of this step, as a << 6
                xv = values[:, t] if c.order is None else np.take(values[:, t], c.order, axis=1)
                d = direct[c.name]
                np.multiply(xv, 1 << ACT_SHIFT, out=d)
                ins.append(d)
            b_c = bias.get(c.name) if bias else None
            step = fused.get(c.name)
            b_now = (c.bias if b_c is None else b_c) if t >= c.start and c.has_bias else None
            row = straight[c.name][:, t] if c.name in straight else None
            if step is not None and fast_native.usable(ins, v, b_now, s):
                if t == c.start and t > 0:
                    v[:] = c.v_init
                if c.reset_interval and (t + 1) % c.reset_interval == c.reset_offset:
                    v.fill(0.0)  # LIFReset, as in _lif_step
                step(ins, b_now, s, row, c.chw[0] if c.chw else 0)
            else:
                _lif_step(c, u, v, tmp, ns, s, ins, t, b_c)
                if row is not None:
                    row[:] = s if c.chw is None else _c_order(s, c.chw)
            spk[c.name] = s
            if c.name in v_rec:
                v_rec[c.name][:, t] = v if c.order is None else _c_order(v, c.chw)
        for k, bb in buf.items():
            blk = p.blocks[k]
            fx = fsp.get((blk.src, blk.dtype))
            # bb was read by this step's compartments: the block's next sums may overwrite it
            buf[k] = _block_sums(blk, spk[blk.src], fx, bb, caches.get(k))
    for c, r in rec.items():  # time-major rows were contiguous writes
        chw = held[c]
        if chw is None:
            spikes[c][:] = r.transpose(1, 0, 2)
        elif not fast_native.hwc_records_to_chw(lib, r, chw, spikes[c]):
            # one strided copy: (t, b, H, W, C) -> (b, t, C, H, W); splitting n is a view
            ch, h, wd = chw
            tgt = spikes[c].reshape(b, steps, ch, h, wd)
            tgt[:] = r.reshape(steps, b, h, wd, ch).transpose(1, 0, 4, 2, 3)


def _sample_bytes(p: Plan) -> int:
    """About the bytes of chunk state per sample: u, v (and the wrap's scratch), two spike
    rows per population, and every block's output row."""
    comps = sum(c.n * (np.dtype(c.dtype).itemsize * (3 if not (c.no_u_decay and c.no_u_wrap) else 1) + 2)
                for c in p.comps)
    return max(1, comps + sum(8 * blk.n_out for blk in p.blocks.values()))


def _clip_mode(c: _Comp) -> int:
    """The clip :func:`_lif_step` applies: 0 none, 1 the lower side, 2 both."""
    return 0 if c.no_clip else (2 if c.clip_high else 1)


def _c_order(a: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """Rows held channels-last (last axis: (H, W, C) of the shape ``chw``) as a C-order view."""
    c, h, w = chw
    lead = a.shape[:-1]
    k = len(lead)
    return a.reshape(*lead, h, w, c).transpose(*range(k), k + 2, k, k + 1).reshape(*lead, -1)

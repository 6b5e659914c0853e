"""The emulator's fast path: the arithmetic of :mod:`snnc.compiler.ir.arith` (its constants,
registers, effective weights and float forms), in floating point where that is provably
exact, in place, with no int32 wraps where none can occur.

:func:`plan` inspects a graph and returns ``None`` (use the generic engine) unless every
guard below holds; :func:`run_fast` then computes exactly what the generic engine computes.

Guards (B_k = ceil(max_i Σ_j |W_k[i, j]| · 2^e_k), the largest |acc| block k can send; A_c = Σ of
B_k over the blocks feeding compartment c):

* every connection is a ``Synapse`` without ``delays`` (Conv and DelayDense: generic path);
  no sigma-delta population and no graded synapse (``num_message_bits > 0``): generic path;
  no compartment is fed by the input directly and none has a periodic reset
  (``reset_interval``): both take the generic path, which states them once (``arith``);
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
  reset to 0 either way, so only ``max(v, −(2^23 − 1))`` remains.

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

from snnc.backends.wiring import Wiring
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
F32_EXACT = 2 ** (np.finfo(np.float32).nmant + 1)  # every integer below it is a float32
I32_EXACT = INT32_MAX + 1  # int32 accumulators (torch._int_mm)
F64_EXACT = 2 ** (np.finfo(np.float64).nmant + 1)
MAX_INPUT = (1 << UV_BITS) >> ACT_SHIFT  # A_c bound: 64·A ≤ 2^24
MAX_BIAS = 1 << 29
MAX_DENSE = 1 << 24  # sparse blocks up to this many entries are densified
#: smallest batch that takes the fast path (below, its per-call setup costs more than it saves)
MIN_BATCH = 8
#: most samples per thread chunk (bounds memory; smaller batches are split evenly over threads)
CHUNK = 128
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


@dataclasses.dataclass
class Plan:
    blocks: dict[str, _Block]
    comps: list[_Comp]


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


# ---------------------------------------------------------------------------------- plan
_BLOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fraction(factor):
    """A decay factor as its fraction of 4096, or ``None`` if it lies outside [0, 4096]."""
    f = np.asarray(factor)
    if np.any(f < 0) or np.any(f > arith.DECAY_UNITY):
        return None
    return decay_fraction(f)


def _block(name: str, src: str, syn) -> _Block | None:
    """The fast path's form of one Synapse (cached per node), or ``None`` if a guard fails."""
    if not isinstance(syn, loihi.Synapse) or syn.delays is not None:
        return None
    try:
        cached = _BLOCKS[syn]
    except KeyError:
        cached = _BLOCKS[syn] = _build_block(syn)
    if cached is None:
        return None
    return dataclasses.replace(cached, name=name, src=src)


def _build_block(syn: loihi.Synapse) -> _Block | None:
    wm = effective_weights(syn)
    if sp.issparse(wm):
        if wm.shape[0] * wm.shape[1] > MAX_DENSE:
            return None
        wm = wm.toarray()
    rowsum = int(np.abs(wm).sum(axis=1).max(initial=0))
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
    _int8_weights(blk, wm)
    if blk.i8 is None:
        scale = 2.0 ** (e + ACT_SHIFT) if e >= 0 else 2.0**e
        blk.wt = np.ascontiguousarray((wm.T.astype(np.float64) * scale).astype(dtype))
    return blk


def plan(graph: Graph, w: Wiring) -> Plan | None:
    """The fast path's precomputed state, or ``None`` when a guard fails."""
    if w.direct or any(graph[c].reset_interval for c in w.compartments):
        return None
    if w.sigma_deltas or any(graph[s].num_message_bits for s in w.synapses):
        return None  # sigma-delta populations and graded payloads: the generic engine
    blocks: dict[str, _Block] = {}
    for s in w.synapses:
        blk = _block(s, w.syn_src[s], graph[s])
        if blk is None:
            return None
        blocks[s] = blk
    comps = []
    for c in w.compartments:
        reg = LifRegisters.of(graph[c])
        fu, fv = _fraction(reg.du_factor), _fraction(reg.dv_factor)
        if fu is None or fv is None:
            return None
        ins = w.comp_in[c]
        a_max = sum(blocks[k].bound for k in ins)
        if a_max > MAX_INPUT:
            return None
        if (
            np.abs(reg.bias).max(initial=0) > MAX_BIAS
            or np.abs(reg.u_init).max(initial=0) > MAX_UV
            or np.abs(reg.v_init).max(initial=0) >= MAX_UV
        ):
            return None
        no_u_decay = not np.any(fu)
        comps.append(
            _Comp(
                c, reg.n, fu, fv, float(reg.vth_eff),
                reg.bias.astype(np.float64), reg.start_step,
                reg.u_init.astype(np.float64), reg.v_init.astype(np.float64), ins,
                # with fu = 0, u' = a << 6 and |a << 6| ≤ 64·A_c
                no_u_decay=no_u_decay,
                no_u_wrap=no_u_decay and (a_max * (1 << ACT_SHIFT)) < MAX_UV,
                no_v_decay=not np.any(fv),
                has_bias=bool(np.any(reg.bias)),
                clip_high=reg.vth_eff >= V_LIMIT,
            )
        )
    return Plan(blocks, comps)


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

    nz = wm[wm != 0]
    k = 0
    if nz.size:
        while k < 31 and not np.any(nz & ((1 << (k + 1)) - 1)):
            k += 1
    w8 = wm >> k
    if w8.size == 0 or w8.min() < -128 or w8.max() > 127:
        return
    # (n_out, n_in) C-order viewed as (n_in, n_out) column-major: _int_mm's fast layout
    t8 = torch.from_numpy(np.ascontiguousarray(w8.astype(np.int8))).t()
    rng = np.random.default_rng(0)
    for rows in (1, 3, 32, INT8_MIN_ROWS + 1):
        probe = (rng.random((rows, t8.shape[0])) < 0.5).astype(np.int8)
        try:
            got = int_mm(torch.from_numpy(probe), t8).numpy()
        except Exception:  # noqa: BLE001 - private API: any problem means "not available"
            return
        if not np.array_equal(got, probe.astype(np.int64) @ w8.T):
            return
    blk.i8, blk.i8_shift = t8, k


# --------------------------------------------------------------------------- the kernels
def _use_int8(blk: _Block, rows: int) -> bool:
    return blk.i8 is not None and rows >= INT8_MIN_ROWS


def _block_sums(blk: _Block, x: np.ndarray, fx: np.ndarray | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """What block ``blk`` sends for 0/1 spikes ``x`` (rows, n_in) bool: ``a << 6`` per row.

    int8: ``(acc << e << 6)`` or ``((acc >> −e) << 6)`` as int32; float: the exact product with
    the pre-scaled weights (``floor`` then ×64 for e < 0).  ``fx``/``out`` are optional float
    buffers (rows, n_in)/(rows, n_out) of the block's dtype.
    """
    if _use_int8(blk, x.shape[0]):
        import torch  # optional heavy dependency: loaded by the int8 probe already

        r = int8_matmul()(torch.from_numpy(x.view(np.int8)), blk.i8).numpy()
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


def _lif_step(c: _Comp, u, v, tmp, ns, s, ins: list[np.ndarray], t: int) -> None:
    """One raw step of compartment ``c``: u, v in place, spikes into ``s`` (bool)."""
    if t == c.start and t > 0:
        u[:] = c.u_init
        v[:] = c.v_init
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
            v += a
    else:
        # u = trunc(u · fu) + (a << 6), then Lava's single conditional ±2^24
        if c.no_u_decay:
            u.fill(0.0)
        else:
            decay_inplace(u, c.fu)
        for a in ins:
            u += a
        if not c.no_u_wrap:
            wrap_uv_inplace(u, s, tmp)
        # v = trunc(v · fv) + u
        if c.no_v_decay:
            np.copyto(v, u)
        else:
            decay_inplace(v, c.fv)
            v += u
    if t >= c.start and c.has_bias:
        v += c.bias
    if c.clip_high:
        _clip(v, -V_LIMIT, V_LIMIT, out=v)
    else:  # v > 2^23 − 1 > vth spikes and resets to 0 whether clipped or not
        np.maximum(v, -V_LIMIT, out=v)
    np.less_equal(v, c.vth, out=ns)
    v *= ns  # reset (0.0 or -0.0: the same integer)
    np.logical_not(ns, out=s)


# ------------------------------------------------------------------------------- the loop
def run_fast(
    p: Plan,
    source: str | None,
    xs: np.ndarray,
    spikes: dict[str, np.ndarray],
    v_rec: dict[str, np.ndarray],
    chunk: int | None = None,
    steps: int | None = None,
) -> None:
    """Run the batch ``xs`` (batch, T_in, n_in) bool for ``steps`` ≥ T_in raw steps (default
    T_in; no input after T_in), filling ``spikes``/``v_rec`` in place.

    The batch is split into chunks of at most :data:`CHUNK` samples, evenly over
    :data:`THREADS` threads when the batch is small.
    """
    batch = xs.shape[0]
    steps = xs.shape[1] if steps is None else steps
    if chunk is None:
        chunk = max(1, min(CHUNK, -(-batch // THREADS)))

    def one(lo: int) -> None:
        sl = slice(lo, min(lo + chunk, batch))
        _run_chunk(p, source, xs[sl], {c: a[sl] for c, a in spikes.items()},
                   {c: a[sl] for c, a in v_rec.items()}, steps)

    starts = list(range(0, batch, chunk))
    workers = min(len(starts), THREADS)
    with one_thread_per_kernel(any(blk.i8 is not None for blk in p.blocks.values()), workers > 1):
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


def _run_chunk(p: Plan, source, xs, spikes, v_rec, steps) -> None:
    b, t_in = xs.shape[0], xs.shape[1]
    inputs = _InputSums([blk for blk in p.blocks.values() if blk.src == source], xs)
    # what the other blocks send next step: int8 results (int32) are replaced each step,
    # float ones are written into these buffers
    buf = {k: np.zeros((b, blk.n_out), np.int32 if _use_int8(blk, b) else blk.dtype)
           for k, blk in p.blocks.items() if blk.src != source}
    fsp = {}  # float copies of each compartment's spikes that feed a float block
    for blk in p.blocks.values():
        if blk.src != source and not _use_int8(blk, b) and (blk.src, blk.dtype) not in fsp:
            fsp[(blk.src, blk.dtype)] = np.zeros((b, blk.n_in), blk.dtype)
    need_tmp = {c.name for c in p.comps if not (c.no_u_decay and c.no_u_wrap)}
    st = {}
    for c in p.comps:
        big = c.name in need_tmp
        st[c.name] = (np.zeros((b, c.n) if big else (1, c.n)), np.zeros((b, c.n)),
                      np.zeros((b, c.n) if big else (1, c.n)), np.zeros((b, c.n), bool),
                      np.zeros((b, c.n), bool))
    rec = {c: np.zeros((steps, b, a.shape[2]), bool) for c, a in spikes.items()}
    for c in p.comps:
        if c.start <= 0:
            u, v = st[c.name][:2]
            u[:] = c.u_init
            v[:] = c.v_init
    spk = {}  # this step's spikes of each compartment (a row of its record, or a buffer)
    for t in range(steps):
        for c in p.comps:
            u, v, tmp, ns, s = st[c.name]
            if c.name in rec:
                s = rec[c.name][t]
            # the input blocks send the sums of input step t − 1 (none before 0 or after T_in)
            ins = [buf[k] if k in buf else inputs.at(k, t - 1)
                   for k in c.ins if k in buf or 0 < t <= t_in]
            _lif_step(c, u, v, tmp, ns, s, ins, t)
            spk[c.name] = s
            if c.name in v_rec:
                v_rec[c.name][:, t] = v
        for k, bb in buf.items():
            blk = p.blocks[k]
            fx = fsp.get((blk.src, blk.dtype))
            buf[k] = _block_sums(blk, spk[blk.src], fx, None if fx is None else bb)
    for c, r in rec.items():  # time-major rows were contiguous writes
        spikes[c][:] = r.transpose(1, 0, 2)

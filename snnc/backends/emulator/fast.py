"""The emulator's fast path: the same arithmetic as :mod:`.synapse`/:mod:`.compartment`,
in floating point where that is provably exact, with no int32 wraps where none can occur.

:func:`plan` inspects a graph once and returns ``None`` (use the generic engine) unless every
guard below holds; :func:`run_fast` then computes exactly what the generic engine computes.

Guards (B_k = ceil(max_i Σ_j |W_k[i, j]| · 2^e_k), the largest |acc| block k can send; A_c = Σ of
B_k over the blocks feeding compartment c):

* every connection is a ``Synapse`` without ``delays`` (Conv and DelayDense: generic path);
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
``trunc`` is Lava's ``sign(x)·(|x| >> 12)``).  The input block's sums for all steps are one
matrix product per batch chunk.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os

import numpy as np
import scipy.sparse as sp

from snnc.backends.emulator.compartment import (
    MAX_UV,
    V_LIMIT,
    _decay_register,
    _per_neuron,
    effective_bias,
)
from snnc.backends.emulator.synapse import effective_weights
from snnc.backends.emulator.wiring import Wiring
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph

try:  # the clip ufunc itself: one pass, without np.clip's Python wrapper
    from numpy.core.umath import clip as _clip
except ImportError:  # pragma: no cover - numpy layouts without it
    _clip = np.clip

#: False forces the generic engine (tests compare the two)
ENABLED = True
F32_EXACT = 1 << 24
I32_EXACT = 1 << 31
F64_EXACT = 1 << 53
MAX_INPUT = 1 << 18  # A_c bound: 64·A ≤ 2^24
MAX_BIAS = 1 << 29
MAX_DENSE = 1 << 24  # sparse blocks up to this many entries are densified
#: smallest batch that takes the fast path (below, its per-call setup costs more than it saves)
MIN_BATCH = 8
#: samples per chunk (bounds memory: the input block's sums are chunk × steps × n_out)
CHUNK = 256
#: fewest rows for which torch's int8 ``_int_mm`` beats a float matmul (it is ~1 ms per call
#: for a handful of rows, measured on 784-256-256-10: 272 ms per single-sample run)
INT8_MIN_ROWS = 64
#: chunks run in parallel threads (the per-step work is numpy ufuncs on whole arrays)
THREADS = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)))


@dataclasses.dataclass
class _Block:
    name: str
    src: str
    wt: np.ndarray  # (n_in, n_out) float32/float64, scaled by 2^(e+6) or 2^e
    floor: bool  # e < 0: floor(acc·2^e) · 64
    bound: float  # B_k
    dtype: type
    i8: object = None  # torch int8 (n_in, n_out) W / 2^k, when every W / 2^k fits int8
    i8_shift: int = 0  # k
    exp: int = 0  # e
    rowsum: int = 0  # max_i Σ_j |W[i, j]|


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


@dataclasses.dataclass
class Plan:
    blocks: dict[str, _Block]
    comps: list[_Comp]


def _factor(reg, n, offset):
    f = loihi.DECAY_UNITY - (_decay_register(reg, n) + offset)
    if np.any(np.asarray(f) < 0) or np.any(np.asarray(f) > loihi.DECAY_UNITY):
        return None
    return np.asarray(f, dtype=np.float64) / loihi.DECAY_UNITY


def plan(graph: Graph, w: Wiring) -> Plan | None:
    """The fast path's precomputed state, or ``None`` when a guard fails."""
    blocks: dict[str, _Block] = {}
    for s in w.synapses:
        syn = graph[s]
        if not isinstance(syn, loihi.Synapse) or syn.delays is not None:
            return None
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
        scale = 2.0 ** (e + 6) if e >= 0 else 2.0**e
        wt = np.ascontiguousarray((wm.T.astype(np.float64) * scale).astype(dtype))
        # |floor(acc · 2^e)| ≤ ceil(rowsum · 2^e) for e < 0
        bound = float(rowsum << e) if e >= 0 else float(-(-rowsum >> -e))
        blk = _Block(s, w.syn_src[s], wt, e < 0, bound, dtype, exp=e, rowsum=rowsum)
        _int8_weights(blk, wm)
        blocks[s] = blk
    comps = []
    for c in w.compartments:
        node: loihi.Compartment = graph[c]
        n = node.size
        fu = _factor(node.du, n, loihi.DS_OFFSET)
        fv = _factor(node.dv, n, 0)
        if fu is None or fv is None:
            return None
        ins = w.comp_in[c]
        if sum(blocks[k].bound for k in ins) > MAX_INPUT:
            return None
        bias = effective_bias(node)
        u_init = _per_neuron(node.u_init, n, np.int32)
        v_init = _per_neuron(node.v_init, n, np.int32)
        if (
            np.abs(bias).max(initial=0) > MAX_BIAS
            or np.abs(u_init).max(initial=0) > MAX_UV
            or np.abs(v_init).max(initial=0) >= MAX_UV
        ):
            return None
        a_max = sum(blocks[k].bound for k in ins)
        no_u_decay = not np.any(fu)
        comps.append(
            _Comp(
                c, n, fu, fv, float(int(node.vth) << loihi.VTH_SHIFT),
                bias.astype(np.float64), int(node.start_step),
                u_init.astype(np.float64), v_init.astype(np.float64), ins,
                # with fu = 0, u' = a << 6 and |a << 6| ≤ 64·A_c
                no_u_decay=no_u_decay,
                no_u_wrap=no_u_decay and 64 * a_max < MAX_UV,
                no_v_decay=not np.any(fv),
                has_bias=bool(np.any(bias)),
            )
        )
    return Plan(blocks, comps)


def _int8_weights(blk: _Block, wm: np.ndarray) -> None:
    """W = 2^k · W8 with int8 W8 → exact int8 × int8 → int32 products.

    torch's ``_int_mm`` accumulates in int32: exact when max_i Σ_j |W[i, j]| < 2^31, and so
    are the shifts after it (|acc · 2^(e+6)| ≤ 64·B < 2^31).  Checked once on a small product against numpy; any failure keeps float.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the venv
        return
    wi = wm.astype(np.int64)
    nz = wi[wi != 0]
    k = 0
    if nz.size:
        while k < 31 and not np.any(nz & ((1 << (k + 1)) - 1)):
            k += 1
    w8 = wi >> k
    if w8.size == 0 or w8.min() < -128 or w8.max() > 127:
        return
    if blk.rowsum >= I32_EXACT or blk.bound * 64 >= I32_EXACT:  # int32 sums, then shifts
        return
    t8 = torch.from_numpy(np.ascontiguousarray(w8.T.astype(np.int8)))
    try:
        probe = (np.random.default_rng(0).random((32, t8.shape[0])) < 0.5).astype(np.int8)
        got = torch._int_mm(torch.from_numpy(probe), t8).numpy()
    except Exception:  # noqa: BLE001 - private API: any problem means "not available"
        return
    if not np.array_equal(got, probe.astype(np.int64) @ w8.T):
        return
    blk.i8, blk.i8_shift = t8, k


def _int8_sums(blk: _Block, x: np.ndarray) -> np.ndarray:
    """(acc << 6 << e) or ((acc >> -e) << 6) for 0/1 ``x`` (rows, n_in) bool, int32."""
    import torch

    r = torch._int_mm(torch.from_numpy(x.view(np.int8)), blk.i8).numpy()
    e, k = blk.exp, blk.i8_shift
    if e >= 0:
        r <<= k + e + 6
    else:
        r <<= k
        r >>= -e
        r <<= 6
    return r


def run_fast(
    p: Plan,
    source: str | None,
    xs: np.ndarray,
    spikes: dict[str, np.ndarray],
    v_rec: dict[str, np.ndarray],
    chunk: int = CHUNK,
) -> None:
    """Run the batch ``xs`` (batch, steps, n_in) bool, filling ``spikes``/``v_rec`` in place."""
    batch, steps = xs.shape[0], xs.shape[1]

    def one(lo: int) -> None:
        sl = slice(lo, min(lo + chunk, batch))
        _run_chunk(p, source, xs[sl], {c: a[sl] for c, a in spikes.items()},
                   {c: a[sl] for c, a in v_rec.items()}, steps)

    starts = list(range(0, batch, chunk))
    workers = min(len(starts), THREADS)
    if workers <= 1:
        for lo in starts:
            one(lo)
        return
    # chunks are independent and write disjoint slices; numpy/torch release the GIL
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, starts))


def _scaled(blk: _Block, acc: np.ndarray) -> np.ndarray:
    if blk.floor:
        np.floor(acc, out=acc)
        acc *= 64
    return acc


def _run_chunk(p, source, xs, spikes, v_rec, steps) -> None:
    b = xs.shape[0]

    def int8(blk: _Block, rows: int) -> bool:
        return blk.i8 is not None and rows >= INT8_MIN_ROWS

    # the input blocks: all steps at once; pre[k][t] is what block k sends at step t + 1
    pre = {}
    xt = None
    for k, blk in p.blocks.items():
        if blk.src == source:
            if xt is None:  # time-major, so that pre[k][t] is contiguous
                xt = np.ascontiguousarray(xs.transpose(1, 0, 2)).reshape(steps * b, -1)
            x = xt
            if int8(blk, x.shape[0]):
                acc = _int8_sums(blk, x)
            else:
                acc = _scaled(blk, x.astype(blk.dtype) @ blk.wt)
            pre[k] = acc.reshape(steps, b, -1)
    buf = {k: np.zeros((b, blk.wt.shape[1]), np.int32 if int8(blk, b) else blk.dtype)
           for k, blk in p.blocks.items() if k not in pre}
    fsp = {}  # float copies of each compartment's spikes that feed a block
    for blk in p.blocks.values():
        if blk.src != source and not int8(blk, b) and (blk.src, blk.dtype) not in fsp:
            n = blk.wt.shape[0]
            fsp[(blk.src, blk.dtype)] = np.zeros((b, n), blk.dtype)
    st = {c.name: (np.zeros((b, c.n)), np.zeros((b, c.n)), np.zeros((b, c.n)),
                   np.zeros((b, c.n), bool), np.zeros((b, c.n), bool)) for c in p.comps}
    rec = {c: np.zeros((steps, b, a.shape[2]), bool) for c, a in spikes.items()}
    for c in p.comps:
        if c.start <= 0:
            u, v = st[c.name][:2]
            u[:] = c.u_init
            v[:] = c.v_init
    for t in range(steps):
        for c in p.comps:
            u, v, tmp, s, ns = st[c.name]
            if t == c.start and t > 0:
                u[:] = c.u_init
                v[:] = c.v_init
            # u = trunc(u · fu) + (a << 6), then Lava's single conditional ±2^24
            ins = c.ins
            if c.no_u_decay and ins and (ins[0] not in pre or t > 0):
                k = ins[0]
                np.copyto(u, pre[k][t - 1] if k in pre else buf[k])
                ins = ins[1:]
            elif c.no_u_decay:
                u.fill(0.0)
            else:
                np.multiply(u, c.fu, out=u)
                np.trunc(u, out=u)
            for k in ins:
                if k in pre:
                    if t > 0:
                        u += pre[k][t - 1]
                else:
                    u += buf[k]
            if not c.no_u_wrap:
                # (masked ufuncs with where= are ~10x slower than multiplying by the mask)
                np.greater(u, MAX_UV, out=s)
                np.multiply(s, 2 * MAX_UV, out=tmp)
                u -= tmp
                np.less_equal(u, -MAX_UV, out=s)
                np.multiply(s, 2 * MAX_UV, out=tmp)
                u += tmp
            # v = clip(trunc(v · fv) + u + b); spike; reset
            if c.no_v_decay:
                np.copyto(v, u)
            else:
                np.multiply(v, c.fv, out=v)
                np.trunc(v, out=v)
                v += u
            if t >= c.start and c.has_bias:
                v += c.bias
            _clip(v, -V_LIMIT, V_LIMIT, out=v)
            np.greater(v, c.vth, out=s)
            np.logical_not(s, out=ns)
            v *= ns  # reset (0.0 or -0.0: the same integer)
            if c.name in rec:
                rec[c.name][t] = s
            if c.name in v_rec:
                v_rec[c.name][:, t] = v
        for k, bb in buf.items():
            blk = p.blocks[k]
            if int8(blk, b):
                buf[k] = _int8_sums(blk, st[blk.src][3])
                continue
            f = fsp[(blk.src, blk.dtype)]
            np.copyto(f, st[blk.src][3])
            np.matmul(f, blk.wt, out=bb)
            _scaled(blk, bb)
    for c, r in rec.items():  # time-major rows were contiguous writes
        spikes[c][:] = r.transpose(1, 0, 2)

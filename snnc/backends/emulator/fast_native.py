"""The fast path's native loops (optional, exact): the LIF step fused into one C loop per
population row, and the copy of channels-last spike records back to C order.

:func:`snnc.backends.emulator.fast._lif_step`'s common case -- ``du = 4095`` (u keeps nothing,
so ``u = a << 6`` goes straight into v) with no u wrap -- is six numpy passes over (batch, n)
arrays: the decay (multiply, ``trunc``), the inputs, the bias, the clip, the threshold and the
reset.  Here one C function does them row by row while the row sits in the L1 cache, in the
same order on the same values::

    v ← trunc(v · f_v)            (f_v = dv factor / 4096: exact, |v| < 2^23 held in the type)
    v ← v + a_1 + … + a_k + b     (each a already ``a << 6``; float64, float32 or int32 rows)
    v ← clip(v, ±(2^23 − 1))      (both sides, the lower one, or none: what the plan proved)
    s ← v > vth << 6 ;  v ← 0 where s

Every value is an integer the state's type holds exactly (the plan's bounds:
``fast._f32_exact`` for float32, |v| < 2^31 for float64), so the sums are exact in any order
and match numpy's.  ``trunc`` is the int32 conversion (toward zero; |v · f_v| < 2^23 fits),
which compilers vectorise without a libm call.  Compiled with ``-ffp-contract=off`` and without
``-ffast-math``, so no contraction or reassociation.

:func:`hwc_records_to_chw` copies a record (steps, batch, H·W·C) bool held channels-last into
the run's (batch, steps, C·H·W) C-order result: one pass, reading each plane in order and
writing C sequential streams (numpy's strided transpose of the same copy is 2-4x slower,
measured on PilotNet's layers).

Built once per machine with the C compiler on ``PATH`` (``cc``, or ``$CC``) into
``$SNNC_CACHE_DIR`` (default ``~/.cache/snnc``), under a name hashed from the source and the
flags, written atomically; :func:`kernel` returns ``None`` -- and the fast path keeps its numpy
step, same results -- when there is no compiler, the build fails, or ``SNNC_NATIVE=0``.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from snnc.compiler.ir.arith import V_LIMIT

log = logging.getLogger(__name__)

FLAGS = ["-O3", "-shared", "-fPIC", "-fno-fast-math", "-ffp-contract=off", "-std=c99"]
#: tried first: this CPU's vector units (5x faster than baseline SSE2 on int32 -> float64,
#: measured); the cache name then includes the CPU's identity, so no other CPU loads it
NATIVE = ["-march=native"]
KINDS = {np.dtype(np.float64): 0, np.dtype(np.float32): 1, np.dtype(np.int32): 2}

SOURCE = r"""
#include <stdint.h>
#define ROW(T, ITYPE)                                                                      \
    { const ITYPE *restrict ap = (const ITYPE *)ins[k] + r * n;                            \
      for (int64_t i = 0; i < n; i++) vr[i] += (T)ap[i]; }

#define KERNEL(NAME, T)                                                                    \
void NAME(int64_t rows, int64_t n, T *v, const T *fv, int64_t fv_vec, int64_t n_in,        \
          void **ins, const int32_t *kinds, const T *bias, int64_t bias_rows,              \
          int32_t clip, T vth, uint8_t *s, uint8_t *rec, int64_t rec_stride, int64_t rec_c) { \
    const T lim = (T)LIMIT;                                                                \
    for (int64_t r = 0; r < rows; r++) {                                                   \
        T *restrict vr = v + r * n;                                                        \
        uint8_t *restrict sr = s + r * n;                                                  \
        uint8_t *restrict qr = rec ? rec + r * rec_stride : 0;                             \
        if (fv_vec) {                                                                      \
            for (int64_t i = 0; i < n; i++) vr[i] = (T)(int32_t)(vr[i] * fv[i]);           \
        } else {                                                                           \
            const T f = fv[0];                                                             \
            for (int64_t i = 0; i < n; i++) vr[i] = (T)(int32_t)(vr[i] * f);               \
        }                                                                                  \
        for (int64_t k = 0; k < n_in; k++) {                                               \
            if (kinds[k] == 0) { ROW(T, double) }                                          \
            else if (kinds[k] == 1) { ROW(T, float) }                                      \
            else { ROW(T, int32_t) }                                                       \
        }                                                                                  \
        if (bias) {                                                                        \
            const T *restrict b = bias + (bias_rows > 1 ? r * n : 0);                      \
            for (int64_t i = 0; i < n; i++) vr[i] += b[i];                                 \
        }                                                                                  \
        if (clip == 2) {                                                                   \
            for (int64_t i = 0; i < n; i++)                                                \
                vr[i] = vr[i] < -lim ? -lim : (vr[i] > lim ? lim : vr[i]);                 \
        } else if (clip == 1) {                                                            \
            for (int64_t i = 0; i < n; i++) vr[i] = vr[i] < -lim ? -lim : vr[i];           \
        }                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                  \
            uint8_t sp = vr[i] > vth;                                                      \
            sr[i] = sp;                                                                    \
            vr[i] = sp ? (T)0 : vr[i];                                                     \
        }                                                                                  \
        if (qr && rec_c > 0) {          /* held (H, W, C), recorded (C, H, W) */          \
            const int64_t hw = n / rec_c;                                                  \
            for (int64_t j0 = 0; j0 < hw; j0 += 256) {  /* tiles of 256 positions */     \
                const int64_t j1 = j0 + 256 < hw ? j0 + 256 : hw;                          \
                for (int64_t k = 0; k < rec_c; k++)                                        \
                    for (int64_t j = j0; j < j1; j++) qr[k * hw + j] = sr[j * rec_c + k];  \
            }                                                                              \
        } else if (qr) {                                                                   \
            for (int64_t i = 0; i < n; i++) qr[i] = sr[i];                                 \
        }                                                                                  \
    }                                                                                      \
}
KERNEL(lif_f64, double)
KERNEL(lif_f32, float)

void hwc_to_chw(int64_t steps, int64_t batch, int64_t hw, int64_t c, const uint8_t *src,
                uint8_t *dst) {
    for (int64_t t = 0; t < steps; t++)
        for (int64_t b = 0; b < batch; b++) {
            const uint8_t *restrict p = src + (t * batch + b) * hw * c;
            uint8_t *restrict q = dst + (b * steps + t) * hw * c;
            for (int64_t j = 0; j < hw; j++)
                for (int64_t k = 0; k < c; k++) q[k * hw + j] = p[j * c + k];
        }
}
"""

_UNBUILT = object()
_LIB = _UNBUILT


def kernel():
    """The compiled library (``lif_f64``/``lif_f32``), or ``None``: built or loaded on first use."""
    global _LIB
    if _LIB is _UNBUILT:
        _LIB = _load()
    return _LIB


def _load():
    if os.environ.get("SNNC_NATIVE", "1") == "0":
        return None
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        log.info("no C compiler: the fast path's LIF step stays in numpy (same results)")
        return None
    src = SOURCE.replace("LIMIT", str(V_LIMIT))
    cache = Path(os.environ.get("SNNC_CACHE_DIR") or Path.home() / ".cache" / "snnc")
    dll = None
    for flags in ([*FLAGS, *NATIVE], FLAGS):
        ident = [src, cc, *flags, platform.machine(), _cpu() if flags is not FLAGS else ""]
        lib = cache / f"fast_native_{hashlib.sha256(chr(0).join(ident).encode()).hexdigest()[:16]}.so"
        try:
            if not lib.is_file() and not _build(cc, flags, src, cache, lib):
                continue
            dll = ctypes.CDLL(str(lib))
            break
        except (OSError, subprocess.SubprocessError) as e:
            log.warning("the fused LIF step (%s) is not available: %s", " ".join(flags), e)
    if dll is None:
        log.warning("the fused LIF step could not be built with %s: the numpy step is used "
                    "(same results, slower)", cc)
        return None
    for name, t in (("lif_f64", ctypes.c_double), ("lif_f32", ctypes.c_float)):
        f = getattr(dll, name)
        p = ctypes.c_void_p
        f.argtypes = [ctypes.c_int64, ctypes.c_int64, p, p, ctypes.c_int64, ctypes.c_int64, p, p,
                      p, ctypes.c_int64, ctypes.c_int32, t, p, p, ctypes.c_int64, ctypes.c_int64]
        f.restype = None
    dll.hwc_to_chw.argtypes = [ctypes.c_int64] * 4 + [ctypes.c_void_p, ctypes.c_void_p]
    dll.hwc_to_chw.restype = None
    return dll


def hwc_records_to_chw(lib, rec: np.ndarray, chw: tuple[int, int, int], out: np.ndarray) -> bool:
    """``out[b, t] = rec[t, b]`` from (H, W, C) to (C, H, W) order: ``rec`` (steps, batch, n),
    ``out`` (batch, steps, n) bool, both C-contiguous.  ``False`` (nothing copied) otherwise."""
    if lib is None or not (rec.flags.c_contiguous and out.flags.c_contiguous
                           and rec.dtype == out.dtype == np.bool_):
        return False
    steps, batch, n = rec.shape
    if out.shape != (batch, steps, n):
        return False
    c, h, w = chw
    lib.hwc_to_chw(steps, batch, h * w, c, rec.ctypes.data, out.ctypes.data)
    return True


def _cpu() -> str:
    """This CPU's identity for the cache name of a ``-march=native`` build."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    keep = [ln for ln in lines if ln.split(":")[0].strip() in ("model name", "flags", "Features")]
    return "\n".join(sorted(set(keep)))


def _build(cc: str, flags: list[str], src: str, cache: Path, lib: Path) -> bool:
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        c = Path(tmp) / "fast_native.c"
        c.write_text(src)
        out = Path(tmp) / "fast_native.so"
        r = subprocess.run([cc, *flags, "-o", str(out), str(c)], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            log.info("building the fused LIF step with %s failed:\n%s", " ".join(flags),
                     r.stderr[-2000:])
            return False
        os.replace(out, lib)  # atomic: a concurrent build writes the same bytes
    return True


class Step:
    """The fused step of one population for one chunk: the arguments that stay the same."""

    def __init__(self, lib, v: np.ndarray, fv, bias, clip: int, vth: float):
        self.f = lib.lif_f32 if v.dtype == np.float32 else lib.lif_f64
        self.v = v
        self.rows, self.n = v.shape
        fv = np.ascontiguousarray(np.broadcast_to(np.asarray(fv, v.dtype), (np.size(fv),)))
        self.fv = fv  # kept alive: C holds its address
        self.fv_vec = int(fv.size > 1)
        self.v_ptr, self.fv_ptr = _address(v), _address(fv)
        self.clip, self.vth = clip, vth

    def __call__(self, ins: list[np.ndarray], bias: np.ndarray | None, s: np.ndarray,
                 rec: np.ndarray | None = None, channels: int = 0) -> None:
        """One step: ``ins`` the inputs (``a << 6``), ``bias`` (n,) or (rows, n) or ``None``,
        spikes into ``s`` (rows, n) and, when given, into ``rec`` (rows, n) bool whose rows
        may be strided (a step of a (batch, steps, n) record); ``channels`` = C > 0: the
        population is held (H, W, C) and ``rec`` takes its rows in (C, H, W) order."""
        k = len(ins)
        ptrs = (ctypes.c_void_p * max(k, 1))(*[_address(a) for a in ins])
        kinds = (ctypes.c_int32 * max(k, 1))(*[KINDS[a.dtype] for a in ins])
        if bias is not None:
            bias_ptr, bias_rows = _address(bias), (bias.shape[0] if bias.ndim == 2 else 1)
        else:
            bias_ptr, bias_rows = None, 1
        rec_ptr, rec_stride = (None, 0) if rec is None else (_address(rec), rec.strides[0])
        self.f(self.rows, self.n, self.v_ptr, self.fv_ptr, self.fv_vec, k, ptrs, kinds,
               bias_ptr, bias_rows, self.clip, self.vth, _address(s), rec_ptr, rec_stride,
               channels)


def _address(a: np.ndarray) -> int:
    """The address of ``a``'s first element (``__array_interface__``: cheaper than ``.ctypes``)."""
    return a.__array_interface__["data"][0]


def record_row(rec: np.ndarray, v: np.ndarray) -> bool:
    """Whether ``rec`` (rows, n) bool can take a step's spikes straight from the loop: v's
    shape, contiguous rows (any row stride)."""
    return rec.dtype == np.bool_ and rec.shape == v.shape and rec.strides[1] == 1


def usable(ins: list[np.ndarray], v: np.ndarray, bias, s: np.ndarray) -> bool:
    """Whether the arrays have the layout the C loop reads: C-contiguous rows of v's shape."""
    if not (v.flags.c_contiguous and s.flags.c_contiguous and s.dtype == np.bool_):
        return False
    for a in ins:
        if a.dtype not in KINDS or a.shape != v.shape or not a.flags.c_contiguous:
            return False
    if bias is not None:
        if bias.dtype != v.dtype or not bias.flags.c_contiguous or bias.shape[-1] != v.shape[1]:
            return False
        if bias.ndim == 2 and bias.shape[0] != v.shape[0]:
            return False
    return True

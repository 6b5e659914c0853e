"""Float → Loihi fixed-point conversions (pure functions, one format each).

Units.  A population's float voltage ``v`` is represented on the chip as
``v_L = 64 · S · v`` where ``S`` (the population's *scale*, integer units per float unit)
is chosen by the quantizer.  A synapse with float weight ``w`` (the increment of v per
input spike) therefore needs ``Σ w_q · 2^e ≈ S · w``: the weight mantissa ``w_q`` lives on
Lava's 8-bit grid and ``e`` is the block's ``weight_exp``.

Lava's grid (``lava/utils/weightutils.py``): excitatory weights are integers in [0, 255],
inhibitory in [−255, 0], mixed-sign weights are *even* integers in [−256, 254] (the LSB is
the sign bit's price).  The threshold is ``vth`` (17-bit mantissa, compared as vth << 6);
the bias is ``bias_mant · 2^bias_exp`` with |bias_mant| ≤ 4095.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir.loihi import DECAY_UNITY, SignMode
from snnc.compiler.targets import TargetSpec


def grid_max(mode: SignMode) -> int:
    """Largest mantissa magnitude the grid can hold for ``mode`` (254 mixed, else 255)."""
    return 254 if mode == SignMode.MIXED else 255


def to_grid(values: np.ndarray, mode: SignMode) -> np.ndarray:
    """Round real mantissas to the nearest point of Lava's 8-bit grid for ``mode``."""
    values = np.asarray(values)
    if mode == SignMode.MIXED:
        q = np.divide(values, 2.0, dtype=np.float64)
        np.rint(q, out=q)
        q *= 2.0
        lo, hi = -256, 254
    else:
        q = np.rint(values, dtype=np.float64)
        lo, hi = (-255, 0) if mode == SignMode.INHIBITORY else (0, 255)
    np.clip(q, lo, hi, out=q)
    return q.astype(np.int64)


def weight_exponent(max_abs: float, scale: float, mode: SignMode, target: TargetSpec) -> int:
    """Smallest ``weight_exp`` whose grid holds ``max_abs · scale``, clamped to the target.

    "Holds" means that the largest mantissa ``max_abs · scale / 2^e`` still rounds onto the
    grid: below 255 for mixed sign (even values up to 254), below 255.5 otherwise.
    """
    if max_abs <= 0:
        return 0
    top = grid_max(mode) + (1.0 if mode == SignMode.MIXED else 0.5)
    ratio = max_abs * scale / top
    if ratio <= 0.0:  # underflow (denormal weights): the smallest exponent
        return target.weight_exp_min
    e = math.ceil(math.log2(ratio))
    if max_abs * scale / 2.0**e >= top:  # guard log2 rounding at exact powers of two
        e += 1
    return int(min(max(e, target.weight_exp_min), target.weight_exp_max))


def quantize_weights(
    w: np.ndarray | sp.csr_matrix, scale: float, target: TargetSpec
) -> tuple[np.ndarray | sp.csr_matrix, int, SignMode, float]:
    """Map float weights (v units per spike) to (mantissas, weight_exp, sign mode, rel. error).

    The relative error is ‖w_q·2^e/S − w‖ / ‖w‖ (Frobenius), 0 for an all-zero block.
    """
    data = w.data if sp.issparse(w) else np.asarray(w)
    # one min and one max pass give both the sign mode (Lava's rule, as sign_mode_of) and max|w|
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    mode = SignMode.EXCITATORY if lo >= 0 else (SignMode.INHIBITORY if hi <= 0 else SignMode.MIXED)
    max_abs = max(hi, -lo)
    e = weight_exponent(max_abs, scale, mode, target)
    q = _quantize_flat(data, scale, 2.0**e, mode)
    norm = float(np.linalg.norm(data))
    err = _relative_error(q, 2.0**e, scale, data, norm)
    if sp.issparse(w):
        out = sp.csr_matrix((q, w.indices.copy(), w.indptr.copy()), shape=w.shape)
        out.eliminate_zeros()
        return out, e, mode, err
    return q, e, mode, err


#: elements per chunk when quantizing a big block (keeps the float temporaries in cache)
_CHUNK = 1 << 18


def _quantize_flat(data: np.ndarray, scale: float, step: float, mode: SignMode) -> np.ndarray:
    """``to_grid(data * scale / step, mode)``, same arithmetic, chunk by chunk into one int64
    array of ``data``'s shape (no full-size float temporaries)."""
    data = np.asarray(data)
    if data.size <= _CHUNK:
        return to_grid(data * scale / step, mode)
    flat = data.reshape(-1)  # a view for the C-contiguous blocks built by quantize
    out = np.empty(flat.shape, dtype=np.int64)
    buf = np.empty(_CHUNK, dtype=np.float64)
    mixed = mode == SignMode.MIXED
    lo, hi = (-256, 254) if mixed else ((-255, 0) if mode == SignMode.INHIBITORY else (0, 255))
    for i in range(0, flat.size, _CHUNK):
        n = min(_CHUNK, flat.size - i)
        b = buf[:n]
        np.multiply(flat[i : i + n], scale, out=b)
        b /= step
        if mixed:
            b /= 2.0
            np.rint(b, out=b)
            b *= 2.0
        else:
            np.rint(b, out=b)
        np.clip(b, lo, hi, out=b)
        out[i : i + n] = b  # integral values: the cast is exact
    return out.reshape(data.shape)


def _relative_error(q: np.ndarray, step: float, scale: float, data: np.ndarray, norm: float) -> float:
    """‖q·step/scale − data‖ / norm; a big dense block in row chunks (no full float copy)."""
    if norm <= 0:
        return 0.0
    if q.ndim < 2 or q.size <= 1 << 22:
        return float(np.linalg.norm(q * step / scale - data)) / norm
    rows = max(1, (1 << 18) // max(q.shape[1], 1))
    total = 0.0
    for r in range(0, q.shape[0], rows):
        d = q[r : r + rows] * step
        d /= scale
        d -= data[r : r + rows]
        total += float(np.einsum("ij,ij->", d, d))
    return math.sqrt(total) / norm


def decay_u(alpha: float) -> int:
    """Lava ``du`` for a current decay factor α: u ← u·(4096 − du − 1)/4096, so du = 4096(1−α) − 1."""
    return int(round((1.0 - alpha) * DECAY_UNITY)) - 1


def decay_v(alpha: float) -> int:
    """Lava ``dv`` for a voltage decay factor α: v ← v·(4096 − dv)/4096, so dv = 4096(1−α)."""
    return int(round((1.0 - alpha) * DECAY_UNITY))


def decay_u_array(alpha: np.ndarray) -> np.ndarray:
    """:func:`decay_u` for every element of ``alpha`` (same rounding: half to even), int64."""
    d = np.rint((1.0 - np.asarray(alpha, dtype=np.float64)) * DECAY_UNITY).astype(np.int64)
    d -= 1
    return d


def decay_v_array(alpha: np.ndarray) -> np.ndarray:
    """:func:`decay_v` for every element of ``alpha`` (same rounding: half to even), int64."""
    return np.rint((1.0 - np.asarray(alpha, dtype=np.float64)) * DECAY_UNITY).astype(np.int64)


def split_bias(bias_l: np.ndarray, target: TargetSpec) -> tuple[np.ndarray, int]:
    """Split chip-unit biases into (bias_mant, bias_exp) with |bias_mant| ≤ 4095 and
    bias_exp ≥ the target's ``bias_exp_min`` (0 on the chip; 6 for lava-dl netx, which puts
    every bias on the 2^6 grid of one weight unit: :func:`snnc.backends.netx.netx_target`).

    The exponent is the smallest that fits the largest bias; it may exceed the target's
    maximum, which the caller reports.
    """
    m = float(np.max(np.abs(bias_l), initial=0.0))
    exp = 0
    if m > target.bias_mant_max:
        exp = math.ceil(math.log2(m / target.bias_mant_max) - 1e-12)
    exp = max(exp, target.bias_exp_min)
    mant = np.rint(np.asarray(bias_l) / 2.0**exp).astype(np.int64)
    return np.clip(mant, -target.bias_mant_max, target.bias_mant_max), exp


def bias_error(bias_l: np.ndarray, mant: np.ndarray, exp: int) -> float:
    """Relative error ‖mant·2^exp − bias_l‖ / ‖bias_l‖ of a split bias (0 without bias)."""
    norm = float(np.linalg.norm(bias_l))
    if norm <= 0:
        return 0.0
    return float(np.linalg.norm(np.asarray(mant, dtype=np.float64) * 2.0**exp - bias_l)) / norm

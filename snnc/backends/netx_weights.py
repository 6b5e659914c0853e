"""What a netx weight matrix becomes in Lava, bit for bit (lava-dl 0.6.0, lava-nc 0.10.0).

A netx file stores one integer matrix ``W`` per dense layer.  ``hdf5.Network`` passes it
through lava-dl's ``netx.utils.optimize_weight_bits`` (its own copy, not Lava's)::

    excitatory (min W ≥ 0):  scale = 255 / max W,                  s = floor(log2 scale)
    inhibitory (max W < 0):  scale = −256 / min W,                 s = floor(log2 scale)
    mixed (otherwise):       scale = min(127 / max W, −128 / min W),  s = floor(log2 scale) + 1
    n = trailing zero bits shared by all W (≤ 8), minus 1 if mixed
    W_lava = W << s,  num_weight_bits = 8 − s − n,  weight_exp = −s

and Lava's bit-accurate ``Dense`` then computes (lava/proc/dense/models.py)::

    W' = truncate(clip(W_lava, 8 bits), num_weight_bits)   (per its own sign mode)
    a  = (Σ_j W'[i, j] s_j) << weight_exp   (>> −weight_exp, a floor, when negative)

:func:`folded_weights` turns any (W', weight_exp, bits, sign mode) into the integer matrix
``M`` with ``a = Σ M s`` exactly: Lava's effective weights (clip, truncate:
:mod:`snnc.compiler.ir.arith`) with the exponent folded in, or ``None`` when the floor shift of
the *sum* cannot be written per synapse.  Two blocks behave the same iff their effective matrices are equal;
export and import both rest on that test.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.ir.arith import clip_weights, truncate_weights
from snnc.compiler.ir.loihi import SignMode, sign_mode_of


def folded_weights(
    w: np.ndarray, weight_exp: int, num_weight_bits: int, mode: SignMode | None = None
) -> np.ndarray | None:
    """The integer matrix ``M`` such that Lava's Dense gives ``a = M · s``, or ``None``: the
    effective weights (Lava's clip then truncate, as :func:`snnc.compiler.ir.arith.effective_weights`
    of a synapse) shifted by ``weight_exp`` per synapse instead of on the sum."""
    mode = sign_mode_of(w) if mode is None else SignMode(mode)
    wt = truncate_weights(clip_weights(w, mode), mode, num_weight_bits).astype(np.int64)
    if weight_exp >= 0:
        return wt << int(weight_exp)
    k = -int(weight_exp)
    if np.any(wt % (1 << k)):
        return None
    return wt >> k


def netx_optimize(w: np.ndarray) -> tuple[np.ndarray, int, int] | str:
    """lava-dl's ``optimize_weight_bits`` on a stored matrix: (W_lava, bits, weight_exp).

    lava-dl's sign mode: inhibitory iff max W < 0, excitatory iff min W ≥ 0, mixed otherwise
    (so a non-positive matrix with a zero is *mixed* to lava-dl, while Lava's Dense, which
    netx does not hand lava-dl's sign mode, calls it inhibitory).

    Returns a reason string instead where lava-dl's arithmetic breaks down: an all-zero
    matrix divides by zero; mixed weights outside [-256, 254] are clipped; a scale below one
    shifts left by a negative amount; and a bit count outside Loihi's 1..8 (9 bits make
    Lava's truncation shift negative for a Dense it calls inhibitory; 0 bits truncate every
    weight to zero).
    """
    w = np.asarray(w, dtype=np.int64)
    if w.size == 0 or not np.any(w):
        return "every weight is zero (lava-dl divides by the largest weight)"
    hi, lo = int(w.max()), int(w.min())
    if lo < 0 and (hi > 254 or (lo < -256 and hi > 0)):  # lava-dl's two clipping branches
        return f"weights span [{lo}, {hi}]; lava-dl clips mixed-sign weights to [-256, 254]"
    inhibitory, excitatory = hi < 0, lo >= 0
    mixed = not (inhibitory or excitatory)
    if mixed:
        scale = min(127 / hi if hi > 0 else np.inf, -128 / lo)
    elif inhibitory:
        scale = -256 / lo
    else:
        scale = 255 / hi
    s = int(np.floor(np.log2(scale))) + int(mixed)
    if s < 0:
        return f"weights reach {hi if abs(hi) >= abs(lo) else lo}; lava-dl handles |w| ≤ 255 (256 inhibitory)"
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    n -= int(mixed)
    bits = 8 - s - n
    if not 1 <= bits <= 8:
        return (f"lava-dl sets num_weight_bits = {bits} for weights in [{lo}, {hi}]; Loihi synapses "
                "hold 1 to 8 (0 truncates every weight to zero; 9 shifts Lava's truncation by -1 "
                "when its Dense sees no positive weight)")
    return w << s, bits, -s


def netx_effective_parts(parts: list[np.ndarray]) -> list[np.ndarray] | str:
    """What Lava computes for netx blocks optimized together (``dense_rec``: ``[weight,
    weight_rec]`` share one exponent and bit count; each Dense keeps its own sign mode)."""
    opt = netx_optimize(np.hstack(parts))
    if isinstance(opt, str):
        return opt
    w_lava, bits, exp = opt
    out, col = [], 0
    for w in parts:
        m = folded_weights(w_lava[:, col : col + w.shape[1]], exp, bits)
        if m is None:
            return "lava-dl's weight exponent floors the sum"
        out.append(m)
        col += w.shape[1]
    return out


def netx_effective(w: np.ndarray) -> np.ndarray | str:
    """What Lava computes for stored netx weights ``w``: the effective matrix, or a reason."""
    out = netx_effective_parts([w])
    return out if isinstance(out, str) else out[0]

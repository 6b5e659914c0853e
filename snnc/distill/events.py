"""A procedurally generated DVS-like event-stream task in which the temporal order matters.

**Scene.**  A bar (width ``w``, length ``l``, soft edges) on a uniform background, rendered as
log-intensity frames ``L_s(x, y)`` at ``S`` micro-steps ``s = 0..S`` on an ``H×W`` sensor::

    L_s(x, y) = c · m_s(x, y),   m_s = clip(w/2 + ½ − |u_s|, 0, 1) · clip(l/2 + ½ − |v_s|, 0, 1)

where ``(u_s, v_s)`` are the pixel centre's coordinates across / along the bar at step ``s``
and ``c = ±contrast`` (a bright or a dark bar, 50/50).  Ten classes:

* ``0..7``, translation in direction ``k·45°``: the bar (its long side perpendicular to the
  motion) moves with speed ``σ`` px/step, ``u_s = (p − p₀)·d_k − σ·(s − S/2)``, passing near the
  sensor centre (``p₀``: centre + a random offset) at ``s = S/2``;
* ``8`` / ``9``, rotation counter-clockwise / clockwise about a pivot near the centre at
  ``ω`` rad/step: the bar's angle is ``θ_s = θ₀ ± ω·s``.

**Events** (an idealised DVS pixel with per-pixel contrast threshold ``C_xy`` and a reference
level ``R`` that starts at the first frame, ``R = L_0``): at step ``s = 1..S``::

    Δ = L_s − R,  n = ⌊|Δ| / C_xy⌋,  ON if Δ ≥ C_xy, OFF if Δ ≤ −C_xy,  R ← R + sign(Δ)·n·C_xy

plus background activity: every pixel and polarity fires spuriously with probability
``p_noise`` per step.  Several events of one pixel, polarity and step are one event (a bool).

**Why time matters.**  Reversing time flips the sign of every brightness change and so does
flipping the contrast ``c``; a dark bar moving along ``−d`` therefore emits (up to the
threshold hysteresis) the events of a bright bar moving along ``d`` in reverse order, and a dark
clockwise rotation those of a bright counter-clockwise one.  The events summed over the whole
sample (``T = 1``) leave each opposite pair (0/4, 1/5, 2/6, 3/7, 8/9) ambiguous (≈ 50 %
accuracy at best); their order separates them.

``generate(n, seed)`` → ``(x, y)``: ``x`` a bool array ``(n, S, 2, H, W)`` (polarity 0 = ON,
1 = OFF), ``y`` int64 labels, balanced (``i mod 10`` before a seeded shuffle).
``bin_events(x, T)``: the student's input, the micro-steps OR-ed into ``T`` equal bins;
``frames(x, F)``: the teacher's view, event counts in ``F`` bins per polarity, stacked as
``2F`` channels and scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from snnc.errors import ValidationError

N_CLASSES = 10
SIZE = 16  # sensor H = W
STEPS = 32  # micro-steps S
CLASS_NAMES = tuple(f"move {45 * k}°" for k in range(8)) + ("rotate ccw", "rotate cw")


def _soft(half: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Coverage of a pixel by a slab of half-width ``half`` at distance ``dist``: clip(half + ½ − |dist|, 0, 1)."""
    return np.clip(half + 0.5 - np.abs(dist), 0.0, 1.0)


def render(y: np.ndarray, rng: np.random.Generator, size: int = SIZE, steps: int = STEPS) -> np.ndarray:
    """Log-intensity frames ``(n, steps + 1, size, size)`` float32 of the bars of classes ``y``
    (the module docstring's scene), parameters drawn from ``rng``."""
    n = len(y)
    c0 = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    s = np.arange(steps + 1, dtype=np.float64)[None, :, None, None]  # (1, S+1, 1, 1)
    width = rng.uniform(1.5, 3.0, n)
    contrast = rng.uniform(0.6, 1.0, n) * rng.choice([-1.0, 1.0], n)
    ox, oy = rng.uniform(-2.5, 2.5, n), rng.uniform(-2.5, 2.5, n)  # centre / pivot offset
    rot = y >= 8
    # translations: direction d_k, speed so that the bar sweeps 8..18 px over the sample
    ang = np.where(rot, 0.0, y * np.pi / 4)
    speed = rng.uniform(8.0, 18.0, n) / steps
    # rotations: angle θ0 + sign·ω·s, ω sweeping 100..200° over the sample
    theta0 = rng.uniform(0.0, 2 * np.pi, n)  # a clock hand: its angle is defined mod 2π
    omega = rng.uniform(np.deg2rad(100.0), np.deg2rad(200.0), n) / steps * np.where(y == 9, -1.0, 1.0)
    length = np.where(rot, rng.uniform(5.0, 8.0, n), rng.uniform(6.0, 12.0, n))
    dx = xx[None, None] - (c0 + ox)[:, None, None, None]
    dy = yy[None, None] - (c0 + oy)[:, None, None, None]
    # the bar's across (u) and along (v) axes: motion direction for translations, θ_s for rotations
    phi = np.where(rot[:, None], theta0[:, None] + omega[:, None] * s[0, :, 0, 0][None], ang[:, None])[..., None, None]
    ca, sa = np.cos(phi), np.sin(phi)
    shift = np.where(rot, 0.0, speed)[:, None, None, None] * (s - steps / 2)
    u = dx * ca + dy * sa - shift
    v = -dx * sa + dy * ca - np.where(rot, length / 2, 0.0)[:, None, None, None]  # rotations: a clock hand
    m = _soft(width[:, None, None, None] / 2, u) * _soft(length[:, None, None, None] / 2, v)
    return (contrast[:, None, None, None] * m).astype(np.float32)


def dvs(frames: np.ndarray, rng: np.random.Generator, threshold: float = 0.2, mismatch: float = 0.03,
        p_noise: float = 0.004) -> np.ndarray:
    """Events ``(n, S, 2, H, W)`` bool of log-intensity frames ``(n, S+1, H, W)`` (the module
    docstring's pixel: reference level, per-pixel threshold ``C ~ N(threshold, mismatch)``
    clipped to ≥ threshold/2, background activity ``p_noise`` per pixel, polarity and step)."""
    n, s1, h, w = frames.shape
    c = np.maximum(rng.normal(threshold, mismatch, (n, h, w)), threshold / 2).astype(np.float32)
    ref = frames[:, 0].copy()
    out = np.zeros((n, s1 - 1, 2, h, w), dtype=bool)
    for t in range(1, s1):
        d = frames[:, t] - ref
        k = np.floor(np.abs(d) / c)
        out[:, t - 1, 0] = d >= c
        out[:, t - 1, 1] = d <= -c
        ref += np.sign(d) * k * c
    out |= rng.random(out.shape) < p_noise
    return out


def generate(n: int, seed: int = 0, size: int = SIZE, steps: int = STEPS,
             p_noise: float = 0.004) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples ``(x, y)``: events ``(n, steps, 2, size, size)`` bool, labels ``(n,)`` int64.

    Deterministic in ``seed`` (``np.random.default_rng``); balanced classes in seeded order."""
    if n < 1 or size < 4 or steps < 2:
        raise ValidationError(f"event task needs n >= 1, size >= 4, steps >= 2; got n={n}, size={size}, "
                              f"steps={steps}", hint="e.g. generate(1000, seed=0)")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % N_CLASSES).astype(np.int64)
    x = np.empty((n, steps, 2, size, size), dtype=bool)
    for i in range(0, n, 500):  # chunks bound the float64 temporaries (~40 MB each)
        j = slice(i, min(n, i + 500))
        x[j] = dvs(render(y[j], rng, size, steps), rng, p_noise=p_noise)
    return x, y


def _check_bins(steps: int, bins: int, what: str) -> None:
    if not isinstance(bins, (int, np.integer)) or bins < 1 or steps % bins:
        divisors = [d for d in range(1, steps + 1) if steps % d == 0]
        raise ValidationError(f"{what} = {bins!r} does not divide the {steps} micro-steps of the events",
                              hint=f"use one of {divisors}")


def bin_events(x: np.ndarray | torch.Tensor, timesteps: int) -> torch.Tensor:
    """Events ``(N, S, 2, H, W)`` → student spikes ``(N, T, 2, H, W)`` float 0/1:
    ``s_t = OR_{k < S/T} x[t·S/T + k]`` (a Loihi input spike is binary).  ``T`` must divide ``S``."""
    x = torch.as_tensor(np.asarray(x))
    _check_bins(x.shape[1], timesteps, "timesteps T")
    n, s = x.shape[:2]
    return x.reshape(n, timesteps, s // timesteps, *x.shape[2:]).amax(2).to(torch.float32)


def frames(x: np.ndarray | torch.Tensor, n_frames: int = 8) -> torch.Tensor:
    """Events ``(N, S, 2, H, W)`` → the teacher's view ``(N, 2·F, H, W)`` float: event counts in
    ``F`` equal bins divided by the bin length ``S/F`` (channel ``2f + p``: bin f, polarity p)."""
    x = torch.as_tensor(np.asarray(x))
    _check_bins(x.shape[1], n_frames, "teacher frames F")
    n, s = x.shape[:2]
    k = s // n_frames
    c = x.reshape(n, n_frames, k, *x.shape[2:]).to(torch.float32).sum(2) / k
    return c.reshape(n, n_frames * x.shape[2], *x.shape[3:])

"""Input encoders: static (real-valued) inputs into the binary spikes Loihi's inputs carry.

A converted ANN (:mod:`snnc.calibration.balance`) takes static inputs ``X`` of shape
``(batch, *in_shape)``; :class:`RateEncoder` turns them into ``(batch, T, *spike_shape)`` spike
trains that ``Program.run`` feeds to the chip.  It is saved in ``program.json`` (``"encoder"``).

Deterministic rate coding (an integrate-and-fire encoder with reset by subtraction, run in
software, so it is exact)::

    a = clip(x / scale, −1, 1)                  scale: the calibration data's max |x|
    c[t] = floor((t + 1)·|a| + 1/2)             spikes emitted by the end of step t
    s[t] = c[t] − c[t − 1]   (c[−1] = 0)        0 or 1, since |a| ≤ 1

so a channel with value ``a`` emits ``round(T·|a|)`` evenly spaced spikes in ``T`` steps (the
rate is exact to ``1/(2T)``), starting at step 0 when ``|a| ≥ 1/2``.

Signed inputs (``signed=True``, chosen when the calibration data hold negative values) use two
spike channels per value, ``max(a, 0)`` and ``max(−a, 0)``, concatenated along the first axis
(``spike_shape = (2·in_shape[0], *in_shape[1:])``); the first synapse layer carries ``[W, −W]``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from snnc.errors import FrontendError, InputError

Shape = tuple[int, ...]

#: the most time steps per static sample an encoder takes (a bound against absurd values)
MAX_TIMESTEPS = 1 << 20


#: bytes :meth:`RateEncoder.encode` holds per output spike at its peak (float64 counts, their
#: shifted copy and difference, the uint8 result)
ENCODE_BYTES_PER_SPIKE = 25
#: the share of the available memory one allocation may claim before snnc refuses it
MEMORY_SHARE = 0.5


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``; else free pages), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes: int, what: str, hint: str) -> None:
    """Refuse (:class:`~snnc.errors.InputError`) an allocation of about ``nbytes`` that would
    take more than :data:`MEMORY_SHARE` of the memory available, before it is tried."""
    avail = available_memory()
    if avail is not None and nbytes > MEMORY_SHARE * avail:
        raise InputError(f"{what} needs about {_gib(nbytes)} of memory; {_gib(avail)} are available",
                         hint=hint)


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


@dataclasses.dataclass(frozen=True)
class RateEncoder:
    """Deterministic rate coding of static inputs (see the module docstring)."""

    in_shape: Shape
    scale: float
    timesteps: int
    signed: bool = False
    kind = "rate"

    @property
    def spike_shape(self) -> Shape:
        if not self.signed:
            return tuple(self.in_shape)
        return (2 * self.in_shape[0],) + tuple(self.in_shape[1:])

    def rates(self, x: np.ndarray) -> np.ndarray:
        """Per-channel spike rates in [0, 1], ``(batch, *spike_shape)``."""
        a = np.clip(np.asarray(x, dtype=np.float64) / self.scale, -1.0, 1.0)
        if not self.signed:
            return np.maximum(a, 0.0)
        return np.concatenate([np.maximum(a, 0.0), np.maximum(-a, 0.0)], axis=1)

    def encode(self, x: Any, timesteps: int | None = None) -> np.ndarray:
        """``(batch, *in_shape)`` values -> ``(batch, T, *spike_shape)`` uint8 spikes.  An
        :class:`~snnc.errors.InputError` before allocating when the spikes (and the float64
        counts they are computed from) would not fit in memory."""
        x = self.check(x)
        t = int(timesteps or self.timesteps)
        cells = x.shape[0] * t * int(np.prod(self.spike_shape, dtype=np.int64))
        check_memory(cells * ENCODE_BYTES_PER_SPIKE,
                     f"encoding {x.shape[0]} samples x {t} steps x {int(np.prod(self.spike_shape))} channels",
                     "encode fewer samples at a time, or use fewer time steps (--timesteps)")
        r = self.rates(x)
        steps = np.arange(1, t + 1, dtype=np.float64).reshape((1, t) + (1,) * (r.ndim - 1))
        counts = np.floor(steps * r[:, None] + 0.5)
        prev = np.concatenate([np.zeros_like(counts[:, :1]), counts[:, :-1]], axis=1)
        return (counts - prev).astype(np.uint8)

    def check(self, x: Any) -> np.ndarray:
        arr = np.asarray(x)
        if arr.ndim != 1 + len(self.in_shape) or tuple(arr.shape[1:]) != tuple(self.in_shape):
            raise InputError(
                f"static input has shape {tuple(arr.shape)}; expected (batch, {', '.join(map(str, self.in_shape))})",
                hint="pass (batch, *input_shape) values, or already encoded spikes (batch, T, *spike_shape)",
            )
        if arr.dtype.kind not in "biuf" or (arr.size and not np.all(np.isfinite(arr))):
            raise InputError("static input must be finite numbers", hint="remove NaN/inf from the data")
        return arr

    def is_static(self, x: Any) -> bool:
        """True when ``x`` looks like static inputs (batch, *in_shape) rather than spikes."""
        return np.ndim(x) == 1 + len(self.in_shape)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "in_shape": list(self.in_shape), "scale": float(self.scale),
                "timesteps": int(self.timesteps), "signed": bool(self.signed)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "RateEncoder":
        """The encoder ``to_json`` wrote, checked: a :class:`~snnc.errors.FrontendError` names
        the field that is missing or out of range."""
        if not isinstance(d, dict):
            raise FrontendError(f"the encoder is a {type(d).__name__}, not an object")
        if d.get("kind") != cls.kind:
            raise FrontendError(f"unknown encoder kind {d.get('kind')!r} (known: {cls.kind})")
        missing = [k for k in ("in_shape", "scale", "timesteps", "signed") if k not in d]
        if missing:
            raise FrontendError(f"the encoder lacks {', '.join(missing)}")
        shape, scale, t, signed = d["in_shape"], d["scale"], d["timesteps"], d["signed"]
        if not (isinstance(shape, list) and shape and all(_is_int(v) and v >= 1 for v in shape)):
            raise FrontendError(f"encoder in_shape={shape!r} is not a list of ints >= 1")
        if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and math.isfinite(scale)
                and scale > 0):
            raise FrontendError(f"encoder scale={scale!r} is not a finite number > 0")
        if not (_is_int(t) and 1 <= t <= MAX_TIMESTEPS):
            raise FrontendError(f"encoder timesteps={t!r} outside 1..{MAX_TIMESTEPS}")
        if not isinstance(signed, bool):
            raise FrontendError(f"encoder signed={signed!r} is not true or false")
        return cls(tuple(int(v) for v in shape), float(scale), int(t), signed)

    def describe(self) -> str:
        sign = ", signed (two channels per value)" if self.signed else ""
        return f"rate encoder: x/{self.scale:.4g} -> {self.timesteps} steps{sign}"


#: fractional bits of a sigma-delta network's input payload: Lava's Delta shifts its int32 input
#: by spike_exp + state_exp = 12 and sends it >> state_exp = 6, so an input integer ``q`` is the
#: graded message ``q·2^6`` in units of 2^-12, i.e. the value ``q / 2^6`` (lava-dl netx's Input
#: transform ``x·64``)
DELTA_INPUT_BITS = 6


@dataclasses.dataclass(frozen=True)
class DeltaEncoder:
    """Inputs of a sigma-delta network (:mod:`snnc.calibration.sigma_delta`) as the int32 values
    its input ``Delta`` takes (Lava: a ``RingBuffer(int32)`` on the Delta's ``a_in``)::

        q[t] = round(x[t] / scale · 2^6)          (int32; the Delta sends the changes of q)

    A **static** input ``(batch, *in_shape)`` is held for ``timesteps`` steps: the Delta sends it
    once, at step 0, and nothing after (no change).  A **sequence** ``(batch, T, *in_shape)``
    (video- or audio-like) is presented step by step: each step the Delta sends what changed by
    at least its threshold.  Already encoded values -- int32 ``(batch, T, *in_shape)``, what
    :meth:`encode` returns -- are not encoded again (:meth:`is_static`).
    """

    in_shape: Shape
    scale: float
    timesteps: int = 1
    kind = "delta"

    @property
    def spike_shape(self) -> Shape:
        return tuple(self.in_shape)

    def encode(self, x: Any, timesteps: int | None = None) -> np.ndarray:
        """Static ``(batch, *in_shape)`` or sequences ``(batch, T, *in_shape)`` -> ``(batch, T,
        *in_shape)`` int32 (static inputs held for ``timesteps`` steps)."""
        arr = self.check(x)
        q = np.rint(arr.astype(np.float64) * (2.0**DELTA_INPUT_BITS / self.scale))
        limit = float(np.iinfo(np.int32).max)
        if q.size and float(np.max(np.abs(q))) > limit:
            raise InputError(f"an input value is {float(np.max(np.abs(arr))):g}, {float(np.max(np.abs(q))):g} "
                             f"after the encoder's x/{self.scale:g}·64: beyond int32",
                             hint="pass inputs scaled as the calibration data were")
        q = q.astype(np.int32)
        if arr.ndim == 1 + len(self.in_shape):  # static: held
            t = int(timesteps or self.timesteps)
            check_memory(4 * q.size * t, f"holding {q.shape[0]} static inputs for {t} steps",
                         "encode fewer samples at a time")
            return np.repeat(q[:, None], t, axis=1)
        return q

    def check(self, x: Any) -> np.ndarray:
        arr = np.asarray(x)
        n = len(self.in_shape)
        if arr.ndim not in (n + 1, n + 2) or tuple(arr.shape[arr.ndim - n:]) != tuple(self.in_shape):
            shape = ", ".join(map(str, self.in_shape))
            raise InputError(
                f"input has shape {tuple(arr.shape)}; expected static inputs (batch, {shape}) or "
                f"sequences (batch, time, {shape})",
                hint="pass the values as the ANN took them, with a batch axis first",
            )
        if arr.dtype.kind not in "biuf" or (arr.size and not np.all(np.isfinite(arr))):
            raise InputError("input must be finite numbers", hint="remove NaN/inf from the data")
        return arr

    def is_static(self, x: Any) -> bool:
        """True when ``x`` holds model values to encode: static inputs, or sequences that are not
        already encoded.  An **int32** array ``(batch, T, *in_shape)`` is what :meth:`encode`
        returns and is taken as encoded (so ``prog.run(prog.encode(x))`` encodes once); give a
        sequence of model values as floats (or any other dtype)."""
        n = np.ndim(x)
        if n == 2 + len(self.in_shape):
            return np.asarray(x).dtype != np.int32
        return n == 1 + len(self.in_shape)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "in_shape": list(self.in_shape), "scale": float(self.scale),
                "timesteps": int(self.timesteps)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "DeltaEncoder":
        """The encoder ``to_json`` wrote, checked (:class:`~snnc.errors.FrontendError` naming the
        field)."""
        if not isinstance(d, dict) or d.get("kind") != cls.kind:
            raise FrontendError(f"not a {cls.kind} encoder: {d!r}"[:200])
        missing = [k for k in ("in_shape", "scale", "timesteps") if k not in d]
        if missing:
            raise FrontendError(f"the encoder lacks {', '.join(missing)}")
        shape, scale, t = d["in_shape"], d["scale"], d["timesteps"]
        if not (isinstance(shape, list) and shape and all(_is_int(v) and v >= 1 for v in shape)):
            raise FrontendError(f"encoder in_shape={shape!r} is not a list of ints >= 1")
        if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and math.isfinite(scale)
                and scale > 0):
            raise FrontendError(f"encoder scale={scale!r} is not a finite number > 0")
        if not (_is_int(t) and 1 <= t <= MAX_TIMESTEPS):
            raise FrontendError(f"encoder timesteps={t!r} outside 1..{MAX_TIMESTEPS}")
        return cls(tuple(int(v) for v in shape), float(scale), int(t))

    def describe(self) -> str:
        return (f"delta encoder: round(x/{self.scale:.4g}·64) as int32, static inputs held "
                f"{self.timesteps} step{'s' if self.timesteps != 1 else ''}, sequences step by step")


ENCODERS = {RateEncoder.kind: RateEncoder, DeltaEncoder.kind: DeltaEncoder}


def encoder_from_json(d: dict[str, Any] | None) -> RateEncoder | DeltaEncoder | None:
    """The encoder saved in program.json (None when the program takes spikes)."""
    if d is None:
        return None
    cls = ENCODERS.get(d.get("kind")) if isinstance(d, dict) else None
    if cls is None:
        kind = d.get("kind") if isinstance(d, dict) else type(d).__name__
        raise FrontendError(f"unknown encoder kind {kind!r} (known: {', '.join(ENCODERS)})")
    return cls.from_json(d)

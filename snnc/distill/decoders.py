"""Spike decoders: a student tap ``x`` (B, T, ...) (spikes or membrane) → real numbers.

=====================  ==============================================  ====================
decoder                formula                                         on chip
=====================  ==============================================  ====================
RateDecoder            r = scale · (1/T) Σ_t s_t                       spiking output, counts
MembraneMeanDecoder    z = (1/T) Σ_t v_t   (integrator trace: v_T / T) NIR I (or Affine→Output)
MembraneLastDecoder    z = v_T                                         NIR LI, read at step T
AffineDecoder          z = LN(W · r + b)   (r: rate or membrane mean)  training only
FirstSpikeDecoder      d = Σ_t s_t · Π_{τ<t}(1 − s_τ) · (T − t)/T      spiking output, 1st spike
PerTimestepDecoder     z^t = x_t, or the running mean (1/(t+1)) Σ_{τ≤t}   any (host side)
=====================  ==============================================  ====================

All are differentiable (spikes carry the surrogate gradient).  Decoders on hidden taps are
training-only; only the output layer's decoder is deployed (see ``SpikingStudent``).
"""

from __future__ import annotations

import torch
from torch import nn

from snnc.errors import ValidationError


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], x.shape[1], -1)


class RateDecoder(nn.Module):
    """Firing rate over time, times a fixed or learnable positive ``scale``."""

    def __init__(self, scale: float | None = None, learnable: bool = False):
        super().__init__()
        s = torch.tensor(1.0 if scale is None else float(scale))
        self.log_scale = nn.Parameter(s.log(), requires_grad=learnable)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return s.mean(1) * self.log_scale.exp()


class MembraneMeanDecoder(nn.Module):
    """Mean membrane over time; ``cumulative=True`` for an integrator trace (v_T / T)."""

    def __init__(self, cumulative: bool = False):
        super().__init__()
        self.cumulative = cumulative

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return v[:, -1] / v.shape[1] if self.cumulative else v.mean(1)


class MembraneLastDecoder(nn.Module):
    """The membrane at the last step (a leaky read-out's state)."""

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return v[:, -1]


class AffineDecoder(nn.Module):
    """``LN(W·r + b)`` of the time-mean ``r`` of a tap (SpikeBERT's bridge); training only.

    Without sizes (``AffineDecoder()``, ``make_decoder("affine")``) it is lazy: a feature loss
    calls :meth:`build` with the tap's width and the teacher feature's width on its first
    batch (the distiller's probe batch, so the parameters reach the optimizer)."""

    def __init__(self, n_in: int | None = None, n_out: int | None = None, layernorm: bool = True):
        super().__init__()
        self.layernorm = layernorm
        self.linear: nn.Module | None = None
        self.norm: nn.Module | None = None
        if n_in is not None and n_out is not None:
            self.build(n_in, n_out)
        elif n_in is not None or n_out is not None:
            raise ValidationError(f"AffineDecoder needs both sizes or neither (n_in={n_in}, n_out={n_out})",
                                  hint="pass n_in and n_out, or none to size it lazily in a feature loss")

    @property
    def built(self) -> bool:
        return self.linear is not None

    def build(self, n_in: int, n_out: int, device: torch.device | str | None = None) -> AffineDecoder:
        """Create ``W`` (n_out × n_in), ``b`` and the LayerNorm (once)."""
        self.linear = nn.Linear(int(n_in), int(n_out), device=device)
        self.norm = nn.LayerNorm(int(n_out), device=device) if self.layernorm else nn.Identity()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.linear is None:
            raise ValidationError("AffineDecoder() has no sizes yet",
                                  hint="use it in a feature loss (FeatureKD(decoder='affine')), which sizes "
                                       "it from the tap and the teacher feature, or pass n_in, n_out")
        return self.norm(self.linear(_flat(x).mean(1)))


class FirstSpikeDecoder(nn.Module):
    """Value of the earliest spike, ``(T − t)/T`` for a first spike at step t, 0 if silent."""

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        t = s.shape[1]
        silent_before = torch.cumprod(torch.cat([torch.ones_like(s[:, :1]), 1.0 - s[:, :-1]], 1), 1)
        w = (t - torch.arange(t, dtype=s.dtype, device=s.device)) / t
        w = w.reshape(1, t, *([1] * (s.dim() - 2)))
        return (s * silent_before * w).sum(1)


class PerTimestepDecoder(nn.Module):
    """All T values (B, T, ...): the tap itself, or its running mean (``running=True``)."""

    def __init__(self, running: bool = False):
        super().__init__()
        self.running = running

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.running:
            return x
        steps = torch.arange(1, x.shape[1] + 1, dtype=x.dtype, device=x.device)
        return x.cumsum(1) / steps.reshape(1, -1, *([1] * (x.dim() - 2)))


DECODERS = {
    "rate": RateDecoder,
    "mem_mean": MembraneMeanDecoder,
    "mem_last": MembraneLastDecoder,
    "affine": AffineDecoder,
    "first_spike": FirstSpikeDecoder,
    "per_timestep": PerTimestepDecoder,
}


def make_decoder(name: str, **kw) -> nn.Module:
    """A decoder by name (keys of :data:`DECODERS`)."""
    if name not in DECODERS:
        raise ValidationError(f"unknown decoder {name!r}", hint=f"use one of {sorted(DECODERS)}")
    return DECODERS[name](**kw)

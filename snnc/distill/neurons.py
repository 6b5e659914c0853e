"""Student neurons: CUBA LIF layers (dense, conv) and non-spiking read-outs, in float and QAT.

Float model of a spiking layer (Lava's CUBA LIF; snnTorch's ``Synaptic`` with reset to 0)::

    I[t] = α·I[t−1] + W·x[t]            (current; W: Linear or Conv2d, no bias here)
    v[t] = β·v[t−1] + I[t] + b          (voltage; b: the layer's bias, entering v)
    s[t] = v[t] > θ ;   v[t] ← 0 where s[t]       (reset detached from the graph)

The Heaviside step has a fast-sigmoid surrogate derivative ``1 / (1 + k·|v − θ|)²``.

Read-outs (the deployable output decoders, see :mod:`snnc.distill.decoders`)::

    integrator (NIR I):   v[t] = v[t−1] + W·s[t] + b
    leaky      (NIR LI):  v[t] = β·v[t−1] + W·s[t] + b
    current    (NIR Affine → Output):  v[t] = W·s[t] + b

**QAT mode** (after :meth:`snnc.distill.student.SpikingStudent.quantize`): every step runs
the layer's compiled integer registers (:class:`snnc.distill.integer.IntegerLayer`, exactly
the emulator's arithmetic) and the float quantities are pinned to the integer values with a
straight-through estimator, ``q = f + (int/v_scale − f).detach()``: the forward value (and
every spike) is the chip's, the gradient is the float model's.
"""

from __future__ import annotations

import torch
from torch import nn

from snnc.errors import ValidationError

#: fast-sigmoid surrogate slope (the reference student of distill.md §5.2)
SURROGATE_SLOPE = 5.0


class SpikeFn(torch.autograd.Function):
    """Heaviside(x) forward (or a given spike tensor), fast-sigmoid derivative backward."""

    @staticmethod
    def forward(ctx, x, hard, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return hard.to(x.dtype) if hard is not None else (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * x.abs()) ** 2, None, None


def spike(x: torch.Tensor, hard: torch.Tensor | None = None, slope: float = SURROGATE_SLOPE):
    """Spikes of ``x = v − θ`` (or the given ``hard`` spikes) with a surrogate gradient."""
    return SpikeFn.apply(x, hard, slope)


def pin(f: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Straight-through: forward ``value``, gradient of ``f``."""
    return f + (value.to(f.dtype) - f).detach()


def _check_decay(name: str, value: float, allow_one: bool) -> float:
    value = float(value)
    if not (0.0 <= value < 1.0 or (allow_one and value == 1.0)):
        raise ValidationError(
            f"{name}={value:g} is outside [0, 1)",
            hint=f"use a decay factor 0 <= {name} < 1 (e.g. 0.5 or 0.75: exact on the 12-bit grid)",
        )
    return value


class _Integrating(nn.Module):
    """Shared time loop of every layer: synapse on all steps at once, then the recurrence."""

    synapse: nn.Module
    integer = None  # IntegerLayer in QAT mode (set by SpikingStudent.quantize)
    qat = False

    def _drive(self, x: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """``synapse`` on every step at once (with or without its bias)."""
        b, t = x.shape[:2]
        x = x.reshape(b * t, *x.shape[2:])
        syn = self.synapse
        if bias:
            y = syn(x)
        elif isinstance(syn, nn.Linear):
            y = nn.functional.linear(x, syn.weight)
        else:
            y = nn.functional.conv2d(x, syn.weight, None, syn.stride, syn.padding, syn.dilation, syn.groups)
        return y.reshape(b, t, *y.shape[1:])


class CubaLIF(_Integrating):
    """A spiking CUBA LIF population fed by ``synapse`` (nn.Linear or nn.Conv2d)."""

    def __init__(self, synapse: nn.Module, alpha: float = 0.5, beta: float = 0.75, threshold: float = 1.0):
        super().__init__()
        if not isinstance(synapse, (nn.Linear, nn.Conv2d)) or synapse.bias is None:
            raise ValidationError("a CubaLIF synapse must be nn.Linear or nn.Conv2d with a bias",
                                  hint="build it with CubaLIF.dense(...) or CubaLIF.conv(...)")
        self.synapse = synapse
        self.alpha = _check_decay("alpha", alpha, False)
        self.beta = _check_decay("beta", beta, False)
        self.threshold = float(threshold)
        self.membrane: torch.Tensor | None = None  # (B, T, *shape) v before reset, last forward

    @classmethod
    def dense(cls, n_in: int, n_out: int, **kw) -> CubaLIF:
        return cls(nn.Linear(n_in, n_out), **kw)

    @classmethod
    def conv(cls, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, **kw) -> CubaLIF:
        return cls(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding), **kw)

    def _bias(self, shape) -> torch.Tensor:
        b = self.synapse.bias
        return b.reshape(-1, *([1] * (len(shape) - 1))) if len(shape) > 1 else b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur = self._drive(x, bias=False)  # the bias enters v, not the current
        shape = cur.shape[2:]
        b = self._bias(shape)
        i = torch.zeros_like(cur[:, 0])
        v = torch.zeros_like(cur[:, 0])
        qat = self.qat and self.integer is not None
        if qat:
            u_l, v_l = self.integer.init(x.shape[0])  # the compiled u_init, v_init
        spikes, mems = [], []
        for t in range(cur.shape[1]):
            i = self.alpha * i + cur[:, t]
            v = self.beta * v + i + b
            hard = None
            if qat:
                a = self.integer.drive(x[:, t])
                u_l, v_pre, v_l, hard = self.integer.step(u_l, v_l, a, t)
                i = pin(i, (u_l.to(torch.float64) / self.integer.v_scale).reshape(i.shape))
                v = pin(v, (v_pre.to(torch.float64) / self.integer.v_scale).reshape(v.shape))
                hard = hard.reshape(v.shape)
            s = spike(v - self.threshold, hard)
            mems.append(v)
            v = v * (1.0 - s.detach())
            spikes.append(s)
        self.membrane = torch.stack(mems, 1)
        return torch.stack(spikes, 1)


READOUT_KINDS = ("integrator", "leaky", "current")


class Readout(_Integrating):
    """A non-spiking output population (see the module docstring): returns v (B, T, n)."""

    def __init__(self, n_in: int, n_out: int, kind: str = "integrator", beta: float = 0.75):
        super().__init__()
        if kind not in READOUT_KINDS:
            raise ValidationError(f"unknown read-out kind {kind!r}", hint=f"use one of {READOUT_KINDS}")
        self.synapse = nn.Linear(n_in, n_out)
        self.kind = kind
        self.chip_trace: torch.Tensor | None = None
        self.beta = 1.0 if kind == "integrator" else (0.0 if kind == "current" else _check_decay("beta", beta, False))
        self.membrane: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur = self._drive(x)
        v = torch.zeros_like(cur[:, 0])
        qat = self.qat and self.integer is not None
        if qat:
            u_l, v_l = self.integer.init(x.shape[0])  # the compiled u_init, v_init
        out, chip = [], []
        for t in range(cur.shape[1]):
            v = self.beta * v + cur[:, t]
            if qat:
                a = self.integer.drive(x[:, t])
                u_l, _, v_l, _ = self.integer.step(u_l, v_l, a, t)
                chip.append(v_l.to(torch.float64) / self.integer.v_scale)
                v = pin(v, chip[-1])
            out.append(v)
        #: QAT: the read-out exactly as the chip decodes it (float64, = Program.run's output)
        self.chip_trace = torch.stack(chip, 1) if chip else None
        self.membrane = torch.stack(out, 1)
        return self.membrane


class SeqFlatten(nn.Module):
    """Flatten (B, T, *shape) to (B, T, prod(shape))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], -1)

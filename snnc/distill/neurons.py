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

**Recipes** (issue 16; each deploys bit-exactly, because QAT runs the registers that
``snnc.compile`` chooses from the exported float values):

* *learnable decays* (``learn_decay=True``): α = α_lo + (α_hi − α_lo)·σ(a), β likewise, with
  :data:`ALPHA_BOUNDS` = [0, 4095/4096] (du = rint((1−α)·4096) − 1 ≥ 0) and
  :data:`BETA_BOUNDS` = [1/4096, 4095/4096] (dv = rint((1−β)·4096) ≤ 4095, the chip's largest:
  β = 0 would be clipped).  In QAT the decays are straight-through snapped onto the 12-bit grid,
  ``α_q = 1 − rint((1−α)·4096)/4096`` (the factor Lava applies), so the gradient still reaches a.
* *learnable threshold* (``learn_threshold=True``, or ``"channel"``): θ = θ_min + softplus(ρ),
  θ_min = :data:`THRESHOLD_MIN`; one θ per layer, or one per output channel (neuron for dense).
  Lava's ``vth`` is one register per population: the compiler scales the population so that
  θ_max·S = vth fits the 17-bit register (any θ > 0 does) and folds per-channel thresholds into
  the weights and bias, dividing neuron i's equation by k_i = θ_i/θ_max (a conv layer's shared
  kernel then becomes a matrix block).  The QAT pin undoes that division: float = chip·k/(64·S).
* *batch norm folded for deployment* (``batchnorm=True``): BN on the synaptic drive d = W·x[t],
  per output channel (neuron for dense), statistics over batch, time (and space)::

      s = γ / sqrt(σ² + ε) ,  c = β_bn − s·μ         (μ, σ²: batch stats in training, running in eval)
      I[t] = α·I[t−1] + s ⊙ (W·x[t])                 (the scale enters the current)
      v[t] = β·v[t−1] + I[t] + b + c                 (the shift enters v, like the bias)

  Lava's CUBA LIF has no current bias, so the shift is *defined* to enter v (a shift entering
  the α-filtered current would be a time-varying v-bias c·(1−α^{t+1})/(1−α): not foldable).
  The fold W' = s ⊙ W (rows / output channels), b' = b + c (:meth:`CubaLIF.folded`) is then
  exact by construction: the eval-mode layer *is* ``Linear|Conv2d(W', b')`` → CUBA LIF.  QAT
  freezes the statistics (running ones, like eval) and the export folds on every ``quantize()``.
"""

from __future__ import annotations

import torch
from torch import nn

from snnc.compiler.fixed_point import decay_v_array
from snnc.compiler.ir.arith import DECAY_UNITY
from snnc.errors import ValidationError

#: fast-sigmoid surrogate slope (the reference student of distill.md §5.2)
SURROGATE_SLOPE = 5.0

#: closed bounds of a learnable current decay α: du = rint((1−α)·4096) − 1 stays in 0..4095
#: (Lava's decays are 12-bit: factor (4096 − du − 1)/4096 resp. (4096 − dv)/4096, arith.DECAY_UNITY)
ALPHA_BOUNDS = (0.0, 1.0 - 1.0 / DECAY_UNITY)
#: closed bounds of a learnable voltage decay β: dv = rint((1−β)·4096) stays in 1..4095
#: (the chip's dv is at most 4095: β = 0 would be clipped to 1/4096)
BETA_BOUNDS = (1.0 / DECAY_UNITY, 1.0 - 1.0 / DECAY_UNITY)
#: a learnable threshold stays above this (θ = THRESHOLD_MIN + softplus(ρ))
THRESHOLD_MIN = 1e-2


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


def on_decay_grid(decay: torch.Tensor) -> torch.Tensor:
    """The factor Lava applies for a float decay: ``1 − dv/4096`` with the compiler's own
    register ``dv = fixed_point.decay_v_array(decay)`` (for α the same factor:
    (4096 − du − 1)/4096 with du = dv − 1)."""
    d = decay_v_array(decay.detach().cpu().numpy())
    return 1.0 - torch.as_tensor(d, dtype=decay.dtype, device=decay.device) / DECAY_UNITY


def _bounded(name: str, value: float, bounds: tuple[float, float]) -> nn.Parameter:
    """The logit a with ``lo + (hi − lo)·σ(a) = value`` (value strictly inside the bounds)."""
    lo, hi = bounds
    if not lo < value < hi:
        raise ValidationError(
            f"a learnable {name}={value:g} must start strictly inside [{lo:g}, {hi:g}]",
            hint=f"start {name} inside the register bounds, e.g. 0.5 or 0.75",
        )
    u = (value - lo) / (hi - lo)
    return nn.Parameter(torch.tensor(float(torch.logit(torch.tensor(u, dtype=torch.float64)))))


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
    """A spiking CUBA LIF population fed by ``synapse`` (nn.Linear or nn.Conv2d).

    ``learn_decay``/``learn_threshold`` make α, β / θ trainable inside the chip's registers;
    ``batchnorm`` adds a BN on the synaptic drive that folds into ``synapse`` for export (see
    the module docstring).  ``alpha``, ``beta``, ``threshold`` read the current values (a float,
    or a 0-d tensor when learnt)."""

    def __init__(self, synapse: nn.Module, alpha: float = 0.5, beta: float = 0.75, threshold: float = 1.0,
                 learn_decay: bool = False, learn_threshold: bool | str = False, batchnorm: bool = False,
                 bn_momentum: float = 0.1, bn_eps: float = 1e-5):
        super().__init__()
        if not isinstance(synapse, (nn.Linear, nn.Conv2d)) or synapse.bias is None:
            raise ValidationError("a CubaLIF synapse must be nn.Linear or nn.Conv2d with a bias",
                                  hint="build it with CubaLIF.dense(...) or CubaLIF.conv(...)")
        self.synapse = synapse
        self._alpha = _check_decay("alpha", alpha, False)
        self._beta = _check_decay("beta", beta, False)
        self._threshold = float(threshold)
        if not self._threshold > 0:
            raise ValidationError(f"threshold={self._threshold:g} must be > 0", hint="use e.g. threshold=1.0")
        self.alpha_logit = _bounded("alpha", self._alpha, ALPHA_BOUNDS) if learn_decay else None
        self.beta_logit = _bounded("beta", self._beta, BETA_BOUNDS) if learn_decay else None
        n_ch = synapse.out_features if isinstance(synapse, nn.Linear) else synapse.out_channels
        if learn_threshold not in (False, True, "layer", "channel"):
            raise ValidationError(f"learn_threshold={learn_threshold!r} is not one of False, True, 'layer', 'channel'",
                                  hint="True (= 'layer'): one θ per layer; 'channel': one per output channel")
        if learn_threshold:
            if not self._threshold > THRESHOLD_MIN:
                raise ValidationError(f"a learnable threshold={self._threshold:g} must start above {THRESHOLD_MIN:g}",
                                      hint="use e.g. threshold=1.0")
            rho = torch.log(torch.expm1(torch.tensor(self._threshold - THRESHOLD_MIN, dtype=torch.float64)))
            shape = (n_ch,) if learn_threshold == "channel" else ()
            self.threshold_raw = nn.Parameter(torch.full(shape, float(rho)))
        else:
            self.threshold_raw = None
        # nn.BatchNorm1d only holds γ, β_bn and the running statistics (computed in _bn_affine)
        self.bn = nn.BatchNorm1d(n_ch, eps=bn_eps, momentum=bn_momentum) if batchnorm else None
        self.membrane: torch.Tensor | None = None  # (B, T, *shape) v before reset, last forward

    @staticmethod
    def _squash(logit: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
        lo, hi = bounds
        return lo + (hi - lo) * torch.sigmoid(logit)

    @property
    def alpha(self):
        """Current decay α (float, or a 0-d tensor in :data:`ALPHA_BOUNDS` when learnt)."""
        return self._alpha if self.alpha_logit is None else self._squash(self.alpha_logit, ALPHA_BOUNDS)

    @property
    def beta(self):
        """Voltage decay β (float, or a 0-d tensor in :data:`BETA_BOUNDS` when learnt)."""
        return self._beta if self.beta_logit is None else self._squash(self.beta_logit, BETA_BOUNDS)

    @property
    def threshold(self):
        """θ (float, or a tensor ≥ :data:`THRESHOLD_MIN` when learnt: 0-d, or (channels,))."""
        if self.threshold_raw is None:
            return self._threshold
        return THRESHOLD_MIN + nn.functional.softplus(self.threshold_raw)

    def _bn_affine(self, cur: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """BN's per-channel (s, c): batch statistics of ``cur`` (B, T, C, ...) when given (and
        the running ones updated), else the running statistics."""
        bn = self.bn
        if cur is not None:
            dims = [0, 1] + list(range(3, cur.dim()))
            mean = cur.mean(dims)
            var = cur.var(dims, unbiased=False)
            with torch.no_grad():
                n = cur.numel() / cur.shape[2]
                bn.running_mean.lerp_(mean.detach().to(bn.running_mean.dtype), bn.momentum)
                unbiased = var.detach() * (n / max(n - 1.0, 1.0))
                bn.running_var.lerp_(unbiased.to(bn.running_var.dtype), bn.momentum)
                bn.num_batches_tracked += 1
        else:
            mean, var = bn.running_mean, bn.running_var
        s = bn.weight / torch.sqrt(var + bn.eps)
        return s, bn.bias - s * mean

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The deployable synapse (W', b'): W' = s ⊙ W, b' = b + c with BN's running (s, c);
        (W, b) without BN."""
        w, b = self.synapse.weight, self.synapse.bias
        if self.bn is None:
            return w, b
        s, c = self._bn_affine()
        return w * s.reshape(-1, *([1] * (w.dim() - 1))), b + c

    @classmethod
    def dense(cls, n_in: int, n_out: int, **kw) -> CubaLIF:
        return cls(nn.Linear(n_in, n_out), **kw)

    @classmethod
    def conv(cls, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, **kw) -> CubaLIF:
        return cls(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding), **kw)

    def _bias(self, shape, extra: torch.Tensor | None = None) -> torch.Tensor:
        b = self.synapse.bias if extra is None else self.synapse.bias + extra
        return b.reshape(-1, *([1] * (len(shape) - 1))) if len(shape) > 1 else b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur = self._drive(x, bias=False)  # the bias enters v, not the current
        shape = cur.shape[2:]
        qat = self.qat and self.integer is not None
        shift = None
        if self.bn is not None:  # BN: scale into the current, shift into v (module docstring)
            s_bn, shift = self._bn_affine(cur if self.training and not qat else None)
            cur = cur * s_bn.reshape(-1, *([1] * (len(shape) - 1)))
        b = self._bias(shape, shift)
        alpha, beta = self.alpha, self.beta
        if qat and self.alpha_logit is not None:  # the 12-bit grid, straight-through
            alpha, beta = pin(alpha, on_decay_grid(alpha.detach())), pin(beta, on_decay_grid(beta.detach()))
        theta = self.threshold
        k = 1.0  # the compiler's per-channel division k = θ/θ_max (module docstring)
        if isinstance(theta, torch.Tensor) and theta.dim() == 1:
            theta = theta.reshape(-1, *([1] * (len(shape) - 1)))
            if qat:
                th = theta.detach().to(torch.float64)
                k = (th / th.max()).expand(shape).reshape(-1)
        i = torch.zeros_like(cur[:, 0])
        v = torch.zeros_like(cur[:, 0])
        if qat:
            u_l, v_l = self.integer.init(x.shape[0])  # the compiled u_init, v_init
        spikes, mems = [], []
        for t in range(cur.shape[1]):
            i = alpha * i + cur[:, t]
            v = beta * v + i + b
            hard = None
            if qat:
                a = self.integer.drive(x[:, t])
                u_l, v_pre, v_l, hard = self.integer.step(u_l, v_l, a, t)
                i = pin(i, (u_l.to(torch.float64) * k / self.integer.v_scale).reshape(i.shape))
                v = pin(v, (v_pre.to(torch.float64) * k / self.integer.v_scale).reshape(v.shape))
                hard = hard.reshape(v.shape)
            s = spike(v - theta, hard)
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

"""Composable, named distillation losses.  Each is an ``nn.Module`` whose ``forward(batch)``
takes a :class:`KDBatch` and returns a scalar; ``name`` keys it in the training logs.

Notation: z_S student logits, z_T teacher logits, τ temperature, p = softmax(z/τ)::

    KL_τ(z_S, z_T) = τ² · KL(p_T ‖ p_S)                                   (batch mean)
    LogitKD  mean:          KL_τ(z_S, z_T)
             per_timestep:  (1/T) Σ_t KL_τ(z_S^t, z_T)
             focal:         τ² · mean_b[ w_b · (−Σ p_T log p_S) ],  w = 1 − exp(−CE_S/CE_T)
    FeatureKD     MSE( P(D(s_tap)), f_T )       D: a decoder, P: an affine/identity projector
    RelationKD    MSE( G_S, G_T ),  G = F Fᵀ / (row norm + ε)       (B × B, scale-free)
    OTFeatureKD   Σ_ij P_ij C_ij,  C_ij = (1 − cos(P(D(s_i)), f_T,j))²,  P = Sinkhorn plan
    SpikeBudget   mean over layers of relu(rate − target)²
    CrossEntropy  CE(z_S, y)
    TETLoss       (1−λ)·(1/T) Σ_t CE(z_S^t, y) + λ·(1/T) Σ_t MSE(z_S^t, φ)    (Deng et al. 2022)
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from snnc.distill.decoders import AffineDecoder, make_decoder
from snnc.errors import ValidationError


@dataclasses.dataclass
class KDBatch:
    """What a loss may look at for one batch."""

    student: object  # StudentOutput
    teacher_logits: torch.Tensor | None
    labels: torch.Tensor
    student_taps: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    teacher_taps: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)


def kl_tau(z_s: torch.Tensor, z_t: torch.Tensor, tau: float, scale: bool = True) -> torch.Tensor:
    """τ²·KL(softmax(z_T/τ) ‖ softmax(z_S/τ)), batch mean (τ² dropped with ``scale=False``)."""
    kl = F.kl_div(F.log_softmax(z_s / tau, -1), F.log_softmax(z_t / tau, -1), reduction="batchmean",
                  log_target=True)
    return kl * tau * tau if scale else kl


class CrossEntropy(nn.Module):
    name = "ce"

    def forward(self, b: KDBatch) -> torch.Tensor:
        return F.cross_entropy(b.student.logits, b.labels)


class TETLoss(nn.Module):
    """Temporal Efficient Training (Deng et al., ICLR 2022): the CE of every step's logits
    instead of the CE of their mean, plus an optional MSE regulariser pulling every step's
    logits towards a constant φ::

        L = (1 − λ)·(1/T) Σ_t CE(z_S^t, y) + λ·(1/T) Σ_t MSE(z_S^t, φ)

    on ``out.per_step`` (B, T, n): the logits the output decoder gives after t + 1 steps (for
    ``mem_mean`` the running mean v_t/(t+1), for ``per_timestep`` v_t).  The (1 − λ, λ) mixing
    with φ = 1 is the paper's ``TET_loss(outputs, labels, criterion, means, lamb)`` as recalled
    (not checked against its repository here); ``lam=0`` (default) is plain TET."""

    name = "tet"

    def __init__(self, lam: float = 0.0, phi: float = 1.0):
        super().__init__()
        if not 0.0 <= lam <= 1.0:
            raise ValidationError(f"TET lambda={lam:g} is outside [0, 1]", hint="use e.g. lam=0 or 1e-3")
        self.lam, self.phi = float(lam), float(phi)

    def forward(self, b: KDBatch) -> torch.Tensor:
        z = b.student.per_step
        t = z.shape[1]
        ce = F.cross_entropy(z.reshape(-1, z.shape[-1]), b.labels.repeat_interleave(t))  # mean over (b, t)
        if self.lam == 0.0:
            return ce
        return (1.0 - self.lam) * ce + self.lam * F.mse_loss(z, torch.full_like(z, self.phi))


class LogitKD(nn.Module):
    """Logit distillation, ``mode`` in {mean, per_timestep, focal}; default τ=1 (measured best)."""

    name = "logit_kd"
    MODES = ("mean", "per_timestep", "focal")

    def __init__(self, tau: float = 1.0, mode: str = "mean", tau_squared: bool = True):
        super().__init__()
        if mode not in self.MODES:
            raise ValidationError(f"unknown LogitKD mode {mode!r}", hint=f"use one of {self.MODES}")
        if not tau > 0:
            raise ValidationError(f"temperature tau={tau} must be > 0", hint="use e.g. tau=1.0")
        self.tau, self.mode, self.tau_squared = float(tau), mode, tau_squared

    def forward(self, b: KDBatch) -> torch.Tensor:
        z_s, z_t, tau = b.student.logits, b.teacher_logits, self.tau
        if self.mode == "mean":
            return kl_tau(z_s, z_t, tau, self.tau_squared)
        if self.mode == "per_timestep":
            zs = b.student.per_step
            t = zs.shape[1]
            zt = z_t.unsqueeze(1).expand(-1, t, -1)
            return kl_tau(zs.reshape(-1, zs.shape[-1]), zt.reshape(-1, zt.shape[-1]), tau, self.tau_squared)
        ce_s = F.cross_entropy(z_s.detach(), b.labels, reduction="none")
        ce_t = F.cross_entropy(z_t.detach(), b.labels, reduction="none")
        w = 1.0 - torch.exp(-torch.clamp(ce_s / ce_t.clamp_min(1e-12), min=0.0))
        soft = -(F.softmax(z_t / tau, -1) * F.log_softmax(z_s / tau, -1)).sum(-1)
        return (w * soft).mean() * (tau * tau if self.tau_squared else 1.0)


class _TapDecoding(nn.Module):
    """A decoder for the student taps: one shared instance, or with ``decoder="affine"`` one
    :class:`~snnc.distill.decoders.AffineDecoder` per pair, sized on the first batch from the
    tap (n_in = its features per step) and the teacher feature (n_out = its width)."""

    def _init_decoder(self, decoder: str) -> None:
        self.decoder_kind = decoder
        self.decoder = None if decoder == "affine" else make_decoder(decoder)
        self.tap_decoders = nn.ModuleDict()

    def decode(self, s_name: str, tap: torch.Tensor, n_teacher: int) -> torch.Tensor:
        if self.decoder is not None:
            return self.decoder(tap)
        key = s_name.replace(".", "_")
        if key not in self.tap_decoders:
            n_in = int(torch.tensor(tap.shape[2:]).prod())
            self.tap_decoders[key] = AffineDecoder().build(n_in, n_teacher, device=tap.device)
        return self.tap_decoders[key](tap)


class _PairLoss(_TapDecoding):
    """Base of the feature losses: ``pairs`` {student tap: teacher tap}, a decoder for the
    student tap and a lazily sized affine projector (training-only) per pair."""

    def __init__(self, pairs: dict[str, str], decoder: str = "rate", projector: str = "affine"):
        super().__init__()
        if not pairs:
            raise ValidationError("a feature loss needs at least one (student tap, teacher tap) pair",
                                  hint="pass pairs={'body.fc2': 'net.3'}")
        if projector not in ("affine", "identity"):
            raise ValidationError(f"unknown projector {projector!r}", hint="use 'affine' or 'identity'")
        self.pairs = dict(pairs)
        self._init_decoder(decoder)
        self.projector_kind = projector
        self.projectors = nn.ModuleDict()

    def features(self, b: KDBatch):
        for s_name, t_name in self.pairs.items():
            if s_name not in b.student_taps or t_name not in b.teacher_taps:
                raise ValidationError(f"tap {s_name!r} -> {t_name!r} was not recorded",
                                      hint="tap names are module names (student.named_modules(), teacher.named_modules())")
            ft = b.teacher_taps[t_name].reshape(b.labels.shape[0], -1)
            fs = self.decode(s_name, b.student_taps[s_name], ft.shape[1]).reshape(b.labels.shape[0], -1)
            key = s_name.replace(".", "_")
            if self.projector_kind == "affine":
                if key not in self.projectors:
                    self.projectors[key] = nn.Linear(fs.shape[1], ft.shape[1]).to(fs.device)
                fs = self.projectors[key](fs)
            elif fs.shape[1] != ft.shape[1]:
                raise ValidationError(f"tap {s_name!r} has {fs.shape[1]} features, {t_name!r} {ft.shape[1]}",
                                      hint="use projector='affine' to bridge the widths")
            yield fs, ft


class FeatureKD(_PairLoss):
    name = "feature_kd"

    def forward(self, b: KDBatch) -> torch.Tensor:
        return sum(F.mse_loss(fs, ft) for fs, ft in self.features(b))


def relation_matrix(f: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Row-normalised B×B similarity ``G_i = (F Fᵀ)_i / (‖(F Fᵀ)_i‖ + ε)`` of flattened features.

    ε keeps the gradient bounded for a silent sample (an all-zero spike-rate row); with
    ``F.normalize``'s ε = 1e-12 instead, a small student was measured to collapse (digits
    16-16: 64 % instead of 94 %)."""
    f = f.reshape(f.shape[0], -1)
    g = f @ f.T
    return g / (g.norm(dim=1, keepdim=True) + eps)


class RelationKD(_TapDecoding):
    """Similarity-preserving KD (SuperSNN-style pairwise relations); needs no projector."""

    name = "relation_kd"

    def __init__(self, pairs: dict[str, str], decoder: str = "rate", eps: float = 1e-3):
        super().__init__()
        self.pairs = dict(pairs)
        self._init_decoder(decoder)
        self.eps = eps

    def forward(self, b: KDBatch) -> torch.Tensor:
        total = 0.0
        for s_name, t_name in self.pairs.items():
            f_t = b.teacher_taps[t_name]
            f_s = self.decode(s_name, b.student_taps[s_name], f_t.reshape(f_t.shape[0], -1).shape[1])
            g_s = relation_matrix(f_s, self.eps)
            g_t = relation_matrix(f_t, self.eps)
            total = total + F.mse_loss(g_s, g_t)
        return total


def sinkhorn(cost: torch.Tensor, eps: float, iters: int = 50) -> torch.Tensor:
    """Entropic OT plan between uniform weights, log-domain Sinkhorn::

        f_i = −ε·logsumexp_j((g_j − C_ij)/ε + log b_j),  g_j = −ε·logsumexp_i((f_i − C_ij)/ε + log a_i)
        P_ij = exp((f_i + g_j − C_ij)/ε + log a_i + log b_j)
    """
    n, m = cost.shape
    log_a = torch.full((n,), -math.log(n), dtype=cost.dtype, device=cost.device)
    log_b = torch.full((m,), -math.log(m), dtype=cost.dtype, device=cost.device)
    f = torch.zeros(n, dtype=cost.dtype, device=cost.device)
    g = torch.zeros(m, dtype=cost.dtype, device=cost.device)
    for _ in range(iters):
        f = -eps * torch.logsumexp((g[None, :] - cost) / eps + log_b[None, :], dim=1)
        g = -eps * torch.logsumexp((f[:, None] - cost) / eps + log_a[:, None], dim=0)
    return torch.exp((f[:, None] + g[None, :] - cost) / eps + log_a[:, None] + log_b[None, :])


def ot_distance(x: torch.Tensor, y: torch.Tensor, blur: float = 0.1 ** 0.5, iters: int = 50) -> torch.Tensor:
    """Σ P_ij C_ij with cosine cost C = (1 − cos)² and ε = blur² (geomloss' p=2 convention)."""
    # eps: a silent sample (zero row) must not get a 1/1e-12 gradient (see relation_matrix)
    cost = (1.0 - F.normalize(x, dim=1, eps=1e-3) @ F.normalize(y, dim=1, eps=1e-3).T) ** 2
    plan = sinkhorn(cost, blur ** 2, iters)
    return (plan * cost).sum()


class OTFeatureKD(_PairLoss):
    """Wasserstein alignment of the batch's student features with the teacher's (KDSNN-TII)."""

    name = "ot_kd"

    def __init__(self, pairs: dict[str, str], decoder: str = "rate", blur: float = 0.1 ** 0.5, iters: int = 50):
        super().__init__(pairs, decoder)
        self.blur, self.iters = blur, iters

    def forward(self, b: KDBatch) -> torch.Tensor:
        return sum(ot_distance(fs, ft, self.blur, self.iters) for fs, ft in self.features(b))


class SpikeBudget(nn.Module):
    """Firing-rate regulariser: mean over spiking layers of ``relu(rate − target)²``."""

    name = "spike_budget"

    def __init__(self, target_rate: float = 0.1):
        super().__init__()
        self.target = float(target_rate)

    def forward(self, b: KDBatch) -> torch.Tensor:
        rates = list(b.student.rates.values())
        return torch.stack([F.relu(r - self.target).pow(2).mean() for r in rates]).mean()


class Weighted(nn.Module):
    """``weight · loss``, keeping the loss' name."""

    def __init__(self, loss: nn.Module, weight: float):
        super().__init__()
        self.loss, self.weight, self.name = loss, float(weight), loss.name

    def forward(self, b: KDBatch) -> torch.Tensor:
        return self.weight * self.loss(b)


FAMILIES = ("ce", "kd", "kd_step", "kd_focal", "feature", "relation", "ot", "twoway", "tet", "kd_tet")
#: families that do not look at the teacher (the distiller may run without one)
TEACHERLESS = ("ce", "tet")


def loss_family(name: str, tau: float = 1.0, alpha: float = 1.0, pairs: dict[str, str] | None = None,
                feature_weight: float = 1.0, budget: float | None = None, decoder: str = "rate",
                tet_lambda: float = 0.0) -> list[nn.Module]:
    """A ready loss list by family name: ce, kd, kd_step, kd_focal, feature, relation, ot,
    tet, kd_tet (every KD family is CE + α·LogitKD(τ) [+ feature term on the tap ``decoder``,
    e.g. rate or affine]; ``tet`` replaces CE by :class:`TETLoss` (``tet_lambda``), ``kd_tet`` is
    TET + α·per-timestep LogitKD(τ); ``budget`` adds SpikeBudget)."""
    if name not in FAMILIES:
        raise ValidationError(f"unknown loss family {name!r}", hint=f"use one of {FAMILIES}")
    tet = name in ("tet", "kd_tet")
    losses: list[nn.Module] = [TETLoss(tet_lambda) if tet else CrossEntropy()]
    if name not in TEACHERLESS:
        mode = {"kd_step": "per_timestep", "kd_focal": "focal", "kd_tet": "per_timestep"}.get(name, "mean")
        losses.append(Weighted(LogitKD(tau, mode), alpha))
    if name in ("feature", "relation", "ot"):
        if not pairs:
            raise ValidationError(f"loss family {name!r} needs tap pairs", hint="pass pairs={'body.fc2': 'net.3'}")
        cls = {"feature": FeatureKD, "relation": RelationKD, "ot": OTFeatureKD}[name]
        losses.append(Weighted(cls(pairs, decoder=decoder), feature_weight))
    if budget is not None:
        losses.append(Weighted(SpikeBudget(budget), 1.0))
    return losses

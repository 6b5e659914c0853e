"""The distillation step, one-way (teacher → student) or two-way (with the reverse path).

Per batch (x_T: the teacher's input, x_S: the student's spikes, y: labels)::

    student:  L_S = Σ_k w_k · loss_k(z_S, z_T.detach(), taps)          (losses: snnc.distill.losses)
    teacher (reverse=ReverseKD(...), the SNN→DNN path):
              L_T = CE(z_T, y) + γ · τ²·KL(softmax(z_S/τ) ‖ softmax(z_T/τ))   with z_S detached
    teacher (reverse=TeacherCE(...), the control of the two-way loop):
              L_T = CE(z_T, y)                     (γ = 0: the teacher just keeps training)

The student's step is the same in all three cases (it distils from the teacher as it is at
that batch), so ``ReverseKD`` against ``TeacherCE`` at the same ``teacher_lr`` isolates the
KL-toward-student term: the two-way loop's gain is what it adds over the control, for the
student and for the teacher.  Teacher taps are recorded under ``no_grad`` unless the teacher
trains.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from snnc.distill.losses import KDBatch, kl_tau
from snnc.distill.taps import Taps
from snnc.errors import ValidationError


@dataclasses.dataclass
class ReverseKD:
    """The SNN→DNN path: after each student step the teacher takes an Adam step
    (``teacher_lr``) on CE + γ·τ²·KL toward the student; logged as ``teacher_ce``,
    ``teacher_kl`` and ``teacher_loss`` (their weighted sum), the arm as :attr:`name`."""

    tau: float = 1.0
    gamma: float = 0.5
    teacher_lr: float = 1e-4

    @property
    def name(self) -> str:
        return "twoway" if self.gamma else "control"


@dataclasses.dataclass
class TeacherCE(ReverseKD):
    """The teacher-only control of the two-way loop: the teacher keeps training on CE alone
    (γ = 0, no term toward the student) with the same optimizer and ``teacher_lr``."""

    gamma: float = 0.0

    def __post_init__(self):
        if self.gamma != 0.0:
            raise ValidationError(f"TeacherCE has no KL term (gamma={self.gamma})",
                                  hint="use ReverseKD(gamma=...) for the two-way loop")


#: ``Distiller(target_norm=...)``: None keeps the teacher's tap features as they are;
#: ``"layer"`` standardises each sample's feature, f ← (f − mean(f)) / sqrt(var(f) + 1e-5)
#: over its non-batch dimensions (a LayerNorm without affine), so a feature loss matches the
#: pattern, not the scale, of the teacher's (unbounded) ReLU activity.
TARGET_NORMS = (None, "layer")


class Distiller(nn.Module):
    """Holds teacher, student, losses and taps; ``step(x_t, x_s, y)`` returns a log dict."""

    def __init__(self, teacher: nn.Module | None, student: nn.Module, losses: list[nn.Module],
                 taps: dict[str, str] | None = None, reverse: ReverseKD | None = None, lr: float = 2e-3,
                 target_norm: str | None = None):
        super().__init__()
        if target_norm not in TARGET_NORMS:
            raise ValidationError(f"unknown target_norm {target_norm!r}", hint=f"use one of {TARGET_NORMS}")
        self.target_norm = target_norm
        self.teacher, self.student = teacher, student
        self.losses = nn.ModuleList(losses)
        self.pairs = dict(taps or {})
        self.reverse = reverse
        self.lr = lr
        self._s_taps = Taps(student, list(self.pairs)) if self.pairs else None
        self._t_taps = Taps(teacher, list(self.pairs.values())) if self.pairs and teacher is not None else None
        self.opt: torch.optim.Optimizer | None = None
        self.teacher_opt: torch.optim.Optimizer | None = None

    def _student_module(self) -> nn.Module:
        return self.student.module if hasattr(self.student, "module") else self.student

    def _target(self, f: torch.Tensor) -> torch.Tensor:
        return f if self.target_norm is None else F.layer_norm(f, f.shape[1:])

    def compute(self, x_t, x_s, y) -> tuple[torch.Tensor, dict[str, float], torch.Tensor | None, object]:
        two_way = self.reverse is not None and self.teacher is not None
        z_t = None
        if self.teacher is not None:
            self.teacher.train(two_way)
            with torch.set_grad_enabled(two_way):
                z_t = self.teacher(x_t)
        out = self.student(x_s)
        batch = KDBatch(
            out, None if z_t is None else z_t.detach(), y,
            dict(self._s_taps.values) if self._s_taps else {},
            {k: self._target(v.detach()) for k, v in self._t_taps.values.items()} if self._t_taps else {},
        )
        logs, total = {}, 0.0
        for loss in self.losses:
            value = loss(batch)
            logs[loss.name] = float(value.detach())
            total = total + value
        logs["loss"] = float(total.detach())
        logs["spikes_per_sample"] = float(out.spikes.detach().mean())
        return total, logs, z_t, out

    def configure(self, x_t, x_s, y) -> None:
        """Size the lazy projectors with one probe batch, then build the optimizers."""
        with torch.no_grad():
            self.compute(x_t, x_s, y)
        params = list(self._student_module().parameters()) + list(self.losses.parameters())
        self.opt = torch.optim.Adam(params, lr=self.lr)
        if self.reverse is not None and self.teacher is not None:
            self.teacher_opt = torch.optim.Adam(self.teacher.parameters(), lr=self.reverse.teacher_lr)

    def step(self, x_t, x_s, y) -> dict[str, float]:
        if self.opt is None:
            self.configure(x_t, x_s, y)
        self.student.train()
        total, logs, z_t, out = self.compute(x_t, x_s, y)
        self.opt.zero_grad()
        total.backward()
        self.opt.step()
        if self.teacher_opt is not None:
            r = self.reverse
            ce_t = F.cross_entropy(z_t, y)
            loss_t = ce_t
            if r.gamma:  # the two-way term; TeacherCE (γ = 0) leaves it out, not multiplied by 0
                kl_t = kl_tau(z_t, out.logits.detach(), r.tau)
                loss_t = ce_t + r.gamma * kl_t
                logs["teacher_kl"] = float(kl_t.detach())
            self.teacher_opt.zero_grad()
            loss_t.backward()
            self.teacher_opt.step()
            logs["teacher_ce"] = float(ce_t.detach())
            logs["teacher_loss"] = float(loss_t.detach())
        return logs

"""The distillation step, one-way (teacher → student) or two-way (with the reverse path).

Per batch (x_T: the teacher's input, x_S: the student's spikes, y: labels)::

    student:  L_S = Σ_k w_k · loss_k(z_S, z_T.detach(), taps)          (losses: snnc.distill.losses)
    teacher (reverse=ReverseKD(...), the SNN→DNN path):
              L_T = CE(z_T, y) + γ · τ²·KL(softmax(z_S/τ) ‖ softmax(z_T/τ))   with z_S detached

Teacher taps are recorded under ``no_grad`` unless the reverse path is on.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from snnc.distill.losses import KDBatch, kl_tau
from snnc.distill.taps import Taps


@dataclasses.dataclass
class ReverseKD:
    """The SNN→DNN path: the teacher takes a step on CE + γ·KL toward the student."""

    tau: float = 1.0
    gamma: float = 0.5
    teacher_lr: float = 1e-4


class Distiller(nn.Module):
    """Holds teacher, student, losses and taps; ``step(x_t, x_s, y)`` returns a log dict."""

    def __init__(self, teacher: nn.Module | None, student: nn.Module, losses: list[nn.Module],
                 taps: dict[str, str] | None = None, reverse: ReverseKD | None = None, lr: float = 2e-3):
        super().__init__()
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
            {k: v.detach() for k, v in self._t_taps.values.items()} if self._t_taps else {},
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
            loss_t = F.cross_entropy(z_t, y) + r.gamma * kl_tau(z_t, out.logits.detach(), r.tau)
            self.teacher_opt.zero_grad()
            loss_t.backward()
            self.teacher_opt.step()
            logs["teacher_loss"] = float(loss_t.detach())
        return logs

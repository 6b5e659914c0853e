"""The two-way loop against its teacher-only control (snnc.distill.distiller): the control's
teacher step is exactly an Adam CE step, the student's step is the same in both, and the only
difference is the KL-toward-student term; teacher-feature standardisation (target_norm)."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnc.distill import Distiller, ReverseKD, dense_student, loss_family
from snnc.distill.distiller import TeacherCE
from snnc.errors import ValidationError


def _setup(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(24, 10, generator=g)
    xs = (torch.rand(24, 4, 10, generator=g) < 0.5).float()
    y = torch.randint(0, 3, (24,), generator=g)
    torch.manual_seed(seed)
    teacher = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    student = dense_student([10, 12, 12, 3])
    return teacher, student, x, xs, y


def _params(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def test_control_teacher_step_is_a_plain_adam_ce_step():
    teacher, student, x, xs, y = _setup()
    manual = copy.deepcopy(teacher)
    dist = Distiller(teacher, student, loss_family("kd"), reverse=TeacherCE(teacher_lr=1e-2))
    logs = dist.step(x, xs, y)
    opt = torch.optim.Adam(manual.parameters(), lr=1e-2)
    manual.train()
    ce = F.cross_entropy(manual(x), y)
    opt.zero_grad()
    ce.backward()
    opt.step()
    for a, b in zip(dist.teacher.parameters(), manual.parameters(), strict=True):
        assert torch.equal(a, b)
    assert logs["teacher_ce"] == pytest.approx(float(ce.detach())) and logs["teacher_loss"] == logs["teacher_ce"]
    assert "teacher_kl" not in logs  # named: no KL term at all, not one multiplied by 0
    assert dist.reverse.name == "control"


def test_twoway_differs_from_control_only_in_the_teacher_term():
    runs = {}
    for name, rev in (("twoway", ReverseKD(gamma=0.5, teacher_lr=1e-2)), ("control", TeacherCE(teacher_lr=1e-2)),
                      ("oneway", None)):
        teacher, student, x, xs, y = _setup()
        dist = Distiller(teacher, student, loss_family("kd"), reverse=rev)
        t0 = _params(teacher)
        logs1 = dist.step(x, xs, y)
        s1, t1 = _params(dist.student), _params(dist.teacher)
        dist.step(x, xs, y)
        runs[name] = dict(t0=t0, s1=s1, t1=t1, s2=_params(dist.student), logs=logs1)
    tw, co, one = runs["twoway"], runs["control"], runs["oneway"]
    # first step: the student steps before the teacher, on the same z_T: equal in all three arms
    for a, b, c in zip(tw["s1"], co["s1"], one["s1"], strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    # the teachers: moved in twoway and control, differently (the KL term); untouched one-way
    assert any(not torch.equal(a, b) for a, b in zip(tw["t1"], co["t1"]))
    assert any(not torch.equal(a, b) for a, b in zip(co["t0"], co["t1"]))
    assert all(torch.equal(a, b) for a, b in zip(one["t0"], one["t1"]))
    # second step: the student now learns from a different teacher
    assert any(not torch.equal(a, b) for a, b in zip(tw["s2"], co["s2"]))
    assert any(not torch.equal(a, b) for a, b in zip(co["s2"], one["s2"]))
    assert tw["logs"]["teacher_kl"] > 0 and tw["logs"]["teacher_loss"] == pytest.approx(
        tw["logs"]["teacher_ce"] + 0.5 * tw["logs"]["teacher_kl"])
    assert ReverseKD().name == "twoway" and ReverseKD(gamma=0.0).name == "control"


def test_teacher_ce_refuses_a_kl_weight():
    with pytest.raises(ValidationError, match="gamma"):
        TeacherCE(gamma=0.5)


class _Capture(nn.Module):
    name = "capture"

    def forward(self, b):
        self.taps = b.teacher_taps
        return b.student.logits.sum() * 0.0


def test_target_norm_layer_standardises_each_teacher_feature():
    teacher, student, x, xs, y = _setup()
    cap = _Capture()
    with torch.no_grad():
        raw = teacher[:2](x)
    Distiller(teacher, student, [cap], taps={"body.fc2": "1"}, target_norm="layer").compute(x, xs, y)
    f = cap.taps["1"]
    assert torch.allclose(f, F.layer_norm(raw, raw.shape[1:]))
    assert torch.allclose(f.mean(1), torch.zeros(len(x)), atol=1e-5)
    assert torch.allclose(f.var(1, unbiased=False), torch.ones(len(x)), atol=1e-2)  # eps 1e-5 of LayerNorm
    Distiller(teacher, student, [cap], taps={"body.fc2": "1"}).compute(x, xs, y)
    assert torch.equal(cap.taps["1"], raw)  # default: the teacher's feature as it is
    with pytest.raises(ValidationError, match="target_norm"):
        Distiller(teacher, student, [cap], target_norm="batch")

"""Distillation losses: known values, shapes, gradients, the two-way step and the hooks."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnc.distill import Distiller, ReverseKD, dense_student, init_from_ann
from snnc.distill import losses as L
from snnc.distill.student import StudentOutput
from snnc.errors import ValidationError


def _batch(z_s, z_t, y, per_step=None, s_taps=None, t_taps=None, rates=None):
    out = StudentOutput(z_s, per_step if per_step is not None else z_s[:, None], z_s[:, None],
                        torch.zeros(z_s.shape[0]), rates or {})
    return L.KDBatch(out, z_t, y, s_taps or {}, t_taps or {})


def test_logit_kd_zero_for_equal_logits_and_known_value():
    z = torch.tensor([[1.0, 2.0, 0.5]])
    y = torch.tensor([1])
    assert float(L.LogitKD(tau=2.0)(_batch(z, z, y))) == pytest.approx(0.0, abs=1e-7)
    z_s = torch.tensor([[0.0, 0.0]], requires_grad=True)
    z_t = torch.tensor([[math.log(3.0), 0.0]])  # p_T = (0.75, 0.25), p_S = (0.5, 0.5)
    want = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    v = L.LogitKD(tau=1.0)(_batch(z_s, z_t, y[:1] * 0))
    assert float(v.detach()) == pytest.approx(want, rel=1e-6)
    v.backward()
    assert z_s.grad.abs().sum() > 0
    # tau^2 scaling
    v4 = L.LogitKD(tau=4.0)(_batch(z_s.detach(), z_t, y[:1] * 0))
    v4n = L.LogitKD(tau=4.0, tau_squared=False)(_batch(z_s.detach(), z_t, y[:1] * 0))
    assert float(v4) == pytest.approx(16 * float(v4n), rel=1e-6)


def test_per_timestep_and_focal_modes():
    torch.manual_seed(0)
    z_t = torch.randn(4, 5)
    y = torch.randint(0, 5, (4,))
    per_step = z_t[:, None].repeat(1, 3, 1)
    b = _batch(torch.randn(4, 5), z_t, y, per_step=per_step)
    assert float(L.LogitKD(mode="per_timestep")(b)) == pytest.approx(0.0, abs=1e-6)
    # focal: a student as good as the teacher gets weight 1 - e^-1 on soft CE
    b = _batch(z_t.clone().requires_grad_(True), z_t, y)
    soft = -(F.softmax(z_t, -1) * F.log_softmax(z_t, -1)).sum(-1).mean()
    v = L.LogitKD(mode="focal")(b)
    assert float(v) == pytest.approx(float((1 - math.exp(-1)) * soft), rel=1e-5)
    v.backward()
    with pytest.raises(ValidationError):
        L.LogitKD(mode="bogus")


def test_feature_kd_projector_learns_and_gradients_flow():
    torch.manual_seed(0)
    s_tap = torch.rand(8, 4, 6, requires_grad=True)  # (B, T, N) spikes-like
    t_tap = torch.randn(8, 3)
    loss = L.FeatureKD({"s": "t"})
    b = _batch(torch.randn(8, 2), torch.randn(8, 2), torch.zeros(8, dtype=torch.long), s_taps={"s": s_tap},
               t_taps={"t": t_tap})
    v = loss(b)
    v.backward()
    assert s_tap.grad.abs().sum() > 0 and loss.projectors["s"].weight.grad is not None
    ident = L.FeatureKD({"s": "t"}, projector="identity")
    with pytest.raises(ValidationError, match="features"):
        ident(b)


def test_relation_kd_zero_for_proportional_features():
    f = torch.randn(6, 5)
    b = _batch(torch.randn(6, 2), torch.randn(6, 2), torch.zeros(6, dtype=torch.long),
               s_taps={"s": (3.0 * f)[:, None].repeat(1, 4, 1)}, t_taps={"t": f})
    assert float(L.RelationKD({"s": "t"}, eps=0.0)(b)) == pytest.approx(0.0, abs=1e-10)
    g = L.relation_matrix(f, eps=0.0)
    assert g.shape == (6, 6) and torch.allclose(g.norm(dim=1), torch.ones(6))
    # a silent sample (zero row) keeps a bounded gradient
    z = torch.zeros(3, 4, requires_grad=True)
    L.relation_matrix(z).sum().backward()
    assert torch.isfinite(z.grad).all()


def test_sinkhorn_known_values():
    c = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    p = L.sinkhorn(c, eps=0.01, iters=200)
    assert torch.allclose(p, torch.tensor([[0.5, 0.0], [0.0, 0.5]], dtype=torch.float64), atol=1e-6)
    assert torch.allclose(p.sum(1), torch.full((2,), 0.5, dtype=torch.float64))
    x = torch.randn(5, 4, dtype=torch.float64)
    assert float(L.ot_distance(x, x, blur=0.05, iters=200)) == pytest.approx(0.0, abs=1e-3)
    y = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    d = L.ot_distance(y, -x)
    d.backward()
    assert d > 0.05 and y.grad.abs().sum() > 0


def test_spike_budget_penalises_only_excess():
    rates = {"a": torch.tensor([0.05, 0.3]), "b": torch.tensor([0.1, 0.1])}
    b = _batch(torch.randn(2, 2), None, torch.zeros(2, dtype=torch.long), rates=rates)
    assert float(L.SpikeBudget(0.1)(b)) == pytest.approx((0.2 ** 2 / 2 + 0.0) / 2)


def test_loss_family_names():
    assert [m.name for m in L.loss_family("kd_step")] == ["ce", "logit_kd"]
    assert [m.name for m in L.loss_family("ot", pairs={"a": "b"}, budget=0.1)] == ["ce", "logit_kd", "ot_kd",
                                                                                   "spike_budget"]
    with pytest.raises(ValidationError):
        L.loss_family("relation")


def _teacher():
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))


def test_distiller_two_way_updates_teacher_and_taps_by_name():
    torch.manual_seed(0)
    teacher, student = _teacher(), dense_student([10, 12, 12, 3])
    x = torch.rand(16, 10)
    xs = (torch.rand(16, 4, 10) < 0.5).float()
    y = torch.randint(0, 3, (16,))
    dist = Distiller(teacher, student, L.loss_family("feature", pairs={"body.fc2": "1"}),
                     taps={"body.fc2": "1"}, reverse=ReverseKD(teacher_lr=1e-2))
    before = teacher[0].weight.detach().clone()
    logs = dist.step(x, xs, y)
    assert {"ce", "logit_kd", "feature_kd", "loss", "teacher_loss", "spikes_per_sample"} <= set(logs)
    assert not torch.equal(before, teacher[0].weight)  # the reverse path moved the teacher
    one_way = Distiller(teacher, student, L.loss_family("kd"))
    before = teacher[0].weight.detach().clone()
    one_way.step(x, xs, y)
    assert torch.equal(before, teacher[0].weight)
    with pytest.raises(ValidationError, match="no module named"):
        Distiller(teacher, student, [], taps={"body.nope": "1"})


def test_init_from_ann_copies_weights():
    ann = nn.Sequential(nn.Linear(10, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3))
    st = dense_student([10, 12, 12, 3])
    pairs = init_from_ann(st, ann)
    assert len(pairs) == 3 and torch.equal(st.out.synapse.weight, ann[4].weight)
    with pytest.raises(ValidationError):
        init_from_ann(dense_student([10, 8, 8, 3]), ann)


@pytest.mark.parametrize("cls", [L.FeatureKD, L.RelationKD])
def test_affine_decoder_in_a_feature_loss_is_sized_lazily_and_trained(cls):
    # FeatureKD(decoder="affine") used to raise TypeError (AffineDecoder got no sizes): the loss
    # sizes one decoder per pair from the tap (10 wide) and the teacher feature (16 wide) on
    # the distiller's probe batch, and the optimizer holds and moves its parameters
    from snnc.distill.data import rate_encode
    from snnc.distill.decoders import AffineDecoder

    torch.manual_seed(0)
    x = torch.rand(32, 12)
    y = (x[:, :6].sum(1) > x[:, 6:].sum(1)).long()
    teacher = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))
    pairs = {"body.fc2": "1"}
    loss = cls(pairs, decoder="affine")
    d = Distiller(teacher, dense_student([12, 10, 10, 2]), [L.CrossEntropy(), loss], taps=pairs)
    xs = rate_encode(x, 4)
    d.configure(x, xs, y)
    dec = loss.tap_decoders["body_fc2"]
    assert isinstance(dec, AffineDecoder)
    assert tuple(dec.linear.weight.shape) == (16, 10) and tuple(dec.norm.weight.shape) == (16,)
    in_opt = {id(p) for g in d.opt.param_groups for p in g["params"]}
    assert all(id(p) in in_opt for p in dec.parameters())
    before = [p.detach().clone() for p in dec.parameters()]
    for _ in range(3):
        logs = d.step(x, xs, y)
    assert math.isfinite(logs[loss.name])
    assert any(not torch.equal(a, p) for a, p in zip(before, dec.parameters()))


def test_affine_decoder_without_sizes_names_the_fix():
    from snnc.distill.decoders import AffineDecoder

    with pytest.raises(ValidationError, match="no sizes yet"):
        AffineDecoder()(torch.zeros(2, 3, 4))
    with pytest.raises(ValidationError, match="both sizes or neither"):
        AffineDecoder(4)
    assert AffineDecoder(4, 5)(torch.zeros(2, 3, 4)).shape == (2, 5)

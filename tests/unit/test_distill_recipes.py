"""The low-T recipes of issue 16, each deployable bit for bit: learnt decays and thresholds
inside Lava's registers, the TET per-timestep loss, batch norm folded into the synapse."""

import math

import numpy as np
import pytest
import torch

import snnc
from snnc.compiler.ir import loihi
from snnc.distill import Distiller, compile_student, conv_student, dense_student, fit
from snnc.distill.data import digits, rate_encode
from snnc.distill.deploy import evaluate, evaluate_deployed
from snnc.distill.export import to_nir
from snnc.distill.losses import KDBatch, TETLoss, loss_family
from snnc.distill.neurons import ALPHA_BOUNDS, BETA_BOUNDS, THRESHOLD_MIN, CubaLIF, on_decay_grid
from snnc.errors import ValidationError


def _compartments(prog, student):
    return {n: prog.graph[n.split(".", 1)[1]] for n, _ in student.spiking_layers()}


def test_learnt_decays_and_thresholds_stay_inside_the_registers():
    """Adam at lr 5 for 300 steps drives fc1's α→1, β→0, θ→0 and fc2's the other way: the
    values saturate at the bounds, compile without a clip note, and the compiled du/dv give
    exactly the factor ``on_decay_grid`` states."""
    torch.manual_seed(0)
    st = dense_student([12, 16, 8, 3], learn_decay=True, learn_threshold=True)
    f1, f2 = st.body.fc1, st.body.fc2
    opt = torch.optim.Adam(st.parameters(), lr=5.0)
    for _ in range(300):
        opt.zero_grad()
        loss = (-f1.alpha + f1.beta + f1.threshold) + (f2.alpha - f2.beta - 1e-2 * f2.threshold)
        loss.backward()
        opt.step()
    val = lambda t: float(t.detach())  # noqa: E731
    for m in (f1, f2):
        assert ALPHA_BOUNDS[0] <= val(m.alpha) <= ALPHA_BOUNDS[1]
        assert BETA_BOUNDS[0] <= val(m.beta) <= BETA_BOUNDS[1]
        assert val(m.threshold) >= float(np.float32(THRESHOLD_MIN))  # the bound in the parameters' float32
    assert val(f1.alpha) > 0.999 and val(f1.beta) < 1e-3 and val(f1.threshold) < 0.02
    assert val(f2.alpha) < 1e-3 and val(f2.beta) > 0.999 and val(f2.threshold) > 5.0
    prog = compile_student(st)
    for name, comp in _compartments(prog, st).items():
        m = st.get_submodule(name)
        assert 0 <= int(comp.du) <= 4095 and 0 <= int(comp.dv) <= 4095 and comp.vth >= 1
        assert (4096 - int(comp.du) - 1) / 4096 == float(on_decay_grid(m.alpha.detach().double()))
        assert (4096 - int(comp.dv)) / 4096 == float(on_decay_grid(m.beta.detach().double()))
    notes = " ".join(n for r in prog.layers for n in r["notes"])
    assert prog.layers and "clipped" not in notes


def test_learnable_start_outside_the_bounds_is_a_clear_error():
    with pytest.raises(ValidationError, match="strictly inside"):
        CubaLIF.dense(4, 4, alpha=0.0, learn_decay=True)
    with pytest.raises(ValidationError, match="must be > 0"):
        CubaLIF.dense(4, 4, threshold=0.0)


def test_qat_gradient_reaches_learnt_decays_thresholds_and_bn():
    torch.manual_seed(1)
    st = dense_student([24, 32, 16, 6], learn_decay=True, learn_threshold=True, batchnorm=True)
    x = (torch.rand(8, 6, 24) < 0.4).float()
    st(x)  # one training batch: running statistics
    st.quantize()
    st(x).logits.sum().backward()
    for m in (st.body.fc1, st.body.fc2):
        for p in (m.alpha_logit, m.beta_logit, m.threshold_raw, m.bn.weight, m.bn.bias):
            assert p.grad is not None and p.grad.abs().sum() > 0


def _spikes_by_layer(student, x):
    rec = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: rec.__setitem__(n, o.detach()))
             for n, m in student.spiking_layers()]
    student(x)
    for h in hooks:
        h.remove()
    return rec


def _qat_equals_emulator(student, x):
    """Every hidden layer's QAT spikes equal the deployed program's (none silent)."""
    prog = compile_student(student)
    student.quantize()
    student.eval()
    rec = _spikes_by_layer(student, x)
    raw = prog.run(x.numpy().astype(np.uint8), return_raw=True)
    t = x.shape[1]
    for name, s in rec.items():
        pop = name.split(".", 1)[1]
        k = prog.graph[pop].start_step
        chip = raw.spikes[pop][:, k : k + t].reshape(s.shape[0], t, -1)
        mine = s.reshape(s.shape[0], t, -1).numpy().astype(chip.dtype)
        assert int((chip != mine).sum()) == 0, f"{pop}: {(chip != mine).sum()} spike mismatches"
        assert chip.sum() > 0, f"{pop} is silent: the comparison would be vacuous"


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_trained_recipe_student_deploys_bit_exact(kind):
    """Learnt α, β, θ and BN, trained in float then one QAT epoch on digits: QAT accuracy =
    emulator accuracy, and 0 spike mismatches on a batch."""
    xtr, ytr, xte, yte = digits()
    n_tr, n_te = len(ytr), 120
    rec = dict(learn_decay=True, learn_threshold=True, batchnorm=True)
    if kind == "dense":
        st = dense_student([64, 32, 32, 10], **rec)
        enc = lambda x: rate_encode(x, 4)  # noqa: E731
    else:
        st = conv_student((1, 8, 8), [4], 32, 10, **rec)
        enc = lambda x: rate_encode(x.reshape(-1, 1, 8, 8), 4)  # noqa: E731
    torch.manual_seed(0)
    dist = Distiller(None, st, loss_family("tet"))
    fit(dist, xtr[:n_tr], enc(xtr[:n_tr]), ytr[:n_tr], epochs=2, progress=False)
    fit(dist, xtr[:192], enc(xtr[:192]), ytr[:192], epochs=0, qat_epochs=1, progress=False)  # 3 QAT steps
    st = dist.student
    for m in (m for _, m in st.spiking_layers()):  # the recipes moved off their start values
        assert float(m.alpha.detach()) != 0.5 and float(m.threshold.detach()) != 1.0
        assert not torch.allclose(m.bn.running_var, torch.ones_like(m.bn.running_var))
    ste = enc(xte[:n_te])
    qat = evaluate(st, ste, yte[:n_te])
    dep = evaluate_deployed(st, ste, yte[:n_te], profile=False)
    assert qat["acc"] == pytest.approx(dep["acc"], abs=1e-9) and qat["acc"] > 50.0  # 1 sample: 0.83 pp
    _qat_equals_emulator(st, ste[:40])


def test_tet_loss_equals_a_hand_computation():
    z = torch.tensor([[[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]],
                      [[0.0, 3.0, 0.0], [-1.0, 0.5, 2.0]]])  # (B=2, T=2, n=3)
    y = torch.tensor([0, 2])

    def ce(row, k):
        return -(row[k] - math.log(sum(math.exp(v) for v in row)))

    rows = z.tolist()
    hand_ce = sum(ce(rows[b][t], int(y[b])) for b in range(2) for t in range(2)) / 4
    hand_mse = sum((v - 1.0) ** 2 for b in rows for r in b for v in r) / 12

    class Out:
        per_step = z

    b = KDBatch(student=Out(), teacher_logits=None, labels=y)
    assert TETLoss()(b).item() == pytest.approx(hand_ce, rel=1e-6)
    assert TETLoss(lam=0.25)(b).item() == pytest.approx(0.75 * hand_ce + 0.25 * hand_mse, rel=1e-6)
    names = [type(m).__name__ for m in loss_family("kd_tet")]
    assert names == ["TETLoss", "Weighted"] and loss_family("kd_tet")[1].loss.mode == "per_timestep"
    with pytest.raises(ValidationError):
        TETLoss(lam=2.0)


def _bn_student(kind, threshold="layer"):
    rec = dict(learn_decay=True, learn_threshold=threshold, batchnorm=True)
    if kind == "dense":
        st, shape = dense_student([24, 32, 16, 6], **rec), (24,)
    else:
        st, shape = conv_student((2, 8, 8), [4], 16, 5, **rec), (2, 8, 8)
    with torch.no_grad():
        for _, m in st.spiking_layers():
            m.bn.weight.uniform_(0.5, 2.0)
            m.bn.bias.uniform_(-0.5, 0.5)
            m.alpha_logit.fill_(0.3)
            m.beta_logit.fill_(1.2)
            m.threshold_raw.uniform_(-0.5, 1.0) if threshold == "channel" else m.threshold_raw.fill_(0.4)
    return st.double(), shape


@pytest.mark.parametrize("kind,threshold", [("dense", "layer"), ("conv", "layer"), ("dense", "channel"),
                                            ("conv", "channel")])
def test_bn_fold_matches_the_eval_forward(kind, threshold):
    """The folded export run by snnc's float reference simulator gives the eval-mode float64
    student's spikes in every layer (and its read-out)."""
    torch.manual_seed(3)
    st, shape = _bn_student(kind, threshold)
    for _ in range(5):  # training batches: non-trivial running statistics
        st((torch.rand(16, 6, *shape) < 0.5).double())
    st.eval()
    x = (torch.rand(10, 6, *shape) < 0.4).double()
    rec = _spikes_by_layer(st, x)
    out = st(x)
    graph = to_nir(st)
    res = snnc.simulate(graph, x.numpy(), record="all")
    for name, s in rec.items():
        pop = name.split(".", 1)[1]
        np.testing.assert_array_equal(res[pop].reshape(s.shape), s.numpy())
        assert s.sum() > 0
    np.testing.assert_allclose(res["out"], out.trace.detach().numpy(), rtol=1e-9, atol=1e-9)
    m = st.spiking_layers()[0][1]
    assert not torch.allclose(m.folded()[0], m.synapse.weight)  # the fold is not the identity


def test_bn_uses_batch_statistics_in_training_and_export_leaves_them_alone():
    torch.manual_seed(4)
    st = dense_student([24, 32, 16, 6], batchnorm=True)
    x = (torch.rand(16, 6, 24) < 0.5).float()
    fc1 = st.body.fc1
    drive = fc1._drive(x, bias=False)
    s, c = fc1._bn_affine(drive)
    normed = drive * s + c  # what the layer's current and v receive, summed
    assert torch.allclose(normed.mean((0, 1)), fc1.bn.bias, atol=1e-5)
    assert torch.allclose(normed.var((0, 1), unbiased=False), fc1.bn.weight ** 2, atol=1e-3)
    before = {k: v.clone() for k, v in st.state_dict().items() if "running" in k}
    to_nir(st)
    st.quantize()  # QAT: frozen statistics, even in training mode
    st.train()
    st(x)
    after = {k: v for k, v in st.state_dict().items() if "running" in k}
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_compiled_layer_has_one_register_set_per_population():
    """Learnt θ is one ``vth`` per population; learnt decays one (du, dv) pair (no profiles)."""
    st = dense_student([12, 16, 8, 3], learn_decay=True, learn_threshold=True, batchnorm=True)
    prog = compile_student(st)
    for comp in _compartments(prog, st).values():
        assert isinstance(comp, loihi.Compartment) and comp.decay_profiles == 1
        assert np.ndim(comp.vth) == 0


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_per_channel_thresholds_deploy_bit_exact(kind):
    """Per-channel θ: the compiler folds θ_i/θ_max into the weights (one ``vth``); the QAT
    forward still equals the emulator spike for spike, and its gradient reaches every θ_i."""
    torch.manual_seed(6)
    st, shape = _bn_student(kind, "channel")
    st = st.float()
    with torch.no_grad():
        for _ in range(3):
            st((torch.rand(16, 6, *shape) < 0.5).float())
        for m in st.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(2.0)
    x = (torch.rand(6, 8, *shape) < 0.4).float()
    first = st.spiking_layers()[0][1]
    st.eval()
    st(x)
    v_float = first.membrane[:, 0].detach().clone()  # step 0: the same input in both modes
    _qat_equals_emulator(st, x)
    v_qat = first.membrane[:, 0].detach()  # the chip's v, decoded with k_i = θ_i/θ_max
    assert (v_qat - v_float).abs().max() < 0.05 * v_float.abs().max()
    prog = compile_student(st)
    assert any("per-neuron thresholds" in n for r in prog.layers for n in r["notes"])
    st.train()
    st(x).logits.sum().backward()
    g = st.spiking_layers()[0][1].threshold_raw.grad
    assert g is not None and g.shape[0] > 1 and bool((g != 0).any())

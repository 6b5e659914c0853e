"""Closing the mnist1d student gap (issue 16): the teacher as a deployable body
(snnc.distill.conversion), a sigma-delta student initialised from the teacher itself
(init_from_teacher, ``--student sd --teacher-init``), deployed bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from snnc.distill import evaluate, experiment, train_teacher  # noqa: E402
from snnc.distill.conversion import (  # noqa: E402
    conv1d_as_conv2d,
    dense_equivalent,
    deployable_body,
    fold_standardisation,
    input_standardisation,
    lif_student_like,
    padded_input_fold,
)
from snnc.distill.init import init_from_teacher  # noqa: E402
from snnc.distill.sigma_delta import SigmaDeltaStudent, evaluate_sd_deployed  # noqa: E402
from snnc.errors import InputError, ValidationError  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _teacher_with_statistics(padding: int = 1) -> nn.Sequential:
    """The mnist1d teacher (optionally without padding in its first conv) with non-trivial input
    statistics μ ≈ 0.55, σ ≈ 0.1 (those of the trained teacher) and random weights."""
    torch.manual_seed(0)
    t = experiment.mnist1d_teacher()
    if padding != 1:
        t[2] = nn.Conv1d(1, 25, 5, stride=2, padding=padding)
    t.train()
    with torch.no_grad():
        for _ in range(50):
            t(0.55 + 0.1 * torch.randn(64, 40))
    return t.eval()


def _x(n: int = 16) -> torch.Tensor:
    return (0.55 + 0.1 * torch.randn(n, 40, generator=torch.Generator().manual_seed(1))).clamp(0, 1)


def test_conv1d_as_conv2d_is_the_same_function():
    torch.manual_seed(0)
    c1 = nn.Conv1d(3, 5, 5, stride=2, padding=1)
    x = torch.randn(4, 3, 17)
    y = conv1d_as_conv2d(c1)(x[:, :, None, :])
    assert y.shape == (4, 5, 1, 8)
    torch.testing.assert_close(y[:, :, 0], c1(x), rtol=0, atol=1e-6)


def test_body_without_the_fold_is_the_teacher_of_the_standardised_input():
    t = _teacher_with_statistics()
    mu, sigma = input_standardisation(t)
    assert 0.4 < float(mu) < 0.7 and 0.05 < float(sigma) < 0.2  # the statistics are not trivial
    body = deployable_body(t, fold_input=False)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.Conv1d, nn.Unflatten)) for m in body.modules())
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(body(((x - mu) / sigma).reshape(-1, 1, 1, 40)), t(x), rtol=0, atol=1e-5)


def test_folded_standardisation_equals_the_unfolded_forward():
    # no padding in the first conv: the fold is exact everywhere
    t = _teacher_with_statistics(padding=0)
    with torch.no_grad():
        torch.testing.assert_close(deployable_body(t)(_x().reshape(-1, 1, 1, 40)), t(_x()), rtol=0, atol=1e-4)
    # padding 1: exact on every output position whose kernel covers no padding (all but the first)
    t = _teacher_with_statistics()
    mu, sigma = input_standardisation(t)
    conv = conv1d_as_conv2d(t[2])
    folded = fold_standardisation(conv, mu, sigma)
    x = _x()[:, None, None, :]
    with torch.no_grad():
        ref, got = conv((x - mu) / sigma), folded(x)
    torch.testing.assert_close(got[..., 1:], ref[..., 1:], rtol=0, atol=1e-5)
    pad_tap = (conv.weight[:, 0, 0, 0] * mu / sigma).reshape(1, -1, 1)  # x pads 0 where x' pads 0 = x = μ
    torch.testing.assert_close(got[..., 0] - ref[..., 0], -pad_tap.expand_as(ref[..., 0]), rtol=0, atol=1e-4)


def test_padded_input_fold_is_exact_with_the_host_padding_x_with_mu():
    t = _teacher_with_statistics()
    body, mu, pad = padded_input_fold(t)
    assert pad == 1 and body[0].padding == (0, 0) and abs(mu - float(input_standardisation(t)[0])) < 1e-7
    x = _x()
    host = torch.nn.functional.pad(x, (pad, pad), value=mu).reshape(-1, 1, 1, 40 + 2 * pad)
    with torch.no_grad():
        torch.testing.assert_close(body(host), t(x), rtol=0, atol=1e-4)


def test_dense_equivalent_and_the_lif_student_have_the_teachers_function():
    t = _teacher_with_statistics()
    body, mu, pad = padded_input_fold(t)
    conv = body[2]  # conv2 on (25, 1, 19)
    h = torch.rand(3, 25, 1, 19)
    with torch.no_grad():
        torch.testing.assert_close(dense_equivalent(conv, (25, 1, 19))(h.reshape(3, -1)), conv(h).reshape(3, -1),
                                   rtol=0, atol=1e-5)
    st = lif_student_like(body, (1, 1, 42))
    assert [n for n, _ in st.spiking_layers()] == ["body.fc1", "body.fc2", "body.fc3"]
    assert st.input_shape == (42,) and st.out.synapse.out_features == 10
    # the read-out is the teacher's last Linear; the LIF weights are the dense equivalents
    torch.testing.assert_close(st.out.synapse.weight, body[-1].weight)
    torch.testing.assert_close(st.body.fc1.synapse.weight, dense_equivalent(body[0], (1, 1, 42)).weight)
    lam = [2.0, 4.0, 8.0]
    bal = lif_student_like(body, (1, 1, 42), balance=lam)
    torch.testing.assert_close(bal.body.fc2.synapse.weight, st.body.fc2.synapse.weight * 2.0 / 4.0)
    torch.testing.assert_close(bal.body.fc2.synapse.bias, st.body.fc2.synapse.bias / 4.0)
    torch.testing.assert_close(bal.out.synapse.weight, st.out.synapse.weight * 8.0)
    with pytest.raises(ValidationError, match="balance has 2 values for 3"):
        lif_student_like(body, (1, 1, 42), balance=[1.0, 1.0])


def test_deployable_body_refuses_what_has_no_deployable_form():
    with pytest.raises(ValidationError, match="MaxPool1d"):
        deployable_body(nn.Sequential(nn.Unflatten(1, (1, 40)), nn.Conv1d(1, 2, 3), nn.MaxPool1d(2)))
    with pytest.raises(ValidationError, match="BatchNorm1d 2 after layer"):
        deployable_body(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4, affine=False)))
    with pytest.raises(ValidationError, match="affine=False"):
        deployable_body(nn.Sequential(nn.BatchNorm1d(1), nn.Linear(4, 2)))


def test_init_from_teacher_makes_the_sd_student_the_teacher():
    t = _teacher_with_statistics()
    st = SigmaDeltaStudent(deployable_body(experiment.mnist1d_teacher()), (1, 1, 40), None, threshold=None)
    init_from_teacher(st, t)
    assert st.standardise is not None
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(st(st.prepare(x.reshape(-1, 1, 1, 40))).logits, t(x), rtol=0, atol=1e-5)
    with pytest.raises(ValidationError, match="no calibration"):
        st.compile()
    wrong = SigmaDeltaStudent(nn.Sequential(nn.Flatten(), nn.Linear(40, 10)), (1, 1, 40), None)
    with pytest.raises(ValidationError, match="teacher's topology"):
        init_from_teacher(wrong, t)


def test_teacher_initialised_sd_student_deploys_the_trained_teacher_bit_for_bit():
    # a short mnist1d teacher; the SD student initialised from it, compiled without training:
    # deployed = QAT exactly, latency depth + 1 = 5 steps, accuracy within 3 pp of the teacher
    xtr, ytr, xte, yte = experiment._DATASETS["mnist1d"]["load"]()
    xtr, ytr, xte, yte = xtr[:1500], ytr[:1500], xte[:300], yte[:300]
    t = train_teacher(experiment.mnist1d_teacher, xtr, ytr, epochs=15, seed=0, lr=1e-2, weight_decay=0.0,
                      progress=False)
    t_acc = evaluate(t, xte, yte)["acc"]
    assert t_acc > 60.0, t_acc
    st = SigmaDeltaStudent(deployable_body(experiment.mnist1d_teacher()), (1, 1, 40), None, threshold=None)
    init_from_teacher(st, t)
    st.body.double()  # float64: the QAT logits hold the chip's float64 read-out exactly
    xs_tr, xs_te = (st.prepare(x.reshape(-1, 1, 1, 40).double()) for x in (xtr, xte))
    st.calibrate(xs_tr[:300])
    st.quantize()
    with torch.no_grad():
        qat = st(xs_te).logits.numpy()
    dep = evaluate_sd_deployed(st, xs_te, yte)
    np.testing.assert_array_equal(qat, dep["logits"])
    assert dep["latency_steps"] == 5
    assert dep["acc"] >= t_acc - 3.0, (dep["acc"], t_acc)
    assert dep["messages"] > 0 and dep["synops"] > dep["messages"]


def _small_mnist1d(*argv):
    """One experiment on a mnist1d subset (1500 train, 300 test; --quick's 400 leave the teacher
    at ~30 %) with the given options."""
    args = experiment.parser("", "mnist1d").parse_args(["--threads", "1", "--teacher-epochs", "15", *argv])
    sp = experiment.spec("mnist1d", args.student, "cnn")
    sp.pop("make_twin")
    xtr, ytr, xte, yte = sp.pop("load")()
    return experiment.run(args, (xtr[:1500], ytr[:1500], xte[:300], yte[:300]), **sp)


def test_experiment_sd_student_on_small_mnist1d_beats_the_mlp_student():
    sd = _small_mnist1d("--student", "sd", "--teacher-init", "--epochs", "2", "--qat-epochs", "1", "--loss", "kd",
                        "--tau", "2")
    mlp = _small_mnist1d("--epochs", "5", "--timesteps", "4")
    assert sd["student"] == "sd" and sd["teacher_init"] and sd["latency_steps"] == 5 and sd["timesteps"] is None
    assert sd["student_fixed_acc"] == sd["student_qat_acc"]  # QAT = deployed
    assert sd["student_fixed_acc"] >= sd["teacher_acc"] - 5.0, sd
    assert sd["student_fixed_acc"] >= mlp["student_fixed_acc"] + 10.0, (sd, mlp)
    assert sd["spikes_per_inference"] > 0 and sd["synops_per_inference"] > sd["spikes_per_inference"]


def test_sd_spec_has_the_teachers_topology():
    for dataset, teacher, shape, latency_layers in (("digits", "cnn", (1, 8, 8), 4), ("digits", "mlp", (64,), 3),
                                                    ("mnist1d", "cnn", (1, 1, 40), 4),
                                                    ("mnist1d", "cnn3", (1, 1, 40), 3)):
        sp = experiment.spec(dataset, "sd", teacher)
        st = sp["make_student"](experiment.parser("").parse_args([]))
        assert isinstance(st, SigmaDeltaStudent) and st.input_shape == shape
        weighted = [m for m in st.body if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert len(weighted) == latency_layers
        n_in = experiment._DATASETS[dataset]["n_in"]
        assert sp["student_input"](torch.zeros(3, n_in)).shape == (3, *shape)
    with pytest.raises(InputError, match="no 'cnn3' teacher for digits"):
        experiment.spec("digits", "sd", "cnn3")


@pytest.mark.lava
def test_mnist1d_sd_student_on_lava_equals_the_emulator():
    """The teacher-topology sigma-delta student has (1, k) kernels with (1, 2) strides: every
    population's graded payload, step by step, on Lava 0.10's fixed_pt models = the emulator."""
    from snnc.compiler.ir import loihi

    t = _teacher_with_statistics()
    st = SigmaDeltaStudent(deployable_body(experiment.mnist1d_teacher()), (1, 1, 40), None, threshold=0.0)
    init_from_teacher(st, t)
    x = st.prepare(_x(40).reshape(-1, 1, 1, 40))
    st.calibrate(x)
    prog = st.compile()
    assert any(isinstance(prog.graph[n], loihi.ConvSynapse) and tuple(prog.graph[n].weights.shape[2:]) == (1, 5)
               for n in prog.graph.nodes)
    emu = prog.run(x[:3].numpy(), return_raw=True)
    lava = prog.run(x[:3].numpy(), backend="lava", return_raw=True, timeout=240)
    names = prog.graph.of_kind(loihi.SigmaDeltaCompartment)
    for n in names:
        np.testing.assert_array_equal(lava.payload[n], emu.payload[n], err_msg=n)
    assert all(np.any(emu.payload[n]) for n in names)  # every population sends something

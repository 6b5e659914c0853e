"""A sigma-delta student (snnc.distill.sigma_delta): trained with the existing trainer (KD),
QAT on the registers snnc.compile(neuron="sdnn") produces, deployed bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from snnc.distill import (  # noqa: E402
    Distiller,
    SigmaDeltaStudent,
    SpikeBudget,
    evaluate,
    fit,
    loss_family,
    train_teacher,
)
from snnc.distill.data import digits  # noqa: E402
from snnc.errors import ValidationError  # noqa: E402


def _body():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10)).double()


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    xtr, ytr, xte, yte = digits()
    xtr, xte = torch.as_tensor(xtr).reshape(-1, 1, 8, 8)[:600], torch.as_tensor(xte).reshape(-1, 1, 8, 8)[:200]
    ytr, yte = torch.as_tensor(ytr)[:600], torch.as_tensor(yte)[:200]
    teacher = train_teacher(nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
                            xtr.float(), ytr, epochs=15, progress=False)
    torch.manual_seed(0)
    student = SigmaDeltaStudent(_body(), (1, 8, 8), xtr[:200], threshold=None)
    dist = Distiller(teacher.double(), student, loss_family("kd", tau=2.0) + [SpikeBudget(0.9)])
    history = fit(dist, xtr.double(), xtr.double(), ytr, epochs=20, qat_epochs=1, progress=False)
    return student, history, xte.double(), yte


def test_qat_forward_is_the_deployed_program_bit_for_bit(trained):
    student, history, xte, yte = trained
    assert student.qat and history[-1]["qat"] and not history[0]["qat"]
    assert history[-1]["loss"] < history[0]["loss"]
    prog = student.compile()  # what deployment runs: the same compile of the final weights
    y = prog.run(xte.numpy())
    assert y.shape == (len(xte), 1, 10)
    with torch.no_grad():
        out = student(xte)
    np.testing.assert_array_equal(out.logits.numpy(), y[:, 0])
    acc = evaluate(student, xte, yte)["acc"]
    assert acc > 70.0, acc
    assert float(out.spikes.min()) > 0 and all(float(r.min()) >= 0 and float(r.max()) <= 1 for r in out.rates.values())


def test_float_mode_is_the_relu_network_and_counts_messages(trained):
    student, _, xte, _ = trained
    student.set_qat(False)
    try:
        with torch.no_grad():
            out = student(xte[:5])
            ref = student.body(xte[:5])
            hidden = student.body[:2](xte[:5])
        np.testing.assert_array_equal(out.logits.numpy(), ref.numpy())
        first = (hidden.reshape(5, -1) > 0).sum(1) + (xte[:5].reshape(5, -1) != 0).sum(1)
        assert np.all(out.spikes.numpy() > first.numpy())  # + the second ReLU layer's messages
    finally:
        student.set_qat(True)


def test_student_refuses_what_cannot_deploy():
    x = torch.zeros(4, 1, 8, 8)
    with pytest.raises(ValidationError, match="MaxPool2d"):
        SigmaDeltaStudent(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 10)),
                          (1, 8, 8), x)
    with pytest.raises(ValidationError, match="end with a Linear"):
        SigmaDeltaStudent(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU()), (1, 8, 8), x)
    with pytest.raises(ValidationError, match="calibration has shape"):
        SigmaDeltaStudent(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), (1, 8, 8), torch.zeros(4, 64))
    s = SigmaDeltaStudent(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), (1, 8, 8), x)
    with pytest.raises(ValidationError, match="compiled registers"):
        s.set_qat(True)

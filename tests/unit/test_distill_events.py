"""The DVS-like event-stream task (snnc.distill.events) and its experiment (--dataset events)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from snnc.distill import events as ev  # noqa: E402
from snnc.distill import experiment  # noqa: E402
from snnc.distill.data import rate_encode  # noqa: E402
from snnc.errors import ValidationError  # noqa: E402


def test_generate_is_deterministic_in_its_seed():
    x1, y1 = ev.generate(40, seed=3)
    x2, y2 = ev.generate(40, seed=3)
    x3, y3 = ev.generate(40, seed=4)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert not np.array_equal(y1, y3)


def test_generate_shapes_dtypes_and_balanced_labels():
    x, y = ev.generate(50, seed=0)
    assert x.shape == (50, ev.STEPS, 2, ev.SIZE, ev.SIZE) and x.dtype == bool
    assert y.dtype == np.int64 and np.array_equal(np.bincount(y), np.full(ev.N_CLASSES, 5))
    # every sample has its bar's events well above the background activity
    noise = 0.004 * ev.STEPS * 2 * ev.SIZE**2
    assert (x.sum((1, 2, 3, 4)) > 2 * noise).all()
    with pytest.raises(ValidationError, match="n=0"):
        ev.generate(0)


def test_bin_events_is_an_or_within_each_bin():
    x = np.zeros((1, 8, 2, 1, 2), dtype=bool)
    x[0, [0, 1], 0, 0, 0] = True  # two events in bin 0 (T=2: steps 0..3) -> one spike
    x[0, 5, 1, 0, 1] = True  # one OFF event in bin 1
    s = ev.bin_events(x, 2)
    assert s.dtype == torch.float32 and s.shape == (1, 2, 2, 1, 2)
    want = torch.zeros(1, 2, 2, 1, 2)
    want[0, 0, 0, 0, 0] = 1.0
    want[0, 1, 1, 0, 1] = 1.0
    assert torch.equal(s, want)
    # T = S is the identity; T = 1 is the OR over the whole sample
    assert torch.equal(ev.bin_events(x, 8), torch.from_numpy(x).float())
    assert torch.equal(ev.bin_events(x, 1)[:, 0], torch.from_numpy(x.any(1)).float())
    # the teacher's frames count events: 2 events in a bin of 4 steps -> 0.5
    f = ev.frames(x, 2)
    assert f.shape == (1, 4, 1, 2) and f[0, 0, 0, 0] == 0.5 and f[0, 3, 0, 1] == 0.25


@pytest.mark.parametrize("bad", [0, 3, 64, 2.0])
def test_bin_events_refuses_a_t_that_does_not_divide_the_micro_steps(bad):
    x = np.zeros((1, 32, 2, 4, 4), dtype=bool)
    with pytest.raises(ValidationError, match=rf"{bad!r}.*32 micro-steps") as e:
        ev.bin_events(x, bad)
    assert "1, 2, 4, 8, 16, 32" in e.value.hint
    with pytest.raises(ValidationError, match="teacher frames F = 5"):
        ev.frames(x, 5)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_opposite_directions_share_the_summed_frame_but_not_the_order(k):
    """A dark bar moving along -d is the time reversal of a bright bar moving along d: the OR of
    all their events (T=1) is nearly the same picture, the first and second halves (T=2) differ
    and swap."""
    fwd = ev.render(np.array([k]), np.random.default_rng(7))
    bwd = -ev.render(np.array([k + 4]), np.random.default_rng(7))  # same draws, flipped contrast
    np.testing.assert_allclose(bwd, -fwd[:, ::-1], atol=1e-5)  # L'(s) = −L(S − s): same changes, reversed
    rng = np.random.default_rng(0)
    a = ev.bin_events(ev.dvs(fwd, rng, mismatch=0.0, p_noise=0.0), 2).numpy()[0]
    b = ev.bin_events(ev.dvs(bwd, rng, mismatch=0.0, p_noise=0.0), 2).numpy()[0]

    def iou(p, q):
        return (p * q).sum() / np.maximum(p, q).sum()

    summed_a, summed_b = a.max(0), b.max(0)
    assert summed_a.sum() > 20
    assert iou(summed_a, summed_b) > 0.85  # the summed frames: (nearly) the same
    assert iou(a[0], b[0]) < 0.35 and iou(a[1], b[1]) < 0.35  # the halves: different
    assert iou(a[0], b[1]) > 0.7 and iou(a[1], b[0]) > 0.7  # ... and in reverse order


def test_spec_encoders_keep_the_static_data_sets_rate_encoded():
    x = torch.rand(5, 64)
    for student in ("mlp", "conv"):
        sp = experiment.spec("digits", student)
        assert torch.equal(sp["encode"](x, 4), rate_encode(sp["student_input"](x), 4))
    xe, _ = ev.generate(6, seed=1)
    assert experiment.spec("events", "conv")["encode"](torch.from_numpy(xe), 4).shape == (6, 4, 2, 16, 16)
    assert torch.equal(experiment.spec("events", "mlp")["encode"](torch.from_numpy(xe), 4),
                       ev.bin_events(xe, 4).reshape(6, 4, 512))


@pytest.mark.parametrize("student", ["conv", "mlp"])
def test_events_quick_run_deploys_its_qat_accuracy(student, capsys):
    res = experiment.main("events", "test", ["--quick", "--student", student, "--qat-epochs", "1", "--loss", "kd",
                                             "--threads", "1"])
    assert res["dataset"] == "events" and res["timesteps"] == 4
    assert res["teacher_acc"] > 30.0  # 10 classes, 4 teacher epochs on 600 samples
    assert res["student_qat_acc"] is not None
    assert res["student_fixed_acc"] == res["student_qat_acc"]  # the deployed program is the QAT student
    assert res["spikes_per_inference"] > 0


def test_events_refuse_ann_init():
    args = experiment.parser("", "events").parse_args(["--ann-init", "--loss", "ce"])
    sp = experiment.spec("events", "mlp")
    x, y = ev.generate(10, seed=0)
    data = (torch.from_numpy(x), torch.from_numpy(y)) * 2
    with pytest.raises(ValidationError, match="ann-init"):
        experiment.distil(args, data, torch.nn.Identity(), 0.0, sp["teacher_input"], sp["make_student"], sp["pairs"],
                          make_twin=lambda: sp["make_twin"](args), student_input=sp["student_input"])

"""evaluate_deployed's energy columns respond to the network's activity (issue 16: the
distillation table's energy column was flat across students)."""

import pytest

torch = pytest.importorskip("torch")

from snnc.distill import dense_student, evaluate_deployed  # noqa: E402
from snnc.distill.data import rate_encode  # noqa: E402


def test_event_energy_and_synops_grow_with_spikes():
    torch.manual_seed(0)
    x = rate_encode(torch.rand(16, 64), 4)
    y = torch.zeros(16, dtype=torch.long)
    s = dense_student([64, 32, 32, 10])
    quiet = evaluate_deployed(s, x, y)
    with torch.no_grad():
        for p in s.parameters():
            p.mul_(3.0)
    busy = evaluate_deployed(s, x, y)
    assert busy["spikes"] > 2 * quiet["spikes"]
    assert busy["synops_per_inference"] > quiet["synops_per_inference"]
    assert busy["event_energy_per_inference_j"] > 1.2 * quiet["event_energy_per_inference_j"] > 0
    # the event part is a part of the total, which also holds static and per-step energy
    for r in (quiet, busy):
        assert 0 < r["event_energy_per_inference_j"] < r["energy_per_inference_j"]

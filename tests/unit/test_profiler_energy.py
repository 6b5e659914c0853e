"""Energy model: Intel's PilotNet-SNN arithmetic, the shipped coefficient sets, bad coefficient files,
and the model's terms on a profiled program."""

from __future__ import annotations

import json

import numpy as np
import pytest

import snnc
from snnc.profiler import (
    CoefficientError,
    available,
    intel_energy_per_inference,
    load_coefficients,
    static_energy,
)
from snnc.profiler.coefficients import FIELDS, GRADES
from snnc.profiler.energy import step_times

# lava-dl pilotnet_snn/benchmark.ipynb (recorded Loihi 2 output; loihi.md §3.2)
PILOTNET = dict(total_power_w=0.679, static_power_per_chip_w=0.232, num_chips=1, inference_rate=408.91)
PILOTNET_STEPS = 16


def test_pilotnet_snn_energy_arithmetic():
    e = intel_energy_per_inference(**PILOTNET)
    assert e["total_J"] == pytest.approx(1.66e-3, abs=0.005e-3)
    assert e["static_J"] == pytest.approx(0.57e-3, abs=0.005e-3)
    assert e["dynamic_J"] == pytest.approx(1.09e-3, abs=0.005e-3)
    # the model's static term with the 2024 loihi2 set's measured parts (static power, step time)
    co = load_coefficients("loihi2_intel2024")
    model = static_energy(co["static_power_W"], 1, PILOTNET_STEPS, co["step_floor_us"] * 1e-6)
    assert model == pytest.approx(e["static_J"], rel=1e-3)
    assert model / e["total_J"] == pytest.approx(0.34, abs=0.01)  # static is a third of the total


def test_intel_recipe_removes_idle_chips_of_the_board():
    # Kapoho Point partition: 8 chips powered, the network on 1: 7 idle chips' static power removed
    e8 = intel_energy_per_inference(0.679 + 7 * 0.232, 0.232, 1, 408.91, board_chips=8)
    assert e8["total_J"] == pytest.approx(intel_energy_per_inference(**PILOTNET)["total_J"])


def test_pilotnet_static_share_from_a_profiled_program(tmp_path):
    """A program whose steps sit on the floor: static energy per inference = P·chips·16·152.9 µs."""
    prog = snnc.compile("examples/mlp.nir", target="loihi2")
    x = np.load("examples/mlp_input.npz")["x"]
    t = PILOTNET_STEPS - max(prog.latency.values())
    rep = prog.profile(x[:, :t], coefficients="loihi2_intel2024")  # the 2024 set: PilotNet's step as a floor
    assert rep.counts.steps == PILOTNET_STEPS
    assert rep.estimate.step_time_s == pytest.approx(1 / (408.91 * 16), rel=1e-3)
    assert rep.estimate.static_J == pytest.approx(0.232 * 16 / (408.91 * 16), rel=1e-3)


@pytest.mark.parametrize("name", ["loihi1_davies2018", "loihi1_sanafe2025", "loihi2_intel2024",
                                  "loihi2_activity2026"])
def test_shipped_sets_are_complete_and_cited(name):
    co = load_coefficients(name)
    assert set(co.coefficients) == set(FIELDS)
    for k, c in co.coefficients.items():
        assert c.grade in GRADES and c.source.strip(), k
        if c.range:
            assert c.range[0] <= c.value <= c.range[1], k
    assert co.citations and co.version


def test_loihi2_set_marks_measured_and_estimated_parts():
    co = load_coefficients("loihi2")
    assert co.name == "loihi2_activity2026"
    for k in ("static_power_W", "barrier_ns", "step_dynamic_nJ", "host_io_step_us"):
        assert co.coefficients[k].grade == "measured", k
    assert co["step_floor_us"] == 0  # PilotNet's 152.9 us is not a floor: its input is a bias (no host I/O)
    per_op = [k for k in FIELDS if k.endswith("_pJ") or (k.endswith("_ns") and k != "barrier_ns")]
    assert all(co.coefficients[k].grade in ("derived", "estimate") and co.coefficients[k].range for k in per_op)
    # every derived per-op value is SANA-FE's Loihi 1 value times one factor (time s, energy k)
    base = load_coefficients("loihi1_sanafe2025")
    ratios = {k: co[k] / base[k] for k in ("synop_ns", "neuron_update_active_ns", "spike_out_ns", "msg_in_ns")}
    assert max(ratios.values()) == pytest.approx(min(ratios.values()), rel=1e-3) and 0.05 < ratios["synop_ns"] < 1
    ratios = {k: co[k] / base[k] for k in ("synop_pJ", "neuron_update_idle_pJ", "spike_out_pJ", "route_core_pJ")}
    assert max(ratios.values()) == pytest.approx(min(ratios.values()), rel=1e-3) and 0.05 < ratios["synop_pJ"] < 1
    assert load_coefficients("loihi1")["synop_pJ"] == 23.6  # Davies 2018 Table 2
    assert sorted(available()) == ["loihi1_davies2018", "loihi1_sanafe2025", "loihi2_activity2026",
                                   "loihi2_intel2024"]


def _write(tmp_path, data, name="c.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def _base():
    return json.loads(open(load_coefficients("loihi1").path).read())


def test_user_file_json_and_toml(tmp_path):
    d = _base()
    d["name"], d["coefficients"]["synop_pJ"] = "fit", {"value": 2.5, "grade": "measured", "source": "my fit"}
    co = load_coefficients(_write(tmp_path, d))
    assert co.name == "fit" and co["synop_pJ"] == 2.5
    lines = ['name = "tfit"', 'version = "3"']
    for k in FIELDS:
        lines += [f"[coefficients.{k}]", "value = 1.5", 'grade = "measured"', 'source = "bench"']
    co = load_coefficients(_write(tmp_path, "\n".join(lines), "c.toml"))
    assert co.label == "tfit v3" and co["barrier_ns"] == 1.5


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["coefficients"].pop("synop_pJ"), "lacks synop_pJ"),
    (lambda d: d["coefficients"].__setitem__("synop_pj", d["coefficients"]["synop_pJ"]), "unknown coefficient"),
    (lambda d: d["coefficients"]["synop_pJ"].__setitem__("value", -1), "not a finite number"),
    (lambda d: d["coefficients"]["synop_pJ"].__setitem__("value", "23"), "not a finite number"),
    (lambda d: d["coefficients"]["synop_pJ"].__setitem__("grade", "guess"), "grade 'guess'"),
    (lambda d: d["coefficients"]["synop_pJ"].__setitem__("source", ""), "has no source"),
    (lambda d: d["coefficients"]["synop_pJ"].__setitem__("range", [30, 40]), "range"),
    (lambda d: d.pop("version"), "no 'version'"),
])
def test_bad_files_are_clear_errors(tmp_path, mutate, message):
    d = _base()
    mutate(d)
    with pytest.raises(CoefficientError, match=message) as e:
        load_coefficients(_write(tmp_path, d))
    assert e.value.hint


def test_unreadable_and_unknown(tmp_path):
    with pytest.raises(CoefficientError, match="cannot read"):
        load_coefficients(_write(tmp_path, "{not json", "bad.json"))
    with pytest.raises(CoefficientError, match="unknown coefficient set 'loihi9'"):
        load_coefficients("loihi9")


def test_energy_terms_follow_counts_and_coefficients():
    prog = snnc.compile("examples/mlp.nir", target="loihi2")
    x = np.load("examples/mlp_input.npz")["x"]
    rep = prog.profile(x, coefficients="loihi1")
    co, c = rep.coefficients, rep.per_inference_counts()
    expect = (c["synops"] * co["synop_pJ"] + c["neuron_updates_active"] * co["neuron_update_active_pJ"]
              + c["neuron_updates_idle"] * co["neuron_update_idle_pJ"] + c["routed_within_core"] * co["route_core_pJ"]
              + c["routed_within_chip"] * co["route_chip_pJ"] + c["routed_across_chips"] * co["route_interchip_pJ"]
              ) * 1e-12
    assert rep.estimate.dynamic_J == pytest.approx(expect, rel=1e-9)
    dt = step_times(rep.counts, co)
    # no floor on loihi1: the busiest core's work plus the barrier (one chip, no per-core barrier term)
    k = rep.counts
    work = (k.core_synops * 3.5 + k.core_active * 8.4 + (k.core_neurons - k.core_active) * 5.3
            + k.core_spikes * 30.0 + k.core_msg_out * 5.1 + k.core_msg_in * 20.0).max(axis=2) + 299
    np.testing.assert_allclose(dt, work * 1e-9)
    assert rep.estimate.static_J == pytest.approx(0.029 * rep.estimate.chips * dt.sum(axis=1).mean())
    assert rep.low.total_J <= rep.estimate.total_J <= rep.high.total_J
    assert c["synops"] > 0 and rep.latency_s > 0

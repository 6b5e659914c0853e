"""`snnc profile PROGRAM --input X.npz [--coefficients] [--teacher] [--json] [--plot]`, and the sweep."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import snnc
from snnc.cli import main
from snnc.errors import InputError
from snnc.profiler import sweep_timesteps
from snnc.profiler.coefficients import FIELDS, load_coefficients


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    d = tmp_path_factory.mktemp("prof")
    assert main(["compile", "examples/mlp.nir", "--target", "loihi2", "-o", str(d / "mlp")]) == 0
    return d / "mlp"


def test_profile_cli_json_plot_teacher(program, tmp_path, capsys):
    teacher = tmp_path / "t.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.nn.Linear(64, 10), (torch.zeros(1, 64),), str(teacher), dynamo=False)
    js, png = tmp_path / "r.json", tmp_path / "r.png"
    rc = main(["profile", str(program), "--input", "examples/mlp_input.npz", "--coefficients", "loihi1",
               "--teacher", str(teacher), "--json", str(js), "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0 and "per inference: energy" in out and "loihi1_davies2018" in out
    d = json.loads(js.read_text())
    per = d["per_inference"]
    assert per["energy_J"] == pytest.approx(per["dynamic_J"] + per["static_J"])
    assert per["energy_range_J"][0] <= per["energy_J"] <= per["energy_range_J"][1]
    assert per["throughput_per_s"] == pytest.approx(1 / per["latency_s"])
    assert per["counts"]["synops"] > 0
    assert sum(la["synops"] for la in d["layers"]) == pytest.approx(per["counts"]["synops"])
    assert sum(la["total_J"] for la in d["layers"]) == pytest.approx(per["energy_J"])
    # every coefficient in the output names its source and grade
    assert set(d["coefficients"]["coefficients"]) == set(FIELDS)
    assert all(c["source"] and c["grade"] for c in d["coefficients"]["coefficients"].values())
    assert d["ann_comparison"]["teacher_macs"] == 640
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_cli_bad_coefficient_file_exits_2(program, tmp_path, capsys):
    bad = tmp_path / "fit.json"
    bad.write_text(json.dumps({"name": "fit", "version": "1", "coefficients": {"synop_pJ": {"value": 1}}}))
    rc = main(["profile", str(program), "--input", "examples/mlp_input.npz", "--coefficients", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "lacks" in err and "hint:" in err and "Traceback" not in err


def test_fallback_placement_is_reported(program):
    prog = snnc.Program.load(program)
    prog.placement = None
    rep = prog.profile(np.load("examples/mlp_input.npz")["x"])
    assert rep.counts.placement.strategy.startswith("fallback")
    assert any("no placement" in n for n in rep.notes) and "no placement" in rep.text()


def test_sweep_timesteps_spike_input(program, tmp_path):
    prog = snnc.Program.load(program)
    x = np.load("examples/mlp_input.npz")["x"]
    labels = prog.run(x).sum(axis=1).argmax(axis=1)  # the full-length prediction as the label
    res = sweep_timesteps(prog, x, labels, [5, 20, x.shape[1]], coefficients="loihi2")
    assert res.timesteps == [5, 20, x.shape[1]]
    assert res.accuracy[-1] == 1.0  # at full length the prediction is the label
    assert res.energy_J == sorted(res.energy_J)  # more steps, more energy
    assert res.smallest_t(1.0) in res.timesteps
    assert res.plot(tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads(res.to_json())["rows"][0]["T"] == 5
    with pytest.raises(InputError, match="cannot sweep T=99"):
        sweep_timesteps(prog, x, labels, [99])


def test_converted_ann_static_inputs_sweep_and_teacher(tmp_path):
    """An ONNX ANN converted with an encoder: static inputs are encoded per T; the teacher is the ONNX."""
    torch.manual_seed(0)
    ann = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    path = tmp_path / "ann.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ann, (torch.zeros(1, 6),), str(path), dynamo=False, dynamic_axes={"input": {0: "b"}},
                          input_names=["input"])
    xs = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    labels = ann(torch.tensor(xs)).argmax(-1).numpy()  # the ANN's own decisions
    prog = snnc.compile(str(path), target="loihi2", calibration=xs, timesteps=16)
    rep = prog.profile(xs[:8], teacher=str(path))
    assert rep.counts.steps == 16 + max(prog.latency.values())
    assert rep.ann.macs.macs == 6 * 16 + 16 * 4
    res = sweep_timesteps(prog, xs, labels, [2, 32])
    steps = [t + max(prog.latency.values()) for t in (2, 32)]
    # a small net: every step is the measured 1.164 us barrier plus a little work, far below PilotNet's 152.9 us
    barrier = load_coefficients("loihi2")["barrier_ns"] * 1e-9
    for lat, s in zip(res.latency_s, steps, strict=True):
        assert s * barrier < lat < s * 10 * barrier
    assert res.synops[1] > res.synops[0] and res.energy_J[1] > res.energy_J[0]
    assert res.accuracy[1] >= res.accuracy[0] and res.accuracy[1] > 0.5


def test_profile_cli_io_mode_and_prorated_static(program, tmp_path, capsys):
    js = tmp_path / "r.json"
    assert main(["profile", str(program), "--input", "examples/mlp_input.npz", "--json", str(js)]) == 0
    base = json.loads(js.read_text())
    assert main(["profile", str(program), "--input", "examples/mlp_input.npz", "--io-mode", "io-bound",
                 "--static", "cores", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    d = json.loads(js.read_text())
    assert "mode io-bound" in out and "prorated by 2 cores" in out
    assert d["time_model"]["io_mode"] == "io-bound" and d["per_inference"]["static_mode"] == "cores"
    assert d["time_model"]["bound_by"].get("host I/O", 0) > 0.5  # the measured frame-input floor dominates
    assert d["per_inference"]["latency_s"] > 100 * base["per_inference"]["latency_s"]
    per = base["per_inference"]  # compute mode: layers + fixed per-step energy + host = the total
    assert sum(la["total_J"] for la in base["layers"]) + per["step_overhead_J"] + per["host_io_J"] == pytest.approx(
        per["energy_J"])
    with pytest.raises(SystemExit):  # argparse: not one of the documented modes
        main(["profile", str(program), "--input", "examples/mlp_input.npz", "--io-mode", "fast"])


#: every key path `snnc profile --json` wrote before the activity-driven time model (issue 15;
#: recorded from snnc at 8a4571b on the quick-start MLP; the coefficient sets' own entries and
#: citations are data, not schema, and are left out)
PROFILE_JSON_KEYS_BEFORE_ISSUE_15 = (
    "ann_comparison", "backend", "block_synops", "coefficients", "coefficients.chip",
    "coefficients.citations", "coefficients.coefficients", "coefficients.description",
    "coefficients.name", "coefficients.path", "coefficients.version", "layers", "layers[].cores",
    "layers[].dynamic_J", "layers[].dynamic_J.graded_synops", "layers[].dynamic_J.neuron_active",
    "layers[].dynamic_J.neuron_idle", "layers[].dynamic_J.route_chip", "layers[].dynamic_J.route_core",
    "layers[].dynamic_J.route_host", "layers[].dynamic_J.route_interchip", "layers[].dynamic_J.spikes_out",
    "layers[].dynamic_J.synops", "layers[].dynamic_total_J", "layers[].kind", "layers[].name",
    "layers[].spikes", "layers[].static_J", "layers[].synops", "layers[].total_J", "notes",
    "per_inference", "per_inference.counts", "per_inference.counts.graded_synops",
    "per_inference.counts.host_messages", "per_inference.counts.input_spikes",
    "per_inference.counts.neuron_updates_active", "per_inference.counts.neuron_updates_idle",
    "per_inference.counts.routed_across_chips", "per_inference.counts.routed_within_chip",
    "per_inference.counts.routed_within_core", "per_inference.counts.spikes", "per_inference.counts.steps",
    "per_inference.counts.synops", "per_inference.dynamic_J", "per_inference.energy_J",
    "per_inference.energy_range_J", "per_inference.latency_range_s", "per_inference.latency_s",
    "per_inference.static_J", "per_inference.step_time_s", "per_inference.throughput_per_s", "placement",
    "placement.chips", "placement.cores", "placement.notes", "placement.strategy", "program", "samples",
)


def _key_paths(d, pre=""):
    out = set()
    if isinstance(d, dict):
        for k, v in d.items():
            p = f"{pre}.{k}" if pre else k
            out |= {p} | _key_paths(v, p)
    elif isinstance(d, list) and d and isinstance(d[0], dict):
        for x in d:
            out |= _key_paths(x, pre + "[]")
    return out


def test_profile_json_keeps_every_key_it_had_before_the_time_model(program, tmp_path):
    js = tmp_path / "r.json"
    assert main(["profile", str(program), "--input", "examples/mlp_input.npz", "--json", str(js)]) == 0
    have = _key_paths(json.loads(js.read_text()))
    assert set(PROFILE_JSON_KEYS_BEFORE_ISSUE_15) <= have, sorted(set(PROFILE_JSON_KEYS_BEFORE_ISSUE_15) - have)
    assert {"neurobench", "time_model"} <= {p.split(".")[0] for p in have}

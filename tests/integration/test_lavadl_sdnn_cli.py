"""PilotNet SDNN from the command line, as a user runs lava-dl's file: ``snnc run network.net``
gives lava-dl's recorded output; ``snnc compile network.net -o DIR`` maps it and ``snnc profile
DIR`` reports its graded messages (per inference and per step) and what they cost."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snnc.cli import main

ROOT = Path(__file__).resolve().parents[2]
PILOT = ROOT.parent / "shared" / "lava-dl-fixtures" / "pilotnet_sdnn"


@pytest.fixture(scope="module")
def frame_npz(tmp_path_factory):
    if not (PILOT / "network.net").is_file():
        pytest.fail(f"lava-dl's fixtures are missing: expected {PILOT} (see ../shared/lava-dl-fixtures/README.md)")
    frame = np.load(PILOT / "input.npy")[..., 0].transpose(2, 1, 0)  # (W, H, C) -> (C, H, W)
    path = tmp_path_factory.mktemp("cli") / "frame.npz"
    np.savez(path, x=np.repeat(frame[None, None], 9, axis=1).astype(np.int32))  # one frame held 9 steps
    return path


def test_snnc_run_of_the_shipped_file_gives_lava_dls_output(frame_npz, tmp_path, capsys):
    out = tmp_path / "y.npz"
    assert main(["run", str(PILOT / "network.net"), "--input", str(frame_npz), "-o", str(out)]) == 0
    assert "layer9:out: values (1, 9, 1)" in capsys.readouterr().out
    y = np.load(out)["layer9:out"]  # aligned with the input: its step t is raw step t + 8
    assert y.dtype == np.int32 and int(y[0, 0, 0]) == int(np.load(PILOT / "output.npy")[0, -1]) == -31026


def test_snnc_profile_reports_graded_messages_and_their_cost(frame_npz, tmp_path, capsys):
    prog = tmp_path / "pilotnet_sdnn"
    assert main(["compile", str(PILOT / "network.net"), "-o", str(prog)]) == 0
    capsys.readouterr()
    report = tmp_path / "energy.json"
    assert main(["profile", str(prog), "--input", str(frame_npz), "--json", str(report)]) == 0
    text = capsys.readouterr().out
    assert "graded messages" in text and "payload bits" in text and "graded_payload_bit_pJ" in text
    d = json.loads(report.read_text())
    c = d["per_inference"]["counts"]
    assert c["graded_messages"] > 0 and c["graded_synops"] > 0 and c["synops"] == 0  # every synapse graded
    layer = {r["name"]: r for r in d["layers"]}
    # every message of a layer with a next synapse rides >= 1 route with its 16-bit payload; the
    # input's values into the Delta are 24-bit host messages; the output (a Sigma) feeds nothing
    assert layer["input"]["payload_bits"] == 24 * layer["input"]["graded_messages"] > 0
    for name in ("layer0", "layer1", "layer4", "layer8"):
        assert layer[name]["payload_bits"] >= 16 * layer[name]["graded_messages"] > 0, name
    assert layer["layer9"]["payload_bits"] == 0 and layer["layer9"]["graded_messages"] > 0
    per_step = d["per_inference"]["graded_messages_per_step"]
    assert len(per_step) == c["steps"] == 17 and sum(per_step) == pytest.approx(c["graded_messages"])
    terms = {t: sum(la["dynamic_J"][t] for la in d["layers"]) for t in ("graded_synops", "graded_payload")}
    assert terms["graded_synops"] > 0 and terms["graded_payload"] > 0
    co = d["coefficients"]["coefficients"]["graded_payload_bit_pJ"]
    assert co["grade"] == "estimate" and terms["graded_payload"] == pytest.approx(
        c["payload_bits"] * co["value"] * 1e-12)

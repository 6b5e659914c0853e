"""``snnc run model.net`` and ``snnc compile model.net --reset-interval R``: a lava-dl netx file
runs from the command line as ``snnc.load`` reads it (issue 13), lava-dl's keywords as flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.cli import main

TINY = Path(__file__).resolve().parents[2].parent / "shared" / "lava-dl-fixtures" / "tinynet" / "tiny.net"


@pytest.fixture
def tiny() -> Path:
    if not TINY.is_file():
        pytest.fail(f"lava-dl's fixtures are missing: expected {TINY} (clone the repository next to shared/)")
    return TINY


def test_run_a_netx_file_like_snnc_load(tiny, tmp_path, capsys):
    bias = np.load(tiny.parent / "input_bias.npy").transpose(2, 1, 0)[None].astype(np.int64)
    np.savez(tmp_path / "b.npz", x=bias)
    np.savez(tmp_path / "v.npz", x=np.repeat(bias[:, None], 6, axis=1) - 20)  # signed values
    assert main(["run", str(tiny), "--input", str(tmp_path / "b.npz"), "--input-route", "bias", "--steps", "18",
                 "--reset-interval", "17", "-o", str(tmp_path / "yb.npz")]) == 0
    assert main(["run", str(tiny), "--input", str(tmp_path / "v.npz"), "-o", str(tmp_path / "yv.npz")]) == 0
    prog = snnc.load(tiny, reset_interval=17)
    want_b = prog.run(bias, input="bias", steps=18)
    want_v = snnc.load(tiny).run(np.load(tmp_path / "v.npz")["x"])
    with np.load(tmp_path / "yb.npz") as yb, np.load(tmp_path / "yv.npz") as yv:
        for name in prog.outputs:
            np.testing.assert_array_equal(yb[name], want_b[name])
            np.testing.assert_array_equal(yv[name], want_v[name])
        assert yb["layer2:out"].sum() > 0
    capsys.readouterr()
    assert main(["run", str(tiny), "--input", str(tmp_path / "b.npz"), "--input-route", "bias"]) == 2
    assert "steps" in capsys.readouterr().err
    assert main(["run", "examples/mlp.nir", "--input", str(tmp_path / "b.npz")]) == 2
    assert "compile it first" in capsys.readouterr().err


def test_compile_a_netx_file_with_lava_dls_reset(tiny, tmp_path):
    out = tmp_path / "tiny.snnc"
    assert main(["compile", str(tiny), "--reset-interval", "17", "--reset-offset", "2", "-o", str(out)]) == 0
    g = snnc.Program.load(out).graph
    assert [(g[c].reset_interval, g[c].reset_offset) for c in ("layer0", "layer1", "layer2")] == [(17, 3), (17, 4), (17, 5)]
    assert g["input"].payload == "int32"
    assert main(["run", str(out), "--input", str(tmp_path / "nothing.npz"), "--reset-interval", "3"]) == 2

"""snnc.reporting: output paths checked before any work, one dict method, figures without pyplot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc import reporting
from snnc.cli import main
from snnc.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "mlp.nir")
EXAMPLE_X = str(ROOT / "examples" / "mlp_input.npz")


def test_paths(tmp_path):
    assert reporting.figure_path(tmp_path / "a" / "r.PNG").name == "r.PNG"
    assert reporting.figure_path(tmp_path / "r").name == "r.png"  # matplotlib's default format
    with pytest.raises(InputError, match=r"cannot write a figure as \.xyz"):
        reporting.figure_path(tmp_path / "r.xyz")
    with pytest.raises(InputError, match="is a directory"):
        reporting.output_path(tmp_path)
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="is not a directory"):
        reporting.output_path(tmp_path / "f" / "r.json")
    assert not (tmp_path / "a").exists()  # checking creates nothing


def test_cli_refuses_a_bad_plot_suffix_before_the_report(tmp_path, capsys):
    out = tmp_path / "mlp"
    assert main(["compile", EXAMPLE, "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--input", EXAMPLE_X, "--plot", str(tmp_path / "r.xyz")]) == 2
    o = capsys.readouterr()
    assert o.out == "" and "cannot write a figure as .xyz" in o.err  # nothing was computed


def test_every_report_has_to_dict_and_draws_without_pyplot(tmp_path):
    prog = snnc.compile(EXAMPLE)
    x = np.load(EXAMPLE_X)["x"]
    for rep in (prog.report(x), prog.resources(), prog.profile(x)):
        assert isinstance(rep, reporting.Report) and not hasattr(rep, "as_dict")
        d = rep.to_dict()
        assert json.loads(rep.to_json(tmp_path / "sub" / "r.json")) == json.loads(json.dumps(d))
        png = rep.plot(tmp_path / f"{type(rep).__name__}.png")
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_plot_leaves_pyplot_and_the_backend_alone(tmp_path):
    code = (f"import sys, snnc; p = snnc.compile({EXAMPLE!r}); "
            f"p.resources().plot({str(tmp_path / 'c.png')!r}); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "False" and (tmp_path / "c.png").is_file()

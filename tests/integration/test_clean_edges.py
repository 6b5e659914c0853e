"""Issue 17's rough edges and clean edges, each with the test that fails if it comes back.

* ``snnc run -o y`` writes ``y`` (it printed "wrote y" and wrote ``y.npz``);
* a converted ANN takes static inputs in ``report`` as in ``run``, and a wrong input names the
  model's input shape (not only the encoder's spike channels);
* ``compile --check`` shows progress (``--progress``) and writes OUT only after the check: a
  failing check leaves nothing;
* ``--help`` names netx files; the resources plot has whole core numbers and a layer legend;
* numeric options are checked (``--timeout nan``/``-1``), output paths before any work, a
  closed pipe ends quietly, an ``.npy`` input is read, an empty batch or time axis is refused
  alike by run, report, profile and the check, ``--timesteps`` huge is refused before allocating;
* ``snnc inspect OUT`` shows the registers of the graph that runs;
* the API checks its arguments' types.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc import check as check_mod
from snnc.cli import EXIT_PIPE, _parser, main
from snnc.errors import ArgumentError, BackendError, FrontendError, InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mlp.nir"
EXAMPLE_X = ROOT / "examples" / "mlp_input.npz"


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    out = tmp_path_factory.mktemp("edges") / "mlp"
    snnc.compile(EXAMPLE).save(out)
    return out


@pytest.fixture(scope="module")
def ann(tmp_path_factory):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    d = tmp_path_factory.mktemp("ann")
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(6, 8)).astype(np.float32), rng.normal(size=(3, 6)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "W2", "b2"], ["y"], transB=1)],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "W1"), (np.zeros(6, np.float32), "b1"),
                                                    (w2, "W2"), (np.zeros(3, np.float32), "b2"))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(d / "ann.onnx"))
    cal = rng.uniform(-1, 1, (64, 8)).astype(np.float32)  # signed: two spike channels per input
    np.savez(d / "cal.npz", x=cal)
    np.savez(d / "x.npz", x=cal[:4])
    prog = snnc.compile(d / "ann.onnx", calibration=cal, timesteps=16)
    prog.save(d / "ann.snnc")
    return d


def test_run_o_writes_the_name_given(program, tmp_path, capsys):
    assert main(["run", str(program), "--input", str(EXAMPLE_X), "-o", str(tmp_path / "y")]) == 0
    assert f"wrote {tmp_path / 'y'}\n" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y"]
    with np.load(tmp_path / "y") as z:
        assert z["x"].shape == (4, 40, 10)


def test_a_converted_ann_takes_static_inputs_in_report_and_names_the_model_shape(ann, capsys):
    prog = snnc.Program.load(ann / "ann.snnc")
    x = np.load(ann / "x.npz")["x"]
    assert prog.encoder.spike_shape == (16,) and prog.encoder.in_shape == (8,)
    rep = prog.report(x)  # static (4, 8), as run takes it
    assert rep.samples == 4 and rep.steps == 16
    assert main(["report", str(ann / "ann.snnc"), "--input", str(ann / "x.npz")]) == 0
    capsys.readouterr()
    with pytest.raises(InputError, match=r"takes static inputs \(batch, 8\).*spikes \(batch, time, 16\)"):
        prog.run(np.zeros((4, 5, 8), np.uint8))  # spikes of the model's width: the message says both
    with pytest.raises(InputError, match=r"expected \(batch, 8\)"):
        prog.report(x[:, :7])


def test_compile_check_writes_out_only_after_the_check(tmp_path, monkeypatch, capsys):
    x = np.load(EXAMPLE_X)["x"]
    np.savez(tmp_path / "bad.npz", x=x[..., :5])
    out = tmp_path / "out"
    assert main(["compile", str(EXAMPLE), "-o", str(out), "--check", str(tmp_path / "bad.npz")]) == 2
    assert "expected (batch, time, 64)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]  # nothing written

    calls = {}

    def lava_fails(prog, x, timeout=None, progress=None):
        calls["progress"] = progress
        raise BackendError("the Lava worker died", hint="rerun with -v")

    monkeypatch.setattr("snnc.cli.compare_backends", lava_fails)
    assert main(["compile", str(EXAMPLE), "-o", str(out), "--check", str(EXAMPLE_X), "--no-progress"]) == 2
    assert calls == {"progress": False}  # --progress/--no-progress reach the backends
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]


def test_compare_backends_passes_progress_on(monkeypatch):
    prog = snnc.compile(EXAMPLE)
    seen = []
    real = type(prog).run

    def spy(self, x, backend="emulator", **kw):
        seen.append((backend, kw.get("progress")))
        return real(self, x, backend="emulator", **kw)

    monkeypatch.setattr(type(prog), "run", spy)
    check_mod.compare_backends(prog, np.load(EXAMPLE_X)["x"][:1, :5], progress=True)
    assert seen == [("emulator", True), ("lava", True)]


def test_help_names_every_model_format():
    text = _parser().format_help()
    assert ".net" in text and ".onnx" in text and ".nir" in text
    sub = _parser()._subparsers._group_actions[0].choices["compile"].format_help()
    assert ".net/.h5" in sub


def test_resources_plot_has_whole_core_numbers_and_a_legend(program, tmp_path, monkeypatch):
    from snnc.compiler.mapping import report as report_mod

    captured = {}
    real = report_mod.figure

    @contextlib.contextmanager
    def spy(path, *args, **kwargs):
        with real(path, *args, **kwargs) as (fig, axes):
            captured["axes"] = axes
            yield fig, axes

    monkeypatch.setattr(report_mod, "figure", spy)
    snnc.Program.load(program).resources().plot(tmp_path / "r.png")
    axes = captured["axes"]
    ticks = axes[-1].get_xticks()
    assert len(ticks) and all(float(t).is_integer() for t in ticks)
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["lif1", "lif2"]


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf"])
def test_timeout_must_be_a_finite_positive_number(program, value, capsys):
    assert main(["run", str(program), "--input", str(EXAMPLE_X), "--timeout", value]) == 2
    assert "--timeout" in capsys.readouterr().err
    assert main(["compile", str(EXAMPLE), "-o", "/nonexistent/never", "--timeout", value]) == 2


def test_output_paths_are_checked_before_any_work(program, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep")
    cases = [
        (["compile", str(EXAMPLE), "-o", str(f)], "a file of that name exists"),
        (["compile", str(EXAMPLE), "-o", str(f / "below")], "is not a directory"),
        (["compile", str(EXAMPLE), "--emit", "onnx", "-o", str(tmp_path)], "it is a directory"),
        (["compile", str(EXAMPLE), "--emit", "netx", "-o", str(tmp_path)], "it is a directory"),
        (["report", str(program), "--input", str(EXAMPLE_X), "--json", str(tmp_path)], "it is a directory"),
        (["run", str(program), "--input", str(EXAMPLE_X), "-o", str(tmp_path / ("n" * 5000))], "too long"),
        (["compile", str(EXAMPLE), "-o", ""], "is empty"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        o = capsys.readouterr()
        assert needle in o.err and o.out == "", (argv, o.err)  # refused before compiling or running
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] and f.read_text() == "keep"


def test_a_closed_pipe_ends_quietly(program):
    exe = Path(sys.executable).with_name("snnc")
    p = subprocess.Popen([str(exe), "inspect", str(program)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # the reader goes away before snnc writes
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == EXIT_PIPE and err == ""
    out = subprocess.run(f"{exe} inspect {program} | head -1", shell=True, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("target loihi2") and out.stderr == ""


def test_a_closed_pipe_does_not_stop_a_compile(tmp_path):
    exe = Path(sys.executable).with_name("snnc")
    p = subprocess.Popen([str(exe), "compile", str(EXAMPLE), "-o", str(tmp_path / "p")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    assert p.wait(timeout=120) == EXIT_PIPE and p.stderr.read() == b""
    assert snnc.Program.load(tmp_path / "p").stats()["layers"] == 2  # the program was still written


def test_npy_inputs_are_read_and_empty_axes_refused_everywhere(program, tmp_path, capsys):
    x = np.load(EXAMPLE_X)["x"]
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(program), "--input", str(tmp_path / "x.npy")]) == 0
    capsys.readouterr()
    np.savez(tmp_path / "b0.npz", x=x[:0])
    np.savez(tmp_path / "t0.npz", x=x[:, :0])
    for name, needle in (("b0", "holds no sample"), ("t0", "has no time step")):
        for argv in (["run", str(program)], ["report", str(program)], ["profile", str(program)],
                     ["compile", str(EXAMPLE), "-o", str(tmp_path / "o"), "--check"]):
            assert main([*argv, "--input" if argv[0] != "compile" else "--check", str(tmp_path / f"{name}.npz")]
                        if argv[0] != "compile" else [*argv, str(tmp_path / f"{name}.npz")]) == 2
            assert needle in capsys.readouterr().err
    prog = snnc.Program.load(program)
    for arr, needle in ((x[:0], "holds no sample"), (x[:, :0], "has no time step")):
        for verb in (prog.run, prog.report, prog.profile):
            with pytest.raises(InputError, match=needle):
                verb(arr)
    assert not (tmp_path / "o").exists()


def test_huge_timesteps_are_refused_before_allocating(ann, tmp_path, capsys):
    argv = ["compile", str(ann / "ann.onnx"), "--calibration", str(ann / "cal.npz"), "-o", str(tmp_path / "o")]
    assert main([*argv, "--timesteps", "100000000"]) == 2
    assert "--timesteps 100000000 outside 1..1048576" in capsys.readouterr().err
    enc = snnc.Program.load(ann / "ann.snnc").encoder
    with pytest.raises(InputError, match=r"needs about .* GiB of memory; .* are available"):
        enc.encode(np.broadcast_to(np.zeros((1, 8), np.float32), (10**6, 8)), timesteps=1 << 20)


def test_inspect_shows_the_registers_of_the_graph_that_runs(program, tmp_path, capsys):
    import shutil

    d = tmp_path / "p"
    shutil.copytree(program, d)
    meta = json.loads((d / "program.json").read_text())
    meta["layers"][0]["vth"] = 1  # a stale table (edited, manifest re-hashed as a tool would)
    (d / "program.json").write_text(json.dumps(meta))
    man = json.loads((d / "manifest.json").read_text())
    import hashlib

    data = (d / "program.json").read_bytes()
    man["files"]["program.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (d / "manifest.json").write_text(json.dumps(man))
    assert main(["inspect", str(d)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("lif1 "))
    assert snnc.Program.load(d).graph["lif1"].vth == 7526 and " 7526 " in row


def test_the_api_checks_argument_types(program, tmp_path):
    prog = snnc.Program.load(program)
    x = np.load(EXAMPLE_X)["x"]
    with pytest.raises(ArgumentError, match="must be a path"):
        snnc.Program.load(None)
    with pytest.raises(TypeError):  # ArgumentError is a TypeError too
        snnc.Program.load(3)
    with pytest.raises(ArgumentError, match="timeout must be a number"):
        prog.run(x, backend="lava", timeout="abc")
    with pytest.raises(InputError, match="timeout=nan"):
        prog.run(x, timeout=float("nan"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="a file of that name exists"):
        prog.save(tmp_path / "f")
    with pytest.raises(InputError, match="it is a directory"):
        prog.export_onnx(tmp_path)
    with pytest.raises(ArgumentError, match="teacher must be"):
        prog.profile(x, teacher=123)
    with pytest.raises(InputError, match="no such file"):
        prog.profile(x, teacher=str(tmp_path / "missing.onnx"))
    with pytest.raises(FrontendError, match="is a file, not a compiled program directory"):
        snnc.Program.load(tmp_path / "f")

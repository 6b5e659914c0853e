"""The CLI end to end: compile, run on both backends, inspect, and user errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mlp.nir"
EXAMPLE_X = ROOT / "examples" / "mlp_input.npz"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "mlp.snnc"
    assert main(["compile", str(EXAMPLE), "--target", "loihi2", "-o", str(out)]) == 0
    return out


def test_compile_prints_convention_and_layers(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["compile", str(EXAMPLE), "-o", str(out), "--dt", "1e-4"]) == 0
    text = capsys.readouterr().out
    assert "dt=0.0001, integration=euler, spike_if='>'" in text
    assert "lif1" in text and "lif2" in text and "latency output: 2 steps" in text
    assert (out / "program.json").is_file()


def test_run_emulator_writes_spikes(compiled, tmp_path):
    y_path = tmp_path / "y.npz"
    assert main(["run", str(compiled), "--input", str(EXAMPLE_X), "-o", str(y_path)]) == 0
    y = np.load(y_path)["x"]  # spike arrays use key x, inputs and outputs alike
    x = np.load(EXAMPLE_X)["x"]
    assert y.shape == (x.shape[0], x.shape[1], 10)
    assert 0 < y.sum() < y.size  # the example network fires, but not always


@pytest.mark.lava
def test_lava_and_emulator_give_identical_spikes_from_the_cli(compiled, tmp_path):
    ys = {}
    for backend in ("emulator", "lava"):
        path = tmp_path / f"{backend}.npz"
        assert main(["run", str(compiled), "--input", str(EXAMPLE_X), "--backend", backend, "-o", str(path)]) == 0
        ys[backend] = np.load(path)["x"]
    np.testing.assert_array_equal(ys["emulator"], ys["lava"])
    assert ys["lava"].sum() > 0


@pytest.mark.lava
def test_compile_check_reports_agreement(tmp_path, capsys):
    x = np.load(EXAMPLE_X)["x"][:2, :20]
    np.savez(tmp_path / "x.npz", x=x)
    rc = main(["compile", str(EXAMPLE), "-o", str(tmp_path / "p"), "--check", str(tmp_path / "x.npz")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "emulator and Lava agree" in out
    assert "of spikes equal; spike count" in out  # float reference vs fixed point


def test_inspect_model_and_program(compiled, capsys):
    assert main(["inspect", str(EXAMPLE)]) == 0
    assert "CubaLIF" in capsys.readouterr().out
    assert main(["inspect", str(compiled)]) == 0
    text = capsys.readouterr().out
    assert "Compartment" in text and "Synapse" in text


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["compile", "missing.nir"], "no such file"),
        (["compile", str(EXAMPLE), "--target", "loihi9"], "unknown target"),
        (["compile", str(EXAMPLE), "--dt", "-1"], "dt must be"),
        (["compile", str(EXAMPLE), "--dt", "1"], "unstable"),
        (["run", "no_such_program", "--input", str(EXAMPLE_X)], "not a compiled snnc program"),
    ],
)
def test_user_errors_exit_2_with_hint(argv, needle, capsys, tmp_path):
    assert main(argv + (["-o", str(tmp_path / "o")] if argv[0] == "compile" else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and "hint: " in err
    assert not (tmp_path / "o").exists()


def test_bad_inputs_exit_2(compiled, tmp_path, capsys):
    np.savez(tmp_path / "wrong_shape.npz", x=np.zeros((1, 5, 63)))
    np.savez(tmp_path / "no_x.npz", spikes=np.zeros((1, 5, 64)))
    np.savez(tmp_path / "graded.npz", x=np.full((1, 5, 64), 0.5))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    for name, needle in [("wrong_shape", "expected (batch, time, 64)"), ("no_x", "no array 'x'"),
                         ("graded", "binary"), ("junk", "cannot read")]:
        assert main(["run", str(compiled), "--input", str(tmp_path / f"{name}.npz")]) == 2
        assert needle in capsys.readouterr().err


def test_console_script_version_and_exit_code():
    exe = Path(sys.executable).with_name("snnc")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("snnc ")
    bad = subprocess.run([str(exe), "compile", "nope.nir"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.lava
def test_conv_program_agrees_on_lava(tmp_path):
    """A compiled convolution (Lava Conv process with virtual-port reshapes) equals the emulator."""
    import nir

    from snnc.check import compare_backends

    rng = np.random.default_rng(3)
    tau = np.full((3, 6, 6), 1e-3)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([2, 6, 6])),
            "conv": nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 0.5, (3, 2, 3, 3)), stride=1,
                               padding=1, dilation=1, groups=1, bias=np.full(3, 0.02)),
            "lif": nir.LIF(tau=tau, r=tau / 1e-4, v_leak=np.zeros_like(tau), v_threshold=np.ones_like(tau)),
            "output": nir.Output(output_type=np.array([3, 6, 6])),
        },
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")],
    )
    nir.write(tmp_path / "conv.nir", graph)
    prog = snnc.compile(tmp_path / "conv.nir")
    assert prog.graph["lif:syn"].kind == "ConvSynapse"
    x = (rng.random((2, 15, 2, 6, 6)) < 0.3).astype(np.uint8)
    result = compare_backends(prog, x)
    assert result.agree and result.layers["lif"]["spikes_a"] > 0

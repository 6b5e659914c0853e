"""snnc compile --emit {snnc,netx,onnx} and --from PRESET (snnc.emit, snnc.cli)."""

from __future__ import annotations

import nir
import numpy as np
import pytest

import snnc
from snnc import emit
from snnc.cli import main
from snnc.errors import ValidationError


def _bias_free(path):
    rng = np.random.default_rng(0)
    g = nir.NIRGraph.from_list(
        nir.Linear(weight=rng.normal(0, 0.6, (5, 6))),
        nir.LIF(tau=np.full(5, 1e-3), r=np.full(5, 10.0), v_leak=np.zeros(5), v_threshold=np.ones(5)),
    )
    nir.write(path, g)
    return path


def test_emit_netx_and_onnx_from_the_cli(tmp_path, capsys):
    model = _bias_free(tmp_path / "m.nir")
    assert main(["compile", str(model), "--emit", "netx"]) == 0
    net = tmp_path / "m.net"
    prog = snnc.load(net)  # what was written reads back as the same weights
    ref = snnc.compile(model, target=emit.compile_target("loihi2", "netx"))
    x = (np.random.default_rng(1).random((2, 12, 6)) < 0.4).astype(np.uint8)
    y = prog.run(x)
    assert y.sum() > 0
    np.testing.assert_array_equal(y, ref.run(x))
    assert main(["compile", str(model), "--emit", "onnx", "-o", str(tmp_path / "s.onnx")]) == 0
    assert (tmp_path / "s.onnx").stat().st_size > 0
    assert main(["compile", str(model), "-o", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "program.json").is_file()
    # the quick-start example (biases off netx's 2^6 grid on the chip's target) goes through
    assert main(["compile", "examples/mlp.nir", "--emit", "netx", "-o", str(tmp_path / "a.net")]) == 0
    assert "bias on the target's 2^6 grid" in capsys.readouterr().out
    # a program netx cannot express (per-neuron time constants): exit 2 with the layer and a
    # hint, nothing written
    rng = np.random.default_rng(0)
    per_neuron = nir.NIRGraph.from_list(
        nir.Linear(weight=rng.normal(0, 0.6, (5, 6))),
        nir.LIF(tau=np.linspace(1e-3, 2e-3, 5), r=np.full(5, 10.0), v_leak=np.zeros(5), v_threshold=np.ones(5)),
    )
    nir.write(tmp_path / "pn.nir", per_neuron)
    assert main(["compile", str(tmp_path / "pn.nir"), "--emit", "netx", "-o", str(tmp_path / "b.net")]) == 2
    err = capsys.readouterr().err
    assert "hint:" in err and "lif" in err and "per-neuron" in err and not (tmp_path / "b.net").exists()


def test_from_preset_sets_the_convention(tmp_path):
    model = _bias_free(tmp_path / "m.nir")
    assert main(["compile", str(model), "--from", "sinabs", "-o", str(tmp_path / "p")]) == 0
    prog = snnc.Program.load(tmp_path / "p")
    assert (prog.convention.dt, prog.convention.integration, prog.convention.spike_if) == (1.0, "exact", ">=")
    # an explicit flag wins over the preset
    assert main(["compile", str(model), "--from", "sinabs", "--dt", "0.5", "-o", str(tmp_path / "q")]) == 0
    assert snnc.Program.load(tmp_path / "q").convention.dt == 0.5


def test_explicit_flags_win_over_the_preset_even_at_their_defaults():
    from snnc.cli import _parser
    from snnc.compiler.conventions import apply_preset

    def conv(*argv):
        a = _parser().parse_args(["compile", "m.nir", *argv])
        apply_preset(a, a.exporter)
        return a.dt, a.integration, a.spike_if, a.synapse_input, a.reset

    assert conv() == (1e-4, "euler", ">", "ode", "value")
    assert conv("--from", "rockpool") == (1e-3, "exact", ">=", "jump", "subtract")
    assert conv("--from", "rockpool", "--reset", "value", "--spike-if", ">") == (1e-3, "exact", ">", "jump", "value")


def test_unknown_emitter():
    with pytest.raises(ValidationError, match="unknown --emit"):
        emit.default_path("m.nir", "tflite")
    assert emit.default_path("a/m.nir", "netx").name == "m.net"


def test_netx_file_compiles_to_an_onnx_step_model_with_equal_spikes(tmp_path):
    """netx -> snnc Program -> ONNX step model: onnxruntime spikes == the emulator's."""
    from snnc.backends.onnx_step import run_step_model

    model = _bias_free(tmp_path / "m.nir")
    snnc.compile(model, target=emit.compile_target("loihi2", "netx")).export_netx(tmp_path / "m.net")
    assert main(["compile", str(tmp_path / "m.net"), "--emit", "onnx"]) == 0
    prog = snnc.compile(tmp_path / "m.net")  # already fixed point: returned as read
    assert isinstance(prog, snnc.Program)
    x = (np.random.default_rng(2).random((2, 10, 6)) < 0.4).astype(np.uint8)
    raw = prog.run(x, return_raw=True)
    got = run_step_model(tmp_path / "m.onnx", x)
    out = np.asarray(next(iter(got.values())))
    want = raw.spikes["layer1"].reshape(out.shape)
    assert want.sum() > 0
    np.testing.assert_array_equal(out.astype(bool), want)


def test_inspect_reads_netx_files(tmp_path, capsys):
    model = _bias_free(tmp_path / "m.nir")
    assert main(["compile", str(model), "--emit", "netx"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "m.net")]) == 0
    out = capsys.readouterr().out
    assert "layer1" in out and "netx CUBA dense" in out and "Synapse(" in out
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n garbage")
    assert main(["inspect", str(tmp_path / "bad.h5")]) == 2
    assert "hint:" in capsys.readouterr().err

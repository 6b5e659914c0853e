"""ONNX step models run in onnxruntime with the spikes of snnc.simulate and of the emulator."""

from __future__ import annotations

from pathlib import Path

import lava_programs  # tests/helpers: the Lava differential test's random programs
import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings

import snnc
from snnc.backends import emulator, onnx_step
from snnc.compiler.artifact import Artifact
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.emit import export_onnx
from snnc.errors import FrontendError, InputError, ValidationError
from snnc.frontends.onnx_step import is_step_model, load_step_model, step_model_convention

ROOT = Path(__file__).resolve().parents[2]
MLP = ROOT / "examples" / "mlp.nir"
X_MLP = np.load(ROOT / "examples" / "mlp_input.npz")["x"]



def _assert_same_as_emulator(graph: Graph, x: np.ndarray, steps: int) -> None:
    model = onnx_step.export_graph(graph)
    got = onnx_step.run_step_model(model, x, steps)
    emu = emulator.run(graph, x, steps)
    assert {k for k in got if k.startswith("spikes.")} == {f"spikes.{c}" for c in emu.spikes}
    for c, s in emu.spikes.items():
        np.testing.assert_array_equal(got[f"spikes.{c}"], s.astype(np.uint8), err_msg=c)
    for c, v in emu.v.items():
        np.testing.assert_array_equal(got[f"v.{c}"], v, err_msg=c)


# ------------------------------------------------------------------------ integer models
@pytest.mark.parametrize("kind", lava_programs.KINDS)
def test_integer_step_model_equals_emulator(kind):
    @settings(max_examples=6, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=lava_programs.programs(kind))
    def prop(case):
        _assert_same_as_emulator(*case)

    prop()


def test_integer_step_model_wraps_and_saturates():
    """Per-neuron decays, a floor shift of negative sums, int32-wrapped fan-in, u wrapping at 24
    bits, v saturating, a late start with initial states, and delays."""
    rng = np.random.default_rng(7)
    n_in, n = 400, 4
    drive = loihi.Synapse(np.full((n, n_in), 255), weight_exp=7)  # 400·255·2^7 ≫ 2^23 per step
    nodes = {
        "in": loihi.SpikeSource((n_in,)),
        "exc": drive,
        "inh": loihi.Synapse(-rng.integers(0, 256, (n, n_in)), weight_exp=-3),
        "A": loihi.Compartment((n,), du=np.array([0, 5, 4095, 2047]),
                               dv=np.array([0, 1, 4095, 100]), vth=2**17 - 1,
                               bias_mant=np.array([4095, -4095, 7, 0]), bias_exp=7,
                               readout="v"),
        "rec": loihi.Synapse(rng.integers(-256, 256, (n, n)), weight_exp=-7,
                             delays=rng.integers(0, 5, (n, n))),
        "B": loihi.Compartment((n,), du=3, dv=9, vth=5, bias_mant=np.zeros(n, np.int64),
                               start_step=4, u_init=np.array([-(2**23), 2**23 - 1, -5, 5]),
                               v_init=np.array([1, 2, 3, 4]), readout="v"),
    }
    g = Graph(nodes, [("in", "exc"), ("in", "inh"), ("exc", "A"), ("inh", "A"), ("A", "rec"),
                      ("rec", "B")])
    x = rng.random((2, 14, n_in)) < 0.6
    emu = emulator.run(g, x, 18)
    assert (np.abs(emu.v["A"]) == 2**23 - 1).any()  # the case really saturates
    _assert_same_as_emulator(g, x, 18)


def test_conv_accumulator_wraps_at_24_bits():
    nodes = {
        "in": loihi.SpikeSource((127, 17, 17)),
        "c": loihi.ConvSynapse(np.full((2, 127, 17, 17), 255), (127, 17, 17)),
        "A": loihi.Compartment((2, 1, 1), du=4095, dv=4095, vth=2**17 - 1,
                               bias_mant=np.zeros(2, np.int64), readout="v"),
    }
    g = Graph(nodes, [("in", "c"), ("c", "A")])
    x = np.ones((1, 3, 127, 17, 17), dtype=bool)
    x[0, 1, :64] = False
    _assert_same_as_emulator(g, x, 5)


def test_compiled_program_round_trip(tmp_path):
    prog = snnc.compile(MLP, target="loihi2")
    path = tmp_path / "mlp.onnx"
    prog.export_onnx(path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert {n.domain for n in model.graph.node} == {""}  # standard operators only
    assert is_step_model(model) and is_step_model(path)
    raw = onnx_step.run_step_model(path, X_MLP)
    ref = prog.run(X_MLP, return_raw=True)
    for c, s in ref.spikes.items():
        np.testing.assert_array_equal(raw[f"spikes.{c}"], s.astype(np.uint8), err_msg=c)
    assert isinstance(load_step_model(model), Artifact)  # IR; the roof wraps it in a Program
    back = snnc.load(model)
    assert isinstance(back, snnc.Program) and back.latency == prog.latency
    np.testing.assert_array_equal(back.run(X_MLP), prog.run(X_MLP))


# -------------------------------------------------------------------------- float models
def test_float_step_model_equals_simulate_on_mlp(tmp_path):
    path = tmp_path / "mlp_float.onnx"
    export_onnx(MLP, path)
    y = onnx_step.run_step_model(path, X_MLP)
    ref = snnc.simulate(MLP, X_MLP)
    assert ref.sum() > 0
    np.testing.assert_array_equal(y["y.output"], ref)
    g = load_step_model(path)
    assert isinstance(g, Graph)
    np.testing.assert_array_equal(snnc.simulate(g, X_MLP), ref)
    assert step_model_convention(path)["integration"] == "euler"


def _float_zoo() -> Graph:
    """CubaLIF, recurrence (a back edge), a Delay, an LI read-out and two summed edges."""
    rng = np.random.default_rng(0)
    n_in, n = 6, 5
    nodes = {
        "input": ops.Input((n_in,)),
        "fc": ops.Affine(rng.normal(0, 1.5, (n, n_in)), rng.normal(0, 0.2, n)),
        "cuba": ops.CubaLIF(np.full(n, 5e-3), np.full(n, 1e-2), np.ones(n), np.zeros(n),
                            np.full(n, 0.3), np.zeros(n), np.ones(n)),
        "rec": ops.Linear(rng.normal(0, 0.5, (n, n))),
        "delay": ops.Delay(np.array([0, 1, 2, 3, 1]) * 1e-3),
        "lif": ops.LIF(np.full(n, 2e-3), np.ones(n), np.zeros(n), np.full(n, 0.2), np.zeros(n)),
        "ro": ops.Linear(rng.normal(0, 1.0, (3, n))),
        "li": ops.LI(np.full(3, 4e-3), np.ones(3), np.zeros(3)),
        "out_s": ops.Output((n,)),
        "out_v": ops.Output((3,)),
    }
    edges = [("input", "fc"), ("fc", "cuba"), ("cuba", "rec"), ("rec", "cuba"),
             ("cuba", "delay"), ("delay", "lif"), ("fc", "lif"), ("lif", "ro"), ("ro", "li"),
             ("lif", "out_s"), ("li", "out_v")]
    return Graph(nodes, edges)


@pytest.mark.parametrize("integration,spike_if", [("euler", ">"), ("exact", ">=")])
def test_float_step_model_equals_simulate_on_stateful_graph(integration, spike_if):
    g = _float_zoo()
    x = (np.random.default_rng(1).random((3, 30, 6)) < 0.5).astype(np.float64)
    kw = {"dt": 1e-3, "integration": integration, "spike_if": spike_if}
    y = onnx_step.run_step_model(onnx_step.export_graph(g, **kw), x)
    ref = snnc.simulate(g, x, **kw)
    assert ref["out_s"].sum() > 0
    np.testing.assert_array_equal(y["y.out_s"], ref["out_s"])
    np.testing.assert_allclose(y["y.out_v"], ref["out_v"], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- bad input
def test_edited_step_model_is_refused(tmp_path):
    model = export_onnx(MLP)
    w = next(t for t in model.graph.initializer if t.name.startswith("weight"))
    arr = onnx.numpy_helper.to_array(w).copy()
    arr[0, 0] += 1.0
    w.CopyFrom(onnx.numpy_helper.from_array(arr, w.name))
    with pytest.raises(FrontendError, match="edited after export"):
        load_step_model(model)


def test_foreign_onnx_and_bad_input(tmp_path):
    foreign = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    assert not is_step_model(foreign)
    with pytest.raises(FrontendError, match="not an snnc step model"):
        load_step_model(foreign)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a protobuf")
    with pytest.raises(FrontendError, match="not an ONNX model"):
        onnx_step.run_step_model(junk, X_MLP)
    with pytest.raises(InputError, match="expected"):
        onnx_step.run_step_model(export_onnx(MLP), X_MLP[:, :, :3])
    with pytest.raises(InputError, match="binary spikes"):
        onnx_step.run_step_model(snnc.compile(MLP).export_onnx(tmp_path / "p.onnx"), X_MLP * 2)


def test_too_large_for_one_onnx_file_is_refused_before_densifying():
    """A 200x200 conv layer is a 640000x40000 matrix (205 GB dense): refused, not allocated."""
    conv = ops.Conv2d((200, 200), np.ones((16, 1, 3, 3)), (1, 1), (1, 1), (1, 1), 1, np.zeros(16))
    shape = (16, 200, 200)
    g = Graph({"input": ops.Input((1, 200, 200)), "conv": conv,
               "lif": ops.LIF(*(np.ones(shape),) * 4, np.zeros(shape)),
               "output": ops.Output(shape)},
              [("input", "conv"), ("conv", "lif"), ("lif", "output")])
    with pytest.raises(ValidationError, match=r"layer 'conv': its 640000x40000 matrix .* GB"):
        onnx_step.export_graph(g)


@pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning")
@pytest.mark.parametrize("net_name,in_shape", [("LifMLP", (12,)), ("CubaMLP", (12,)),
                                               ("ConvNet", (2, 8, 8)), ("RecurrentNet", (12,))])
def test_float_step_model_of_snntorch_exports_equals_snntorch(tmp_path, net_name, in_shape):
    """snnTorch net -> its NIR export -> float step model in onnxruntime: snnTorch's spikes."""
    import snntorch_nets as nets  # tests/helpers (imports torch and snnTorch)

    nets.torch.manual_seed(0)
    net = getattr(nets, net_name)()
    path = nets.export(net, in_shape, tmp_path)
    x = (nets.torch.rand(nets.BATCH, nets.STEPS, *in_shape) < 0.3).float()
    expected = nets.run_snntorch(net, x)[-1]  # the last layer's spikes = the graph's Output
    (y,) = onnx_step.run_step_model(export_onnx(path), x.numpy()).values()
    assert expected.sum() > 0
    np.testing.assert_array_equal(y, expected)

"""ONNX ANN frontend: every supported op against onnxruntime, BN folding, refusals, torch export.

Models are built with ``onnx.helper`` (one op at a time, fast) and, for the round trip, written
by ``torch.onnx.export`` (both exporters).  The ANN reading of the loaded graph
(:func:`snnc.calibration.balance.ann_forward`: linear ops as they are, IF = ReLU) must equal
onnxruntime's forward pass; the balanced IF network's spike rates must approach it for long T.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import snnc
from snnc.calibration.balance import ann_forward, convert
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.encoding import RateEncoder
from snnc.errors import CalibrationError, UnsupportedOpError, ValidationError

RNG = np.random.default_rng(7)


def make_model(nodes, inits: dict[str, np.ndarray], in_shape, out="y", in_dims=None) -> onnx.ModelProto:
    dims = in_dims or ["batch", *in_shape]
    graph = helper.make_graph(
        nodes, "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", "n_out"])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnxrt(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x.astype(np.float32)})[0]


def assert_matches_onnxruntime(model: onnx.ModelProto, x: np.ndarray) -> snnc.compiler.ir.graph.Graph:
    g = snnc.load(model)
    want = onnxrt(model, x)
    got = ann_forward(g, x)["output"]
    np.testing.assert_allclose(got, want.reshape(len(x), -1), rtol=1e-4, atol=1e-4)
    return g


def w(*shape, scale=0.5):
    return RNG.normal(0, scale, shape).astype(np.float32)


# --------------------------------------------------------------------------- each op
def test_gemm_relu_gemm_matches_onnxruntime():
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu1"),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", alpha=0.5, beta=2.0),
    ]
    m = make_model(nodes, {"w1": w(6, 4), "b1": w(6), "w2": w(6, 3), "b2": w(3)}, [4])
    g = assert_matches_onnxruntime(m, RNG.normal(size=(5, 4)))
    assert [type(n).__name__ for n in g.nodes.values()] == ["Input", "Affine", "IF", "Affine", "Output"]
    assert g["relu1"].source == "relu1" and g.meta["ann"]["format"] == 1


def test_matmul_plus_add_is_one_affine():
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm"),
        helper.make_node("Add", ["h", "b1"], ["h2"], name="add"),
        helper.make_node("Relu", ["h2"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["m2"]),
        helper.make_node("Sub", ["m2", "b2"], ["y"]),
    ]
    m = make_model(nodes, {"w1": w(4, 5), "b1": w(5), "w2": w(5, 2), "b2": w(2)}, [4])
    g = assert_matches_onnxruntime(m, RNG.normal(size=(3, 4)))
    assert len(g.of_kind(ops.Affine)) == 2 and not np.all(g["mm"].bias == 0)


def test_conv_batchnorm_is_folded_and_avgpool_matches():
    nodes = [
        helper.make_node("Conv", ["x", "k", "kb"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["bn"], name="bn", epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node("AveragePool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1),
    ]
    inits = {"k": w(3, 2, 3, 3), "kb": w(3), "g": 1 + w(3, scale=0.2), "be": w(3), "mu": w(3),
             "var": 0.5 + np.abs(w(3)), "w": w(4, 3 * 3 * 3), "b": w(4)}
    g = assert_matches_onnxruntime(make_model(nodes, inits, [2, 6, 6]), RNG.normal(size=(2, 2, 6, 6)))
    assert "bn" not in g and isinstance(g["conv"], ops.Conv2d)
    assert isinstance(g.nodes["AveragePool_3"], ops.AvgPool2d)


def test_batchnorm_after_gemm_is_folded():
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
        helper.make_node("BatchNormalization", ["h", "g", "be", "mu", "var"], ["y"], name="bn"),
    ]
    inits = {"w": w(5, 3), "b": w(5), "g": w(5), "be": w(5), "mu": w(5), "var": 1 + np.abs(w(5))}
    g = assert_matches_onnxruntime(make_model(nodes, inits, [3]), RNG.normal(size=(4, 3)))
    assert list(g.nodes) == ["input", "fc", "output"]


def test_avgpool_without_count_include_pad_divides_by_real_inputs():
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("AveragePool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w"], ["y"], transB=1),
    ]
    m = make_model(nodes, {"k": w(2, 1, 3, 3), "w": w(3, 2 * 4 * 4)}, [1, 6, 6])
    g = assert_matches_onnxruntime(m, RNG.normal(size=(2, 1, 6, 6)))
    assert isinstance(g["pool"], ops.SumPool2d) and isinstance(g["pool/divisor"], ops.Scale)


def test_conv1d_and_avgpool1d():
    nodes = [
        helper.make_node("Conv", ["x", "k", "kb"], ["c"], pads=[2, 2], strides=[1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("AveragePool", ["r"], ["p"], kernel_shape=[2], strides=[2]),
        helper.make_node("Conv", ["p", "k2"], ["c2"], pads=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Flatten", ["r2"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["y"], transB=1),
    ]
    inits = {"k": w(4, 1, 5), "kb": w(4), "k2": w(2, 4, 3), "w": w(3, 2 * 5), "b": w(3)}
    m = make_model(nodes, inits, [1, 10])
    g = assert_matches_onnxruntime(m, RNG.normal(size=(3, 1, 10)))
    assert len(g.of_kind(ops.Conv1d)) == 2


def test_maxpool_1x1_is_subsampling():
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[1, 1], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w"], ["y"], transB=1),
    ]
    m = make_model(nodes, {"k": w(2, 1, 3, 3), "w": w(3, 2 * 3 * 3)}, [1, 7, 7])
    assert_matches_onnxruntime(m, RNG.normal(size=(2, 1, 7, 7)))


def test_reshape_through_shape_gather_concat_and_dropped_ops():
    """x.view(x.size(0), -1) as the legacy exporter writes it; Identity/Dropout/Softmax dropped."""
    nodes = [
        helper.make_node("Identity", ["w1"], ["w1i"]),
        helper.make_node("Conv", ["x", "w1i"], ["c"]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Relu", ["r"], ["r2"], name="relu_of_relu"),
        helper.make_node("Shape", ["r2"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["r2", "shape"], ["f"]),
        helper.make_node("Dropout", ["f"], ["d"]),
        helper.make_node("Gemm", ["d", "w2"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    inits = {"w1": w(2, 1, 3, 3), "w2": w(3, 2 * 3 * 3)}
    m = make_model(nodes, inits, [1, 5, 5])
    for name, v in (("zero", np.array(0, np.int64)), ("axes", np.array([0], np.int64)),
                    ("minus1", np.array([-1], np.int64))):
        m.graph.initializer.append(numpy_helper.from_array(v, name))
    g = snnc.load(m)
    x = RNG.normal(size=(4, 1, 5, 5))
    logits = ann_forward(g, x)["output"]
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), onnxrt(m, x), atol=1e-5)
    assert len(g.of_kind(ops.IF)) == 1 and g.meta["ann"]["dropped"] == ["Softmax"]


# --------------------------------------------------------------------------- refusals
def _refused(model, *words):
    with pytest.raises(UnsupportedOpError) as e:
        snnc.load(model)
    for word in words:
        assert word in str(e.value) + (e.value.hint or "")
    return e.value


def test_maxpool_window_is_refused_with_reason():
    nodes = [helper.make_node("Conv", ["x", "k"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["y"], name="pool1", kernel_shape=[2, 2])]
    err = _refused(make_model(nodes, {"k": w(2, 1, 3, 3)}, [1, 6, 6]), "pool1", "MaxPool", "not a linear", "AvgPool")
    assert err.node == "pool1"


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh", "LeakyRelu"])
def test_unknown_activation_is_refused_naming_node_and_op(op):
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1), helper.make_node(op, ["h"], ["y"], name="act")]
    err = _refused(make_model(nodes, {"w": w(3, 2)}, [2]), "'act'", op, "supported ops")
    assert err.node == "act"


def test_residual_add_is_refused():
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Add", ["r", "x"], ["y"], name="skip")]
    _refused(make_model(nodes, {"w": w(2, 2)}, [2]), "skip", "residual")


def test_batchnorm_without_conv_before_it_is_refused():
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("BatchNormalization", ["r", "g", "b", "m", "v"], ["y"], name="bn")]
    inits = {"w": w(2, 2), "g": w(2), "b": w(2), "m": w(2), "v": np.ones(2)}
    _refused(make_model(nodes, inits, [2]), "bn", "fold")


def test_dynamic_feature_axis_is_refused():
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)]
    err = _refused(make_model(nodes, {"w": w(2, 2)}, [2], in_dims=["batch", "features"]), "dynamic", "features")
    assert "fixed input size" in err.hint


def test_corrupt_file_is_a_frontend_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(snnc.errors.FrontendError):
        snnc.load(bad)


def test_cli_unsupported_op_exits_2(tmp_path, capsys):
    from snnc.cli import main

    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1), helper.make_node("Tanh", ["h"], ["y"], name="t")]
    path = tmp_path / "m.onnx"
    onnx.save(make_model(nodes, {"w": w(3, 2)}, [2]), path)
    assert main(["compile", str(path)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "'t' (Tanh)" in err and "hint:" in err


# --------------------------------------------------------------------------- torch export
class _Net:
    @staticmethod
    def build():
        import torch

        torch.manual_seed(0)
        m = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
            torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Dropout(0.1),
            torch.nn.Linear(6 * 2 * 2, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3),
        )
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                    mod.running_mean.uniform_(-0.5, 0.5)
                    mod.running_var.uniform_(0.5, 2.0)
                    mod.weight.uniform_(0.5, 1.5)
        return m.eval()


@pytest.mark.parametrize("dynamo", [False, True])
def test_torch_onnx_export_round_trip(dynamo):
    import torch

    m = _Net.build()
    x = torch.randn(3, 1, 8, 8)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {} if dynamo else {"dynamic_axes": {"x": {0: "batch"}}}
        torch.onnx.export(m, (x,), f, dynamo=dynamo, input_names=["x"], output_names=["y"], **kw)
    model = onnx.load_from_string(f.getvalue())
    g = snnc.load(model)
    assert len(g.of_kind(ops.IF)) == 3 and not any("Batch" in (n.meta.get("onnx_op") or "") for n in g.nodes.values())
    with torch.no_grad():
        want = m(x).numpy()
    np.testing.assert_allclose(ann_forward(g, x.numpy())["output"], want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(onnxrt(model, x.numpy()), want, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- conversion
def _mlp():
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu1"),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", transB=1),
    ]
    return make_model(nodes, {"w1": w(8, 5), "b1": 0.3 + w(8, scale=0.1), "w2": w(3, 8), "b2": w(3)}, [5])


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_float_snn_rates_approach_the_ann_for_long_t(reset):
    """Σ_t y[t] / T → ANN logits when every activation is below λ (percentile 100)."""
    model = _mlp()
    x = RNG.uniform(0, 1, (40, 5))
    g = snnc.load(model)
    c = convert(g, x, Convention(), timesteps=400, percentile=100.0, reset=reset)
    y = snnc.simulate(c.graph, c.encoder.encode(x)).mean(axis=1)
    ann = onnxrt(model, x)
    err = np.abs(y - ann).max() / np.abs(ann).max()
    if reset == "subtract":
        assert err < 0.03, err
    else:  # Loihi's plain reset to zero loses the residual: measurably worse (docs/conversion.md)
        sub = convert(g, x, Convention(), timesteps=400, percentile=100.0, reset="subtract")
        y_sub = snnc.simulate(sub.graph, sub.encoder.encode(x)).mean(axis=1)
        assert err > 2 * np.abs(y_sub - ann).max() / np.abs(ann).max()


def test_signed_inputs_use_two_channels():
    model = _mlp()
    x = RNG.normal(0, 1, (30, 5))
    c = convert(snnc.load(model), x, Convention(), timesteps=300, percentile=100.0)
    assert c.encoder.signed and c.encoder.spike_shape == (10,)
    assert c.graph["input"].shape == (10,) and c.graph["fc1"].weight.shape == (8, 10)
    y = snnc.simulate(c.graph, c.encoder.encode(x)).mean(axis=1)
    ann = onnxrt(model, x)
    assert np.abs(y - ann).max() < 0.05 * np.abs(ann).max()


def test_rate_encoder_counts_and_json_round_trip():
    enc = RateEncoder((2, 3), scale=2.0, timesteps=10, signed=True)
    x = np.array([[[2.0, 1.0, 0.0], [-2.0, -0.5, 0.25]]])
    s = enc.encode(x)
    assert s.shape == (1, 10, 4, 3) and s.dtype == np.uint8
    counts = s.sum(axis=1)[0]
    np.testing.assert_array_equal(counts[:2], [[10, 5, 0], [0, 0, 1]])  # positive channels
    np.testing.assert_array_equal(counts[2:], [[0, 0, 0], [10, 3, 0]])  # negative channels (2.5 rounds up)
    assert RateEncoder.from_json(enc.to_json()) == enc


def test_calibration_bad_inputs():
    g = snnc.load(_mlp())
    conv = Convention()
    with pytest.raises(CalibrationError, match="shape"):
        convert(g, np.zeros((0, 5)), conv)
    with pytest.raises(CalibrationError, match="spike trains"):
        convert(g, np.zeros((2, 4, 5)), conv)
    with pytest.raises(CalibrationError, match="NaN"):
        convert(g, np.full((2, 5), np.nan), conv)
    with pytest.raises(CalibrationError, match="all zeros"):
        convert(g, np.zeros((2, 5)), conv)
    with pytest.raises(CalibrationError, match="calibration data"):
        snnc.compile(g)
    with pytest.raises(ValidationError, match="timesteps"):
        convert(g, np.ones((2, 5)), conv, timesteps=0)


def test_layer_that_never_fires_is_named():
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="dead"),
             helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1)]
    model = make_model(nodes, {"w1": -np.abs(w(3, 2)), "b1": -np.ones(3), "w2": w(2, 3)}, [2])
    with pytest.raises(CalibrationError) as e:
        convert(snnc.load(model), RNG.uniform(0, 1, (10, 2)), Convention())
    assert e.value.node == "dead" and "never" in str(e.value)


def test_timesteps_is_refused_for_spiking_models():
    from snnc.compiler.ir.graph import Graph

    one = np.ones(2)
    g = Graph({"i": ops.Input(shape=(2,)), "n": ops.IF(r=one * 1e4, v_threshold=one, v_reset=0 * one),
               "o": ops.Output(shape=(2,))}, [("i", "n"), ("n", "o")])
    with pytest.raises(ValidationError, match="ANN"):
        snnc.compile(g, timesteps=8)

"""snnc.frontends.nir: every supported NIR node round-trips through nir.write/nir.read -> load_nir."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import h5py  # noqa: E402
import nir  # noqa: E402
import numpy as np
import pytest

from snnc.compiler.ir import ops
from snnc.errors import FrontendError, UnsupportedOpError, ValidationError
from snnc.frontends.nir import SUPPORTED_NIR_TYPES, load_nir

RNG = np.random.default_rng(0)


def _arr(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 1.5, size=shape)


def _chain(node, in_shape, out_shape=None) -> "nir.NIRGraph":
    """Input(in_shape) -> node -> Output(out_shape, default: the node's NIR output type).

    Built with ``type_check=False``: NIR 1.0.8's own type check gets grouped convolutions wrong
    (it declares the input channels as ``weight.shape[1]``, ignoring ``groups``).
    """
    if out_shape is None:
        out_shape = node.output_type["output"]
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array(in_shape)), "op": node,
               "output": nir.Output(np.array(out_shape))},
        edges=[("input", "op"), ("op", "output")],
        type_check=False,
    )


def _roundtrip(graph, tmp_path: Path):
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    return load_nir(path)


# --------------------------------------------------------------- one case per node type
# name -> (NIR node factory, input shape, expected op type, expected output shape, params)
CASES: dict[str, tuple[Callable, tuple, type, tuple, dict]] = {}


def _case(kind, factory, in_shape, op_type, out_shape, params=None):
    CASES[kind] = (factory, in_shape, op_type, out_shape, params or {})


W = _arr(4, 3)
B = _arr(4)
_case("Affine", lambda: nir.Affine(weight=W, bias=B), (3,), ops.Affine, (4,),
      {"weight": W, "bias": B})
_case("Linear", lambda: nir.Linear(weight=W), (3,), ops.Linear, (4,), {"weight": W})
S = _arr(2, 3)
_case("Scale", lambda: nir.Scale(scale=S), (2, 3), ops.Scale, (2, 3), {"scale": S})
W1 = _arr(4, 2, 3)
_case("Conv1d", lambda: nir.Conv1d(input_shape=9, weight=W1, stride=2, padding=1, dilation=1,
                                   groups=1, bias=_arr(4)),
      (2, 9), ops.Conv1d, (4, 5), {"weight": W1, "stride": 2, "padding": 1})
W2 = _arr(6, 1, 3, 3)
_case("Conv2d", lambda: nir.Conv2d(input_shape=(8, 7), weight=W2, stride=(2, 1), padding=(1, 0),
                                   dilation=1, groups=2, bias=_arr(6)),
      (2, 8, 7), ops.Conv2d, (6, 4, 5),
      {"weight": W2, "stride": (2, 1), "padding": (1, 0), "dilation": (1, 1), "groups": 2})
_case("SumPool2d", lambda: nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                         padding=np.array([0, 0])),
      (3, 6, 6), ops.SumPool2d, (3, 3, 3), {"kernel_size": (2, 2), "stride": (2, 2)})
_case("AvgPool2d", lambda: nir.AvgPool2d(kernel_size=np.array([3, 2]), stride=np.array([1, 2]),
                                         padding=np.array([1, 0])),
      (3, 6, 6), ops.AvgPool2d, (3, 6, 3), {"kernel_size": (3, 2), "padding": (1, 0)})
_case("Flatten", lambda: nir.Flatten(input_type=np.array([2, 3, 4]), start_dim=1, end_dim=2),
      (2, 3, 4), ops.Flatten, (2, 12), {"start_dim": 1, "end_dim": 2})
D = np.array([1e-4, 2e-4, 0.0])
_case("Delay", lambda: nir.Delay(delay=D), (3,), ops.Delay, (3,), {"delay": D})
P = {k: _arr(2, 2) for k in ("tau", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold",
                             "v_reset", "w_in")}
_case("LIF", lambda: nir.LIF(tau=P["tau"], r=P["r"], v_leak=P["v_leak"],
                             v_threshold=P["v_threshold"], v_reset=P["v_reset"]),
      (2, 2), ops.LIF, (2, 2), {k: P[k] for k in ("tau", "r", "v_leak", "v_threshold", "v_reset")})
_case("CubaLIF", lambda: nir.CubaLIF(tau_syn=P["tau_syn"], tau_mem=P["tau_mem"], r=P["r"],
                                     v_leak=P["v_leak"], v_threshold=P["v_threshold"],
                                     v_reset=P["v_reset"], w_in=P["w_in"]),
      (2, 2), ops.CubaLIF, (2, 2),
      {k: P[k] for k in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")})
_case("CubaLI", lambda: nir.CubaLI(tau_syn=P["tau_syn"], tau_mem=P["tau_mem"], r=P["r"],
                                   v_leak=P["v_leak"], w_in=P["w_in"]),
      (2, 2), ops.CubaLI, (2, 2), {k: P[k] for k in ("tau_syn", "tau_mem", "r", "v_leak", "w_in")})
_case("IF", lambda: nir.IF(r=P["r"], v_threshold=P["v_threshold"], v_reset=P["v_reset"]),
      (2, 2), ops.IF, (2, 2), {k: P[k] for k in ("r", "v_threshold", "v_reset")})
_case("LI", lambda: nir.LI(tau=P["tau"], r=P["r"], v_leak=P["v_leak"]),
      (2, 2), ops.LI, (2, 2), {k: P[k] for k in ("tau", "r", "v_leak")})
_case("I", lambda: nir.I(r=P["r"]), (2, 2), ops.I, (2, 2), {"r": P["r"]})


def test_every_supported_type_has_a_case() -> None:
    assert set(SUPPORTED_NIR_TYPES) == set(CASES) | {"Input", "Output"}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_node_roundtrip(kind: str, tmp_path: Path) -> None:
    factory, in_shape, op_type, out_shape, params = CASES[kind]
    graph = _roundtrip(_chain(factory(), in_shape, out_shape), tmp_path)
    assert set(graph.nodes) == {"input", "op", "output"}
    op = graph["op"]
    assert type(op) is op_type
    assert op.in_shape == tuple(in_shape) and op.out_shape == tuple(out_shape)
    assert graph["input"].shape == tuple(in_shape) and graph["output"].shape == tuple(out_shape)
    assert op.source == "op" and op.meta["nir_type"] == kind
    for field, expected in params.items():
        np.testing.assert_array_equal(np.asarray(getattr(op, field)), np.asarray(expected))
    assert graph.edges == (("input", "op"), ("op", "output"))
    assert graph.meta["format"] == "nir" and graph.meta["nir_version"] == nir.version


def test_in_memory_graph_and_meta() -> None:
    graph = load_nir(_chain(nir.Affine(weight=W, bias=B), (3,)))
    assert graph.meta["format"] == "nir" and graph.meta["nir_version"]
    assert isinstance(graph["op"], ops.Affine)


# ------------------------------------------------------------------- inference, defaults
def test_missing_shapes_are_inferred_without_mutating_source() -> None:
    conv = nir.Conv2d(input_shape=None, weight=_arr(4, 2, 3, 3), stride=1, padding="same",
                      dilation=1, groups=1, bias=_arr(4))
    pool = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    flat = nir.Flatten(input_type=None, start_dim=0, end_dim=-1)
    lif = nir.LIF(tau=np.array(2e-3), r=np.array(1.0), v_leak=np.array(0.0),
                  v_threshold=np.array(1.0))  # scalar parameters
    src = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([2, 6, 6])), "conv": conv, "pool": pool, "flat": flat,
               "lif": lif, "out": nir.Output(np.array([36]))},
        edges=[("in", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "lif"),
               ("lif", "out")],
        type_check=False,
    )
    graph = load_nir(src)
    assert graph["conv"].input_shape == (6, 6) and graph["conv"].padding == (1, 1)
    assert graph["pool"].out_shape == (4, 3, 3)
    assert graph["flat"].out_shape == (36,)
    assert graph["lif"].shape == (36,)
    np.testing.assert_array_equal(graph["lif"].tau, np.full(36, 2e-3))
    np.testing.assert_array_equal(graph["lif"].v_reset, np.zeros(36))
    assert conv.input_shape is None and flat.input_type["input"] is None  # source untouched


def test_v_reset_none_reads_as_zero() -> None:
    lif = nir.LIF(tau=_arr(3), r=_arr(3), v_leak=_arr(3), v_threshold=_arr(3))
    lif.v_reset = None
    graph = load_nir(_chain(lif, (3,)))
    np.testing.assert_array_equal(graph["op"].v_reset, np.zeros(3))


@pytest.mark.parametrize(
    "padding, stride, kernel, message",
    [("same", 2, 3, "stride"), ("same", 1, 2, "asymmetric"), ((1, 2), 1, 3, "asymmetric")],
)
def test_conv_padding_rejections(padding, stride, kernel, message) -> None:
    conv = nir.Conv1d(input_shape=8, weight=_arr(2, 1, kernel), stride=stride, padding=0,
                      dilation=1, groups=1, bias=_arr(2))
    conv.padding = padding
    src = nir.NIRGraph(nodes={"in": nir.Input(np.array([1, 8])), "conv": conv},
                       edges=[("in", "conv")], type_check=False)
    with pytest.raises(FrontendError, match=message) as info:
        load_nir(src)
    assert info.value.node == "conv"


def test_conv_same_and_valid_padding() -> None:
    for padding, expected in (("same", 2), ("valid", 0), (np.array([2, 2]), 2)):
        conv = nir.Conv1d(input_shape=8, weight=_arr(2, 1, 3), stride=1, padding=0, dilation=2,
                          groups=1, bias=_arr(2))
        conv.padding = padding
        src = nir.NIRGraph(nodes={"in": nir.Input(np.array([1, 8])), "conv": conv},
                           edges=[("in", "conv")], type_check=False)
        assert load_nir(src)["conv"].padding == expected


def test_recurrent_edges_kept() -> None:
    src = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([3])), "fc": nir.Affine(weight=_arr(2, 3), bias=_arr(2)),
               "lif": nir.LIF(tau=_arr(2), r=_arr(2), v_leak=_arr(2), v_threshold=_arr(2)),
               "rec": nir.Linear(weight=_arr(2, 2)), "out": nir.Output(np.array([2]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")],
    )
    graph = load_nir(src)
    assert ("rec", "lif") in graph.edges and ("lif", "rec") in graph.edges
    assert graph.schedule()[1] == {("rec", "lif")}


# -------------------------------------------------------------------------- nesting
def _nested() -> "nir.NIRGraph":
    inner = nir.NIRGraph(
        nodes={"i": nir.Input(np.array([4])),
               "lif": nir.LIF(tau=_arr(4), r=_arr(4), v_leak=_arr(4), v_threshold=_arr(4)),
               "rec": nir.Linear(weight=_arr(4, 4)), "o": nir.Output(np.array([4]))},
        edges=[("i", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "o")],
    )
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([3])),
               "fc": nir.Affine(weight=_arr(4, 3), bias=_arr(4)),
               "sub": inner, "output": nir.Output(np.array([4]))},
        edges=[("input", "fc"), ("fc", "sub"), ("sub", "output")],
    )


@pytest.mark.parametrize("via_file", [False, True])
def test_nested_graph_is_flattened(via_file: bool, tmp_path: Path) -> None:
    graph = _roundtrip(_nested(), tmp_path) if via_file else load_nir(_nested())
    assert set(graph.nodes) == {"input", "fc", "sub.lif", "sub.rec", "output"}
    assert graph["sub.lif"].source == "sub.lif"
    assert set(graph.edges) == {("input", "fc"), ("fc", "sub.lif"), ("sub.lif", "sub.rec"),
                                ("sub.rec", "sub.lif"), ("sub.lif", "output")}


def test_edge_to_explicit_subgraph_port() -> None:
    src = _nested()
    src.edges = [("input", "fc"), ("fc", "sub.i"), ("sub.o", "output")]
    graph = load_nir(src)
    assert ("fc", "sub.lif") in graph.edges and ("sub.lif", "output") in graph.edges


# ---------------------------------------------------------------------------- errors
def _threshold_graph() -> "nir.NIRGraph":
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([3])), "thr": nir.Threshold(threshold=_arr(3)),
               "output": nir.Output(np.array([3]))},
        edges=[("input", "thr"), ("thr", "output")],
    )


@pytest.mark.parametrize("via_file", [False, True])
def test_unsupported_node(via_file: bool, tmp_path: Path) -> None:
    src = _threshold_graph()
    with pytest.raises(UnsupportedOpError) as info:
        _roundtrip(src, tmp_path) if via_file else load_nir(src)
    err = info.value
    assert err.node == "thr" and "Threshold" in str(err)
    assert all(kind in str(err) for kind in SUPPORTED_NIR_TYPES)


def test_unknown_type_in_file(tmp_path: Path) -> None:
    path = tmp_path / "foreign.nir"
    nir.write(path, _threshold_graph())
    with h5py.File(path, "r+") as f:
        del f["node/nodes/thr/type"]
        f["node/nodes/thr"].create_dataset("type", data="Spiral", dtype=h5py.string_dtype())
    with pytest.raises(UnsupportedOpError, match="Spiral") as info:
        load_nir(path)
    assert info.value.node == "thr"


@pytest.mark.parametrize("field", ["weight", "bias"])
def test_nan_weight(field: str) -> None:
    w, b = _arr(4, 3), _arr(4)
    (w if field == "weight" else b)[1] = np.nan
    with pytest.raises(ValidationError, match=f"'{field}'.*NaN") as info:
        load_nir(_chain(nir.Affine(weight=w, bias=b), (3,)))
    assert info.value.node == "op"


def test_inf_neuron_parameter(tmp_path: Path) -> None:
    thr = _arr(3)
    thr[0] = np.inf
    lif = nir.LIF(tau=_arr(3), r=_arr(3), v_leak=_arr(3), v_threshold=thr)
    with pytest.raises(ValidationError, match="v_threshold.*inf"):
        _roundtrip(_chain(lif, (3,)), tmp_path)


def _assert_one_line(err: Exception) -> None:
    assert "\n" not in str(err) and "Traceback" not in str(err)
    assert err.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FrontendError, match="not found") as info:
        load_nir(tmp_path / "nope.nir")
    _assert_one_line(info.value)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "model.nir"
    path.write_text("this is not a model\n")
    with pytest.raises(FrontendError, match="not an HDF5") as info:
        load_nir(path)
    _assert_one_line(info.value)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9])
def test_truncated_file(keep: float, tmp_path: Path) -> None:
    good = tmp_path / "good.nir"
    nir.write(good, _nested())
    data = good.read_bytes()
    bad = tmp_path / "bad.nir"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FrontendError) as info:
        load_nir(bad)
    _assert_one_line(info.value)


def test_hdf5_that_is_not_nir(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(3))
    with pytest.raises(FrontendError, match="not a NIR graph"):
        load_nir(path)


def test_edge_to_missing_node() -> None:
    src = nir.NIRGraph(nodes={"in": nir.Input(np.array([3])), "out": nir.Output(np.array([3]))},
                       edges=[("in", "ghost"), ("in", "out")], type_check=False)
    with pytest.raises(FrontendError, match="missing node 'ghost'"):
        load_nir(src)


def test_shape_mismatch() -> None:
    src = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([3])), "fc": nir.Linear(weight=_arr(2, 5)),
               "out": nir.Output(np.array([2]))},
        edges=[("in", "fc"), ("fc", "out")], type_check=False,
    )
    with pytest.raises(FrontendError, match="shape mismatch") as info:
        load_nir(src)
    assert info.value.node == "fc"


def test_bad_source_type() -> None:
    with pytest.raises(FrontendError):
        load_nir(42)


def test_leaked_batch_dimension_gets_a_hint(caplog) -> None:
    """Batch/time dims an exporter wrote into a port (Rockpool, Sinabs) are read away with a
    warning; inside the graph they are an error with the exporter's fix."""
    src = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([1, 7, 3])), "fc": nir.Linear(weight=_arr(2, 3)),
               "out": nir.Output(np.array([1, 2]))},
        edges=[("in", "fc"), ("fc", "out")], type_check=False,
    )
    g = load_nir(src)
    assert g["in"].shape == (3,) and g["out"].shape == (2,)
    assert "leading dims (1, 7)" in caplog.text
    inner = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([3])), "fc": nir.Linear(weight=_arr(2, 3)),
               "lif": nir.IF(r=np.ones((1, 2)), v_threshold=np.ones((1, 2))), "out": nir.Output(np.array([1, 2]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")], type_check=False,
    )
    with pytest.raises(FrontendError, match="shape mismatch") as info:
        load_nir(inner)
    assert "batch dimension" in info.value.hint
"""The IR: immutability, scheduling with back edges, verify, the printer, Program save/load."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import snnc
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.printer import format_graph
from snnc.compiler.ir.verify import verify
from snnc.errors import FrontendError, IRError

DT = 1e-4


def _mlp(rec=True):
    rng = np.random.default_rng(0)
    tau = np.full(4, 1e-3)
    nodes = {
        "in": ops.Input((3,)),
        "fc": ops.Affine(rng.normal(size=(4, 3)), np.zeros(4), meta={"source": "net.fc"}),
        "h": ops.LIF(tau, tau / DT, np.zeros(4), np.ones(4), np.zeros(4)),
        "out": ops.Output((4,)),
    }
    edges = [("in", "fc"), ("fc", "h"), ("h", "out")]
    if rec:
        nodes["rec"] = ops.Linear(rng.normal(size=(4, 4)) * 0.1)
        edges += [("h", "rec"), ("rec", "h")]
    return Graph(nodes, edges)


def test_nodes_and_arrays_are_immutable():
    g = _mlp()
    with pytest.raises(dataclasses.FrozenInstanceError):
        g["fc"].weight = np.zeros((4, 3))
    with pytest.raises(ValueError):
        g["fc"].weight[0, 0] = 1.0
    with pytest.raises(TypeError):
        g.nodes["x"] = g["fc"]
    assert g["fc"].source == "net.fc"


def test_schedule_finds_the_back_edge():
    order, back = _mlp().schedule()
    assert order.index("in") < order.index("fc") < order.index("h")
    assert back == {("rec", "h")}
    _, back_ff = _mlp(rec=False).schedule()
    assert back_ff == set()


def test_edges_must_reference_nodes():
    with pytest.raises(IRError):
        Graph({"a": ops.Input((2,))}, [("a", "b")])


def test_verify_catches_broken_loihi_invariants():
    prog = snnc.compile(_mlp())
    verify(prog.graph)
    nodes = dict(prog.graph.nodes)
    nodes["h"] = nodes["h"].replace(du=5000)
    with pytest.raises(IRError, match="du=5000"):
        verify(prog.graph.with_changes(nodes=nodes))
    nodes = dict(prog.graph.nodes)
    nodes["h:syn0"] = nodes["h:syn0"].replace(weights=np.full((4, 3), 999))
    with pytest.raises(IRError, match="grid"):
        verify(prog.graph.with_changes(nodes=nodes))


def test_printer_is_stable_and_sensitive():
    a = format_graph(snnc.compile(_mlp()).graph)
    b = format_graph(snnc.compile(_mlp()).graph)
    assert a == b
    assert "%h = Compartment(" in a and "back edges" in a
    g = _mlp()
    nodes = dict(g.nodes)
    nodes["fc"] = nodes["fc"].replace(weight=nodes["fc"].weight * 1.5)
    assert format_graph(snnc.compile(g.with_changes(nodes=nodes)).graph) != a


def test_program_save_load_round_trip(tmp_path):
    prog = snnc.compile(_mlp(), dt=DT)
    prog.save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "program.json").read_text())
    assert meta["convention"]["dt"] == DT and meta["target"] == "loihi2"
    back = snnc.Program.load(tmp_path / "p")
    assert str(back) == str(prog)
    assert back.latency == prog.latency and back.convention == prog.convention
    x = (np.random.default_rng(1).random((3, 20, 3)) < 0.4).astype(np.uint8)
    np.testing.assert_array_equal(back.run(x), prog.run(x))
    # no pickle anywhere in the saved files
    for f in (tmp_path / "p").rglob("*.npz"):
        with np.load(f, allow_pickle=False) as data:
            assert all(data[k].dtype != object for k in data.files)


def test_damaged_program_is_a_frontend_error(tmp_path):
    prog = snnc.compile(_mlp())
    prog.save(tmp_path / "p")
    (tmp_path / "p" / "program.json").write_text("{not json")
    with pytest.raises(FrontendError, match="damaged"):
        snnc.Program.load(tmp_path / "p")
    with pytest.raises(FrontendError, match="not a compiled snnc program"):
        snnc.Program.load(tmp_path / "nothing")


def test_loihi_registers_are_named_after_lava():
    names = {f.name for f in dataclasses.fields(loihi.Compartment)}
    assert {"du", "dv", "vth", "bias_mant", "bias_exp"} <= names
    names = {f.name for f in dataclasses.fields(loihi.Synapse)}
    assert {"weights", "weight_exp", "num_weight_bits", "sign_mode"} <= names

"""Round trips of snnc.compiler.ir.serialize (JSON + npz, no pickle)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.serialize import FORMAT_VERSION, load_graph, save_graph
from snnc.errors import FrontendError, IRError


def _loihi_graph() -> Graph:
    w = sp.csr_matrix(np.array([[0, 3, 0], [-5, 0, 7]]))
    return Graph(
        {
            "in": loihi.SpikeSource((3,), meta={"source": "input"}),
            "s": loihi.Synapse(w, weight_exp=-2, num_weight_bits=6, meta={"source": "fc"}),
            "d": loihi.Synapse(np.array([[1, 2], [3, 4]]), delays=np.array([[0, 1], [2, 3]]),
                               sign_mode=loihi.SignMode.MIXED),
            "c": loihi.Compartment((2,), 10, 4095, 1000, np.array([5, -5]), 3,
                                   v_init=np.array([1, 2]), readout="v", v_scale=2.5,
                                   v_offset=np.array([np.nan, np.inf]), start_step=2),
            "p": loihi.Probe((2,)),
        },
        [("in", "s"), ("s", "c"), ("c", "d"), ("d", "c"), ("c", "p")],
        {"latency": {"p": 2}, "shape": (1, 2)},
    )


def test_loihi_round_trip(tmp_path):
    g = _loihi_graph()
    h = load_graph(save_graph(g, tmp_path / "g"))
    assert list(h.nodes) == list(g.nodes) and h.edges == g.edges
    assert h.meta == {"latency": {"p": 2}, "shape": (1, 2)}
    assert h["s"].is_sparse and np.array_equal(h["s"].weights.toarray(), g["s"].weights.toarray())
    assert h["s"].weight_exp == -2 and h["s"].num_weight_bits == 6
    assert h["s"].sign_mode is loihi.SignMode.MIXED and h["s"].meta["source"] == "fc"
    assert np.array_equal(h["d"].delays, g["d"].delays)
    c = h["c"]
    assert c.shape == (2,) and isinstance(c.shape, tuple)
    assert (c.du, c.dv, c.vth, c.bias_exp, c.readout, c.v_scale, c.start_step) == (
        10, 4095, 1000, 3, "v", 2.5, 2)
    assert c.u_init is None and np.array_equal(c.v_init, [1, 2])
    assert np.isnan(c.v_offset[0]) and np.isinf(c.v_offset[1])
    assert not c.bias_mant.flags.writeable
    assert h["in"].meta["source"] == "input"


def test_float_dialect_round_trip(tmp_path):
    g = Graph(
        {"i": ops.Input((1, 4, 4)),
         "conv": ops.Conv2d((4, 4), np.ones((2, 1, 3, 3)), (1, 1), (1, 1), (1, 1), 1, np.zeros(2)),
         "lif": ops.LIF(*(np.ones((2, 4, 4)) for _ in range(5))),
         "o": ops.Output((2, 4, 4))},
        [("i", "conv"), ("conv", "lif"), ("lif", "o")],
    )
    h = load_graph(save_graph(g, tmp_path))
    assert h["conv"].stride == (1, 1) and h["conv"].out_shape == (2, 4, 4)
    assert np.array_equal(h["lif"].tau, np.ones((2, 4, 4)))


def test_files_and_version(tmp_path):
    save_graph(_loihi_graph(), tmp_path)
    doc = json.loads((tmp_path / "graph.json").read_text())
    assert doc["format"] == "snnc-graph" and doc["version"] == FORMAT_VERSION
    with np.load(tmp_path / "arrays.npz", allow_pickle=False) as z:
        assert len(z.files) > 0
    doc["version"] = FORMAT_VERSION + 1
    (tmp_path / "graph.json").write_text(json.dumps(doc))
    with pytest.raises(FrontendError, match="version"):
        load_graph(tmp_path)


def test_missing_and_unknown(tmp_path):
    with pytest.raises(FrontendError, match="no graph.json"):
        load_graph(tmp_path)
    save_graph(_loihi_graph(), tmp_path)
    doc = json.loads((tmp_path / "graph.json").read_text())
    doc["nodes"][0]["kind"] = "os.system"
    (tmp_path / "graph.json").write_text(json.dumps(doc))
    with pytest.raises(FrontendError, match="unknown node kind"):
        load_graph(tmp_path)


def test_unsaveable_value(tmp_path):
    g = Graph({"in": loihi.SpikeSource((1,), meta={"obj": object()})}, [])
    with pytest.raises(IRError, match="cannot save"):
        save_graph(g, tmp_path)


def test_saving_over_an_older_program_leaves_nothing_of_it(tmp_path):
    """A program without a float reference or placement, saved where one with them was, loads
    without them (nothing stale is picked up)."""
    from pathlib import Path

    import snnc

    prog = snnc.compile(Path(__file__).resolve().parents[2] / "examples" / "mlp.nir")
    d = prog.save(tmp_path / "p")
    assert snnc.Program.load(d).reference is not None and snnc.Program.load(d).placement is not None
    prog.reference = prog.placement = None
    prog.save(d)
    back = snnc.Program.load(d)
    assert back.reference is None and back.placement is None

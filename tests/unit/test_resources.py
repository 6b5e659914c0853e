"""check_resources and the resource report: errors, multi-chip mapping, report, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.cli import main
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.passes.pipelines import LOIHI_PIPELINE, CompileContext
from snnc.compiler.targets import get_target
from snnc.errors import ResourceError

MLP = Path(__file__).parents[2] / "examples" / "mlp.nir"
DT = 1e-4


def conv_net(channels: int, side: int) -> Graph:
    """Input (2, side, side) -> 3x3 conv -> LIF (channels, side, side): channels·side² neurons."""
    rng = np.random.default_rng(0)
    shape = (channels, side, side)
    nodes = {
        "in": ops.Input((2, side, side)),
        "conv": ops.Conv2d((side, side), rng.normal(0, 0.5, (channels, 2, 3, 3)), (1, 1), (1, 1), (1, 1), 1,
                           np.zeros(channels)),
        "big": ops.LIF(np.full(shape, DT / 0.1), np.full(shape, 1000.0), np.zeros(shape), np.ones(shape),
                       np.zeros(shape)),
        "out": ops.Output(shape),
    }
    return Graph(nodes, [("in", "conv"), ("conv", "big"), ("big", "out")])


@pytest.fixture(scope="module")
def two_million():
    """A 2.1 M-neuron network (32 x 256 x 256 LIF behind a shared-kernel conv)."""
    return conv_net(32, 256)


def test_multi_chip_network_maps_and_is_refused_on_one_chip(two_million):
    prog = snnc.compile(two_million, target="loihi2-kapoho-point")
    pl = prog.placement
    assert prog.stats()["neurons"] == 32 * 256 * 256
    assert pl.n_cores == 256 and pl.n_chips == 3  # 8192 neurons per core, 120 cores per chip
    rep = prog.resources()
    d = rep.to_dict()
    assert d["smallest_system"] == "kapoho_point" and d["chips"] == 3
    assert max(d["per_core"]["neurons"]) == 8192
    # the same quantized graph through the two mapping passes for a one-chip board
    ctx = CompileContext(convention=prog.convention, target=get_target("loihi2-oheo-gulch"))
    with pytest.raises(ResourceError, match=r"needs 3 chips \(256 cores\) > limit 1 chips of oheo_gulch") as e:
        for _, fn in LOIHI_PIPELINE[-2:]:
            fn(prog.graph, ctx)
    assert e.value.node == "big" and "bigger system" in e.value.hint


def test_no_split_refuses_a_layer_larger_than_a_core():
    spec = dataclasses.replace(get_target("loihi2"), neurons_per_core=20)
    with pytest.raises(ResourceError, match=r"neurons on core 0: 48 > limit 20") as e:
        snnc.compile(MLP, target=spec, allow_split=False)
    assert e.value.node == "lif1" and "allow splitting" in e.value.hint
    assert snnc.compile(MLP, target=spec).placement.n_cores == 4  # 48 -> 3 x 16, 10 -> 1


def test_report_text_json_plot_and_save_load(tmp_path):
    spec = dataclasses.replace(get_target("loihi2"), neurons_per_core=16, cores_per_chip=2)
    prog = snnc.compile(MLP, target=spec)
    rep = prog.resources()
    d = rep.to_dict()
    assert d["cores"] == 4 and d["chips"] == 2
    assert [r["layer"] for r in d["layers"]] == ["lif1", "lif2"]
    assert [r["cores"] for r in d["layers"]] == [3, 1]
    assert len(d["per_core"]["chip"]) == 4 and d["per_core"]["neurons"] == [16, 16, 16, 10]
    assert d["target"]["sources"]["neurons_per_core"][0] == "estimate"
    # lif1 cores 0,1 on chip 0 and core 2 with lif2 on chip 1: one third of lif1 -> lif2 stays
    syn = next(t for t in d["traffic"] if t["post"] == "lif2")
    assert syn["cross_chip_routes"] == 32 and syn["cross_chip_synapses"] > 0
    assert next(t for t in d["traffic"] if t["post"] == "lif1").get("from_host")
    text = rep.text()
    assert "lif1" in text and "x-chip" in text and rep.summary_line() in text
    assert json.loads(rep.to_json(tmp_path / "r.json")) == json.loads((tmp_path / "r.json").read_text())
    png = rep.plot(tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = snnc.Program.load(prog.save(tmp_path / "prog"))
    assert back.placement.strategy == prog.placement.strategy
    assert back.resources().to_dict() == d


def test_cli_resources_and_exit_code_2(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["compile", str(MLP), "-o", str(out), "--mapping", "greedy"]) == 0
    assert "resources: 2 cores on 1 chip(s) of hala_point" in capsys.readouterr().out
    assert main(["resources", str(out), "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png")]) == 0
    text = capsys.readouterr().out
    assert "strategy greedy" in text and "wrote" in text
    assert json.loads((tmp_path / "r.json").read_text())["cores"] == 2
    assert (tmp_path / "r.png").stat().st_size > 1000
    prog = snnc.Program.load(out)  # a program without placement (deleting the file would leave
    prog.placement = None          # an incomplete directory, refused as such)
    prog.save(out)
    assert main(["resources", str(out)]) == 2
    assert "no placement" in capsys.readouterr().err
    f = tmp_path / "tiny.toml"
    f.write_text('base = "loihi2"\nneurons_per_core = 30\ncores_per_chip = 1\nchips_per_system = 2\n')
    assert main(["compile", str(MLP), "-o", str(tmp_path / "q"), "--target-file", str(f)]) == 2
    err = capsys.readouterr().err
    assert "error: layer 'lif1': the network needs 3 chips" in err and "hint: use a bigger system" in err
    assert not (tmp_path / "q").exists()
    assert main(["compile", str(MLP), "-o", str(tmp_path / "q"), "--target-file", str(f), "--no-split"]) == 2
    assert "allow splitting" in capsys.readouterr().err


def test_a_netx_file_is_mapped_and_checked_too(tmp_path):
    import nir

    from snnc.backends.netx import netx_target

    rng = np.random.default_rng(0)
    g = nir.NIRGraph.from_list(
        nir.Linear(weight=rng.normal(0, 0.6, (12, 6))),
        nir.LIF(tau=np.full(12, 1e-3), r=np.full(12, 10.0), v_leak=np.zeros(12), v_threshold=np.ones(12)),
    )
    path = snnc.compile(g, target=netx_target()).export_netx(tmp_path / "m.net")
    prog = snnc.compile(path, target="loihi2-oheo-gulch")  # already fixed point: only mapped
    assert prog.placement.n_cores == 1 and prog.target.system == "oheo_gulch"
    tiny = dataclasses.replace(get_target("loihi2"), fan_in_axons=5)
    with pytest.raises(ResourceError, match=r"input axons .*6 > limit 5"):
        snnc.compile(path, target=tiny)

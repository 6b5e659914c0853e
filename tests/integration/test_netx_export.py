"""netx export that goes through (issue 13): ``--emit netx`` / ``netx_target()`` compile onto every
grid lava-dl netx imposes -- ``weight_exp`` 0, biases on netx's 2^6 grid, every neuron from step 0 --
so the quick-start MLP and the framework exports netx can represent export, and the netx file,
loaded back with ``snnc.load``, runs spike for spike like the compiled program (and, under the Lava
marker, like lava-dl's own ``netx.hdf5.Network`` in Lava).  The extra rounding is reported in the
layer table (notes, ``w_err``); what netx cannot represent is refused naming the layer and why.
"""

from __future__ import annotations

import numpy as np
import pytest
from exporter_nets import EXAMPLE_MLP, netx_cases, netx_refused  # tests/helpers

import snnc
from snnc.backends import lava as lava_backend
from snnc.backends.netx import chain, netx_target
from snnc.cli import main
from snnc.compiler.ir import loihi
from snnc.errors import BackendError

pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning",
                                        "ignore::DeprecationWarning")
T = 25


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every representable case compiled for netx, exported, and read back."""
    tmp = tmp_path_factory.mktemp("netx_export")
    out = {}
    for name, (path, shape, kw) in netx_cases(tmp).items():
        prog = snnc.compile(path, target=netx_target(), **kw)
        net = prog.export_netx(tmp / f"{name}.net")
        x = (np.random.default_rng(len(name)).random((2, T, *shape)) < 0.3).astype(np.uint8)
        out[name] = (prog, net, x)
    return out


def _layers_equal(prog, back, x) -> int:
    raw, got = prog.run(x, return_raw=True), back.run(x, return_raw=True)
    comps = [c for _, c, _ in chain(prog)]
    assert len(comps) == len(got.spikes)
    total = 0
    for comp, (name, spikes) in zip(comps, got.spikes.items()):
        np.testing.assert_array_equal(spikes.reshape(raw.spikes[comp].shape), raw.spikes[comp], err_msg=name)
        total += int(spikes.sum())
    return total


def test_every_representable_export_reads_back_with_the_same_spikes(exported):
    assert len(exported) >= 9
    for name, (prog, net, x) in exported.items():
        back = snnc.load(net)
        assert isinstance(back, snnc.Program), name
        assert _layers_equal(prog, back, x) > 0, f"{name}: no spikes to compare"


def test_netx_grids_hold_and_the_rounding_is_reported(exported):
    for name, (prog, _, _) in exported.items():
        for n in prog.graph.of_kind(loihi.Synapse):
            assert prog.graph[n].weight_exp == 0, (name, n)
        for n in prog.graph.of_kind(loihi.Compartment):
            c = prog.graph[n]
            assert c.start_step == 0 and c.bias_exp >= 6, (name, n)
        assert all(0 <= r["weight_error"] < 0.1 for r in prog.layers), name
    # the example's bias lands on the 2^6 grid: the rounding and the early bias are in the notes
    notes = {r["name"]: " ".join(r["notes"]) for r in exported["example_mlp"][0].layers}
    assert "2^6 grid" in notes["lif2"] and "relative bias error" in notes["lif2"]
    assert "acts from step 0, 2 steps before" in notes["lif2"]
    # on the chip's own target none of this applies (and the program stays as it was)
    default = snnc.compile(EXAMPLE_MLP)
    assert not any("2^6 grid" in n for r in default.layers for n in r["notes"])
    assert default.graph["lif2"].start_step == 2


def test_the_quick_start_mlp_exports_from_the_cli(tmp_path, capsys):
    out = tmp_path / "mlp.net"
    assert main(["compile", str(EXAMPLE_MLP), "--emit", "netx", "-o", str(out)]) == 0
    assert "2^6 grid" in capsys.readouterr().out
    prog = snnc.compile(EXAMPLE_MLP, target=netx_target())
    x = np.load(EXAMPLE_MLP.with_name("mlp_input.npz"))["x"]
    assert _layers_equal(prog, snnc.load(out), x) > 0


def test_what_netx_cannot_represent_is_refused_by_name(tmp_path):
    for name, (path, kw, layer, why) in netx_refused(tmp_path).items():
        prog = snnc.compile(path, target=netx_target(), **kw)
        with pytest.raises(BackendError) as e:
            prog.export_netx(tmp_path / f"{name}.net")
        assert e.value.node == layer and why in e.value.message and e.value.hint, name
        assert not (tmp_path / f"{name}.net").exists()


@pytest.mark.lava
@pytest.mark.skipif(not lava_backend.lava_available(), reason="lava-nc is not installed")
def test_lava_dl_runs_every_export_with_the_emulators_spikes(exported):
    """lava-dl's ``netx.hdf5.Network`` builds each file and, run in Lava (fixed_pt, one child
    process), spikes in every block exactly as snnc's emulator runs the compiled program."""
    from snnc.backends.lava.netx import run_netx_many

    names = sorted(exported)
    raws = {n: exported[n][0].run(exported[n][2][:1], return_raw=True) for n in names}
    lava = run_netx_many([(exported[n][1], exported[n][2][:1], raws[n].steps) for n in names])
    for name, blocks in zip(names, lava):
        prog = exported[name][0]
        comps = [c for _, c, _ in chain(prog)]
        assert len(blocks) == len(comps), name
        for comp, got in zip(comps, blocks):
            np.testing.assert_array_equal(got, raws[name].spikes[comp].reshape(got.shape), err_msg=f"{name} {comp}")

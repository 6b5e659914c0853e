"""lava-dl netx interop, proven with the real lava-dl 0.6.0 and Lava 0.10.0.

* snnc -> netx: a compiled program written with ``prog.export_netx`` loads in
  ``lava.lib.dl.netx.hdf5.Network`` and, run in Lava (fixed_pt, child process under the
  watchdog), spikes exactly like snnc's emulator in every layer.
* slayer -> netx -> snnc: a network trained briefly with lava-dl's slayer (CUBA Dense blocks)
  and written by slayer's own ``export_hdf5`` imports with ``snnc.load`` and the emulator's
  spikes equal Lava running that file through lava-dl's Network.
* bad files and programs netx cannot express give snnc errors naming the layer and a hint.
"""

from __future__ import annotations

import dataclasses

import h5py
import nir
import numpy as np
import pytest

import snnc
from snnc.backends.netx import chain, netx_target
from snnc.errors import BackendError, FrontendError, UnsupportedOpError
from snnc.backends.lava.netx import run_netx_many

N_IN, N_H, N_OUT, T = 12, 10, 4, 30


def _nir_mlp(seed: int) -> nir.NIRGraph:
    rng = np.random.default_rng(seed)
    return nir.NIRGraph.from_list(
        nir.Linear(weight=rng.normal(0, 0.6, (N_H, N_IN))),
        nir.CubaLIF(tau_syn=np.full(N_H, 5e-4), tau_mem=np.full(N_H, 1e-3), r=np.full(N_H, 10.0),
                    v_leak=np.zeros(N_H), v_threshold=np.ones(N_H), w_in=np.full(N_H, 5.0)),
        nir.Linear(weight=rng.normal(0, 0.8, (N_OUT, N_H))),
        nir.LIF(tau=np.full(N_OUT, 1e-3), r=np.full(N_OUT, 10.0), v_leak=np.zeros(N_OUT),
                v_threshold=np.ones(N_OUT)),
    )


def _spikes(seed: int, shape=(2, T, N_IN)) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < 0.3).astype(np.uint8)


def _conv_graph(rng) -> nir.NIRGraph:
    c, h = 2, 6
    return nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([c, h, h])),
        nir.Conv2d(input_shape=(h, h), weight=rng.normal(0.2, 0.8, (3, c, 3, 3)), stride=(1, 2),
                   padding=(1, 0), dilation=1, groups=1, bias=np.zeros(3)),
        nir.IF(r=np.full((3, h, 2), 1e4), v_threshold=np.ones((3, h, 2))),
        nir.Flatten(input_type={"input": np.array([3, h, 2])}, start_dim=0, end_dim=-1),
        nir.Linear(weight=rng.normal(0, 0.5, (4, 3 * h * 2))),
        nir.LIF(tau=np.full(4, 1e-3), r=np.full(4, 10.0), v_leak=np.zeros(4), v_threshold=np.ones(4)),
    )


def _recurrent_graph(rng, n_in=6, n_h=5) -> nir.NIRGraph:
    """Input -> Linear -> CubaLIF with a Linear from the CubaLIF to itself (netx dense_rec)."""
    cuba = nir.CubaLIF(tau_syn=np.full(n_h, 5e-4), tau_mem=np.full(n_h, 1e-3), r=np.full(n_h, 10.0),
                       v_leak=np.zeros(n_h), v_threshold=np.ones(n_h), w_in=np.full(n_h, 5.0))
    nodes = {"input": nir.Input(input_type=np.array([n_in])),
             "fc": nir.Linear(weight=rng.normal(0, 0.8, (n_h, n_in))), "lif": cuba,
             "rec": nir.Linear(weight=rng.normal(0, 0.5, (n_h, n_h))),
             "output": nir.Output(output_type=np.array([n_h]))}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.lava
def test_export_runs_in_lava_dl_network_with_the_emulators_spikes(tmp_path):
    """A dense CubaLIF/LIF MLP and a conv -> flatten -> dense network (conv weights, (H, W)
    stride/padding, Lava's (W, H, C) layout, netx's flatten layer) and a recurrent CubaLIF
    (netx dense_rec), each exported, run through lava-dl's Network in Lava, and read back."""
    rng = np.random.default_rng(0)
    progs = [snnc.compile(_nir_mlp(0), target=netx_target()),
             snnc.compile(_conv_graph(rng), target=netx_target()),
             snnc.compile(_recurrent_graph(rng), target=netx_target())]
    paths = [prog.export_netx(tmp_path / f"net{i}.net") for i, prog in enumerate(progs)]
    with h5py.File(paths[1]) as f:
        assert [f[f"layer/{i}/type"][0] for i in range(4)] == [b"input", b"conv", b"flatten", b"dense"]
    with h5py.File(paths[2]) as f:
        assert f["layer/1/type"][0] == b"dense_rec" and f["layer/1/weight_rec"].shape == (5, 5)
    xs = [_spikes(1, (1, T, N_IN)), (rng.random((1, 15, 2, 6, 6)) < 0.3).astype(np.uint8),
          _spikes(3, (1, T, 6))]
    raws = [prog.run(x, return_raw=True) for prog, x in zip(progs, xs)]
    lava = run_netx_many([(p, x, r.steps) for p, x, r in zip(paths, xs, raws)])
    for prog, path, x, raw, got_layers, names in zip(progs, paths, xs, raws, lava,
                                                      (("layer1", "layer2"), ("layer1", "layer3"), ("layer1",))):
        comps = [c for _, c, _ in chain(prog)]
        assert len(got_layers) == len(comps) == len(names)
        back = snnc.load(path).run(x, return_raw=True)  # the file imports with the same spikes
        for comp, name, got in zip(comps, names, got_layers):
            want = raw.spikes[comp].reshape(got.shape)
            assert want.sum() > 0
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(back.spikes[name].reshape(got.shape), got)


def _train_slayer(path, seed: int = 0, recurrent: bool = False):
    """A slayer CUBA MLP trained for 5 Adam steps, written by slayer's export_hdf5.

    ``recurrent=True`` makes the first block slayer's ``Recurrent``, which is exported untrained:
    its backward pass raises under torch 2.13 (an in-place write to a custom Function's view,
    slayer/block/base.py:38)."""
    import lava.lib.dl.slayer as slayer
    import torch

    torch.manual_seed(seed)
    params = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.1, "requires_grad": False}
    first = slayer.block.cuba.Recurrent if recurrent else slayer.block.cuba.Dense
    blocks = torch.nn.ModuleList([
        first(params, N_IN, N_H, weight_scale=2, weight_norm=False),
        slayer.block.cuba.Dense(params, N_H, N_OUT, weight_scale=2, weight_norm=False),
    ])
    x = torch.from_numpy(_spikes(seed, (8, N_IN, T))).float()  # slayer: (N, C, T)
    target = torch.zeros(8, N_OUT)
    target[:, 0] = 0.3
    opt = torch.optim.Adam(blocks.parameters(), lr=0.01)
    before = [w.detach().clone() for w in blocks.parameters()]
    for _ in range(0 if recurrent else 5):
        y = x
        for b in blocks:
            y = b(y)
        loss = ((y.mean(-1) - target) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if recurrent:
        with torch.no_grad():  # slayer learns its neurons' shape on the first forward pass
            for b in blocks:
                x = b(x)
    else:
        assert any(not torch.equal(b0, w) for b0, w in zip(before, blocks.parameters()))  # it trained
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layers.create_group(str(i)))
    return path


@pytest.mark.lava
def test_slayer_networks_import_with_lavas_spikes(tmp_path):
    """A slayer-trained CUBA MLP as slayer wrote it; and slayer's Recurrent block (netx
    dense_rec) with netx biases (bias_exp 6, active from step 0) and per-synapse delays added."""
    trained = _train_slayer(tmp_path / "slayer.net")
    rec = _train_slayer(tmp_path / "rec.net", seed=1, recurrent=True)
    with h5py.File(rec, "a") as f:
        f["layer/0"].create_dataset("bias", data=np.array([3, -2, 0, 1, 5, 0, 0, 2, -1, 4]))
        f["layer/1"].create_dataset("delay", data=np.random.default_rng(0).integers(0, 4, (N_OUT, N_H)))
    progs = [snnc.load(trained), snnc.load(rec)]
    assert progs[0].outputs == ["layer0:out", "layer1:out"]
    g = progs[1].graph
    assert g["layer1:syn"].max_delay == 3 and g["layer0"].bias_exp == 6
    assert g.predecessors("layer0:rec") == ["layer0"] and g["layer0:rec"].num_synapses > 0
    assert g["layer0:rec"].weight_exp == g["layer0:syn"].weight_exp  # shared, as lava-dl does
    xs = [_spikes(2, (1, T, N_IN)), _spikes(5, (1, 25, N_IN))]
    raws = [prog.run(x, return_raw=True) for prog, x in zip(progs, xs)]
    lava = run_netx_many([(p, x, r.steps) for p, x, r in zip((trained, rec), xs, raws)])
    for raw, got_layers in zip(raws, lava):
        for name, got in zip(("layer0", "layer1"), got_layers):
            want = raw.spikes[name].reshape(got.shape)
            assert want.sum() > 0
            np.testing.assert_array_equal(want, got)
    # outputs aligned with the input: layer k's spikes shifted by its latency
    y = progs[0].run(xs[0])
    np.testing.assert_array_equal(y["layer1:out"], raws[0].spikes["layer1"][:, 2 : 2 + T])


def _netx_file(path, neuron_type=b"CUBA", layer_type=b"dense"):
    with h5py.File(path, "w") as f:
        g = f.create_group("layer/0")
        g.create_dataset("type", (1,), "S10", [layer_type])
        g.create_dataset("shape", data=np.array([3]))
        g.create_dataset("weight", data=np.arange(6).reshape(3, 2))
        n = g.create_group("neuron")
        n.create_dataset("type", data=neuron_type)
        for k, v in (("iDecay", 1024), ("vDecay", 410), ("vThMant", 64)):
            n.create_dataset(k, data=v)
    return path


def test_bad_netx_files_give_errors_with_hints(tmp_path):
    text = tmp_path / "junk.net"
    text.write_text("not hdf5")
    with pytest.raises(FrontendError, match="not a readable HDF5") as e:
        snnc.load(text)
    assert "lava-dl" in e.value.hint
    nir_file = tmp_path / "model.h5"
    nir.write(nir_file, _nir_mlp(0))
    with pytest.raises(FrontendError, match="not lava-dl netx") as e:
        snnc.load(nir_file)
    assert ".nir" in e.value.hint
    with pytest.raises(UnsupportedOpError, match="neuron type 'RF'") as e:
        snnc.load(_netx_file(tmp_path / "rf.net", neuron_type=b"RF"))
    assert e.value.node == "layer/0/neuron" and e.value.hint
    # SDNN neurons are read (tests/integration/test_lavadl_sdnn.py); LIF fields in one are refused
    with pytest.raises(FrontendError, match="unknown field 'iDecay' in a SDNN neuron") as e:
        snnc.load(_netx_file(tmp_path / "sdnn.net", neuron_type=b"SDNN"))
    assert e.value.node == "layer/0/neuron" and e.value.hint
    with pytest.raises(UnsupportedOpError, match="layer type 'pool'"):
        snnc.load(_netx_file(tmp_path / "pool.net", layer_type=b"pool"))
    with pytest.raises(FrontendError, match="field 'weight_rec' is missing") as e:
        snnc.load(_netx_file(tmp_path / "rec.net", layer_type=b"dense_rec"))
    assert e.value.node == "layer/0"
    ok = snnc.load(_netx_file(tmp_path / "ok.net"))
    assert ok.input_shape == (2,) and ok.graph["layer0"].du == 1023


def test_programs_netx_cannot_express_name_the_layer(tmp_path):
    # the example's biases off netx's 2^6 grid, and switched on at the layer's depth: netx_target()
    # puts them on the grid and runs every neuron from step 0 (tests/integration/test_netx_export.py)
    off_grid = dataclasses.replace(netx_target(), bias_exp_min=0)
    with pytest.raises(BackendError, match="multiple of 2\\^6") as e:
        snnc.compile("examples/mlp.nir", target=off_grid).export_netx(tmp_path / "b.net")
    assert e.value.node == "lif2" and "netx_target()" in e.value.hint
    assert not (tmp_path / "b.net").exists()
    late = dataclasses.replace(netx_target(), hold_until_input=True)
    with pytest.raises(BackendError, match="starts at step 2") as e:
        snnc.compile("examples/mlp.nir", target=late).export_netx(tmp_path / "b.net")
    assert e.value.node == "lif2" and "netx_target()" in e.value.hint
    # default target: weight exponents that lava-dl's optimizer cannot reproduce
    g = _nir_mlp(0)
    g.nodes["linear"].weight *= 40.0  # large weights -> weight_exp > 0 on the default target
    with pytest.raises(BackendError, match="lava-dl") as e:
        snnc.compile(g).export_netx(tmp_path / "w.net")
    assert e.value.node == "cubalif" and "netx_target()" in e.value.hint
    # per-neuron time constants: netx has one iDecay/vDecay per layer
    g = _nir_mlp(0)
    g.nodes["lif"].tau[:] = np.linspace(1e-3, 2e-3, N_OUT)
    with pytest.raises(BackendError, match="per-neuron dv") as e:
        snnc.compile(g, target=netx_target()).export_netx(tmp_path / "d.net")
    assert e.value.node == "lif"

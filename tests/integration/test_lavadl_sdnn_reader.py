"""The netx reader on sigma-delta (SDNN) files beyond the shipped fixtures: lava-dl's Network
keywords (spike_exp, skip_layers, num_layers, input_message_bits), binary synapses behind
graded layers (messageBits 0), neuron-wise and negative biases, graded delays, and the errors
for what lava-dl cannot build (or would build differently from what the file says).

Files are written with h5py in slayer's layout.  Every file is also run by lava-dl's own
``hdf5.Network`` in Lava (``lava`` marker) and compared block by block, step by step.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import sdnn_files  # tests/helpers

import snnc
from snnc.backends.lava import lava_available
from snnc.backends.lava.netx import run_netx_many
from snnc.compiler.ir import loihi
from snnc.errors import FrontendError, InputError, UnsupportedOpError

SD = sdnn_files.SD
write_netx, sd_input, sd_dense, sigma_out, _w, _files = (
    sdnn_files.write_netx, sdnn_files.sd_input, sdnn_files.sd_dense, sdnn_files.sigma_out, sdnn_files.weights,
    sdnn_files.files)


def test_network_keywords_build_what_lava_dl_builds(tmp_path):
    files = _files(tmp_path, message_bits=True)
    a = snnc.load(files["a"][0])
    g = a.graph
    assert g["layer1:syn"].num_message_bits == 16 and g["layer3:syn"].num_message_bits == 0
    assert any("lava-dl 0.6 cannot read" in n for n in a.layers[1]["notes"])
    (tmp_path / "plain").mkdir()
    plain = snnc.load(_files(tmp_path / "plain")["a"][0]).graph  # no field: lava-dl's 16
    assert plain["layer3:syn"].num_message_bits == 16
    assert np.asarray(g["layer1"].bias).reshape(4, 5, 5)[:, 0, 0].tolist() == [-30, 12, 0, 45]  # trunc
    b = snnc.load(files["b"][0], spike_exp=4).graph
    assert {b[c].spike_exp for c in ("layer0", "layer1", "layer2")} == {4}
    assert b["layer1:syn"].num_message_bits == 8 and b["layer2:syn"].delays is not None
    c = snnc.load(files["c"][0]).graph
    assert c["input"].payload == "binary" and c["layer1:syn"].num_message_bits == 0
    d = snnc.load(files["d"][0], skip_layers=2)
    assert d.graph["input"].payload == "int32" and d.graph.successors("input") == ["layer2:syn"]
    assert d.graph["layer2:syn"].num_message_bits == 12 and d.input_shape == (9,)
    assert d.latency == {"layer2:out": 1, "layer3:out": 2}
    assert d.graph.meta["netx_options"] == {"skip_layers": 2}
    two = snnc.load(files["d"][0], num_layers=2)
    assert [n for n in two.graph.nodes if isinstance(two.graph[n], loihi.SigmaDeltaCompartment)] == [
        "layer0", "layer1"]
    sixteen = snnc.load(files["c"][0], input_message_bits=16).graph
    assert sixteen["input"].payload == "int32" and sixteen["layer1:syn"].num_message_bits == 16
    e = snnc.load(files["e"][0]).graph  # (W, H, C) bias -> the population's (C, H, W)
    with h5py.File(files["e"][0], "r") as f:
        want = np.trunc(f["layer/1/bias"][()]).astype(np.int64).transpose(2, 1, 0)
    assert np.array_equal(np.asarray(e["layer1"].bias).reshape(3, 3, 4), want)


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_lava_dl_network_runs_these_files_as_the_emulator_does(tmp_path):
    """Every block's graded payloads (or sigma) at every step, and its sigma state, against
    lava-dl's hdf5.Network with the same keywords in Lava."""
    files = _files(tmp_path)
    runs, ours = [], []
    for name, (path, kw, x, steps) in files.items():
        prog = snnc.load(path, **kw)
        raw = prog.run(x, return_raw=True, steps=steps - max(prog.latency.values()))
        assert raw.steps == steps
        route = "a_in" if "layer0" in prog.graph.nodes and name != "c" else "spikes"
        runs.append((path, x, steps, {**kw, "input": route, "values": True}))
        ours.append((prog, raw))
    results = run_netx_many(runs, timeout=900)
    for (prog, raw), blocks, name in zip(ours, results, files):
        pops = [n for n in prog.graph.nodes if isinstance(prog.graph[n], loihi.SigmaDeltaCompartment)]
        assert len(pops) == len(blocks), name
        for layer, block in zip(pops, blocks):
            got = raw.payload[layer].reshape(block.shape)
            assert np.array_equal(got, block), f"{name} {layer}: {np.count_nonzero(got != block)} mismatches"
            assert np.any(block), f"{name} {layer}: nothing sent, nothing compared"


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("case, cls, where, words", [
    ("activation", UnsupportedOpError, "layer/1/neuron", ["'activation' = 'tanh'", "ReLU"]),
    ("sigma_bias", FrontendError, "layer/2", ["'bias'", "sigma_output", "Sigma"]),
    ("mixed", UnsupportedOpError, "layer/2", ["mixes SDNN", "layer/2"]),
    ("vth", FrontendError, "layer/1/neuron", ["'vThMant' = 600000", "0..524287"]),
    ("vth_negative", FrontendError, "layer/1/neuron", ["'vThMant' = -1"]),
    ("bias_range", UnsupportedOpError, "layer/1", ["'bias' holds 600000", "int32"]),
    ("message_bits", FrontendError, "layer/0/neuron", ["'messageBits' = 40"]),
    ("unknown_field", FrontendError, "layer/1/neuron", ["unknown field 'iDecay'"]),
    ("recurrent", UnsupportedOpError, "layer/1", ["recurrent"]),
    ("no_neuron", UnsupportedOpError, "layer/2", ["without a neuron"]),
])
def test_sdnn_files_lava_dl_cannot_build_as_written_are_clear_errors(tmp_path, case, cls, where, words):
    base = [sd_input([6]), sd_dense(0, 4, 6), sigma_out(1, 2, 4)]
    lif = {"type": "CUBA", "iDecay": 1024, "vDecay": 410, "vThMant": 40, "refDelay": 1, "gradedSpike": 0}
    layers = {
        "activation": [base[0], sd_dense(0, 4, 6, activation="tanh"), base[2]],
        "sigma_bias": [base[0], base[1], {**base[2], "bias": np.array([3.0, 1.0], np.float32)}],
        "mixed": [base[0], base[1], {**base[2], "neuron": lif}],
        "vth": [base[0], sd_dense(0, 4, 6, vThMant=600000), base[2]],
        "vth_negative": [base[0], sd_dense(0, 4, 6, vThMant=-1), base[2]],
        "bias_range": [base[0], sd_dense(0, 4, 6, bias=[600000, 0, 0, 0]), base[2]],
        "message_bits": [sd_input([6], messageBits=40), base[1], base[2]],
        "unknown_field": [base[0], sd_dense(0, 4, 6, iDecay=1024), base[2]],
        "recurrent": [base[0], {**sd_dense(0, 4, 6), "type": "dense_rec", "weight_rec": _w(4, (4, 4))}, base[2]],
        "no_neuron": [base[0], base[1], {k: v for k, v in base[2].items() if k != "neuron"}],
    }[case]
    path = write_netx(tmp_path / f"{case}.net", layers)
    with pytest.raises(cls) as e:
        snnc.load(path)
    msg = str(e.value)
    assert type(e.value) is cls and e.value.node == where and e.value.hint, (type(e.value), e.value.node)
    assert f"{case}.net" in msg and all(w in msg for w in words), msg


def test_bad_keywords_are_input_errors(tmp_path):
    path = write_netx(tmp_path / "k.net", [sd_input([6]), sd_dense(0, 4, 6), sigma_out(1, 2, 4)])
    with pytest.raises(InputError, match="reset_interval=16.*sigma-delta") as e:
        snnc.load(path, reset_interval=16)
    assert "leave reset_interval out" in e.value.hint
    for kw, words in (({"spike_exp": 30}, "spike_exp=30"), ({"skip_layers": -1}, "skip_layers=-1"),
                      ({"num_layers": 0}, "num_layers=0"), ({"input_message_bits": 99}, "input_message_bits=99"),
                      ({"spike_exp": 2.0}, "spike_exp=2.0")):
        with pytest.raises(InputError, match=words):
            snnc.load(path, **kw)
    with pytest.raises(FrontendError, match="skip_layers=3 skips them all"):
        snnc.load(path, skip_layers=3)


def test_the_file_s_sigma_output_flag_decides_as_in_lava_dl(tmp_path):
    """lava-dl tests ``'sigma_output' in neuron_config.keys()``: the field's presence, even False."""
    last = sigma_out(1, 2, 4)
    last["neuron"] = dict(last["neuron"], sigma_output=False)
    path = write_netx(tmp_path / "f.net", [sd_input([6]), sd_dense(0, 4, 6), last])
    prog = snnc.load(path)
    assert prog.graph["layer2"].neuron == loihi.SIGMA
    assert any("sigma_output' = False" in n for n in prog.layers[-1]["notes"])


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_skip_and_num_layers_on_a_lif_network_equal_lava_dl(tmp_path):
    """The same keywords on lava-dl's LIF tinynet (as test_hdf5_nx.py's spike-input test uses
    them): skip_layers=1 (binary spikes into the first conv's synapse), num_layers=2, with a
    periodic reset whose phases count only the built layers."""
    from pathlib import Path

    tiny = Path(__file__).resolve().parents[2].parent / "shared" / "lava-dl-fixtures" / "tinynet" / "tiny.net"
    kw = {"skip_layers": 1, "num_layers": 2, "reset_interval": 6, "reset_offset": 1}
    prog = snnc.load(tiny, **kw)
    assert [c for c in prog.graph.nodes if isinstance(prog.graph[c], loihi.Compartment)] == ["layer1"]
    assert prog.graph["layer1"].reset_offset == 2 and prog.graph["input"].payload == "binary"
    x = (np.random.default_rng(4).random((1, 14) + prog.input_shape) < 0.3).astype(np.uint8)
    raw = prog.run(x, return_raw=True, states=True)
    block = run_netx_many([(tiny, x, raw.steps, {**kw, "states": True})], timeout=600)[0][0]
    got = raw.spikes["layer1"].reshape(block["s"].shape)
    assert np.array_equal(got, block["s"]) and block["s"].any()
    assert np.array_equal(raw.u["layer1"].reshape(block["u"].shape), block["u"])

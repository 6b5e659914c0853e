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

import snnc
from snnc.backends.lava import lava_available
from snnc.backends.lava.netx import run_netx_many
from snnc.compiler.ir import loihi
from snnc.errors import FrontendError, InputError, UnsupportedOpError

SD = {"type": "SDNN", "activation": "relu", "vThMant": 3}


def write_netx(path, layers: list[dict]) -> str:
    def put(group, key, value):
        if isinstance(value, dict):
            sub = group.create_group(key)
            for k, v in value.items():
                put(sub, k, v)
        elif isinstance(value, str) and key == "type" and group.name.endswith(tuple("0123456789")):
            group.create_dataset(key, (1,), "S10", [value.encode("ascii")])  # a layer's type
        elif isinstance(value, str):
            group.create_dataset(key, data=value.encode("ascii"), dtype=h5py.string_dtype("ascii"))
        else:
            group.create_dataset(key, data=value)

    with h5py.File(path, "w") as f:
        root = f.create_group("layer")
        for i, layer in enumerate(layers):
            put(root, str(i), layer)
    return str(path)


def _w(seed, shape, lo=-20, hi=24):
    return (2 * np.random.default_rng(seed).integers(lo // 2, hi // 2, shape)).astype(np.float32)


def sd_input(shape, **neuron) -> dict:
    return {"type": "input", "shape": np.array(shape), "neuron": {**SD, "vThMant": 0, **neuron}}


def sd_conv(seed, c_out, c_in, out_hw, stride=1, bias=None, **neuron) -> dict:
    layer = {"type": "conv", "shape": np.array([c_out, *out_hw]), "weight": _w(seed, (c_out, c_in, 3, 3)),
             "stride": np.array([stride, stride]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]),
             "groups": 1, "neuron": dict(SD, **neuron)}
    if bias is not None:
        layer["bias"] = np.asarray(bias, np.float32)
    return layer


def sd_dense(seed, n_out, n_in, bias=None, **neuron) -> dict:
    layer = {"type": "dense", "shape": np.array([n_out]), "weight": _w(seed, (n_out, n_in)),
             "neuron": dict(SD, **neuron)}
    if bias is not None:
        layer["bias"] = np.asarray(bias, np.float32)
    return layer


def sigma_out(seed, n_out, n_in) -> dict:
    return {"type": "dense", "shape": np.array([n_out]), "weight": _w(seed, (n_out, n_in)),
            "neuron": dict(SD, sigma_output=True)}


def _files(tmp_path, message_bits: bool = False) -> dict[str, tuple[str, dict, np.ndarray, int]]:
    """name -> (path, load/Network keywords, input (1, T, *shape), steps).  ``message_bits``
    writes ``messageBits`` fields, which lava-dl 0.6 cannot read (its NetDict returns a group
    for them and the Network crashes): only snnc reads those files."""
    rng = np.random.default_rng(3)
    out = {}
    mb = (lambda n: {"messageBits": n}) if message_bits else (lambda n: {})
    # A: Input block, graded conv with a channel bias (negative entries, float: truncated), with
    #    messageBits 0 the dense after it is BINARY (negative payloads count as spikes)
    a = [sd_input([2, 7, 7], vThMant=2), sd_conv(1, 4, 2, (5, 5), bias=[-30.5, 12.0, 0.0, 45.9], vThMant=1,
                                                 **mb(0)),
         {"type": "flatten"}, sd_dense(2, 6, 100, bias=rng.integers(-40, 40, 6), vThMant=0),
         sigma_out(3, 3, 6)]
    x = rng.integers(-60, 64, (1, 12, 2, 7, 7)).astype(np.int32)
    x[:, 4:7] = x[:, 3:4]  # repeats: zero deltas
    out["a"] = (write_netx(tmp_path / "a.net", a), {}, x, 16)
    # B: spike_exp 4, 8-bit messages, a graded dense with delays (lava-dl's DelayDense)
    b = [sd_input([10], vThMant=1, **mb(8)), sd_dense(4, 8, 10, bias=rng.integers(-20, 30, 8), vThMant=2),
         {**sd_dense(5, 5, 8, vThMant=0), "delay": rng.integers(0, 3, (5, 8))},
         sigma_out(6, 2, 5)]
    out["b"] = (write_netx(tmp_path / "b.net", b), {"spike_exp": 4},
                rng.integers(-90, 90, (1, 10, 10)).astype(np.int32), 14)
    # C: no Input block: binary input spikes into the first (binary) synapse
    c = [{"type": "input", "shape": np.array([12])}, sd_dense(7, 6, 12, bias=[8] * 6, vThMant=1),
         sigma_out(8, 2, 6)]
    out["c"] = (write_netx(tmp_path / "c.net", c), {}, (rng.random((1, 9, 12)) < 0.4).astype(np.uint8), 11)
    # D: skip_layers=2 of a 4-layer file: graded payloads into layer 2's synapse (12-bit messages)
    d = [sd_input([9], **mb(12)), sd_dense(9, 9, 9, **mb(12)), sd_dense(10, 7, 9, bias=[5] * 7),
         sigma_out(11, 3, 7)]
    out["d"] = (write_netx(tmp_path / "d.net", d), {"skip_layers": 2},
                rng.integers(-300, 300, (1, 8, 9)).astype(np.int32), 10)
    return out


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

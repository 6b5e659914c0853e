"""Sigma-delta (SDNN) netx files written with h5py in slayer's layout, for the reader, export
and Lava tests (``tests/integration/test_lavadl_sdnn_*.py``)."""

from __future__ import annotations

import h5py
import numpy as np

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


def weights(seed, shape, lo=-20, hi=24):
    return (2 * np.random.default_rng(seed).integers(lo // 2, hi // 2, shape)).astype(np.float32)


def sd_input(shape, **neuron) -> dict:
    return {"type": "input", "shape": np.array(shape), "neuron": {**SD, "vThMant": 0, **neuron}}


def sd_conv(seed, c_out, c_in, out_hw, stride=1, bias=None, **neuron) -> dict:
    layer = {"type": "conv", "shape": np.array([c_out, *out_hw]), "weight": weights(seed, (c_out, c_in, 3, 3)),
             "stride": np.array([stride, stride]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]),
             "groups": 1, "neuron": dict(SD, **neuron)}
    if bias is not None:
        layer["bias"] = np.asarray(bias, np.float32)
    return layer


def sd_dense(seed, n_out, n_in, bias=None, **neuron) -> dict:
    layer = {"type": "dense", "shape": np.array([n_out]), "weight": weights(seed, (n_out, n_in)),
             "neuron": dict(SD, **neuron)}
    if bias is not None:
        layer["bias"] = np.asarray(bias, np.float32)
    return layer


def sigma_out(seed, n_out, n_in) -> dict:
    return {"type": "dense", "shape": np.array([n_out]), "weight": weights(seed, (n_out, n_in)),
            "neuron": dict(SD, sigma_output=True)}


def files(tmp_path, message_bits: bool = False) -> dict[str, tuple[str, dict, np.ndarray, int]]:
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
    # E: a conv with a neuron-wise bias in lava-dl's (W, H, C) order, then a dense straight after
    #    the Input block's flatten
    e = [sd_input([2, 5, 6], vThMant=1), sd_conv(12, 3, 2, (3, 4), bias=rng.integers(-60, 60, (4, 3, 3)) + 0.7),
         {"type": "flatten"}, sigma_out(13, 2, 36)]
    out["e"] = (write_netx(tmp_path / "e.net", e), {}, rng.integers(-64, 64, (1, 7, 2, 5, 6)).astype(np.int32), 10)
    return out

"""The netx reader on what lava-dl's hdf5.Network reads: Input blocks, neuron-less dense layers,
reset schedules, fields lava-dl reads / ignores / does not know, shape checks and damaged files.

Files are written here with h5py in lava-dl's layout (strings as (1,) ASCII, as slayer writes
them).  Runs are compared with lava-dl's own ``hdf5.Network`` in Lava under the ``lava``
marker (:mod:`snnc.backends.lava.netx`); the fixtures lava-dl ships are
``tests/integration/test_lavadl_fixtures.py``.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import snnc
from snnc.backends.lava import lava_available
from snnc.backends.lava.netx import run_netx_many
from snnc.errors import FrontendError, InputError, UnsupportedOpError
from snnc.profiler.counts import count_events

CUBA = {"type": "CUBA", "iDecay": 1024, "vDecay": 410, "vThMant": 40, "refDelay": 1, "gradedSpike": 0}


def write_netx(path, layers: list[dict]) -> str:
    """A netx file: one group per layer under ``layer/``; str values as slayer writes them."""

    def put(group, key, value):
        if isinstance(value, dict):
            sub = group.create_group(key)
            for k, v in value.items():
                put(sub, k, v)
        elif isinstance(value, str):
            group.create_dataset(key, (1,), "S10", [value.encode("ascii")])
        else:
            group.create_dataset(key, data=value)

    with h5py.File(path, "w") as f:
        root = f.create_group("layer")
        for i, layer in enumerate(layers):
            put(root, str(i), layer)
    return str(path)


def input_block(shape, **extra) -> dict:
    return {"type": "input", "shape": np.array(shape), "neuron": dict(CUBA, iDecay=4096, vDecay=1024, vThMant=25),
            **extra}


def dense(w, neuron=True, **extra) -> dict:
    w = np.asarray(w)
    out = {"type": "dense", "shape": np.array([w.shape[0]]), "weight": w, **extra}
    if neuron:
        out["neuron"] = dict(CUBA)
    return out


def _rng_w(seed, shape, lo=-60, hi=80):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(np.float32)


# ------------------------------------------------------------------------------ reading
def test_input_block_is_a_layer_fed_straight_by_int32_values(tmp_path):
    path = write_netx(tmp_path / "in.net", [input_block([6], weight=np.array([40.0]), bias=np.array([36.0])),
                                            dense(_rng_w(0, (4, 6)))])
    prog = snnc.load(path)
    g = prog.graph
    assert g["input"].payload == "int32" and g.successors("input") == ["layer0"]
    c = g["layer0"]
    assert (c.du, c.dv, c.vth, c.bias_exp, int(np.abs(c.bias_mant).sum())) == (4095, 1024, 25, 6, 0)
    assert g.meta["input_transform"] == {"weight": 40, "bias": 36}  # kept, not applied
    assert prog.latency == {"layer0:out": 0, "layer1:out": 1}
    # signed values enter u in the same step: u = x << 6 (du = 4095 keeps nothing)
    x = np.array([[[3, -2, 0, 40_000, -1, 7]]])
    raw = prog.run(x, return_raw=True, states=True)
    assert raw.u["layer0"][0, 0].tolist() == [192, -128, 0, 2_560_000, -64, 448]
    # without a transform lava-dl's defaults are recorded
    plain = snnc.load(write_netx(tmp_path / "plain.net", [input_block([6]), dense(_rng_w(0, (4, 6)))]))
    assert plain.graph.meta["input_transform"] == {"weight": 64, "bias": 0}


def test_dense_without_neuron_is_lava_dls_integrator_read_out_as_v(tmp_path):
    """lava-dl's default neuron: iDecay 0 (du = -1: u integrates), vDecay 4096 (v = u + bias),
    vThMant 1 << 17 (never spikes); the probe measured u = 640 per step for weight 10."""
    w = np.array([[10, 0], [0, -20], [5, 5]])
    path = write_netx(tmp_path / "ro.net", [{"type": "input", "shape": np.array([2])},
                                            dense(w, neuron=False, bias=np.array([1.0, 0.0, -2.0]))])
    prog = snnc.load(path)
    c = prog.graph["layer1"]
    assert (c.du, c.dv, c.vth, c.readout) == (-1, 4096, 1 << 17, "v")
    x = np.zeros((1, 6, 2), np.uint8)
    x[0, :, 0] = 1
    x[0, 1:, 1] = 1
    raw = prog.run(x, return_raw=True, states=True)
    drive = np.cumsum(np.vstack([np.zeros((1, 2)), x[0, :6]]) @ w.T, axis=0)[:7]  # inputs before t
    assert raw.u["layer1"][0].tolist() == (64 * drive).astype(int).tolist()
    assert raw.v["layer1"][0].tolist() == (64 * drive + 64 * np.array([1, 0, -2])).astype(int).tolist()
    assert not raw.spikes["layer1"].any()
    y = prog.run(x)  # the read-out's v, as the program's output
    assert y.dtype == np.float64 and y[0, -1].tolist() == (64 * (drive[6] + [1, 0, -2])).tolist()


def test_reset_interval_and_offset_follow_lava_dls_layer_phases(tmp_path):
    path = write_netx(tmp_path / "r.net", [input_block([3, 4, 4]),
                                           {"type": "conv", "shape": np.array([2, 2, 2]),
                                            "weight": _rng_w(1, (2, 3, 3, 3)), "stride": np.array([1, 1]),
                                            "padding": np.array([0, 0]), "dilation": np.array([1, 1]),
                                            "groups": 1, "neuron": dict(CUBA)},
                                           {"type": "flatten", "shape": np.array([8])},
                                           dense(_rng_w(2, (3, 8)))])
    g = snnc.load(path, reset_interval=5, reset_offset=2).graph
    assert [(g[c].reset_interval, g[c].reset_offset) for c in ("layer0", "layer1", "layer3")] == [(5, 3), (5, 4), (5, 5)]
    assert all(g[c].reset_interval == 0 for c in ("layer0", "layer1", "layer3")
               for g in [snnc.load(path).graph])
    for bad in (0, -3, 1.5, "16", True):
        with pytest.raises(InputError, match="reset_interval"):
            snnc.load(path, reset_interval=bad)
    for bad in (0.5, -2):  # Lava's LIFReset refuses a negative phase (layer 0 gets offset + 1)
        with pytest.raises(InputError, match="reset_offset"):
            snnc.load(path, reset_interval=4, reset_offset=bad)
    assert snnc.load(path, reset_interval=4, reset_offset=-1).graph["layer0"].reset_offset == 0
    with pytest.raises(InputError, match="netx") as e:
        snnc.load("examples/mlp.nir", reset_interval=16)
    assert "reset_interval" in str(e.value)


def test_float_weights_are_truncated_toward_zero_as_lava_dl_does(tmp_path, caplog):
    w = np.array([[1.9, -2.7, 0.4], [-0.6, 3.2, 5.0]], np.float32)
    prog = snnc.load(write_netx(tmp_path / "f.net", [{"type": "input", "shape": np.array([3])}, dense(w)]))
    row = prog.layers[0]
    assert any("truncated toward zero" in n for n in row["notes"]) and "truncated" in caplog.text
    back = snnc.load(write_netx(tmp_path / "i.net", [{"type": "input", "shape": np.array([3])},
                                                     dense(np.trunc(w).astype(np.int64))]))
    assert np.array_equal(prog.graph["layer1:syn"].weights, back.graph["layer1:syn"].weights)


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("case, cls, where, words", [
    ("unknown_field", FrontendError, "layer/1", ["unknown field 'wieght'"]),
    ("unknown_neuron_field", FrontendError, "layer/1/neuron", ["unknown field 'tau'"]),
    ("unknown_type", UnsupportedOpError, "layer/1", ["'mystery'", "skips"]),
    ("pool", UnsupportedOpError, "layer/1", ["'pool'"]),
    ("dense_shape", FrontendError, "layer/1", ["'shape'", "5 neurons", "4 rows"]),
    ("conv_shape", FrontendError, "layer/1", ["'shape' = [2, 3, 3]", "[2, 2, 2]"]),
    ("dense_after_conv", FrontendError, "layer/2", ["flatten"]),
    ("conv_after_dense", FrontendError, "layer/2", ["after a dense"]),
    ("transform_array", UnsupportedOpError, "layer/0", ["'weight'", "one number"]),
    ("idecay", FrontendError, "layer/1/neuron", ["'iDecay' = 5000"]),
    ("vth", FrontendError, "layer/1/neuron", ["'vThMant' = 200000"]),
    ("graded", UnsupportedOpError, "layer/1/neuron", ["'messageBits' = 8"]),
    ("bias_int16", UnsupportedOpError, "layer/1", ["int16"]),
    ("input_2d", FrontendError, "layer/0", ["'shape' = [4, 4]"]),
    ("stride_float", FrontendError, "layer/1", ["'stride' = 1.5"]),
])
def test_inconsistent_fields_name_file_layer_field_and_value(tmp_path, case, cls, where, words):
    conv = {"type": "conv", "shape": np.array([2, 2, 2]), "weight": _rng_w(1, (2, 3, 3, 3)),
            "stride": np.array([1, 1]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]),
            "groups": 1, "neuron": dict(CUBA)}
    inp = {"type": "input", "shape": np.array([3, 4, 4])}
    flat_in = {"type": "input", "shape": np.array([4])}
    layers = {
        "unknown_field": [flat_in, {**dense(_rng_w(0, (3, 4))), "wieght": np.ones(3)}],
        "unknown_neuron_field": [flat_in, dense(_rng_w(0, (3, 4)), neuron=False) | {"neuron": dict(CUBA, tau=3)}],
        "unknown_type": [flat_in, {"type": "mystery"}, dense(_rng_w(0, (3, 4)))],
        "pool": [inp, {"type": "pool", "shape": np.array([3, 2, 2])}],
        "dense_shape": [flat_in, dense(_rng_w(0, (4, 4))) | {"shape": np.array([5])}],
        "conv_shape": [inp, conv | {"shape": np.array([2, 3, 3])}],
        "dense_after_conv": [inp, conv, dense(_rng_w(0, (3, 8)))],
        "conv_after_dense": [flat_in, dense(_rng_w(0, (3, 4))), conv],
        "transform_array": [input_block([4], weight=np.array([40.0, 2.0])), dense(_rng_w(0, (3, 4)))],
        "idecay": [flat_in, dense(_rng_w(0, (3, 4)), neuron=False) | {"neuron": dict(CUBA, iDecay=5000)}],
        "vth": [flat_in, dense(_rng_w(0, (3, 4)), neuron=False) | {"neuron": dict(CUBA, vThMant=200000)}],
        "graded": [flat_in, dense(_rng_w(0, (3, 4)), neuron=False) | {"neuron": dict(CUBA, messageBits=8)}],
        "bias_int16": [flat_in, dense(_rng_w(0, (3, 4)), bias=np.array([40000.0, 0, 0]))],
        "input_2d": [input_block([4, 4]), dense(_rng_w(0, (3, 16)))],
        "stride_float": [inp, conv | {"stride": np.array([1.5, 1.0])}],
    }[case]
    path = write_netx(tmp_path / f"{case}.net", layers)
    with pytest.raises(cls) as e:
        snnc.load(path)
    msg = str(e.value)
    assert type(e.value) is cls and e.value.node == where and e.value.hint
    assert f"{case}.net" in msg and all(w in msg for w in words), msg


def _damage(path, how: str) -> None:
    with h5py.File(path, "a") as f:
        g = f["layer/1"]
        if how == "missing_type":
            del g["type"]
        elif how == "non_ascii_type":
            del g["type"]
            g.create_dataset("type", (1,), "S10", ["d\xe9nse".encode("latin-1")])
        elif how == "neuron_is_dataset":
            del g["neuron"]
            g.create_dataset("neuron", data=np.arange(3))
        elif how == "idecay_string":
            del g["neuron/iDecay"]
            g.create_dataset("neuron/iDecay", data="fast")
        elif how == "weight_string":
            del g["weight"]
            g.create_dataset("weight", data=np.array([b"a", b"b"]))
        elif how == "weight_nan":
            g["weight"][0, 0] = np.nan
        elif how == "layer_gap":
            f.move("layer/1", "layer/5")
        elif how == "layer_is_dataset":
            del f["layer/1"]
            f.create_dataset("layer/1", data=np.zeros(3))
        elif how == "missing_weight":
            del g["weight"]
        elif how == "weight_compound":
            del g["weight"]
            g.create_dataset("weight", data=np.zeros(3, dtype=[("a", "i4"), ("b", "f4")]))


@pytest.mark.parametrize("how, words", [
    ("missing_type", ["'type' is missing"]), ("non_ascii_type", ["not ASCII"]),
    ("neuron_is_dataset", ["'neuron' is a dataset"]), ("idecay_string", ["'iDecay'", "not numeric"]),
    ("weight_string", ["'weight'", "not numeric"]), ("weight_nan", ["'weight'", "nan"]),
    ("layer_gap", ["groups 0, 1"]), ("layer_is_dataset", ["dataset, not a layer group"]),
    ("missing_weight", ["'weight' is missing"]), ("weight_compound", ["'weight'", "not numeric"]),
])
def test_damaged_files_raise_frontend_errors_naming_file_and_field(tmp_path, how, words):
    path = write_netx(tmp_path / "d.net", [{"type": "input", "shape": np.array([4])},
                                           dense(_rng_w(0, (3, 4)))])
    _damage(path, how)
    with pytest.raises(FrontendError) as e:
        snnc.load(path)
    msg = str(e.value)
    assert "d.net" in msg and all(w in msg for w in words), msg
    assert e.value.hint


# ------------------------------------------------------------------------------ run inputs
def test_integer_and_bias_inputs_are_checked(tmp_path):
    prog = snnc.load(write_netx(tmp_path / "in.net", [input_block([4]), dense(_rng_w(0, (3, 4)))]))
    with pytest.raises(InputError, match="int32"):
        prog.run(np.full((1, 3, 4), 2**31))
    with pytest.raises(InputError, match="integers"):
        prog.run(np.full((1, 3, 4), 0.5))
    with pytest.raises(InputError, match="steps="):
        prog.run(np.ones((1, 4), int), input="bias")
    with pytest.raises(InputError, match="4095"):
        prog.run(np.full((1, 4), 5000), input="bias", steps=3)
    with pytest.raises(InputError, match=r"\(batch, 4\)"):
        prog.run(np.ones((1, 3, 4), int), input="bias", steps=3)
    with pytest.raises(InputError, match="route"):
        prog.run(np.ones((1, 3, 4), int), input="sideways")
    y = prog.run(np.full((2, 4), 30), input="bias", steps=5)  # every layer is an output
    assert y["layer0:out"].shape == (2, 5, 4) and y["layer1:out"].shape == (2, 5, 3)
    assert y["layer0:out"].sum() > 0
    binary = snnc.load(write_netx(tmp_path / "b.net", [{"type": "input", "shape": np.array([4])},
                                                       dense(_rng_w(0, (3, 4)))]))
    with pytest.raises(InputError, match="binary"):  # spike programs refuse values as before
        binary.run(np.full((1, 3, 4), 3))
    with pytest.raises(InputError, match="feeds directly"):
        binary.run(np.ones((1, 4), int), input="bias", steps=3)


# ------------------------------------------------------------------------------ lava-dl in Lava
@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_lava_dl_network_runs_these_files_with_the_emulators_states(tmp_path):
    """lava-dl's hdf5.Network in Lava, every block's spikes, u and v: an Input block with a
    dense layer and a neuron-less read-out under a periodic reset (a_in route, signed values,
    and the bias route), a conv net whose first layer reads spikes (net.inp) with delays after
    a flatten, and float weights lava-dl truncates."""
    rng = np.random.default_rng(3)
    ib = write_netx(tmp_path / "ib.net", [input_block([6]), dense(_rng_w(4, (5, 6))),
                                          dense(_rng_w(5, (2, 5)), neuron=False, bias=np.array([3.0, -1.0]))])
    conv = write_netx(tmp_path / "conv.net", [
        {"type": "input", "shape": np.array([2, 5, 5])},
        {"type": "conv", "shape": np.array([3, 3, 3]), "weight": _rng_w(6, (3, 2, 3, 3), -40, 90),
         "stride": np.array([1, 1]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]), "groups": 1,
         "neuron": dict(CUBA, vThMant=30), "bias": np.arange(3.0)},
        {"type": "flatten", "shape": np.array([27])},
        dense(_rng_w(7, (4, 27)), delay=rng.integers(0, 4, (4, 27)))])
    floats = write_netx(tmp_path / "floats.net", [{"type": "input", "shape": np.array([6])},
                                                  dense(rng.normal(0, 40, (5, 6)).astype(np.float32))])
    # a 3-D Input block into a conv with a per-neuron (W, H, C) bias, then flatten -> dense
    blk3 = write_netx(tmp_path / "blk3.net", [
        input_block([2, 4, 3]),
        {"type": "conv", "shape": np.array([3, 2, 1]), "weight": _rng_w(8, (3, 2, 3, 3), -50, 90),
         "stride": np.array([1, 1]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]), "groups": 1,
         "neuron": dict(CUBA, vThMant=20), "bias": rng.integers(-3, 6, (1, 2, 3)).astype(np.float32)},
        {"type": "flatten", "shape": np.array([6])}, dense(_rng_w(9, (4, 6)))])
    # a 3-D Input block straight into flatten -> dense (lava-dl's (W, H, C).transpose([2, 1, 0]).flatten())
    blkf = write_netx(tmp_path / "blkf.net", [input_block([2, 3, 4]), {"type": "flatten", "shape": np.array([24])},
                                              dense(_rng_w(10, (5, 24), -30, 60))])
    runs = []
    x_ib = rng.integers(-30, 90, (1, 14, 6))
    b_ib = rng.integers(-20, 60, (1, 6))
    x_conv = (rng.random((1, 14, 2, 5, 5)) < 0.5).astype(np.uint8)
    x_f = (rng.random((1, 14, 6)) < 0.5).astype(np.uint8)
    cases = [
        (blk3, rng.integers(-20, 80, (1, 14, 2, 4, 3)), {"input": "a_in"}),
        (blkf, rng.integers(0, 90, (1, 12, 2, 3, 4)), {"reset_interval": 4, "input": "a_in"}),
        (ib, x_ib, {"reset_interval": 5, "reset_offset": 2, "input": "a_in"}),
        (ib, b_ib, {"reset_interval": 6, "input": "bias"}),
        (conv, x_conv, {"reset_interval": 7}),
        (floats, x_f, {}),
    ]
    ours = []
    for path, x, opts in cases:
        load = {k: v for k, v in opts.items() if k.startswith("reset")}
        prog = snnc.load(path, **load)
        route = opts.get("input")
        if route == "bias":
            raw = prog.run(x, input="bias", steps=12, return_raw=True, states=True)
        else:
            raw = prog.run(x, return_raw=True, states=True)
        comps = [prog.probed(o) for o in prog.outputs]
        ours.append((raw, comps))
        runs.append((path, x, raw.steps, {**opts, "input": {"a_in": "a_in", "bias": "bias"}.get(route, "spikes")}))
    results = run_netx_many(runs, states=True, timeout=900)
    for (raw, comps), blocks in zip(ours, results):
        assert len(blocks) == len(comps)
        for c, block in zip(comps, blocks):
            for key, arr in (("s", raw.spikes[c]), ("u", raw.u[c]), ("v", raw.v[c])):
                np.testing.assert_array_equal(arr.reshape(block[key].shape), block[key], err_msg=f"{c} {key}")
    assert ours[2][0].spikes["layer1"].any() and np.any(ours[2][0].v["layer2"])
    assert all(raw.spikes[comps[-1]].any() for raw, comps in ours[:2])


def test_torch_engine_and_onnx_step_model_take_integer_inputs_and_resets(tmp_path):
    """The torch engine (device='cpu') equals the numpy engine on both input routes with a
    periodic reset; the ONNX step model takes the int32 input (the bias route is a run option of
    the emulator and Lava only)."""
    from snnc.backends.onnx_step import run_step_model

    path = write_netx(tmp_path / "t.net", [input_block([6]), dense(_rng_w(11, (5, 6))),
                                           dense(_rng_w(12, (2, 5)), neuron=False)])
    prog = snnc.load(path, reset_interval=4, reset_offset=1)
    rng = np.random.default_rng(5)
    x, xb = rng.integers(-40, 120, (3, 10, 6)), rng.integers(-20, 60, (3, 6))
    for args, kw in (((x,), {}), ((xb,), {"input": "bias", "steps": 9})):
        a = prog.run(*args, return_raw=True, states=True, **kw)
        b = prog.run(*args, return_raw=True, states=True, device="cpu", **kw)
        for c in a.spikes:
            for key in ("spikes", "u", "v"):
                np.testing.assert_array_equal(getattr(a, key)[c], getattr(b, key)[c], err_msg=f"{c} {key}")
        assert a.spikes["layer1"].any()
    onnx_path = tmp_path / "t.onnx"
    prog.export_onnx(onnx_path)
    got = run_step_model(onnx_path, x)
    raw = prog.run(x, return_raw=True)
    for c in raw.spikes:
        np.testing.assert_array_equal(got[f"spikes.{c}"].astype(bool), raw.spikes[c], err_msg=c)
    np.testing.assert_array_equal(got["v.layer2"], raw.v["layer2"])


def test_mapping_and_profile_take_an_input_wired_straight_to_a_layer(tmp_path):
    """snnc.compile places a netx program with an Input block; the energy profile counts the
    int32 input as one host message per non-zero value (no SynOps) and the block's neurons active."""
    path = write_netx(tmp_path / "p.net", [input_block([6]), dense(_rng_w(13, (5, 6)))])
    prog = snnc.compile(snnc.load(path, reset_interval=8))
    assert prog.placement is not None and prog.graph["layer0"].reset_interval == 8
    x = np.random.default_rng(6).integers(-10, 60, (2, 9, 6))
    raw = prog.run(x, return_raw=True)
    counts = count_events(prog.graph, x, raw, prog.placement)
    src, blk = counts.layers["input"], counts.layers["layer0"]
    assert src.route_host == np.count_nonzero(x) and src.spikes == np.count_nonzero(x)
    assert blk.synops_in == 0 and blk.updates_active >= np.count_nonzero(x)
    assert counts.layers["layer1"].synops_in > 0
    assert prog.profile(x).to_dict()  # the report builds on it

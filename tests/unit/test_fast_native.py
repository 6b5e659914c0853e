"""The fused C LIF step (snnc/backends/emulator/fast_native.py) against the fast path's numpy step
(fast._lif_step) at the edges of its operations: both clip sides, a v that clips, per-neuron
and shared decays, no decay, float64/float32/int32 inputs, shared and per-sample bias rows,
negative values (trunc toward zero), and the whole fast path with it on and off."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from emulator_runs import assert_same_run as assert_same  # tests/helpers

from snnc.backends import emulator
from snnc.backends.emulator import fast, fast_native
from snnc.compiler.ir import loihi
from snnc.compiler.ir.arith import V_LIMIT
from snnc.compiler.ir.graph import Graph

LIB = fast_native.kernel()
needs_lib = pytest.mark.skipif(LIB is None, reason="no C compiler: the numpy step is used")


def _comp(n, dtype, fv, clip_mode, bias):
    c = fast._Comp("c", n, np.asarray(0.0, dtype), np.asarray(fv, dtype), 1600.0, bias, 0,
                   np.zeros(n, dtype), np.zeros(n, dtype), ("k",), no_u_decay=True,
                   no_u_wrap=True, no_v_decay=not np.any(fv), has_bias=bias is not None,
                   clip_high=clip_mode == 2, no_clip=clip_mode == 0, dtype=dtype)
    return c


@needs_lib
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip_mode", [0, 1, 2])
@pytest.mark.parametrize("fv_kind", ["shared", "per-neuron", "none"])
@pytest.mark.parametrize("bias_kind", ["none", "shared", "rows"])
def test_fused_step_equals_the_numpy_step(dtype, clip_mode, fv_kind, bias_kind):
    rng = np.random.default_rng(0)
    rows, n = 5, 37
    # integers on the 12-bit fraction grid: decay factors f / 4096
    fv = {"shared": 3686 / 4096, "per-neuron": rng.integers(0, 4097, n) / 4096, "none": 0.0}[fv_kind]
    big = dtype == np.float64 and clip_mode > 0  # values that clip, where float64 holds them
    scale = (1 << 22) if big else (1 << 12)
    bias = {"none": None, "shared": rng.integers(-scale, scale, n).astype(dtype),
            "rows": rng.integers(-scale, scale, (rows, n)).astype(dtype)}[bias_kind]
    c = _comp(n, dtype, fv, clip_mode, bias)
    v0 = rng.integers(-(scale * 2 if big else scale), scale, (rows, n)).astype(dtype)
    ins = [rng.integers(-scale, scale, (rows, n)).astype(t) for t in (np.int32, np.float64, dtype)]
    v1, v2 = v0.copy(), v0.copy()
    s1, s2 = np.zeros((rows, n), bool), np.zeros((rows, n), bool)
    step = fast_native.Step(LIB, v1, c.fv, None, fast._clip_mode(c), c.vth)
    assert fast_native.usable(ins, v1, bias, s1)
    step(ins, bias, s1)
    fast._lif_step(c, None, v2, None, np.zeros((rows, n), bool), s2, list(ins), 3, bias)
    assert np.array_equal(s1, s2) and s1.any() and not s1.all()
    assert np.array_equal(v1, v2)
    if big:  # the clip fired somewhere
        assert np.any(np.abs(v1) == V_LIMIT)


@needs_lib
def test_layouts_the_loop_cannot_read_take_the_numpy_step():
    v = np.zeros((3, 4))
    s = np.zeros((3, 4), bool)
    assert fast_native.usable([np.zeros((3, 4), np.int32)], v, None, s)
    assert not fast_native.usable([np.zeros((3, 4), np.int64)], v, None, s)  # no int64 loop
    assert not fast_native.usable([np.zeros((3, 8))[:, ::2]], v, None, s)  # strided
    assert not fast_native.usable([], v, np.zeros(4, np.float32), s)  # bias of another dtype
    assert not fast_native.usable([], v, np.zeros((2, 4)), s)  # bias rows of another batch


def _graph():
    rng = np.random.default_rng(1)
    nodes = {"in": loihi.SpikeSource((40,)),
             "s0": loihi.Synapse(rng.integers(-128, 128, (30, 40)) * 2, weight_exp=-1),
             "c0": loihi.Compartment((30,), du=4095, dv=410, vth=40, bias_mant=rng.integers(-9, 9, 30),
                                     bias_exp=3, start_step=1, v_init=rng.integers(-500, 500, 30)),
             "s1": loihi.Synapse(rng.integers(-128, 128, (6, 30)), weight_exp=2),
             "c1": loihi.Compartment((6,), du=4095, dv=0, vth=300, bias_mant=np.zeros(6),
                                     readout="v", reset_interval=7, reset_offset=3)}
    edges = [("in", "s0"), ("s0", "c0"), ("c0", "s1"), ("s1", "c1")]
    return Graph(nodes, edges), rng.random((12, 20, 40)) < 0.3


def test_fast_path_with_and_without_the_fused_step_and_the_generic_engine(monkeypatch):
    g, x = _graph()
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    with_c = emulator.run(g, x, 25)
    monkeypatch.setattr(fast, "FUSED", False)
    without = emulator.run(g, x, 25)
    monkeypatch.setattr(fast, "ENABLED", False)
    reference = emulator.run(g, x, 25)
    assert_same(with_c, without)
    assert_same(with_c, reference)
    assert with_c.spikes["c0"].any() and with_c.v["c1"].any()


def test_without_a_compiler_the_numpy_step_runs(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(fast_native, "_LIB", fast_native._UNBUILT)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING):
        assert fast_native.kernel() is None
    assert "numpy step" in caplog.text
    g, x = _graph()
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    got = emulator.run(g, x, 25)
    monkeypatch.setattr(fast, "ENABLED", False)
    assert_same(got, emulator.run(g, x, 25))
    monkeypatch.setattr(fast_native, "_LIB", fast_native._UNBUILT)
    monkeypatch.setenv("SNNC_NATIVE", "0")
    assert fast_native.kernel() is None


@needs_lib
def test_channels_last_records_copy_back_to_c_order():
    rng = np.random.default_rng(3)
    steps, batch, (c, h, w) = 4, 3, (5, 2, 7)
    rec = rng.random((steps, batch, h * w * c)) < 0.5
    out = np.zeros((batch, steps, c * h * w), bool)
    assert fast_native.hwc_records_to_chw(LIB, rec, (c, h, w), out)
    want = rec.reshape(steps, batch, h, w, c).transpose(1, 0, 4, 2, 3).reshape(batch, steps, -1)
    assert np.array_equal(out, want)
    assert not fast_native.hwc_records_to_chw(LIB, rec, (c, h, w), out[:, ::2])  # not contiguous
    assert not fast_native.hwc_records_to_chw(None, rec, (c, h, w), out)


def test_int8_sums_into_reused_buffers_or_fresh_ones_give_the_same_run(monkeypatch):
    """The per-step int8 blocks write into their buffer when ``_int_mm`` takes ``out=``
    (probed), else into fresh arrays: the same spikes either way."""
    g, x = _graph()
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    monkeypatch.setattr(fast, "INT8_MIN_ROWS", 1)
    assert fast.int8_matmul() is None or fast.int8_matmul_into() in (True, False)
    into = emulator.run(g, x, 25)
    monkeypatch.setattr(fast, "_OUT", [False])
    fresh = emulator.run(g, x, 25)
    assert_same(into, fresh)
    monkeypatch.setattr(fast, "ENABLED", False)
    assert_same(into, emulator.run(g, x, 25))

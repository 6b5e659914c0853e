"""Sigma-delta populations and graded synapses: the emulator (numpy AND torch engines) equals
real Lava 0.10.0 (fixed_pt) on every output of every population at every step.

Hypothesis draws random chains ``int32 input -> Delta -> syn -> SigmaDelta -> syn -> (...) ->
Sigma`` (``tests/helpers/sigma_delta_programs.py``) of each layer kind -- dense, sparse, conv,
delaydense -- with graded (1..24 bits) and binary synapses, both signs, values that wrap
(``x << k``, ``bias << k``, ``vth << k``, int32 sums), exactly ``|INT_MIN|``, relu/unit,
cum_error on and off, every exponent 0..7, and now and then a LIF population reading a
sigma-delta layer.  Each program runs in Lava (a child process under the watchdog) and on both
emulator engines; payloads (int32) and spikes must be equal.

Examples per layer kind: ``SNNC_SD_LAVA_EXAMPLES`` (default 2) in the default run;
``SNNC_SD_LAVA_EXAMPLES_SLOW`` (default 100) for the ``-m slow`` campaign.

The deterministic cases below pin each arithmetic corner down against Lava: each states the
competing readings (``>`` vs ``≥``, a 64-bit ``|x|``, shift-then-wrap, round toward zero, ...)
and asserts that Lava's output is one and not the other, so a wrong implementation fails.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from sigma_delta_programs import KINDS, programs  # tests/helpers

import snnc
from snnc.backends import emulator
from snnc.backends import lava as lava_backend
from snnc.compiler.conventions import Convention
from snnc.compiler.ir import loihi, verify
from snnc.compiler.ir.graph import Graph
from snnc.compiler.targets import get_target

FAST_EXAMPLES = int(os.environ.get("SNNC_SD_LAVA_EXAMPLES", "2"))
SLOW_EXAMPLES = int(os.environ.get("SNNC_SD_LAVA_EXAMPLES_SLOW", "100"))
LAVA_TIMEOUT_S = 120.0
SD = loihi.SigmaDeltaCompartment
I32 = 1 << 31

pytestmark = [
    pytest.mark.lava,
    pytest.mark.skipif(not lava_backend.lava_available(), reason="lava-nc is not installed"),
]


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(a != b)[0])
    return f"first at (sample, step, neuron...) {idx}: emulator {a[idx]!r}, lava {b[idx]!r}"


def run_both(graph: Graph, x: np.ndarray, steps: int):
    """(Lava's RunResult, the emulator's) after checking numpy, torch and Lava agree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", verify.HardwareRangeWarning)
        lav = lava_backend.run(graph, x, steps, timeout=LAVA_TIMEOUT_S)
        emus = [emulator.run(graph, x, steps), emulator.run(graph, x, steps, device="cpu")]
    for emu in emus:
        assert set(emu.payload) == set(lav.payload) and set(emu.spikes) == set(lav.spikes)
        for c in emu.payload:
            assert np.array_equal(emu.payload[c], lav.payload[c]), f"payload of {c!r}: {_diff(emu.payload[c], lav.payload[c])}"
        for c in emu.spikes:
            assert np.array_equal(emu.spikes[c], lav.spikes[c]), f"spikes of {c!r}: {_diff(emu.spikes[c], lav.spikes[c])}"
    return lav, emus[0]


def _check(kind: str, n: int) -> None:
    @settings(max_examples=n, deadline=None, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=programs(kind))
    def prop(case):
        run_both(*case)

    prop()


@pytest.mark.parametrize("kind", KINDS)
def test_emulator_equals_lava(kind):
    _check(kind, FAST_EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("kind", KINDS)
def test_emulator_equals_lava_many(kind):
    _check(kind, SLOW_EXAMPLES)


# ------------------------------------------------------------------------------ corners
def direct(neuron: SD, x: np.ndarray, steps: int | None = None):
    """``neuron`` fed straight by an int32 input ``x`` (T, n); Lava's and the emulator's output."""
    g = Graph({"in": loihi.SpikeSource(shape=neuron.shape, payload="int32"), "n": neuron}, [("in", "n")])
    lav, _ = run_both(g, np.asarray(x, np.int64)[None], steps or len(x))
    return lav.payload["n"][0]


def test_delta_threshold_int_min_and_cum_error():
    """One Lava run, three corners of the delta encoder:

    * neuron 0: |delta| == vth sends (Lava's code has ``>=``; its docstrings say ``>``);
    * neuron 1: x = 2^19 with k = 12 shifts to exactly -2^31; ``np.abs`` of it stays -2^31, so it
      never sends (a 64-bit |x| would send -2^31 >> 6 = -2^25); neuron 2 (2^19 - 1) does send;
    * cum_error (second population): the error accumulates sub-threshold deltas and the neuron
      then sends this step's *delta* (not the error).
    """
    out = direct(SD(shape=(3,), neuron="delta", vth=5 << 0, spike_exp=6, state_exp=6),
                 [[5 >> 0, 1 << 19, (1 << 19) - 1]] * 2)
    # the register is 5 << 12; the shifted input 5 << 12 equals it
    assert out[0, 0] == 5 << 6, "|delta| == vth must send (>=)"
    assert out[0, 1] == 0 and out[0, 2] == ((1 << 19) - 1) << 6, "|INT_MIN| must stay negative"
    assert not out[1].any()
    # cum_error, vth 5: inputs 2, 4: deltas 2, then 2 + residue 2 = 4 (< 5: no send without
    # cum_error); the error 2 + 4 = 6 reaches 5, and Lava sends the delta 4 (not the error 6)
    cum = direct(SD(shape=(1,), neuron="delta", vth=5, cum_error=True), [[2], [4]])[:, 0].tolist()
    no_cum = direct(SD(shape=(1,), neuron="delta", vth=5), [[2], [4]])[:, 0].tolist()
    assert cum == [0, 4] and no_cum == [0, 0]


def test_output_shift_is_a_floor_and_sigma_delta_takes_a_in_unshifted():
    """A unit SigmaDelta (vth 0, state_exp 6) fed -5 then +5: s = -5 >> 6 = -1 (floor; a
    round toward zero gives 0), then the delta back to 0 is +5 >> 6 = 0; a_in is not shifted
    by spike_exp (only a Delta shifts its input)."""
    out = direct(SD(shape=(2,), neuron="sigma_delta", vth=0, spike_exp=3, state_exp=6, activation="unit"),
                 [[-5, 64 * 3], [5, 64 * 3]])
    assert out[0].tolist() == [-1, 3]  # floor, and 192 >> 6 (a_in shifted by spike_exp: 1536)
    assert out[1].tolist() == [0, 3]


def test_bias_wraps_and_relu_acts_on_the_wrapped_sum():
    """bias << k wraps in the constructor (2^20 << 12 = 2^32 -> 0; (2^19 + 1) << 12 wraps
    negative), and relu sees the wrapped int32 sum: no saturation anywhere."""
    bias = np.array([1 << 20, (1 << 19) + 1, 3, -(1 << 19)])
    out = direct(SD(shape=(4,), neuron="sigma_delta", vth=0, bias=bias, spike_exp=6, state_exp=6),
                 [[0, 0, 0, 0]], 2)
    assert out[0, 0] == 0  # wrapped to 0
    assert out[0, 1] == 0  # wrapped negative: relu gives 0
    assert out[0, 2] == 3 << 6
    assert out[0, 3] == 0  # -2^31: relu 0
    unit = direct(SD(shape=(4,), neuron="sigma_delta", vth=0, bias=bias, spike_exp=6, state_exp=6,
                     activation="unit"), [[0, 0, 0, 0]], 2)
    assert unit[0, 1] == (-(1 << 31) + (1 << 12)) >> 6  # UNIT: the wrapped negative value is sent
    assert unit[0, 3] == 0  # exactly INT_MIN: |INT_MIN| < 0 never fires


def _dense_chain(w: np.ndarray, nmb: int, weight_exp: int = 0, delays=None):
    n_in = w.shape[1]
    nodes = {"in": loihi.SpikeSource(shape=(n_in,), payload="int32"),
             "d": SD(shape=(n_in,), neuron="delta", vth=0),
             "s": loihi.Synapse(weights=w, weight_exp=weight_exp, num_message_bits=nmb, delays=delays),
             "sg": SD(shape=(w.shape[0],), neuron="sigma")}
    return Graph(nodes, [("in", "d"), ("d", "s"), ("s", "sg")])


def _w32(v):
    return ((np.asarray(v, np.int64) + I32) % (1 << 32)) - I32


def test_graded_dense_wraps_before_the_shift():
    """Σ W·s = 255 · 2^23 · 3 > 2^31: Lava's int32 dot wraps, then >> 4 (weight_exp -4); the
    binary path's order (shift the int64 sum, then wrap) gives another value."""
    w = np.full((1, 3), 255, np.int64)
    s = 1 << 23
    lav, _ = run_both(_dense_chain(w, 24, -4), np.full((1, 2, 3), s, np.int64), 3)
    exact = 255 * s * 3
    wrap_then_shift = int(_w32(exact)) >> 4
    shift_then_wrap = int(_w32(exact >> 4))
    assert wrap_then_shift != shift_then_wrap
    assert lav.payload["sg"][0, 1, 0] == wrap_then_shift


def test_binary_synapse_counts_negative_payloads_as_spikes():
    """num_message_bits = 0 behind a Delta: any non-zero payload, negatives included, is one spike."""
    w = np.array([[10, 20, 30]], np.int64)
    lav, _ = run_both(_dense_chain(w, 0), np.array([[[-7, 0, 3]]], np.int64), 3)
    assert lav.payload["sg"][0, 1, 0] == 10 + 30  # not 30 (positives only), not -70 + 90 (graded)
    lav, _ = run_both(_dense_chain(w, 8), np.array([[[-7, 0, 3]]], np.int64), 3)
    assert lav.payload["sg"][0, 1, 0] == -70 + 90


def test_graded_delaydense_wraps_each_product():
    """DelayDense graded: 255 · 2^24 wraps per product (int32 multiply) before the int64 row
    sum and its >> 4 (weight_exp -4); shifting the exact sum, then wrapping, differs."""
    w = np.full((1, 2), 255, np.int64)
    s = 1 << 24
    lav, _ = run_both(_dense_chain(w, 24, -4, delays=np.array([[1, 1]])), np.full((1, 1, 2), s, np.int64), 4)
    per_product = int(_w32((2 * int(_w32(255 * s))) >> 4))
    once = int(_w32((2 * 255 * s) >> 4))
    assert per_product != once
    assert lav.payload["sg"][0, 2, 0] == per_product


def test_graded_conv_wraps_at_24_bits():
    """Conv with payloads: the float64 sum cast to int32 and wrapped to 24 bits (2^22 · 3 =
    12_582_912 > 2^23 wraps negative; 2^21 · 3 does not)."""
    nodes = {"in": loihi.SpikeSource(shape=(1, 1, 3), payload="int32"),
             "d": SD(shape=(1, 1, 3), neuron="delta", vth=0),
             "c": loihi.ConvSynapse(weights=np.ones((1, 1, 1, 3), np.int64), in_shape=(1, 1, 3), num_message_bits=24),
             "sg": SD(shape=(1, 1, 1), neuron="sigma")}
    g = Graph(nodes, [("in", "d"), ("d", "c"), ("c", "sg")])
    x = np.zeros((1, 2, 1, 1, 3), np.int64)
    x[0, 0] = 1 << 22
    x[0, 1] = (1 << 22) + (1 << 21)  # delta 2^21 each
    lav, _ = run_both(g, x, 3)
    seq = lav.payload["sg"][0, :, 0, 0, 0].tolist()
    assert seq[1] == 3 * (1 << 22) - (1 << 24)
    assert seq[2] == seq[1] + 3 * (1 << 21)


def test_program_run_on_lava_equals_the_emulator():
    """Program.run with int32 input on both backends: the Sigma output as int32, aligned."""
    rng = np.random.default_rng(2)
    nodes = {"in": loihi.SpikeSource(shape=(5,), payload="int32"),
             "d": SD(shape=(5,), neuron="delta", vth=2, spike_exp=6, state_exp=6),
             "s1": loihi.Synapse(weights=rng.integers(-128, 128, (4, 5)) * 2, num_message_bits=16),
             "sd": SD(shape=(4,), neuron="sigma_delta", vth=1, bias=np.array([1, -2, 3, 0]), spike_exp=6, state_exp=6),
             "s2": loihi.Synapse(weights=rng.integers(-128, 128, (3, 4)) * 2, num_message_bits=16),
             "sg": SD(shape=(3,), neuron="sigma"), "out": loihi.Probe(shape=(3,))}
    g = Graph(nodes, [("in", "d"), ("d", "s1"), ("s1", "sd"), ("sd", "s2"), ("s2", "sg"), ("sg", "out")])
    prog = snnc.Program(g, Convention(), get_target("loihi2"), {"out": 2})
    x = rng.integers(-64, 64, (2, 6, 5))
    a, b = prog.run(x), prog.run(x, backend="lava", timeout=LAVA_TIMEOUT_S)
    assert a.dtype == b.dtype == np.int32 and a.shape == (2, 6, 3)
    assert np.array_equal(a, b) and a.any()

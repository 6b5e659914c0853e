"""THE central test: the emulator equals real Lava 0.10.0 (fixed_pt), spike for spike.

Hypothesis generates small random Loihi-dialect programs of several layer kinds -- dense,
sparse, conv-like and pooling-like sparse matrices, recurrent self-connections,
two-population loops, DelayDense, and shared-kernel ``ConvSynapse`` layers (Lava ``Conv``:
random kernels with off-grid, out-of-range and huge weights -- Lava does not clip them --
random stride/padding/dilation/groups, mixed with Dense fan-in and recurrent
compartments) -- with random weights (on and off the 8-bit grid, out of
range), sign modes, ``num_weight_bits``, ``weight_exp`` in -8..7, ``du``/``dv`` in 0..4095
(one per population or one per neuron),
``vth`` up to 2**17-1, ``bias_mant`` ±4095 with ``bias_exp``, states that make ``u`` wrap and
``v`` saturate, ``start_step`` with ``u``/``v`` initial values, ``readout="v"``
populations, lava-dl's periodic resets (Lava ``LIFReset``) and relaxed registers (``du = -1``,
``dv = 4096``, ``vth = 2**17``), and lava-dl's Input block (kind ``input``: signed int32 values,
or spikes, straight into compartments' ``a_in``; and the bias route, where each sample's values
are those compartments' ``bias_mant``).  Each program runs on the emulator and on Lava (in a
child process under the watchdog); every compartment's raw spike raster, and ``v`` of
read-outs, must be equal -- for the ``input`` kind and the bias route also ``u`` and ``v`` of
every compartment at every step (Lava ``Monitor``s).

Examples per layer kind: ``SNNC_LAVA_EXAMPLES`` (default 2) in the default run;
``SNNC_LAVA_EXAMPLES_SLOW`` (default 100) for the ``-m slow`` variant.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from lava_programs import KINDS, bias_programs, programs  # tests/helpers

from snnc.backends import emulator
from snnc.backends import lava as lava_backend
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph

FAST_EXAMPLES = int(os.environ.get("SNNC_LAVA_EXAMPLES", "2"))
SLOW_EXAMPLES = int(os.environ.get("SNNC_LAVA_EXAMPLES_SLOW", "100"))
LAVA_TIMEOUT_S = 120.0

pytestmark = [
    pytest.mark.lava,
    pytest.mark.skipif(not lava_backend.lava_available(), reason="lava-nc is not installed"),
]


# ---------------------------------------------------------------------------- checking
def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(a != b)[0])
    return f"first at (sample, step, neuron...) {idx}: emulator {a[idx]!r}, lava {b[idx]!r}"


def assert_same(graph: Graph, x: np.ndarray, steps: int, **options) -> None:
    """Emulator and Lava equal; ``options``: run options of both (``input``, ``states``)."""
    emu = emulator.run(graph, x, steps, **options)
    lav = lava_backend.run(graph, x, steps, timeout=LAVA_TIMEOUT_S, **options)
    assert set(emu.spikes) == set(lav.spikes) and set(emu.v) == set(lav.v) and set(emu.u) == set(lav.u)
    for c in emu.spikes:
        a, b = emu.spikes[c], lav.spikes[c]
        assert a.shape == b.shape
        assert np.array_equal(a, b), f"spikes of {c!r} differ: {_first_difference(a, b)}"
    for name, states_e, states_l in (("v", emu.v, lav.v), ("u", emu.u, lav.u)):
        for c in states_e:
            a, b = states_e[c], states_l[c]
            assert np.array_equal(a, b), f"{name} of {c!r} differs: {_first_difference(a, b)}"


def _check(kind: str, n: int) -> None:
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    @given(case=bias_programs() if kind == "bias" else programs(kind))
    def prop(case):
        if kind == "bias":
            assert_same(*case, input="bias", states=True)
        else:
            assert_same(*case, states=kind == "input")

    prop()


@pytest.mark.parametrize("kind", [*KINDS, "bias"])
def test_emulator_equals_lava(kind):
    _check(kind, FAST_EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("kind", [*KINDS, "bias"])
def test_emulator_equals_lava_many(kind):
    _check(kind, SLOW_EXAMPLES)


def test_integer_input_and_periodic_reset_extremes():
    """Deterministic: int32 values into a_in that wrap ``a << 6`` (2**26 -> 0, 2**31 - 1 -> -64)
    and u at 24 bits (200000 << 6), summed in int32 with a recurrent synapse's buffer; lava-dl's
    integrator registers (du = -1, dv = 4096, vth = 2**17) under a periodic reset of phase 5 mod 3."""
    n = 8
    vals = np.array([1, -1, 40_000, 200_000, 1 << 26, 2**31 - 1, -(2**31), 30])
    nodes = {
        "in": loihi.SpikeSource((n,), payload="int32"),
        "A": loihi.Compartment((n,), du=4095, dv=1024, vth=25, bias_mant=np.zeros(n, np.int64),
                               bias_exp=6, reset_interval=4, reset_offset=1),
        "AA": loihi.Synapse(np.full((n, n), 200), weight_exp=7),
        "s": loihi.Synapse(np.arange(3 * n).reshape(3, n) - 10),
        "B": loihi.Compartment((3,), du=-1, dv=4096, vth=2**17, bias_mant=np.array([1, 0, -2]),
                               bias_exp=6, readout="v", reset_interval=3, reset_offset=5),
    }
    g = Graph(nodes, [("in", "A"), ("A", "AA"), ("AA", "A"), ("A", "s"), ("s", "B")])
    x = np.zeros((1, 10, n), np.int64)
    x[0, 1] = vals
    x[0, 5:] = vals[::-1]
    emu = emulator.run(g, x, 14, states=True)
    assert emu.u["A"][0, 1].tolist()[:6] == [64, -64, 2_560_000, -3_977_216, 0, -64]
    assert_same(g, x, 14, states=True)


def test_wrap_and_saturation_cases():
    """Deterministic extremes: u wraps (600 x 255 input), v saturates, bias with exponent 7."""
    n_in = 600
    nodes = {
        "in": loihi.SpikeSource((n_in,)),
        "s": loihi.Synapse(np.full((3, n_in), 255), weight_exp=1),
        "A": loihi.Compartment((3,), du=0, dv=0, vth=2**17 - 1,
                               bias_mant=np.array([4095, -4095, 0]), bias_exp=7, readout="v"),
        "s2": loihi.Synapse(np.full((2, 3), -256), weight_exp=7),
        "B": loihi.Compartment((2,), du=2047, dv=1, vth=0, bias_mant=np.array([0, 4095]),
                               bias_exp=7, readout="v", start_step=3,
                               u_init=np.array([-4097, 2**23 - 1])),
    }
    g = Graph(nodes, [("in", "s"), ("s", "A"), ("A", "s2"), ("s2", "B")])
    x = np.random.default_rng(1).random((1, 12, n_in)) < 0.7
    assert_same(g, x, 16)


def test_conv_wraps_at_24_bits_with_on_grid_weights():
    """Deterministic: a 127-channel 17x17 all-255 kernel sums to 9_359_265 > 2**23, which Lava's
    Conv wraps to 9_359_265 - 2**24 < 0 (step 0's input); with 64 channels silent (step 1's
    input) the sum 4_642_785 does not wrap and the population spikes."""
    nodes = {
        "in": loihi.SpikeSource((127, 17, 17)),
        "c": loihi.ConvSynapse(np.full((2, 127, 17, 17), 255), (127, 17, 17)),
        "A": loihi.Compartment((2, 1, 1), du=4095, dv=4095, vth=2**17 - 1,
                               bias_mant=np.zeros(2, np.int64), readout="v"),
        "d": loihi.Synapse(np.array([[255, 255], [-256, -256]])),
        "B": loihi.Compartment((2,), du=0, dv=0, vth=2, bias_mant=np.zeros(2, np.int64)),
    }
    g = Graph(nodes, [("in", "c"), ("c", "A"), ("A", "d"), ("d", "B")])
    x = np.ones((1, 3, 127, 17, 17), dtype=bool)
    x[0, 1, :64] = False
    emu = emulator.run(g, x, 6)
    # u = a << 6 (du = 4095: u forgets), v = u clipped (dv = 4095): the wrapped, negative sum
    # saturates v low at step 1; the unwrapped sum saturates it high and spikes at step 2
    assert emu.v["A"][0, 1].tolist() == [[[-(2**23 - 1)]]] * 2
    assert emu.spikes["A"][0, 2].all() and not emu.spikes["A"][0, 1].any()
    assert_same(g, x, 6)

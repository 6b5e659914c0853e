"""Fixed-point conversions against Lava's own weight utilities and big-int references."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from snnc.compiler import fixed_point as fx
from snnc.compiler.ir.loihi import SignMode
from snnc.compiler.targets import TARGETS

T = TARGETS["loihi2"]
floats = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(w=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=floats),
       scale=st.floats(0.5, 5000.0))
def test_quantized_weights_are_fixed_points_of_lavas_clip_and_truncate(w, scale):
    """Whatever snnc emits, Lava's Dense model loads unchanged (clip + LSB truncation)."""
    from lava.utils import weightutils
    q, e, mode, err = fx.quantize_weights(w, scale, T)
    lava_mode = weightutils.SignMode(int(mode))
    clipped = weightutils.clip_weights(q.copy(), sign_mode=lava_mode, num_bits=8)
    truncated = weightutils.truncate_weights(clipped, sign_mode=lava_mode, num_weight_bits=8)
    np.testing.assert_array_equal(truncated, q)
    assert T.weight_exp_min <= e <= T.weight_exp_max


@settings(max_examples=200, deadline=None)
@given(w=arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=floats),
       scale=st.floats(1.0, 1000.0))
def test_weight_error_is_within_half_a_grid_step(w, scale):
    q, e, mode, _ = fx.quantize_weights(w, scale, T)
    step = (2.0 if mode == SignMode.MIXED else 1.0) * 2.0**e / scale
    max_abs = np.abs(w).max()
    if max_abs * scale / 2.0**e <= fx.grid_max(mode):  # exponent not clamped
        assert np.all(np.abs(q * 2.0**e / scale - w) <= step / 2 + 1e-9)


def test_sparse_and_dense_quantize_alike():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(20, 30)) * (rng.random((20, 30)) < 0.2)
    qd, ed, md, _ = fx.quantize_weights(w, 300.0, T)
    qs, es, ms, _ = fx.quantize_weights(sp.csr_matrix(w), 300.0, T)
    assert (ed, md) == (es, ms)
    np.testing.assert_array_equal(qs.toarray(), qd)


@given(alpha=st.floats(0.0, 1.0))
def test_decays_match_lavas_multipliers(alpha):
    du, dv = fx.decay_u(alpha), fx.decay_v(alpha)
    # Lava multiplies u by (4096 - du - 1) and v by (4096 - dv)
    assert abs((4096 - du - 1) / 4096 - alpha) <= 0.5 / 4096 + 1e-12
    assert abs((4096 - dv) / 4096 - alpha) <= 0.5 / 4096 + 1e-12


def test_decay_end_points():
    assert fx.decay_u(0.0) == 4095  # current forgets everything: LIF without synaptic state
    assert fx.decay_v(1.0) == 0  # perfect integrator (IF)


@settings(max_examples=200)
@given(b=arrays(np.float64, st.integers(1, 10), elements=st.floats(-5e5, 5e5)))
def test_split_bias_reconstructs_within_half_an_lsb(b):
    mant, exp = fx.split_bias(b, T)
    assert np.all(np.abs(mant) <= T.bias_mant_max)
    # exact big-int reference: mant * 2**exp, compared in Python ints
    for m, v in zip(mant.tolist(), b.tolist()):
        assert abs(m * (1 << exp) - v) <= (1 << exp) / 2 + 1e-6
    assert exp == 0 or np.abs(b).max() > T.bias_mant_max * 2 ** (exp - 1)


def test_weight_exponent_uses_the_range():
    assert fx.weight_exponent(1.0, 254.0, SignMode.MIXED, T) == 0
    assert fx.weight_exponent(1.0, 255.0, SignMode.MIXED, T) == 1
    assert fx.weight_exponent(1.0, 127.0, SignMode.EXCITATORY, T) == -1
    assert fx.weight_exponent(1e-9, 1.0, SignMode.MIXED, T) == T.weight_exp_min
    assert fx.weight_exponent(1e9, 1.0, SignMode.MIXED, T) == T.weight_exp_max
    assert math.isclose(2.0 ** fx.weight_exponent(3.0, 1000.0, SignMode.MIXED, T) * 254, 4064)
    # a denormal weight underflows to ratio 0: smallest exponent, no math domain error
    assert fx.weight_exponent(5e-324, 1.0, SignMode.MIXED, T) == T.weight_exp_min

"""The QAT forward's integer layer (snnc.distill.integer) equals the numpy emulator step for
step, on what a compiled student never exercises but the arithmetic must get right: a Conv
accumulator beyond int32 (and a kernel weight beyond int32), and a population that switches
on late (start_step > 0) with non-zero u_init/v_init."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnc.backends import emulator
from snnc.backends.emulator.synapse import conv_matrix
from snnc.compiler.ir import loihi
from snnc.compiler.ir.arith import INT32_MAX
from snnc.compiler.ir.graph import Graph
from snnc.distill.integer import IntegerLayer


def _run_both(syn, comp: loihi.Compartment, x: np.ndarray, steps: int):
    """(emulator's raw spikes, v) from start_step on, and the IntegerLayer's on the float line."""
    g = Graph({"in": loihi.SpikeSource(tuple(x.shape[2:])), "s": syn, "c": comp},
              [("in", "s"), ("s", "c")])
    k = int(comp.start_step)
    raw = emulator.run(g, x, steps + k)
    layer = IntegerLayer.from_blocks("c", comp, syn)
    u, v = layer.init(x.shape[0])
    xt = torch.as_tensor(x)
    zeros = torch.zeros_like(xt[:, 0])
    spikes, volts = [], []
    for t in range(steps):
        r = k + t  # raw step: the synapse delivers the input spikes of raw step r − 1
        s_in = xt[:, r - 1] if 1 <= r <= x.shape[1] else zeros
        u, _, v, s = layer.step(u, v, layer.drive(s_in), t)
        spikes.append(s.numpy())
        volts.append(v.numpy())
    n = comp.size
    want_s = raw.spikes["c"][:, k:].reshape(x.shape[0], steps, n)
    want_v = raw.v["c"][:, k:].reshape(x.shape[0], steps, n)
    return (want_s, want_v), (np.stack(spikes, 1), np.stack(volts, 1))


def test_conv_beyond_int32_equals_the_emulator():
    rng = np.random.default_rng(0)
    w = rng.integers(-9, 10, size=(3, 2, 3, 3))
    w[1], w[2] = 2**28, -(2**28)  # 18 taps: sums up to ±4.8e9
    w[0, 0, 0, 0] = 2**32 + 3  # Lava's int32 weight Var holds 3
    syn = loihi.ConvSynapse(w, in_shape=(2, 5, 5), padding=(1, 1))
    n = syn.n_out
    comp = loihi.Compartment((n,), du=rng.integers(0, 4096, n), dv=100, vth=20,
                             bias_mant=rng.integers(-50, 50, n), bias_exp=3, readout="v")
    x = rng.random((4, 8, 2, 5, 5)) < 0.6
    sums = np.asarray(conv_matrix(syn) @ x.reshape(-1, 50).T.astype(np.float64))
    assert sums.max() > INT32_MAX and sums.min() < -INT32_MAX  # the accumulator leaves int32
    (ws, wv), (gs, gv) = _run_both(syn, comp, x, 9)
    np.testing.assert_array_equal(gv, wv)
    np.testing.assert_array_equal(gs, ws)


@pytest.mark.parametrize("start", [0, 3])
def test_late_start_with_initial_values_equals_the_emulator(start):
    rng = np.random.default_rng(1)
    n_in, n = 12, 7
    syn = loihi.Synapse(rng.integers(-200, 256, (n, n_in)), weight_exp=-1, num_weight_bits=6)
    comp = loihi.Compartment((n,), du=2047, dv=rng.integers(0, 300, n), vth=40,
                             bias_mant=rng.integers(-300, 300, n), bias_exp=2,
                             u_init=rng.integers(-5000, 5000, n), v_init=rng.integers(-2000, 2500, n),
                             readout="v", start_step=start)
    x = rng.random((5, 10, n_in)) < 0.5
    (ws, wv), (gs, gv) = _run_both(syn, comp, x, 10)
    np.testing.assert_array_equal(gv, wv)
    np.testing.assert_array_equal(gs, ws)
    assert np.any(wv[:, 0] != 0)

"""Hand-checked cases for the emulator, from loihi.md §1 ([measured] against Lava 0.10.0)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from snnc.backends import emulator
from snnc.backends.emulator.compartment import CompartmentState
from snnc.backends.emulator.synapse import SynapseState, effective_weights
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.loihi import SignMode
from snnc.errors import InputError, ValidationError

BIG_VTH = (1 << 17) - 1


def comp(n=1, du=0, dv=0, vth=BIG_VTH, bias=0, bias_exp=0, **kw) -> loihi.Compartment:
    return loihi.Compartment((n,), du, dv, vth, np.full(n, bias, np.int64), bias_exp, **kw)


def chain(*layers, n_in=1):
    """SpikeSource -> (Synapse, Compartment) * k, names s1/c1, s2/c2, ..."""
    nodes = {"in": loihi.SpikeSource((n_in,))}
    edges, prev = [], "in"
    for i, (syn, c) in enumerate(layers, 1):
        nodes[f"s{i}"], nodes[f"c{i}"] = syn, c
        edges += [(prev, f"s{i}"), (f"s{i}", f"c{i}")]
        prev = f"c{i}"
    return Graph(nodes, edges)


# ------------------------------------------------------------------- compartment arithmetic
def test_u_decay_truncates_toward_zero():
    # u=-4097, du=2047: -4097*2048/4096 = -2048.5 -> -2048 (floor would give -2049)
    st = CompartmentState(comp(du=2047, u_init=np.array([-4097])), batch=1)
    st.step(np.zeros((1, 1), np.int64), 0)
    assert st.u[0, 0] == -2048


def test_u_wraps_at_24_bits():
    # 600 inputs x weight 255 in one step: a_in = 153000, a_in << 6 = 9_792_000 > 2**23
    g = chain((loihi.Synapse(np.full((1, 600), 255)), comp(du=4095, dv=4095, readout="v")), n_in=600)
    r = emulator.run(g, np.ones((1, 1, 600)), 2)
    assert r.v["c1"][0, 1, 0] == 9_792_000 - 2**24 == -6_985_216


def test_u_wrap_is_a_single_conditional_step():
    st = CompartmentState(comp(du=4095, dv=4095), batch=1)
    st.step(np.array([[3 * 2**18]]), 0)  # 3*2**24 = 50_331_648 > 2**23: Lava subtracts 2**24 once
    assert st.u[0, 0] == 3 * 2**24 - 2**24


def test_v_saturates():
    # (positive saturation always spikes: 2**23 - 1 > (2**17 - 1) << 6)
    st = CompartmentState(comp(du=0, dv=0, bias=-4095, bias_exp=7), batch=1)
    for t in range(20):  # 20 * 524160 > 2**23
        st.step(np.zeros((1, 1), np.int64), t)
    assert st.v[0, 0] == -(2**23 - 1)


def test_bias_mant_5_exp_3_adds_40_per_step():
    g = chain((loihi.Synapse(np.zeros((1, 1), np.int64)), comp(bias=5, bias_exp=3, readout="v")))
    r = emulator.run(g, np.zeros((1, 0, 1)), 4)
    assert r.v["c1"][0, :, 0].tolist() == [40, 80, 120, 160]


def test_bias_negative_exponent_is_a_floor_shift():
    st = CompartmentState(comp(bias=-5, bias_exp=-1), batch=1)
    st.step(np.zeros((1, 1), np.int64), 0)
    assert st.v[0, 0] == -3


def test_large_bias_is_promoted_before_shift():
    # lava#329: bias_mant=4095, bias_exp=5 must give +131040, not an int16 overflow
    st = CompartmentState(comp(bias=4095, bias_exp=5), batch=1)
    st.step(np.zeros((1, 1), np.int64), 0)
    assert st.v[0, 0] == 131_040


def test_spike_is_strictly_above_vth_times_64_and_resets_v_only():
    st = CompartmentState(comp(du=0, dv=4095, vth=1), batch=1)
    s = st.step(np.array([[1]]), 0)  # u = 64, v = 64: not > 64
    assert not s[0, 0] and st.v[0, 0] == 64
    s = st.step(np.array([[1]]), 1)  # u = 64*4095/4096 -> 63, + 64 = 127 > 64
    assert s[0, 0] and st.v[0, 0] == 0 and st.u[0, 0] == 127


# ------------------------------------------------------------------------- weights
def test_mixed_weights_clip_and_drop_lsb():
    syn = loihi.Synapse(np.array([[3, -5, 300, -300, 7]]))
    assert syn.sign_mode == SignMode.MIXED
    assert effective_weights(syn).tolist() == [[2, -6, 254, -256, 6]]


def test_excitatory_weights_clip():
    syn = loihi.Synapse(np.array([[3, 5, 300, 7]]))
    assert effective_weights(syn).tolist() == [[3, 5, 255, 7]]


def test_excitatory_num_weight_bits_4():
    syn = loihi.Synapse(np.array([[3, 5, 255, 17]]), num_weight_bits=4)
    assert effective_weights(syn).tolist() == [[0, 0, 240, 16]]


def test_inhibitory_weights_truncate_magnitude():
    syn = loihi.Synapse(np.array([[-3, -17, -300, 5]]), num_weight_bits=4,
                        sign_mode=SignMode.INHIBITORY)
    assert effective_weights(syn).tolist() == [[0, -16, -240, 0]]


def test_sparse_weights_match_dense():
    w = np.array([[3, 0, -300], [0, 7, 0]])
    a = effective_weights(loihi.Synapse(w))
    b = effective_weights(loihi.Synapse(sp.csr_matrix(w)))
    assert np.array_equal(a, b.toarray())


def test_weight_exp_minus_2_floors_the_sum():
    syn = loihi.Synapse(np.array([[7], [-7]]), weight_exp=-2)  # truncated to [6, -8]
    st = SynapseState(syn, batch=1)
    st.update(np.ones((1, 1), bool))
    assert st.output().tolist() == [[1, -2]]


def test_weight_exp_positive_shifts_left():
    st = SynapseState(loihi.Synapse(np.array([[3, 5]]), weight_exp=3), batch=1)
    st.update(np.ones((1, 2), bool))
    assert st.output().tolist() == [[64]]


# --------------------------------------------------------------------------- timing
def test_one_step_delay_per_layer():
    strong = {"du": 4095, "dv": 4095, "vth": 0}
    g = chain(*[(loihi.Synapse(np.array([[255]])), comp(**strong)) for _ in range(3)])
    x = np.zeros((1, 6, 1))
    x[0, 1, 0] = 1
    r = emulator.run(g, x, 8)
    for k in (1, 2, 3):
        assert np.flatnonzero(r.spikes[f"c{k}"][0, :, 0]).tolist() == [1 + k]


def test_extra_synaptic_delays():
    w = np.array([[255], [255], [255]])
    g = chain((loihi.Synapse(w, delays=np.array([[0], [2], [5]])), comp(3, du=4095, dv=4095, vth=0)))
    x = np.zeros((1, 1, 1))
    x[0, 0, 0] = 1
    r = emulator.run(g, x, 10)
    first = [int(np.flatnonzero(r.spikes["c1"][0, :, i])[0]) for i in range(3)]
    assert first == [1, 3, 6]


def test_recurrent_self_connection_sustains_activity():
    nodes = {
        "in": loihi.SpikeSource((1,)),
        "s": loihi.Synapse(np.array([[255]])),
        "c": comp(du=4095, dv=4095, vth=0),
        "rec": loihi.Synapse(np.array([[255]])),
    }
    g = Graph(nodes, [("in", "s"), ("s", "c"), ("c", "rec"), ("rec", "c")])
    x = np.zeros((1, 1, 1))
    x[0, 0, 0] = 1
    r = emulator.run(g, x, 6)
    assert r.spikes["c"][0, :, 0].tolist() == [False] + [True] * 5


def test_start_step_holds_then_initialises():
    c = comp(2, bias=1, bias_exp=6, readout="v", start_step=3, v_init=np.array([100, -100]))
    g = chain((loihi.Synapse(np.zeros((2, 1), np.int64)), c))
    r = emulator.run(g, np.zeros((1, 0, 1)), 6)
    assert r.v["c1"][0, :, 0].tolist() == [0, 0, 0, 164, 228, 292]
    assert r.v["c1"][0, :, 1].tolist() == [0, 0, 0, -36, 28, 92]


def test_start_step_applies_u_init():
    c = comp(1, du=0, dv=4095, readout="v", start_step=2, u_init=np.array([4096]))
    g = chain((loihi.Synapse(np.zeros((1, 1), np.int64)), c))
    r = emulator.run(g, np.zeros((1, 0, 1)), 4)
    assert r.v["c1"][0, :, 0].tolist() == [0, 0, 4095, 4094]


def test_batch_equals_single_samples():
    rng = np.random.default_rng(0)
    g = chain(
        (loihi.Synapse(rng.integers(-300, 300, (6, 4))), comp(6, du=100, dv=200, vth=50)),
        (loihi.Synapse(rng.integers(-300, 300, (3, 6)), weight_exp=2), comp(3, dv=10, vth=90, readout="v")),
        n_in=4,
    )
    x = rng.random((5, 12, 4)) < 0.5
    full = emulator.run(g, x, 15)
    for b in range(5):
        one = emulator.run(g, x[b : b + 1], 15)
        for c in ("c1", "c2"):
            assert np.array_equal(one.spikes[c][0], full.spikes[c][b])
        assert np.array_equal(one.v["c2"][0], full.v["c2"][b])


def test_record_subset_and_shapes():
    g = Graph(
        {"in": loihi.SpikeSource((2, 2)), "s": loihi.Synapse(np.ones((6, 4), np.int64)),
         "c": loihi.Compartment((2, 3), 0, 0, 1, np.zeros(6, np.int64)),
         "p": loihi.Probe((2, 3))},
        [("in", "s"), ("s", "c"), ("c", "p")],
    )
    r = emulator.run(g, np.ones((2, 3, 2, 2)), 5, record=["c"])
    assert r.spikes["c"].shape == (2, 5, 2, 3) and r.spikes["c"].dtype == bool
    assert r.v == {} and r.steps == 5 and r.backend == "emulator"


# ---------------------------------------------------------------------------- errors
def _simple():
    return chain((loihi.Synapse(np.ones((1, 3), np.int64)), comp()), n_in=3)


@pytest.mark.parametrize(
    "x, steps, match",
    [
        (np.zeros((2, 4, 2)), 5, r"shape \(2, 4, 2\); expected \(batch, time, 3\)"),
        (np.zeros((4, 3)), 5, r"expected \(batch, time, 3\)"),
        (np.full((1, 2, 3), 0.5), 5, "binary spikes"),
        (np.zeros((1, 6, 3)), 5, "6 time steps but the run has only 5"),
        (np.array([["a", "b", "c"]]), 5, "dtype"),
        (np.zeros((1, 2, 3)), -1, "steps"),
    ],
)
def test_bad_input_raises_input_error(x, steps, match):
    with pytest.raises(InputError, match=match):
        emulator.run(_simple(), x, steps)


def test_unknown_record_name():
    with pytest.raises(InputError, match="cannot record 'nope'"):
        emulator.run(_simple(), np.zeros((1, 1, 3)), 2, record=["nope"])


def test_shape_mismatch_is_a_validation_error():
    g = chain((loihi.Synapse(np.ones((2, 3), np.int64)), comp(1)), n_in=3)
    with pytest.raises(ValidationError, match="2 rows but target 'c1' has 1 neurons"):
        emulator.run(g, np.zeros((1, 1, 3)), 2)


def test_delay_above_lava_limit_is_rejected():
    g = chain((loihi.Synapse(np.ones((1, 1), np.int64), delays=np.array([[64]])), comp()))
    with pytest.raises(ValidationError, match="0..63"):
        emulator.run(g, np.zeros((1, 1, 1)), 2)

"""Sigma-delta populations and graded synapses in the Loihi dialect (issue 14, decision 0007):
the verify rules and their errors, the wiring rules, save/load, the printer, the emulator's
two engines against each other, the fast path stepping aside, ``Program.run``, and lava-dl's
recorded tinynet SDNN fixture (Lava's own output) on the emulator."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from sigma_delta_programs import KINDS, programs  # tests/helpers

import snnc
from snnc.backends import emulator
from snnc.backends.emulator import fast
from snnc.backends.wiring import check_input, wiring
from snnc.compiler.conventions import Convention
from snnc.compiler.ir import loihi, verify
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.printer import format_graph
from snnc.compiler.ir.serialize import load_graph, save_graph
from snnc.compiler.targets import get_target
from snnc.errors import InputError, ValidationError

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "lava-dl-fixtures"
SD = loihi.SigmaDeltaCompartment


def chain(delta=None, sd=None, syn_kw=None, sigma=None) -> Graph:
    """input(4, int32) -> delta -> dense -> sigma_delta(3) -> dense -> sigma(2) -> probe."""
    rng = np.random.default_rng(0)
    nodes = {
        "in": loihi.SpikeSource(shape=(4,), payload="int32"),
        "d": delta or SD(shape=(4,), neuron="delta", vth=1, spike_exp=6, state_exp=6),
        "s1": loihi.Synapse(weights=rng.integers(-128, 128, (3, 4)) * 2, **{"num_message_bits": 16, **(syn_kw or {})}),
        "sd": sd or SD(shape=(3,), neuron="sigma_delta", vth=2, bias=np.array([5, -3, 0]), spike_exp=6, state_exp=6),
        "s2": loihi.Synapse(weights=rng.integers(-128, 128, (2, 3)) * 2, num_message_bits=16),
        "sg": sigma or SD(shape=(2,), neuron="sigma"),
        "out": loihi.Probe(shape=(2,)),
    }
    edges = [("in", "d"), ("d", "s1"), ("s1", "sd"), ("sd", "s2"), ("s2", "sg"), ("sg", "out")]
    return Graph(nodes, edges)


def first_problem(g: Graph) -> verify.Problem:
    ps = verify.problems(g)
    assert ps, "expected a problem"
    return ps[0]


# ------------------------------------------------------------------------------ verify
def test_a_valid_chain_has_no_problems_and_wires():
    g = chain()
    assert verify.problems(g) == []
    w = wiring(g)
    assert w.sigma_deltas == ("d", "sd", "sg") and w.compartments == ()
    assert w.direct == ("d",) and w.comp_in["sd"] == ("s1",)


@pytest.mark.parametrize(
    ("node", "field", "limit"),
    [
        (SD(shape=(4,), neuron="delta", vth=1, spike_exp=8), "spike_exp", "0..7"),
        (SD(shape=(4,), neuron="delta", vth=1, state_exp=-1), "state_exp", "0..7"),
        (SD(shape=(4,), neuron="delta", vth=-1), "vth", "0..2147483647"),
        (SD(shape=(4,), neuron="delta", vth=1.5), "vth", "one int"),
        (SD(shape=(4,), neuron="delta", vth=1, activation="tanh"), "activation", "relu, unit"),
        (SD(shape=(4,), neuron="delta", vth=1, activation="unit"), "activation", "sigma_delta only"),
        (SD(shape=(4,), neuron="delta", vth=1, bias=np.ones(4, np.int64)), "bias", "sigma_delta only"),
        (SD(shape=(4,), neuron="lif"), "neuron", "delta, sigma_delta, sigma"),
        (SD(shape=(4,), neuron="delta", vth=1, out_scale=0.0), "out_scale", "> 0"),
    ],
)
def test_delta_register_errors_name_field_value_and_limit(node, field, limit):
    p = first_problem(chain(delta=node))
    assert p.node == "d" and p.field == field and limit in p.limit
    with pytest.raises(ValidationError) as e:  # the run-time structure check says the same
        wiring(chain(delta=node))
    assert e.value.node == "d" and field in str(e.value)


def test_sigma_takes_no_registers_and_sigma_delta_bias_is_int32_per_neuron():
    p = first_problem(chain(sigma=SD(shape=(2,), neuron="sigma", vth=3)))
    assert (p.node, p.field) == ("sg", "vth") and "delta and sigma_delta only" in p.limit
    p = first_problem(chain(sd=SD(shape=(3,), neuron="sigma_delta", vth=0, bias=np.array([1, 2]))))
    assert (p.node, p.field) == ("sd", "bias") and "one value per neuron (3)" in p.limit
    p = first_problem(chain(sd=SD(shape=(3,), neuron="sigma_delta", vth=0, bias=np.array([1, 2, 1 << 31]))))
    assert (p.node, p.field, p.value) == ("sd", "bias[2]", repr(1 << 31))


def test_num_message_bits_range():
    p = first_problem(chain(syn_kw={"num_message_bits": 32}))
    assert (p.node, p.field, p.value) == ("s1", "num_message_bits", "32") and "0..31" in p.limit
    with pytest.raises(ValidationError, match="num_message_bits=32"):
        wiring(chain(syn_kw={"num_message_bits": 32}))


def test_int32_input_into_a_binary_synapse_is_refused_but_graded_is_wired():
    nodes = {"in": loihi.SpikeSource(shape=(2,), payload="int32"),
             "s": loihi.Synapse(weights=np.ones((2, 2), np.int64)),
             "sg": SD(shape=(2,), neuron="sigma")}
    g = Graph(nodes, [("in", "s"), ("s", "sg")])
    assert "graded synapses only" in first_problem(g).limit
    with pytest.raises(ValidationError, match="num_message_bits=0") as e:
        wiring(g)
    assert e.value.node == "s" and "num_message_bits > 0" in e.value.hint
    g2 = Graph({**nodes, "s": loihi.Synapse(weights=np.ones((2, 2), np.int64), num_message_bits=8)},
               [("in", "s"), ("s", "sg")])
    assert verify.problems(g2) == []
    wiring(g2)
    # an input value beyond the synapse's 8-bit payload: named with its limit and the fix
    with pytest.raises(InputError, match=r"-129 .* 8-bit graded payload of synapse 's'.*-128\.\.127") as e:
        check_input(g2, np.array([[[1, -129]]]))
    assert "num_message_bits" in e.value.hint
    check_input(g2, np.array([[[127, -128]]]))


def test_bias_route_refuses_a_sigma_delta_target():
    with pytest.raises(InputError, match="sigma-delta population 'd'"):
        check_input(chain(), np.zeros((1, 4)), route="bias")


def test_hardware_warning_on_a_payload_of_2_to_23():
    sd = SD(shape=(3,), neuron="sigma_delta", vth=0, bias=np.array([0, 1 << 17, 0]), spike_exp=6, state_exp=6)
    ws = verify.hardware_warnings(chain(sd=sd))
    assert [(p.node, p.field) for p in ws] == [("sd", "bias[1]")] and "2^23" in ws[0].limit
    with pytest.warns(verify.HardwareRangeWarning, match="'sd'"):
        wiring(chain(sd=sd))
    small = SD(shape=(3,), neuron="sigma_delta", vth=0, bias=np.array([0, (1 << 17) - 1, 0]), spike_exp=6, state_exp=6)
    assert verify.hardware_warnings(chain(sd=small)) == []


# ------------------------------------------------------------------------------ save, print
def test_save_load_round_trip_and_printer(tmp_path):
    g = chain(syn_kw={"num_message_bits": 7})
    g2 = load_graph(save_graph(g, tmp_path / "g"))
    assert format_graph(g2) == format_graph(g)
    sd = g2["sd"]
    assert isinstance(sd, SD) and sd.neuron == "sigma_delta" and sd.bias.tolist() == [5, -3, 0]
    assert g2["s1"].num_message_bits == 7
    text = format_graph(g)
    assert "num_message_bits=7" in text and "neuron='sigma_delta'" in text
    # a binary synapse prints as before (the field is quiet at its default)
    assert "num_message_bits" not in format_graph(Graph({"a": loihi.Synapse(weights=np.ones((1, 1), np.int64))}, []))


def program(g: Graph, latency: int = 2) -> snnc.Program:
    return snnc.Program(g, Convention(), get_target("loihi2"), {"out": latency})


def test_program_save_load_and_run_int32(tmp_path):
    prog = program(chain())
    prog.save(tmp_path / "p")
    back = snnc.Program.load(tmp_path / "p")
    x = np.random.default_rng(1).integers(-100, 100, (2, 6, 4))
    y = back.run(x)
    raw = emulator.run(prog.graph, x, 8)
    assert y.dtype == np.int32 and y.shape == (2, 6, 2)
    assert np.array_equal(y, raw.payload["sg"][:, 2:8])
    assert np.array_equal(raw.spikes["sg"], raw.payload["sg"] != 0)
    scaled = program(chain(sigma=SD(shape=(2,), neuron="sigma", out_scale=4.0)))
    assert np.array_equal(scaled.run(x), raw.payload["sg"][:, 2:8] / 4.0)


# ------------------------------------------------------------------------------ engines
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=programs(KINDS[0]) | programs(KINDS[1]) | programs(KINDS[2]) | programs(KINDS[3]))
def test_torch_engine_equals_numpy_engine(case):
    g, x, steps = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", verify.HardwareRangeWarning)
        a = emulator.run(g, x, steps)
        b = emulator.run(g, x, steps, device="cpu")
    assert a.payload.keys() == b.payload.keys() and a.spikes.keys() == b.spikes.keys()
    for c in a.payload:
        assert np.array_equal(a.payload[c], b.payload[c]), c
    for c in a.spikes:
        assert np.array_equal(a.spikes[c], b.spikes[c]), c


def test_fast_path_steps_aside():
    g = chain()
    assert fast.plan(g, wiring(g)) is None
    lif = {"in": loihi.SpikeSource(shape=(3,)),
           "s": loihi.Synapse(weights=np.ones((2, 3), np.int64), num_message_bits=8),
           "c": loihi.Compartment(shape=(2,), du=4095, dv=0, vth=10, bias_mant=np.zeros(2, np.int64))}
    g2 = Graph(lif, [("in", "s"), ("s", "c")])
    assert fast.plan(g2, wiring(g2)) is None  # a graded synapse between LIF populations
    g3 = Graph({**lif, "s": loihi.Synapse(weights=np.ones((2, 3), np.int64))}, [("in", "s"), ("s", "c")])
    assert fast.plan(g3, wiring(g3)) is not None
    x = np.random.default_rng(0).integers(0, 2, (fast.MIN_BATCH, 5, 3))
    assert np.array_equal(emulator.run(g2, x, 5).spikes["c"], emulator.run(g3, x, 5).spikes["c"])


# ------------------------------------------------------------------------------ lava-dl fixture
@pytest.mark.skipif(not (FIXTURES / "tinynet_sdnn").is_dir(), reason="lava-dl fixtures not present")
def test_tinynet_sdnn_fixture():
    """lava-dl's test_blocks.py::TestSDNBlocks, recorded by Lava: the Input block (Delta, vth 20,
    exps 6) on ``input_bias · sin``; a SigmaDelta layer's bias response; its payloads through a
    *binary* Dense into a Sigma (negative payloads count as +1 spikes)."""
    fx = FIXTURES / "tinynet_sdnn"
    ib = np.load(fx / "input_bias.npy")
    x = (np.repeat(ib[..., None], 15, axis=3) * np.sin(2 * np.pi * np.arange(15) / 15)).astype(int)
    gt_in, gt1, gt2 = (np.load(fx / f) for f in ("input.npy", "layer1.npy", "layer2.npy"))
    g = Graph({"in": loihi.SpikeSource(shape=ib.shape, payload="int32"),
               "d": SD(shape=ib.shape, neuron="delta", vth=20, spike_exp=6, state_exp=6)}, [("in", "d")])
    r = emulator.run(g, np.moveaxis(x, -1, 0)[None], 15)
    assert np.array_equal(np.moveaxis(r.payload["d"][0], 0, -1), gt_in)
    b1, w2 = np.load(fx / "layer1_bias.npy"), np.load(fx / "layer2_weight.npy")
    bias = np.broadcast_to(b1, gt1.shape[:3]).astype(np.int32).reshape(-1)
    g = Graph({"l1": SD(shape=gt1.shape[:3], neuron="sigma_delta", vth=20, bias=bias, spike_exp=6, state_exp=6),
               "syn": loihi.Synapse(weights=np.asarray(w2, np.int64)),
               "l2": SD(shape=(w2.shape[0],), neuron="sigma")}, [("l1", "syn"), ("syn", "l2")])
    for device in (None, "cpu"):
        r = emulator.run(g, np.zeros((1, 0)), 16, device=device)
        assert np.array_equal(np.moveaxis(r.payload["l1"][0], 0, -1), gt1)
        assert np.array_equal(r.payload["l2"][0].T, gt2)
    graded = Graph({**g.nodes, "syn": loihi.Synapse(weights=np.asarray(w2, np.int64), num_message_bits=16)},
                   [("l1", "syn"), ("syn", "l2")])
    r = emulator.run(graded, np.zeros((1, 0)), 16)
    assert not np.array_equal(r.payload["l2"][0].T, gt2)  # the fixture pins the binary path down


# ------------------------------------------------------------------------------ ONNX step model
@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=programs(KINDS[0]) | programs(KINDS[1]) | programs(KINDS[2]) | programs(KINDS[3]))
def test_onnx_step_model_equals_the_emulator(case):
    """The ONNX step model (arith on OnnxOps: sigma-delta states, graded MatMul, per-product
    DelayDense wraps) equals the emulator, payload for payload."""
    from snnc.backends.onnx_step import export_graph, run_step_model

    g, x, steps = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", verify.HardwareRangeWarning)
        out = run_step_model(export_graph(g), x, steps)
        emu = emulator.run(g, x, steps)
    for c in emu.payload:
        assert np.array_equal(out[f"payload.{c}"], emu.payload[c]), c
    for c in set(emu.spikes) - set(emu.payload):
        assert np.array_equal(out[f"spikes.{c}"].astype(bool), emu.spikes[c]), c


def test_input_check_warns_on_a_first_payload_of_2_to_23():
    g = chain()  # the delta has spike_exp = state_exp = 6: payload = x << 6 at step 0
    with pytest.warns(verify.HardwareRangeWarning, match=r"'d': input value 131072 .* payload of 8388608"):
        check_input(g, np.array([[[0, 1 << 17, 0, 0]]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", verify.HardwareRangeWarning)
        check_input(g, np.array([[[0, (1 << 17) - 1, 0, 0]]]))


def test_backends_without_sigma_delta_support_refuse_it_naming_the_layer():
    from snnc.backends import loihi2_hw
    from snnc.calibration.trace import chip_traces

    g = chain()
    x = np.zeros((1, 3, 4), np.int64)
    with pytest.raises(ValidationError, match="Loihi 2 hardware backend does not support sigma-delta") as e:
        loihi2_hw.run(g, x, 3)
    assert e.value.node == "d" and "backend='lava'" in e.value.hint
    with pytest.raises(ValidationError, match="chip traces") as e:
        chip_traces(g, x, 3)
    assert e.value.node == "d"


def test_record_subsets_and_states_with_sigma_delta_populations():
    g = chain()
    x = np.random.default_rng(3).integers(-50, 50, (2, 4, 4))
    full = emulator.run(g, x, 6)
    part = emulator.run(g, x, 6, record=["sd"], states=True)
    assert set(part.payload) == {"sd"} and part.u == {} and part.v == {}
    assert np.array_equal(part.payload["sd"], full.payload["sd"])
    with pytest.raises(InputError, match="cannot record 's1'"):
        emulator.run(g, x, 6, record=["s1"])

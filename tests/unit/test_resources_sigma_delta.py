"""Mapping and the resource check of sigma-delta programs: per-neuron state (sigma, act,
residue, error: 24 bits each; a LIF holds u, v) decides how many neurons a core takes, and
graded payloads wider than Loihi 2's 24 bits are refused; the report carries both per core."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import snnc
from snnc.compiler.artifact import Artifact
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.cost import state_bits, state_registers
from snnc.compiler.targets import get_target
from snnc.errors import ResourceError

PER_CORE = 60  # a small target: 60 LIF neurons (60 · 48 state bits) per core


def _target():
    return dataclasses.replace(get_target("loihi2"), neurons_per_core=PER_CORE)


def _prog(kind: str, n: int = 200, nmb: int = 16, cum_error: bool = False) -> snnc.Program:
    rng = np.random.default_rng(0)
    if kind == "lif":
        pop = loihi.Compartment((n,), 100, 200, 10, np.zeros(n, np.int64))
    else:
        pop = loihi.SigmaDeltaCompartment((n,), neuron=kind, vth=1, spike_exp=6, state_exp=6, cum_error=cum_error,
                                          **({"bias": np.zeros(n, np.int64)} if kind == loihi.SIGMA_DELTA else {}))
    nodes = {"in": loihi.SpikeSource((8,), payload="int32"),
             "syn": loihi.Synapse(2 * rng.integers(-20, 20, (n, 8)), num_message_bits=nmb if kind != "lif" else 0),
             "pop": pop, "out": loihi.Probe((n,))}
    if kind == "lif":
        nodes["in"] = loihi.SpikeSource((8,))
    g = Graph(nodes, [("in", "syn"), ("syn", "pop"), ("pop", "out")])
    return snnc.Program.wrap(Artifact(g, Convention(), get_target("loihi2"), {"out": 1}, []))


def test_state_registers_per_neuron_kind():
    assert state_registers(_prog("lif").graph["pop"]) == 2
    assert [state_registers(_prog(k).graph["pop"]) for k in (loihi.DELTA, loihi.SIGMA_DELTA, loihi.SIGMA)] == [2, 3, 1]
    assert state_registers(_prog(loihi.SIGMA_DELTA, cum_error=True).graph["pop"]) == 4  # + error
    assert state_bits(_prog(loihi.SIGMA_DELTA).graph["pop"]) == 72


@pytest.mark.parametrize("kind, per_core", [("lif", PER_CORE), (loihi.SIGMA_DELTA, PER_CORE * 2 // 3),
                                            (loihi.SIGMA, PER_CORE)])
def test_a_core_holds_fewer_sigma_delta_neurons(kind, per_core):
    prog = snnc.compile(_prog(kind), target=_target())
    rep = prog.resources().to_dict()
    assert max(rep["per_core"]["neurons"]) <= per_core
    assert prog.placement.n_cores == -(-200 // per_core)
    limit = rep["target"]["limits"]["neuron_state_bits"]
    assert limit == PER_CORE * 48 and max(rep["per_core"]["state_bits"]) <= limit
    assert rep["per_core"]["message_bits"] == [0 if kind == "lif" else 16] * prog.placement.n_cores
    assert rep["layers"][0]["max_state_bits_util"] <= 1.0


def test_state_memory_over_a_core_is_a_resource_error_naming_the_layer():
    """50 sigma_delta neurons are within the 60-neuron count, not within 60 LIF neurons' state."""
    with pytest.raises(ResourceError, match=r"neuron state memory \(bits\) on core 0: 3600 > limit 2880") as e:
        snnc.compile(_prog(loihi.SIGMA_DELTA, n=50), target=_target(), allow_split=False)
    assert e.value.node == "pop" and "allow splitting" in e.value.hint
    assert snnc.compile(_prog("lif", n=50), target=_target(), allow_split=False).placement.n_cores == 1
    assert snnc.compile(_prog(loihi.SIGMA_DELTA, n=40), target=_target(), allow_split=False).placement.n_cores == 1


def test_payloads_wider_than_loihi2_graded_spikes_are_refused():
    with pytest.raises(ResourceError, match="num_message_bits 28 > limit 24") as e:
        snnc.compile(_prog(loihi.SIGMA_DELTA, nmb=28), target=_target())
    assert e.value.node == "syn" and "messageBits" in e.value.hint
    assert snnc.compile(_prog(loihi.SIGMA_DELTA, nmb=24), target=_target()).placement is not None

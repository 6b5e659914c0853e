"""Graded messages in the profiler: counted per step and per inference, charged by payload.

A small sigma-delta chain (int32 input -> Delta -> graded dense -> SigmaDelta -> BINARY conv-free
dense -> SigmaDelta -> graded dense -> Sigma) runs on the emulator; a brute force walks every
(sample, step, neuron) with a non-zero payload and every stored synapse of it with plain loops:
one graded message per non-zero payload, its fan-out in graded SynOps into a graded block (binary
SynOps into a binary block), and ``num_message_bits`` payload bits per destination core.  The
energy terms are those counts times the coefficients; the report and its JSON carry them next
to every key they had before.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from snnc.backends import emulator
from snnc.backends.emulator.synapse import effective_weights
from snnc.backends.lava import lava_available
from snnc.compiler.artifact import Artifact
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.placement import Placement
from snnc.compiler.targets import get_target
from snnc.profiler import count_events, estimate, load_coefficients
from snnc.profiler.counts import HOST_PAYLOAD_BITS
from snnc.profiler.energy import PJ
from snnc.program import Program

B, T = 2, 10
NMB = {"s1": 16, "s2": 0, "s3": 12}


def _w(rng, n_out, n_in):
    w = 2 * rng.integers(-30, 40, (n_out, n_in))
    w[rng.random(w.shape) < 0.3] = 0
    return w


def sd_net(rng) -> Graph:
    sd = dict(spike_exp=6, state_exp=6)
    nodes = {
        "in": loihi.SpikeSource((6,), payload="int32"),
        "d": loihi.SigmaDeltaCompartment((6,), neuron=loihi.DELTA, vth=1, **sd),
        "s1": loihi.Synapse(_w(rng, 8, 6), num_message_bits=NMB["s1"]),
        "a": loihi.SigmaDeltaCompartment((8,), neuron=loihi.SIGMA_DELTA, vth=2, bias=rng.integers(-20, 20, 8), **sd),
        "s2": loihi.Synapse(_w(rng, 5, 8), num_message_bits=NMB["s2"]),
        "b": loihi.SigmaDeltaCompartment((5,), neuron=loihi.SIGMA_DELTA, vth=0, bias=rng.integers(-5, 30, 5), **sd),
        "s3": loihi.Synapse(_w(rng, 3, 5), num_message_bits=NMB["s3"]),
        "o": loihi.SigmaDeltaCompartment((3,), neuron=loihi.SIGMA),
        "o:out": loihi.Probe((3,)),
    }
    edges = [("in", "d"), ("d", "s1"), ("s1", "a"), ("a", "s2"), ("s2", "b"), ("b", "s3"), ("s3", "o"),
             ("o", "o:out")]
    return Graph(nodes, edges)


def _placement(g: Graph, rng) -> Placement:
    pops = g.of_kind(*loihi.NEURON_OPS)
    core_of = {c: rng.integers(0, 4, g[c].size).astype(np.int32) for c in pops}
    return Placement("test", core_of, np.array([0, 0, 1, 1], np.int32), "random")


def brute_force(g: Graph, raw, pl: Placement):
    """Per block: (graded SynOps, binary SynOps, payload bits); per population: messages."""
    steps = raw.steps
    sent = {n: raw.payload[n].reshape(B, steps, -1) for n in raw.payload}
    out = {}
    for name in ("s1", "s2", "s3"):
        pre, post = g.predecessors(name)[0], g.successors(name)[0]
        w = effective_weights(g[name])
        ops = bits = 0
        for b in range(B):
            for t in range(steps):
                for j in range(w.shape[1]):
                    if sent[pre][b, t, j] == 0:
                        continue
                    targets = [i for i in range(w.shape[0]) if w[i, j] != 0]
                    ops += len(targets)
                    bits += NMB[name] * len({int(pl.core_of[post][i]) for i in targets})
        out[name] = (ops, bits)
    messages = {n: int(np.count_nonzero(v)) for n, v in sent.items()}
    return out, messages


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_graded_counts_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    g = sd_net(rng)
    x = rng.integers(-40, 40, (B, T, 6)).astype(np.int32)
    x[:, 3:6] = x[:, 2:3]  # held values: the Delta sends nothing there
    raw = emulator.run(g, x, T + 3)
    pl = _placement(g, rng)
    c = count_events(g, x, raw, pl)
    blocks, messages = brute_force(g, raw, pl)
    assert c.block_graded_synops == {"s1": blocks["s1"][0], "s3": blocks["s3"][0]}
    assert c.block_synops == {"s2": blocks["s2"][0]}  # binary: a non-zero payload is one spike
    assert all(v[0] > 0 for v in blocks.values()), "a silent block makes the comparison empty"
    for pop in ("d", "a", "b", "o"):
        assert c.layers[pop].graded and c.layers[pop].graded_messages == messages[pop] == c.layers[pop].spikes
    assert c.layers["d"].payload_bits == blocks["s1"][1]
    assert c.layers["a"].payload_bits == 0 and c.layers["b"].payload_bits == blocks["s3"][1]
    assert c.layers["a"].graded_synops_in == blocks["s1"][0] and c.layers["a"].synops_in == 0
    assert c.layers["b"].synops_in == blocks["s2"][0] and c.layers["b"].graded_synops_in == 0
    # the input's values into the Delta's a_in: one host message of 24 bits each
    assert c.layers["in"].graded_messages == np.count_nonzero(x)
    assert c.layers["in"].payload_bits == HOST_PAYLOAD_BITS * np.count_nonzero(x)
    # per step: every population's non-zero payloads (and the input's values) at that step
    per_step = sum(np.count_nonzero(raw.payload[p].reshape(B, raw.steps, -1), axis=(0, 2)) for p in "dabo")
    per_step[:T] += np.count_nonzero(x, axis=(0, 2))
    assert c.graded_per_step.tolist() == per_step.tolist()
    assert c.graded_messages == int(per_step.sum())


def test_energy_charges_graded_synops_and_payload_bits():
    rng = np.random.default_rng(5)
    g = sd_net(rng)
    x = rng.integers(-40, 40, (B, T, 6)).astype(np.int32)
    raw = emulator.run(g, x, T + 3)
    c = count_events(g, x, raw, _placement(g, rng))
    co = load_coefficients("loihi2")
    e = estimate(c, co)
    layers = {la.name: la for la in e.layers}
    for name, lc in c.layers.items():
        assert layers[name].dynamic_J["graded_payload"] == pytest.approx(
            lc.payload_bits * co["graded_payload_bit_pJ"] * PJ / B)
        assert layers[name].dynamic_J["graded_synops"] == pytest.approx(
            lc.graded_synops_in * co["graded_synop_pJ"] * PJ / B)
    assert sum(la.dynamic_J["graded_payload"] for la in e.layers) > 0
    # a set with the payload cost at 0 loses exactly that term
    zero = dataclasses.replace(co, coefficients={**co.coefficients, "graded_payload_bit_pJ": dataclasses.replace(
        co.coefficients["graded_payload_bit_pJ"], value=0.0)})
    assert e.dynamic_J - estimate(c, zero).dynamic_J == pytest.approx(
        sum(lc.payload_bits for lc in c.layers.values()) * co["graded_payload_bit_pJ"] * PJ / B)


def test_report_shows_graded_messages_and_keeps_every_key():
    rng = np.random.default_rng(7)
    g = sd_net(rng)
    prog = Program.wrap(Artifact(g, Convention(), get_target("loihi2"), {"o:out": 3}, []))
    x = rng.integers(-40, 40, (B, T, 6)).astype(np.int32)
    rep = prog.profile(x)
    d = rep.to_dict()
    counts = d["per_inference"]["counts"]
    old = {"synops", "graded_synops", "spikes", "input_spikes", "neuron_updates_active", "neuron_updates_idle",
           "routed_within_core", "routed_within_chip", "routed_across_chips", "host_messages", "steps"}
    assert old <= set(counts) and {"messages", "graded_messages", "payload_bits"} <= set(counts)
    assert counts["graded_messages"] == rep.counts.graded_messages / B > 0
    assert counts["messages"] == counts["spikes"] + counts["input_spikes"]
    assert len(d["per_inference"]["graded_messages_per_step"]) == rep.counts.steps
    assert sum(d["per_inference"]["graded_messages_per_step"]) == pytest.approx(counts["graded_messages"])
    layer = {r["name"]: r for r in d["layers"]}
    assert layer["a"]["graded_synops"] > 0 and layer["d"]["payload_bits"] > 0 and layer["d"]["graded"]
    assert {"name", "kind", "cores", "dynamic_J", "dynamic_total_J", "static_J", "total_J", "synops",
            "spikes"} <= set(layer["a"])
    assert "graded_payload" in layer["d"]["dynamic_J"] and "block_graded_synops" in d
    text = rep.text()
    assert "graded messages" in text and "payload bits" in text and "graded_payload_bit_pJ" in text
    assert any("graded messages: every non-zero payload" in n for n in d["notes"])


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_lava_backend_run_gives_the_same_counts():
    """The counts read from a Lava run (int32 sinks -> RunResult.payload) equal the emulator's."""
    rng = np.random.default_rng(9)
    g = sd_net(rng)
    prog = Program.wrap(Artifact(g, Convention(), get_target("loihi2"), {"o:out": 3}, []))
    x = rng.integers(-40, 40, (1, T, 6)).astype(np.int32)
    a, b = prog.profile(x).to_dict(), prog.profile(x, backend="lava").to_dict()
    assert a["per_inference"]["counts"] == b["per_inference"]["counts"]
    assert a["per_inference"]["graded_messages_per_step"] == b["per_inference"]["graded_messages_per_step"]
    assert a["per_inference"]["counts"]["graded_messages"] > 0 and b["backend"] == "lava"

"""partition pass: cost model, splits at the limits, exact sparse axons, chip strategies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

import snnc
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.targets import get_target
from snnc.errors import ResourceError
from snnc.compiler.mapping.cost import axon_bits
from snnc.compiler.mapping.placement import Placement
from snnc.compiler.mapping.usage import Block, blocks_of, sparse_runs

DT = 1e-4


def lif(n: int) -> ops.LIF:
    tau = np.full(n, DT / 0.1)
    return ops.LIF(tau, tau / DT, np.zeros(n), np.ones(n), np.zeros(n))


def chain(sizes: list[int], seed: int = 0, density: float = 1.0) -> Graph:
    """Input(sizes[0]) -> Linear -> LIF(sizes[1]) -> ... -> Output, mixed-sign weights."""
    rng = np.random.default_rng(seed)
    nodes, edges = {"in": ops.Input((sizes[0],))}, []
    prev = "in"
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.normal(0, 1.0, (b, a)) / np.sqrt(a)
        w[rng.random((b, a)) > density] = 0.0
        nodes[f"fc{i}"], nodes[f"lif{i}"] = ops.Linear(w), lif(b)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["out"] = ops.Output((sizes[-1],))
    edges.append((prev, "out"))
    return Graph(nodes, edges)


def target(**limits):
    return dataclasses.replace(get_target("loihi2"), **limits)


def cores_per_layer(prog) -> dict[str, int]:
    return {p: int(np.unique(c).size) for p, c in prog.placement.core_of.items()}


def test_axon_bits_follows_the_block_format():
    spec = get_target("loihi1")
    # 64 synapses of 9 bits + 10-bit header = 586 -> 10 words; one more synapse opens a block
    assert axon_bits(64, 9, spec) == 640
    assert axon_bits(65, 9, spec) == 640 + 64
    assert axon_bits(6, 9, spec) == 64 and axon_bits(7, 9, spec) == 128
    assert axon_bits(0, 9, spec) == 0
    np.testing.assert_array_equal(axon_bits(np.array([1, 6, 7]), 9, spec), [64, 64, 128])


def test_neuron_limit_hit_exactly_at_the_boundary():
    spec = target(neurons_per_core=10)
    fits = snnc.compile(chain([4, 10, 11]), target=spec)
    assert cores_per_layer(fits) == {"lif0": 1, "lif1": 2}
    usage = fits.resources().usage
    assert usage.neurons.max() == 10


def test_synapse_memory_limit_hit_exactly_at_the_boundary():
    g = chain([8, 12])
    field = blocks_of(snnc.compile(g).graph, get_target("loihi2"))[0].field_bits
    per_axon = int(axon_bits(6, field, get_target("loihi2")))  # 6 neurons of 9-bit weights: 1 word
    assert per_axon < int(axon_bits(7, field, get_target("loihi2")))
    prog = snnc.compile(g, target=target(synapse_memory_bits=8 * per_axon))
    assert cores_per_layer(prog) == {"lif0": 2}
    assert prog.resources().usage.synapse_bits.max() == 8 * per_axon
    with pytest.raises(ResourceError, match=rf"synapse memory .*{8 * per_axon} > limit {8 * per_axon - 1}") as e:
        snnc.compile(g, target=target(synapse_memory_bits=8 * per_axon - 1))
    assert e.value.node == "lif0" and "single neuron's fan-in" in e.value.hint


def test_fan_in_limit_at_the_boundary():
    snnc.compile(chain([8, 4]), target=target(fan_in_axons=8))
    with pytest.raises(ResourceError, match=r"input axons .*8 > limit 7") as e:
        snnc.compile(chain([8, 4]), target=target(fan_in_axons=7))
    assert e.value.node == "lif0" and "narrow the layer's input" in e.value.hint


def test_fan_out_limit_splits_the_sending_layer():
    # lif0 (20) feeds lif1 (40, 4 cores of 10): each lif0 neuron needs 4 output axons
    spec = target(neurons_per_core=10, fan_out_axons=8)
    prog = snnc.compile(chain([4, 20, 40]), target=spec)
    usage = prog.resources().usage
    assert usage.axons_out.max() <= 8
    assert cores_per_layer(prog)["lif0"] == 10  # 2 neurons x 4 destination cores = 8 axons


def test_every_neuron_placed_and_within_limits():
    spec = target(neurons_per_core=16, synapse_memory_bits=4096, fan_in_axons=64, fan_out_axons=512)
    prog = snnc.compile(chain([30, 50, 40, 10], density=0.3), target=spec)
    pl = prog.placement
    for name in prog.graph.of_kind(loihi.Compartment):
        assert pl.core_of[name].shape == (prog.graph[name].size,)
    u = prog.resources().usage
    assert u.neurons.sum() == sum(prog.graph[c].size for c in prog.graph.of_kind(loihi.Compartment))
    assert (u.synapse_bits <= 4096).all() and (u.axons_in <= 64).all() and (u.axons_out <= 512).all()


def test_sparse_runs_are_exact():
    rng = np.random.default_rng(3)
    w = sp.random(60, 45, density=0.15, random_state=4, format="csr", data_rvs=lambda k: rng.integers(1, 9, k))
    syn = loihi.Synapse(w.astype(np.int64))
    blk = Block("s", "a", "b", "sparse", syn, 9, syn.num_synapses)
    post_core = np.repeat(np.arange(4, dtype=np.int32), [10, 20, 5, 25])
    per_col, core, length = sparse_runs(blk, post_core)
    coo = w.tocoo()
    want: dict[tuple[int, int], int] = {}
    for r, c in zip(coo.row, coo.col):
        key = (int(c), int(post_core[r]))
        want[key] = want.get(key, 0) + 1
    col = np.repeat(np.arange(45), per_col)
    got = {(int(c), int(k)): int(n) for c, k, n in zip(col, core, length)}
    assert got == want


def _branches() -> Graph:
    """in -> X (30) -> W (10) and in -> Y (20) -> Z (20); node order X, Y, Z, W."""
    rng = np.random.default_rng(1)

    def lin(a, b, gain=1.0):
        return ops.Linear(rng.normal(0, gain, (b, a)) / np.sqrt(a))

    nodes = {"in": ops.Input((6,)), "fx": lin(6, 30), "X": lif(30), "fy": lin(6, 20), "Y": lif(20),
             "fz": lin(20, 20), "Z": lif(20), "fw": lin(30, 10), "W": lif(10),
             "o1": ops.Output((10,)), "o2": ops.Output((20,))}
    edges = [("in", "fx"), ("fx", "X"), ("in", "fy"), ("fy", "Y"), ("Y", "fz"), ("fz", "Z"),
             ("X", "fw"), ("fw", "W"), ("W", "o1"), ("Z", "o2")]
    return Graph(nodes, edges)


def test_comm_strategy_cuts_fewer_synapses_than_greedy():
    spec = target(neurons_per_core=10, cores_per_chip=4, chips_per_system=4)
    greedy = snnc.compile(_branches(), target=spec, mapping="greedy")
    comm = snnc.compile(_branches(), target=spec, mapping="comm")
    assert greedy.placement.strategy == "greedy" and comm.placement.strategy == "comm"
    assert greedy.placement.n_chips == comm.placement.n_chips == 2
    cut_g = greedy.resources().to_dict()["cross_chip_synapses"]
    cut_c = comm.resources().to_dict()["cross_chip_synapses"]
    assert cut_g > 0 and cut_c < cut_g
    chips = {p: set(comm.placement.chip_of(p).tolist()) for p in ("X", "W", "Y", "Z")}
    assert chips["X"] == chips["W"] and chips["Y"] == chips["Z"]  # chatty pairs share a chip


def test_conv_weights_counted_shared():
    rng = np.random.default_rng(0)
    nodes = {"in": ops.Input((2, 16, 16)),
             "conv": ops.Conv2d((16, 16), rng.normal(0, 0.5, (4, 2, 3, 3)), (1, 1), (1, 1), (1, 1), 1, np.zeros(4)),
             "lif": lif(4 * 16 * 16), "out": ops.Output((4 * 16 * 16,))}
    nodes["lif"] = ops.LIF(*(np.full((4, 16, 16), v) for v in (DT / 0.1, 1000.0, 0.0, 1.0, 0.0)))
    nodes["out"] = ops.Output((4, 16, 16))
    g = Graph(nodes, [("in", "conv"), ("conv", "lif"), ("lif", "out")])
    prog = snnc.compile(g, target=target(neurons_per_core=256))
    u = prog.resources().usage
    assert u.neurons.tolist() == [256] * 4
    # each core stores its one output channel's kernel: 2 input-channel axons of 9 taps
    spec = get_target("loihi2")
    field = blocks_of(prog.graph, spec)[0].field_bits
    assert u.synapse_bits.tolist() == [2 * int(axon_bits(9, field, spec))] * 4


def test_placement_save_load_round_trip(tmp_path):
    pl = Placement("loihi2", {"a": np.array([0, 0, 1]), "b:x": np.array([2])}, np.array([0, 0, 1]), "comm",
                   ("note",))
    back = Placement.load(pl.save(tmp_path / "p.npz"))
    assert back.target == "loihi2" and back.strategy == "comm" and back.notes == ("note",)
    np.testing.assert_array_equal(back.core_of["b:x"], [2])
    np.testing.assert_array_equal(back.chip_of_core, [0, 0, 1])
    assert back.n_chips == 2

"""Hi/lo weight splitting (snnc.compiler.weight_split): more precise, and still Lava bit-exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.compiler.ir import loihi

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "mlp.nir"
X = np.load(ROOT / "examples" / "mlp_input.npz")["x"]


@pytest.fixture(scope="module")
def progs():
    return snnc.compile(MODEL), snnc.compile(MODEL, split_weights=True)


def test_split_doubles_the_blocks_and_cuts_the_weight_error(progs):
    plain, split = progs
    assert split.stats()["synapse_blocks"] == 2 * plain.stats()["synapse_blocks"]
    for a, b in zip(plain.layers, split.layers):
        assert (a["vth"], a["weight_exps"]) == (b["vth"], b["weight_exps"])  # the hi block is the plain one
        assert b["weight_error"] < a["weight_error"] / 30
    hi, lo = split.graph["lif2:syn"], split.graph["lif2:syn:lo"]
    assert split.graph.predecessors("lif2:syn:lo") == split.graph.predecessors("lif2:syn")
    assert lo.weight_exp <= hi.weight_exp - 6
    np.testing.assert_array_equal(hi.weights, plain.graph["lif2:syn"].weights)


def test_split_brings_the_emulator_closer_to_the_float_model(progs):
    plain, split = progs
    rp, rs = plain.report(X), split.report(X)
    for name in ("lif1", "lif2"):
        assert rs.layer(name).own_error < rp.layer(name).own_error
        assert rs.layer(name).agreement >= rp.layer(name).agreement


@pytest.mark.lava
def test_split_program_is_bit_exact_with_lava(progs):
    """Both blocks are ordinary Lava Dense processes summed into one LIF: every layer's spikes
    on Lava's fixed_pt models equal the emulator's."""
    _, split = progs
    assert any(n.endswith(":lo") for n in split.graph.of_kind(loihi.Synapse))
    emu = split.run(X[:2], return_raw=True)
    lava = split.run(X[:2], backend="lava", return_raw=True)
    for name, spikes in emu.spikes.items():
        np.testing.assert_array_equal(spikes, lava.spikes[name], err_msg=name)
    assert sum(int(s.sum()) for s in emu.spikes.values()) > 100

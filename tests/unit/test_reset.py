"""Reset by subtraction: the float semantics, its rebuild from Lava's registers, and its plumbing."""

from __future__ import annotations

import json

import numpy as np
import pytest

import snnc
from snnc.backends.reference import simulate
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.reset import subtractive
from snnc.errors import ValidationError


def _net(neuron: ops.Node, n_in: int = 5, seed: int = 0) -> Graph:
    """Input -> Affine (with a bias) -> neuron -> Output."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(neuron.shape))
    nodes = {
        "in": ops.Input(shape=(n_in,)),
        "fc": ops.Affine(weight=rng.normal(0.0, 1.0, (n, n_in)), bias=rng.normal(0.2, 0.1, n)),
        "lif": neuron,
        "out": ops.Output(shape=(n,)),
    }
    return Graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")])


def _lif(n: int = 8, tau: float = 5.0, r: float = 1.0) -> ops.LIF:
    rng = np.random.default_rng(1)
    return ops.LIF(tau=rng.uniform(0.5, 1.5, n) * tau, r=np.full(n, r), v_leak=np.zeros(n),
                   v_threshold=rng.uniform(0.8, 1.2, n), v_reset=np.full(n, -0.3))


def _if(n: int = 8, r: float = 1.0) -> ops.IF:
    return ops.IF(r=np.full(n, r), v_threshold=np.linspace(0.7, 1.3, n), v_reset=np.zeros(n))


def _flags(conv: Convention) -> dict:
    return dict(dt=conv.dt, integration=conv.integration, spike_if=conv.spike_if,
                synapse_input=conv.synapse_input)


def test_subtract_keeps_the_residual() -> None:
    """IF, dt=1, r=1, θ=1, input 0.375 per step (exact in binary).

    Reset to 0: v = .375, .75, 1.125 → spike, then again from 0: every 3rd step, 16 in 48.
    Subtraction keeps the residual: 1.125 → .125, .5, .875, 1.25 → spike → .25, .625, 1.0 (not > 1),
    1.375 → spike → .375, 0.75, 1.125 → spike (the state of t = 2): 3 spikes per 8 steps
    (rate = input/θ), 17 in 48.
    """
    g = _net(ops.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)), n_in=1)
    g = g.with_changes(nodes={**g.nodes, "fc": ops.Affine(weight=np.ones((1, 1)), bias=np.zeros(1))})
    x = np.full((1, 48, 1), 0.375)
    value = simulate(g, x, dt=1.0, spike_if=">", reset="value")
    sub = simulate(g, x, dt=1.0, spike_if=">", reset="subtract")
    assert np.flatnonzero(value[0, :, 0])[:4].tolist() == [2, 5, 8, 11]
    assert np.flatnonzero(sub[0, :, 0])[:4].tolist() == [2, 5, 8, 10]
    assert value.sum() == 16 and sub.sum() == 17


@pytest.mark.parametrize("integration", ["euler", "exact"])
@pytest.mark.parametrize("synapse_input", ["ode", "jump"])
@pytest.mark.parametrize("kind", ["lif", "if"])
def test_rebuilt_graph_equals_subtraction(kind: str, integration: str, synapse_input: str) -> None:
    """The Lava-register rebuild, run with reset to value, is the original run with subtraction."""
    dt = 1.0 if integration == "exact" else 0.5
    conv = Convention(dt=dt, integration=integration, spike_if=">=", synapse_input=synapse_input)
    g = _net(_lif(r=2.0) if kind == "lif" else _if(r=2.0))
    x = (np.random.default_rng(2).random((4, 60, 5)) < 0.4).astype(np.float64)
    want = simulate(g, x, **_flags(conv), reset="subtract", record=["lif"])["lif"]
    rebuilt = subtractive(g, conv)
    assert isinstance(rebuilt["lif"], ops.CubaLIF) and ("lif:reset", "lif") in rebuilt.edges
    got = simulate(rebuilt, x, **_flags(conv), reset="value", record=["lif"])["lif"]
    assert 0.05 < want.mean() < 0.6, "the comparison needs spikes and silences"
    if kind == "lif":
        np.testing.assert_array_equal(got, want)
    else:  # the IF's integrator leaks 1/4096 per step: near-ties may move, nothing else
        assert np.mean(got == want) > 0.995
    assert not np.array_equal(simulate(g, x, **_flags(conv), reset="value", record=["lif"])["lif"], want)


def test_rebuild_refuses_what_lava_cannot_hold() -> None:
    n = 4
    cuba = ops.CubaLIF(tau_syn=np.full(n, 2.0), tau_mem=np.full(n, 4.0), r=np.ones(n), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n), meta={"source": "hidden"})
    conv = Convention(dt=1.0, integration="exact", reset="subtract")
    with pytest.raises(ValidationError, match="CubaLIF") as e:
        subtractive(_net(cuba), conv)
    assert e.value.node == "hidden" and "--reset value" in e.value.hint
    leaky = _lif(n).replace(v_leak=np.full(n, 0.5))
    with pytest.raises(ValidationError, match="v_leak"):
        subtractive(_net(leaky), conv)
    with pytest.raises(ValidationError, match="reset must be one of"):
        Convention(reset="zero")


@pytest.mark.lava
def test_compiled_subtraction_emulator_equals_lava_and_tracks_float() -> None:
    """LIF and IF layers compiled with reset="subtract": the emulator equals Lava's fixed_pt
    processes spike for spike, and the program follows the float model with subtraction."""
    rng = np.random.default_rng(3)
    nodes = {
        "in": ops.Input(shape=(10,)),
        "fc1": ops.Affine(weight=rng.normal(0.0, 0.6, (12, 10)), bias=np.zeros(12)),
        "lif": ops.LIF(tau=rng.uniform(4.0, 8.0, 12), r=np.ones(12), v_leak=np.zeros(12),
                       v_threshold=np.ones(12), v_reset=np.zeros(12)),
        "fc2": ops.Linear(weight=rng.normal(0.0, 0.8, (6, 12))),
        "if": _if(6),
        "out": ops.Output(shape=(6,)),
    }
    names = list(nodes)
    g = Graph(nodes, list(zip(names[:-1], names[1:])))
    flags = dict(dt=1.0, integration="exact", spike_if=">=", synapse_input="ode")
    prog = snnc.compile(g, reset="subtract", **flags)
    assert any("reset by subtraction" in n for r in prog.layers for n in r["notes"])
    x = (rng.random((4, 40, 10)) < 0.35).astype(np.float64)
    emu = prog.run(x, backend="emulator", return_raw=True)
    lava = prog.run(x, backend="lava", return_raw=True)
    for layer in emu.spikes:
        assert emu.spikes[layer].sum() > 0, layer
        np.testing.assert_array_equal(emu.spikes[layer], lava.spikes[layer], err_msg=layer)
    want = simulate(g, x, **flags, reset="subtract")
    assert np.mean(prog.run(x) == want) > 0.97


def test_program_and_cli_carry_the_reset(tmp_path) -> None:
    conv = Convention(dt=1.0, integration="exact", spike_if=">=", reset="subtract")
    assert "reset=subtract" in conv.describe()
    g = _net(_lif())
    prog = snnc.compile(g, convention=conv)
    assert not prog.graph.of_kind(ops.LIF)  # lowered: no float ops left
    prog.save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "program.json").read_text())
    assert meta["convention"]["reset"] == prog.convention.reset
    assert snnc.Program.load(tmp_path / "p").convention == prog.convention
    from snnc.cli import _parser

    args = _parser().parse_args(["compile", "m.nir", "--reset", "subtract"])
    assert args.reset == "subtract"


def test_float_onnx_step_model_subtracts(tmp_path) -> None:
    from snnc.backends import onnx_step
    from snnc.frontends.onnx_step import step_model_convention

    g = _net(_lif())
    flags = dict(dt=1.0, integration="exact", spike_if=">=", synapse_input="ode", reset="subtract")
    x = (np.random.default_rng(4).random((3, 30, 5)) < 0.4).astype(np.float64)
    onnx_step.export_graph(g, tmp_path / "m.onnx", **flags)
    got = onnx_step.run_step_model(tmp_path / "m.onnx", x)
    want = simulate(g, x, **flags)
    assert 0 < want.sum() < want.size
    np.testing.assert_array_equal(got["y.out"], want)
    assert step_model_convention(tmp_path / "m.onnx")["reset"] == "subtract"

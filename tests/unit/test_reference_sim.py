"""snnc.backends.reference: hand-computable cases of the float reference semantics."""

from __future__ import annotations

import numpy as np
import pytest

from snnc.backends.reference import simulate
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.errors import InputError, ValidationError


def _chain(*layers: tuple[str, ops.Node], in_shape=(1,), out_shape=None) -> Graph:
    """Input -> layers... -> Output, in a line."""
    nodes = {"in": ops.Input(shape=tuple(in_shape))}
    nodes.update(layers)
    last = layers[-1][1] if layers else nodes["in"]
    nodes["out"] = ops.Output(shape=tuple(out_shape or last.out_shape))
    names = list(nodes)
    return Graph(nodes, list(zip(names[:-1], names[1:])))


def _if(thr: float = 1.0, n: int = 1) -> ops.IF:
    return ops.IF(r=np.ones(n), v_threshold=np.full(n, thr), v_reset=np.zeros(n))


def _spike_times(trace: np.ndarray) -> list[int]:
    return [int(t) for t in np.flatnonzero(trace)]


# ---------------------------------------------------------------------------- neurons
def test_if_constant_input_and_spike_if_tie() -> None:
    """IF, dt=1, r=1, θ=1, input 0.25 per step: v reaches exactly 1.0 every 4th step.

    ``>``: the tie does not fire, the 5th step does (t = 4, 9, 14, ...);
    ``>=``: the tie fires (t = 3, 7, 11, ...).
    """
    g = _chain(("if", _if(1.0)))
    x = np.full((2, 20, 1), 0.25)
    strict = simulate(g, x, dt=1.0, spike_if=">")
    inclusive = simulate(g, x, dt=1.0, spike_if=">=")
    assert strict.shape == (2, 20, 1) and strict.dtype == np.float64
    assert _spike_times(strict[0, :, 0]) == [4, 9, 14, 19]
    assert _spike_times(inclusive[1, :, 0]) == [3, 7, 11, 15, 19]


def test_if_gain_is_r_dt() -> None:
    """IF under the default dt=1e-4: dv = R·dt·x (R = 1e4 makes that 1·x)."""
    g = _chain(("if", ops.IF(r=np.array([1e4]), v_threshold=np.array([2.5]),
                             v_reset=np.array([-1.0]))))
    out = simulate(g, np.ones((1, 10, 1)))
    # v: 1, 2, 3 > 2.5 -> spike, reset to -1; then 0, 1, 2, 3 -> spike at t = 6
    assert _spike_times(out[0, :, 0]) == [2, 6]


def test_lif_euler_vs_exact() -> None:
    """LIF, τ=4, dt=1, R=1, θ=0.9, constant input 1: v_t = 1 − α^(t+1) until the first spike.

    Euler α = 0.75 crosses 0.9 at t = 8; exact α = e^(−0.25) at t = 9; reset to 0 restarts it.
    """
    lif = ops.LIF(tau=np.array([4.0]), r=np.ones(1), v_leak=np.zeros(1),
                  v_threshold=np.array([0.9]), v_reset=np.zeros(1))
    g = _chain(("lif", lif))
    x = np.ones((1, 30, 1))
    assert _spike_times(simulate(g, x, dt=1.0, integration="euler")[0, :, 0]) == [8, 17, 26]
    assert _spike_times(simulate(g, x, dt=1.0, integration="exact")[0, :, 0]) == [9, 19, 29]


@pytest.mark.parametrize("integration, alpha", [("euler", 0.75), ("exact", np.exp(-0.25))])
def test_li_readout_outputs_membrane(integration: str, alpha: float) -> None:
    li = ops.LI(tau=np.array([4.0]), r=np.array([2.0]), v_leak=np.array([0.5]))
    out = simulate(_chain(("li", li)), np.ones((1, 12, 1)), dt=1.0, integration=integration)
    t = np.arange(12)
    # fixed point R·x + v_leak = 2.5, approached as 2.5·(1 − α^(t+1)) from v = 0
    np.testing.assert_allclose(out[0, :, 0], 2.5 * (1 - alpha ** (t + 1)), rtol=1e-12)


def test_integrator_readout() -> None:
    x = np.random.default_rng(0).normal(size=(3, 10, 2))
    out = simulate(_chain(("i", ops.I(r=np.array([1.0, 3.0]))), in_shape=(2,)), x, dt=0.5)
    np.testing.assert_allclose(out, np.cumsum(x * np.array([0.5, 1.5]), axis=1), rtol=1e-12)


def test_cubalif_ode_vs_jump() -> None:
    """τ_syn=2, τ_mem=4, dt=1, Euler: α_I = 0.5, α_v = 0.75, g_v = 0.25; one input spike at t=0.

    ode:  I = 0.5, 0.25, 0.125   v = 0.125, 0.15625, 0.1484375
    jump: I = 1, 0.5, 0.25        v = 0.25, 0.3125, 0.296875
    """
    params = dict(tau_syn=np.array([2.0]), tau_mem=np.array([4.0]), r=np.ones(1),
                  v_leak=np.zeros(1), w_in=np.ones(1))
    x = np.zeros((1, 3, 1))
    x[0, 0, 0] = 1.0
    li = _chain(("cuba", ops.CubaLI(**params)))
    np.testing.assert_array_equal(simulate(li, x, dt=1.0, synapse_input="ode")[0, :, 0],
                                  [0.125, 0.15625, 0.1484375])
    np.testing.assert_array_equal(simulate(li, x, dt=1.0, synapse_input="jump")[0, :, 0],
                                  [0.25, 0.3125, 0.296875])
    lif = _chain(("cuba", ops.CubaLIF(**params, v_threshold=np.array([0.2]),
                                      v_reset=np.zeros(1))))
    assert _spike_times(simulate(lif, x, dt=1.0, synapse_input="ode")[0, :, 0]) == []
    assert _spike_times(simulate(lif, x, dt=1.0, synapse_input="jump")[0, :, 0]) == [0]


# -------------------------------------------------------------------------- structure
def _recurrent(rec: ops.Node) -> Graph:
    nodes = {"in": ops.Input(shape=(1,)), "a": _if(0.5), "rec": rec, "out": ops.Output(shape=(1,))}
    return Graph(nodes, [("in", "a"), ("a", "rec"), ("rec", "a"), ("a", "out")])


def test_back_edge_carries_previous_step() -> None:
    """A self-exciting IF: the input spike at t=2 fires it; the loop re-fires it one step later."""
    g = _recurrent(ops.Linear(weight=np.ones((1, 1))))
    assert g.schedule()[1] == {("rec", "a")}
    x = np.zeros((1, 8, 1))
    x[0, 2, 0] = 1.0
    rec = simulate(g, x, dt=1.0, record="all")
    assert _spike_times(rec["a"][0, :, 0]) == [2, 3, 4, 5, 6, 7]
    np.testing.assert_array_equal(rec["rec"], rec["a"])  # forward edge a -> rec: same step
    np.testing.assert_array_equal(rec["out"], rec["a"])


def test_back_edge_starts_from_rest_state() -> None:
    """At t=0 a back edge carries its source's rest value: an Affine's bias (W·0 + b).

    IF θ=0.5 driven only by the loop's bias 0.3: v = 0.3, 0.6 -> spike, 0.3, 0.6 -> spike, ...
    (starting the loop from 0 instead would shift every spike one step later).
    """
    g = _recurrent(ops.Affine(weight=np.zeros((1, 1)), bias=np.array([0.3])))
    out = simulate(g, np.zeros((1, 8, 1)), dt=1.0)
    assert _spike_times(out[0, :, 0]) == [1, 3, 5, 7]


def test_delay_node() -> None:
    delay = ops.Delay(delay=np.array([0.0, 3e-4, 1e-4]))
    x = np.random.default_rng(1).normal(size=(2, 9, 3))
    out = simulate(_chain(("d", delay), in_shape=(3,)), x)
    np.testing.assert_array_equal(out[:, :, 0], x[:, :, 0])
    np.testing.assert_array_equal(out[:, 3:, 1], x[:, :-3, 1])
    np.testing.assert_array_equal(out[:, :3, 1], 0.0)
    np.testing.assert_array_equal(out[:, 1:, 2], x[:, :-1, 2])


def test_delay_must_be_whole_steps() -> None:
    g = _chain(("d", ops.Delay(delay=np.array([1.5e-4]))))
    with pytest.raises(ValidationError, match="whole"):
        simulate(g, np.zeros((1, 3, 1)))


def test_linear_output_and_summed_edges() -> None:
    """An Output fed by a linear op records its value; two edges into one node are summed."""
    rng = np.random.default_rng(2)
    w, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    nodes = {"in": ops.Input(shape=(3,)), "fc": ops.Affine(weight=w, bias=b),
             "fc2": ops.Linear(weight=np.eye(2, 3)), "out": ops.Output(shape=(2,))}
    g = Graph(nodes, [("in", "fc"), ("in", "fc2"), ("fc", "out"), ("fc2", "out")])
    x = rng.normal(size=(4, 5, 3))
    np.testing.assert_allclose(simulate(g, x), x @ w.T + b + x[..., :2], rtol=1e-12)


def test_several_outputs_and_record_selection() -> None:
    nodes = {"in": ops.Input(shape=(1,)), "a": _if(0.5), "o1": ops.Output(shape=(1,)),
             "o2": ops.Output(shape=(1,))}
    g = Graph(nodes, [("in", "a"), ("a", "o1"), ("in", "o2")])
    x = (np.arange(6) % 2).reshape(1, 6, 1).astype(bool)
    out = simulate(g, x, dt=1.0)
    assert set(out) == {"o1", "o2"}
    np.testing.assert_array_equal(out["o2"], x.astype(float))
    assert set(simulate(g, x, dt=1.0, record=["a"])) == {"a"}
    assert set(simulate(g, x, dt=1.0, record="all")) == set(g.nodes)


def test_conv_pool_shapes() -> None:
    conv = ops.Conv2d(input_shape=(6, 6), weight=np.ones((2, 1, 3, 3)), stride=(1, 1),
                      padding=(1, 1), dilation=(1, 1), groups=1, bias=np.zeros(2))
    pool = ops.SumPool2d(input_shape=(2, 6, 6), kernel_size=(2, 2), stride=(2, 2),
                         padding=(0, 0))
    g = _chain(("conv", conv), ("pool", pool), in_shape=(1, 6, 6))
    out = simulate(g, np.ones((2, 3, 1, 6, 6)))
    assert out.shape == (2, 3, 2, 3, 3)
    assert out[0, 0, 0, 1, 1] == 4 * 9  # interior 2x2 window of full 3x3 sums


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("shape", [(5, 1), (1, 5, 2), (1, 5, 1, 1)])
def test_bad_input_shape(shape: tuple) -> None:
    with pytest.raises(InputError, match=r"expected \(batch, T, 1\)") as info:
        simulate(_chain(("if", _if())), np.zeros(shape))
    assert str(shape).replace(" ", "") in str(info.value).replace(" ", "")


def test_bad_input_values() -> None:
    g = _chain(("if", _if()))
    with pytest.raises(InputError):
        simulate(g, np.full((1, 2, 1), np.nan))
    with pytest.raises(InputError):
        simulate(g, np.array([[["a"]]]))


def test_unstable_euler_is_rejected() -> None:
    lif = ops.LI(tau=np.array([1e-5]), r=np.ones(1), v_leak=np.zeros(1))
    with pytest.raises(ValidationError, match="unstable"):
        simulate(_chain(("li", lif)), np.zeros((1, 2, 1)))


def test_loads_nir_sources(tmp_path) -> None:
    """snnc.simulate loads a model first (the reference backend itself takes a Graph)."""
    import nir

    from snnc import simulate
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([1])),
               "if": nir.IF(r=np.array([1e4]), v_threshold=np.array([1.0])),
               "output": nir.Output(np.array([1]))},
        edges=[("input", "if"), ("if", "output")],
    )
    x = np.full((1, 8, 1), 0.25)
    path = tmp_path / "if.nir"
    nir.write(path, graph)
    for source in (graph, path, str(path)):
        assert _spike_times(simulate(source, x)[0, :, 0]) == [4]


def test_the_reference_backend_takes_ir() -> None:
    with pytest.raises(InputError, match="simulates an snnc Graph"):
        simulate("model.nir", np.zeros((1, 2, 1)))

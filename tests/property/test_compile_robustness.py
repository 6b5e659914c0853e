"""Any parameters a model file can hold compile to a valid program or raise a clear SnncError.

Hypothesis draws small networks (LIF / CubaLIF / IF layers, optional recurrence and read-out)
with parameters from the whole float range -- zeros, denormals, huge values, negative
thresholds and time constants -- and requires that ``snnc.compile`` either returns a program
that passes ``verify`` and runs on the emulator, or raises an :class:`SnncError` with a hint.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnc
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.verify import verify
from snnc.errors import SnncError

values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, 5e-324, 1e-30, -1e-30, 1e30, -1e30, 1.0, -1.0]),
)
positive = st.one_of(st.floats(1e-9, 10.0), st.sampled_from([1e-4, 5e-5, 1e-3, 0.0, -1e-3, 1e30]))


@st.composite
def networks(draw):
    n_in = draw(st.integers(1, 5))
    n_h = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["LIF", "CubaLIF", "IF"]))
    w = np.array(draw(st.lists(values, min_size=n_h * n_in, max_size=n_h * n_in))).reshape(n_h, n_in)
    b = np.array(draw(st.lists(values, min_size=n_h, max_size=n_h)))
    thr = np.full(n_h, draw(values))
    reset = np.full(n_h, draw(values))
    r = np.full(n_h, draw(values))
    tau = np.full(n_h, draw(positive))
    if kind == "LIF":
        neuron = ops.LIF(tau, r, np.full(n_h, draw(values)), thr, reset)
    elif kind == "CubaLIF":
        neuron = ops.CubaLIF(np.full(n_h, draw(positive)), tau, r, np.zeros(n_h), thr, reset, np.full(n_h, draw(values)))
    else:
        neuron = ops.IF(r, thr, reset)
    nodes = {"in": ops.Input((n_in,)), "fc": ops.Affine(w, b), "h": neuron, "out": ops.Output((n_h,))}
    edges = [("in", "fc"), ("fc", "h"), ("h", "out")]
    if draw(st.booleans()):
        rec = np.array(draw(st.lists(values, min_size=n_h * n_h, max_size=n_h * n_h))).reshape(n_h, n_h)
        nodes["rec"] = ops.Linear(rec)
        edges += [("h", "rec"), ("rec", "h")]
    return Graph(nodes, edges), n_in, kind


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), integration=st.sampled_from(["euler", "exact"]))
def test_compile_succeeds_or_explains(net, integration):
    graph, n_in, _ = net
    try:
        prog = snnc.compile(graph, integration=integration)
    except SnncError as e:
        assert e.hint, f"{type(e).__name__} without a hint: {e}"
        assert str(e)
        return
    verify(prog.graph)
    x = (np.random.default_rng(0).random((2, 6, n_in)) < 0.5).astype(np.uint8)
    y = prog.run(x)
    assert y.shape == (2, 6, graph["h"].shape[0])

"""snnTorch -> NIR -> snnc: the reference simulator reproduces snnTorch's spike trains exactly.

Each network is built in snnTorch 1.0.0 with ``reset_mechanism="zero"`` and ``reset_delay=False``
(the only snnTorch neuron NIR can express: NIR resets to v_reset on the step that fires) and with
per-neuron parameter tensors (scalars give NIR shape () and break the export).  It is exported with
snnTorch's own ``export_to_nir(net, sample, ignore_dims=[0])``, written to a .nir file, loaded with
``load_nir`` and run with ``simulate(dt=1e-4, integration="euler", spike_if=">")``.  The spike
trains must be IDENTICAL to snnTorch's forward pass at every step, for every output neuron and every
hidden layer we can tap.

Findings (snnTorch 1.0.0, nir 1.0.8):

* Leaky / Synaptic export as τ = dt/(1−β), R = τ/dt (and τ_syn = dt/(1−α), w_in = τ_syn/dt) with
  dt = 1e-4 hard-coded, so forward Euler at dt = 1e-4 gives α_v = β, g_v = 1, and CubaLIF's "ode"
  input gain w_in·dt/τ_syn = 1: exactly snnTorch's ``mem = β·mem + syn``, ``syn = α·syn + x``.
* ``RLeaky(all_to_all=True)`` exports as a subgraph ``{input, lif, w_rec, output}`` with the
  recurrent ``nn.Linear`` as an **Affine** (its bias included) on the cycle lif -> w_rec -> lif;
  nirtorch already inlines it as ``lif1.lif`` / ``lif1.w_rec``.  snnTorch computes
  ``recurrent(spk_prev)`` with ``spk_prev = 0`` at t = 0, so the recurrent **bias is added at
  t = 0**.  A cycle edge that carried 0 at t = 0 would miss it and shift spikes (measured: 14 of 600
  hidden spikes differ for the network below).  snnc's rule -- a back edge carries its source's
  *rest* value at t = 0, which for an Affine is its bias -- reproduces snnTorch exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from snntorch_nets import (  # tests/helpers, on sys.path via conftest
    BATCH,
    STEPS,
    ConvNet,
    CubaMLP,
    LifMLP,
    RecurrentNet,
    export,
    reset,
    run_snntorch,
    torch,
)

from snnc.backends.reference import simulate
from snnc.compiler.ir import ops
from snnc.frontends.nir import load_nir

pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning")


def _check(net_cls: type, in_shape: tuple, tmp_path: Path, seed: int) -> dict:
    torch.manual_seed(seed)
    net = net_cls()
    graph = load_nir(export(net, in_shape, tmp_path))
    x = (torch.rand(BATCH, STEPS, *in_shape) < 0.3).float()
    expected = run_snntorch(net, x)
    got = simulate(graph, x.numpy(), dt=1e-4, integration="euler", spike_if=">",
                   record=list(net.taps) + graph.of_kind(ops.Output))
    (output,) = graph.of_kind(ops.Output)
    np.testing.assert_array_equal(got[output], got[net.taps[-1]])
    for name, reference in zip(net.taps, expected):
        spikes = got[name]
        assert spikes.shape == reference.shape, name
        rate = reference.mean()
        assert 0.02 < rate < 0.7, f"{name}: spike rate {rate:.3f}; retune the test weights"
        mismatches = int(np.sum(spikes != reference))
        assert mismatches == 0, f"{name}: {mismatches} of {spikes.size} spike values differ"
    return {"graph": graph, "net": net, "x": x}


@pytest.mark.parametrize("seed", [0, 1])
def test_lif_mlp(tmp_path: Path, seed: int) -> None:
    case = _check(LifMLP, (12,), tmp_path, seed)
    assert isinstance(case["graph"]["lif1"], ops.LIF)


@pytest.mark.parametrize("seed", [0, 1])
def test_cubalif_mlp(tmp_path: Path, seed: int) -> None:
    case = _check(CubaMLP, (12,), tmp_path, seed)
    lif1 = case["graph"]["lif1"]
    assert isinstance(lif1, ops.CubaLIF)
    np.testing.assert_allclose(lif1.w_in, lif1.tau_syn / 1e-4, rtol=1e-6)  # snnTorch's w_in


@pytest.mark.parametrize("seed", [0, 1])
def test_conv_pool_net(tmp_path: Path, seed: int) -> None:
    case = _check(ConvNet, (2, 8, 8), tmp_path, seed)
    graph = case["graph"]
    assert isinstance(graph["conv1"], ops.Conv2d) and graph["conv1"].padding == (1, 1)
    assert isinstance(graph["pool"], ops.AvgPool2d) and graph["pool"].out_shape == (4, 4, 4)
    assert isinstance(graph["flat"], ops.Flatten) and graph["flat"].out_shape == (64,)


@pytest.mark.parametrize("seed", [0, 1])
def test_recurrent_net(tmp_path: Path, seed: int) -> None:
    case = _check(RecurrentNet, (12,), tmp_path, seed)
    graph, net, x = case["graph"], case["net"], case["x"]
    # the exported cycle: lif1.lif -> lif1.w_rec (an Affine, bias kept) -> lif1.lif
    assert isinstance(graph["lif1.w_rec"], ops.Affine)
    assert ("lif1.w_rec", "lif1.lif") in graph.schedule()[1]
    # the snnTorch quirk the rest-state rule reproduces: the recurrent bias enters at t = 0
    reset(net)
    with torch.no_grad():
        _, mem0 = net.lif1(net.fc1(x[:, 0]))
        drive = net.fc1(x[:, 0]) + net.lif1.recurrent.bias
    fired = mem0 == 0
    torch.testing.assert_close(mem0[~fired], drive[~fired])

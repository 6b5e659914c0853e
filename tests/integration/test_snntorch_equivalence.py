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

from snnc.backends.reference import simulate
from snnc.compiler.ir import ops
from snnc.frontends.nir import load_nir

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nir = pytest.importorskip("nir")
from snntorch.export_nir import export_to_nir  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning")
nn = torch.nn
BATCH, STEPS = 4, 30
NEURON = dict(reset_mechanism="zero", reset_delay=False)


def _per_neuron(shape, low: float, high: float) -> "torch.Tensor":
    return torch.rand(shape) * (high - low) + low


def _leaky(shape) -> "snn.Leaky":
    return snn.Leaky(beta=_per_neuron(shape, 0.6, 0.95), threshold=_per_neuron(shape, 0.8, 1.2),
                     **NEURON)


def _synaptic(shape) -> "snn.Synaptic":
    return snn.Synaptic(alpha=_per_neuron(shape, 0.5, 0.9), beta=_per_neuron(shape, 0.6, 0.95),
                        threshold=_per_neuron(shape, 0.8, 1.2), **NEURON)


def _scaled_linear(n_in: int, n_out: int, gain: float) -> "nn.Linear":
    layer = nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.mul_(gain)
    return layer


class LifMLP(nn.Module):
    taps = ("lif1", "lif2")

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = _scaled_linear(12, 16, 3.0), _leaky(16)
        self.fc2, self.lif2 = _scaled_linear(16, 6, 4.0), _leaky(6)

    def forward(self, x):
        s1, _ = self.lif1(self.fc1(x))
        s2, _ = self.lif2(self.fc2(s1))
        return s1, s2


class CubaMLP(nn.Module):
    taps = ("lif1", "lif2")

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = _scaled_linear(12, 16, 1.5), _synaptic(16)
        self.fc2, self.lif2 = _scaled_linear(16, 6, 1.0), _synaptic(6)

    def forward(self, x):
        s1, _, _ = self.lif1(self.fc1(x))
        s2, _, _ = self.lif2(self.fc2(s1))
        return s1, s2


class ConvNet(nn.Module):
    """Conv2d -> Leaky -> AvgPool2d (snnTorch's exportable pooling) -> Flatten -> Linear -> Leaky."""

    taps = ("lif1", "lif2")

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, kernel_size=3, padding=1)
        with torch.no_grad():
            self.conv1.weight.mul_(4.0)
        self.lif1 = _leaky((4, 8, 8))
        self.pool = nn.AvgPool2d(2)
        self.flat = nn.Flatten()
        self.fc2, self.lif2 = _scaled_linear(4 * 4 * 4, 6, 6.0), _leaky(6)

    def forward(self, x):
        s1, _ = self.lif1(self.conv1(x))
        s2, _ = self.lif2(self.fc2(self.flat(self.pool(s1))))
        return s1, s2


class RecurrentNet(nn.Module):
    """Linear -> RLeaky(all_to_all, nn.Linear recurrence with bias) -> Linear -> Leaky."""

    taps = ("lif1.lif", "lif2")

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = _scaled_linear(12, 16, 2.0)
        self.lif1 = snn.RLeaky(beta=_per_neuron(16, 0.6, 0.95), linear_features=16,
                               all_to_all=True, threshold=_per_neuron(16, 0.8, 1.2), **NEURON)
        with torch.no_grad():
            self.lif1.recurrent.weight.mul_(2.0)
            self.lif1.recurrent.bias.uniform_(0.2, 0.6)  # make the t = 0 bias matter
        self.fc2, self.lif2 = _scaled_linear(16, 6, 2.0), _leaky(6)

    def forward(self, x):
        s1, _ = self.lif1(self.fc1(x))
        s2, _ = self.lif2(self.fc2(s1))
        return s1, s2


def _reset(net: "nn.Module") -> None:
    for module in net.modules():
        if isinstance(module, snn.SpikingNeuron):
            module.reset_mem()
            if hasattr(module, "spk"):
                module.spk = torch.zeros(0)


def _run_snntorch(net: "nn.Module", x: "torch.Tensor") -> list[np.ndarray]:
    _reset(net)
    per_step = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            per_step.append(net(x[:, t]))
    return [torch.stack([s[i] for s in per_step], 1).numpy().astype(np.float64)
            for i in range(len(per_step[0]))]


def _export(net: "nn.Module", in_shape: tuple, tmp_path: Path) -> Path:
    graph = export_to_nir(net, torch.zeros(1, *in_shape), ignore_dims=[0])
    path = tmp_path / f"{type(net).__name__}.nir"
    nir.write(path, graph)
    return path


def _check(net_cls: type, in_shape: tuple, tmp_path: Path, seed: int) -> dict:
    torch.manual_seed(seed)
    net = net_cls()
    graph = load_nir(_export(net, in_shape, tmp_path))
    x = (torch.rand(BATCH, STEPS, *in_shape) < 0.3).float()
    expected = _run_snntorch(net, x)
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
    _reset(net)
    with torch.no_grad():
        _, mem0 = net.lif1(net.fc1(x[:, 0]))
        drive = net.fc1(x[:, 0]) + net.lif1.recurrent.bias
    fired = mem0 == 0
    torch.testing.assert_close(mem0[~fired], drive[~fired])

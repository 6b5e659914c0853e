"""snnTorch networks shared by the tests (built with snnTorch's own layers, exported with its NIR exporter).

Every neuron uses ``reset_mechanism="zero"`` and ``reset_delay=False`` (the only snnTorch
neuron NIR can express) and per-neuron parameter tensors (scalars break the NIR export).
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir

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


def reset(net: "nn.Module") -> None:
    for module in net.modules():
        if isinstance(module, snn.SpikingNeuron):
            module.reset_mem()
            if hasattr(module, "spk"):
                module.spk = torch.zeros(0)


def run_snntorch(net: "nn.Module", x: "torch.Tensor") -> list[np.ndarray]:
    reset(net)
    per_step = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            per_step.append(net(x[:, t]))
    return [torch.stack([s[i] for s in per_step], 1).numpy().astype(np.float64)
            for i in range(len(per_step[0]))]


def export(net: "nn.Module", in_shape: tuple, tmp_path: Path) -> Path:
    graph = export_to_nir(net, torch.zeros(1, *in_shape), ignore_dims=[0])
    path = tmp_path / f"{type(net).__name__}.nir"
    nir.write(path, graph)
    return path

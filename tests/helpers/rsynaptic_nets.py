"""snnTorch networks with a recurrent CubaLIF (``RSynaptic``) hidden layer and a ``Synaptic`` output,
built, trained briefly and exported with snnTorch 1.0.0's own ``export_to_nir``.

``RSynaptic(reset_delay=False)`` must be called with its state passed explicitly (it raises a
TypeError otherwise), so :class:`RSynNet` keeps (spk, syn, mem) itself.  Whatever ``reset_delay``
says, snnTorch 1.0.0's RSynaptic resets one step late (``snntorch/_neurons/rsynaptic.py:366-375``
writes the immediate reset into a local); ``snnc.compiler.conventions.mark_snntorch_resets``.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from snntorch.export_nir import export_to_nir

nn = torch.nn
#: (inputs, hidden, outputs) of the networks the tests build
SIZES = ((12, 16, 6), (8, 32, 4), (20, 64, 10), (4, 5, 3))


def _per_neuron(n: int, low: float, high: float) -> "torch.Tensor":
    return torch.rand(n) * (high - low) + low


class RSynNet(nn.Module):
    """Linear → RSynaptic (all-to-all ``nn.Linear`` recurrence with bias, or one-to-one ``V``) →
    Linear → Synaptic, per-neuron α, β and thresholds."""

    def __init__(self, n_in: int, n_h: int, n_out: int, reset: str, *, reset_delay: bool = False,
                 all_to_all: bool = True, rec_bias: bool = True, gains=(2.0, 1.5, 2.0)) -> None:
        super().__init__()
        kw = dict(reset_mechanism=reset, reset_delay=reset_delay, spike_grad=surrogate.fast_sigmoid())
        self.fc1 = nn.Linear(n_in, n_h)
        rec = dict(linear_features=n_h) if all_to_all else dict(V=_per_neuron(n_h, -1.0, 1.5))
        self.lif1 = snn.RSynaptic(alpha=_per_neuron(n_h, 0.5, 0.9), beta=_per_neuron(n_h, 0.6, 0.95),
                                  all_to_all=all_to_all, threshold=_per_neuron(n_h, 0.8, 1.2), **rec, **kw)
        self.fc2 = nn.Linear(n_h, n_out)
        self.lif2 = snn.Synaptic(alpha=_per_neuron(n_out, 0.5, 0.9), beta=_per_neuron(n_out, 0.6, 0.95),
                                 threshold=_per_neuron(n_out, 0.8, 1.2), **kw)
        with torch.no_grad():
            self.fc1.weight.mul_(gains[0])
            self.fc2.weight.mul_(gains[2])
            if all_to_all:
                self.lif1.recurrent.weight.mul_(gains[1])
                if not rec_bias:
                    self.lif1.recurrent.bias.zero_()
        self.reset_state(1)

    def reset_state(self, batch: int) -> None:
        z = lambda n: torch.zeros(batch, n)  # noqa: E731
        self.state1 = [z(self.fc1.out_features) for _ in range(3)]  # spk, syn, mem
        self.state2 = [z(self.fc2.out_features) for _ in range(2)]  # syn, mem

    def forward(self, x):  # one step, (batch, n_in)
        if self.state1[0].shape[0] != x.shape[0]:
            self.reset_state(x.shape[0])
        s1, syn1, m1 = self.lif1(self.fc1(x), *self.state1)
        self.state1 = [s1, syn1, m1]
        s2, syn2, m2 = self.lif2(self.fc2(s1), *self.state2)
        self.state2 = [syn2, m2]
        return s1, s2


def run(net: RSynNet, x: "torch.Tensor", grad: bool = False) -> tuple:
    """(hidden, output) spikes over time, (batch, T, n) each."""
    net.reset_state(x.shape[0])
    with torch.enable_grad() if grad else torch.no_grad():
        steps = [net(x[:, t]) for t in range(x.shape[1])]
    return tuple(torch.stack([s[i] for s in steps], 1) for i in range(2))


def data(n_in: int, n_out: int, batch: int, steps: int, seed: int):
    """Class k: Poisson input with rate pattern k; (x (batch, steps, n_in) float 0/1, labels)."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.rand(n_out, n_in, generator=g) * 0.5
    y = torch.randint(0, n_out, (batch,), generator=g)
    x = (torch.rand(batch, steps, n_in, generator=g) < protos[y][:, None]).float()
    return x, y


def train(net: RSynNet, iters: int = 30, steps: int = 25, seed: int = 0) -> float:
    """Adam on an snnTorch-style MSE spike-count loss; returns the last loss."""
    n_in, n_out = net.fc1.in_features, net.fc2.out_features
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    loss = torch.zeros(())
    for i in range(iters):
        x, y = data(n_in, n_out, 32, steps, seed * 1000 + i)
        _, s2 = run(net, x, grad=True)
        target = torch.full((x.shape[0], n_out), 0.1 * steps)
        target[torch.arange(x.shape[0]), y] = 0.6 * steps
        loss = nn.functional.mse_loss(s2.sum(1), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def build(size: tuple[int, int, int], reset: str, trained: bool, seed: int, iters: int = 30, **kw) -> RSynNet:
    torch.manual_seed(seed)
    net = RSynNet(*size, reset, **kw)
    if trained:
        train(net, iters=iters, seed=seed)
    return net


def export(net: RSynNet, path: Path) -> Path:
    net.reset_state(1)
    nir.write(path, export_to_nir(net, torch.zeros(1, net.fc1.in_features), ignore_dims=[0]))
    return path


def spikes(net: RSynNet, x) -> tuple[np.ndarray, np.ndarray]:
    return tuple(a.numpy().astype(np.float64) for a in run(net, torch.as_tensor(x)))

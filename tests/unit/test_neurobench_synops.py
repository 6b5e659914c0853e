"""The profiler's SynOps equal NeuroBench's ``Effective_ACs`` on the same network and input.

NeuroBench (2.3.0, ``SynapticOperations``) counts, for every Linear/Conv layer and step, the
non-zero binary inputs times the non-zero weights, and averages over samples.  The network it
reads here is an snnTorch-style module holding the *deployed* synapse blocks (the weights Lava
uses, as ``nn.Linear``/``nn.Conv2d``) and replaying, step by step, the spikes every layer
emitted on the emulator, so both tools count the same events: the compiled snnTorch network's
chip run on the same input, over the same raw steps.
"""

from __future__ import annotations

import numpy as np
import pytest
import snntorch as snn
from neurobench.benchmarks import Benchmark
from neurobench.metrics.workload import SynapticOperations
from neurobench.models import SNNTorchModel
from snntorch_nets import NEURON, LifMLP, _scaled_linear, export, nn, torch

import snnc
from snnc.backends.emulator.synapse import conv_weights, effective_weights
from snnc.backends.wiring import wiring
from snnc.compiler.ir import loihi

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _uniform_leaky(shape) -> "snn.Leaky":
    """One β and threshold for the population: its conv stays a shared-kernel block (Lava Conv)."""
    return snn.Leaky(beta=torch.full(shape, 0.9), threshold=torch.full(shape, 1.0), **NEURON)


class ConvNet2(nn.Module):
    """Conv2d -> Leaky -> Conv2d -> Leaky -> Flatten -> Linear -> Leaky (no pooling)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.lif1 = nn.Conv2d(2, 3, 3, padding=1), _uniform_leaky((3, 6, 6))
        self.conv2, self.lif2 = nn.Conv2d(3, 4, 3, padding=1, bias=False), _uniform_leaky((4, 6, 6))
        with torch.no_grad():
            self.conv1.weight.mul_(4.0)
            self.conv2.weight.mul_(3.0)
        self.flat = nn.Flatten()
        self.fc3, self.lif3 = _scaled_linear(4 * 6 * 6, 5, 3.0), _uniform_leaky((5,))

    def forward(self, x):
        s1, _ = self.lif1(self.conv1(x))
        s2, _ = self.lif2(self.conv2(s1))
        s3, _ = self.lif3(self.fc3(self.flat(s2)))
        return s1, s3


class ChipReplay(nn.Module):
    """The deployed blocks as torch layers, fed each step with the spikes the chip produced."""

    def __init__(self, prog, raw):
        super().__init__()
        g = prog.graph
        w = wiring(g)
        self.layers = nn.ModuleList()
        self.sources = []
        for name in w.synapses:
            syn = g[name]
            if isinstance(syn, loihi.ConvSynapse):
                wt = conv_weights(syn)
                layer = nn.Conv2d(wt.shape[1] * syn.groups, wt.shape[0], wt.shape[2:], stride=syn.stride,
                                  padding=syn.padding, dilation=syn.dilation, groups=syn.groups, bias=False)
                layer.weight.data = torch.tensor(wt, dtype=torch.float32)
                shape = syn.in_shape
            else:
                wt = effective_weights(syn)
                layer = nn.Linear(syn.n_in, syn.n_out, bias=False)
                layer.weight.data = torch.tensor(np.asarray(wt.todense() if hasattr(wt, "todense") else wt),
                                                 dtype=torch.float32)
                shape = (syn.n_in,)
            self.layers.append(layer)
            self.sources.append((w.syn_src[name], shape))
        self.source = w.source
        self.raw = raw
        self.lif = snn.Leaky(beta=0.5)  # an snnTorch neuron module, as NeuroBench expects one
        self.t = 0

    def reset(self):
        self.t = 0

    def forward(self, x_t):
        b = x_t.shape[0]
        out = None
        for layer, (src, shape) in zip(self.layers, self.sources, strict=True):
            if src == self.source:
                s = x_t
            else:
                s = torch.tensor(self.raw.spikes[src][:, self.t].reshape(b, -1), dtype=torch.float32)
            out = layer(s.reshape(b, *shape))
        self.t += 1
        return out, None


@pytest.mark.parametrize("make, in_shape", [(LifMLP, (12,)), (ConvNet2, (2, 6, 6))], ids=["mlp", "conv"])
def test_synops_equal_neurobench_effective_acs(tmp_path, make, in_shape):
    torch.manual_seed(0)
    prog = snnc.compile(export(make(), in_shape, tmp_path), target="loihi2")
    x = (np.random.default_rng(0).random((4, 20, *in_shape)) < 0.3).astype(np.uint8)
    kinds = {type(prog.graph[n]) for n in prog.graph.of_kind(loihi.Synapse, loihi.ConvSynapse)}
    assert kinds == ({loihi.Synapse, loihi.ConvSynapse} if make is ConvNet2 else {loihi.Synapse})
    rep = prog.profile(x)
    raw = prog.run(x, return_raw=True)
    xs = np.zeros((x.shape[0], raw.steps, *in_shape), np.float32)
    xs[:, : x.shape[1]] = x  # the chip runs T + latency raw steps; the input is silent after T
    data = torch.utils.data.TensorDataset(torch.tensor(xs), torch.zeros(x.shape[0]))
    loader = torch.utils.data.DataLoader(data, batch_size=x.shape[0])  # ChipReplay holds the whole batch
    bench = Benchmark(SNNTorchModel(ChipReplay(prog, raw)), loader, [], [], [[], [SynapticOperations]])
    nb = bench.run(quiet=True)["SynapticOperations"]
    assert rep.synops > 0 and nb["Effective_MACs"] == 0  # binary spikes only: all ACs
    assert rep.synops == pytest.approx(nb["Effective_ACs"], abs=1e-9)
    # NeuroBench's Dense count (every input, zero or not, x all connections) bounds it
    assert rep.synops < nb["Dense"]

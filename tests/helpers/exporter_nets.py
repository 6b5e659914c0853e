"""Small networks built in each framework and written with the framework's own NIR exporter
(Sinabs 3.1.3, Rockpool 3.1.0, snnTorch 1.0.0), for tests that need real exporter files.

``netx_cases(tmp_path)`` gives the ones lava-dl netx can represent (one time constant per layer,
no bias into a synaptic current, no reset by subtraction on a convolution), as
``name -> (path, input_shape, compile keywords)``; ``netx_refused(tmp_path)`` gives exporter files
netx cannot represent, with the layer and the reason the export must name.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import torch

EXAMPLE_MLP = Path(__file__).resolve().parents[2] / "examples" / "mlp.nir"


def _write(graph, path: Path) -> Path:
    nir.write(path, graph)
    return path


# ------------------------------------------------------------------------------------ Sinabs
def sinabs_mlp(path: Path, reset: str, bias: bool = True, per_neuron_tau: bool = False, seed: int = 0) -> Path:
    import sinabs
    import sinabs.layers as sl
    from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike

    torch.manual_seed(seed)
    fn = MembraneSubtract() if reset == "subtract" else MembraneReset()
    tau = torch.rand(16) * 6 + 2 if per_neuron_tau else torch.full((16,), 5.0)
    net = torch.nn.Sequential(
        torch.nn.Linear(8, 16, bias=bias),
        sl.LIF(tau_mem=tau, spike_threshold=torch.ones(16), spike_fn=SingleSpike, reset_fn=fn),
        torch.nn.Linear(16, 6, bias=False),
        sl.IAF(spike_threshold=torch.ones(6), spike_fn=SingleSpike, reset_fn=fn),
    )
    with torch.no_grad():
        net[0].weight.mul_(6.0)
        net[2].weight.mul_(2.0)
    return _write(sinabs.to_nir(net, torch.zeros(1, 1, 8)), path)


def sinabs_cnn(path: Path, reset: str, seed: int = 2) -> Path:
    """Conv2d → IAF → SumPool2d → Conv2d → IAF → Flatten → Linear → IAF (Sinabs' CNN shape)."""
    import sinabs
    import sinabs.layers as sl
    from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike

    torch.manual_seed(seed)
    fn = MembraneSubtract() if reset == "subtract" else MembraneReset()
    iaf = dict(spike_threshold=torch.ones(1), spike_fn=SingleSpike, reset_fn=fn, batch_size=1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), sl.IAFSqueeze(**iaf),
        sl.SumPool2d(2),
        torch.nn.Conv2d(4, 6, 3, stride=2, bias=False), sl.IAFSqueeze(**iaf),
        torch.nn.Flatten(), torch.nn.Linear(6, 5, bias=False), sl.IAFSqueeze(**iaf),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[3].weight.mul_(2.0)
        net[6].weight.mul_(3.0)
    graph = sinabs.to_nir(net, torch.zeros(1, 2, 8, 8))
    graph.infer_types()
    return _write(graph, path)


# ---------------------------------------------------------------------------------- Rockpool
def rockpool_net(path: Path, seed: int = 0, steps: int = 40) -> Path:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    torch.manual_seed(seed)
    lif = dict(dt=1e-3, max_spikes_per_dt=1)
    net = Sequential(
        LinearTorch((8, 16), has_bias=False),
        LIFTorch(16, tau_mem=torch.full((16,), 0.02), tau_syn=torch.full((16,), 0.005), threshold=torch.ones(16), **lif),
        LinearTorch((16, 6), has_bias=False),
        LIFTorch(6, tau_mem=torch.full((6,), 0.02), tau_syn=torch.full((6,), 0.005), threshold=torch.ones(6), **lif),
        LinearTorch((6, 4), has_bias=False),
        LIFNeuronTorch(4, tau_mem=torch.full((4,), 0.01), threshold=torch.ones(4), **lif),
    )
    with torch.no_grad():
        for i, gain in ((0, 1.5), (2, 2.0), (4, 2.5)):
            net[i].weight.mul_(gain)
    return _write(to_nir(net, torch.zeros(1, steps, 8)), path)


# ---------------------------------------------------------------------------------- snnTorch
def snntorch_net(path: Path, kind: str, seed: int = 0) -> tuple[Path, tuple[int, ...]]:
    """snnTorch networks with one β (and α) per layer: ``leaky`` (reset zero, biases), ``subtract``
    (reset by subtraction, bias-free), ``synaptic`` (bias-free), ``conv``, ``rleaky``."""
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(seed)
    nn = torch.nn

    def leaky(n, reset="zero"):
        n = n if isinstance(n, tuple) else (n,)
        return snn.Leaky(beta=torch.full(n, 0.85), threshold=torch.ones(n), reset_mechanism=reset,
                         reset_delay=False)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            if kind == "conv":
                self.conv1, self.lif1 = nn.Conv2d(2, 4, 3, padding=1), leaky((4, 8, 8))
                with torch.no_grad():
                    self.conv1.weight.mul_(4.0)
                self.pool, self.flat = nn.AvgPool2d(2), nn.Flatten()
                self.fc2, self.lif2 = nn.Linear(64, 6), leaky(6)
            elif kind == "rleaky":
                self.fc1 = nn.Linear(12, 16)
                self.lif1 = snn.RLeaky(beta=torch.full((16,), 0.85), linear_features=16, all_to_all=True,
                                       threshold=torch.ones(16), reset_mechanism="zero", reset_delay=False)
                self.fc2, self.lif2 = nn.Linear(16, 6), leaky(6)
            elif kind == "synaptic":
                syn = dict(alpha=None, beta=None, reset_mechanism="zero", reset_delay=False)
                self.fc1 = nn.Linear(12, 16, bias=False)
                self.lif1 = snn.Synaptic(**{**syn, "alpha": torch.full((16,), 0.7), "beta": torch.full((16,), 0.85)},
                                         threshold=torch.ones(16))
                self.fc2 = nn.Linear(16, 6, bias=False)
                self.lif2 = snn.Synaptic(**{**syn, "alpha": torch.full((6,), 0.7), "beta": torch.full((6,), 0.85)},
                                         threshold=torch.ones(6))
            else:
                reset = "subtract" if kind == "subtract" else "zero"
                self.fc1, self.lif1 = nn.Linear(12, 16, bias=kind != "subtract"), leaky(16, reset)
                self.fc2, self.lif2 = nn.Linear(16, 6, bias=kind != "subtract"), leaky(6, reset)
            with torch.no_grad():
                for m in (getattr(self, "fc1", None), self.fc2):
                    if m is not None:
                        m.weight.mul_(3.0)

        def forward(self, x):
            h = self.conv1(x) if kind == "conv" else self.fc1(x)
            out = self.lif1(h)
            h = out[0]
            if kind == "conv":
                h = self.flat(self.pool(h))
            return self.lif2(self.fc2(h))[0]

    shape = (2, 8, 8) if kind == "conv" else (12,)
    net = Net()
    return _write(export_to_nir(net, torch.zeros(1, *shape), ignore_dims=[0]), path), shape


# ------------------------------------------------------------------------------------- cases
def netx_cases(tmp_path: Path) -> dict[str, tuple[Path, tuple[int, ...], dict]]:
    """Exporter files lava-dl netx can represent, with the keywords to compile them."""
    cases: dict[str, tuple[Path, tuple[int, ...], dict]] = {
        "example_mlp": (EXAMPLE_MLP, (64,), {}),
        "sinabs_mlp_zero": (sinabs_mlp(tmp_path / "sz.nir", "value"), (8,), {"convention": "sinabs", "reset": "value"}),
        "sinabs_mlp_subtract": (sinabs_mlp(tmp_path / "ss.nir", "subtract", bias=False), (8,), {"convention": "sinabs"}),
        "sinabs_cnn_zero": (sinabs_cnn(tmp_path / "sc.nir", "value"), (2, 8, 8), {"convention": "sinabs", "reset": "value"}),
        "rockpool": (rockpool_net(tmp_path / "rp.nir"), (8,), {"convention": "rockpool", "reset": "value"}),
    }
    for kind in ("leaky", "subtract", "synaptic", "conv", "rleaky"):
        path, shape = snntorch_net(tmp_path / f"st_{kind}.nir", kind)
        kw = {"convention": "snntorch"} | ({"reset": "subtract"} if kind == "subtract" else {})
        cases[f"snntorch_{kind}"] = (path, shape, kw)
    return cases


def netx_refused(tmp_path: Path) -> dict[str, tuple[Path, dict, str, str]]:
    """Exporter files netx cannot represent: ``name -> (path, compile keywords, layer, reason)``."""
    return {
        "per_neuron_tau": (sinabs_mlp(tmp_path / "pn.nir", "value", per_neuron_tau=True),
                           {"convention": "sinabs", "reset": "value"}, "1", "per-neuron dv"),
        "subtract_with_bias": (sinabs_mlp(tmp_path / "sb.nir", "subtract"), {"convention": "sinabs"}, "1",
                               "a bias into the synaptic current"),
        "subtract_conv": (sinabs_cnn(tmp_path / "sc.nir", "subtract"), {"convention": "sinabs"}, "1",
                          "a recurrent convolution (the self-synapse of its reset by subtraction"),
    }

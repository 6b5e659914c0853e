"""snnTorch-exported networks, compiled: the emulator equals Lava on every layer.

The second half of the central differential test (the first is the hypothesis campaign in
``tests/property/test_lava_differential.py``): real exporter output -- per-neuron β and
thresholds, CubaLIF, convolution + pooling, an RLeaky cycle with a recurrent bias -- goes
through ``snnc.compile`` and runs on the emulator and on real Lava processes
(``Loihi2SimCfg(select_tag="fixed_pt")``); every layer's raw spike raster must be equal.
The deployed output must also stay close to snnTorch's own forward pass (fixed point).
"""

from __future__ import annotations

import numpy as np
import pytest
from snntorch_nets import (
    BATCH,
    STEPS,
    ConvNet,
    CubaMLP,
    LifMLP,
    RecurrentNet,
    export,
    run_snntorch,
    torch,
)

import snnc

pytestmark = [
    pytest.mark.lava,
    pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning"),
]


@pytest.mark.parametrize(
    "net_cls, in_shape",
    [(LifMLP, (12,)), (CubaMLP, (12,)), (ConvNet, (2, 8, 8)), (RecurrentNet, (12,))],
    ids=["lif-mlp", "cubalif-mlp", "conv-pool", "recurrent"],
)
def test_exported_network_emulator_equals_lava(tmp_path, net_cls, in_shape):
    torch.manual_seed(0)
    net = net_cls()
    prog = snnc.compile(export(net, in_shape, tmp_path), target="loihi2")
    x = (torch.rand(BATCH, STEPS, *in_shape) < 0.3).float()
    emu = prog.run(x.numpy(), backend="emulator", return_raw=True)
    lava = prog.run(x.numpy(), backend="lava", return_raw=True)
    assert sorted(emu.spikes) == sorted(lava.spikes)
    for layer in emu.spikes:
        assert emu.spikes[layer].sum() > 0, f"{layer} is silent: the comparison would be empty"
        np.testing.assert_array_equal(emu.spikes[layer], lava.spikes[layer], err_msg=layer)
    # deployed (8-bit fixed point) vs snnTorch's own float forward pass, outputs aligned
    expected = run_snntorch(net, x)[-1]
    y = prog.run(x.numpy())
    assert y.shape == expected.shape
    assert np.mean(y == expected) >= 0.95
    assert abs(int(y.sum()) - int(expected.sum())) <= 0.05 * expected.sum() + 2

"""Spike decoders: known values, shapes, gradients."""

import pytest
import torch

from snnc.distill import decoders as d
from snnc.errors import ValidationError


def _spikes():
    # batch 2, T 4, 3 neurons
    s = torch.zeros(2, 4, 3)
    s[0, 1, 0] = s[0, 3, 0] = 1  # first spike at t=1
    s[0, 0, 1] = 1  # first spike at t=0
    s[1, 2, 2] = 1
    return s


def test_rate_known_values_and_scale_gradient():
    s = _spikes()
    dec = d.RateDecoder(scale=2.0, learnable=True)
    r = dec(s)
    assert torch.allclose(r, torch.tensor([[1.0, 0.5, 0.0], [0.0, 0.0, 0.5]]))
    r.sum().backward()
    assert dec.log_scale.grad is not None and dec.log_scale.grad != 0


def test_membrane_decoders():
    v = torch.arange(24.0).reshape(2, 4, 3)
    assert torch.equal(d.MembraneMeanDecoder()(v), v.mean(1))
    assert torch.equal(d.MembraneMeanDecoder(cumulative=True)(v), v[:, -1] / 4)
    assert torch.equal(d.MembraneLastDecoder()(v), v[:, -1])


def test_first_spike_known_values_and_gradient():
    s = _spikes().requires_grad_(True)
    out = d.FirstSpikeDecoder()(s)
    # value (T - t)/T of the first spike; the later spike at t=3 does not count
    assert torch.allclose(out, torch.tensor([[3 / 4, 1.0, 0.0], [0.0, 0.0, 2 / 4]]))
    out.sum().backward()
    assert s.grad.abs().sum() > 0


def test_per_timestep_identity_and_running_mean():
    x = torch.tensor([[[1.0], [3.0], [5.0]]])
    assert torch.equal(d.PerTimestepDecoder()(x), x)
    assert torch.allclose(d.PerTimestepDecoder(running=True)(x), torch.tensor([[[1.0], [2.0], [3.0]]]))


def test_affine_decoder_shape_layernorm_and_gradient():
    torch.manual_seed(0)
    dec = d.AffineDecoder(3, 5)
    s = _spikes()
    z = dec(s)
    assert z.shape == (2, 5)
    assert torch.allclose(z.mean(1), torch.zeros(2), atol=1e-5)  # LayerNorm output
    (z ** 2).sum().backward()
    assert dec.linear.weight.grad.abs().sum() > 0


def test_make_decoder_and_unknown_name():
    assert isinstance(d.make_decoder("rate"), d.RateDecoder)
    with pytest.raises(ValidationError, match="unknown decoder"):
        d.make_decoder("nope")

"""The spiking student: an ordered stack of CUBA LIF layers and one deployable read-out.

``SpikingStudent(input_shape, layers, output)`` takes spikes ``x`` (B, T, *input_shape) and
returns a :class:`StudentOutput`.  ``output`` picks the deployable output decoder and with it
the output population:

==============  =======================  ==========================================
output          population (NIR)         logits / per-step logits
==============  =======================  ==========================================
``mem_mean``    Affine → I (integrator)  v_T / T  /  v_t / (t+1)
``per_timestep`` Affine → Output         mean_t v_t  /  v_t
``mem_last``    Affine → LI (leaky)      v_T  /  v_t
``rate``        Linear → CubaLIF         scale · mean_t s_t  /  running rate
``first_spike`` Linear → CubaLIF         scale · first-spike value  /  running rate
==============  =======================  ==========================================

Layers are named (an ``OrderedDict``), so features are tapped by module name with forward
hooks (:mod:`snnc.distill.taps`).  :meth:`SpikingStudent.quantize` switches to QAT: the
registers come from ``snnc.compile`` itself (:mod:`snnc.distill.export`).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from snnc.distill import export
from snnc.distill.decoders import FirstSpikeDecoder, PerTimestepDecoder, RateDecoder
from snnc.distill.neurons import CubaLIF, Readout, SeqFlatten
from snnc.errors import ValidationError

OUTPUTS = ("mem_mean", "per_timestep", "mem_last", "rate", "first_spike")
_READOUT_KIND = {"mem_mean": "integrator", "per_timestep": "current", "mem_last": "leaky"}


@dataclasses.dataclass
class StudentOutput:
    logits: torch.Tensor  # (B, n_out)
    per_step: torch.Tensor  # (B, T, n_out) logits at every step (usable at any T' <= T)
    trace: torch.Tensor  # (B, T, n_out) what the output population emits (v or spikes)
    spikes: torch.Tensor  # (B,) spikes per sample over every spiking layer and step
    rates: dict[str, torch.Tensor]  # per spiking layer: mean firing rate per sample (B,)


class SpikingStudent(nn.Module):
    """Spiking layers (``CubaLIF``/``SeqFlatten``) then one output layer; see module docstring."""

    def __init__(self, input_shape: Sequence[int], layers: OrderedDict, output: str = "mem_mean",
                 n_out: int | None = None, out_beta: float = 0.75, rate_scale: float = 10.0):
        super().__init__()
        if output not in OUTPUTS:
            raise ValidationError(f"unknown student output {output!r}", hint=f"use one of {OUTPUTS}")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.body = nn.Sequential(layers)
        self.output = output
        last = list(layers.values())[-1]
        n_hidden = last.synapse.out_features if isinstance(last.synapse, nn.Linear) else None
        if n_hidden is None or n_out is None:
            raise ValidationError("the last hidden layer must be dense and n_out given",
                                  hint="end the body with CubaLIF.dense(...) and pass n_out=")
        if output in _READOUT_KIND:
            self.out = Readout(n_hidden, n_out, _READOUT_KIND[output], beta=out_beta)
        else:
            self.out = CubaLIF.dense(n_hidden, n_out)
            self.scale = RateDecoder(rate_scale, learnable=True)
        self.running = PerTimestepDecoder(running=True)

    def spiking_layers(self) -> list[tuple[str, CubaLIF]]:
        return [(f"body.{n}", m) for n, m in self.body.named_children() if isinstance(m, CubaLIF)]

    def forward(self, x: torch.Tensor) -> StudentOutput:
        if tuple(x.shape[2:]) != self.input_shape:
            raise ValidationError(f"student input has shape {tuple(x.shape)}, expected (B, T, *{self.input_shape})",
                                  hint="pass spikes (batch, time, *input_shape)")
        rates, total = {}, 0.0
        h = x
        for name, m in self.body.named_children():
            h = m(h)
            if isinstance(m, CubaLIF):
                r = h.reshape(h.shape[0], h.shape[1], -1)
                rates[f"body.{name}"] = r.mean((1, 2))
                total = total + r.sum((1, 2))
        trace = self.out(h)
        t = trace.shape[1]
        if self.output == "mem_mean":
            logits, per_step = trace[:, -1] / t, trace / torch.arange(1, t + 1, device=trace.device).reshape(1, -1, 1)
        elif self.output in ("per_timestep",):
            logits, per_step = trace.mean(1), trace
        elif self.output == "mem_last":
            logits, per_step = trace[:, -1], trace
        else:
            k = self.scale.log_scale.exp()
            rates["out"] = trace.mean((1, 2))
            total = total + trace.sum((1, 2))
            per_step = self.running(trace) * k
            logits = per_step[:, -1] if self.output == "rate" else FirstSpikeDecoder()(trace) * k
        return StudentOutput(logits, per_step, trace, total, rates)

    # -------------------------------------------------------------- QAT
    def quantize(self, target: str = "loihi2"):
        """Compile this student with snnc (stop after ``quantize``) and switch to QAT mode.

        Call again after the weights change; returns the Loihi-dialect graph."""
        return export.quantize_student(self, target)

    def to_nir(self):
        """The deployable student as a ``nir.NIRGraph`` (:func:`snnc.distill.export.to_nir`);
        ``snnc.load(student)`` reads it through this method."""
        return export.to_nir(self)

    def set_qat(self, on: bool) -> None:
        for m in self.modules():
            if isinstance(m, (CubaLIF, Readout)):
                m.qat = on

    @property
    def qat_on(self) -> bool:
        return bool(self.out.qat and self.out.integer is not None)


def _recipes(learn_decay: bool, learn_threshold: bool | str, batchnorm: bool) -> dict:
    return dict(learn_decay=learn_decay, learn_threshold=learn_threshold, batchnorm=batchnorm)


def dense_student(sizes: Sequence[int], output: str = "mem_mean", alpha: float = 0.5, beta: float = 0.75,
                  threshold: float = 1.0, learn_decay: bool = False, learn_threshold: bool | str = False,
                  batchnorm: bool = False, **kw) -> SpikingStudent:
    """``sizes = [n_in, h1, ..., n_out]``: hidden layers ``fc1, fc2, ...`` then the output.
    ``learn_decay``, ``learn_threshold`` (True/"layer" or "channel"), ``batchnorm``: the recipes
    of :class:`~snnc.distill.neurons.CubaLIF`, on every hidden layer."""
    if len(sizes) < 3:
        raise ValidationError(f"sizes {list(sizes)} need at least input, one hidden and output",
                              hint="e.g. [64, 64, 64, 10]")
    rec = _recipes(learn_decay, learn_threshold, batchnorm)
    layers = OrderedDict(
        (f"fc{i + 1}", CubaLIF.dense(a, b, alpha=alpha, beta=beta, threshold=threshold, **rec))
        for i, (a, b) in enumerate(zip(sizes[:-2], sizes[1:-1]))
    )
    return SpikingStudent((sizes[0],), layers, output, n_out=sizes[-1], **kw)


def conv_student(input_shape: Sequence[int], channels: Sequence[int], hidden: int, n_out: int,
                 kernel: int = 3, stride: int = 2, output: str = "mem_mean", alpha: float = 0.5,
                 beta: float = 0.75, threshold: float = 1.0, learn_decay: bool = False,
                 learn_threshold: bool | str = False, batchnorm: bool = False, **kw) -> SpikingStudent:
    """Conv CUBA LIF layers ``conv1, ...`` (C, H, W), flatten, one dense hidden ``fc``, output
    (``learn_decay``, ``learn_threshold``, ``batchnorm`` as in :func:`dense_student`)."""
    rec = _recipes(learn_decay, learn_threshold, batchnorm)
    layers: OrderedDict = OrderedDict()
    shape = tuple(input_shape)
    c = shape[0]
    for i, ch in enumerate(channels):
        m = CubaLIF.conv(c, ch, kernel, stride=stride, padding=kernel // 2, alpha=alpha, beta=beta,
                         threshold=threshold, **rec)
        layers[f"conv{i + 1}"] = m
        with torch.no_grad():
            shape = tuple(m.synapse(torch.zeros(1, *shape)).shape[1:])
        c = ch
    layers["flat"] = SeqFlatten()
    n = int(torch.tensor(shape).prod())
    layers["fc"] = CubaLIF.dense(n, hidden, alpha=alpha, beta=beta, threshold=threshold, **rec)
    return SpikingStudent(tuple(input_shape), layers, output, n_out=n_out, **kw)

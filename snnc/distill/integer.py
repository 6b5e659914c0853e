"""Lava ``fixed_pt`` integer arithmetic in torch, for the QAT forward of a student layer.

The registers come from snnc's own compiler (:func:`snnc.distill.export.quantize_student`);
this module only *executes* them, with the emulator's torch arithmetic: the LIF step is
:func:`snnc.compiler.ir.arith.lif_step` and the synapse buffers
:func:`~snnc.compiler.ir.arith.synapse_buffer` / :func:`~snnc.compiler.ir.arith.conv_buffer`
on :class:`~snnc.compiler.ir.arith.TorchOps` (int64 tensors holding int32 values), the same
functions the emulator's numpy and torch engines run.  Per step, with binary input spikes
``s``, the layer's input is what its synapse block sends one step later::

    dense:  a = synapse_buffer(Σ_j W'[i, j] · s_j, weight_exp)        (W' = Lava's clipped grid)
    conv:   a = conv_buffer(conv2d(s, W))                              (W: the int32 kernel)

Only the sums are this module's own: float64 ``matmul``/``conv2d`` of 0/1 spikes with
integer weights, exact (every partial sum is an integer below 2^53) whatever the order of
summation, as the emulator's sparse products.

Time line: QAT runs the layer on the float model's steps.  Its step ``t`` is raw step
``start_step + t`` of the compiled program (a population switches on at its synaptic depth;
before that no spike reaches it), so the state starts from :meth:`IntegerLayer.init`
(``u_init``, ``v_init``) and the bias is on from the first step.  The float value of a
register is ``v / v_scale`` with ``v_scale = 64·S`` (S: the population's scale chosen by the
quantizer).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from snnc.compiler.ir import arith, loihi
from snnc.compiler.ir.arith import LifRegisters, TorchOps


@dataclasses.dataclass
class IntegerLayer:
    """One compiled population and its one incoming synapse block, as torch tensors."""

    name: str
    conv: dict | None  # stride/padding/dilation/groups for a shared-kernel block, else None
    weights: torch.Tensor  # float64 holding the effective integer weights
    weight_exp: int
    registers: LifRegisters  # numpy (the compiled values)
    v_scale: float  # chip units per float voltage unit (64·S)
    ops: TorchOps = dataclasses.field(default_factory=TorchOps)
    reg: LifRegisters | None = None  # ``registers`` on ``ops.device`` (set by __post_init__)

    def __post_init__(self) -> None:
        self.reg = self.registers.on(self.ops)

    @classmethod
    def from_blocks(cls, name: str, comp: loihi.Compartment, syn) -> IntegerLayer:
        if isinstance(syn, loihi.ConvSynapse):
            w = arith.conv_weights(syn)
            conv = dict(stride=syn.stride, padding=syn.padding, dilation=syn.dilation, groups=syn.groups)
            exp = 0
        else:
            w = arith.effective_weights(syn)
            w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
            conv, exp = None, int(syn.weight_exp)
        return cls(
            name=name,
            conv=conv,
            weights=torch.from_numpy(np.asarray(w, dtype=np.float64)),
            weight_exp=exp,
            registers=LifRegisters.of(comp),
            v_scale=float(comp.v_scale),
        )

    def to(self, device) -> IntegerLayer:
        self.weights = self.weights.to(device)
        self.ops = TorchOps(device)
        self.reg = self.registers.on(self.ops)
        return self

    def init(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, v) before the layer's first step: its ``u_init``, ``v_init`` (batch, n) int64."""
        z = torch.zeros((batch, self.registers.n), dtype=torch.int64, device=self.ops.device)
        return z + self.ops.const(self.registers.u_init), z + self.ops.const(self.registers.v_init)

    def drive(self, s: torch.Tensor) -> torch.Tensor:
        """Synaptic input ``a`` (batch, n) int64 of binary spikes ``s`` (batch, *in_shape)."""
        s = (s != 0).to(torch.float64)
        if self.conv is not None:
            acc = torch.nn.functional.conv2d(s, self.weights, None, **self.conv)
            return arith.conv_buffer(self.ops, acc.reshape(s.shape[0], -1))
        acc = (s.reshape(s.shape[0], -1) @ self.weights.T).to(torch.int64)
        return arith.synapse_buffer(self.ops, acc, self.weight_exp)

    def step(self, u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, t: int | None = None):
        """One Lava LIF step: returns (u, v before reset, v after reset, spikes).

        ``t`` is the layer's step on the float time line (raw step ``start_step + t``); at
        ``t = 0`` a layer with ``start_step > 0`` loads ``u_init``/``v_init`` as the chip
        does.  ``None`` is any later step (the state then comes from :meth:`init`).
        """
        raw = self.reg.start_step + (1 if t is None else int(t))
        out = arith.lif_step(self.ops, self.reg, u, v, a, raw)
        return out.u, out.v_pre, out.v, out.s

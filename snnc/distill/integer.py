"""Lava ``fixed_pt`` integer arithmetic in torch, for the QAT forward of a student layer.

The registers come from snnc's own compiler (:func:`snnc.distill.export.quantize_student`);
this module only *executes* them, exactly as :mod:`snnc.backends.emulator` does (int64
tensors holding int32 values).  Per step, with binary input spikes ``s``::

    dense:  a = int32( shift( Σ_j W'[i, j] · s_j, weight_exp ) )     (W' = Lava's clipped grid)
    conv:   a = wrap24( int32( conv2d(s, W) ) )                       (no weight_exp)
    x  = u · (4096 − du − 1);        u = wrap24( int32(sign(x)·(|x| >> 12)) + int32(a << 6) )
    y  = v · (4096 − dv);            v = clip( int32(sign(y)·(|y| >> 12)) + u + bias, ±(2²³−1) )
    s  = v > (vth << 6);             v ← 0 where s

``bias = bias_mant << bias_exp``.  The float value of a register is ``v / v_scale`` with
``v_scale = 64·S`` (S: the population's scale chosen by the quantizer).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from snnc.backends.emulator.compartment import effective_bias
from snnc.backends.emulator.synapse import effective_weights
from snnc.compiler.ir import loihi

MAX_UV = 1 << 23
V_LIMIT = MAX_UV - 1


def wrap32(a: torch.Tensor) -> torch.Tensor:
    """Two's-complement wrap of int64 values to the int32 range (kept int64)."""
    return a.to(torch.int32).to(torch.int64)


def wrap24(a: torch.Tensor) -> torch.Tensor:
    """Lava Conv's ``signed_clamp(x, 24)``: ``(x + 2²³) mod 2²⁴ − 2²³``."""
    return torch.remainder(a + MAX_UV, 2 * MAX_UV) - MAX_UV


def decay(x: torch.Tensor, factor) -> torch.Tensor:
    """``sign(x·f) · (|x·f| >> 12)``: multiply by f/4096, truncating toward zero."""
    y = x * factor
    return torch.sign(y) * torch.bitwise_right_shift(torch.abs(y), loihi.DECAY_SHIFT)


@dataclasses.dataclass
class IntegerLayer:
    """One compiled population and its one incoming synapse block, as torch tensors."""

    name: str
    conv: dict | None  # stride/padding/dilation/groups for a shared-kernel block, else None
    weights: torch.Tensor  # float64 holding the effective integer weights
    weight_exp: int
    du_factor: torch.Tensor  # 4096 − du − 1 (scalar or per neuron)
    dv_factor: torch.Tensor  # 4096 − dv
    vth_eff: int  # vth << 6
    bias: torch.Tensor  # bias_mant << bias_exp, per neuron (int64)
    v_scale: float  # chip units per float voltage unit (64·S)

    @classmethod
    def from_blocks(cls, name: str, comp: loihi.Compartment, syn) -> IntegerLayer:
        n = comp.size
        du = np.broadcast_to(np.asarray(comp.du, dtype=np.int64).reshape(-1), (n,)) if np.ndim(comp.du) else comp.du
        dv = np.broadcast_to(np.asarray(comp.dv, dtype=np.int64).reshape(-1), (n,)) if np.ndim(comp.dv) else comp.dv
        if isinstance(syn, loihi.ConvSynapse):
            w = np.asarray(syn.weights, dtype=np.int64)
            conv = dict(stride=syn.stride, padding=syn.padding, dilation=syn.dilation, groups=syn.groups)
            exp = 0
        else:
            w = effective_weights(syn)
            w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
            conv, exp = None, int(syn.weight_exp)
        return cls(
            name=name,
            conv=conv,
            weights=torch.from_numpy(np.asarray(w, dtype=np.float64)),
            weight_exp=exp,
            du_factor=torch.as_tensor(loihi.DECAY_UNITY - (np.asarray(du, dtype=np.int64) + loihi.DS_OFFSET)),
            dv_factor=torch.as_tensor(loihi.DECAY_UNITY - np.asarray(dv, dtype=np.int64)),
            vth_eff=int(comp.vth) << loihi.VTH_SHIFT,
            bias=torch.from_numpy(effective_bias(comp).astype(np.int64)),
            v_scale=float(comp.v_scale),
        )

    def to(self, device) -> IntegerLayer:
        for f in ("weights", "du_factor", "dv_factor", "bias"):
            setattr(self, f, getattr(self, f).to(device))
        return self

    def drive(self, s: torch.Tensor) -> torch.Tensor:
        """Synaptic input ``a`` (batch, n) int64 of binary spikes ``s`` (batch, *in_shape)."""
        s = (s != 0).to(torch.float64)
        if self.conv is not None:
            acc = torch.nn.functional.conv2d(s, self.weights, None, **self.conv)
            return wrap24(acc.to(torch.int32).to(torch.int64)).reshape(s.shape[0], -1)
        acc = (s.reshape(s.shape[0], -1) @ self.weights.T).to(torch.int64)
        e = self.weight_exp
        acc = torch.bitwise_left_shift(acc, e) if e > 0 else torch.bitwise_right_shift(acc, -e)
        return wrap32(acc)

    def step(self, u: torch.Tensor, v: torch.Tensor, a: torch.Tensor):
        """One Lava LIF step: returns (u, v before reset, v after reset, spikes)."""
        u = wrap32(wrap32(decay(u, self.du_factor)) + wrap32(torch.bitwise_left_shift(a, loihi.ACT_SHIFT)))
        u = torch.where(u > MAX_UV, u - 2 * MAX_UV, torch.where(u <= -MAX_UV, u + 2 * MAX_UV, u))
        v = wrap32(decay(v, self.dv_factor)) + u + self.bias
        v = torch.clamp(wrap32(v), -V_LIMIT, V_LIMIT)
        s = v > self.vth_eff
        return u, v, torch.where(s, torch.zeros_like(v), v), s

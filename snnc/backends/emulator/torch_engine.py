"""The emulator's integer arithmetic in torch tensors, on the CPU or a CUDA GPU.

``emulator.run(graph, x, steps, device="cuda")`` (``Program.run(x, device=...)``) runs the
generic engine's loop (:mod:`.engine`) with torch int64 tensors holding Lava's int32 values,
every wrap where :mod:`.compartment` and :mod:`.synapse` have one::

    u = wrap32(wrap32(trunc(u · fu / 4096)) + wrap32(a << 6));   u ∓= 2^24 if u > 2^23 / u ≤ −2^23
    v = clip(wrap32(wrap32(trunc(v · fv / 4096)) + u + b), ±(2^23 − 1));  s = v > vth << 6;  v[s] = 0
    buf = wrap32(shift(Σ_j W[i, j] · s_j, e))        (Dense/Sparse/DelayDense, float64 sums)
    buf = wrap24(int32(Σ W ⋆ s))                     (Conv, numpy's float → int32 cast)

``trunc(x · f / 4096)`` is ``sign(x·f) · (|x·f| >> 12)`` in int64.  The synapse sums are float64
matrix products of 0/1 spikes with integer weights: exact (every partial sum is an integer
below 2^53, whatever the order of summation, on any BLAS), exactly as the numpy engine
computes them.  float64 is used on CUDA too (float32 could meet TF32).  The weights, decay
factors and initial values come from the numpy engine's own state classes, so the two read
the graph identically; ``tests/unit/test_emulator_torch.py`` checks spike-for-spike equality
with the numpy engine on the Lava differential generators' random programs (on the CPU; no
GPU was available where this was written, so CUDA runs are untested).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.backends.emulator.compartment import MAX_UV, V_LIMIT, CompartmentState
from snnc.backends.emulator.synapse import CONV_BITS, ConvSynapseState, SynapseState
from snnc.backends.emulator.wiring import Wiring
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import BackendUnavailableError, InputError

#: samples per span (see engine.run): one device transfer each way per span
SPAN = 4096
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _torch():
    try:
        import torch
    except ImportError:
        raise BackendUnavailableError(
            "the emulator's torch engine needs torch, which is not installed",
            hint="pip install torch, or run on the numpy engine (device=None)",
        ) from None
    return torch


def resolve_device(device):
    """``device`` as a ``torch.device`` that this machine has, or a clear error."""
    torch = _torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(f"unknown device {device!r}: {e}",
                         hint="use 'cpu', 'cuda', 'cuda:N' or None (numpy engine)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda or "none: a CPU-only build"
            raise BackendUnavailableError(
                f"device={device!r} asked for CUDA, but torch {torch.__version__} sees no "
                f"CUDA GPU (CUDA runtime of this build: {built})",
                hint="run on the CPU (device=None: the numpy emulator, or device='cpu'), or "
                "install a CUDA build of torch on a machine with an NVIDIA GPU",
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BackendUnavailableError(
                f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)",
                hint="use 'cuda' or 'cuda:0'",
            )
    elif dev.type != "cpu":
        raise BackendUnavailableError(
            f"device={device!r}: the emulator's torch engine runs on 'cpu' or 'cuda'",
            hint="use 'cpu', 'cuda' or None (numpy engine)",
        )
    return dev


def _wrap32(a):
    import torch

    return a.to(torch.int32).to(torch.int64)


def _trunc_scale(x, factor):
    """``sign(x·f) · (|x·f| >> 12)``: Lava's decay, truncating toward zero (int64)."""
    import torch

    y = x * factor
    return torch.sign(y) * torch.bitwise_right_shift(y.abs(), loihi.DECAY_SHIFT)


class _Comp:
    """A compartment's registers as int64 tensors (from the numpy engine's state class)."""

    def __init__(self, c: loihi.Compartment, dev):
        import torch

        ref = CompartmentState(c, 0)

        def t(a):
            return torch.as_tensor(np.asarray(a, dtype=np.int64), device=dev)

        self.n, self.start = ref.n, ref.start_step
        self.fu, self.fv, self.bias = t(ref.du_factor), t(ref.dv_factor), t(ref.bias)
        self.vth = int(ref.vth_eff)
        self.u_init, self.v_init = t(ref.u_init), t(ref.v_init)

    def init(self, b: int):
        import torch

        z = torch.zeros((b, self.n), dtype=torch.int64, device=self.bias.device)
        u, v = z.clone(), z
        if self.start <= 0:
            u, v = u + self.u_init, v + self.v_init
        return u, v

    def step(self, u, v, a, t: int):
        """One raw step: (u, v, spikes) after it (see the module docstring)."""
        import torch

        if t == self.start and t > 0:
            u, v = torch.zeros_like(u) + self.u_init, torch.zeros_like(v) + self.v_init
        u = _wrap32(_wrap32(_trunc_scale(u, self.fu)) + _wrap32(a << 6))
        u = torch.where(u > MAX_UV, u - 2 * MAX_UV, torch.where(u <= -MAX_UV, u + 2 * MAX_UV, u))
        v = _wrap32(_trunc_scale(v, self.fv)) + u
        if t >= self.start:
            v = v + self.bias
        v = torch.clamp(_wrap32(v), -V_LIMIT, V_LIMIT)
        s = v > self.vth
        return u, torch.where(s, torch.zeros_like(v), v), s


def _matrix(m, dev):
    """A float64 scipy/numpy matrix as a torch tensor (sparse stays sparse: COO)."""
    import torch

    if sp.issparse(m):
        m = sp.coo_matrix(m)
        idx = torch.as_tensor(np.vstack([m.row, m.col]).astype(np.int64))
        return torch.sparse_coo_tensor(idx, torch.as_tensor(m.data.astype(np.float64)),
                                       size=m.shape, check_invariants=False).coalesce().to(dev)
    return torch.as_tensor(np.asarray(m, dtype=np.float64), device=dev)


class _Syn:
    """A Synapse (any delays) or ConvSynapse: weights on the device, buffer per batch."""

    def __init__(self, syn, dev):
        self.conv = isinstance(syn, loihi.ConvSynapse)
        ref = ConvSynapseState(syn, 0) if self.conv else SynapseState(syn, 0)
        self.n_out = ref.n_out
        self.depth = 1 if self.conv else ref.depth
        self.exp = 0 if self.conv else ref.weight_exp
        self.m = _matrix(ref.matrix, dev)  # (depth · n_out, n_in)

    def sums(self, s):
        """Σ_j W[i, j]·s_j for 0/1 spikes ``s`` (b, n_in): int64 (b, depth · n_out), exact."""
        import torch

        acc = (self.m @ s.to(torch.float64).T).T
        return acc.to(torch.int64)

    def update(self, buf, s):
        import torch

        acc = self.sums(s)
        if self.conv:  # numpy's float64 → int32 cast (INT_MIN out of range), then wrap24
            out = (acc > INT32_MAX) | (acc < INT32_MIN)
            acc = torch.where(out, torch.full_like(acc, INT32_MIN), acc)
            half = 1 << (CONV_BITS - 1)
            return (torch.remainder(acc + half, 1 << CONV_BITS) - half)[:, :, None]
        acc = acc << self.exp if self.exp > 0 else acc >> -self.exp
        acc = acc.reshape(s.shape[0], self.depth, self.n_out).transpose(1, 2)
        if self.depth == 1:
            return _wrap32(acc)
        buf = torch.roll(buf, -1, dims=2)
        buf[:, :, -1] = 0
        return _wrap32(buf + acc)

    def init(self, b: int, dev):
        import torch

        return torch.zeros((b, self.n_out, self.depth), dtype=torch.int64, device=dev)

    def output(self, buf):
        return buf[:, :, 0]


class Runner:
    """Runs spans of a batch of one graph on one torch device."""

    def __init__(self, graph: Graph, w: Wiring, device):
        self.dev = resolve_device(device)
        self.w = w
        self.comps = {c: _Comp(graph[c], self.dev) for c in w.compartments}
        self.syns = {s: _Syn(graph[s], self.dev) for s in w.synapses}

    def run(self, xs: np.ndarray, spikes: dict, v_rec: dict) -> None:
        """Run ``xs`` (b, steps, n_in) bool; fill the numpy ``spikes``/``v_rec`` slices."""
        import torch

        w, dev = self.w, self.dev
        b, steps = xs.shape[0], xs.shape[1]
        x = torch.as_tensor(xs, device=dev)
        st = {c: comp.init(b) for c, comp in self.comps.items()}
        buf = {s: syn.init(b, dev) for s, syn in self.syns.items()}
        rec = {c: torch.zeros((b, steps, a.shape[2]), dtype=torch.bool, device=dev)
               for c, a in spikes.items()}
        vr = {c: torch.zeros((b, steps, a.shape[2]), dtype=torch.int64, device=dev)
              for c, a in v_rec.items()}
        current = {}
        for t in range(steps):
            for c, comp in self.comps.items():
                ins = w.comp_in[c]
                if ins:
                    a = sum(self.syns[s].output(buf[s]) for s in ins)
                    a = _wrap32(a) if len(ins) > 1 else a
                else:
                    a = torch.zeros((b, comp.n), dtype=torch.int64, device=dev)
                u, v, s = comp.step(*st[c], a, t)
                st[c] = (u, v)
                current[c] = s
                if c in rec:
                    rec[c][:, t] = s
                if c in vr:
                    vr[c][:, t] = v
            for k, syn in self.syns.items():
                src = w.syn_src[k]
                buf[k] = syn.update(buf[k], x[:, t] if src == w.source else current[src])
        for c, r in rec.items():
            spikes[c][:] = r.cpu().numpy()
        for c, r in vr.items():
            v_rec[c][:] = r.cpu().numpy()

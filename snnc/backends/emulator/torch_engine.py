"""The emulator's loop on torch tensors, on the CPU or a CUDA GPU.

``emulator.run(graph, x, steps, device="cuda")`` (``Program.run(x, device=...)``) runs the
emulator's one time loop (:func:`snnc.backends.emulator.engine._loop`) with the same state
classes and the same arithmetic (:mod:`snnc.compiler.ir.arith`, on
:class:`~snnc.compiler.ir.arith.TorchOps`) as the numpy engine: int64 tensors holding Lava's
int32 values, every wrap kept.  This module only supplies :class:`TorchArrays`, the array
plumbing on a device: allocation, the synapse sums as float64 matrix products (dense, or
sparse COO), delay slots and the transfer of inputs and records.

The sums of 0/1 spikes with integer weights are exact (every partial sum is an integer below
2^53, whatever the order of summation, on any BLAS), exactly as the numpy engine computes
them; float64 is used on CUDA too (float32 could meet TF32).
``tests/unit/test_emulator_torch.py`` checks spike-for-spike equality with the numpy engine on
the Lava differential generators' random programs (on the CPU; no GPU was available where
this was written, so CUDA runs are untested).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir.arith import TorchOps
from snnc.errors import BackendUnavailableError, InputError

#: samples per span (see engine.run): one device transfer each way per span
SPAN = 4096


def _torch():
    try:
        import torch  # optional heavy dependency: only device= runs need it
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


class TorchArrays(TorchOps):
    """:class:`~snnc.compiler.ir.arith.TorchOps` plus the plumbing of :mod:`.arrays` on a
    torch ``device`` (resolved by :func:`resolve_device`)."""

    def __init__(self, device):
        super().__init__(resolve_device(device))

    def zeros(self, shape: tuple[int, ...], dtype=np.int64):
        dt = self.torch.bool if np.dtype(dtype) == np.bool_ else self.torch.int64
        return self.torch.zeros(shape, dtype=dt, device=self.device)

    def batched(self, a: np.ndarray, batch: int):
        return self.zeros((batch, np.size(a))) + self.const(a)

    def matrix(self, m):
        """A float64 scipy/numpy matrix as a torch tensor (sparse stays sparse: COO)."""
        torch = self.torch
        if sp.issparse(m):
            m = sp.coo_matrix(m)
            idx = torch.as_tensor(np.vstack([m.row, m.col]).astype(np.int64))
            t = torch.sparse_coo_tensor(idx, torch.as_tensor(m.data.astype(np.float64)),
                                        size=m.shape, check_invariants=False)
            return t.coalesce().to(self.device)
        return torch.as_tensor(np.asarray(m, dtype=np.float64), device=self.device)

    def sums(self, m, spikes, binary: bool = False):
        if binary:
            spikes = spikes != 0
        return (m @ spikes.to(self.torch.float64).T).T

    def to_int64(self, acc):
        return acc.to(self.torch.int64)

    def max_abs(self, a) -> int:
        if a.numel() == 0:
            return 0
        if a.dtype == self.torch.bool:
            return int(a.any().item())
        return int(a.abs().max().item())

    @staticmethod
    def by_delay(acc, depth: int, n_out: int):
        return acc.reshape(acc.shape[0], depth, n_out).transpose(1, 2)

    def advance(self, buf):
        buf = self.torch.roll(buf, -1, dims=2)
        buf[:, :, -1] = 0
        return buf

    def inputs(self, xs: np.ndarray):
        return self.torch.as_tensor(xs, device=self.device)

    def record(self, target: np.ndarray):
        return self.zeros(target.shape, target.dtype)

    @staticmethod
    def copy_back(target: np.ndarray, rec) -> None:
        target[:] = rec.cpu().numpy()

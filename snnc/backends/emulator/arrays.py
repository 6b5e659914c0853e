"""The emulator's array plumbing on numpy: everything its loop needs besides the arithmetic.

The emulator's state classes (:mod:`.compartment`, :mod:`.synapse`) and its one time loop
(:mod:`.engine`) are written against an *arrays* object: the integer primitives of
:mod:`snnc.compiler.ir.arith` (:class:`~snnc.compiler.ir.arith.NumpyOps` here,
:class:`~snnc.compiler.ir.arith.TorchOps` in :mod:`.torch_engine`) plus the few operations
below that move data rather than compute Lava's arithmetic: allocation, the exact float64
matrix products of 0/1 spikes, the delay-slot layout of a buffer, and the transfer of
inputs and records.

The synapse sums are float64 matrix products of 0/1 spikes with integer weights: exact,
since every partial sum is an integer below 2^53 whatever the order of summation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir.arith import NumpyOps


class NumpyArrays(NumpyOps):
    """numpy int64 / bool arrays; scipy CSR or dense float64 weight matrices."""

    @staticmethod
    def zeros(shape: tuple[int, ...], dtype=np.int64) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)

    @staticmethod
    def batched(a: np.ndarray, batch: int) -> np.ndarray:
        """(n,) values as a fresh (batch, n) int64 array."""
        out = np.zeros((batch, np.size(a)), dtype=np.int64)
        out[:] = a
        return out

    @staticmethod
    def matrix(m):
        """A float64 weight matrix (dense or scipy sparse) in this backend's form."""
        return m

    @staticmethod
    def sums(m, spikes: np.ndarray, binary: bool = False) -> np.ndarray:
        """Σ_j M[i, j]·s_j for spikes (b, n_in) (``binary``: as Lava's ``astype(bool)``):
        float64 (b, rows), exact."""
        s = (spikes.astype(bool) if binary else spikes).astype(np.float64)
        if sp.issparse(m):
            return np.asarray(m @ s.T).T
        return s @ m.T

    @staticmethod
    def to_int64(acc: np.ndarray) -> np.ndarray:
        return acc.astype(np.int64)

    @staticmethod
    def max_abs(a: np.ndarray) -> int:
        """max |a| (0 for an empty array; bool: 0 or 1), as a Python int."""
        if a.dtype == np.bool_:
            return int(a.any())
        return int(np.max(np.abs(a), initial=0))

    @staticmethod
    def by_delay(acc: np.ndarray, depth: int, n_out: int) -> np.ndarray:
        """Sums (b, depth·n_out), delay-major, as (b, n_out, depth)."""
        return acc.reshape(acc.shape[0], depth, n_out).transpose(0, 2, 1)

    @staticmethod
    def advance(buf: np.ndarray) -> np.ndarray:
        """A delay buffer (b, n_out, depth) one step on: slot d + 1 moves to d, the last clears."""
        buf = np.roll(buf, -1, axis=2)
        buf[:, :, -1] = 0
        return buf

    @staticmethod
    def inputs(xs: np.ndarray) -> np.ndarray:
        """A span's input spikes (b, steps, n_in) bool, in this backend's form."""
        return xs

    @staticmethod
    def record(target: np.ndarray) -> np.ndarray:
        """Where the loop records into for a numpy ``target`` slice (b, steps, n)."""
        return target

    @staticmethod
    def copy_back(target: np.ndarray, rec) -> None:
        """Copy a record into its numpy ``target`` (nothing to do: it was written in place)."""


NUMPY_ARRAYS = NumpyArrays()

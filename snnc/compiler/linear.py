"""The one implementation of the float dialect's linear ops, as sparse matrices.

Every stateless linear op ``y = A x + b`` of :mod:`snnc.compiler.ir.ops` is expressed over the
C-order (row-major) flattening of its unbatched input and output tensors:

* :func:`as_matrix` -- ``A`` as a ``scipy.sparse.csr_matrix`` of shape ``(n_out, n_in)``;
* :func:`bias_vector` -- ``b`` flattened to ``(n_out,)``, or ``None`` when the op has no bias;
* :func:`apply` -- ``y = x Aᵀ + b`` for a batch ``x`` of shape ``(batch, n_in)``.

The float reference simulator and the quantizer (which builds Loihi synapse matrices from
``as_matrix``) both use these, so the two can never disagree about what a convolution means.

Convolutions (``Conv1d``, ``Conv2d``) follow ``torch.nn.functional.conv{1,2}d``::

    y[c_o, o] = b[c_o] + Σ_{c_i ∈ group(c_o), k} W[c_o, c_i, k] · x[g·C_in/G + c_i, s·o + d·k − p]

with zero padding ``p`` per side; positions outside ``[0, N)`` read zero.  ``SumPool2d`` is the
depthwise convolution with an all-ones ``kH × kW`` kernel, dilation 1; ``AvgPool2d`` divides that by
``kH·kW`` (padding counts in the divisor, torch's ``count_include_pad=True``).  ``Scale`` is the
diagonal matrix ``diag(s)``; ``Flatten`` is the identity (C-order flattening does not move data).
``Delay`` is not a matrix: it is a shift in time, handled by the simulator and the quantizer.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir import ops
from snnc.errors import IRError

__all__ = ["as_matrix", "bias_vector", "apply", "MATRIX_OPS"]

#: the op types :func:`as_matrix` accepts
MATRIX_OPS: tuple[type, ...] = (
    ops.Affine, ops.Linear, ops.Scale, ops.Conv1d, ops.Conv2d, ops.SumPool2d, ops.AvgPool2d,
    ops.Flatten,
)


def _conv_matrix(
    weight: np.ndarray,
    in_spatial: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> sp.csr_matrix:
    """Sparse matrix of an N-d grouped convolution (no bias), built by index arithmetic.

    ``weight`` has shape ``(C_out, C_in/groups, *K)``; the input is ``(C_in, *in_spatial)``.
    Every (output, input) pair occurs at most once, so no duplicates need summing.
    """
    weight = np.asarray(weight, dtype=np.float64)
    c_out, cin_g = weight.shape[:2]
    kernel = weight.shape[2:]
    nd = len(kernel)
    c_in = cin_g * groups
    out_spatial = tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(in_spatial, kernel, stride, padding, dilation)
    )
    n_out = c_out * int(np.prod(out_spatial, dtype=np.int64))
    n_in = c_in * int(np.prod(in_spatial, dtype=np.int64))
    if min(out_spatial, default=1) <= 0 or weight.size == 0:
        return sp.csr_matrix((max(n_out, 0), n_in))

    # Axes of the index grid: (C_out, O_1..O_nd, C_in/groups, K_1..K_nd).  In this order the
    # rows never decrease and, within a row, the columns strictly increase (channel, then
    # kernel offsets, which move the input position forward), so the masked entries are
    # already in canonical CSR order: no COO sort is needed.
    grid_ndim = 2 + 2 * nd

    def axis(values: np.ndarray, position: int) -> np.ndarray:
        shape = [1] * grid_ndim
        shape[position] = values.size
        return values.reshape(shape)

    co = axis(np.arange(c_out), 0)
    ci = axis(np.arange(cin_g), 1 + nd) + (co // (c_out // groups)) * cin_g  # absolute input channel
    row = co
    col = ci
    valid = np.ones((1,) * grid_ndim, dtype=bool)
    for dim in range(nd):
        k = axis(np.arange(kernel[dim]), 2 + nd + dim)
        o = axis(np.arange(out_spatial[dim]), 1 + dim)
        pos = o * stride[dim] + k * dilation[dim] - padding[dim]
        valid = valid & (pos >= 0) & (pos < in_spatial[dim])
        row = row * out_spatial[dim] + o
        col = col * in_spatial[dim] + np.clip(pos, 0, in_spatial[dim] - 1)
    full = np.broadcast_shapes(row.shape, col.shape, valid.shape)
    # weight (C_out, C_in/g, K...) onto the grid axes (C_out, 1.., C_in/g, K...)
    w = weight.reshape((c_out,) + (1,) * nd + weight.shape[1:])
    mask = np.broadcast_to(valid, full) & np.broadcast_to(w != 0, full)
    rows = np.broadcast_to(row, full)[mask]
    cols = np.broadcast_to(col, full)[mask]
    data = np.broadcast_to(w, full)[mask]
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
    del rows
    idx_dtype = np.int32 if max(n_in, data.size) < 2**31 else np.int64
    return sp.csr_matrix(
        (data, cols.astype(idx_dtype, copy=False), indptr.astype(idx_dtype, copy=False)), shape=(n_out, n_in)
    )


def _pool_matrix(op: ops.SumPool2d) -> sp.csr_matrix:
    channels, *hw = op.input_shape
    kernel = tuple(int(k) for k in op.kernel_size)
    value = 1.0 / float(np.prod(kernel)) if isinstance(op, ops.AvgPool2d) else 1.0
    weight = np.full((channels, 1, *kernel), value)
    return _conv_matrix(
        weight, tuple(hw), tuple(op.stride), tuple(op.padding), (1,) * len(kernel), channels
    )


def as_matrix(op: ops.Node) -> sp.csr_matrix:
    """The op's linear map as a CSR matrix of shape ``(n_out, n_in)`` (flattened, C order)."""
    if isinstance(op, (ops.Affine, ops.Linear)):
        return sp.csr_matrix(np.asarray(op.weight, dtype=np.float64))
    if isinstance(op, ops.Scale):
        return sp.diags(np.asarray(op.scale, dtype=np.float64).ravel(), format="csr")
    if isinstance(op, ops.Flatten):
        return sp.identity(int(np.prod(op.input_shape, dtype=np.int64)), format="csr")
    if isinstance(op, ops.Conv1d):
        return _conv_matrix(
            op.weight, (op.input_shape,), (op.stride,), (op.padding,), (op.dilation,), op.groups
        )
    if isinstance(op, ops.Conv2d):
        return _conv_matrix(
            op.weight, tuple(op.input_shape), tuple(op.stride), tuple(op.padding),
            tuple(op.dilation), op.groups,
        )
    if isinstance(op, ops.SumPool2d):  # includes AvgPool2d
        return _pool_matrix(op)
    raise IRError(
        f"{type(op).__name__} has no matrix form",
        node=op.source,
        hint="Delay is a time shift and neurons are stateful; only linear ops have a matrix",
    )


def bias_vector(op: ops.Node) -> np.ndarray | None:
    """The op's constant term flattened to ``(n_out,)``; conv biases repeat over positions."""
    if isinstance(op, ops.Affine):
        return np.asarray(op.bias, dtype=np.float64).ravel().copy()
    if isinstance(op, (ops.Conv1d, ops.Conv2d)):
        out_shape = op.out_shape
        positions = int(np.prod(out_shape[1:], dtype=np.int64))
        return np.repeat(np.asarray(op.bias, dtype=np.float64).ravel(), positions)
    return None


def apply(
    matrix: sp.spmatrix, bias: np.ndarray | None, x: np.ndarray
) -> np.ndarray:
    """``y = x Aᵀ + b`` for a batch ``x`` of shape ``(batch, n_in)``; returns ``(batch, n_out)``."""
    y = np.asarray((matrix @ x.T).T, dtype=np.float64)
    if bias is not None:
        y = y + bias
    return y

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

    # Row (c_o, o) of the matrix holds, for every kernel tap t = (c_i, k) in C order, the
    # input column (g·C_in/G + c_i, s·o + d·k − p) when that position is inside the input and
    # W[c_o, c_i, k] ≠ 0.  Taps in C order move the column forward (channel, then kernel
    # offsets), so each row's columns come out sorted: canonical CSR, no COO sort.  Built one
    # output channel at a time from (positions × taps) tables shared by all channels.
    n_pos = int(np.prod(out_spatial, dtype=np.int64))
    k_taps = int(np.prod(kernel, dtype=np.int64))
    idx_dtype = np.int32 if n_in < 2**31 and n_out * cin_g * k_taps < 2**31 else np.int64
    offs = np.zeros((1, 1), dtype=np.int64)  # (positions, kernel offsets) → flat spatial input index
    valid = np.ones((1, 1), dtype=bool)
    for dim in range(nd):
        o = np.arange(out_spatial[dim]).reshape(-1, 1)
        k = np.arange(kernel[dim]).reshape(1, -1)
        pos = o * stride[dim] + k * dilation[dim] - padding[dim]  # (O_dim, K_dim)
        ok = (pos >= 0) & (pos < in_spatial[dim])
        offs = (offs[:, None, :, None] * in_spatial[dim] + np.clip(pos, 0, in_spatial[dim] - 1)[None, :, None, :])
        valid = valid[:, None, :, None] & ok[None, :, None, :]
        offs = offs.reshape(offs.shape[0] * offs.shape[1], -1)
        valid = valid.reshape(offs.shape)
    plane = int(np.prod(in_spatial, dtype=np.int64))
    # (positions, taps): taps over (c_i, k), c_i relative to the group
    cols_rel = (np.arange(cin_g).reshape(1, -1, 1) * plane + offs[:, None, :]).reshape(n_pos, -1).astype(idx_dtype)
    valid_t = np.broadcast_to(valid[:, None, :], (n_pos, cin_g, k_taps)).reshape(n_pos, -1)
    w_flat = weight.reshape(c_out, -1)
    per_group = c_out // groups
    nonzero = w_flat != 0
    # entries per row: (valid taps of the position) · (non-zero taps of the channel), exact
    counts = (nonzero.astype(np.int64) @ valid_t.T.astype(np.int64)).reshape(-1)
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    total = int(indptr[-1])
    cols = np.empty(total, dtype=idx_dtype)  # filled in place: no concatenation copies
    data = np.empty(total, dtype=np.float64)
    # work buffers reused for every channel (fresh big temporaries cost page faults)
    m = np.empty(valid_t.shape, dtype=bool)
    w_tile = np.empty(valid_t.shape, dtype=np.float64)
    for co in range(c_out):
        lo, hi = int(indptr[co * n_pos]), int(indptr[(co + 1) * n_pos])
        np.logical_and(valid_t, nonzero[co], out=m)
        np.compress(m.reshape(-1), cols_rel.reshape(-1), out=cols[lo:hi])
        cols[lo:hi] += (co // per_group) * cin_g * plane
        w_tile[...] = w_flat[co]
        np.compress(m.reshape(-1), w_tile.reshape(-1), out=data[lo:hi])
    return sp.csr_matrix((data, cols, indptr.astype(idx_dtype, copy=False)), shape=(n_out, n_in))


def _pool_matrix(op: ops.SumPool2d) -> sp.csr_matrix:
    channels, *hw = op.input_shape
    kernel = tuple(int(k) for k in op.kernel_size)
    value = 1.0 / float(np.prod(kernel)) if isinstance(op, ops.AvgPool2d) else 1.0
    weight = np.full((channels, 1, *kernel), value)
    return _conv_matrix(
        weight, tuple(hw), tuple(op.stride), tuple(op.padding), (1,) * len(kernel), channels
    )


def conv_then_pool(conv: ops.Conv2d, pool: ops.SumPool2d) -> ops.Conv2d | None:
    """The single convolution equal to ``pool(conv(x))`` (no bias), or None.

    A pool (kernel q, stride r, no padding) reads only computed conv outputs, at positions
    ``r·o + a`` (a < q); the conv (kernel k, stride s, dilation d, padding p) reads input
    ``s·(r·o + a) + d·k − p``.  So the pair is one convolution of stride ``r·s``, padding p,
    dilation 1 and kernel ``W'[j] = v·Σ_{a·s + k·d = j} W[k]`` (per axis, size
    ``(q − 1)·s + (k − 1)·d + 1``; v = 1, or 1/(q_h·q_w) for AvgPool2d), with the same output
    shape.  Building it directly skips the conv's unrolled matrix and the sparse product.
    """
    if any(int(v) != 0 for v in pool.padding) or tuple(pool.input_shape) != tuple(conv.out_shape):
        return None
    w = np.asarray(conv.weight, dtype=np.float64)
    q = tuple(int(v) for v in pool.kernel_size)
    s, d = tuple(int(v) for v in conv.stride), tuple(int(v) for v in conv.dilation)
    k = w.shape[2:]
    size = tuple((qi - 1) * si + (ki - 1) * di + 1 for qi, si, ki, di in zip(q, s, k, d))
    out = np.zeros((*w.shape[:2], *size))
    value = 1.0 / float(np.prod(q)) if isinstance(pool, ops.AvgPool2d) else 1.0
    for a in range(q[0]):
        for b in range(q[1]):
            rows = slice(a * s[0], a * s[0] + (k[0] - 1) * d[0] + 1, d[0])
            cols = slice(b * s[1], b * s[1] + (k[1] - 1) * d[1] + 1, d[1])
            out[:, :, rows, cols] += w * value  # each term scaled, as the sparse product does
    stride = tuple(int(r) * si for r, si in zip(pool.stride, s))
    return ops.Conv2d(tuple(conv.input_shape), out, stride, tuple(conv.padding), (1, 1),
                      int(conv.groups), np.zeros(w.shape[0]), meta=dict(conv.meta))


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

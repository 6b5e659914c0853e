"""snnc.compiler.linear: sparse matrices of the linear ops against torch.nn.functional (float64)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch  # noqa: E402

from snnc.compiler import linear
from snnc.compiler.ir import ops
from snnc.errors import IRError

F = torch.nn.functional


def _run(op: ops.Node, x: np.ndarray) -> np.ndarray:
    """Apply ``op`` to a batch via its matrix; returns (batch, *out_shape)."""
    y = linear.apply(linear.as_matrix(op), linear.bias_vector(op), x.reshape(x.shape[0], -1))
    return y.reshape(x.shape[0], *op.out_shape)


def _random_conv_case(rng: np.random.Generator, nd: int) -> dict:
    groups = int(rng.choice([1, 2, 3]))
    cin = groups * int(rng.integers(1, 3))
    cout = groups * int(rng.integers(1, 3))
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=nd))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=nd))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=nd))
    padding = tuple(int(rng.integers(0, k)) for k in kernel)  # torch: pad <= k/2-ish is fine
    spatial = tuple(
        int(rng.integers(d * (k - 1) + 1, d * (k - 1) + 7)) for k, d in zip(kernel, dilation)
    )
    return dict(groups=groups, cin=cin, cout=cout, kernel=kernel, dilation=dilation,
                stride=stride, padding=padding, spatial=spatial)


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_matches_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = _random_conv_case(rng, 2)
    weight = rng.normal(size=(c["cout"], c["cin"] // c["groups"], *c["kernel"]))
    bias = rng.normal(size=c["cout"])
    op = ops.Conv2d(input_shape=c["spatial"], weight=weight, stride=c["stride"],
                    padding=c["padding"], dilation=c["dilation"], groups=c["groups"], bias=bias)
    x = rng.normal(size=(3, c["cin"], *c["spatial"]))
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias),
                   stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
                   groups=c["groups"]).numpy()
    assert op.out_shape == ref.shape[1:]
    np.testing.assert_allclose(_run(op, x), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_conv1d_matches_torch(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    c = _random_conv_case(rng, 1)
    weight = rng.normal(size=(c["cout"], c["cin"] // c["groups"], *c["kernel"]))
    bias = rng.normal(size=c["cout"])
    op = ops.Conv1d(input_shape=c["spatial"][0], weight=weight, stride=c["stride"][0],
                    padding=c["padding"][0], dilation=c["dilation"][0], groups=c["groups"],
                    bias=bias)
    x = rng.normal(size=(2, c["cin"], c["spatial"][0]))
    ref = F.conv1d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias),
                   stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
                   groups=c["groups"]).numpy()
    assert op.out_shape == ref.shape[1:]
    np.testing.assert_allclose(_run(op, x), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_pools_match_torch(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)  # torch: pad <= k/2
    shape = (int(rng.integers(1, 4)), int(rng.integers(kernel[0], 9)),
             int(rng.integers(kernel[1], 9)))
    x = rng.normal(size=(3, *shape))
    tx = torch.from_numpy(x)
    avg = ops.AvgPool2d(input_shape=shape, kernel_size=kernel, stride=stride, padding=padding)
    ref_avg = F.avg_pool2d(tx, kernel, stride, padding, count_include_pad=True).numpy()
    assert avg.out_shape == ref_avg.shape[1:]
    np.testing.assert_allclose(_run(avg, x), ref_avg, rtol=1e-12, atol=1e-12)
    total = ops.SumPool2d(input_shape=shape, kernel_size=kernel, stride=stride, padding=padding)
    np.testing.assert_allclose(_run(total, x), ref_avg * np.prod(kernel), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_conv_then_pool_is_one_conv_torch_agrees(seed: int) -> None:
    """The composed convolution equals torch's conv2d followed by its pool, shape and values."""
    rng = np.random.default_rng(300 + seed)
    c = _random_conv_case(rng, 2)
    q = tuple(int(k) for k in rng.integers(1, 4, size=2))
    r = tuple(int(k) for k in rng.integers(1, 4, size=2))
    spatial = tuple(n + 8 for n in c["spatial"])  # room for the pool
    weight = rng.normal(size=(c["cout"], c["cin"] // c["groups"], *c["kernel"]))
    conv = ops.Conv2d(input_shape=spatial, weight=weight, stride=c["stride"], padding=c["padding"],
                      dilation=c["dilation"], groups=c["groups"], bias=np.zeros(c["cout"]))
    avg = bool(seed % 2)
    pool = (ops.AvgPool2d if avg else ops.SumPool2d)(conv.out_shape, q, r, (0, 0))
    both = linear.conv_then_pool(conv, pool)
    x = rng.normal(size=(2, c["cin"], *spatial))
    y = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), stride=c["stride"], padding=c["padding"],
                 dilation=c["dilation"], groups=c["groups"])
    ref = (F.avg_pool2d(y, q, r) if avg else F.avg_pool2d(y, q, r) * np.prod(q)).numpy()
    assert both.out_shape == pool.out_shape == ref.shape[1:]
    np.testing.assert_allclose(_run(both, x), ref, rtol=1e-10, atol=1e-10)
    # the same floats as the sparse product it replaces, so compiled programs do not move
    np.testing.assert_array_equal(linear.as_matrix(both).toarray(),
                                  (linear.as_matrix(pool) @ linear.as_matrix(conv)).toarray())
    # a padded pool reads zeros the conv never computed: no single convolution
    assert linear.conv_then_pool(conv, dataclasses.replace(pool, padding=(1, 0))) is None


def test_dense_scale_flatten() -> None:
    rng = np.random.default_rng(7)
    w, b = rng.normal(size=(4, 6)), rng.normal(size=4)
    x = rng.normal(size=(5, 6))
    np.testing.assert_allclose(_run(ops.Affine(weight=w, bias=b), x), x @ w.T + b)
    np.testing.assert_allclose(_run(ops.Linear(weight=w), x), x @ w.T)
    assert linear.bias_vector(ops.Linear(weight=w)) is None
    s = rng.normal(size=(2, 3))
    np.testing.assert_allclose(_run(ops.Scale(scale=s), x.reshape(5, 2, 3)), x.reshape(5, 2, 3) * s)
    flat = ops.Flatten(input_shape=(2, 3, 4), start_dim=0, end_dim=-1)
    m = linear.as_matrix(flat)
    assert isinstance(m, sp.csr_matrix) and m.shape == (24, 24) and (m != sp.identity(24)).nnz == 0


def test_matrix_shapes_and_bias_layout() -> None:
    """(n_out, n_in) over C-order flattening; a conv bias repeats over output positions."""
    op = ops.Conv2d(input_shape=(4, 5), weight=np.ones((3, 2, 3, 3)), stride=(1, 1),
                    padding=(1, 1), dilation=(1, 1), groups=1, bias=np.array([1.0, 2.0, 3.0]))
    m = linear.as_matrix(op)
    assert isinstance(m, sp.csr_matrix) and m.shape == (3 * 4 * 5, 2 * 4 * 5)
    assert np.array_equal(linear.bias_vector(op), np.repeat([1.0, 2.0, 3.0], 20))
    # corner output (0, 0, 0) sees a 2x2 corner window in each of the 2 input channels
    assert m[0].nnz == 8


def test_delay_and_neurons_have_no_matrix() -> None:
    with pytest.raises(IRError):
        linear.as_matrix(ops.Delay(delay=np.ones(3)))
    with pytest.raises(IRError):
        linear.as_matrix(ops.I(r=np.ones(3)))

"""Synapse blocks of the Loihi dialect built from composed float paths (used by ``quantize``).

``synapse`` builds a Dense/Sparse/DelayDense block (per-block ``weight_exp``), ``conv_synapse``
a shared-kernel Lava Conv block (exponent 0) when ``shared_kernel`` finds the path is a lone
convolution, and ``always_on`` the one-neuron population that feeds a CubaLIF's synaptic bias.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.compiler import fixed_point as fx
from snnc.compiler.ir import loihi
from snnc.compiler.paths import Path
from snnc.errors import QuantizationError, ValidationError

#: a synapse block is stored sparse when fewer than this fraction of its entries are non-zero
SPARSE_DENSITY = 0.25


def always_on(start_step: int, layer: str) -> loihi.Compartment:
    """One neuron that spikes on every step from ``start_step`` on: with du = dv = 4095 and
    bias 1, v = trunc(v/4096) + 1 = 1 > vth·64 = 0 each step, and the reset keeps it there."""
    return loihi.Compartment(
        shape=(1,), du=4095, dv=4095, vth=0, bias_mant=np.ones(1, np.int64), bias_exp=0,
        start_step=start_step, meta={"source": f"{layer}:bias_source", "role": "bias"},
    )


def shared_kernel(p: Path, row_scale: np.ndarray, depth: dict[str, int], dst: str) -> np.ndarray | None:
    """The float kernel of a path that can stay a shared-weight convolution, else None.

    That needs a lone Conv2d from a population, no extra delay, and one gain for every
    neuron it feeds (per-neuron thresholds or gains would give each position its own weights).
    """
    if p.conv is None or np.any(depth[dst] - depth[p.source] - 1 + p.delay):
        return None
    if row_scale.size == 0 or not np.allclose(row_scale, row_scale[0], rtol=1e-12, atol=0.0):
        return None
    return np.asarray(p.conv.weight, dtype=np.float64) * float(row_scale[0])


def conv_synapse(p: Path, kernel: np.ndarray, scale: float, layer: str) -> tuple[loihi.ConvSynapse, int, float]:
    conv = p.conv
    mode = loihi.sign_mode_of(kernel)
    q = fx.to_grid(kernel * scale, mode)
    norm = float(np.linalg.norm(kernel))
    err = float(np.linalg.norm(q / scale - kernel)) / norm if norm > 0 else 0.0
    syn = loihi.ConvSynapse(
        weights=q,
        in_shape=tuple(conv.in_shape),
        stride=tuple(conv.stride),
        padding=tuple(conv.padding),
        dilation=tuple(conv.dilation),
        groups=int(conv.groups),
        meta={"source": layer, "from": p.source, "conv": conv.source},
    )
    return syn, 0, err


def synapse(
    p: Path, w: sp.csr_matrix | np.ndarray, scale: float, depth: dict[str, int], dst: str, layer: str, target
) -> tuple[loihi.Synapse, int, float]:
    extra = depth[dst] - depth[p.source] - 1 + p.delay
    if np.any(extra > target.max_delay):
        raise QuantizationError(
            f"needs a synaptic delay of {int(extra.max())} steps, limit {target.max_delay}",
            node=layer,
            hint="shorten the Delay or the difference in depth between merging branches",
        )
    if np.any(extra < 0):  # pragma: no cover - excluded by _depths
        raise ValidationError("negative synaptic delay", node=layer)
    q, e, mode, err = fx.quantize_weights(w, scale, target)
    nnz = q.nnz if sp.issparse(q) else int(np.count_nonzero(q))
    density = nnz / max(q.shape[0] * q.shape[1], 1)
    delays = None
    if np.any(extra):
        delays = np.broadcast_to(extra.astype(np.int64), q.shape).copy()
    if density < SPARSE_DENSITY and q.shape[0] * q.shape[1] > 4096 and delays is None:
        store = q if sp.issparse(q) else sp.csr_matrix(q)
    else:
        store = q.toarray() if sp.issparse(q) else q
    if isinstance(store, np.ndarray):
        store.setflags(write=False)  # ours alone: the node keeps it without a defensive copy
    syn = loihi.Synapse(
        weights=store,
        weight_exp=e,
        num_weight_bits=target.weight_bits,
        sign_mode=mode,
        delays=delays,
        meta={"source": layer, "from": p.source},
    )
    return syn, e, err

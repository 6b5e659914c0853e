"""CUBA LIF populations exactly as Lava 0.10.0's ``PyLifModelBitAcc`` computes them.

lava/proc/lif/models.py: ``scale_bias`` 110-122, ``subthr_dynamics`` 138-186,
``run_spk`` 194-216, ``scale_threshold`` 268-274, ``spiking_activation`` 276-278.
All values are int32 in Lava; here they are int64 holding int32 values, and every place
where Lava's int32 arithmetic could overflow is wrapped the same way (``wrap32``).
Per step, with ``a`` the sum of the incoming synapse buffers (int32 wrap)::

    b     = int32(int16(bias_mant)) << bias_exp     (>> -bias_exp when bias_exp < 0; floor)
    x     = u · (4096 − (du + 1))                   (int64)
    u'    = int32(sign(x) · (|x| >> 12)) + int32(a << 6)           (truncation toward 0)
    u     = u' − 2^24  if u' > 2^23;   u' + 2^24  if u' ≤ −2^23;   u' otherwise
    y     = v · (4096 − dv)
    v     = clip(int32(sign(y) · (|y| >> 12)) + u + b,  −(2^23 − 1), 2^23 − 1)
    s     = v > (vth << 6) ;   v ← 0 where s         (u is not reset)

The wrap of ``u`` is a single conditional ±2^24, exactly as Lava writes it (a value more
than 2^24 out of range is not folded twice).

``start_step = k > 0``: for raw steps t < k the population runs with zero bias from
u = v = 0 (it only moves if spikes reach it before step k, which a compiled program never
arranges); at the start of step k, before its update, ``u ← u_init``, ``v ← v_init``
(default 0) and the bias is switched on.  The Lava backend does the same by running in
segments and setting ``u``, ``v`` and ``bias_mant`` between them.
"""

from __future__ import annotations

import numpy as np

from snnc.backends.emulator.synapse import wrap32
from snnc.compiler.ir import loihi

MAX_UV = 1 << 23  # Lava's max_uv_val (uv_bitwidth = 24)
V_LIMIT = MAX_UV - 1


def _decay_register(d, n: int) -> int | np.ndarray:
    """``du``/``dv`` as Lava holds them (uint16): an int, or an int64 array (n,)."""
    if np.ndim(d) == 0:
        return int(d)
    return _per_neuron(d, n, np.uint16)


def _per_neuron(a, n: int, dtype) -> np.ndarray:
    if a is None:
        return np.zeros(n, dtype=np.int64)
    arr = np.broadcast_to(np.asarray(a).reshape(-1), (n,))
    return arr.astype(dtype).astype(np.int64)


def effective_bias(c: loihi.Compartment) -> np.ndarray:
    """Lava's ``scale_bias``: ``bias_mant`` (int16 Var) promoted to int32 and shifted."""
    b = _per_neuron(c.bias_mant, c.size, np.int16)
    e = int(c.bias_exp)
    return wrap32(np.left_shift(b, e)) if e >= 0 else np.right_shift(b, -e)


def decay(x: np.ndarray, factor: int) -> np.ndarray:
    """``sign(x·f) · (|x·f| >> 12)``: multiply by f/4096, truncating toward zero."""
    y = x * np.int64(factor)
    return np.sign(y) * np.right_shift(np.abs(y), loihi.DECAY_SHIFT)


class CompartmentState:
    """The state (u, v) of one population for a batch, and its per-step update."""

    def __init__(self, c: loihi.Compartment, batch: int):
        n = c.size
        self.n = n
        # scalars, or per-neuron arrays (n,) that broadcast over the batch
        self.du_factor = loihi.DECAY_UNITY - (_decay_register(c.du, n) + loihi.DS_OFFSET)
        self.dv_factor = loihi.DECAY_UNITY - _decay_register(c.dv, n)
        self.vth_eff = int(c.vth) << loihi.VTH_SHIFT
        self.bias = effective_bias(c)
        self.start_step = int(c.start_step)
        self.u_init = _per_neuron(c.u_init, n, np.int32)
        self.v_init = _per_neuron(c.v_init, n, np.int32)
        self.u = np.zeros((batch, n), dtype=np.int64)
        self.v = np.zeros((batch, n), dtype=np.int64)
        if self.start_step <= 0:
            self.u[:] = self.u_init
            self.v[:] = self.v_init

    def step(self, a_in: np.ndarray, t: int) -> np.ndarray:
        """Advance one raw step ``t`` with summed input ``a_in`` (batch, n); return spikes."""
        if t == self.start_step and t > 0:
            self.u[:] = self.u_init
            self.v[:] = self.v_init
        u = wrap32(wrap32(decay(self.u, self.du_factor)) + wrap32(np.left_shift(a_in, 6)))
        u = np.where(u > MAX_UV, u - 2 * MAX_UV, np.where(u <= -MAX_UV, u + 2 * MAX_UV, u))
        self.u = u
        v = wrap32(decay(self.v, self.dv_factor)) + u
        if t >= self.start_step:
            v = v + self.bias
        v = np.clip(wrap32(v), -V_LIMIT, V_LIMIT)
        s = v > self.vth_eff
        v[s] = 0
        self.v = v
        return s

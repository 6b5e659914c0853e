"""Populations exactly as Lava 0.10.0's fixed-point models compute them: CUBA LIF
(``PyLifModelBitAcc``, :class:`CompartmentState`) and sigma-delta (``PyDeltaModelFixed``,
``PySigmaDeltaModelFixed``, ``PySigmaModelFixed``, :class:`SigmaDeltaState`).

The arithmetic (registers, the step with every wrap, ``start_step``) is
:func:`snnc.compiler.ir.arith.lif_step` and :func:`snnc.compiler.ir.arith.sigma_delta_step`;
this module holds one population's state for a batch and advances it.  All values are int64 holding Lava's int32 values.  The same class
runs on torch tensors when given the torch engine's arrays (:mod:`.torch_engine`).
"""

from __future__ import annotations

from snnc.backends.emulator.arrays import NUMPY_ARRAYS
from snnc.compiler.ir import arith, loihi
from snnc.compiler.ir.arith import effective_bias  # noqa: F401 (re-exported: benchmarks)


class CompartmentState:
    """The state (u, v) of one population for a batch, and its per-step update."""

    def __init__(self, c: loihi.Compartment, batch: int, xp=NUMPY_ARRAYS):
        self.xp = xp
        reg = arith.LifRegisters.of(c)
        self.n = reg.n
        self.start_step = reg.start_step
        self.bias_exp = int(c.bias_exp)
        self.own = reg  # the node's registers (numpy)
        self.reg = reg.on(xp)  # the registers in the backend's form
        self.initial = reg.initial()
        self.reset(batch)

    def set_bias_mant(self, bias_mant) -> None:
        """Run with ``bias_mant`` (int16-cast int64, (n,) or (batch, n): one row per sample)
        instead of the node's own; ``None`` restores the node's."""
        reg = self.own if bias_mant is None else self.own.with_bias_mant(bias_mant, self.bias_exp)
        self.reg = reg.on(self.xp)

    def reset(self, batch: int) -> None:
        """(u, v) before raw step 0 for a batch of ``batch`` samples."""
        u0, v0 = self.initial
        self.u = self.xp.batched(u0, batch)
        self.v = self.xp.batched(v0, batch)

    def advance(self, a_in, t: int) -> arith.LifStep:
        """Advance one raw step ``t`` with summed input ``a_in`` (batch, n): the step's results
        and intermediates (:class:`~snnc.compiler.ir.arith.LifStep`)."""
        out = arith.lif_step(self.xp, self.reg, self.u, self.v, a_in, t)
        self.u, self.v = out.u, out.v
        return out

    def step(self, a_in, t: int):
        """Advance one raw step ``t`` with summed input ``a_in`` (batch, n); return spikes."""
        return self.advance(a_in, t).s


class SigmaDeltaState:
    """The state (sigma, act, residue, error) of one sigma-delta population for a batch."""

    def __init__(self, c: loihi.SigmaDeltaCompartment, batch: int, xp=NUMPY_ARRAYS):
        self.xp = xp
        own = arith.SigmaDeltaRegisters.of(c)
        self.n = own.n
        self.reg = own.on(xp)
        self.reset(batch)

    def set_bias_mant(self, bias_mant) -> None:
        """Nothing to set: the bias route feeds LIF populations only (wiring refuses it here)."""

    def reset(self, batch: int) -> None:
        z = self.xp.zeros((batch, self.n))
        self.state = arith.SigmaDeltaState(z, z, z, z)

    def advance(self, a_in, t: int) -> arith.SigmaDeltaStep:
        """Advance one raw step with summed input ``a_in`` (batch, n): ``out`` is the int32
        output (payload or sigma) and the value the population's synapses read."""
        out = arith.sigma_delta_step(self.xp, self.reg, self.state, a_in)
        self.state = out.state
        return out

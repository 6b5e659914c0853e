"""Bit-exact numpy emulator of Lava 0.10.0's fixed-point models (LIF, Delta, SigmaDelta, Sigma,
Dense, Sparse, DelayDense, Conv; binary spikes and graded payloads).

``run(graph, x, steps, record=None) -> RunResult`` executes a Loihi-dialect graph on the raw
time line of :mod:`snnc.backends.base`, batched over samples.  The arithmetic is
:mod:`snnc.compiler.ir.arith`; the states in :mod:`.synapse` (weights, accumulation, delays)
and :mod:`.compartment` (u, v, spikes); the order of operations (and the :class:`Observer`
hook) in :mod:`.engine`.  Equality with Lava is checked spike for spike by
``tests/property/test_lava_differential.py`` (sigma-delta: ``tests/property/test_sigma_delta_lava.py``).
"""

from snnc.backends.emulator.engine import BACKEND, NAME, Observer, run

__all__ = ["BACKEND", "NAME", "Observer", "run"]

"""The backend protocol: run a Loihi-dialect graph on input spikes, step by step.

Every backend returns a :class:`RunResult` on the *raw* time line of the chip: index ``t``
is Lava's ``time_step`` ``t + 1``.  Input spikes ``x[:, t]`` are sent at raw step ``t`` and
reach a population at synaptic depth ``k`` at raw step ``t + k`` (one step per synapse
layer).  :class:`snnc.Program` removes that latency; backends never shift anything.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from snnc.compiler.ir.graph import Graph


@dataclasses.dataclass
class RunResult:
    """Raw rasters of a run.

    ``spikes[name]``: bool array (batch, steps, *shape) for every recorded ``Compartment``.
    ``v[name]``: int64 array (batch, steps, *shape), the membrane voltage after the step
    (after reset), for compartments with ``readout == "v"``.
    """

    spikes: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    steps: int
    backend: str


class Backend(Protocol):
    name: str

    def run(
        self,
        graph: Graph,
        x: np.ndarray,
        steps: int,
        record: list[str] | None = None,
    ) -> RunResult:
        """Run ``graph`` for ``steps`` raw steps on ``x`` (batch, T_in, *in_shape), T_in ≤ steps.

        Steps beyond ``x``'s length receive no input spikes.  ``record`` names the
        compartments to record (``None``: all of them).
        """
        ...

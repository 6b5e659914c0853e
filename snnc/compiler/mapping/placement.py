"""Placement: the neuron → core → chip assignment of a compiled program.

Cores are numbered globally ``0 .. n_cores-1``; core ``c`` sits on chip ``chip_of_core[c]``.
Every neuron of every :class:`~snnc.compiler.ir.loihi.Compartment` has exactly one core.
A spike from neuron ``i`` of population ``p`` to a neuron on core ``c'`` travels

* within a core   when ``core_of[p][i] == c'``,
* within a chip   when ``chip_of_core[core_of[p][i]] == chip_of_core[c']``,
* across chips    otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Placement:
    """Neuron-to-core and core-to-chip assignment.

    ``core_of[pop]``: int array (n_neurons,) of global core indices for each Compartment;
    ``chip_of_core``: int array (n_cores,) giving the chip of each core;
    ``strategy``: the name of the strategy that produced it (``greedy``, ``comm``, ...).
    """

    target: str
    core_of: dict[str, np.ndarray]
    chip_of_core: np.ndarray
    strategy: str = "greedy"
    #: how the strategy decided (e.g. "comm: greedy layout kept ..."), for the report
    notes: tuple[str, ...] = ()

    @property
    def n_cores(self) -> int:
        return int(self.chip_of_core.size)

    @property
    def n_chips(self) -> int:
        return int(self.chip_of_core.max()) + 1 if self.chip_of_core.size else 0

    def chip_of(self, population: str) -> np.ndarray:
        """Chip index of every neuron of ``population``."""
        return self.chip_of_core[self.core_of[population]]

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` (an ``.npz``: integer arrays and a JSON header, no pickle)."""
        names = list(self.core_of)
        header = {"target": self.target, "strategy": self.strategy, "notes": list(self.notes),
                  "populations": names}
        arrays = {f"core_of_{i}": np.asarray(self.core_of[n], dtype=np.int32) for i, n in enumerate(names)}
        p = Path(path)
        np.savez(p, header=np.array(json.dumps(header)), chip_of_core=np.asarray(self.chip_of_core, np.int32),
                 **arrays)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Placement":
        """Read what :meth:`save` wrote."""
        with np.load(path, allow_pickle=False) as f:
            header = json.loads(str(f["header"]))
            core_of = {n: f[f"core_of_{i}"] for i, n in enumerate(header["populations"])}
            return cls(header["target"], core_of, f["chip_of_core"], header["strategy"],
                       tuple(header.get("notes", ())))

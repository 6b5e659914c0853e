"""Mapping: where each neuron of a compiled program lives (core, chip) and what that costs.

:class:`~snnc.compiler.mapping.placement.Placement` is the contract between the partitioner
(``compiler/passes/partition.py``) and its consumers (resource report, energy profiler,
hardware backend).
"""

from snnc.compiler.mapping.placement import Placement

__all__ = ["Placement"]

"""observe: per-population statistics of the float model on calibration data."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from snnc.backends.reference import observe_states
from snnc.compiler.discretize import Convention, coefficients
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.errors import CalibrationError, SnncError


@dataclasses.dataclass
class PopulationStats:
    """What one population did on the calibration data (per neuron, max over samples and steps).

    ``peak_drive``: max |g_v·I|, the voltage increment per step from the synaptic current;
    ``peak_v``: max |v| after the update (after reset for spiking neurons);
    ``spike_rate``: mean spikes per neuron per step (0 for read-outs);
    ``sample_peak_drive``: max |g_v·I| per sample and neuron (batch, n), the distribution the
    ``percentile`` calibration method reads (:mod:`snnc.calibration.methods`).
    """

    name: str
    peak_drive: np.ndarray
    peak_v: np.ndarray
    spike_rate: float
    samples: int
    steps: int
    sample_peak_drive: np.ndarray | None = None


def observe(graph: Graph, x: Any, convention: Convention) -> dict[str, PopulationStats]:
    """Run the float reference on ``x`` (batch, T, *input_shape) and collect statistics."""
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CalibrationError(
            f"calibration data has shape {tuple(arr.shape)}; need (batch ≥ 1, time ≥ 1, *input_shape)",
            hint="pass a few representative input samples",
        )
    pops = graph.of_kind(ops.NeuronOp)
    gain = {n: np.asarray(coefficients(graph[n], convention).g_v, dtype=np.float64).reshape(-1) for n in pops}
    batch = arr.shape[0]
    sample_drive = {n: np.zeros((batch, gain[n].size)) for n in pops}
    peak_v = {n: np.zeros(gain[n].size) for n in pops}
    spikes = {n: 0 for n in pops}

    def observer(t: int, neurons: dict[str, Any]) -> None:
        for n, state in neurons.items():
            np.maximum(sample_drive[n], np.abs(gain[n] * state.i), out=sample_drive[n])
            np.maximum(peak_v[n], np.abs(state.v).max(axis=0), out=peak_v[n])
            if state.z is not None:
                spikes[n] += int(np.count_nonzero(state.z))

    try:
        observe_states(graph, arr, convention, observer)
    except SnncError as e:
        raise CalibrationError(
            f"calibration data does not fit the model: {e.message}", node=e.node, hint=e.hint
        ) from None
    steps = arr.shape[1]
    return {
        n: PopulationStats(
            n, sample_drive[n].max(axis=0), peak_v[n], spikes[n] / (batch * steps * gain[n].size), batch, steps,
            sample_drive[n],
        )
        for n in pops
    }

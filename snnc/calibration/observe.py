"""observe: per-population statistics of the float model on calibration data."""

from __future__ import annotations

from typing import Any

import numpy as np

from snnc.backends.reference import observe_states
from snnc.compiler.discretize import Convention, coefficients
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.scaling import PopulationStats  # the calibration contract (re-exported)
from snnc.errors import CalibrationError, SnncError


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

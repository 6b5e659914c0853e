"""Calibration methods: how observed activity becomes each layer's fixed-point sizing.

Every method maps the float reference's statistics of one population
(:class:`~snnc.calibration.observe.PopulationStats`) to a :class:`LayerCalibration`, which the
quantizer (:mod:`snnc.compiler.passes.quantize`, step 5) reads:

* ``drive_bound`` (per neuron, float voltage units per step): the synaptic drive
  ``|g_v·I|`` the 24-bit current ``u = 64·S·g_v·I`` must hold.  The scale S is capped at
  ``2^23 / (64 · max_i drive_bound_i)`` (together with the 17-bit threshold, the bias and
  weight exponents, as without calibration);
* ``v_bound``: the same for the membrane of a read-out (which is never reset);
* ``scale_factor`` ≤ 1 (applied after S is snapped to the weight grid: the largest weight
  becomes ``254·scale_factor·2^e``, so the 8-bit rounding of every weight changes) and
  ``vth_factor`` (``vth ← round(vth·vth_factor)``, a deliberate threshold correction): set by
  the ``search`` method only (:mod:`snnc.calibration.search`).

Methods (the name is ``snnc.compile(..., calibration_method=NAME)`` / ``--calibration-method``):

``max``
    ``drive_bound = 2 · max`` over samples and steps (``CALIBRATION_MARGIN``): no calibration
    sample can wrap u, with one bit of headroom for unseen data.
``percentile``
    ``drive_bound = q``-th percentile (default 99.99 %) of the per-sample peaks over all
    samples and neurons of the layer, without margin: up to one more bit of resolution, and
    the rare samples above it are allowed to wrap (reported as a risk in the compile notes).
``search``
    starts from ``max`` and, layer by layer in depth order, keeps the (scale_factor,
    vth_factor) that minimise the emulator's spike-count error against the float reference on
    the calibration data (:mod:`snnc.calibration.search`).

:data:`DEFAULT_METHOD` is the method used when calibration data are given without a method;
chosen by measurement (``benchmarks/bench_accuracy_snn.py``, docs/calibration.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snnc.calibration.observe import PopulationStats, observe
from snnc.calibration.search import search
from snnc.compiler.scaling import (  # the contract quantize reads (re-exported here)
    CALIBRATION_MARGIN,
    LayerCalibration,
    as_layer_calibration,
    by_max,
)
from snnc.errors import CalibrationError

__all__ = [
    "DEFAULT_METHOD", "METHODS", "PERCENTILE", "RULES", "LayerCalibration", "as_layer_calibration", "by_max",
    "by_percentile", "calibrate", "calibrate_graph", "check_method", "no_data",
]

#: percentile of the per-sample peak drive the ``percentile`` method sizes the state for
PERCENTILE = 99.99


def by_percentile(stats: PopulationStats, q: float | None = None) -> LayerCalibration:
    """``percentile``: the q-th percentile of the per-sample peak drives (all neurons pooled).

    Every neuron gets the same bound (pooled), at most its own observed peak; |v| of a
    read-out keeps the ``max`` rule (a read-out's membrane is its output).
    """
    q = PERCENTILE if q is None else q
    peaks = stats.sample_peak_drive if stats.sample_peak_drive is not None else stats.peak_drive[None]
    level = float(np.percentile(peaks, q)) if peaks.size else 0.0
    drive = np.minimum(stats.peak_drive, level) if level > 0 else stats.peak_drive.copy()
    return LayerCalibration(stats, "percentile", drive, CALIBRATION_MARGIN * stats.peak_v)


#: per-layer methods; ``search`` starts from ``max`` and is refined by snnc.calibration.search
RULES: dict[str, Callable[[PopulationStats], LayerCalibration]] = {"max": by_max, "percentile": by_percentile}
METHODS = ("max", "percentile", "search")
DEFAULT_METHOD = "max"


def check_method(method: str | None) -> str:
    """The method name to use (``None``: :data:`DEFAULT_METHOD`); unknown names raise."""
    if method is None:
        return DEFAULT_METHOD
    if method not in METHODS:
        raise CalibrationError(
            f"unknown calibration method {method!r}",
            hint=f"use one of: {', '.join(METHODS)} (default {DEFAULT_METHOD})",
        )
    return method


def calibrate(stats: dict[str, PopulationStats], method: str) -> dict[str, LayerCalibration]:
    """Apply a per-layer rule to every population (``search`` starts from ``max``)."""
    rule = RULES.get(method, by_max)
    out = {}
    for name, s in stats.items():
        cal = rule(s)
        if method == "search":
            cal.method = "search"
        out[name] = cal
    return out


def no_data(method: str) -> None:
    """A method without calibration data is a mistake: say so (after checking the name)."""
    check_method(method)
    raise CalibrationError(
        f"calibration_method={method!r} needs calibration data",
        hint="pass calibration=X (input spikes (batch, T, *input_shape)) or --calibration X.npz",
    )


def calibrate_graph(graph, x, convention, target, method: str | None) -> dict[str, LayerCalibration]:
    """Observe ``x`` with the float reference and size every layer by ``method``."""
    method = check_method(method)
    stats = observe(graph, x, convention)
    for name, st in stats.items():
        if not np.any(st.peak_drive):
            raise CalibrationError(
                f"the layer receives no input on the calibration data (all-zero activity upstream, "
                f"{st.samples} samples x {st.steps} steps): its scale cannot be sized from them",
                node=graph[name].source or name,
                hint="use calibration samples that make every layer's inputs spike (real data, not zeros), "
                "or compile without calibration",
            )
    cal = calibrate(stats, method)
    if method == "search":
        cal = search(graph, x, convention, target, cal)
    return cal

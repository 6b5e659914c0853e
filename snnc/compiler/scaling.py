"""Scale selection: how many chip units one float voltage unit becomes, per population.

The chip holds a population's voltage as ``v_L = 64·S·v``.  :func:`choose_scale` picks S as
large as the registers allow (17-bit threshold, bias exponent ≤ 7, weight exponent ≤ 7, Lava
Conv's exponent-free kernel) but small enough that the worst-case state fits 24 bits; see
``docs/decisions/0003-quantization-choices.md``.

It also states the calibration contract the quantizer reads: what the float model did on the
data (:class:`PopulationStats`, measured by :func:`snnc.calibration.observe`) and what a
calibration method decided from it (:class:`LayerCalibration`, :mod:`snnc.calibration.methods`).
Both live here, below the calibration floor, so that ``passes/quantize`` needs no calibration
code (docs/decisions/0005-layering.md).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp

from snnc.compiler.targets import TargetSpec

#: below this many bits of threshold mantissa, precision is preferred over overflow safety
MIN_VTH_BITS = 8
#: steps of maximal input a perfect-integrator read-out (NIR ``I``) is sized for
READOUT_HORIZON = 100
#: headroom over the largest drive seen in calibration data
CALIBRATION_MARGIN = 2.0


# ----------------------------------------------------------------- the calibration contract
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


@dataclasses.dataclass
class LayerCalibration:
    """What a calibration method decided for one population (:mod:`snnc.calibration.methods`).

    ``drive_bound`` (per neuron, float voltage units per step) and ``v_bound`` (a read-out's
    membrane) cap the scale S; ``scale_factor`` ≤ 1 (applied after S is snapped to the weight
    grid) and ``vth_factor`` (``vth ← round(vth·vth_factor)``) are set by the ``search`` method.
    """

    stats: PopulationStats
    method: str
    drive_bound: np.ndarray
    v_bound: np.ndarray
    scale_factor: float = 1.0
    vth_factor: float = 1.0

    def bounds(self, k: np.ndarray) -> tuple[float, float]:
        """(drive, |v|) the state must hold, in the units of the folded equation (divided by k)."""
        return (
            float(np.max(self.drive_bound / k, initial=0.0)),
            float(np.max(self.v_bound / k, initial=0.0)),
        )

    def describe(self) -> str:
        extra = ""
        if self.scale_factor != 1.0 or self.vth_factor != 1.0:
            extra = f", scale x{self.scale_factor:g}, vth x{self.vth_factor:g}"
        return (
            f"calibrated ({self.method}): peak drive {float(np.max(self.stats.peak_drive, initial=0.0)):.3g}, "
            f"sized for {float(np.max(self.drive_bound, initial=0.0)):.3g}, spike rate {self.stats.spike_rate:.3f}{extra}"
        )


def by_max(stats: PopulationStats) -> LayerCalibration:
    """The ``max`` method: twice the largest drive and |v| the data produced."""
    return LayerCalibration(stats, "max", CALIBRATION_MARGIN * stats.peak_drive, CALIBRATION_MARGIN * stats.peak_v)


def as_layer_calibration(entry: PopulationStats | LayerCalibration) -> LayerCalibration:
    """A context's calibration entry as a LayerCalibration (bare statistics: the ``max`` rule)."""
    return entry if isinstance(entry, LayerCalibration) else by_max(entry)


# ------------------------------------------------------------------------- scale selection


def choose_scale(
    theta: float | None,
    weights: list[np.ndarray | sp.csr_matrix],
    bias: np.ndarray,
    alphas: tuple[float, float],
    target: TargetSpec,
    observed: tuple[float, float] | None = None,
    conv_max: float = 0.0,
) -> tuple[float, list[str]]:
    """The population scale S (chip units per float voltage unit); see step 5.

    The state bound is the worst-case current ``Σ|W|/(1 − α_I) + |B'|``; a read-out (no
    threshold, so no reset) must also hold its voltage, ``bound/(1 − α_v)``, or, for a perfect
    integrator, ``READOUT_HORIZON`` steps of it.  ``observed`` = (drive bound, |v| bound) from
    a calibration method (:mod:`snnc.calibration.methods`; ``max``: ``CALIBRATION_MARGIN``
    times what the data produced) replaces these worst cases.  ``conv_max`` is the largest
    shared-kernel weight, which must fit the 8-bit grid with exponent 0.
    """
    alpha_i, alpha_v = alphas
    notes: list[str] = []
    rowsum = np.zeros(bias.shape[0])
    max_w = 0.0
    for w in weights:
        s, m = _abs_row_sums(w)
        rowsum += s
        max_w = max(max_w, m)
    max_b = float(np.max(np.abs(bias), initial=0.0))
    worst = float(rowsum.max(initial=0.0)) / max(1.0 - alpha_i, 1e-12)
    if observed is not None:
        worst = min(worst, observed[0])
    bound = worst + max_b
    if theta is None:  # read-out: v is never reset, it must fit the 24-bit state too
        if observed is not None:
            bound = max(bound, observed[1])
        elif alpha_v < 1.0:
            bound = bound / (1.0 - alpha_v)
        else:
            bound = bound * READOUT_HORIZON
            notes.append(
                f"integrator read-out sized for {READOUT_HORIZON} steps of maximal input "
                "(pass calibration data to size it from real activity)"
            )
    limits = [math.inf]
    if theta is not None:
        limits.append(target.vth_max / theta)
    if max_b > 0:
        limits.append(target.bias_mant_max * 2.0**target.bias_exp_max / (64.0 * max_b))
    if max_w > 0:
        limits.append(254.0 * 2.0**target.weight_exp_max / max_w)
    if conv_max > 0:  # Lava's Conv has no weight exponent: its kernel must fit the grid as is
        limits.append(254.0 / conv_max)
    hard = min(limits)
    safe = (target.state_max + 1) / 64.0 / bound if bound > 0 else math.inf
    scale = min(hard, safe)
    if theta is not None:
        floor = 2.0**MIN_VTH_BITS / theta
        if scale < floor <= hard:
            notes.append(
                f"overflow risk: the worst-case input of one step ({bound / theta:.3g}x the threshold) does not "
                f"fit the 24-bit current at 8-bit threshold resolution; u wraps if that many inputs "
                f"spike at once (pass calibration data to size the layer from real activity)"
            )
            scale = floor
    if not math.isfinite(scale):
        return 1.0, notes
    return snap_to_grid(scale, max_w), notes


def _abs_row_sums(w: np.ndarray | sp.csr_matrix) -> tuple[np.ndarray, float]:
    """(Σ_j |w_ij| per row, max |w|) without building |w| of a whole big block."""
    if w.shape[0] * w.shape[1] == 0:
        return np.zeros(w.shape[0]), 0.0
    if sp.issparse(w):
        w = sp.csr_matrix(w)
        a = np.abs(w.data)
        sums = np.zeros(w.shape[0])
        nonempty = np.diff(w.indptr) > 0
        if a.size:
            sums[nonempty] = np.add.reduceat(a, w.indptr[:-1][nonempty])
        return sums, float(a.max(initial=0.0))
    w = np.asarray(w)
    sums = np.empty(w.shape[0])
    top = 0.0
    rows = max(1, (1 << 18) // w.shape[1])
    for r in range(0, w.shape[0], rows):
        a = np.abs(w[r : r + rows])
        np.sum(a, axis=1, out=sums[r : r + rows])
        top = max(top, float(a.max()))
    return sums, top


def snap_to_grid(scale: float, max_w: float) -> float:
    """Lower S (by less than 2x) so that the largest weight lands exactly on 254·2^e.

    Any S in (S/2, S] gives the same 24-bit and 17-bit safety; this one makes the block with
    the largest weight use the whole 8-bit mantissa range instead of 127..254 of it.
    """
    ratio = scale * max_w / 254.0
    if not (0.0 < ratio < math.inf):
        return scale
    e = math.floor(math.log2(ratio) + 1e-12)
    return 254.0 * 2.0**e / max_w


def saturation_notes(cal: LayerCalibration, k: np.ndarray, scale: float, target: TargetSpec) -> list[str]:
    """Overflow risk of a calibrated layer at its final scale, from the observed activity.

    The current holds ``u = 64·S·g_v·I`` in 24 bits and wraps past ±2^23; a read-out's v
    saturates there.  Counts the calibration samples whose peak drive (per neuron, divided by
    the threshold fold k) would exceed it -- a method sized below the observed peak
    (``percentile``) or a search factor can allow that, but never silently.
    """
    limit = (target.state_max + 1) / (64.0 * scale)
    notes = []
    peaks = cal.stats.sample_peak_drive
    peaks = cal.stats.peak_drive[None] if peaks is None else peaks
    over = np.max(peaks / k, axis=1, initial=0.0) >= limit
    if np.any(over):
        top = float(np.max(peaks / k)) / limit
        notes.append(
            f"overflow risk: {int(over.sum())} of {over.size} calibration samples drive the 24-bit "
            f"current past 2^23 (up to {top:.2f}x); u wraps on such inputs (use calibration_method='max')"
        )
    if float(np.max(cal.stats.peak_v / k, initial=0.0)) >= limit:
        notes.append("overflow risk: the calibration data drive |v| to the 24-bit limit; v saturates there")
    return notes

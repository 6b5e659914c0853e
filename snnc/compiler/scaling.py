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
from snnc.errors import QuantizationError

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
#: the largest mixed-sign weight mantissa (Lava's grid; every weight limit below is stated for it)
WEIGHT_TOP = 254.0


@dataclasses.dataclass
class ScaleChoice:
    """What :func:`choose_scale` decided for one population.

    ``scale``: S (chip units per float unit, snapped to the weight grid); ``notes`` for the
    layer table; ``cap``: the largest S the registers allow, set by ``binding`` (a key of
    :data:`REGISTERS`; ``None`` when nothing caps S).  The quantizer rounds the threshold down
    where rounding up would take S past ``cap``.
    """

    scale: float
    notes: list[str]
    cap: float = math.inf
    binding: str | None = None

    @property
    def nudge_limit(self) -> float:
        """The largest S the threshold's rounding may nudge to: the cap, and for a weight cap
        the grid's rounding slack (a mixed-sign mantissa below 255 still rounds to 254)."""
        return self.cap * (WEIGHT_TOP + 1.0) / WEIGHT_TOP if self.binding in ("weight", "conv") else self.cap


#: register -> what it is, as the error and the notes name it
REGISTERS = {
    "vth": "the 17-bit threshold register (vth ≤ {vth_max})",
    "bias": "the bias register (|bias_mant| ≤ {bias_mant_max}, bias_exp ≤ {bias_exp_max})",
    "weight": "the 8-bit weight mantissa (|w| ≤ 254 units of 2^weight_exp, weight_exp ≤ {weight_exp_max})",
    "conv": "Lava Conv's 8-bit kernel (|w| ≤ 254; Conv has no weight_exp)",
}


class InfeasibleScale(QuantizationError):
    """No scale gives the threshold vth ≥ 1 within the registers; ``binding`` names the register
    (a key of :data:`REGISTERS`) that caps the scale."""

    def __init__(self, message: str, *, binding: str, node: str | None = None, hint: str | None = None):
        self.binding = binding
        super().__init__(message, node=node, hint=hint)


def register_caps(theta: float | None, max_w: float, max_b: float, conv_max: float,
                  target: TargetSpec) -> dict[str, float]:
    """The largest S each register allows (only the registers that bound S here)."""
    caps: dict[str, float] = {}
    if theta is not None:
        caps["vth"] = target.vth_max / theta
    if max_b > 0:
        caps["bias"] = target.bias_mant_max * 2.0**target.bias_exp_max / (64.0 * max_b)
    if max_w > 0:
        caps["weight"] = WEIGHT_TOP * 2.0**target.weight_exp_max / max_w
    if conv_max > 0:  # Lava's Conv has no weight exponent: its kernel must fit the grid as is
        caps["conv"] = WEIGHT_TOP / conv_max
    return caps


def choose_scale(
    theta: float | None,
    weights: list[np.ndarray | sp.csr_matrix],
    bias: np.ndarray,
    alphas: tuple[float, float],
    target: TargetSpec,
    observed: tuple[float, float] | None = None,
    conv_max: float = 0.0,
    layer: str | None = None,
) -> ScaleChoice:
    """The population scale S (chip units per float unit); see step 5 of
    :mod:`snnc.compiler.passes.quantize` and ``docs/decisions/0003-quantization-choices.md``.

    1. The registers cap S (:func:`register_caps`: 17-bit threshold, bias exponent ≤ 7, weight
       exponent ≤ 7, Lava Conv's exponent-free kernel, ``conv_max`` being its largest weight).
    2. The state bound is the worst-case current ``Σ|W|/(1 − α_I) + |B'|``; a read-out (no
       threshold, so no reset) must also hold its voltage, ``bound/(1 − α_v)``, or, for a perfect
       integrator, ``READOUT_HORIZON`` steps of it.  ``observed`` = (drive bound, |v| bound) from
       a calibration method (:mod:`snnc.calibration.methods`; ``max``: ``CALIBRATION_MARGIN``
       times what the data produced) replaces these worst cases -- also the 4096 steps of a
       reset-by-subtraction IF, whose integrator leaks only 1/4096 per step
       (:mod:`snnc.compiler.reset`).  S is the largest value that keeps it within 24 bits.
    3. Precision over safety: if that leaves the threshold fewer than ``MIN_VTH_BITS`` bits, S
       is raised to 2^MIN_VTH_BITS/θ -- or to the register cap where that is lower -- and the
       layer is flagged "overflow risk" with the input at which u wraps.
    4. S is snapped to the weight grid (:func:`snap_to_grid`), unless that would round the
       threshold to 0.

    Raises :class:`InfeasibleScale` (a :class:`~snnc.errors.QuantizationError`) when even the
    cap gives vth < 1, with the numbers in conflict and what to do.
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
    caps = register_caps(theta, max_w, max_b, conv_max, target)
    binding = min(caps, key=caps.__getitem__) if caps else None
    cap = caps[binding] if binding is not None else math.inf
    if theta is not None and theta * cap < 1.0:
        raise _infeasible(theta, binding, cap, max_w, max_b, conv_max, target, layer)
    safe = (target.state_max + 1) / 64.0 / bound if bound > 0 else math.inf
    scale = min(cap, safe)
    floored = False
    if theta is not None:
        floor = min(2.0**MIN_VTH_BITS / theta, cap)  # the best resolution the registers allow
        if scale < floor:
            scale, floored = floor, True
    if not math.isfinite(scale):
        return ScaleChoice(1.0, notes, cap, binding)
    snapped = snap_to_grid(scale, max_w)
    if theta is not None and theta * snapped < 1.0:  # snapping must not lose the threshold
        snapped = scale
    if floored:
        notes.append(_overflow_note(theta, bound, snapped, alpha_i, observed is not None, target))
    if theta is not None and binding is not None and scale == cap and theta * cap < 2.0**MIN_VTH_BITS:
        largest = max(max_w, conv_max) / theta
        notes.append(
            f"threshold resolution {math.log2(max(theta * snapped, 1.0)):.1f} bits (vth={int(round(theta * snapped))}): "
            f"{REGISTERS[binding].format(**_register_values(target))} caps S at {cap:.4g}"
            + (f" (largest weight {largest:.3g}x the threshold)" if binding in ("weight", "conv") else "")
        )
    return ScaleChoice(snapped, notes, cap, binding)


def _overflow_note(theta: float, bound: float, scale: float, alpha_i: float, calibrated: bool,
                   target: TargetSpec) -> str:
    """The layer note when precision won over the 24-bit wrap guard: what the bound was and
    where u wraps now, both in multiples of the threshold."""
    if calibrated:
        what = f"the calibrated drive ({bound / theta:.3g}x the threshold)"
    elif alpha_i > 1.0 - 1.0 / 1024:
        what = (f"the worst-case input ({bound / theta:.3g}x the threshold: {1.0 / (1.0 - alpha_i):.0f} steps of "
                "maximal input into an integrator that barely leaks, e.g. a reset-by-subtraction IF)")
    else:
        what = f"the worst-case input of one step ({bound / theta:.3g}x the threshold)"
    wrap = (target.state_max + 1) / (64.0 * scale) / theta
    return (
        f"overflow risk: {what} does not fit the 24-bit current at the threshold resolution kept "
        f"(vth={int(round(theta * scale))}); u wraps where it passes {wrap:.3g}x the threshold "
        "(pass calibration data to size the layer from real activity)"
    )


def _register_values(target: TargetSpec) -> dict[str, int]:
    return {"vth_max": target.vth_max, "bias_mant_max": target.bias_mant_max,
            "bias_exp_max": target.bias_exp_max, "weight_exp_max": target.weight_exp_max}


def _infeasible(theta: float, binding: str, cap: float, max_w: float, max_b: float, conv_max: float,
                target: TargetSpec, layer: str | None) -> InfeasibleScale:
    """The error for a threshold no register setting can hold: the numbers and the options."""
    register = REGISTERS[binding].format(**_register_values(target))
    if binding == "conv":
        what, value, limit = "largest kernel weight", conv_max, WEIGHT_TOP
        hint = ("compile this convolution as a dense block (its weight_exp holds weights up to "
                f"{WEIGHT_TOP * 2.0**target.weight_exp_max:.0f}x the threshold), split it into k parallel "
                "convolutions each carrying 1/k of the kernel, or retrain with the kernel below "
                f"{WEIGHT_TOP:.0f}x the threshold (weight decay or clipping)")
    elif binding == "weight":
        what, value, limit = "largest weight", max_w, WEIGHT_TOP * 2.0**target.weight_exp_max
        hint = (f"retrain with the weights below {limit:.0f}x the threshold (weight decay or clipping; one "
                f"such input alone drives v {value / theta:.3g}x past the threshold), or split the synapse "
                "block into k parallel blocks each carrying 1/k of the weights; scaling the weights and the "
                "threshold together changes nothing (S absorbs it)")
    else:  # bias (the 17-bit threshold always allows vth ≥ 1)
        what, value = "largest bias", max_b
        limit = target.bias_mant_max * 2.0**target.bias_exp_max / 64.0
        hint = f"retrain with the bias below {limit:.0f}x the threshold per step, or drop the bias"
    message = (
        f"threshold {theta:g} cannot be represented: vth >= 1 needs a scale S >= {1.0 / theta:.4g}, but "
        f"{register} caps S at {cap:.4g}: the {what} is {value:.4g} = {value / theta:.4g}x the threshold, "
        f"and the register holds at most {limit:.0f}x the threshold (at vth = 1)"
    )
    return InfeasibleScale(message, binding=binding, node=layer, hint=hint)


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
    ratio = scale * max_w / WEIGHT_TOP
    if not (0.0 < ratio < math.inf):
        return scale
    e = math.floor(math.log2(ratio) + 1e-12)
    return WEIGHT_TOP * 2.0**e / max_w


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

"""The per-layer quantization-error report: float reference vs the emulator, layer by layer.

:func:`error_report` runs the program's float model (``prog.reference``, kept by
``snnc.compile`` and saved with the program) and the emulator on the same input
(:mod:`snnc.calibration.trace`, aligned on the float time line) and computes per layer:

``spike_count_error``
    ``Σ_{b,i} |C_fixed − C_float| / Σ_{b,i} C_float`` with C the spike count of neuron i in
    sample b over the run (0 when neither fires);
``agreement``
    fraction of (sample, step, neuron) where the spikes are equal (read-outs: where
    ``|v_fixed − v_float| ≤ 1 %`` of the float range);
``membrane_rms``
    ``sqrt(mean (v_fixed − v_float)²)`` in the float model's units, chip v decoded as
    ``v / (64·S) · k + v_reset``; ``membrane_rms_rel`` divides it by the threshold
    ``max(θ − v_reset)`` (read-outs: by the float v range);
``u_wraps``, ``v_saturated``, ``int32_wraps``, ``conv_wraps``
    how often Lava's limited widths changed a value (see :mod:`snnc.calibration.trace`);
``first_divergence``
    the first float step at which the layer's spikes (read-out: v beyond 1 % of the range)
    differ in any sample, or None;
``own_error``, ``own_divergence``, ``own_agreement``
    the same error, first divergence and agreement when the layer's synapses are fed the float model's
    own upstream spikes (teacher forcing): the error this layer introduces by itself.  The
    *worst layer* is the one with the largest ``own_error`` (ties: the lowest ``own_agreement``);
``hints``
    plain-language causes and fixes (:func:`hints`; every hint is listed in
    docs/calibration.md).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.wiring import check_input
from snnc.calibration.trace import COUNTERS, Trace, chip_traces, chip_v_in_float_units, float_traces
from snnc.compiler.ir import loihi
from snnc.compiler.scaling import MIN_VTH_BITS
from snnc.errors import InputError, ValidationError
from snnc.reporting import Report, figure, figure_path

#: relative weight error (8-bit grid) above which a layer gets the weight-precision hint
WEIGHT_ERROR_HINT = 0.02
#: error a layer may introduce before it is called out (spike-count error or rms/range)
ERROR_HINT = 0.02
#: own error from which the rounding hint is given even below ERROR_HINT
ROUNDING_HINT = 0.005
#: read-out agreement tolerance, fraction of the float v range
READOUT_TOL = 0.01


@dataclasses.dataclass
class LayerError:
    """Float vs fixed point for one layer; fields as in the module docstring."""

    name: str
    kind: str
    neurons: int
    spiking: bool
    spikes_float: int
    spikes_fixed: int
    spike_count_error: float
    agreement: float
    membrane_rms: float
    membrane_rms_rel: float
    u_wraps: int
    v_saturated: int
    int32_wraps: int
    conv_wraps: int
    first_divergence: int | None
    error: float  # spike_count_error (spiking) or membrane_rms_rel (read-out)
    own_error: float
    own_divergence: int | None
    own_agreement: float
    vth: int
    weight_error: float
    upstream: list[str]
    hints: list[str]


@dataclasses.dataclass
class ErrorReport(Report):
    """Per-layer float-vs-fixed errors of one program on one input; see the module docstring."""

    layers: list[LayerError]
    samples: int
    steps: int

    @property
    def worst(self) -> LayerError | None:
        """The layer that introduces the largest error by itself (None when every layer is exact)."""
        bad = [r for r in self.layers if r.own_error > 0 or r.own_divergence is not None]
        return max(bad, key=lambda r: (r.own_error, 1.0 - r.own_agreement)) if bad else None

    def layer(self, name: str) -> LayerError:
        for r in self.layers:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        w = self.worst
        return {
            "samples": self.samples,
            "steps": self.steps,
            "worst_layer": None if w is None else w.name,
            "layers": [dataclasses.asdict(r) for r in self.layers],
        }

    def text(self) -> str:
        """The full report: one table row per layer, then each layer's hints."""
        lines = [
            f"quantization error per layer: float reference vs emulator, {self.samples} samples x {self.steps} steps",
            f"{'layer':<16} {'kind':<8} {'spikes fl/fx':>15} {'cnt err':>8} {'own':>7} {'agree':>7} {'v rms':>9} "
            f"{'v rms/θ':>8} {'wraps u/i32/conv':>16} {'v sat':>6} {'diverges':>8}",
        ]
        for r in self.layers:
            spikes = f"{r.spikes_float}/{r.spikes_fixed}" if r.spiking else "-"
            div = "-" if r.first_divergence is None else f"t={r.first_divergence}"
            lines.append(
                f"{r.name[:16]:<16} {r.kind[:8]:<8} {spikes:>15} {100 * r.spike_count_error:>7.2f}% {100 * r.own_error:>6.2f}% "
                f"{100 * r.agreement:>6.2f}% {r.membrane_rms:>9.3g} {r.membrane_rms_rel:>8.3g} "
                f"{f'{r.u_wraps}/{r.int32_wraps}/{r.conv_wraps}':>16} {r.v_saturated:>6} {div:>8}"
            )
        for r in self.layers:
            lines += [f"  hint ({r.name}): {h}" for h in r.hints]
        w = self.worst
        lines.append(
            "every layer matches the float model exactly" if w is None
            else f"worst layer: {w.name} (introduces {100 * w.own_error:.2f}% error by itself, with float inputs)"
        )
        return "\n".join(lines)

    def compact(self) -> str:
        """A few lines for ``snnc compile``: the worst layer and any overflow."""
        w = self.worst
        parts = [f"{r.name} {100 * r.error:.1f}%" for r in self.layers]
        lines = [f"quantization error (float vs fixed, {self.samples} samples): " + ", ".join(parts)]
        if w is not None:
            lines.append(f"  worst layer {w.name}: {w.hints[0] if w.hints else ''}")
        for r in self.layers:
            n = r.u_wraps + r.int32_wraps + r.conv_wraps + r.v_saturated
            if n and r is not w:
                lines.append(f"  {r.name}: {n} wraps/saturations -- {r.hints[0]}")
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Per-layer error bars (spike-count error / read-out rms, and agreement) as a PNG."""
        names = [r.name for r in self.layers]
        x = np.arange(len(names))
        with figure(path, 1, 2, figsize=(max(6, 1.2 * len(names) + 4), 3.6)) as (fig, ax):
            ax[0].bar(x, [100 * r.error for r in self.layers], color=["C3" if r.own_error > ERROR_HINT else "C0" for r in self.layers], label="end to end")
            ax[0].scatter(x, [100 * r.own_error for r in self.layers], color="k", zorder=3, label="own (float inputs)")
            ax[0].legend()
            ax[0].set_ylabel("error, % (spike count; read-out: rms / range)")
            ax[1].bar(x, [100 * (1 - r.agreement) for r in self.layers], color="C1")
            ax[1].set_ylabel("disagreement, % of (sample, step, neuron)")
            for a in ax:
                a.set_xticks(x, names, rotation=30, ha="right")
            fig.suptitle(f"float vs fixed point per layer ({self.samples} samples x {self.steps} steps)")
        return figure_path(path)

def _float_side(prog, comp: str) -> str | None:
    """The float-graph node a compartment stands for (a population, or an Output's read-out)."""
    ref = prog.reference
    if comp in ref:
        return comp
    if comp.endswith(":readout") and comp[: -len(":readout")] in ref:
        return comp[: -len(":readout")]
    return None


def _upstream(graph, comp: str) -> list[str]:
    """Compartments (not bias neurons) that feed ``comp`` through one synapse block."""
    out = []
    for s in graph.predecessors(comp):
        for src in graph.predecessors(s):
            node = graph[src]
            if isinstance(node, loihi.Compartment) and node.meta.get("role") != "bias":
                out.append(src)
    return out


def _spiking_errors(f: Trace, c: Trace) -> tuple[float, float, int | None]:
    cf, cc = f.spikes.sum(axis=1), c.spikes.sum(axis=1)
    total = float(cf.sum())
    diff = float(np.abs(cc.astype(np.int64) - cf).sum())
    err = diff / total if total > 0 else (1.0 if diff > 0 else 0.0)
    neq = f.spikes != c.spikes
    steps = np.flatnonzero(neq.any(axis=(0, 2)))
    return err, 1.0 - float(neq.mean()), (int(steps[0]) if steps.size else None)


def layer_metrics(comp: loihi.Compartment, fnode, f: Trace, c: Trace, convention):
    """(spike-count error, agreement, first divergence, v rms, v rms relative, error) of one layer."""
    v_fx = chip_v_in_float_units(comp, fnode, c.v, convention).reshape(f.v.shape)
    dv = v_fx - f.v
    rms = float(np.sqrt(np.mean(dv**2))) if dv.size else 0.0
    if comp.readout == "spikes":
        cerr, agree, first = _spiking_errors(f, c)
        theta = getattr(fnode, "v_threshold", None)
        denom = float(np.max(np.asarray(theta) - np.asarray(getattr(fnode, "v_reset", 0.0)))) if theta is not None else 1.0
        rel = rms / denom if denom > 0 else rms
        return cerr, agree, first, rms, rel, cerr
    rng = float(np.ptp(f.v)) or 1.0
    bad = np.abs(dv) > READOUT_TOL * rng
    steps_bad = np.flatnonzero(bad.any(axis=(0, 2)))
    return 0.0, 1.0 - float(bad.mean()), (int(steps_bad[0]) if steps_bad.size else None), rms, rms / rng, rms / rng


def hints(r: LayerError, upstream: list[LayerError]) -> list[str]:
    """Plain-language causes of one layer's error, most specific first (docs/calibration.md)."""
    out = []
    if r.u_wraps:
        out.append(
            f"the 24-bit current u wrapped {r.u_wraps} times: this input drives the layer harder than its "
            "scale allows; compile with calibration data containing such inputs (calibration_method='max')"
        )
    if r.int32_wraps:
        out.append(
            f"int32 arithmetic wrapped {r.int32_wraps} times (weights x 2^weight_exp summed over active inputs): "
            "lower the layer's scale (weight_exp); calibrate from data"
        )
    if r.conv_wraps:
        out.append(
            f"a Conv block's sum left Lava's 24-bit output {r.conv_wraps} times: lower the kernel's scale"
        )
    if r.v_saturated:
        out.append(
            f"v saturated at the 24-bit limit {r.v_saturated} times (strong inhibition or a large read-out): "
            "a smaller scale keeps it in range (calibration data size it from the observed |v|)"
        )
    own = r.own_error > ERROR_HINT
    if r.spiking and r.vth < 2**MIN_VTH_BITS and own:
        out.append(
            f"threshold too small for the 17-bit mantissa (vth = {r.vth}): the per-step truncation of u and v "
            "is large against θ; raise weight_exp (a larger scale): compile with calibration data"
        )
    if r.weight_error > WEIGHT_ERROR_HINT and own:
        out.append(
            f"8-bit weights are coarse here ({100 * r.weight_error:.1f}% relative error): a few large weights "
            "set the grid; compile with split_weights=True (--split-weights: hi/lo blocks, ~14-bit weights)"
        )
    if r.spiking and r.spikes_float > 0 and r.spikes_fixed == 0:
        out.append("the layer never fires on the chip although the float model does: its threshold/scale is off")
    precision = len(out)  # overflow and precision causes found so far
    up = [u for u in upstream if u.first_divergence is not None]
    if up and r.first_divergence is not None and not own:
        first = min(up, key=lambda u: u.first_divergence)
        out.append(
            f"differences arrive from upstream layer {first.name} (diverges at step {first.first_divergence}); fix that layer first"
        )
    noticeable = own or (r.own_divergence is not None and r.own_error > ROUNDING_HINT)
    if noticeable and not any("threshold too small" in h or "8-bit weights" in h for h in out[:precision]):
        out.append(
            "error from rounding alone (8-bit weights, 12-bit decays, truncation of u and v each step); "
            "8-bit weights usually dominate: compile with split_weights=True (--split-weights)"
        )
    if not out:
        out.append("no problem detected: the layer matches the float model" if r.first_divergence is None
                   else "small rounding differences only")
    return out


def error_report(prog, x: Any) -> ErrorReport:
    """Compare ``prog`` (emulator) with its float model on ``x`` (batch, T, *input_shape)."""
    if getattr(prog, "reference", None) is None:
        raise InputError(
            "this program has no float reference model to compare against",
            hint="compile it with this snnc version (snnc.compile keeps the float model and saves it)",
        )
    sd = getattr(loihi, "SigmaDeltaCompartment", None)
    if sd is not None and prog.graph.of_kind(sd):
        raise ValidationError(
            "the per-layer error report covers LIF programs; this one has sigma-delta populations",
            hint="compare the outputs instead: snnc.calibration.sigma_delta.output_agreement(prog, x)",
        )
    xs = check_input(prog.graph, x)  # once: both chip runs take it as it is
    steps = xs.steps
    ref = float_traces(prog.reference, xs.uint8(), prog.convention)
    chip = chip_traces(prog.graph, xs, steps)
    teacher = {
        c: ref[c].spikes.reshape(xs.batch, steps, -1)
        for c in prog.graph.of_kind(loihi.Compartment) if c in ref and ref[c].spikes is not None
    }
    forced = chip_traces(prog.graph, xs, steps, teacher)
    info = {r["name"]: r for r in prog.layers}
    rows: dict[str, LayerError] = {}
    for comp in prog.graph.of_kind(loihi.Compartment):
        node = prog.graph[comp]
        fname = _float_side(prog, comp)
        if node.meta.get("role") == "bias" or fname is None:
            continue
        f, c = ref[fname], chip[comp]
        fnode = prog.reference[fname]
        label = node.meta.get("source", comp)
        spiking = node.readout == "spikes"
        m = layer_metrics(node, fnode, f, c, prog.convention)
        own = layer_metrics(node, fnode, f, forced[comp], prog.convention)
        cerr, agree, first, rms, rel, err = m
        spikes = (int(f.spikes.sum()), int(c.spikes.sum())) if spiking else (0, 0)
        meta = info.get(label, {})
        rows[comp] = LayerError(
            name=label, kind=meta.get("kind", getattr(fnode, "kind", "")), neurons=node.size, spiking=spiking,
            spikes_float=spikes[0], spikes_fixed=spikes[1], spike_count_error=cerr, agreement=agree,
            membrane_rms=rms, membrane_rms_rel=rel,
            **{k: int(c.counters[k].sum()) for k in COUNTERS},
            first_divergence=first, error=err, own_error=own[5], own_divergence=own[2], own_agreement=own[1],
            vth=int(node.vth),
            weight_error=float(meta.get("weight_error", 0.0)), upstream=[], hints=[],
        )
    for comp, r in rows.items():
        ups = [rows[u] for u in _upstream(prog.graph, comp) if u in rows and u != comp]
        r.upstream = [u.name for u in ups]
        r.hints = hints(r, ups)
    return ErrorReport(list(rows.values()), xs.batch, steps)

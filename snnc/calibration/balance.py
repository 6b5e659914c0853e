"""Data-based threshold balancing: a ReLU ANN (from ONNX) into a rate-coded IF network.

The classic conversion (Diehl et al. 2015; Rueckauer et al. 2017).  An IF neuron driven by a
constant input ``z`` per step (threshold θ, reset by *subtraction*) fires at rate
``min(max(z, 0), θ)/θ`` in the limit of many steps, i.e. it computes a clipped ReLU.  So for
every ReLU layer l with activations ``a_l`` on calibration data:

    λ_l = percentile_p(a_l > 0)                    layer-wise normalisation (p = 100: the max)
    W'_l = W_l · λ_{l−1} / λ_l ,   b'_l = b_l / λ_l     (λ_0: the input encoder's scale)
    rate_l ≈ clip(a_l / λ_l, 0, 1)

The last linear layer feeds a non-spiking read-out of the per-step current,
``y[t] = W_L·λ_{L−1}·s_{L−1}[t] + b_L``, so ``Σ_t y[t] ≈ T·(ANN logits)``.

**Loihi resets to zero.**  Lava's LIF sets v = 0 after a spike, dropping the residual
``v − θ`` that reset-by-subtraction keeps, and compares strictly (v > θ).  A neuron with
constant drive z < θ needs ``floor(θ/z) + 1`` steps per spike, so its rate
``1/(floor(θ/z) + 1)`` is always below ``z/θ`` (z = θ gives rate 1/2, not 1).  Measured
(``benchmarks/bench_accuracy_ann.py --ablation``, docs/benchmarks.md): on mnist1d this costs
1.4–2 pp that more steps do not recover, and neither the percentile nor a per-layer threshold
search (``thresholds="search"``: the θ that minimises the float SNN's rate error, layer by layer)
fixes it.  So by default (``reset="subtract"``) every IF is rebuilt as a reset-by-subtraction
neuron from Lava's registers (:func:`snnc.compiler.reset.subtractive`), with ``percentile`` 99.9 and θ = 1;
``reset="zero"`` keeps Lava's plain LIF reset.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from snnc.backends.reference import simulate
from snnc.compiler import linear
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.reset import subtractive
from snnc.encoding import RateEncoder
from snnc.errors import CalibrationError, ValidationError

#: default percentile of positive ReLU activations that maps to rate 1 (measured, docs/conversion.md)
PERCENTILE = 99.9
#: default number of time steps per sample
TIMESTEPS = 32
#: candidate per-layer thresholds of the ``search`` (relative to the balanced threshold 1)
THRESHOLD_GRID = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
#: calibration samples the threshold search simulates (the ANN statistics use all of them)
SEARCH_SAMPLES = 256
WEIGHTED = (ops.Affine, ops.Linear, ops.Conv1d, ops.Conv2d)


@dataclasses.dataclass
class Conversion:
    """What :func:`convert` decided: the balanced graph, the encoder and per-layer factors."""

    graph: Graph
    encoder: RateEncoder
    scales: dict[str, float]  # λ per IF population (and "input")
    thresholds: dict[str, float]
    spikes: np.ndarray  # the encoded calibration data (for the quantizer's calibration)


# --------------------------------------------------------------------------- the ANN
def ann_forward(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """The ANN's activations, (batch, n) per node: linear ops as they are, IF = ReLU."""
    order, back = graph.schedule()
    if back:
        raise ValidationError("the ANN has a cycle", hint="only feed-forward ANNs are converted")
    x = np.asarray(x, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for name in order:
        node = graph[name]
        if isinstance(node, ops.Input):
            out[name] = x.reshape(x.shape[0], -1)
            continue
        total = sum(out[p] for p in graph.predecessors(name))
        if isinstance(node, ops.IF):
            out[name] = np.maximum(total, 0.0)
        elif isinstance(node, ops.LinearOp):
            out[name] = linear.apply(linear.as_matrix(node), linear.bias_vector(node), total)
        else:
            out[name] = total
    return out


def _check_static(graph: Graph, x: Any) -> np.ndarray:
    shape = tuple(graph[graph.of_kind(ops.Input)[0]].shape)
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise CalibrationError(f"calibration data is not numeric ({type(x).__name__})",
                               hint="pass an array (batch, *input_shape)") from None
    if arr.ndim != 1 + len(shape) or tuple(arr.shape[1:]) != shape or arr.shape[0] == 0:
        extra = " (these look like spike trains; an ANN is calibrated on static inputs)" \
            if arr.ndim == 2 + len(shape) else ""
        raise CalibrationError(
            f"calibration data has shape {tuple(arr.shape)}; the ANN needs (batch ≥ 1, {', '.join(map(str, shape))})"
            + extra,
            hint="pass a few hundred representative input samples, one per row",
        )
    if not np.all(np.isfinite(arr)):
        raise CalibrationError("calibration data contains NaN or inf", hint="clean the data")
    return arr


# --------------------------------------------------------------------------- balancing
def _population_of(graph: Graph, name: str, forward: bool) -> str:
    """The population (or Input/Output) reached from ``name`` through unweighted linear ops."""
    while True:
        nxt = graph.successors(name) if forward else graph.predecessors(name)
        if len(nxt) != 1:
            raise ValidationError(
                f"the ANN branches at {graph[name].source or name!r}",
                hint="only sequential ANNs are converted",
            )
        name = nxt[0]
        node = graph[name]
        if isinstance(node, (ops.NeuronOp, ops.Input, ops.Output)) or isinstance(node, WEIGHTED):
            return name


def scale_layers(graph: Graph, acts: dict[str, np.ndarray], input_scale: float, percentile: float):
    """λ per IF population: the ``percentile`` of its positive activations on the data."""
    scales = {"input": input_scale}
    for name in graph.of_kind(ops.IF):
        a = acts[name]
        pos = a[a > 0]
        if pos.size == 0:
            raise CalibrationError(
                "the layer is never active on the calibration data (all ReLU outputs are 0); "
                "it would never spike",
                node=graph[name].source or name,
                hint="check the calibration data (same preprocessing as in training) or the model",
            )
        scales[name] = float(np.percentile(pos, percentile))
    return scales


def rescale(graph: Graph, scales: dict[str, float], dt: float, thresholds: dict[str, float]) -> Graph:
    """Apply W' = W·λ_src/λ_dst, b' = b/λ_dst and set every IF to r·dt = 1, θ = thresholds."""
    nodes = dict(graph.nodes)
    inp = graph.of_kind(ops.Input)[0]
    for name in graph.of_kind(*WEIGHTED):
        node = graph[name]
        src = _population_of(graph, name, forward=False)
        dst = _population_of(graph, name, forward=True)
        for end in (src, dst):
            if isinstance(graph[end], WEIGHTED):
                raise ValidationError(
                    "two weighted layers without a ReLU between them",
                    node=node.source or name, hint="fold consecutive linear layers before export",
                )
        lam_src = scales["input"] if src == inp else scales[src]
        lam_dst = scales.get(dst, 1.0)  # the Output read-out keeps the ANN's logit units
        changes = {"weight": np.asarray(node.weight) * (lam_src / lam_dst)}
        if hasattr(node, "bias"):
            changes["bias"] = np.asarray(node.bias) / lam_dst
        nodes[name] = node.replace(**changes)
    for name in graph.of_kind(ops.IF):
        node = graph[name]
        ones = np.ones(node.shape)
        nodes[name] = node.replace(r=ones / dt, v_threshold=ones * thresholds.get(name, 1.0),
                                   v_reset=np.zeros(node.shape))
    return graph.with_changes(nodes=nodes)


def split_signed(graph: Graph) -> Graph:
    """Double the input along axis 0 into (x⁺, x⁻) channels; the first weighted op gets [W, −W]."""
    nodes = dict(graph.nodes)
    name = graph.of_kind(ops.Input)[0]
    shape = tuple(graph[name].shape)
    nodes[name] = graph[name].replace(shape=(2 * shape[0],) + shape[1:])
    cur = name
    while True:
        (cur,) = graph.successors(cur)
        node = graph[cur]
        if isinstance(node, (ops.Affine, ops.Linear)):
            nodes[cur] = node.replace(weight=np.concatenate([node.weight, -np.asarray(node.weight)], axis=1))
            break
        if isinstance(node, (ops.Conv1d, ops.Conv2d)):
            if node.groups != 1:
                raise CalibrationError(
                    "signed inputs need a first convolution with groups=1", node=node.source or cur,
                    hint="shift the input data to be non-negative before the model",
                )
            nodes[cur] = node.replace(weight=np.concatenate([node.weight, -np.asarray(node.weight)], axis=1))
            break
        if isinstance(node, (ops.SumPool2d, ops.Flatten)):
            s = tuple(node.input_shape)
            nodes[cur] = node.replace(input_shape=(2 * s[0],) + s[1:])
        else:
            raise CalibrationError(
                f"signed inputs cannot pass a {node.kind} before the first weighted layer",
                node=node.source or cur, hint="shift the input data to be non-negative",
            )
    return graph.with_changes(nodes=nodes)


# --------------------------------------------------------------------------- search
def search_thresholds(graph: Graph, spikes: np.ndarray, targets: dict[str, np.ndarray],
                      conv: Convention, grid=THRESHOLD_GRID) -> tuple[Graph, dict[str, float]]:
    """Per IF layer in depth order: the θ of ``grid`` whose rates best match ``targets``."""
    chosen: dict[str, float] = {}
    layers = [n for n in graph.schedule()[0] if isinstance(graph[n], ops.IF)]
    for name in layers:
        best = (np.inf, 1.0, graph)
        for theta in grid:
            node = graph[name]
            trial = graph.with_changes(nodes={**graph.nodes, name: node.replace(v_threshold=np.full(node.shape, theta))})
            z = simulate(trial, spikes, dt=conv.dt, integration=conv.integration, spike_if=conv.spike_if,
                         synapse_input=conv.synapse_input, reset=conv.reset, record=[name])
            rate = z[name].reshape(z[name].shape[0], z[name].shape[1], -1).mean(axis=1)
            err = float(np.mean((rate - targets[name]) ** 2))
            if err < best[0]:
                best = (err, theta, trial)
        chosen[name] = best[1]
        graph = best[2]
    return graph, chosen


# --------------------------------------------------------------------------- the pass
def convert(
    graph: Graph,
    x: Any,
    conv: Convention,
    timesteps: int | None = None,
    percentile: float = PERCENTILE,
    thresholds: str = "fixed",
    reset: str = "subtract",
) -> Conversion:
    """Balance an ANN graph (:func:`snnc.frontends.onnx.load_onnx`) on static calibration data ``x``.

    Returns the rate-coded IF graph, the input encoder and the chosen factors; see the module
    docstring.  ``thresholds``: ``"fixed"`` (θ = 1, default) or ``"search"`` (per-layer θ);
    ``reset``: ``"subtract"`` (default, :func:`snnc.compiler.reset.subtractive`) or ``"zero"`` (Lava's plain LIF reset).
    """
    t = TIMESTEPS if timesteps is None else timesteps
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
        raise ValidationError(f"timesteps must be a positive integer, got {t!r}", hint="e.g. timesteps=32")
    if thresholds not in ("search", "fixed"):
        raise ValidationError(f"thresholds={thresholds!r}", hint="use 'search' or 'fixed'")
    if reset not in ("subtract", "zero"):
        raise ValidationError(f"reset={reset!r}", hint="use 'subtract' or 'zero'")
    if not 0 < percentile <= 100:
        raise ValidationError(f"percentile {percentile!r} outside (0, 100]", hint="e.g. 99.9")
    arr = _check_static(graph, x)
    in_scale = float(np.max(np.abs(arr)))
    if in_scale == 0:
        raise CalibrationError("calibration data is all zeros", hint="pass representative inputs")
    acts = ann_forward(graph, arr)
    scales = scale_layers(graph, acts, in_scale, percentile)
    balanced = rescale(graph, scales, conv.dt, {})
    signed = bool(arr.min() < 0)
    if signed:
        balanced = split_signed(balanced)
    in_shape = tuple(int(d) for d in arr.shape[1:])
    encoder = RateEncoder(in_shape, in_scale, int(t), signed)
    spikes = encoder.encode(arr)
    chosen = {n: 1.0 for n in balanced.of_kind(ops.IF)}
    if thresholds == "search":
        sub = slice(0, SEARCH_SAMPLES)
        targets = {n: np.clip(acts[n][sub] / scales[n], 0.0, 1.0) for n in chosen}
        # θ is searched under the reset the converted network will have
        dynamics = dataclasses.replace(conv, reset="subtract" if reset == "subtract" else "value")
        balanced, chosen = search_thresholds(balanced, spikes[sub], targets, dynamics)
    if reset == "subtract":
        balanced = subtractive(balanced, conv)
    meta = dict(graph.meta)
    meta["ann"] = {
        **dict(meta.get("ann", {})), "balanced": True, "percentile": float(percentile),
        "thresholds": thresholds, "reset": reset, "timesteps": int(t),
    }
    return Conversion(balanced.with_changes(meta=meta), encoder, scales, chosen, spikes)


#: calibration samples handed on (encoded) to the quantizer's calibration (snnc.calibration.methods)
QUANTIZER_SAMPLES = 512


def prepare(graph: Any, calibration: Any, conv: Convention, timesteps: int | None):
    """The compile driver's hook: ``(graph, calibration, encoder)`` to compile.

    An ANN graph (``meta["ann"]``, not yet balanced) is converted with :func:`convert` on the
    static ``calibration`` data; the quantizer then calibrates on their encoded spikes.  Any
    other graph passes unchanged (``timesteps`` is then an error: spiking models carry their
    own time axis in the input).
    """
    ann = getattr(graph, "meta", {}).get("ann")
    if not ann or ann.get("balanced"):
        if timesteps is not None:
            raise ValidationError(
                "timesteps= applies to ANN models (ONNX) only; a spiking model runs for as "
                "many steps as its input has",
                hint="leave out timesteps (--timesteps) for NIR models",
            )
        return graph, calibration, None
    if calibration is None:
        raise CalibrationError(
            "converting an ANN needs calibration data: static inputs (batch, *input_shape) "
            "to balance each layer's threshold",
            hint="pass calibration=X_cal (or --calibration X.npz with key 'x'), a few hundred samples",
        )
    result = convert(graph, calibration, conv, timesteps)
    return result.graph, result.spikes[:QUANTIZER_SAMPLES], result.encoder

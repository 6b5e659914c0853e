"""quantize: lower the float dialect to the Loihi dialect (Lava's fixed-point registers).

For every neuron population N with discrete coefficients (see :mod:`snnc.compiler.discretize`)
and composed inflow x_N = Σ_p M_p s_p + b (see :mod:`snnc.compiler.paths`):

1. Fold the input gains into the weights: the chip's current u is ``64·S·g_v·I``, so a
   path's float weight is ``W_p = diag(g_v·g_in) · M_p`` (v units per spike).
2. Constant input: ``B = b_v + g_v·g_in·b`` enters v every step (exact for LIF/IF/LI).  For
   CubaLIF a synaptic bias enters the *current*, which Lava's bias (added to v) cannot do: it
   is fed instead from a one-neuron population that spikes on every step (du = dv = 4095,
   vth = 0, bias 1) through a synapse column carrying b -- exact, at the cost of one neuron.
3. Reset to a non-zero ``v_reset`` by shifting v' = v − v_reset: θ' = θ − v_reset,
   B' = B − (1−α_v)·v_reset, v'(0) = −v_reset.
4. Per-neuron thresholds become one shared ``vth`` by dividing neuron i's equation by
   θ'_i / max θ'.
5. One scale S per population (chip units per float unit) -- as large as the 17-bit
   threshold, the bias exponent and the weight exponent allow, but small enough that the
   worst-case current ``Σ_j |W_ij| / (1 − α_I) + |B'|`` fits the 24-bit state (no wrap;
   with calibration data, twice the largest drive the data produced replaces the worst case);
   when that would leave the threshold with fewer than 8 bits, precision wins and the
   layer is flagged as an overflow risk.  S is then lowered (by less than 2x) so that the
   largest weight maps exactly onto the top of the 8-bit grid.
6. ``vth = round(θ·S)``, then S is nudged (by at most 0.5/vth) so that the threshold is
   exact, θ·S = vth, and the rounding moves into the weights.  The chip compares ``v > vth·64``;
   ``spike_if=">="`` cannot be represented for exact ties (v = θ on the chip's grid), which
   then do not spike.  Weights onto Lava's 8-bit grid with a per-synapse ``weight_exp``; bias
   split into a 13-bit mantissa and an exponent; ``du``, ``dv`` to 12 bits.
7. Every population starts at its synaptic depth k (``start_step``; 0 for a target that runs
   every neuron from step 0, ``TargetSpec.hold_until_input``, as lava-dl netx does); paths whose float
   delay differs from the chip's one step per layer get extra ``delays`` (Lava DelayDense).
8. A path that is one Conv2d applied to a population, with one gain for all the neurons it
   feeds and no extra delay, stays a shared-kernel block (``ConvSynapse``, Lava ``Conv``);
   Lava's Conv has no weight exponent, so S is also capped at 254 / max|kernel|.  Every other
   path becomes a matrix block (``Synapse``: Dense, or Sparse when mostly zero).

Scale selection (step 5) lives in :mod:`snnc.compiler.scaling`, the construction of synapse
blocks (Dense/Sparse/DelayDense, shared-kernel Conv, the always-on bias neuron) in
:mod:`snnc.compiler.blocks`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from snnc.compiler import blocks, weight_split
from snnc.compiler import fixed_point as fx
from snnc.compiler.discretize import coefficients
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph, Node
from snnc.compiler.passes.context import CompileContext
from snnc.compiler.paths import Inflow, Path, inflow, is_identity
from snnc.compiler.scaling import (
    InfeasibleScale,
    ScaleChoice,
    as_layer_calibration,
    choose_scale,
    saturation_notes,
)
from snnc.errors import QuantizationError, ValidationError


@dataclasses.dataclass
class LayerReport:
    """What the quantizer chose for one population, for the compile summary."""

    name: str
    kind: str
    neurons: int
    synapses: int
    scale: float
    vth: int
    du: int | str  # "min..max" when per neuron
    dv: int | str
    weight_exps: list[int]
    bias_exp: int
    weight_error: float  # worst relative weight error over the layer's synapse blocks
    depth: int
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _show(register: int | np.ndarray) -> int | str:
    if np.ndim(register) == 0:
        return int(register)
    return f"{int(np.min(register))}..{int(np.max(register))}"


def _name(graph: Graph, n: str) -> str:
    return graph[n].source or n


def _depths(graph: Graph, flows: dict[str, Inflow]) -> dict[str, int]:
    """Synaptic depth of every population: the longest-path solution of
    depth(N) ≥ depth(src) + 1 − d_min(path) over all paths, with inputs at depth 0."""
    depth: dict[str, int] = {n: 0 for n in graph.of_kind(ops.Input)}
    for n in flows:
        depth[n] = 1
    constraints = [
        (p.source, n, int(p.delay.min()) if p.delay.size else 0) for n, f in flows.items() for p in f.paths
    ]
    for _ in range(len(depth) + 1):
        changed = False
        for src, dst, dmin in constraints:
            need = depth[src] + 1 - dmin
            if need > depth[dst]:
                depth[dst] = need
                changed = True
        if not changed:
            return depth
    raise ValidationError(
        "a recurrent connection runs from a deeper layer back to an earlier one; Loihi adds "
        "one step per synapse layer, so the float model's one-step feedback cannot be kept",
        hint="add a Delay of (depth difference) steps on the feedback edge, or make the "
        "recurrence local to one layer",
    )


def _register(values: np.ndarray) -> int | np.ndarray:
    """A decay register: one int when every neuron shares it, else one value per neuron."""
    uniq = np.unique(values)
    return int(uniq[0]) if uniq.size == 1 else values.astype(np.int64)


def _scale_rows(m: sp.csr_matrix | np.ndarray, r: np.ndarray, copy: bool) -> sp.csr_matrix | np.ndarray:
    """``diag(r) · m`` -- every stored entry m_ij becomes r_i·m_ij -- without a sparse product.

    A dense block stays dense (scaled in place when ``copy`` is False); a sparse one keeps
    its structure (entries that become 0 are dropped when the block is quantized).
    """
    if isinstance(m, np.ndarray):
        if copy:
            return m * r.reshape(-1, 1)
        m *= r.reshape(-1, 1)
        return m
    m = sp.csr_matrix(m)
    data = m.data * np.repeat(r, np.diff(m.indptr))
    return sp.csr_matrix((data, m.indices, m.indptr), shape=m.shape)


def _lower_population(
    graph: Graph, name: str, flow: Inflow, depth: dict[str, int], ctx: CompileContext, readout_of: ops.Node | None
) -> tuple[dict[str, Node], list[tuple[str, str]], LayerReport]:
    """Synapse blocks and the compartment for one population (or an Output read-out)."""
    node = readout_of if readout_of is not None else graph[name]
    layer = node.source or name
    target = ctx.target
    if isinstance(node, ops.NeuronOp):
        c = coefficients(node, ctx.convention)
        n = int(np.prod(node.shape, dtype=np.int64))
        flat = lambda a: np.asarray(a, dtype=np.float64).reshape(-1)  # noqa: E731
        alpha_i, g_in, alpha_v, g_v, b_v = map(flat, (c.alpha_i, c.g_in, c.alpha_v, c.g_v, c.b_v))
        theta = None if c.v_threshold is None else flat(c.v_threshold)
        v_reset = np.zeros(n) if c.v_reset is None else flat(c.v_reset)
        has_current = c.has_current
        shape = tuple(node.shape)
        spiking = node.spiking
    else:  # Output fed by synapses only: a non-leaking current read-out
        shape = tuple(node.shape)
        n = int(np.prod(shape, dtype=np.int64))
        alpha_i, g_in, alpha_v, g_v, b_v = np.zeros(n), np.ones(n), np.zeros(n), np.ones(n), np.zeros(n)
        theta, v_reset, has_current, spiking = None, np.zeros(n), False, False

    notes: list[str] = []
    gain = g_v * g_in
    paths = list(flow.paths)
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    if has_current and np.any(flow.bias != 0):
        # a bias into the *current* (CubaLIF) cannot be a Lava bias (that enters v): feed it
        # from an always-on neuron through a synapse column instead -- exact, one neuron
        source = f"{name}:bias_source"
        nodes[source] = blocks.always_on(depth[name] - 1 if target.hold_until_input else 0, layer)
        depth[source] = depth[name] - 1
        paths.append(Path(source, sp.csr_matrix(flow.bias.reshape(-1, 1)), np.zeros(1, np.int64)))
        notes.append("synaptic bias enters the current through an always-on bias neuron")
        bias = b_v
    else:
        bias = b_v + gain * flow.bias
    weights = [_scale_rows(p.matrix, gain, copy=True) for p in paths]
    v0 = np.zeros(n)
    theta_ref = None
    k = np.ones(n)
    if spiking and theta is not None:
        theta_p = theta - v_reset
        if np.any(theta_p <= 0):
            i = int(np.argmin(theta_p))
            raise ValidationError(
                f"v_threshold ({theta[i]:g}) must be above v_reset ({v_reset[i]:g}) (neuron {i})",
                node=layer,
                hint="check the exported thresholds and resets",
            )
        bias = bias - (1.0 - alpha_v) * v_reset
        v0 = -v_reset
        theta_ref = float(theta_p.max())
        k = theta_p / theta_ref
        if np.any(k != 1.0):
            weights = [_scale_rows(w, 1.0 / k, copy=False) for w in weights]
            bias, v0 = bias / k, v0 / k
            notes.append("per-neuron thresholds folded into the weights")

    row_scale = gain / k  # what each neuron's row of every path was multiplied by
    kernels = [blocks.shared_kernel(p, row_scale, depth, name) for p in paths]

    du_all = fx.decay_u_array(alpha_i)
    dv_all = fx.decay_v_array(alpha_v)
    if du_all.size and du_all.min() < 0:
        raise QuantizationError(
            f"tau_syn is too long for the 12-bit current decay (du would be {int(du_all.min())}, "
            "limit 0..4095)",
            node=layer,
            hint="use a larger dt (--dt) or a shorter synaptic time constant",
        )
    if dv_all.size and dv_all.max() > target.decay_max:
        notes.append(f"dv 4096 clipped to {target.decay_max} (v keeps 1/4096 per step)")
        dv_all = np.minimum(dv_all, target.decay_max)
    du, dv = _register(du_all), _register(dv_all)
    if np.ndim(du) or np.ndim(dv):
        profiles = int(np.unique(np.stack([du_all, dv_all]), axis=1).shape[1])
        notes.append(
            f"per-neuron time constants: {profiles} distinct (du, dv) pairs; each needs a "
            "compartment profile on the chip"
        )

    observed = None
    cal = (ctx.calibration or {}).get(name)
    if cal is not None:
        cal = as_layer_calibration(cal)
        observed = cal.bounds(k)
        notes.append(cal.describe())
    alphas = (float(alpha_i.max(initial=0.0)), float(alpha_v.max(initial=0.0)))
    choice = _choose_scale(theta_ref, weights, bias, alphas, ctx, observed, kernels, layer, notes)
    scale = choice.scale
    notes += choice.notes
    if cal is not None:
        scale *= cal.scale_factor
        notes += saturation_notes(cal, k, scale, target)
    vth = target.vth_max if theta_ref is None else int(round(theta_ref * scale))
    if theta_ref is not None and vth >= theta_ref * choice.nudge_limit:
        # rounding up would nudge S (= vth/θ below) past a register's cap, e.g. a Conv kernel
        # off the top of its grid: round down instead (choose_scale guarantees θ·cap ≥ 1)
        vth = max(1, int(np.floor(theta_ref * choice.cap)))
    if vth < 1:
        raise QuantizationError(
            f"threshold {theta_ref:g} rounds to vth=0 at scale {scale:.3g} after the calibration "
            f"search's scale factor {cal.scale_factor if cal is not None else 1.0:g}",
            node=layer,
            hint="use calibration_method='max' (or a smaller search range) for this network",
        )
    if theta_ref is not None:
        # make the threshold exact and move the rounding into the weights (Lava: v > vth·64)
        scale = vth / theta_ref
        if cal is not None and cal.vth_factor != 1.0:  # the search's deliberate correction
            vth = min(max(1, int(round(vth * cal.vth_factor))), target.vth_max)
    bias_l = 64.0 * scale * bias
    bias_mant, bias_exp = fx.split_bias(bias_l, target)
    if target.bias_exp_min > 0 and np.any(bias_l):  # a coarser bias grid than the chip's (netx: 2^6)
        notes.append(f"bias on the target's 2^{target.bias_exp_min} grid (bias_exp >= {target.bias_exp_min}): "
                     f"relative bias error {100 * fx.bias_error(bias_l, bias_mant, bias_exp):.2g}%")
    if not target.hold_until_input and depth[name] > 0 and np.any(bias_mant):
        notes.append(f"the bias acts from step 0, {depth[name]} steps before the layer's first input "
                     "(the target runs every neuron from step 0, as lava-dl netx does; the float model's "
                     "layer starts at rest when its input starts)")
    if bias_exp > target.bias_exp_max:
        raise QuantizationError(
            f"bias needs bias_exp={bias_exp}, limit {target.bias_exp_max}",
            node=layer,
            hint="reduce the bias or the threshold's scale",
        )
    v_init = np.clip(np.rint(64.0 * scale * v0), -target.state_max, target.state_max).astype(np.int64)

    exps: list[int] = []
    worst = 0.0
    synapses = 0
    for i, (p, w, kernel) in enumerate(zip(paths, weights, kernels)):
        syn_name = f"{name}:syn{i}" if len(paths) > 1 else f"{name}:syn"
        if kernel is not None:
            syn, e, err = blocks.conv_synapse(p, kernel, scale, layer)
        else:
            syn, e, err = blocks.synapse(p, w, scale, depth, name, layer, target)
            if ctx.split_weights and err > 0:  # hi/lo blocks (weight_split)
                r = weight_split.residual(w, syn, scale)
                lo, _, _ = blocks.synapse(p, r, scale, depth, name, layer, target)
                if lo.num_synapses:
                    err = weight_split.combined_error(w, syn, lo, scale)
                    nodes[f"{syn_name}:lo"] = lo
                    edges += [(p.source, f"{syn_name}:lo"), (f"{syn_name}:lo", name)]
                    synapses += lo.num_synapses
        weights[i] = None  # free the float block once it is quantized
        nodes[syn_name] = syn
        edges += [(p.source, syn_name), (syn_name, name)]
        exps.append(e)
        worst = max(worst, err)
        synapses += syn.num_synapses
    nodes[name] = loihi.Compartment(
        shape=shape,
        du=du,
        dv=dv,
        vth=vth,
        bias_mant=bias_mant,
        bias_exp=int(bias_exp),
        v_init=v_init if np.any(v_init) else None,
        readout="spikes" if spiking else "v",
        v_scale=64.0 * scale,
        v_offset=None if not np.any(v_reset) or not spiking else v_reset,
        start_step=depth[name] if target.hold_until_input else 0,
        meta={"source": layer, "float_kind": node.kind},
    )
    report = LayerReport(
        name=layer, kind=node.kind, neurons=n, synapses=synapses, scale=scale, vth=vth,
        du=_show(du), dv=_show(dv), weight_exps=exps, bias_exp=int(bias_exp), weight_error=worst,
        depth=depth[name], notes=notes,
    )
    return nodes, edges, report


def _choose_scale(theta, weights, bias, alphas, ctx, observed, kernels, layer, notes) -> ScaleChoice:
    """:func:`~snnc.compiler.scaling.choose_scale`, with the shared-kernel convolutions of
    ``kernels`` capping S; when Lava Conv's exponent-free kernel is what makes the threshold
    unrepresentable, those paths are lowered to matrix blocks (``kernels[i] = None``: Dense or
    Sparse, whose ``weight_exp`` holds 2^7 times more) and the layer gets a note."""
    conv_max = max((float(np.abs(kn).max(initial=0.0)) for kn in kernels if kn is not None), default=0.0)
    try:
        return choose_scale(theta, weights, bias, alphas, ctx.target, observed, conv_max, layer=layer)
    except InfeasibleScale as e:
        if e.binding != "conv":
            raise
    shared = sum(int(np.asarray(kn).size) for kn in kernels if kn is not None)
    expanded = sum(int(w.nnz if sp.issparse(w) else np.count_nonzero(w))
                   for w, kn in zip(weights, kernels) if kn is not None)
    for i, kn in enumerate(kernels):
        if kn is not None:
            kernels[i] = None
    notes.append(
        f"convolution lowered to a matrix block with weight_exp: its largest kernel weight "
        f"({conv_max / theta:.3g}x the threshold) does not fit Lava Conv's exponent-free 8-bit kernel "
        f"at vth >= 1 (at most 254x); {expanded} synapses instead of a {shared}-weight shared kernel"
    )
    return choose_scale(theta, weights, bias, alphas, ctx.target, observed, 0.0, layer=layer)


def quantize(graph: Graph, ctx: CompileContext) -> Graph:
    """Lower a validated float-dialect graph to the Loihi dialect; see the module docstring.

    Writes the per-layer :class:`LayerReport` list to ``ctx.reports["quantize"]`` and the
    output latencies (synaptic depth of each probed population) to ``ctx.reports["latency"]``.
    A sigma-delta network (``Delta``/``SigmaDelta``/``Sigma`` ops) is lowered by
    :func:`snnc.compiler.passes.quantize_sd.quantize_sigma_delta` instead (the pipeline's
    ``quantize`` pass, :func:`snnc.compiler.passes.pipelines.quantize_any`, picks it).
    """
    if graph.of_kind(ops.SigmaDeltaOp):
        raise ValidationError("a sigma-delta network is lowered by quantize_sigma_delta",
                              hint="run the pipeline (snnc.compile), whose quantize pass picks the lowering")
    _, back = graph.schedule()
    neurons = graph.of_kind(ops.NeuronOp)
    flows = {n: inflow(graph, n, ctx.convention, back) for n in neurons}
    outputs = graph.of_kind(ops.Output)
    readouts: dict[str, Inflow] = {}
    probe_src: dict[str, str] = {}
    for o in outputs:
        f = inflow(graph, o, ctx.convention, back)
        direct = (
            len(f.paths) == 1
            and isinstance(graph[f.paths[0].source], ops.NeuronOp)
            and not np.any(f.bias)
            and not np.any(f.paths[0].delay)
            and is_identity(f.paths[0].matrix)
        )
        if direct:
            probe_src[o] = f.paths[0].source
        elif not f.paths and not np.any(f.bias):
            raise ValidationError("output is not connected to any layer", node=_name(graph, o))
        else:
            readouts[f"{o}:readout"] = f
            probe_src[o] = f"{o}:readout"
    for n in neurons:
        if not graph[n].spiking:
            for d in graph.successors(n):
                if not isinstance(graph[d], ops.Output):
                    raise ValidationError(
                        f"the non-spiking {graph[n].kind} population feeds another layer; "
                        "Loihi sends binary spikes only",
                        node=_name(graph, n),
                        hint="use LI/I/CubaLI only as the last (read-out) layer",
                    )
    depth = _depths(graph, {**flows, **readouts})

    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    reports: list[LayerReport] = []
    for i in graph.of_kind(ops.Input):
        nodes[i] = loihi.SpikeSource(tuple(graph[i].shape), meta={"source": _name(graph, i)})
    for n in neurons:
        nn_, ee, rep = _lower_population(graph, n, flows[n], depth, ctx, None)
        nodes.update(nn_)
        edges += ee
        reports.append(rep)
    for r, f in readouts.items():
        o = r.rsplit(":", 1)[0]
        out = graph[o]
        nn_, ee, rep = _lower_population(graph, r, f, depth, ctx, out)
        nodes.update(nn_)
        edges += ee
        reports.append(rep)
    latency: dict[str, int] = {}
    for o in outputs:
        nodes[o] = loihi.Probe(tuple(graph[o].shape), meta={"source": _name(graph, o)})
        edges.append((probe_src[o], o))
        latency[o] = depth[probe_src[o]]
    ctx.reports["quantize"] = reports
    ctx.reports["latency"] = latency
    return Graph(nodes, edges, {**graph.meta, "dialect": "loihi"})

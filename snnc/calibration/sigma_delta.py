"""ANN → sigma-delta network (SDNN): a ReLU ANN (from ONNX) into delta-encoded ReLU populations.

A sigma-delta neuron (:class:`~snnc.compiler.ir.ops.SigmaDelta`, Lava ``SigmaDelta``) computes
the ANN's ReLU exactly and sends only the *changes* of its activation, as graded messages
(docs/decisions/0007-sigma-delta.md).  The conversion keeps the ANN's arithmetic; what it
chooses is units and thresholds:

1. **Units** (per layer, from the calibration data's activations ``a_l``).  Activations are
   carried in units ``u_l`` (float value ``a_l / u_l``)::

       u_l = percentile_p(a_l > 0) / A           A = ACTIVATION_UNITS = 4
       u_l ≥ u_src · max|W_l| / (254/64)         (a convolution's kernel must fit Lava Conv's
                                                  8-bit grid: no weight exponent there)
       W'_l = W_l · u_src / u_l ,   b'_l = b_l / u_l

   so the typical activation is 4 (payload 4·2^12, state 4·2^18 of the 2^23 a 24-bit register
   holds: 8x headroom) and the chip's fixed grids (threshold and bias in 2^-6, payload 2^-12,
   Conv weights in 2^-6 of these units) have their resolution where the values are.  The input
   is ``x / u_0`` with ``u_0`` = max |x|; the logits ``u_out`` = percentile of |logits| / A, and a
   final ``Scale(u_out)`` gives them back in the ANN's units.
2. **Biases move into the neurons.**  Synapses see messages (changes), so a bias in a
   Conv/Gemm would be added on every step; each population's bias (everything its inflow adds,
   :func:`snnc.compiler.paths.inflow`) becomes the :class:`SigmaDelta`'s (the read-out's:
   :class:`Sigma`'s) own bias, and the linear ops keep none.
3. **Graph**: ``Input → Scale(2^-6) → Delta(θ) → …ANN ops… → SigmaDelta(θ, b) → … → Sigma(b)
   → [Scale(u_out)] → Output``.  The Input takes what the chip's input takes, the int32
   ``round(x/u_0 · 2^6)`` of :class:`~snnc.encoding.DeltaEncoder`; the ``Scale(2^-6)`` is Lava
   Delta's own ``(q << 12) >> 6`` read in activation units.
4. **Threshold** θ, the same for every population, in activation units on the chip's grid
   θ = vth/64, ``vth`` an integer.  θ trades accuracy for messages: a neuron whose activation
   stays below θ sends nothing (a dead zone), and on sequences a change smaller than θ waits
   in the residue.  ``threshold=None`` (the default) searches
   :data:`VTH_GRID` on the calibration data (static inputs, the float reference: one step is
   the dead-zone ANN exactly) and takes the **largest θ whose argmax agrees with the ANN's on
   at least (agreement at θ = 0) − ``tolerance``** of the samples (default 0.5 pp).  The
   search's table (θ, agreement, messages and synaptic events per sample) is kept in
   ``Graph.meta["ann"]["search"]`` and printed in the compile summary's notes.

Bias timing on the chip is the quantizer's business (:mod:`snnc.compiler.sigma_delta`): the
float model starts every population's bias with its first input.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from snnc.backends.reference import simulate
from snnc.calibration.balance import WEIGHTED, _check_static, _population_of, ann_forward
from snnc.compiler import linear
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import arith, loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.paths import inflow
from snnc.encoding import DELTA_INPUT_BITS, DeltaEncoder
from snnc.errors import CalibrationError, ValidationError

#: the percentile of a layer's positive activations that is mapped to ACTIVATION_UNITS
PERCENTILE = 99.9
#: activation units the percentile maps to (8x below the 24-bit state's 2^23 / 2^18 = 32)
ACTIVATION_UNITS = 4.0
#: the largest kernel weight Lava Conv holds in 2^-6 units (8-bit even grid, no exponent)
CONV_WEIGHT_MAX = 254 / 64
#: candidate thresholds of the search, in the chip's units (θ = vth / 64 activation units)
VTH_GRID = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
#: the accuracy (argmax agreement with the ANN) the search may give up for fewer messages
TOLERANCE = 0.005
#: calibration samples the threshold search simulates
SEARCH_SAMPLES = 512
#: time steps a static input is held by default (its output is final after depth + 1 raw steps)
TIMESTEPS = 1
#: threshold units per activation unit: the chip's vth is θ · 2^6
VTH_SCALE = 2.0**DELTA_INPUT_BITS


@dataclasses.dataclass
class SigmaDeltaConversion:
    """What :func:`convert_sdnn` decided."""

    graph: Graph
    encoder: DeltaEncoder
    units: dict[str, float]  # u per population ("input", IF names, "output")
    vth: int  # the threshold in the chip's units (θ = vth / 64)
    search: list[dict[str, float]]  # per candidate vth: agreement, messages, synaptic events


# --------------------------------------------------------------------------- helpers
def _frames(graph: Graph, x: Any) -> np.ndarray:
    """Static calibration samples: (batch, *in_shape), or sequences (batch, T, *in_shape) as frames."""
    shape = tuple(graph[graph.of_kind(ops.Input)[0]].shape)
    arr = np.asarray(x)
    if arr.ndim == 2 + len(shape) and tuple(arr.shape[2:]) == shape:
        arr = arr.reshape((-1,) + shape)
    return _check_static(graph, arr)


def _positive_percentile(a: np.ndarray, p: float, what: str, graph: Graph, name: str) -> float:
    pos = np.abs(a[a != 0]) if what == "logits" else a[a > 0]
    if pos.size == 0:
        raise CalibrationError(
            f"the layer's {what} are all 0 on the calibration data (it would never send)",
            node=graph[name].source or name,
            hint="check the calibration data (same preprocessing as in training) or the model",
        )
    return float(np.percentile(pos, p))


def _units(graph: Graph, acts: dict[str, np.ndarray], u_in: float, percentile: float) -> dict[str, float]:
    """u per population in schedule order (see the module docstring, step 1)."""
    inp = graph.of_kind(ops.Input)[0]
    units = {inp: u_in}
    feeding = {}  # population -> the weighted op feeding it
    for name in graph.of_kind(*WEIGHTED):
        feeding[_population_of(graph, name, forward=True)] = name
    for name in graph.schedule()[0]:
        node = graph[name]
        if not isinstance(node, (ops.IF, ops.Output)):
            continue
        if name not in feeding:
            raise ValidationError("no Conv/Gemm feeds this layer", node=node.source or name,
                                  hint="only sequential ReLU ANNs are converted")
        op = graph[feeding[name]]
        src = _population_of(graph, feeding[name], forward=False)
        what = "logits" if isinstance(node, ops.Output) else "activations"
        u = _positive_percentile(acts[name], percentile, what, graph, name) / ACTIVATION_UNITS
        if isinstance(op, ops.Conv2d):
            u = max(u, units[src] * float(np.max(np.abs(op.weight), initial=0.0)) / CONV_WEIGHT_MAX)
        units[name] = u
    return units


def _rescaled(graph: Graph, units: dict[str, float]) -> Graph:
    """W' = W·u_src/u_dst, b' = b/u_dst for every weighted op."""
    nodes = dict(graph.nodes)
    for name in graph.of_kind(*WEIGHTED):
        node = graph[name]
        src = _population_of(graph, name, forward=False)
        dst = _population_of(graph, name, forward=True)
        for end in (src, dst):
            if isinstance(graph[end], WEIGHTED):
                raise ValidationError("two weighted layers without a ReLU between them", node=node.source or name,
                                      hint="fold consecutive linear layers before export")
        f = units[src] / units[dst]
        changes = {"weight": np.asarray(node.weight) * f}
        if hasattr(node, "bias"):
            changes["bias"] = np.asarray(node.bias) / units[dst]
        nodes[name] = node.replace(**changes)
    return graph.with_changes(nodes=nodes)


def _sigma_delta_graph(graph: Graph, conv: Convention, units: dict[str, float]) -> Graph:
    """The rescaled ANN with IF → SigmaDelta, biases moved into the neurons, the input Delta
    and the Sigma read-out (module docstring, steps 2-3); thresholds 0."""
    _, back = graph.schedule()
    biases = {n: inflow(graph, n, conv, back).bias for n in graph.of_kind(ops.IF, ops.Output)}
    nodes: dict[str, ops.Node] = {}
    edges = list(graph.edges)
    for name, node in graph.nodes.items():
        if isinstance(node, ops.IF):
            shape = tuple(node.shape)
            nodes[name] = ops.SigmaDelta(threshold=np.zeros(shape), bias=biases[name].reshape(shape),
                                         meta=node.meta)
        elif hasattr(node, "bias") and isinstance(node, ops.LinearOp):
            nodes[name] = node.replace(bias=np.zeros_like(np.asarray(node.bias)))
        else:
            nodes[name] = node
    inp = graph.of_kind(ops.Input)[0]
    shape = tuple(graph[inp].shape)
    scale, delta = f"{inp}:scale", f"{inp}:delta"
    nodes[scale] = ops.Scale(scale=np.full(shape, 2.0**-DELTA_INPUT_BITS), meta={"source": "input transform"})
    nodes[delta] = ops.Delta(threshold=np.zeros(shape), meta={"source": "input"})
    edges = [(delta if s == inp else s, d) for s, d in edges] + [(inp, scale), (scale, delta)]
    for o in graph.of_kind(ops.Output):
        shape = tuple(graph[o].shape)
        sigma = f"{o}:sigma"
        nodes[sigma] = ops.Sigma(bias=biases[o].reshape(shape), meta={"source": f"{graph[o].source or o}"})
        edges = [(s, sigma if d == o else d) for s, d in edges]
        if units[o] != 1.0:
            sc = f"{o}:units"
            nodes[sc] = ops.Scale(scale=np.full(shape, units[o]), meta={"source": "output units"})
            edges += [(sigma, sc), (sc, o)]
        else:
            edges.append((sigma, o))
    return Graph(nodes, edges, graph.meta)


def with_threshold(graph: Graph, theta: float) -> Graph:
    """``graph`` with every Delta/SigmaDelta threshold set to ``theta`` (activation units)."""
    nodes = dict(graph.nodes)
    for name in graph.of_kind(ops.Delta, ops.SigmaDelta):
        node = graph[name]
        nodes[name] = node.replace(threshold=np.full(node.shape, float(theta)))
    return graph.with_changes(nodes=nodes)


def fan_out(graph: Graph, conv: Convention | None = None) -> dict[str, np.ndarray]:
    """Synapses leaving each neuron of every sending population (Delta/SigmaDelta/IF), from the
    composed paths of the float graph (:func:`snnc.compiler.paths.inflow`)."""
    conv = conv or Convention()
    _, back = graph.schedule()
    out: dict[str, np.ndarray] = {}
    for target in graph.of_kind(ops.NeuronOp):
        for p in inflow(graph, target, conv, back).paths:
            m = p.matrix
            col = np.asarray((m != 0).sum(axis=0)).reshape(-1)
            out[p.source] = out.get(p.source, 0) + col
    return out


def search_threshold(graph: Graph, q: np.ndarray, ann_pred: np.ndarray, tolerance: float,
                     grid=VTH_GRID) -> tuple[int, list[dict[str, float]]]:
    """The largest ``vth`` of ``grid`` whose dead-zone network (the float reference, one step of
    the static inputs ``q``) agrees with ``ann_pred`` within ``tolerance`` of θ = 0's agreement."""
    senders = graph.of_kind(ops.Delta, ops.SigmaDelta)
    fan = fan_out(graph)
    out = graph.of_kind(ops.Output)[0]
    table = []
    for vth in grid:
        trial = with_threshold(graph, vth / VTH_SCALE)
        rec = simulate(trial, q[:, None], record=senders + [out])
        agree = float(np.mean(rec[out].reshape(len(q), -1).argmax(-1) == ann_pred))
        msgs = [(rec[s].reshape(len(q), -1) != 0) for s in senders]
        table.append({
            "vth": int(vth), "theta": vth / VTH_SCALE, "agreement": agree,
            "messages": float(sum(m.sum() for m in msgs) / len(q)),
            "synaptic_events": float(sum((m * fan.get(s, 0)).sum() for s, m in zip(senders, msgs)) / len(q)),
        })
    floor = table[0]["agreement"] - tolerance
    chosen = max((r["vth"] for r in table if r["agreement"] >= floor - 1e-12), default=0)
    return int(chosen), table


# --------------------------------------------------------------------------- the pass
def convert_sdnn(
    graph: Graph,
    x: Any,
    conv: Convention,
    timesteps: int | None = None,
    threshold: float | None = None,
    tolerance: float = TOLERANCE,
    percentile: float = PERCENTILE,
    bias: str = "relay",
) -> SigmaDeltaConversion:
    """Convert an ANN graph (:func:`snnc.frontends.onnx.load_onnx`) to a sigma-delta network on
    calibration data ``x`` (static (batch, *in_shape), or sequences whose frames are used);
    see the module docstring.  ``threshold``: θ in activation units (rounded onto the chip's
    1/64 grid), or None to search it; ``timesteps``: steps a static input is held (default 1);
    ``bias``: how the lowering feeds the biases, ``"relay"`` (default, no bias waves) or
    ``"register"`` (Lava's bias register, from step 0; :mod:`snnc.compiler.passes.quantize_sd`)."""
    t = TIMESTEPS if timesteps is None else timesteps
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
        raise ValidationError(f"timesteps must be a positive integer, got {t!r}", hint="e.g. timesteps=1")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not np.isfinite(threshold) or threshold < 0):
        raise ValidationError(f"threshold={threshold!r} is not a number >= 0",
                              hint="θ in activation units (e.g. 0.05), or leave it out to search it")
    if bias not in ("relay", "register"):
        raise ValidationError(f"bias={bias!r}", hint="use 'relay' (default) or 'register'")
    if not 0 <= tolerance < 1:
        raise ValidationError(f"tolerance {tolerance!r} outside [0, 1)", hint="e.g. 0.005 (0.5 pp)")
    if not 0 < percentile <= 100:
        raise ValidationError(f"percentile {percentile!r} outside (0, 100]", hint="e.g. 99.9")
    arr = _frames(graph, x)
    u_in = float(np.max(np.abs(arr)))
    if u_in == 0:
        raise CalibrationError("calibration data is all zeros", hint="pass representative inputs")
    acts = ann_forward(graph, arr)
    units = _units(graph, acts, u_in, percentile)
    sd = _sigma_delta_graph(_rescaled(graph, units), conv, units)
    in_shape = tuple(int(d) for d in arr.shape[1:])
    encoder = DeltaEncoder(in_shape, u_in, int(t))
    if threshold is None:
        sub = arr[:SEARCH_SAMPLES]
        out = graph.of_kind(ops.Output)[0]
        pred = acts[out][:SEARCH_SAMPLES].argmax(-1)
        vth, table = search_threshold(sd, encoder.encode(sub)[:, 0], pred, tolerance)
    else:
        vth, table = int(np.floor(threshold * VTH_SCALE + 1e-9)), []
    sd = with_threshold(sd, vth / VTH_SCALE)
    inp = graph.of_kind(ops.Input)[0]
    meta = dict(graph.meta)
    meta["ann"] = {
        **dict(meta.get("ann", {})), "balanced": True, "neuron": "sdnn", "percentile": float(percentile),
        "threshold": vth / VTH_SCALE, "vth": vth, "tolerance": float(tolerance), "timesteps": int(t),
        "units": {(graph[k].source or k) if k != inp else "input": v for k, v in units.items()}, "bias": bias,
        "search": table,
    }
    return SigmaDeltaConversion(sd.with_changes(meta=meta), encoder, units, vth, table)


def prepare_sdnn(graph: Any, calibration: Any, conv: Convention, timesteps: int | None,
                 threshold: float | None):
    """The compile driver's hook for ``neuron="sdnn"``: ``(graph, None, encoder)`` to compile
    (the quantizer needs no calibration statistics: the units are fixed here)."""
    ann = getattr(graph, "meta", {}).get("ann")
    if not ann or ann.get("balanced"):
        raise ValidationError(
            "neuron='sdnn' converts an ANN (an ONNX model); this model is already a spiking network",
            hint="leave out neuron (--neuron) for NIR models and compiled programs",
        )
    if calibration is None:
        raise CalibrationError(
            "converting an ANN to a sigma-delta network needs calibration data: static inputs "
            "(batch, *input_shape) to choose each layer's units and the delta threshold",
            hint="pass calibration=X_cal (or --calibration X.npz with key 'x'), a few hundred samples",
        )
    result = convert_sdnn(graph, calibration, conv, timesteps, threshold)
    return result.graph, None, result.encoder


def output_agreement(prog: Any, x: Any) -> dict[str, float]:
    """A compiled sigma-delta program (emulator) against its float model on ``x`` (what
    ``prog.run`` takes): the argmax agreement of the outputs over every step and sample, and
    their largest absolute difference (the fixed point's payload floor and 8-bit weights)."""
    q = prog.encoder.encode(x) if prog.encoder is not None else np.asarray(x)
    chip = np.asarray(prog.run(x), dtype=np.float64)
    ref = np.asarray(simulate(prog.reference, q), dtype=np.float64).reshape(chip.shape)
    return {
        "agreement": float(np.mean(chip.argmax(-1) == ref.argmax(-1))),
        "max_abs_difference": float(np.max(np.abs(chip - ref), initial=0.0)),
        "scale": float(np.max(np.abs(ref), initial=0.0)),
    }


def block_matrix(syn: Any):
    """A Loihi synapse block as a sparse (n_out, n_in) matrix of its integer weights (a
    ``ConvSynapse`` unrolled in the model's layout; a ``Synapse``'s stored mantissas)."""
    if isinstance(syn, loihi.ConvSynapse):
        op = ops.Conv2d(input_shape=tuple(syn.in_shape[1:]), weight=np.asarray(syn.weights, dtype=np.float64),
                        stride=tuple(syn.stride), padding=tuple(syn.padding), dilation=tuple(syn.dilation),
                        groups=int(syn.groups), bias=np.zeros(syn.weights.shape[0]))
        return sp.csr_matrix(linear.as_matrix(op))
    return sp.csr_matrix(syn.weights)


def one_shot_integer_ann(prog: Any, q: np.ndarray, deadzone: bool = False,
                         payloads: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The integer ANN a compiled sigma-delta program stands for, in one pass without time:
    the *quantized ANN* of its registers.  ``q``: the encoded static inputs (batch, *in_shape),
    ``prog.encoder.encode(x)[:, 0]``.  In depth order::

        delta:        y = q << k
        sigma_delta:  y = max(Σ_blocks shift(W'·s_src, weight_exp) + (bias << k), 0)
        (deadzone:    y = 0 where y < vth << k)
        both:         s = y >> state_exp            (the graded payload)
        sigma:        out = Σ_blocks …  / out_scale

    (k = spike_exp + state_exp; Conv blocks without exponent; no int32 wrap: the values stay
    far inside it).  For a static input held from step 0, the chip's read-out at step D (the
    network's depth) equals ``deadzone=True`` exactly when the biases go through relays
    (:mod:`snnc.compiler.passes.quantize_sd`) -- no time, no residue, one message per neuron.
    Returns the decoded read-out (batch, n_out) of the program's one output; ``payloads``, when
    given, receives every sending population's payload (batch, n) int64 by compartment name."""
    g = prog.graph
    batch = q.shape[0]
    pay: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for name in g.schedule()[0]:
        node = g[name]
        if not isinstance(node, loihi.SigmaDeltaCompartment):
            continue
        k = node.spike_exp + node.state_exp
        if node.neuron == loihi.DELTA:
            y = np.asarray(q, dtype=np.int64).reshape(batch, -1) << k
        else:
            a = np.zeros((batch, node.size), np.int64)
            for s in g.predecessors(name):
                syn = g[s]
                (src,) = g.predecessors(s)
                if isinstance(syn, loihi.ConvSynapse):
                    a += np.rint((block_matrix(syn) @ pay[src].T.astype(np.float64)).T).astype(np.int64)
                else:
                    acc = np.asarray((arith.effective_weights(syn) @ pay[src].T).T, dtype=np.int64)
                    e = int(syn.weight_exp)
                    a += acc << e if e >= 0 else acc >> -e
            if node.neuron == loihi.SIGMA:
                out[name] = a / node.out_scale
                continue
            bias = 0 if node.bias is None else np.asarray(node.bias, np.int64).reshape(-1) << k
            y = np.maximum(a + bias, 0)
        if deadzone:
            y = np.where(np.abs(y) >= (int(node.vth) << k), y, 0)
        pay[name] = y >> node.state_exp
    if payloads is not None:
        payloads.update(pay)
    (o,) = prog.outputs
    return out[prog.probed(o)].reshape(batch, -1)

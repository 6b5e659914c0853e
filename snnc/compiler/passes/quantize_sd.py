"""quantize (sigma-delta): lower a float sigma-delta network to Lava's Delta/SigmaDelta/Sigma.

The float graph (:mod:`snnc.calibration.sigma_delta`, ops ``Delta``/``SigmaDelta``/``Sigma``)
is lowered with lava-dl netx's units (docs/decisions/0007-sigma-delta.md, research table in
docs/conversion.md): ``spike_exp = state_exp = 6``, so with the weights' 6 fractional bits

=====================  =================================  ==========================
quantity               register                           units (of the float value)
=====================  =================================  ==========================
input (int32 a_in)     ``q``                              2^-6  (the float graph's Scale(2^-6))
weight                 ``W' · 2^weight_exp``              2^-6  (``W' ≈ 64·W``)
graded payload         ``s >> 6``                         2^-12
sigma, bias, vth       ``σ``, ``bias << 12``, ``vth << 12``  2^-18
Sigma read-out         ``σ``                              2^-18: ``out_scale = 2^18 / c``
=====================  =================================  ==========================

* ``Input → Scale(2^-6) → Delta`` becomes a ``SpikeSource(payload="int32")`` wired to a ``delta``
  compartment's ``a_in`` (same step, no synapse).
* Every path into a population becomes a **graded** synapse block (``num_message_bits = 16``,
  netx's default): a lone ``Conv2d`` a shared-kernel ``ConvSynapse`` (8-bit grid, no exponent:
  the conversion's units keep every kernel on it), anything else a Dense/Sparse ``Synapse`` with
  its own ``weight_exp`` (:func:`snnc.compiler.blocks.synapse` at scale 64).
* ``vth = θ·64`` (θ must lie on that grid: the conversion puts it there); one per population.
* A trailing ``Scale(c)`` between the ``Sigma`` and its ``Output`` is the decoder's:
  ``out_scale = 2^18 / c``.

**Biases: "relay" (default) or "register".**  The float model starts each population's bias
with its first input; on the chip a population at synaptic depth k first receives input at
step k.  Lava's ``SigmaDelta`` adds its bias from step 0, so with ``bias="register"`` (netx's
way) the biases send "bias waves" ahead of the input; once the input arrives the activations
are right again, but a neuron left within θ of its final value keeps that difference in its
residue for ever (research note r14sdn §5: PilotNet −31026 against −1792).  With
``bias="relay"`` (the default) each bias enters as a graded synapse column from a one-neuron
**relay** at depth k − 1: relay 0 is a ``SigmaDelta`` with bias 1.0 and no input (it sends
1.0 = 4096 once, at step 0) and relay j feeds relay j + 1 through a weight 64, so relay k − 1
sends 1.0 exactly once, at step k − 1, and the bias arrives with the input wave.  The chip then
computes the float model with a delay of one step per layer: for a static input, the dead-zone
ANN, exactly up to the payload's floor.  Cost: one neuron, one message and ``n`` synaptic
events per biased layer and inference.  ``Sigma`` has no bias register, so a read-out's bias
always uses a relay.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snnc.compiler import blocks
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph, Node
from snnc.compiler.passes.context import CompileContext
from snnc.compiler.passes.quantize import LayerReport
from snnc.compiler.paths import Inflow, Path, inflow
from snnc.errors import QuantizationError, ValidationError

#: lava-dl netx's exponents: payload 2^-12, state 2^-18 (with the weights' 2^-6)
SPIKE_EXP = 6
STATE_EXP = 6
#: chip weight units per float weight (2^6), and the state's units per float value (2^18)
WEIGHT_SCALE = 64.0
STATE_SCALE = float(2 ** (6 + SPIKE_EXP + STATE_EXP))
#: the graded synapses' message width (netx's default ``messageBits``)
MESSAGE_BITS = 16
#: how biases reach the chip (see the module docstring)
BIAS_MODES = ("relay", "register")


def _name(graph: Graph, n: str) -> str:
    return graph[n].source or n


def _uniform(values: np.ndarray, what: str, layer: str) -> float:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size and not np.all(v == v[0]):
        raise ValidationError(f"per-neuron {what}s ({v.min():g}..{v.max():g}); Lava's sigma-delta "
                              f"processes share one {what} per population", node=layer,
                              hint=f"give the population one {what}")
    return float(v[0]) if v.size else 0.0


def _vth(node: ops.SigmaDeltaOp, layer: str, notes: list[str]) -> int:
    theta = _uniform(node.threshold, "threshold", layer)
    if theta < 0:
        raise ValidationError(f"threshold {theta:g} < 0", node=layer, hint="use θ >= 0")
    vth = theta * WEIGHT_SCALE
    q = int(np.floor(vth + 1e-9))
    if abs(vth - q) > 1e-9:
        notes.append(f"threshold {theta:g} rounded down to the chip's 1/64 grid: {q / WEIGHT_SCALE:g}")
    return q


def _diagonal(m, n: int) -> np.ndarray | None:
    """The diagonal of ``m`` when it is a diagonal (n, n) matrix, else None."""
    m = sp.csr_matrix(m)
    if m.shape != (n, n) or (m - sp.diags(m.diagonal())).count_nonzero():
        return None
    return m.diagonal()


def _depths(graph: Graph, flows: dict[str, Inflow]) -> dict[str, int]:
    """Synaptic depth: 0 for the input Delta(s), 1 + the deepest source for the rest."""
    depth: dict[str, int] = {}
    for name in graph.schedule()[0]:
        if name not in flows:
            continue
        if isinstance(graph[name], ops.Delta):
            depth[name] = 0
        else:
            depth[name] = 1 + max((depth[p.source] for p in flows[name].paths), default=0)
    return depth


#: name prefix of the relay populations that carry the biases (their number: the layer depth − 1)
BIAS_RELAY = "bias_relay:"


class _Relays:
    """The one-neuron bias relays, one per depth, built on demand (see the module docstring)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: list[tuple[str, str]] = []

    def at(self, k: int) -> str:
        name = f"{BIAS_RELAY}{k}"
        if name in self.nodes:
            return name
        meta = {"source": name, "role": "bias"}
        if k == 0:
            self.nodes[name] = loihi.SigmaDeltaCompartment(
                shape=(1,), neuron=loihi.SIGMA_DELTA, vth=0, bias=np.array([int(WEIGHT_SCALE)], np.int64),
                spike_exp=SPIKE_EXP, state_exp=STATE_EXP, meta=meta)
            return name
        prev = self.at(k - 1)
        self.nodes[name] = loihi.SigmaDeltaCompartment(
            shape=(1,), neuron=loihi.SIGMA_DELTA, vth=0, spike_exp=SPIKE_EXP, state_exp=STATE_EXP, meta=meta)
        syn = f"{name}:syn"
        self.nodes[syn] = loihi.Synapse(weights=np.array([[int(WEIGHT_SCALE)]], np.int64), weight_exp=0,
                                        num_message_bits=MESSAGE_BITS, meta={"source": name, "role": "bias"})
        self.edges += [(prev, syn), (syn, name)]
        return name


def _synapses(graph: Graph, name: str, flow: Inflow, depth: dict[str, int], ctx: CompileContext,
              layer: str, notes: list[str]):
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    exps: list[int] = []
    worst = 0.0
    count = 0
    ones = np.ones(int(np.prod(graph[name].shape, dtype=np.int64)))
    for i, p in enumerate(flow.paths):
        src = graph[p.source]
        if not isinstance(src, (ops.Delta, ops.SigmaDelta)):
            raise ValidationError(
                f"{layer!r} is fed by {src.kind} {_name(graph, p.source)!r}; a sigma-delta population "
                "takes the messages of Delta or SigmaDelta populations", node=layer,
                hint="start the network with a Delta (the conversion of neuron='sdnn' does)")
        if np.any(p.delay):
            raise ValidationError("a Delay or recurrent edge into a sigma-delta population", node=layer,
                                  hint="only feed-forward sigma-delta networks are lowered")
        syn_name = f"{name}:syn{i}" if len(flow.paths) > 1 else f"{name}:syn"
        kernel = blocks.shared_kernel(p, ones, depth, name)
        if kernel is not None:
            syn, e, err = blocks.conv_synapse(p, kernel, WEIGHT_SCALE, layer)
            top = float(np.max(np.abs(kernel), initial=0.0)) * WEIGHT_SCALE
            if top > 255:
                raise QuantizationError(
                    f"a kernel weight of {top / WEIGHT_SCALE:.3g} activation units does not fit Lava Conv's "
                    "8-bit grid (at most 254/64)", node=layer,
                    hint="convert the ANN with snnc.compile(..., neuron='sdnn'), which sizes the units for it")
        else:
            syn, e, err = blocks.synapse(p, p.matrix, WEIGHT_SCALE, depth, name, layer, ctx.target)
        nodes[syn_name] = syn.replace(num_message_bits=MESSAGE_BITS)
        edges += [(p.source, syn_name), (syn_name, name)]
        exps.append(e)
        worst = max(worst, err)
        count += syn.num_synapses
    return nodes, edges, exps, worst, count


def _bias(flow_bias: np.ndarray, node_bias: np.ndarray) -> np.ndarray:
    return np.asarray(flow_bias, dtype=np.float64).reshape(-1) + np.asarray(node_bias, dtype=np.float64).reshape(-1)


def quantize_sigma_delta(graph: Graph, ctx: CompileContext, bias: str | None = None) -> Graph:
    """Lower a float sigma-delta graph; see the module docstring.  ``bias``: ``"relay"`` or
    ``"register"`` (None: ``graph.meta["ann"]["bias"]``, else ``"relay"``).  Writes
    ``ctx.reports["quantize"]`` (:class:`~snnc.compiler.passes.quantize.LayerReport`) and
    ``ctx.reports["latency"]``."""
    if bias is None:
        bias = dict(graph.meta.get("ann") or {}).get("bias", "relay")
    if bias not in BIAS_MODES:
        raise ValidationError(f"bias={bias!r}", hint=f"use one of {', '.join(BIAS_MODES)}")
    order, back = graph.schedule()
    if back:
        raise ValidationError("the sigma-delta network has a cycle", hint="only feed-forward networks are lowered")
    others = [n for n in graph.of_kind(ops.NeuronOp) if not isinstance(graph[n], ops.SigmaDeltaOp)]
    if others:
        raise ValidationError(f"{graph[others[0]].kind} population in a sigma-delta network",
                              node=_name(graph, others[0]),
                              hint="a network is either spiking or sigma-delta, not both")
    pops = graph.of_kind(ops.SigmaDeltaOp)
    flows = {n: inflow(graph, n, ctx.convention, back) for n in pops}
    depth = _depths(graph, flows)
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    reports = []
    relays = _Relays()
    inputs = graph.of_kind(ops.Input)
    for i in inputs:
        nodes[i] = loihi.SpikeSource(tuple(graph[i].shape), payload=loihi.PAYLOAD_INT32,
                                     meta={"source": _name(graph, i)})
    for name in pops:
        node, flow, layer, notes = graph[name], flows[name], _name(graph, name), []
        n = int(np.prod(node.shape, dtype=np.int64))
        common = dict(shape=tuple(node.shape), meta={"source": layer, "float_kind": node.kind})
        exps: list[int] = []
        worst, count = 0.0, 0
        if isinstance(node, ops.Delta):
            ok = (len(flow.paths) == 1 and isinstance(graph[flow.paths[0].source], ops.Input)
                  and not np.any(flow.bias) and not np.any(flow.paths[0].delay))
            diag = _diagonal(flow.paths[0].matrix, n) if ok else None
            if diag is None or not np.allclose(diag, 1.0 / WEIGHT_SCALE, rtol=1e-12, atol=0.0):
                raise ValidationError(
                    "a Delta must take the network input through Scale(1/64) (Lava Delta reads its int32 "
                    "input as value·2^-6)", node=layer,
                    hint="convert the ANN with snnc.compile(..., neuron='sdnn')")
            nodes[name] = loihi.SigmaDeltaCompartment(neuron=loihi.DELTA, vth=_vth(node, layer, notes),
                                                      spike_exp=SPIKE_EXP, state_exp=STATE_EXP, **common)
            edges.append((flow.paths[0].source, name))
        else:
            syn_nodes, syn_edges, exps, worst, count = _synapses(graph, name, flow, depth, ctx, layer, notes)
            nodes.update(syn_nodes)
            edges += syn_edges
            b = _bias(flow.bias, node.bias)
            reg = None
            if np.any(b) and (bias == "relay" or isinstance(node, ops.Sigma)):
                relay = relays.at(depth[name] - 1)
                col = Path(relay, sp.csr_matrix(b.reshape(-1, 1)), np.zeros(1, np.int64))
                rdepth = {**depth, relay: depth[name] - 1}
                syn, e, err = blocks.synapse(col, b.reshape(-1, 1), WEIGHT_SCALE, rdepth, name, layer, ctx.target)
                nodes[f"{name}:bias"] = syn.replace(num_message_bits=MESSAGE_BITS, meta={"source": layer, "role": "bias"})
                edges += [(relay, f"{name}:bias"), (f"{name}:bias", name)]
                notes.append(f"bias through the relay at depth {depth[name] - 1} (weight_exp {e}, "
                             f"relative error {100 * err:.2g}%)")
            elif np.any(b):
                reg = np.rint(b * WEIGHT_SCALE).astype(np.int64)
                notes.append("bias in Lava's register, acting from step 0 (bias waves; see docs/conversion.md)")
            if isinstance(node, ops.Sigma):
                nodes[name] = loihi.SigmaDeltaCompartment(neuron=loihi.SIGMA, out_scale=STATE_SCALE, **common)
            else:
                nodes[name] = loihi.SigmaDeltaCompartment(
                    neuron=loihi.SIGMA_DELTA, vth=_vth(node, layer, notes), bias=reg, spike_exp=SPIKE_EXP,
                    state_exp=STATE_EXP, **common)
        reports.append(LayerReport(
            name=layer, kind=node.kind, neurons=n, synapses=count, scale=WEIGHT_SCALE,
            vth=int(getattr(nodes[name], "vth", 0)), du="-", dv="-", weight_exps=exps, bias_exp=0,
            weight_error=worst, depth=depth[name], notes=notes))
    nodes.update(relays.nodes)
    edges += relays.edges
    latency: dict[str, int] = {}
    for o in graph.of_kind(ops.Output):
        f = inflow(graph, o, ctx.convention, back)
        src = f.paths[0].source if len(f.paths) == 1 else None
        diag = _diagonal(f.paths[0].matrix, int(np.prod(graph[o].shape))) if src else None
        if (src is None or not isinstance(graph[src], ops.Sigma) or np.any(f.bias) or diag is None
                or not np.all(diag == diag[0]) or diag[0] <= 0):
            raise ValidationError("a sigma-delta network's output must be a Sigma read-out (times a positive "
                                  "scale)", node=_name(graph, o),
                                  hint="convert the ANN with snnc.compile(..., neuron='sdnn')")
        nodes[src] = nodes[src].replace(out_scale=STATE_SCALE / float(diag[0]))
        nodes[o] = loihi.Probe(tuple(graph[o].shape), meta={"source": _name(graph, o)})
        edges.append((src, o))
        latency[o] = depth[src]
    ctx.reports["quantize"] = reports
    ctx.reports["latency"] = latency
    return Graph(nodes, edges, {**graph.meta, "dialect": "loihi"})

"""verify: invariants of both dialects, checked after every pass and on every program load.

:func:`problems` lists what is wrong with a graph as :class:`Problem` records (node, field,
value, limit); :func:`verify` raises the first as :class:`~snnc.errors.IRError` (after a pass
that is a bug in snnc, or a hand-built graph); :meth:`snnc.compiler.artifact.Artifact.load`
turns them into a user error naming the file (a damaged or edited program directory).

Loihi dialect, per node (ranges: :class:`RegisterLimits`, ``shared/reference/loihi.md`` §2.1 and
:mod:`snnc.compiler.ir.arith`):

* every ``shape`` a tuple of ints ≥ 1 (no 0-neuron population);
* ``Compartment``: ``du``, ``dv`` (one int, or one per neuron) 0..4095; ``vth`` one int
  0..2^17−1 (not a float, not negative); ``bias_mant`` one int per neuron, |m| ≤ 4095;
  ``bias_exp`` 0..7; ``u_init``/``v_init`` one int per neuron within the 24-bit state;
  ``v_scale`` finite and > 0, ``v_offset`` finite, one per neuron; ``readout`` spikes or v;
  ``start_step`` an int ≥ 0; integer arrays, never floats, NaN or booleans;
* ``Synapse``: a 2-D integer (or CSR) weight matrix inside the 8-bit clip bounds of its sign
  mode (Lava would clip it silently otherwise); ``weight_exp`` −8..7; ``num_weight_bits``
  1..8; ``delays`` an integer array of the weights' shape, 0..62;
* ``ConvSynapse``: an integer 4-D kernel (C', C/groups, kH, kW) in [-256, 255], a 3-D
  ``in_shape`` whose size is its source's, ``stride``/``padding``/``dilation`` pairs (≥ 1, ≥ 0,
  ≥ 1), ``groups`` dividing both channel counts, and an output (C', H', W') whose size is its
  targets';
* ``Compartment.reset_interval`` an int ≥ 0 (0: no periodic reset), ``reset_offset`` an int ≥ 0
  (Lava's ``LIFReset`` refuses a negative one);
  ``SpikeSource.payload`` one of ``loihi.PAYLOADS``;
* ``SigmaDeltaCompartment`` (:func:`sigma_delta_problems`): ``neuron`` delta, sigma_delta or
  sigma; ``spike_exp``/``state_exp`` ints 0..7 (Lava declares them ``precision=3``); ``vth`` one
  int 0..2^31−1; ``cum_error`` a bool; ``activation`` relu or unit; ``bias`` (sigma_delta only)
  one int32 per neuron; ``out_scale`` finite > 0; a ``sigma`` takes none of vth, bias, exps,
  cum_error (Lava's ``Sigma(shape)``), a ``delta`` no bias and no activation other than relu;
* ``Synapse``/``ConvSynapse.num_message_bits`` an int 0..31 (Lava's ``precision=5`` Var);
* wiring: a source has no inputs and feeds synapses (an int32 source: graded ones only,
  ``num_message_bits > 0``) or populations of its own size directly (their ``a_in``); a synapse
  has exactly one source population (LIF or sigma-delta) and feeds populations of its ``n_out``;
  a population is fed by synapses and at most the source; a probe records exactly one
  population of its own size and feeds nothing; no edge twice.

:func:`hardware_warnings` lists what Lava's CPU models compute but Loihi 2 would not (a graded
payload that provably reaches 2^23: the chip carries 24-bit messages); :func:`snnc.backends.wiring.wiring`
issues them as :class:`HardwareRangeWarning`.

Float dialect: sizes match along edges and every float array is finite.

A graph may relax a range (lava-dl netx programs, whose registers lava-dl fills in its own
ranges): :func:`limits_for` picks the :class:`RegisterLimits` a graph is checked against --
:data:`LAVA_DL_LIMITS` for a graph whose ``meta["register_ranges"]`` is ``"lava-dl"`` (what
the netx reader writes): ``du`` −1 (lava-dl's ``iDecay = 0``, Lava's factor 4096; per-neuron
values stay 0..4095, Lava holds them as uint16), ``dv`` up to 4096, ``vth`` up to 2^17 (its
neuron-less dense default).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from snnc.compiler.ir import arith, loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import IRError

Range = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class RegisterLimits:
    """Inclusive ranges of Lava's registers (lava-nc 0.10.0 LIF/Dense/DelayDense models)."""

    du: Range = (0, arith.DECAY_UNITY - 1)  # 12-bit decay
    dv: Range = (0, arith.DECAY_UNITY - 1)
    vth: Range = (0, (1 << 17) - 1)  # 17-bit mantissa, compared as vth << 6
    bias_mant: Range = (-4095, 4095)  # 13-bit signed mantissa
    bias_exp: Range = (0, 7)
    weight: Range = (-(1 << arith.WEIGHT_BITS), (1 << arith.WEIGHT_BITS) - 1)  # the 8-bit grid
    weight_exp: Range = (-8, 7)
    num_weight_bits: Range = (1, arith.WEIGHT_BITS)
    delay: Range = (0, 62)  # extra steps (DelayDense, as netx builds it)
    u_init: Range = (-arith.MAX_UV, arith.MAX_UV - 1)  # the 24-bit state
    v_init: Range = (-arith.V_LIMIT, arith.V_LIMIT)


#: Lava's register ranges: what snnc's compiler emits and every program is checked against
LOIHI_LIMITS = RegisterLimits()
#: the ranges lava-dl's netx fills Lava's LIF with (hdf5.py:151-159, 346-358): du = iDecay − 1
#: from −1, dv = vDecay up to 4096, vth = vThMant up to 1 << 17 (its default integrator)
LAVA_DL_LIMITS = dataclasses.replace(LOIHI_LIMITS, du=(-1, arith.DECAY_UNITY - 1), dv=(0, arith.DECAY_UNITY),
                                     vth=(0, 1 << 17))
#: ``graph.meta["register_ranges"]`` -> the limits it asks for
RANGES = {"lava-dl": LAVA_DL_LIMITS}


def limits_for(graph: Graph) -> RegisterLimits:
    """The register ranges ``graph`` is checked against (``meta["register_ranges"]``)."""
    return RANGES.get(graph.meta.get("register_ranges"), LOIHI_LIMITS)


#: node meta entries that name things (layers, kinds, roles): text when present
TEXT_META = ("source", "from", "float_kind", "role", "nir_type")


class HardwareRangeWarning(UserWarning):
    """A program Lava's CPU models run but Loihi 2 would not run alike (:func:`hardware_warnings`)."""


@dataclasses.dataclass(frozen=True)
class Problem:
    """One broken invariant: ``node`` (the IR name; ``"<graph>"`` for the whole graph),
    ``field`` (a node field, ``edges`` or ``nodes``), the offending ``value`` and the ``limit``
    it breaks, as text; ``array`` tells whether the value lives in an array (arrays.npz)."""

    node: str
    field: str
    value: str
    limit: str
    array: bool = False
    #: how to fix it (one sentence; empty where the limit says it)
    hint: str = ""

    @property
    def message(self) -> str:
        return f"{self.field}={self.value} {self.limit}"


def problems(graph: Graph, limits: RegisterLimits | None = None) -> list[Problem]:
    """Everything wrong with ``graph`` (empty when it holds its invariants)."""
    return list(_problems(graph, limits))


def verify(graph: Graph) -> None:
    """Raise :class:`~snnc.errors.IRError` at the first broken invariant."""
    for p in _problems(graph, None):
        raise IRError(f"IR invariant broken at {p.node!r}: {p.message}", node=p.node)


# ------------------------------------------------------------------------------ helpers
def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_shape(shape, ndim: int | None = None) -> bool:
    return (isinstance(shape, tuple) and len(shape) >= 1 and (ndim is None or len(shape) == ndim)
            and all(_is_int(d) and d >= 1 for d in shape))


def _is_pair(value, lo: int) -> bool:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return False
    return all(_is_int(v) and v >= lo for v in value)


def _at(field: str, a: np.ndarray, i: int) -> tuple[str, str]:
    """(``field[i]``, the i-th flat value of ``a``); the field alone for a scalar."""
    v = a.reshape(-1)[i].item()
    return (field if a.ndim == 0 else f"{field}[{i}]"), repr(v)


def _range_problem(node: str, field: str, value, rng: Range, array: bool) -> Problem | None:
    """Out-of-range (or non-integer) values of an int register, scalar or array."""
    lo, hi = rng
    a = np.asarray(value)
    if a.dtype.kind not in "iu":
        limit = f"is not an integer ({a.dtype.name}; limit {lo}..{hi})"
        if a.dtype.kind == "f" and a.size:
            flat = a.reshape(-1)
            odd = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
            where, shown = _at(field, a, int(odd[0]) if odd.size else 0)
            return Problem(node, where, shown, limit, array)
        shown = repr(a.item()) if a.ndim == 0 and a.dtype.kind in "biuf" else f"<{a.dtype.name} array {a.shape}>"
        return Problem(node, field, shown, limit, array)
    if a.size == 0:
        return None
    bad = np.flatnonzero((a < lo) | (a > hi))
    if bad.size:
        where, shown = _at(field, a, int(bad[0]))
        return Problem(node, where, shown, f"outside {lo}..{hi}", array)
    return None


def _per_neuron(node: str, field: str, value, n: int, scalar_ok: bool) -> Problem | None:
    a = np.asarray(value)
    if a.ndim == 0 and scalar_ok:
        return None
    if a.size != n:
        shown = f"<{a.size} values>" if isinstance(value, np.ndarray) else repr(value)[:40]
        return Problem(node, field, shown, f"must have one value per neuron ({n})"
                       + (" or be one int" if scalar_ok else ""), isinstance(value, np.ndarray))
    return None


# ------------------------------------------------------------------------------ checks
def _problems(graph: Graph, limits: RegisterLimits | None) -> Iterator[Problem]:
    if not len(graph):
        yield Problem("<graph>", "nodes", "[]", "must not be empty")
        return
    kinds = {type(n) for n in graph.nodes.values()}
    is_loihi = bool(kinds & set(loihi.LOIHI_OPS))
    if is_loihi and kinds - set(loihi.LOIHI_OPS):
        yield Problem("<graph>", "nodes", ", ".join(sorted(k.__name__ for k in kinds)),
                      "mixes Loihi and float dialect nodes")
        return
    for name, node in graph.nodes.items():
        for key in TEXT_META:
            if key in node.meta and not isinstance(node.meta[key], str):
                yield Problem(name, f"meta[{key!r}]", repr(node.meta[key])[:40], "is not text")
                return
    seen: set[tuple[str, str]] = set()
    for e in graph.edges:
        if e in seen:
            yield Problem(e[1], "edges", repr(e), "appears twice (each edge is one connection)")
            return
        seen.add(e)
    if is_loihi:
        yield from _loihi(graph, limits or limits_for(graph))
    else:
        yield from _float(graph)


def _float(graph: Graph) -> Iterator[Problem]:
    for name, node in graph.nodes.items():
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            a = v.data if sp.issparse(v) else v
            if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size and not np.all(np.isfinite(a)):
                where, shown = _at(f.name, a, int(np.flatnonzero(~np.isfinite(a.reshape(-1)))[0]))
                yield Problem(name, where, shown, "is not finite", True)
    for s, d in graph.edges:
        try:
            out, inp = _size(graph[s].out_shape), _size(graph[d].in_shape)
        except (AttributeError, TypeError, ValueError) as e:
            yield Problem(d, "edges", repr((s, d)), f"joins nodes without sizes ({e})")
            continue
        if out != inp:
            yield Problem(d, "edges", f"({s!r}, {d!r}): {out} -> {inp}", "size mismatch on edge")


def _size_of(node) -> int:
    if isinstance(node, (loihi.Synapse, loihi.ConvSynapse)):
        return node.n_out
    return _size(node.shape)


def _loihi(graph: Graph, lim: RegisterLimits) -> Iterator[Problem]:
    populations = (loihi.SpikeSource, *loihi.NEURON_OPS)
    # shapes first: sizes are compared below
    broken: set[str] = set()
    for name, node in graph.nodes.items():
        if isinstance(node, (loihi.SpikeSource, *loihi.NEURON_OPS, loihi.Probe)) and not _is_shape(node.shape):
            broken.add(name)
            yield Problem(name, "shape", repr(node.shape), "is not a tuple of ints >= 1")
        elif isinstance(node, loihi.Synapse):
            p = _synapse_matrix(name, node, lim)
            if p is not None:
                broken.add(name)
                yield p
        elif isinstance(node, loihi.ConvSynapse):
            p = _conv(name, node)
            if p is not None:
                broken.add(name)
                yield p
    if broken:
        return
    for name, node in graph.nodes.items():
        preds, succs = graph.predecessors(name), graph.successors(name)
        if isinstance(node, loihi.SpikeSource):
            if preds:
                yield Problem(name, "edges", repr(preds[0]), "feeds the input (a spike source has no inputs)")
            if node.payload not in loihi.PAYLOADS:
                yield Problem(name, "payload", repr(node.payload), f"is not one of {', '.join(loihi.PAYLOADS)}")
            for d in succs:
                dn = graph[d]
                if isinstance(dn, loihi.NEURON_OPS):  # straight into its a_in
                    if dn.size != _size(node.shape):
                        yield Problem(name, "edges", repr(d), f"feeds {dn.size} neurons directly with "
                                      f"{_size(node.shape)} values")
                elif not isinstance(dn, (loihi.Synapse, loihi.ConvSynapse)):
                    yield Problem(name, "edges", repr(d), "an input feeds synapses and compartments only")
                elif node.payload != loihi.PAYLOAD_BINARY and not _graded(dn):
                    yield Problem(name, "edges", repr(d), f"an input of {node.payload} values feeds "
                                  "compartments and graded synapses only (this synapse reads binary "
                                  "spikes: num_message_bits=0)",
                                  hint="give the synapse num_message_bits > 0 (graded payloads), or "
                                  "send binary spikes")
        elif isinstance(node, (loihi.Synapse, loihi.ConvSynapse)):
            what = "a conv synapse" if isinstance(node, loihi.ConvSynapse) else "a synapse"
            if len(preds) != 1 or not isinstance(graph[preds[0]], populations):
                yield Problem(name, "edges", repr(preds), f"{what} needs exactly one source population")
                continue
            src = _size_of(graph[preds[0]])
            if src != node.n_in:
                shown = f"in_shape {node.in_shape} (n_in {node.n_in})" if what == "a conv synapse" \
                    else f"n_in {node.n_in}"
                yield Problem(name, "weights", shown, f"!= source size {src}", True)
            if not succs:
                yield Problem(name, "edges", "[]", f"{what} must feed a compartment")
            for d in succs:
                if not isinstance(graph[d], loihi.NEURON_OPS) or graph[d].size != node.n_out:
                    yield Problem(name, "edges", repr(d), f"{what} must feed compartments of size n_out {node.n_out}")
            if isinstance(node, loihi.Synapse):
                yield from _synapse_registers(name, node, lim)
            p = message_bits_problem(name, node)
            if p is not None:
                yield p
        elif isinstance(node, loihi.Compartment):
            for s in preds:
                if not isinstance(graph[s], (loihi.Synapse, loihi.ConvSynapse, loihi.SpikeSource)):
                    yield Problem(name, "edges", repr(s), "a compartment is fed by synapses and the input only")
            for d in succs:
                if not isinstance(graph[d], (loihi.Synapse, loihi.ConvSynapse, loihi.Probe)):
                    yield Problem(name, "edges", repr(d), "a compartment feeds synapses and probes only")
            yield from _compartment(name, node, lim)
        elif isinstance(node, loihi.SigmaDeltaCompartment):
            for s in preds:
                if not isinstance(graph[s], (loihi.Synapse, loihi.ConvSynapse, loihi.SpikeSource)):
                    yield Problem(name, "edges", repr(s), "a sigma-delta population is fed by synapses and the input only")
            for d in succs:
                if not isinstance(graph[d], (loihi.Synapse, loihi.ConvSynapse, loihi.Probe)):
                    yield Problem(name, "edges", repr(d), "a sigma-delta population feeds synapses and probes only")
            yield from sigma_delta_problems(name, node)
        elif isinstance(node, loihi.Probe):
            if len(preds) != 1 or not isinstance(graph[preds[0]], loihi.NEURON_OPS):
                yield Problem(name, "edges", repr(preds), "a probe records exactly one compartment")
            elif graph[preds[0]].size != _size(node.shape):
                yield Problem(name, "shape", repr(node.shape), f"!= the size of {preds[0]!r} ({graph[preds[0]].size})")
            if succs:
                yield Problem(name, "edges", repr(succs[0]), "a probe feeds nothing")


def _synapse_matrix(name: str, node: loihi.Synapse, lim: RegisterLimits) -> Problem | None:
    w = node.weights
    if sp.issparse(w):
        if w.ndim != 2 or min(w.shape) < 1:
            return Problem(name, "weights", f"<sparse {w.shape}>", "must be a non-empty 2-D matrix", True)
        return None
    a = np.asarray(w)
    if a.ndim != 2 or min(a.shape) < 1:
        return Problem(name, "weights", f"<{a.dtype} array {a.shape}>", "must be a non-empty 2-D (n_out, n_in) matrix", True)
    return None


def _synapse_registers(name: str, node: loihi.Synapse, lim: RegisterLimits) -> Iterator[Problem]:
    try:
        mode = arith.SignMode(node.sign_mode)
    except (ValueError, TypeError):
        yield Problem(name, "sign_mode", repr(node.sign_mode), "is not a Lava SignMode (0..3)")
        return
    w = node.weights.data if sp.issparse(node.weights) else np.asarray(node.weights)
    lo, hi = lim.weight
    if mode == arith.SignMode.INHIBITORY:
        lo, hi = -hi, 0
    elif mode != arith.SignMode.MIXED:
        lo = 0
    p = _range_problem(name, "weights", w, (lo, hi), True)
    if p is not None:
        yield dataclasses.replace(p, limit=f"{p.limit} (off the 8-bit grid of sign mode {mode.name})")
    for reg in ("weight_exp", "num_weight_bits"):
        v = getattr(node, reg)
        if not _is_int(v):
            yield Problem(name, reg, repr(v), f"is not an int (limit {getattr(lim, reg)[0]}..{getattr(lim, reg)[1]})")
        else:
            p = _range_problem(name, reg, v, getattr(lim, reg), False)
            if p is not None:
                yield p
    if node.delays is not None:
        d = np.asarray(node.delays)
        if d.shape != tuple(node.weights.shape):
            yield Problem(name, "delays", f"<array {d.shape}>", f"must have the weights' shape {tuple(node.weights.shape)}", True)
        else:
            p = _range_problem(name, "delays", d, lim.delay, True)
            if p is not None:
                yield p


def _compartment(name: str, c: loihi.Compartment, lim: RegisterLimits) -> Iterator[Problem]:
    n = _size(c.shape)
    for reg in ("du", "dv"):
        v = getattr(c, reg)
        rng = getattr(lim, reg)
        if np.ndim(v) > 0:  # per neuron: Lava holds them as uint16 (no du = −1 there)
            rng = (max(rng[0], 0), min(rng[1], arith.DECAY_UNITY - 1))
        p = _per_neuron(name, reg, v, n, scalar_ok=True) or _range_problem(name, reg, v, rng, np.ndim(v) > 0)
        if p is not None:
            yield p
    vth = c.vth.item() if isinstance(c.vth, np.ndarray) and c.vth.ndim == 0 else c.vth
    if not _is_int(vth):
        shown = f"<array {np.shape(vth)}>" if isinstance(vth, np.ndarray) else repr(vth)
        yield Problem(name, "vth", shown, f"is not one int (limit {lim.vth[0]}..{lim.vth[1]})")
    else:
        p = _range_problem(name, "vth", int(vth), lim.vth, False)
        if p is not None:
            yield p
    if c.bias_mant is None:
        yield Problem(name, "bias_mant", "None", "must hold one int per neuron")
    else:
        p = _per_neuron(name, "bias_mant", c.bias_mant, n, scalar_ok=False) \
            or _range_problem(name, "bias_mant", c.bias_mant, lim.bias_mant, isinstance(c.bias_mant, np.ndarray))
        if p is not None:
            yield p
    if not _is_int(c.bias_exp):
        yield Problem(name, "bias_exp", repr(c.bias_exp), f"is not an int (limit {lim.bias_exp[0]}..{lim.bias_exp[1]})")
    else:
        p = _range_problem(name, "bias_exp", c.bias_exp, lim.bias_exp, False)
        if p is not None:
            yield p
    for reg in ("u_init", "v_init"):
        v = getattr(c, reg)
        if v is not None:
            p = _per_neuron(name, reg, v, n, scalar_ok=False) or _range_problem(name, reg, v, getattr(lim, reg), isinstance(v, np.ndarray))
            if p is not None:
                yield p
    if c.readout not in ("spikes", "v"):
        yield Problem(name, "readout", repr(c.readout), "is not 'spikes' or 'v'")
    vs = c.v_scale
    if not (isinstance(vs, (int, float, np.integer, np.floating)) and not isinstance(vs, bool)
            and np.isfinite(vs) and vs > 0):
        yield Problem(name, "v_scale", repr(vs), "must be a finite number > 0")
    if c.v_offset is not None:
        a = np.asarray(c.v_offset)
        p = _per_neuron(name, "v_offset", a, n, scalar_ok=False)
        if p is not None:
            yield p
        elif a.dtype.kind not in "iuf" or not np.all(np.isfinite(a)):
            yield Problem(name, "v_offset", f"<{a.dtype} array>", "must be finite numbers", True)
    if not _is_int(c.start_step) or c.start_step < 0:
        yield Problem(name, "start_step", repr(c.start_step), "must be an int >= 0")
    if not _is_int(c.reset_interval) or c.reset_interval < 0:
        yield Problem(name, "reset_interval", repr(c.reset_interval), "must be an int >= 0 (0: no periodic reset)")
    if not _is_int(c.reset_offset) or c.reset_offset < 0:  # Lava's LIFReset refuses < 0
        yield Problem(name, "reset_offset", repr(c.reset_offset), "must be an int >= 0")


def _graded(node) -> bool:
    """A synapse that reads graded payloads (``num_message_bits > 0``)."""
    m = getattr(node, "num_message_bits", 0)
    return _is_int(m) and m > 0


#: Lava declares ``num_message_bits`` ``precision=5`` (dense/models.py:69)
MESSAGE_BITS: Range = (0, 31)
#: Loihi 2 carries graded payloads of at most 24 bits (signed): |payload| < 2^23
HW_PAYLOAD_LIMIT = arith.MAX_PAYLOAD


def message_bits_problem(name: str, node) -> Problem | None:
    """A synapse's ``num_message_bits``: an int 0..31 (0: binary spikes, > 0: graded payloads)."""
    m = node.num_message_bits
    if not _is_int(m):
        return Problem(name, "num_message_bits", repr(m), f"is not an int (limit {MESSAGE_BITS[0]}..{MESSAGE_BITS[1]})",
                       hint="0 for binary spikes, the payload width (e.g. 16, netx's default) for graded ones")
    p = _range_problem(name, "num_message_bits", m, MESSAGE_BITS, False)
    return None if p is None else dataclasses.replace(
        p, hint="0 for binary spikes, the payload width (e.g. 16, netx's default) for graded ones")


def sigma_delta_problems(name: str, c) -> Iterator[Problem]:
    """The registers of a ``loihi.SigmaDeltaCompartment`` (see the module docstring)."""
    neuron = c.neuron
    if neuron not in loihi.SD_NEURONS:
        yield Problem(name, "neuron", repr(neuron), f"is not one of {', '.join(loihi.SD_NEURONS)}",
                      hint="delta (Lava Delta), sigma_delta (SigmaDelta) or sigma (Sigma)")
        return
    n = _size(c.shape)
    exps = (0, arith.SD_EXP_MAX)
    for reg in ("spike_exp", "state_exp"):
        v = getattr(c, reg)
        if not _is_int(v) or not exps[0] <= v <= exps[1]:
            yield Problem(name, reg, repr(v), f"is not an int within {exps[0]}..{exps[1]} (Lava declares it "
                          "3 bits)", hint="netx uses spike_exp = state_exp = 6")
    vth = c.vth.item() if isinstance(c.vth, np.ndarray) and c.vth.ndim == 0 else c.vth
    if not _is_int(vth) or not 0 <= vth <= arith.INT32_MAX:
        shown = f"<array {np.shape(vth)}>" if isinstance(vth, np.ndarray) else repr(vth)
        yield Problem(name, "vth", shown, f"is not one int within 0..{arith.INT32_MAX}",
                      hint="the delta threshold is a non-negative integer in payload units "
                      "(Lava scales it by 2^(spike_exp + state_exp))")
    if not isinstance(c.cum_error, (bool, np.bool_)):
        yield Problem(name, "cum_error", repr(c.cum_error), "is not True or False")
    if c.activation not in loihi.SD_ACTIVATIONS:
        yield Problem(name, "activation", repr(c.activation), f"is not one of {', '.join(loihi.SD_ACTIVATIONS)}",
                      hint="Lava's SigmaDelta has ActivationMode RELU and UNIT only; other activations "
                      "need another neuron")
    elif neuron != loihi.SIGMA_DELTA and c.activation != "relu":
        yield Problem(name, "activation", repr(c.activation), f"applies to sigma_delta only (this is a {neuron})",
                      hint="leave activation at its default 'relu'")
    os_ = c.out_scale
    if not (isinstance(os_, (int, float, np.integer, np.floating)) and not isinstance(os_, bool)
            and np.isfinite(os_) and os_ > 0):
        yield Problem(name, "out_scale", repr(os_), "must be a finite number > 0")
    if c.bias is not None:
        if neuron != loihi.SIGMA_DELTA:
            yield Problem(name, "bias", f"<{np.size(c.bias)} values>", f"applies to sigma_delta only (this is a {neuron})",
                          hint="Lava's Delta and Sigma have no bias: leave it None", array=True)
        else:
            p = _per_neuron(name, "bias", c.bias, n, scalar_ok=False) or _range_problem(
                name, "bias", c.bias, (arith.INT32_MIN, arith.INT32_MAX), True)
            if p is not None:
                yield p
    if neuron == loihi.SIGMA:  # Lava's Sigma(shape) takes nothing else
        for reg, default in (("vth", 0), ("spike_exp", 0), ("state_exp", 0), ("cum_error", False)):
            v = getattr(c, reg)
            if _is_int(v) or isinstance(v, (bool, np.bool_)):
                if v != default:
                    yield Problem(name, reg, repr(v), "applies to delta and sigma_delta only (a sigma sends "
                                  "its sum every step)", hint=f"leave {reg} at {default!r}")


def hardware_warnings(graph: Graph) -> list[Problem]:
    """What Lava's CPU models compute but Loihi 2 would not, where provable: a sigma_delta
    whose bias alone sends a payload of 2^23 or more at its first step (``bias << spike_exp``,
    when it reaches the threshold; the chip's messages have 24 bits)."""
    out = []
    for name, c in graph.nodes.items():
        if not isinstance(c, loihi.SigmaDeltaCompartment) or c.neuron != loihi.SIGMA_DELTA or c.bias is None:
            continue
        b = np.asarray(c.bias, dtype=np.int64).reshape(-1)
        if not b.size or not all(_is_int(v) for v in (c.spike_exp, c.state_exp, c.vth)):
            continue
        reg = arith.SigmaDeltaRegisters.of(c)
        first = reg.bias if c.activation == "unit" else np.maximum(reg.bias, 0)
        sent = np.where(arith.abs32(arith.NUMPY, first) >= reg.vth, first >> reg.state_exp, 0)
        i = int(np.argmax(np.abs(sent)))
        if abs(int(sent[i])) >= HW_PAYLOAD_LIMIT:
            out.append(Problem(name, f"bias[{i}]", repr(int(b[i])),
                               f"sends a payload of {int(sent[i])} at its first step, beyond Loihi 2's 24-bit "
                               f"messages (|payload| < 2^23); Lava's CPU model computes it", True,
                               hint="scale the bias down (or lower spike_exp)"))
    return out


def _conv(name: str, node: loihi.ConvSynapse) -> Problem | None:
    w = np.asarray(node.weights)
    if w.ndim != 4 or w.dtype.kind not in "iu":
        return Problem(name, "weights", f"<{w.dtype} array {w.shape}>", "conv weights must be a 4-D integer array", True)
    if w.size == 0:
        return Problem(name, "weights", f"<array {w.shape}>", f"conv kernel {w.shape} is empty", True)
    p = _range_problem(name, "weights", w, LOIHI_LIMITS.weight, True)
    if p is not None:
        return dataclasses.replace(p, limit=f"{p.limit} (conv weights off the 8-bit grid)")
    if not _is_shape(tuple(node.in_shape) if isinstance(node.in_shape, (tuple, list)) else node.in_shape, 3):
        return Problem(name, "in_shape", repr(node.in_shape), "is not a positive (C, H, W)")
    for field, lo in (("stride", 1), ("padding", 0), ("dilation", 1)):
        if not _is_pair(getattr(node, field), lo):
            return Problem(name, field, repr(getattr(node, field)), f"is not a pair of ints >= {lo}")
    g = node.groups
    if not _is_int(g) or g < 1:
        return Problem(name, "groups", repr(g), "is not a positive int")
    c_out, cin_g = w.shape[:2]
    if cin_g * g != node.in_shape[0]:
        return Problem(name, "groups", repr(g),
                       f"{cin_g} channels per group x {g} groups != {node.in_shape[0]} input channels")
    if c_out % g:
        return Problem(name, "groups", repr(g), f"does not divide {c_out} output channels")
    if min(node.out_shape[1:]) < 1:
        return Problem(name, "weights", f"output {node.out_shape}", "empty conv output", True)
    return None

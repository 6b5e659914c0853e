"""The one check of a Loihi-dialect graph's structure and of run-time input, shared by the backends.

Every backend (the emulator, Lava, the Loihi 2 board), the profiler, the ONNX step models and
the calibration traces check a run's input here, once: :func:`check_input` returns a
:class:`Spikes`, which every later consumer takes as it is (no second check, no copy).
What the input must hold is the ``SpikeSource``'s payload (:func:`payload_of`): binary spikes
(:data:`BINARY`) or signed int32 values (:data:`INT32`, lava-dl's Input block).  Where it enters
is the run's route (:data:`ROUTES`): step by step on the source's outputs (:data:`A_IN`, the
default), or once per sample as the ``bias_mant`` of the compartments the source feeds
directly (:data:`BIAS`: lava-dl's tests set ``in_layer.neuron.bias_mant`` from an image), which
:func:`check_input` returns as a :class:`Constant`.

The structure (:func:`wiring`) that the emulator and the Lava backend both execute:

* one (or no) ``SpikeSource``; it has no predecessors; it feeds synapses (an int32 payload:
  graded synapses only, ``num_message_bits > 0``) and/or populations of its own size directly
  (their ``a_in``, in the same step: Lava's ``RingBuffer.s_out`` connected to ``LIF.a_in`` or
  ``Delta.a_in``);
* every ``Synapse`` or ``ConvSynapse`` has exactly one predecessor, a ``SpikeSource``, a
  ``Compartment`` or a ``SigmaDeltaCompartment`` whose size equals the synapse's ``n_in``, and
  one or more population successors (LIF or sigma-delta) whose size equals its ``n_out``
  (several synapses into one population are summed).  Lava connects every such pair: a LIF
  sends bool spikes (a graded synapse multiplies them as 0/1), a sigma-delta int32 payloads (a
  binary synapse counts the non-zero ones, negatives included: lava-dl's tinynet fixture);
* a ``ConvSynapse`` has a 4-D integer kernel (C', C/groups, kH, kW), a 3-D ``in_shape``
  (C, H, W), pairs ``stride``/``dilation`` ≥ 1 and ``padding`` ≥ 0, ``groups`` dividing C and
  C', a non-empty output, and every geometry value within Lava's int8 Vars (≤ 127);
* a ``Compartment``'s (or ``SigmaDeltaCompartment``'s, whose registers are checked by
  :func:`snnc.compiler.ir.verify.sigma_delta_problems`) predecessors are synapses and at most
  the ``SpikeSource``; a ``Probe`` has one population predecessor and is ignored by the
  backends (they record populations).

Sigma-delta populations are listed apart (``Wiring.sigma_deltas``): code that walks
``Wiring.compartments`` sees LIF populations only, as before; :func:`refuse_sigma_delta` is the
one refusal of those that cannot run them.

Nothing here imports Lava.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from snnc.compiler.ir import arith, loihi, verify
from snnc.compiler.ir.graph import Graph
from snnc.errors import InputError, ValidationError

#: Lava's DelayDense/DelaySparse reject delays above this (lava/proc/dense/models.py:330-334)
LAVA_MAX_DELAY = 63
#: Lava's Conv model holds kernel_size, stride, padding, dilation and groups in int8 Vars
#: (``AbstractPyConvModel``, lava/proc/conv/models.py:24-28): larger values would wrap
LAVA_CONV_MAX_GEOMETRY = 127
SYNAPSE_KINDS = (loihi.Synapse, loihi.ConvSynapse)


@dataclasses.dataclass(frozen=True)
class Wiring:
    """Who feeds whom, in graph order."""

    source: str | None  # the SpikeSource, if any
    compartments: tuple[str, ...]
    synapses: tuple[str, ...]
    syn_src: dict[str, str]  # synapse -> its SpikeSource or Compartment
    syn_dst: dict[str, tuple[str, ...]]  # synapse -> compartments it feeds
    comp_in: dict[str, tuple[str, ...]]  # compartment -> synapses feeding it
    #: populations the SpikeSource feeds directly (its value is their a_in in the same step)
    direct: tuple[str, ...] = ()
    #: the SigmaDeltaCompartments (their inputs are in ``comp_in`` too)
    sigma_deltas: tuple[str, ...] = ()
    #: every population, LIF and sigma-delta, in graph order
    neurons: tuple[str, ...] = ()

    def graded(self, name: str) -> bool:
        """Whether population ``name`` is a sigma-delta one (its output is an int32 payload)."""
        return name in self.sigma_deltas


def refuse_sigma_delta(graph: Graph, what: str, hint: str | None = None) -> None:
    """A :class:`~snnc.errors.ValidationError` naming ``graph``'s first sigma-delta population
    and graded synapse, for ``what`` (a backend or pass) that cannot run them."""
    for name, node in graph.nodes.items():
        if isinstance(node, loihi.SigmaDeltaCompartment):
            raise ValidationError(
                f"{what} does not support sigma-delta populations ({node.neuron}, "
                "SigmaDeltaCompartment)", node=name,
                hint=hint or "run it on the emulator or Lava (backend='emulator' or 'lava')")
        if isinstance(node, SYNAPSE_KINDS) and getattr(node, "num_message_bits", 0):
            raise ValidationError(
                f"{what} does not support graded synapses (num_message_bits="
                f"{node.num_message_bits})", node=name,
                hint=hint or "run it on the emulator or Lava (backend='emulator' or 'lava')")


def wiring(graph: Graph) -> Wiring:
    """Validate the structure of a Loihi-dialect graph and return its :class:`Wiring`."""
    sources = graph.of_kind(loihi.SpikeSource)
    if len(sources) > 1:
        raise ValidationError(
            f"the graph has {len(sources)} SpikeSource nodes ({', '.join(sources)}); "
            "the backends support one",
            hint="merge the inputs into one SpikeSource",
        )
    comps = tuple(graph.of_kind(loihi.Compartment))
    sds = tuple(graph.of_kind(loihi.SigmaDeltaCompartment))
    neurons = tuple(graph.of_kind(*loihi.NEURON_OPS))
    syns = tuple(graph.of_kind(*SYNAPSE_KINDS))
    known = set(sources) | set(neurons) | set(syns) | set(graph.of_kind(loihi.Probe))
    for name, node in graph.nodes.items():
        if name not in known:
            raise ValidationError(
                f"node kind {node.kind} is not part of the Loihi dialect",
                node=name,
                hint="lower the graph with snnc.compile (quantize) before running it",
            )
    for s in sources:
        if graph.predecessors(s):
            raise ValidationError("a SpikeSource cannot have inputs", node=s)
        payload = getattr(graph[s], "payload", BINARY)
        if payload not in PAYLOADS:
            raise ValidationError(f"unknown payload {payload!r}", node=s,
                                  hint=f"a SpikeSource sends one of: {', '.join(PAYLOADS)}")
    direct: list[str] = []
    syn_src: dict[str, str] = {}
    syn_dst: dict[str, tuple[str, ...]] = {}
    comp_in: dict[str, list[str]] = {c: [] for c in neurons}
    for s in syns:
        node: loihi.Synapse | loihi.ConvSynapse = graph[s]
        if isinstance(node, loihi.ConvSynapse):
            check_conv(node, s)
        p = verify.message_bits_problem(s, node)
        if p is not None:
            raise ValidationError(p.message, node=s, hint=p.hint)
        preds = graph.predecessors(s)
        if len(preds) != 1:
            raise ValidationError(f"a Synapse needs exactly one input, got {len(preds)}", node=s)
        src = graph[preds[0]]
        if not isinstance(src, (loihi.SpikeSource, *loihi.NEURON_OPS)):
            raise ValidationError(
                f"a Synapse's input must be a SpikeSource or a population, got {src.kind}", node=s
            )
        if (isinstance(src, loihi.SpikeSource) and getattr(src, "payload", BINARY) != BINARY
                and not node.num_message_bits):
            raise ValidationError(
                f"synapse has num_message_bits=0 (binary spikes), but input {preds[0]!r} sends "
                f"{src.payload} values",
                node=s,
                hint="give the synapse num_message_bits > 0 to carry the values as graded payloads, "
                "or wire the input straight to a population (its a_in, lava-dl's Input block)",
            )
        if src.size != node.n_in:
            raise ValidationError(
                f"{_what_in(node)} but input {preds[0]!r} has {src.size} neurons",
                node=s,
            )
        dsts = tuple(graph.successors(s))
        for d in dsts:
            dn = graph[d]
            if not isinstance(dn, loihi.NEURON_OPS):
                raise ValidationError(
                    f"a Synapse may only feed populations (Compartment, SigmaDeltaCompartment), "
                    f"not {dn.kind} {d!r}", node=s
                )
            if dn.size != node.n_out:
                raise ValidationError(
                    f"{_what_out(node)} but target {d!r} has {dn.size} neurons",
                    node=s,
                )
            comp_in[d].append(s)
        syn_src[s] = preds[0]
        syn_dst[s] = dsts
        if isinstance(node, loihi.ConvSynapse):
            continue
        if node.delays is not None:
            dl = np.asarray(node.delays)
            if dl.shape != tuple(node.weights.shape):
                raise ValidationError(
                    f"delays have shape {dl.shape}, weights {tuple(node.weights.shape)}", node=s
                )
            if dl.size and (dl.min() < 0 or dl.max() > LAVA_MAX_DELAY):
                raise ValidationError(
                    f"delays must lie in 0..{LAVA_MAX_DELAY} (Lava DelayDense), "
                    f"got {dl.min()}..{dl.max()}",
                    node=s,
                )
        k = arith.truncation_bits(node.sign_mode, node.num_weight_bits)
        if not 0 <= k <= 31:
            raise ValidationError(
                f"num_weight_bits={node.num_weight_bits} is outside 0..8", node=s
            )
    for c in comps:
        node: loihi.Compartment = graph[c]
        if _fed_directly(graph, c, "a Compartment"):
            direct.append(c)
        for f in ("bias_mant", "u_init", "v_init"):
            a = getattr(node, f)
            if a is not None and np.size(a) not in (1, node.size):
                raise ValidationError(
                    f"{f} has {np.size(a)} values for {node.size} neurons", node=c
                )
        if node.readout not in ("spikes", "v"):
            raise ValidationError(f"readout must be 'spikes' or 'v', got {node.readout!r}", node=c)
        if not -31 <= int(node.bias_exp) <= 31:
            raise ValidationError(f"bias_exp={node.bias_exp} is outside -31..31", node=c)
        interval = node.reset_interval
        if isinstance(interval, bool) or not isinstance(interval, (int, np.integer)) or interval < 0:
            raise ValidationError(f"reset_interval={interval!r} must be an int >= 0 (0: no reset)", node=c)
        off = node.reset_offset
        if isinstance(off, bool) or not isinstance(off, (int, np.integer)) or off < 0:
            raise ValidationError(f"reset_offset={off!r} must be an int >= 0 (Lava's LIFReset)", node=c)
    for c in sds:
        node: loihi.SigmaDeltaCompartment = graph[c]
        for p in verify.sigma_delta_problems(c, node):
            raise ValidationError(p.message, node=c, hint=p.hint or None)
        if _fed_directly(graph, c, "a sigma-delta population"):
            direct.append(c)
    for p in verify.hardware_warnings(graph):
        warnings.warn(f"layer {p.node!r}: {p.message}; {p.hint}", verify.HardwareRangeWarning, stacklevel=2)
    order = {n: i for i, n in enumerate(neurons)}
    return Wiring(
        source=sources[0] if sources else None,
        compartments=comps,
        synapses=syns,
        syn_src=syn_src,
        syn_dst=syn_dst,
        comp_in={c: tuple(v) for c, v in comp_in.items()},
        direct=tuple(sorted(direct, key=order.__getitem__)),
        sigma_deltas=sds,
        neurons=neurons,
    )


def _what_in(node) -> str:
    if isinstance(node, loihi.ConvSynapse):
        return f"the convolution's input shape {tuple(node.in_shape)} has {node.n_in} values"
    return f"weights have {node.n_in} columns"


def _what_out(node) -> str:
    if isinstance(node, loihi.ConvSynapse):
        return f"the convolution's output shape {tuple(node.out_shape)} has {node.n_out} values"
    return f"weights have {node.n_out} rows"


def _pair(value, name: str, lo: int, node_name: str) -> tuple[int, int]:
    try:
        vals = tuple(np.asarray(value).reshape(-1).tolist())
    except Exception as e:  # noqa: BLE001 - reported as a validation error
        raise ValidationError(f"{name} is not a pair of ints: {e}", node=node_name) from e
    if len(vals) != 2 or not all(isinstance(v, (int, np.integer)) for v in vals):
        raise ValidationError(f"{name} must be a pair of ints, got {value!r}", node=node_name)
    if any(v < lo or v > LAVA_CONV_MAX_GEOMETRY for v in vals):
        raise ValidationError(
            f"{name}={vals} must lie in {lo}..{LAVA_CONV_MAX_GEOMETRY} "
            "(Lava's Conv model holds it as int8)",
            node=node_name,
        )
    return vals


def check_conv(node: loihi.ConvSynapse, name: str) -> None:
    """The geometry of a ``ConvSynapse`` that both backends can execute identically."""
    w = np.asarray(node.weights)
    if w.ndim != 4:
        raise ValidationError(
            f"conv weights must be 4-D (C_out, C_in/groups, kH, kW), got shape {w.shape}",
            node=name,
        )
    if w.dtype.kind not in "biu":
        raise ValidationError(f"conv weights must be integers, got dtype {w.dtype}", node=name)
    in_shape = tuple(np.asarray(node.in_shape).reshape(-1).tolist())
    if len(in_shape) != 3 or min(in_shape) < 1:
        raise ValidationError(
            f"in_shape must be (C, H, W) with positive sizes, got {node.in_shape!r}", node=name
        )
    _pair(node.stride, "stride", 1, name)
    _pair(node.padding, "padding", 0, name)
    _pair(node.dilation, "dilation", 1, name)
    groups = node.groups
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise ValidationError(f"groups must be an int, got {groups!r}", node=name)
    c_out, cin_g, kh, kw = w.shape
    if not 1 <= groups <= LAVA_CONV_MAX_GEOMETRY:
        raise ValidationError(f"groups={groups} is outside 1..127", node=name)
    if min(w.shape) < 1 or max(kh, kw) > LAVA_CONV_MAX_GEOMETRY:
        raise ValidationError(
            f"conv kernel shape {w.shape} must be non-empty with kH, kW ≤ 127", node=name
        )
    if cin_g * groups != in_shape[0]:
        raise ValidationError(
            f"weights take {cin_g} channels per group x {groups} groups but the input has "
            f"{in_shape[0]} channels",
            node=name,
        )
    if c_out % groups:
        raise ValidationError(
            f"groups={groups} does not divide the {c_out} output channels", node=name
        )
    out = node.out_shape
    if min(out[1:]) < 1:
        raise ValidationError(
            f"the convolution of {in_shape} by a {kh}x{kw} kernel has an empty output {out}",
            node=name,
        )


# ------------------------------------------------------------------------------ run-time input
#: the payload of binary spikes: bool, or integers/floats equal to 0 or 1
BINARY = loihi.PAYLOAD_BINARY
#: signed integer values within int32 (lava-dl's Input block: a RingBuffer(int32) on a_in)
INT32 = loihi.PAYLOAD_INT32
#: what an input of each payload holds (for messages); a later payload (graded spikes) adds an
#: entry here, in ``loihi.PAYLOADS`` and a value check in :data:`_VALUE_CHECKS`
PAYLOADS = {
    BINARY: "binary spikes (bool or 0/1 numbers)",
    INT32: "signed integers within int32 (bool, integer, or integral float arrays)",
}
#: where a run's input enters (``run(..., input=ROUTE)``)
A_IN = "a_in"
BIAS = "bias"
ROUTES = {
    A_IN: "x (batch, T, *input_shape) sent step by step (spikes, or the values of an integer input)",
    BIAS: "x (batch, *input_shape): each sample's values set once as the bias_mant of the "
    "compartments the input feeds directly (lava-dl's Input block tests)",
}
#: ``bias_mant`` is a 13-bit signed register (Lava's int16 Var holds more; the chip does not)
BIAS_MANT_LIMIT = 4095
SHAPE_HINT = "spike arrays are (batch, time, *input_shape); add a batch axis for one sample"
ENCODE_HINT = "encode real values as spikes first (e.g. rate coding)"


def payload_of(graph: Graph, w: Wiring | None = None) -> str:
    """What ``graph``'s SpikeSource sends (:data:`BINARY` without a source)."""
    w = wiring(graph) if w is None else w
    return getattr(graph[w.source], "payload", BINARY) if w.source else BINARY


@dataclasses.dataclass(frozen=True, eq=False)
class Spikes:
    """Run-time input checked against a SpikeSource (:func:`check_input`).

    ``data`` is the array as given (never copied): (batch, T_in, *in_shape), bool or numbers
    holding the payload's values; for a graph without a SpikeSource (batch, T_in) or
    (batch, T_in, 0) and ``in_shape`` is ``None``.  Build it with :func:`check_input` or
    :func:`check_spikes` only: a ``Spikes`` is input that passed the check.
    """

    data: np.ndarray
    in_shape: tuple[int, ...] | None
    payload: str = BINARY
    #: where it enters (:data:`A_IN`; a :class:`Constant` is the :data:`BIAS` route)
    route: ClassVar[str] = A_IN

    @property
    def batch(self) -> int:
        return int(self.data.shape[0])

    @property
    def steps(self) -> int:
        """``T_in``, the input's own length."""
        return int(self.data.shape[1])

    @property
    def n_in(self) -> int:
        return 0 if self.in_shape is None else int(np.prod(self.in_shape, dtype=np.int64))

    def __getitem__(self, samples: slice) -> Spikes:
        """The samples ``samples`` (a slice of the batch), still checked."""
        if not isinstance(samples, slice):
            raise TypeError("Spikes are indexed by a slice of samples")
        return dataclasses.replace(self, data=self.data[samples])

    def view(self) -> np.ndarray:
        """bool (batch, T_in, n_in) events (non-zero values), without a copy for bool and 0/1
        byte spikes."""
        x, n = self.data, self.n_in
        if not n:
            return np.zeros((x.shape[0], x.shape[1], 0), dtype=bool)
        xr = x.reshape(x.shape[0], x.shape[1], n)
        if x.dtype == np.bool_:
            return xr
        if self.payload == BINARY and x.dtype.itemsize == 1 and x.dtype.kind in "iu":  # 0/1 bytes
            return xr.view(np.bool_)
        return xr != 0

    def padded(self, steps: int) -> np.ndarray:
        """bool (batch, steps, n_in): the input's events (spikes; the non-zero values of an
        integer input), then none from T_in on (steps ≥ T_in)."""
        out = np.zeros((self.batch, steps, self.n_in), dtype=bool)
        if self.n_in:
            out[:, : self.steps] = self.view()
        return out

    def values(self, steps: int | None = None) -> np.ndarray:
        """int64 (batch, steps, n_in): the values sent (0/1 for spikes), zeros from T_in on."""
        steps = self.steps if steps is None else steps
        out = np.zeros((self.batch, steps, self.n_in), dtype=np.int64)
        if self.n_in:
            out[:, : self.steps] = self.data.reshape(self.batch, self.steps, self.n_in)
        return out

    def transport(self) -> np.ndarray:
        """The input as a file carries it to another process: :meth:`uint8` for spikes, int32
        (batch, T_in, *in_shape) values for an integer input (checked to fit)."""
        if self.payload == BINARY or self.in_shape is None:
            return self.uint8()
        return self.data.astype(np.int32)

    def uint8(self) -> np.ndarray:
        """uint8 (batch, T_in, *in_shape) (``(batch, T_in)`` without a SpikeSource), without a copy
        for bool and 0/1 byte inputs."""
        x = self.data
        if self.in_shape is None:
            return np.zeros(x.shape[:2], np.uint8)
        if x.dtype == np.uint8:
            return x
        if x.dtype == np.bool_ or (x.dtype.itemsize == 1 and x.dtype.kind == "i"):
            return x.view(np.uint8)
        return (x != 0).view(np.uint8)


def check_steps(steps) -> int:
    """``steps`` as an int ≥ 0 (an :class:`~snnc.errors.InputError` otherwise)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise InputError(f"steps must be a non-negative int, got {steps!r}")
    return int(steps)


@dataclasses.dataclass(frozen=True, eq=False)
class Constant:
    """A run's input on the :data:`BIAS` route, checked (:func:`check_input`): one constant
    value per input element and sample, set as the ``bias_mant`` of the compartments the
    SpikeSource feeds directly (``targets``) for the whole run; the source itself sends nothing.

    ``data`` is the array as given (batch, *in_shape): integers (or integral floats) within
    ±:data:`BIAS_MANT_LIMIT`, the 13-bit mantissa register.
    """

    data: np.ndarray
    in_shape: tuple[int, ...]
    targets: tuple[str, ...]
    route: ClassVar[str] = BIAS

    @property
    def batch(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape, dtype=np.int64))

    def __getitem__(self, samples: slice) -> Constant:
        if not isinstance(samples, slice):
            raise TypeError("a Constant is indexed by a slice of samples")
        return dataclasses.replace(self, data=self.data[samples])

    def bias_mant(self) -> np.ndarray:
        """int64 (batch, n_in): the values as Lava's int16 ``bias_mant`` Var holds them."""
        return arith.bias_mant_register(self.data.reshape(self.batch, self.n_in))


def check_input(graph: Graph, x, steps=None, w: Wiring | None = None,
                route: str | None = None) -> Spikes | Constant:
    """Check ``x`` against ``graph``'s SpikeSource, once.

    On the default route (:data:`A_IN`) ``x`` is (batch, T_in, *in_shape) and the result the
    :class:`Spikes` every backend runs on; a ``Spikes`` already checked against a source of
    this shape and payload is returned as it is.  With ``steps``, also checks that the run
    (``steps`` raw steps) is at least as long as the input.  A graph without a SpikeSource
    takes ``x`` of shape (batch, T_in) or (batch, T_in, 0); only its batch size is used.
    On the :data:`BIAS` route ``x`` is (batch, *in_shape) and the result a :class:`Constant`
    (:func:`check_constant`).  ``w``: the graph's :class:`Wiring`, when the caller has it.
    """
    w = wiring(graph) if w is None else w
    if route is None:
        route = x.route if isinstance(x, (Spikes, Constant)) else A_IN
    if route == BIAS:
        return check_constant(graph, x, w)
    if route != A_IN:
        raise InputError(f"unknown input route {route!r}",
                         hint="; ".join(f"input={k!r}: {v}" for k, v in ROUTES.items()))
    if isinstance(x, Constant):
        raise InputError("the input was checked for the bias route, not for spikes",
                         hint="pass the array itself, or input='bias'")
    in_shape = tuple(graph[w.source].shape) if w.source else None
    checked = isinstance(x, Spikes)
    xs = check_spikes(x, in_shape, payload_of(graph, w), steps)
    if not checked and xs.payload == INT32:
        _check_message_bits(graph, w, xs.data)
        _warn_first_payloads(graph, w, xs.data)
    return xs


def _warn_first_payloads(graph: Graph, w: Wiring, x: np.ndarray) -> None:
    """A :class:`~snnc.compiler.ir.verify.HardwareRangeWarning` when a delta population the
    input feeds directly sends a payload of 2^23 or more at the input's first step (exactly
    known: its state is 0 then); Lava's CPU model computes it, Loihi 2's 24-bit messages do not
    carry it."""
    deltas = [c for c in w.direct if w.graded(c) and graph[c].neuron == loihi.DELTA]
    if not deltas or not x.size or x.shape[1] == 0:
        return
    first = np.asarray(x[:, 0]).reshape(x.shape[0], -1).astype(np.int64)
    for c in deltas:
        reg = arith.SigmaDeltaRegisters.of(graph[c])
        zero = np.zeros_like(first)
        out = arith.sigma_delta_step(arith.NUMPY, reg, arith.SigmaDeltaState(zero, zero, zero, zero), first).out
        big = np.abs(out) >= verify.HW_PAYLOAD_LIMIT
        if big.any():
            i = tuple(int(v) for v in np.argwhere(big)[0])
            warnings.warn(f"layer {c!r}: input value {first[i]} (sample {i[0]}, element {i[1]}, step 0) makes "
                          f"a payload of {out[i]}, beyond Loihi 2's 24-bit messages (|payload| < 2^23); "
                          "Lava's CPU model computes it; scale the input down (or lower spike_exp)",
                          verify.HardwareRangeWarning, stacklevel=3)
            return


def _check_message_bits(graph: Graph, w: Wiring, x: np.ndarray) -> None:
    """The values of an int32 input that feeds graded synapses fit their ``num_message_bits``
    (signed): Lava's CPU models would multiply wider payloads, Loihi 2 carries at most that."""
    syns = [s for s, src in w.syn_src.items() if src == w.source]
    if not syns or not x.size:
        return
    s = min(syns, key=lambda k: graph[k].num_message_bits)
    m = int(graph[s].num_message_bits)
    lo, hi = -(1 << (m - 1)), (1 << (m - 1)) - 1
    if x.min() < lo or x.max() > hi:
        idx = tuple(int(i) for i in np.argwhere((x < lo) | (x > hi))[0])
        raise InputError(
            f"input value {x[idx]!r} at index {idx} does not fit the {m}-bit graded payload of "
            f"synapse {s!r} (num_message_bits={m}: {lo}..{hi})", node=s,
            hint="rescale the input, or compile the synapse with more num_message_bits",
        )


def check_constant(graph: Graph, x, w: Wiring | None = None) -> Constant:
    """``x`` (batch, *in_shape) checked as the :data:`BIAS` route's constant input."""
    w = wiring(graph) if w is None else w
    if w.source is None or not w.direct:
        raise InputError(
            "input='bias' sets the bias of the compartments the program's input feeds directly "
            "(lava-dl's Input block), and this program has none",
            hint="run spikes step by step (input='a_in', the default)",
        )
    graded = [c for c in w.direct if w.graded(c)]
    if graded:
        raise InputError(
            f"input='bias' sets a LIF's bias_mant; the input feeds sigma-delta population "
            f"{graded[0]!r} (its a_in)", hint="run the values step by step (input='a_in')",
        )
    feeds_synapses = [s for s, src in w.syn_src.items() if src == w.source]
    if feeds_synapses:
        raise InputError(
            f"input='bias' needs an input that only feeds compartments directly; it also feeds "
            f"synapse {feeds_synapses[0]!r}", hint="run spikes step by step (input='a_in')",
        )
    in_shape = tuple(graph[w.source].shape)
    if isinstance(x, Constant):
        if x.in_shape != in_shape or x.targets != w.direct:
            raise InputError(f"the input was checked for another program's bias ({x.in_shape})",
                             hint="pass the array itself")
        return x
    if isinstance(x, Spikes):
        raise InputError("the input was checked as spikes, not for input='bias'",
                         hint="pass the array itself")
    try:
        x = np.asarray(x)
    except Exception as e:
        raise InputError(f"input is not an array: {e}") from e
    want = "(batch" + "".join(f", {d}" for d in in_shape) + ")"
    if x.dtype.kind not in "biuf":
        raise InputError(f"input has dtype {x.dtype}; expected integers {want}")
    if x.ndim != 1 + len(in_shape) or tuple(x.shape[1:]) != in_shape:
        raise InputError(
            f"input has shape {tuple(x.shape)}; input='bias' takes {want}: one constant value "
            "per input element and sample",
            hint="no time axis: the values stay on for the whole run (pass steps=)",
        )
    _check_integers(x, -BIAS_MANT_LIMIT, BIAS_MANT_LIMIT, "bias_mant (13 bits)",
                    "a bias mantissa is an integer register: round or rescale the values")
    return Constant(x, in_shape, w.direct)


def check_spikes(x, in_shape: tuple[int, ...] | None, payload: str | None = BINARY, steps=None) -> Spikes:
    """:func:`check_input` for a source of shape ``in_shape`` (``None``: no source) and
    ``payload`` (``None``: real values, e.g. a float step model's input: shape and dtype only)."""
    if steps is not None:
        steps = check_steps(steps)
    if isinstance(x, Spikes):
        if x.in_shape != in_shape or x.payload != payload:
            raise InputError(
                f"the input was checked for a source of shape {x.in_shape} ({x.payload}), "
                f"not for this one: {in_shape} ({payload})",
                hint="pass the array itself",
            )
        _check_length(x.data, steps)
        return x
    try:
        x = np.asarray(x)
    except Exception as e:
        raise InputError(f"input is not an array: {e}") from e
    if x.dtype.kind not in "biuf":
        want = PAYLOADS[payload] if payload is not None else "numbers"
        raise InputError(f"input has dtype {x.dtype}; expected {want}")
    shape = () if in_shape is None else tuple(in_shape)
    want = "(batch, time" + "".join(f", {d}" for d in shape) + ")"
    ok = x.ndim == 2 + len(shape) and tuple(x.shape[2:]) == shape
    if in_shape is None:
        ok = x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 0)
    if not ok:
        raise InputError(f"input has shape {tuple(x.shape)}; expected {want}", hint=SHAPE_HINT)
    _check_length(x, steps)
    if payload is not None:
        _VALUE_CHECKS[payload](x)
    return Spikes(x, None if in_shape is None else shape, payload)


def _check_length(x: np.ndarray, steps: int | None) -> None:
    if steps is not None and x.shape[1] > steps:
        raise InputError(
            f"input has {x.shape[1]} time steps but the run has only {steps}",
            hint="run at least as many steps as the input is long",
        )


def _check_binary(x: np.ndarray) -> None:
    # integers: two reductions decide it; the full mask is built only to report a bad value
    if x.size and x.dtype != np.bool_ and (
        x.dtype.kind == "f" or x.max() > 1 or (x.dtype.kind == "i" and x.min() < 0)
    ):
        bad = ~((x == 0) | (x == 1))
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(
                f"input must be binary spikes (0/1); got {x[idx]!r} at index {idx}",
                hint=ENCODE_HINT,
            )


def _check_integers(x: np.ndarray, lo: int, hi: int, what: str, hint: str) -> None:
    """Every value of ``x`` an integer within ``lo..hi`` (an InputError naming the first not)."""
    if not x.size or x.dtype == np.bool_:
        return
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x) | (x != np.round(x)) | (x < lo) | (x > hi)
    elif x.min() < lo or x.max() > hi:
        bad = (x < lo) | (x > hi)
    else:
        return
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"input values must be integers within {what} ({lo}..{hi}); got "
                         f"{x[idx]!r} at index {idx}", hint=hint)


def _check_int32(x: np.ndarray) -> None:
    _check_integers(x, arith.INT32_MIN, arith.INT32_MAX, "int32",
                    "an integer input is sent as int32 (Lava's RingBuffer): round or rescale it")


#: payload -> the check of an input's values (shape and dtype are checked before)
_VALUE_CHECKS = {BINARY: _check_binary, INT32: _check_int32}


def check_record(w: Wiring, record: Sequence[str] | None) -> list[str]:
    """The populations (LIF and sigma-delta) to record (all of them for ``None``), in graph
    order."""
    neurons = w.neurons or w.compartments
    if record is None:
        return list(neurons)
    if isinstance(record, str):
        record = [record]
    unknown = [r for r in record if r not in neurons]
    if unknown:
        raise InputError(
            f"cannot record {', '.join(map(repr, unknown))}: not a Compartment",
            hint=f"compartments: {', '.join(neurons) or '(none)'}",
        )
    wanted = set(record)
    return [c for c in neurons if c in wanted]


def _fed_directly(graph: Graph, c: str, what: str) -> bool:
    """Whether the SpikeSource feeds population ``c`` directly (its ``a_in``; then it must have
    the population's size); every other input must be a synapse."""
    node, direct = graph[c], False
    for p in graph.predecessors(c):
        pn = graph[p]
        if isinstance(pn, loihi.SpikeSource):
            if pn.size != node.size:
                raise ValidationError(
                    f"input {p!r} has {pn.size} values but feeds {node.size} neurons directly",
                    node=c, hint="an input wired straight to a population needs its size",
                )
            direct = True
        elif not isinstance(pn, SYNAPSE_KINDS):
            raise ValidationError(
                f"{what}'s inputs must be synapses or the SpikeSource, got {pn.kind} {p!r}", node=c,
            )
    return direct

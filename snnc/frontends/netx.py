"""Read lava-dl netx HDF5 (``.net``, ``.h5``) into a compiled program (an
:class:`~snnc.compiler.artifact.Artifact`; ``snnc.load`` wraps it in a :class:`snnc.Program`).

A netx file is already integer (Loihi registers), so it is not re-quantized: every layer
becomes exactly the Lava processes ``lava.lib.dl.netx.hdf5.Network`` builds from it
(lava-dl 0.6.0, ``lava/lib/dl/netx/hdf5.py``, ``blocks/process.py``, ``utils.py``), in snnc's
Loihi dialect, and the program runs on the emulator or Lava with the spikes, ``u`` and ``v``
lava-dl's Network gives.  Mapping (inverse of :mod:`snnc.backends.netx`)::

    input + neuron  lava-dl's Input block: a Compartment with the neuron's registers and
                    bias_mant = 0, fed straight by the program's input (SpikeSource payload
                    "int32": the values enter a_in in the same step, as a RingBuffer(int32)
                    connected to net.in_layer.neuron.a_in does); run(x, input="bias", steps=T)
                    sets them as its bias_mant instead, as lava-dl's tests do.  The file's
                    input ``weight``/``bias`` (defaults 64, 0) are a host-side transform that
                    lava-dl stores as ``in_layer.transform`` and never applies in Lava: kept as
                    ``graph.meta["input_transform"]``, not applied either
    input, no neuron  its ``shape`` is the input shape of a following layer (binary spikes)
    dense   weight W (stored)  ->  Synapse(W << s, weight_exp = −s, num_weight_bits)  with
                                    (s, bits) from lava-dl's optimize_weight_bits
                                    (:func:`snnc.backends.netx_weights.netx_optimize`)
    dense_rec  weight, weight_rec -> the input Synapse and a Synapse from the layer to itself,
                                    sharing (s, bits) optimized over [weight | weight_rec]
            delay              ->  Synapse.delays (clamped to 0..62 as netx does)
            no neuron          ->  lava-dl's default integrator: du = −1 (iDecay 0), dv = 4096,
                                    vth = 2^17 (never spikes), bias_exp 6: a read-out of v
    conv    weight (C', C/g, kH, kW), stride/padding/dilation (H, W), groups -> ConvSynapse
    neuron  CUBA/LOIHI: du = iDecay − 1, dv = vDecay, vth = vThMant, bias_mant = bias,
            bias_exp = 6, start_step = 0 (netx biases act from step 0)
    flatten (C, H, W) -> C-order vector (no node: snnc populations are already flat)

Sigma-delta networks (neuron type ``SDNN``, graded spikes; lava-dl's ``get_neuron_params``,
decision 0007) become :class:`~snnc.compiler.ir.loihi.SigmaDeltaCompartment` layers::

    Input block + SDNN  Delta(vth = vThMant, spike_exp, state_exp = 6), fed straight by the
                        program's int32 input (its a_in, same step: lava-dl's RingBuffer ->
                        net.in_layer.neuron.a_in); the input transform kept as for LIF
    conv/dense + SDNN   SigmaDelta(vth = vThMant, bias, spike_exp, state_exp = 6, RELU): the file's
                        ``activation`` must be "relu" (lava-dl builds RELU whatever it says:
                        another activation is refused, UnsupportedOpError)
    ``sigma_output``    Sigma (no parameters; the field's presence decides, as in lava-dl); a
                        ``bias`` there is refused (lava-dl's Sigma takes none and crashes)
    ``messageBits``     (default 16) the NEXT layer's synapse ``num_message_bits`` (graded > 0;
                        lava-dl 0.6's NetDict cannot read the field, its Network crashes: no
                        shipped file has it, and snnc applies it as lava-dl's code means it)
    bias                float32 -> astype(int32) (truncated), per channel broadcast, then
                        Lava's ``bias << (spike_exp + state_exp)``; a register beyond int32 is
                        refused (Lava would wrap it silently)

``spike_exp`` is lava-dl's Network keyword (default 6); ``state_exp`` is always 6.  Outputs are
lava-dl's integers (``out_scale`` 1): a Sigma read-out in lava-dl's units (the PilotNet tutorial
decodes them by 2^-18).  A network mixing SDNN and LIF layers is refused; lava-dl ignores
``reset_interval`` for SDNN (with a warning): snnc refuses it (InputError).

``skip_layers``, ``num_layers``, ``input_message_bits``: lava-dl's Network keywords.  The
first ``skip_layers`` layer groups are read (and checked) but not built; the program's input then
enters the first built layer's synapse with the skipped layer's shape and its ``messageBits``
(graded int32 payloads when > 0, as lava-dl's hardware tests feed ``act0.npy`` into
``skip_layers=1``); ``num_layers`` reads only the first groups; ``input_message_bits`` (default
0: binary) is the first synapse's message width when no layer is skipped.

``reset_interval``/``reset_offset`` (:func:`load_netx`, ``snnc.load(path, reset_interval=16)``)
are lava-dl's ``Network`` keywords: every layer becomes a ``LIFReset`` (u and v zeroed at
the start of time_step τ with τ mod R = offset mod R, see :mod:`snnc.compiler.ir.arith`),
layer L (the Input block is L = 0; flatten layers and a neuron-less input do not count)
with offset ``reset_offset + 1 + L``, exactly as ``hdf5.Network._create`` numbers them.

Fields.  Every field lava-dl reads is read here, or refused by name; fields lava-dl ignores
(``inFeatures``, ``outFeatures``, ``inChannels``, ``outChannels``, ``kernelSize``, a conv
``delay``, the neuron's ``refDelay``, ``scaleRho``, ``tauRho``, ``theta``, ``wgtExp``, the
top-level ``simulation`` group) are ignored as lava-dl does (those that would change the
dynamics are noted in the layer table); any other field is refused (a
:class:`~snnc.errors.FrontendError` naming the file, layer, field and value).  ``weight``,
``weight_rec`` and ``bias`` are truncated toward zero as lava-dl's ``astype(int)`` does
(non-integers are logged and noted); integer fields (``shape``, ``stride``, ``iDecay`` ...)
must hold integers.  ``shape`` fields are checked against the weights.  A damaged file
(missing keys, wrong dtypes, non-ASCII strings, a dataset where a group belongs) raises a
:class:`~snnc.errors.FrontendError` naming the file, layer and field, never h5py's own errors.

Not readable (:class:`~snnc.errors.UnsupportedOpError`, naming the group): files that are
not HDF5 or have no ``layer`` group (e.g. NIR), resonate-and-fire (RF) and graded-spike LIF
neurons, recurrent layers with delays, recurrent SDNN layers, complex, pooling, average and concat
layers, and layer types lava-dl does not know (which lava-dl skips silently).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.netx_weights import netx_optimize
from snnc.compiler.artifact import Artifact
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi
from snnc.compiler.ir.arith import DECAY_UNITY, INT32_MAX
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.verify import verify
from snnc.compiler.targets import get_target
from snnc.errors import FrontendError, InputError, UnsupportedOpError

log = logging.getLogger(__name__)

NEURON_TYPES = ("CUBA", "LOIHI")
#: lava-dl's sigma-delta neuron type (Delta / SigmaDelta / Sigma)
SDNN = "SDNN"
#: lava-dl's Network(spike_exp=6) default and its fixed state_exp (hdf5.py get_neuron_params)
SDNN_SPIKE_EXP = 6
SDNN_STATE_EXP = 6
#: lava-dl's messageBits default for SDNN neurons (0 for LIF)
SDNN_MESSAGE_BITS = 16
#: the activation lava-dl builds (SigmaDelta's default act_mode RELU; the file's string is not read)
SDNN_ACTIVATION = "relu"
#: Lava's num_message_bits Var (precision 5)
MESSAGE_BITS_MAX = 31
LAYER_TYPES = ("input", "dense", "dense_rec", "conv", "flatten")
#: layer types lava-dl's Network knows but cannot build (NotImplementedError) or snnc does not map
REFUSED_TYPES = ("pool", "convT", "unpool", "average", "concat", "dense_comp")
NETX_BIAS_EXP = 6
#: lava-dl's Input transform when the file has none (hdf5.py:279-289)
DEFAULT_TRANSFORM = {"weight": 64, "bias": 0}
#: lava-dl's neuron for a dense layer without one (hdf5.py:346-358): a non-leaky integrator;
#: ``vThMant = 1 << 18 - 1`` is 1 << 17 (Python's precedence)
DEFAULT_NEURON = {"du": -1, "dv": DECAY_UNITY, "vth": 1 << 17}
#: the largest vThMant lava-dl writes (its default integrator's 2^17; the register has 17 bits)
VTH_MAX = 1 << 17
#: lava-dl clamps delays to this (hdf5.py:402-406)
NETX_MAX_DELAY = 62
#: Lava holds bias_mant as int16: a larger value would wrap there
INT16_MAX = (1 << 15) - 1
REGISTER_BIAS_LIMIT = 4095

#: fields of each layer type: read by lava-dl (and here), or ignored by lava-dl (and here)
_READ = {
    "input": {"type", "shape", "neuron", "weight", "bias"},
    "dense": {"type", "shape", "neuron", "weight", "bias", "delay"},
    "dense_rec": {"type", "shape", "neuron", "weight", "weight_rec", "bias", "delay"},
    "conv": {"type", "shape", "neuron", "weight", "bias", "stride", "padding", "dilation", "groups"},
    "flatten": {"type", "shape"},
}
_IGNORED = {
    "input": set(),
    "dense": {"inFeatures", "outFeatures"},
    "dense_rec": {"inFeatures", "outFeatures"},
    "conv": {"inChannels", "outChannels", "kernelSize", "delay"},
    "flatten": set(),
}
_NEURON_READ = {"type", "iDecay", "vDecay", "vThMant", "messageBits", "gradedSpike"}
_NEURON_IGNORED = {"refDelay", "scaleRho", "tauRho", "theta", "wgtExp"}
#: SDNN neuron fields lava-dl reads (``activation`` is read here only, to refuse what lava-dl
#: would silently build as a ReLU)
_SDNN_READ = {"type", "vThMant", "messageBits", "sigma_output", "activation"}
FIELD_HINT = "re-export the network with lava-dl (slayer's export_hdf5) or snnc (--emit netx)"


def _is_group(obj) -> bool:
    return hasattr(obj, "keys") and not hasattr(obj, "dtype")


class _Reader:
    """Typed access to one netx group, every error naming the file, the group and the field."""

    def __init__(self, path: Path, group, where: str):
        self.path, self.g, self.where = path, group, where
        self.notes: list[str] = []

    def err(self, msg: str, hint: str = FIELD_HINT, cls=FrontendError, where: str | None = None) -> FrontendError:
        return cls(f"{self.path.name}: {msg}", node=where or self.where, hint=hint)

    def has(self, key: str) -> bool:
        return key in self.g

    def keys(self) -> list[str]:
        return list(self.g.keys())

    def sub(self, key: str) -> _Reader:
        if key not in self.g:
            raise self.err(f"group '{key}' is missing")
        obj = self.g[key]
        if not _is_group(obj):
            raise self.err(f"'{key}' is a dataset, not a group of fields", where=f"{self.where}/{key}")
        return _Reader(self.path, obj, f"{self.where}/{key}")

    def array(self, key: str) -> np.ndarray:
        if key not in self.g:
            raise self.err(f"field '{key}' is missing")
        obj = self.g[key]
        if _is_group(obj):
            raise self.err(f"field '{key}' is a group, not a dataset")
        try:
            return np.asarray(obj[()])
        except Exception as e:  # noqa: BLE001 - h5py raises many kinds on damaged data
            raise self.err(f"field '{key}' is unreadable ({type(e).__name__}: {e})",
                           "the file is damaged; re-export it") from None

    def str(self, key: str) -> str:
        v = self.array(key)
        if v.dtype.kind not in "SUO" or v.size < 1:
            raise self.err(f"field '{key}' must be a string, got {v.dtype} {v.shape}")
        v = v.reshape(-1)[0] if v.ndim else v[()]  # lava-dl reads value[0] or value[()]
        if isinstance(v, bytes):
            try:
                return v.decode("ascii")
            except UnicodeDecodeError:
                raise self.err(f"field '{key}' = {v!r} is not ASCII (lava-dl decodes it as ASCII)") from None
        if not isinstance(v, str):
            raise self.err(f"field '{key}' must be a string, got {type(v).__name__}")
        return v

    def _numbers(self, key: str) -> np.ndarray:
        v = self.array(key)
        if v.dtype.kind not in "biuf":
            shown = repr(v.reshape(-1)[0]) if v.size and v.dtype.kind in "SUO" else f"<{v.dtype} {v.shape}>"
            raise self.err(f"field '{key}' = {shown} is not numeric")
        if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            bad = v.reshape(-1)[np.flatnonzero(~np.isfinite(v.reshape(-1)))[0]]
            raise self.err(f"field '{key}' holds {bad}", "the file is damaged; re-export it")
        return v

    def ints(self, key: str) -> np.ndarray:
        """An integer field lava-dl reads raw (``shape``, ``stride``, ``iDecay`` ...)."""
        v = self._numbers(key)
        if v.dtype.kind == "f" and np.any(v != np.rint(v)):
            bad = v.reshape(-1)[np.flatnonzero(v.reshape(-1) != np.rint(v.reshape(-1)))[0]]
            raise self.err(f"field '{key}' = {bad} is not an integer", FIELD_HINT)
        return v.astype(np.int64)

    def int(self, key: str) -> int:
        v = self.ints(key)
        if v.size != 1:
            raise self.err(f"field '{key}' must be one number, got shape {v.shape}",
                           "lava-dl reads one value per layer")
        return int(v.reshape(-1)[0])

    def truncated(self, key: str) -> np.ndarray:
        """A field lava-dl reads with ``astype(int)`` (``weight``, ``weight_rec``, ``bias``):
        floats truncated toward zero, as lava-dl does (noted when that changes a value)."""
        v = self._numbers(key)
        if v.dtype.kind == "f":
            t = np.trunc(v)
            changed = int(np.count_nonzero(t != v))
            if changed:
                worst = float(np.abs(t - v).max())
                note = (f"field '{key}': {changed} non-integer values truncated toward zero as lava-dl "
                        f"does (astype(int); largest change {worst:.3g})")
                log.warning("%s: %s: %s", self.path.name, self.where, note)
                self.notes.append(note)
            v = t
        return v.astype(np.int64)

    def check_fields(self, read: set[str], ignored: set[str], what: str) -> None:
        for key in self.keys():
            if key not in read and key not in ignored:
                raise self.err(
                    f"unknown field '{key}' in a {what} (lava-dl reads {', '.join(sorted(read))}; "
                    f"ignores {', '.join(sorted(ignored)) or 'nothing else'})",
                    "remove the field, or check the file was written for lava-dl's netx")


def _open(path: Path):
    import h5py  # optional heavy dependency: only netx files need it

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FrontendError(f"{path.name} is not a readable HDF5 file ({e})",
                            hint="netx files are HDF5 written by lava-dl (slayer export_hdf5) "
                                 "or snnc (--emit netx)") from None
    if "layer" not in f or not _is_group(f["layer"]):
        keys = sorted(f.keys())
        f.close()
        hint = ("this looks like a NIR file: rename it to .nir" if "node" in keys
                else "netx files have a 'layer' group with numbered layers")
        raise FrontendError(f"{path.name} is HDF5 but not lava-dl netx (top-level groups: {keys})", hint=hint)
    return f


def _neuron(r: _Reader) -> dict[str, Any]:
    """The LIF registers of a layer's ``neuron`` group, as lava-dl's get_neuron_params."""
    n = r.sub("neuron")
    kind = n.str("type")
    if kind not in NEURON_TYPES:
        raise n.err(f"neuron type {kind!r} is not supported (snnc runs {', '.join(NEURON_TYPES)} "
                    f"neurons: Lava's LIF, and {SDNN}: sigma-delta)", "resonate-and-fire networks need "
                    "lava-dl's own netx runtime", UnsupportedOpError)
    n.check_fields(_NEURON_READ, _NEURON_IGNORED, f"{kind} neuron")
    if n.has("gradedSpike") and n.int("gradedSpike"):
        raise n.err("field 'gradedSpike' = 1: graded spikes are not supported",
                    "export with binary spikes", UnsupportedOpError)
    if n.has("messageBits") and n.int("messageBits"):
        raise n.err(f"field 'messageBits' = {n.int('messageBits')}: graded spikes are not supported "
                    "(lava-dl 0.6 also mishandles the field)", "export with binary spikes", UnsupportedOpError)
    i_decay, v_decay, vth = n.int("iDecay"), n.int("vDecay"), n.int("vThMant")
    if not 0 <= i_decay <= DECAY_UNITY:
        raise n.err(f"field 'iDecay' = {i_decay} is outside 0..{DECAY_UNITY} (Lava du = iDecay − 1)",
                    "the current decay register holds 0..4096")
    if not 0 <= v_decay <= DECAY_UNITY:
        raise n.err(f"field 'vDecay' = {v_decay} is outside 0..{DECAY_UNITY}",
                    "the voltage decay register holds 0..4096")
    if not 0 <= vth <= VTH_MAX:
        raise n.err(f"field 'vThMant' = {vth} is outside 0..{VTH_MAX}", "the threshold mantissa has 17 bits")
    if n.has("refDelay") and n.int("refDelay") > 1:
        r.notes.append(f"neuron refDelay = {n.int('refDelay')} ignored, as lava-dl does (Lava's LIF "
                       "has no refractory period)")
    r.notes += n.notes
    return {"du": i_decay - 1, "dv": v_decay, "vth": vth}


def _neuron_type(r: _Reader) -> str | None:
    """The ``type`` string of a layer's ``neuron`` group (None: no neuron group)."""
    if not r.has("neuron") or not _is_group(r.g["neuron"]):
        return None
    n = r.sub("neuron")
    return n.str("type") if n.has("type") else None


def _sdnn_neuron(r: _Reader, role: str, spike_exp: int) -> dict[str, Any]:
    """A ``SDNN`` neuron group as lava-dl's get_neuron_params builds it: ``role`` "input" (the
    Input block: Delta), else Sigma when the ``sigma_output`` field exists, else SigmaDelta.
    Returns the SigmaDeltaCompartment fields plus ``message_bits`` (the next synapse's)."""
    n = r.sub("neuron")
    n.check_fields(_SDNN_READ, set(), "SDNN neuron")
    bits = n.int("messageBits") if n.has("messageBits") else SDNN_MESSAGE_BITS
    if not 0 <= bits <= MESSAGE_BITS_MAX:
        raise n.err(f"field 'messageBits' = {bits} is outside 0..{MESSAGE_BITS_MAX} (Lava's num_message_bits)",
                    "0 sends binary spikes, 16 is lava-dl's graded default")
    if n.has("messageBits"):
        r.notes.append(f"messageBits = {bits}: the next synapse's num_message_bits, as lava-dl's code means "
                       "it (lava-dl 0.6 cannot read the field: its NetDict returns a group and the Network "
                       "crashes building the next block)")
    act = n.str("activation") if n.has("activation") else SDNN_ACTIVATION
    k = spike_exp + SDNN_STATE_EXP
    if role == "input":
        neuron = loihi.DELTA
        if n.has("sigma_output"):
            r.notes.append("field 'sigma_output' of the input layer ignored, as lava-dl does (its Input "
                           "block is a Delta)")
        if act != SDNN_ACTIVATION:
            r.notes.append(f"activation {act!r} ignored, as lava-dl does (Delta has no activation)")
    elif n.has("sigma_output"):
        neuron = loihi.SIGMA
        if not n.int("sigma_output"):
            r.notes.append("field 'sigma_output' = False: lava-dl builds a Sigma whenever the field "
                           "exists, and so does snnc")
        if act != SDNN_ACTIVATION:
            r.notes.append(f"activation {act!r} ignored (lava-dl's Sigma has no activation)")
        r.notes += n.notes
        return {"neuron": neuron, "message_bits": bits}
    else:
        neuron = loihi.SIGMA_DELTA
        if act != SDNN_ACTIVATION:
            raise n.err(f"field 'activation' = {act!r}: lava-dl's netx builds every SDNN layer as a "
                        "ReLU SigmaDelta whatever this field says (only 'relu' runs as trained)",
                        "train and export the layer with a ReLU activation (slayer's sigma_delta "
                        "default), or run it in slayer", UnsupportedOpError)
    vth = n.int("vThMant")
    if vth < 0 or vth > INT32_MAX >> k:
        raise n.err(f"field 'vThMant' = {vth} is outside 0..{INT32_MAX >> k}: Lava's register vth << "
                    f"{k} (spike_exp {spike_exp} + state_exp {SDNN_STATE_EXP}) must fit int32",
                    "a sigma-delta threshold is a non-negative delta in the layer's units")
    r.notes += n.notes
    return {"neuron": neuron, "vth": vth, "spike_exp": spike_exp, "state_exp": SDNN_STATE_EXP,
            "activation": SDNN_ACTIVATION, "message_bits": bits}


def _bias_values(r: _Reader, n: int, chw: tuple[int, ...] | None) -> np.ndarray:
    """``bias`` truncated to integers as lava-dl's block gives it to the neuron, per neuron in
    C-order: one per neuron ((W, H, C) for a conv), per channel (broadcast), or one value."""
    b = r.truncated("bias")
    if chw is not None:
        lava_shape = tuple(chw[::-1])
        if b.shape == lava_shape:  # neuron-wise, (W, H, C)
            b = b.transpose(2, 1, 0)
        elif b.ndim >= 1 and b.shape[0] == chw[0]:  # channel-wise (lava-dl: shape[-1] == bias.shape[0])
            b = np.broadcast_to(b.reshape(chw[0], -1)[:, :1].reshape(-1, 1, 1), chw)
            if r.array("bias").size != chw[0]:
                raise r.err(f"field 'bias' has shape {r.array('bias').shape}; lava-dl takes one per "
                            f"channel ({chw[0]}) or one per neuron {lava_shape}")
        else:
            raise r.err(f"field 'bias' has shape {b.shape}; lava-dl takes one per channel ({chw[0]}) "
                        f"or one per neuron {lava_shape} (W, H, C)")
    b = b.reshape(-1)
    if b.size == 1:
        b = np.full(n, int(b[0]))
    if b.size != n:
        raise r.err(f"field 'bias' has {b.size} values for {n} neurons")
    return np.ascontiguousarray(b, dtype=np.int64)


def _sd_bias(r: _Reader, n: int, chw: tuple[int, ...] | None, k: int) -> np.ndarray | None:
    """A SigmaDelta's bias: lava-dl's ``astype(int32)`` of the file's values, whose register
    ``bias << k`` must fit int32 (Lava would wrap it silently); None without a bias."""
    if not r.has("bias"):
        return None
    b = _bias_values(r, n, chw)
    limit = INT32_MAX >> k
    if np.abs(b).max(initial=0) > limit:
        bad = int(b[np.argmax(np.abs(b))])
        raise r.err(f"field 'bias' holds {bad}, beyond ±{limit}: Lava's register bias << {k} must fit "
                    "int32 (it would wrap silently)", "reduce the bias (netx biases are the float bias "
                    "x 64)", UnsupportedOpError)
    return b


def _bias(r: _Reader, n: int, chw: tuple[int, ...] | None) -> tuple[np.ndarray, int]:
    """``bias`` as lava-dl's block gives it to the neuron: per neuron ((W, H, C) for a conv)
    or per channel; (bias_mant, bias_exp) with lava-dl's bias_exp 6 (7 when an even value
    exceeds the 13-bit mantissa: the same effective bias)."""
    if not r.has("bias"):
        return np.zeros(n, np.int64), NETX_BIAS_EXP
    b = _bias_values(r, n, chw)
    if np.abs(b).max(initial=0) > INT16_MAX:
        raise r.err(f"field 'bias' holds {int(b[np.argmax(np.abs(b))])}, beyond Lava's int16 bias_mant "
                    "(lava-dl's value would wrap)", "reduce the bias", UnsupportedOpError)
    exp = NETX_BIAS_EXP
    while np.abs(b).max(initial=0) > REGISTER_BIAS_LIMIT and exp < 7 and not np.any(b % 2):
        b, exp = b // 2, exp + 1
    if np.abs(b).max(initial=0) > REGISTER_BIAS_LIMIT:
        raise r.err(f"field 'bias' holds {int(np.abs(b).max())}, beyond the 13-bit mantissa at bias_exp {exp}",
                    "reduce the bias", UnsupportedOpError)
    return b.astype(np.int64), exp


def _pair(r: _Reader, key: str, default: int) -> tuple[int, int]:
    """A conv geometry field in the file's (H, W) order; a scalar fills both (lava-dl's expand)."""
    if not r.has(key):
        return (default, default)
    v = r.ints(key).reshape(-1)
    if v.size not in (1, 2):
        raise r.err(f"field '{key}' = {v.tolist()} must be one number or an (H, W) pair")
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _shape_field(r: _Reader) -> tuple[int, ...] | None:
    if not r.has("shape"):
        return None
    s = r.ints("shape").reshape(-1)
    if s.size < 1 or np.any(s < 1):
        raise r.err(f"field 'shape' = {s.tolist()} must hold positive sizes")
    return tuple(int(d) for d in s)


def _weights(r: _Reader, key: str, n_in: int, n_out: int | None) -> np.ndarray:
    """A dense weight matrix (n_out, n_in); 1-D weights reshaped as lava-dl does (shape[0], -1)."""
    w = r.truncated(key)
    if w.ndim == 1:
        rows = n_out if n_out is not None else (w.size // n_in if n_in and w.size % n_in == 0 else w.size)
        if rows and w.size % rows == 0:
            w = w.reshape(rows, -1)
    elif w.ndim > 2:
        w = w.reshape(w.shape[0], -1)
    if w.ndim != 2 or w.shape[1] != n_in:
        raise r.err(f"field '{key}' of shape {tuple(r.array(key).shape)} does not take the {n_in} "
                    "inputs of the layer before it", "the layers must form a chain")
    if n_out is not None and w.shape[0] != n_out:
        raise r.err(f"field 'shape' gives {n_out} neurons but field '{key}' has {w.shape[0]} rows "
                    f"(shape {tuple(r.array(key).shape)})", FIELD_HINT)
    return w


def _optimized(r: _Reader, w: np.ndarray) -> tuple[np.ndarray, int, int]:
    opt = netx_optimize(w)
    if isinstance(opt, str):
        raise r.err(f"lava-dl cannot build this layer: {opt}", FIELD_HINT, UnsupportedOpError)
    w_lava, bits, exp = opt
    return np.clip(w_lava, -256, 255), bits, exp  # Lava's 8-bit clip; idempotent in its Dense


def _recurrent_synapses(r: _Reader, n_in: int, n_out: int | None) -> tuple[loihi.Synapse, loihi.Synapse, int]:
    """netx ``dense_rec``: input and recurrent blocks share one (weight_exp, bits), from
    lava-dl's optimizer run on ``[weight | weight_rec]``; each Lava Dense keeps its own sign mode."""
    if r.has("delay"):
        raise r.err("field 'delay' in a recurrent layer (lava-dl then drops the weight exponent)",
                    "export the recurrent layer without delays", UnsupportedOpError)
    w = _weights(r, "weight", n_in, n_out)
    w_rec = _weights(r, "weight_rec", w.shape[0], w.shape[0])
    both, bits, exp = _optimized(r, np.hstack([w, w_rec]))
    make = lambda m, tag: loihi.Synapse(weights=m, weight_exp=exp, num_weight_bits=bits,  # noqa: E731
                                        meta={"source": f"{r.where}/{tag}"})
    return make(both[:, : w.shape[1]], "weight"), make(both[:, w.shape[1] :], "weight_rec"), w.shape[0]


def _delays(r: _Reader, shape: tuple[int, int]) -> np.ndarray:
    d = r.ints("delay")
    if d.size and d.max() > NETX_MAX_DELAY:
        r.notes.append(f"delays up to {int(d.max())} clamped to {NETX_MAX_DELAY}, as lava-dl does")
    d = np.clip(d, 0, NETX_MAX_DELAY)
    if d.size == 1:
        d = np.full(shape, int(d.reshape(-1)[0]))
    elif d.ndim == 1 and d.size == shape[0]:  # per output (axonal)
        d = np.repeat(d.reshape(-1, 1), shape[1], axis=1)
    elif d.ndim == 1 and d.size == shape[1]:  # per input
        d = np.repeat(d.reshape(1, -1), shape[0], axis=0)
    if d.shape != shape:
        raise r.err(f"field 'delay' of shape {tuple(r.array('delay').shape)} does not match weight {shape}")
    return d


def _dense_synapse(r: _Reader, n_in: int, n_out: int | None, message_bits: int = 0) -> tuple[loihi.Synapse, int]:
    w = _weights(r, "weight", n_in, n_out)
    w_lava, bits, exp = _optimized(r, w)
    delays = _delays(r, w.shape) if r.has("delay") else None
    syn = loihi.Synapse(weights=w_lava, weight_exp=exp, num_weight_bits=bits, delays=delays,
                        num_message_bits=message_bits, meta={"source": r.where})
    return syn, w.shape[0]


def _transform(r: _Reader) -> dict[str, int]:
    """The Input block's host-side transform: ``int(weight)``, ``int(bias)`` (lava-dl reads them
    with ``astype(int)`` and ``int()``: one number each)."""
    out = {}
    for key, default in DEFAULT_TRANSFORM.items():
        if not r.has(key):
            out[key] = default
            continue
        v = r.truncated(key)
        if v.size != 1:
            raise r.err(f"field '{key}' of the input layer has shape {v.shape}: lava-dl's Input "
                        "transform takes one number (int(weight), int(bias))",
                        "store the input transform as one weight and one bias", UnsupportedOpError)
        out[key] = int(v.reshape(-1)[0])
    return out


def _reset(reset_interval, reset_offset) -> tuple[int, int]:
    """lava-dl's ``reset_interval`` (None: no reset) and ``reset_offset``, checked."""
    if reset_interval is None:
        if not (isinstance(reset_offset, (int, np.integer)) and not isinstance(reset_offset, bool)):
            raise InputError(f"reset_offset={reset_offset!r} must be an int")
        return 0, int(reset_offset)
    if isinstance(reset_interval, bool) or not isinstance(reset_interval, (int, np.integer)) or reset_interval < 1:
        raise InputError(f"reset_interval={reset_interval!r} must be an int >= 1 (None: no reset)",
                         hint="lava-dl's Network(reset_interval=R) resets every layer's u and v every R steps")
    if isinstance(reset_offset, bool) or not isinstance(reset_offset, (int, np.integer)):
        raise InputError(f"reset_offset={reset_offset!r} must be an int",
                         hint="lava-dl's reset_offset shifts every layer's reset phase")
    if reset_offset < -1:  # layer 0 gets reset_offset + 1, which Lava's LIFReset needs >= 0
        raise InputError(f"reset_offset={reset_offset} gives the first layer the phase {reset_offset + 1} < 0, "
                         "which Lava's LIFReset refuses", hint="use a reset_offset >= -1 (phases are mod reset_interval)")
    return int(reset_interval), int(reset_offset)


def _count(name: str, value, low: int, high: int | None, hint: str) -> int:
    """An int keyword in low..high (high None: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        rng = f"{low}..{high}" if high is not None else f">= {low}"
        raise InputError(f"{name}={value!r} must be an int {rng}", hint=hint)
    return int(value)


@dataclasses.dataclass(frozen=True)
class _Options:
    """lava-dl ``hdf5.Network`` keywords, checked (see :func:`load_netx`)."""

    interval: int = 0
    offset: int = 0
    spike_exp: int = SDNN_SPIKE_EXP
    skip_layers: int = 0
    num_layers: int | None = None
    input_message_bits: int = 0


def load_netx(source: str | os.PathLike, *, reset_interval: int | None = None, reset_offset: int = 0,
              spike_exp: int = SDNN_SPIKE_EXP, skip_layers: int = 0, num_layers: int | None = None,
              input_message_bits: int = 0) -> Artifact:
    """Read a netx file into a compiled program's :class:`Artifact` (see the module docstring).

    The keywords are lava-dl's ``hdf5.Network`` keywords of the same names:
    ``reset_interval``, ``reset_offset`` (every LIF layer's u and v reset every
    ``reset_interval`` steps, layer L at phase ``reset_offset + 1 + L``; ``None``, the default,
    builds plain LIF neurons; refused for sigma-delta networks, which lava-dl does not reset);
    ``spike_exp`` (the graded spikes' extra fraction bits of every SDNN neuron, default 6);
    ``skip_layers`` (the first layer groups read but not built: the input enters the next
    one's synapse); ``num_layers`` (only the first layer groups); ``input_message_bits`` (the
    first synapse's message width when nothing is skipped; 0: binary spikes).
    """
    path = Path(source)
    interval, offset = _reset(reset_interval, reset_offset)
    opts = _Options(
        interval, offset,
        _count("spike_exp", spike_exp, 0, 31 - SDNN_STATE_EXP,
               "lava-dl's spike_exp (default 6): Lava shifts by spike_exp + state_exp (6) in int32"),
        _count("skip_layers", skip_layers, 0, None, "the number of leading layer groups lava-dl skips"),
        None if num_layers is None else _count("num_layers", num_layers, 1, None,
                                               "the number of leading layer groups to build (None: all)"),
        _count("input_message_bits", input_message_bits, 0, MESSAGE_BITS_MAX,
               "0: the input is binary spikes; > 0: graded int32 payloads"))
    try:
        with _open(path) as f:
            return _read(path, f, opts)
    except (FrontendError, InputError):
        raise
    except (KeyError, RuntimeError, UnicodeDecodeError, TypeError, ValueError, OSError, AttributeError,
            IndexError) as e:  # a safety net: h5py's own errors on a damaged file
        where = getattr(e, "_snnc_where", None)
        raise FrontendError(f"{path.name}: cannot read the file ({type(e).__name__}: {e})", node=where,
                            hint="the file is damaged; " + FIELD_HINT) from None


def _network_kind(path: Path, groups, keys: list[str], opts: _Options) -> bool:
    """True for a sigma-delta network (every neuron SDNN), False for LIF; a mix is refused."""
    kinds: dict[str, str] = {}
    for k in keys:
        if _is_group(groups[k]):
            t = _neuron_type(_Reader(path, groups[k], f"layer/{k}"))
            if t is not None:
                kinds.setdefault(SDNN if t == SDNN else "LIF", f"layer/{k}")
    if SDNN in kinds and "LIF" in kinds:
        raise UnsupportedOpError(
            f"{path.name}: mixes SDNN neurons ({kinds[SDNN]}) with other neurons ({kinds['LIF']})",
            node=kinds["LIF"], hint="snnc reads netx networks whose neurons are all SDNN or all LIF")
    sdnn = SDNN in kinds
    if sdnn and opts.interval:
        raise InputError(f"reset_interval={opts.interval}: {path.name} is a sigma-delta (SDNN) network, "
                         "which lava-dl does not reset (it warns and ignores the keyword)",
                         hint="leave reset_interval out for SDNN networks")
    return sdnn


def _read(path: Path, f, opts: _Options) -> Artifact:
    interval, offset = opts.interval, opts.offset
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    latency: dict[str, int] = {}
    layers: list[dict[str, Any]] = []  # rows of the compile summary (LayerReport fields)
    # lava-dl fills Lava's LIF in its own ranges (du −1, dv 4096, vth 2^17: snnc.compiler.ir.verify)
    meta: dict[str, Any] = {"source": str(path), "frontend": "netx", "register_ranges": "lava-dl"}
    groups = f["layer"]
    keys = list(groups.keys())
    if not keys or not all(k.isdigit() for k in keys) or sorted(int(k) for k in keys) != list(range(len(keys))):
        raise FrontendError(f"{path.name}: 'layer' must hold groups 0, 1, …, {max(len(keys) - 1, 0)}; "
                            f"found {sorted(keys)[:8]}", hint="re-export the network with lava-dl")
    keys = sorted(keys, key=int)
    if opts.num_layers is not None:
        keys = keys[: opts.num_layers]
    sdnn = _network_kind(path, groups, keys, opts)
    k_sd = opts.spike_exp + SDNN_STATE_EXP
    if sdnn:
        meta["sdnn"] = {"spike_exp": opts.spike_exp, "state_exp": SDNN_STATE_EXP}
    src_shape: tuple[int, ...] | None = None  # the input shape a first layer reads
    prev: str | None = None  # the node the next layer reads (SpikeSource or a population)
    cur_shape: tuple[int, ...] | None = None  # its shape
    in_bits = opts.input_message_bits  # message bits of what the next synapse reads
    flatten = False
    depth = 0
    built = 0  # layers lava-dl builds (its reset phase counter)
    for i, k in enumerate(keys):
        where = f"layer/{k}"
        if not _is_group(groups[k]):
            raise FrontendError(f"{path.name}: '{where}' is a dataset, not a layer group",
                                node=where, hint=FIELD_HINT)
        r = _Reader(path, groups[k], where)
        kind = r.str("type")
        if kind not in LAYER_TYPES:
            known = kind in REFUSED_TYPES
            raise r.err(f"layer type {kind!r} is not supported (snnc reads {', '.join(LAYER_TYPES)})"
                        + ("" if known else "; lava-dl skips unknown layer types silently"),
                        "pooling, average, concat and complex layers are not mapped by snnc yet"
                        if known else "check the layer's 'type' field", UnsupportedOpError)
        r.check_fields(_READ[kind], _IGNORED[kind], f"{kind} layer")
        shape_field = _shape_field(r)
        skip = i < opts.skip_layers
        if kind == "flatten":
            if prev is None and not (opts.skip_layers and src_shape is not None):
                raise r.err("a flatten layer before any layer with neurons", FIELD_HINT)
            flatten = True
            continue
        if kind == "input":
            if prev is not None or src_shape is not None:
                raise r.err("an input layer after other layers (lava-dl builds one input, first)", FIELD_HINT)
            if not r.has("neuron"):
                src_shape = shape_field  # the shape of the input a following layer reads
                if src_shape is not None and len(src_shape) not in (1, 3):
                    raise r.err(f"field 'shape' = {list(src_shape)} must be (n,) or (C, H, W)")
                continue
            if shape_field is None:
                raise r.err("field 'shape' is missing (lava-dl's Input block needs it)")
            if len(shape_field) not in (1, 3):
                raise r.err(f"field 'shape' = {list(shape_field)} must be (n,) or (C, H, W): lava-dl "
                            "connects only those to the next layer")
            neuron = _sdnn_neuron(r, "input", opts.spike_exp) if sdnn else _neuron(r)
            out_bits = neuron.pop("message_bits", 0)
            transform = _transform(r)
            meta["input_transform"] = dict(transform)
            n = int(np.prod(shape_field))
            if skip:  # lava-dl: the next layer reads this block's shape and message bits
                src_shape, in_bits = shape_field, out_bits
                meta["skipped"] = meta.get("skipped", []) + [where]
                continue
            name = f"layer{k}"
            nodes["input"] = loihi.SpikeSource(shape=shape_field, payload=loihi.PAYLOAD_INT32,
                                               meta={"source": where, "input_transform": dict(transform)})
            if sdnn:
                nodes[name] = loihi.SigmaDeltaCompartment(
                    shape=shape_field, meta={"source": name, "float_kind": "netx SDNN Input block (Delta)"},
                    **neuron)
            else:
                nodes[name] = loihi.Compartment(
                    shape=shape_field, bias_mant=np.zeros(n, np.int64), bias_exp=NETX_BIAS_EXP,
                    reset_interval=interval, reset_offset=offset + 1 + built if interval else 0,
                    meta={"source": name, "float_kind": "netx Input block"}, **neuron)
            nodes[f"{name}:out"] = loihi.Probe(shape=shape_field, meta={"source": name})
            edges += [("input", name), (name, f"{name}:out")]
            latency[f"{name}:out"] = 0
            notes = [f"lava-dl Input block, read from {where}: the program's input enters its a_in "
                     "(int32 values, same step)" + ("" if sdnn else
                                                    "; run(x, input='bias', steps=T) sets it as bias_mant"),
                     f"input transform weight={transform['weight']} bias={transform['bias']} kept as "
                     "graph.meta['input_transform'] (host side: lava-dl never applies it in Lava)"]
            if sdnn:
                notes.append(f"sends graded payloads of {out_bits} message bits" if out_bits
                             else "sends binary spikes (messageBits 0)")
                layers.append(_sd_row(name, "input", n, 0, neuron, [], k_sd, 0, notes + r.notes))
            else:
                layers.append(_row(name, "input", n, 0, neuron, [], NETX_BIAS_EXP, 0, notes + r.notes,
                                   interval, offset + 1 + built))
            built += 1
            prev, cur_shape, in_bits = name, shape_field, out_bits
            continue
        # dense, dense_rec, conv
        if kind == "conv":
            in_shape = cur_shape if prev is not None else src_shape
            if in_shape is None or len(in_shape) != 3 or flatten:
                why = ("after a flatten layer" if flatten else
                       "after a dense layer" if in_shape is not None else "without an input shape")
                raise r.err(f"a conv layer {why}: it needs a (C, H, W) input",
                            "lava-dl infers a conv input from an input layer's shape or the conv before it")
            w = r.truncated("weight")
            if w.ndim == 5 and w.shape[4] == 1:  # slayer's (C', C/g, kH, kW, 1)
                w = w.reshape(w.shape[:4])
            if w.ndim != 4:
                raise r.err(f"field 'weight' of shape {w.shape} is not a conv kernel (C', C/groups, kH, kW)")
            groups_ = r.int("groups") if r.has("groups") else 1
            if groups_ < 1 or w.shape[1] * groups_ != in_shape[0]:
                raise r.err(f"field 'weight' of shape {w.shape} with groups={groups_} takes "
                            f"{w.shape[1] * groups_} channels but its input {in_shape} has {in_shape[0]}",
                            "the layers must form a chain")
            syn = loihi.ConvSynapse(weights=w, in_shape=in_shape, stride=_pair(r, "stride", 1),
                                    padding=_pair(r, "padding", 0), dilation=_pair(r, "dilation", 1),
                                    groups=groups_, meta={"source": where}, num_message_bits=in_bits)
            shape = tuple(int(d) for d in syn.out_shape)
            if min(shape) < 1:
                raise r.err(f"the convolution of {in_shape} by {w.shape} has an empty output {shape}")
            if shape_field is not None and shape_field != shape:
                raise r.err(f"field 'shape' = {list(shape_field)} but the convolution of {in_shape} gives "
                            f"{list(shape)} (C, H, W)", FIELD_HINT)
            if r.has("delay"):
                r.notes.append("field 'delay' of a conv layer ignored, as lava-dl does")
            chw: tuple[int, ...] | None = shape
            n_out = int(np.prod(shape))
            rec = None
        else:
            if prev is not None and len(cur_shape) > 1 and not flatten:
                raise r.err(f"a dense layer reads the {list(cur_shape)} output of the layer before it "
                            "without a flatten layer (lava-dl cannot connect them)",
                            "add a flatten layer before the dense layer")
            n_in = int(np.prod(cur_shape)) if prev is not None else None
            if n_in is None:
                wshape = r.array("weight").shape
                n_in = int(np.prod(src_shape)) if src_shape is not None else (
                    int(wshape[-1]) if len(wshape) >= 2 else None)
                if n_in is None:
                    raise r.err("a 1-D first dense weight without an input shape",
                                "add an input layer with the input's shape")
            n_want = int(np.prod(shape_field)) if shape_field is not None else None
            if kind == "dense":
                syn, n_out = _dense_synapse(r, n_in, n_want, in_bits)
                rec = None
            else:
                if sdnn:
                    raise r.err("a recurrent (dense_rec) sigma-delta layer is not supported",
                                "export the network without recurrent SDNN layers", UnsupportedOpError)
                syn, rec, n_out = _recurrent_synapses(r, n_in, n_want)
            shape = (n_out,)
            chw = None
            in_shape = src_shape if src_shape is not None and int(np.prod(src_shape)) == n_in else (n_in,)
        integrator = not r.has("neuron")
        if sdnn and integrator:
            raise r.err(f"a {kind} layer without a neuron in a sigma-delta network (lava-dl would build "
                        "its LIF integrator, fed graded payloads)", "give every layer an SDNN neuron",
                        UnsupportedOpError)
        if integrator:
            neuron = dict(DEFAULT_NEURON)
            r.notes.append("no neuron: lava-dl's default integrator (iDecay 0, vDecay 4096, vThMant 2^17: "
                           "u integrates, v = u + bias, never spikes); read out as v")
        else:
            neuron = _sdnn_neuron(r, "layer", opts.spike_exp) if sdnn else _neuron(r)
        out_bits = neuron.pop("message_bits", 0)
        n = n_out
        if sdnn:
            if neuron["neuron"] == loihi.SIGMA and r.has("bias"):
                raise r.err("field 'bias' on a sigma_output layer: lava-dl's Sigma takes no bias (its "
                            "Network would crash building it)", "drop the bias of the output layer, or "
                            "export it as an SDNN layer without sigma_output", FrontendError)
            sd_bias = _sd_bias(r, n, chw, k_sd) if neuron["neuron"] == loihi.SIGMA_DELTA else None
        else:
            bias, bias_exp = _bias(r, n, chw)
        if skip:  # lava-dl: built, then dropped; the next layer reads its shape and message bits
            src_shape, in_bits, flatten = shape, out_bits, False
            meta["skipped"] = meta.get("skipped", []) + [where]
            continue
        if prev is None:  # the first layer reads the program's input through its synapse
            graded = in_bits > 0
            nodes["input"] = loihi.SpikeSource(
                shape=tuple(in_shape), payload=loihi.PAYLOAD_INT32 if graded else loihi.PAYLOAD_BINARY,
                meta={"source": "input", **({"message_bits": in_bits} if graded else {})})
            prev = "input"
        name = f"layer{k}"
        nodes[f"{name}:syn"] = syn
        if sdnn:
            what = {loihi.SIGMA: "Sigma", loihi.SIGMA_DELTA: "SigmaDelta"}[neuron["neuron"]]
            nodes[name] = loihi.SigmaDeltaCompartment(
                shape=shape, bias=sd_bias, meta={"source": name, "float_kind": f"netx SDNN {what}"}, **neuron)
        else:
            nodes[name] = loihi.Compartment(
                shape=shape, bias_mant=bias, bias_exp=bias_exp, readout="v" if integrator else "spikes",
                reset_interval=interval, reset_offset=offset + 1 + built if interval else 0,
                meta={"source": name, "float_kind": "netx default integrator" if integrator else "netx CUBA"},
                **neuron)
        nodes[f"{name}:out"] = loihi.Probe(shape=shape, meta={"source": name})
        edges += [(prev, f"{name}:syn"), (f"{name}:syn", name), (name, f"{name}:out")]
        if rec is not None:  # the layer's own spikes, one step later (Lava's Dense buffer)
            nodes[f"{name}:rec"] = rec
            edges += [(name, f"{name}:rec"), (f"{name}:rec", name)]
        depth += 1
        latency[f"{name}:out"] = depth
        synapses = syn.num_synapses + (rec.num_synapses if rec else 0)
        if sdnn:
            notes = [f"netx SDNN {kind} ({what}), read from {where} (exact: no re-quantization); its synapse "
                     + (f"takes graded payloads ({in_bits} message bits)" if in_bits else "takes binary spikes")]
            layers.append(_sd_row(name, kind, n, synapses, neuron, [getattr(syn, "weight_exp", 0)], k_sd, depth,
                                  notes + r.notes))
        else:
            notes = [f"netx {'default integrator' if integrator else 'CUBA'} {kind}, read from {where} "
                     "(exact: no re-quantization)"]
            layers.append(_row(name, kind, n, synapses, neuron, [getattr(syn, "weight_exp", 0)], bias_exp, depth,
                               notes + r.notes, interval, offset + 1 + built))
        built += 1
        prev, cur_shape, flatten, in_bits = name, shape, False, out_bits
    populations = (loihi.Compartment, loihi.SigmaDeltaCompartment)
    if not any(isinstance(v, populations) for v in nodes.values()):
        skipped = f" (skip_layers={opts.skip_layers} skips them all)" if opts.skip_layers else ""
        raise FrontendError(f"{path.name}: no layer with neurons{skipped}",
                            hint="the netx file describes no network" if not skipped
                            else "skip fewer layers than the file has")
    if flatten:
        raise FrontendError(f"{path.name}: the last layer is a flatten layer", hint=FIELD_HINT)
    if interval:
        meta["reset"] = {"reset_interval": interval, "reset_offset": offset}
    for key, default in (("skip_layers", 0), ("num_layers", None), ("input_message_bits", 0)):
        if getattr(opts, key) != default:
            meta.setdefault("netx_options", {})[key] = getattr(opts, key)
    graph = Graph(nodes, edges, meta=meta)
    verify(graph)
    return Artifact(graph, Convention(), get_target("loihi2"), latency, layers)


def _sd_row(name: str, kind: str, n: int, synapses: int, neuron: dict, exps: list[int], k: int,
            depth: int, notes: list[str]) -> dict[str, Any]:
    """One row of the compile summary for a sigma-delta layer: ``vth`` the constructor value,
    ``bias_exp`` the pre-scale k = spike_exp + state_exp of vth and bias; no du/dv."""
    return {"name": name, "kind": kind, "neurons": n, "synapses": synapses, "scale": 1.0,
            "vth": int(neuron.get("vth", 0)), "du": "-", "dv": "-", "weight_exps": exps,
            "bias_exp": k, "weight_error": 0.0, "depth": depth, "notes": notes}


def _row(name: str, kind: str, n: int, synapses: int, neuron: dict, exps: list[int], bias_exp: int,
         depth: int, notes: list[str], interval: int, phase: int) -> dict[str, Any]:
    """One row of the compile summary (LayerReport fields)."""
    if interval:
        notes = notes + [f"periodic reset (lava-dl reset_interval={interval}): u = v = 0 at the start of "
                         f"time_step t with t % {interval} == {phase % interval}"]
    return {"name": name, "kind": kind, "neurons": n, "synapses": synapses, "scale": 1.0,
            "vth": neuron["vth"], "du": neuron["du"], "dv": neuron["dv"], "weight_exps": exps,
            "bias_exp": bias_exp, "weight_error": 0.0, "depth": depth, "notes": notes}

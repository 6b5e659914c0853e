"""Export a compiled program as lava-dl netx HDF5 (``lava.lib.dl.netx.hdf5.Network``).

The netx schema (lava-dl 0.6.0, ``netx/hdf5.py`` and ``netx/utils.py``) is a chain of numbered
groups ``layer/0``, ``layer/1``, … each with a ``type`` string:

=========  ==================================================================================
``input``   ``shape`` only (model order (C, H, W) stored; netx reverses it to (W, H, C)); no
            ``neuron``, so the network's input port is the first block's synapse
``dense``   ``shape`` (n_out,), ``weight`` (n_out, n_in) integers, optional ``bias``
            (n_out,), optional ``delay`` (n_out, n_in) extra steps, ``neuron``
``dense_rec`` as ``dense`` plus ``weight_rec`` (n_out, n_out): a population with a block to
            itself (lava-dl optimizes both matrices together; no delays)
``conv``    ``shape`` (C', H', W'), ``weight`` (C', C/g, kH, kW) as in the model (netx flips
            and transposes it exactly as snnc's Lava backend does), ``stride``, ``padding``,
            ``dilation`` in (H, W) order, ``groups``, optional ``bias``, ``neuron``
``flatten`` between a conv and a dense layer (netx flattens Lava's (W, H, C) back to
            C-order (C, H, W), which is snnc's population order)
=========  ==================================================================================

``neuron`` is a ``CUBA`` group with one value per layer, mapped to Lava's LIF registers by
``Network.get_neuron_params``::

    iDecay = du + 1      (netx builds LIF(du = iDecay − 1))
    vDecay = dv,  vThMant = vth,  refDelay = 1,  gradedSpike = False
    bias   = bias_mant · 2^bias_exp / 2^6   (netx fixes bias_exp = 6)

A sigma-delta program (decision 0007, e.g. one read from lava-dl's PilotNet SDNN) is written as
lava-dl's ``SDNN`` layers, the inverse of :mod:`snnc.frontends.netx`: a ``delta`` fed straight by
the input is the ``input`` layer with its neuron (``vThMant``; the program's input transform,
``graph.meta["input_transform"]``, as its ``weight``/``bias``), a ``sigma_delta`` a conv/dense
layer with ``neuron`` ``{type SDNN, activation relu, vThMant}`` and its ``bias`` (per channel
when it is, else per neuron), a ``sigma`` a layer with ``sigma_output``.  lava-dl fixes
``state_exp = 6``, takes ``spike_exp`` from its Network call (default 6, not stored in the file)
and gives every synapse ``messageBits`` 16 (it cannot read the field: lava-dl 0.6's NetDict
returns a group for it and the Network crashes): other exponents or message widths,
``cum_error``, a UNIT activation, a delta behind a synapse or a graded first synapse without an
Input block are refused (:class:`~snnc.errors.BackendError`).

Weights are stored as the effective integer matrix ``M`` of the snnc block (``a = M·s``,
:func:`snnc.backends.netx_weights.folded_weights`); the exporter checks that lava-dl's own
``optimize_weight_bits`` turns ``M`` back into a Lava Dense with the same effective matrix.
What netx cannot express raises :class:`~snnc.errors.BackendError` naming the layer: a graph
that is not one chain, per-neuron decays (netx has one iDecay/vDecay per layer), initial
state, biases switched on late (snnc's ``start_step``), biases off netx's 2^6 grid, weight blocks outside lava-dl's 8-bit
range or whose floor shift cannot be written per synapse, a conv after a dense layer,
recurrence other than one block from a population to itself.  A program compiled for
:func:`netx_target` (``--emit netx``) is on every grid netx imposes: ``weight_exp`` 0, biases
on the 2^6 grid, every neuron from step 0.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.netx_weights import folded_weights, netx_effective_parts
from snnc.compiler.ir import arith, loihi
from snnc.compiler.passes.quantize_sd import BIAS_RELAY
from snnc.compiler.targets import get_target
from snnc.errors import BackendError

#: lava-dl netx fixes the LIF bias exponent (hdf5.py, get_neuron_params)
NETX_BIAS_EXP = 6
#: netx clamps delays to this (hdf5.py, create_dense)
NETX_MAX_DELAY = 62
HINT_CHAIN = "netx describes one feed-forward chain input -> layer -> layer; export to ONNX (--emit onnx) or keep the snnc program"
HINT_RELAY = ("this program comes from the ONNX sigma-delta conversion, whose biases travel through relay "
              "populations that a netx file cannot hold (docs/conversion.md): export an ONNX step model "
              "(prog.export_onnx, --emit onnx), or convert with "
              "snnc.calibration.sigma_delta.convert_sdnn(..., bias='register') (Lava's bias register: bias waves)")


def _fail(node: str, why: str, hint: str) -> BackendError:
    return BackendError(f"cannot be written as lava-dl netx: {why}", node=node, hint=hint)


def chain(prog) -> list[tuple[str, str, str | None]]:
    """The program as a chain of (synapse, compartment, self-synapse or None) from the input;
    raises where it is not one."""
    g = prog.graph
    sources = g.of_kind(loihi.SpikeSource)
    if len(sources) != 1:
        raise _fail("<graph>", f"{len(sources)} inputs (netx has exactly one)", HINT_CHAIN)
    pairs: list[tuple[str, str, str | None]] = []
    cur = sources[0]
    seen = {cur}
    while True:
        nxt = [s for s in g.successors(cur)  # the next block: not a probe, not a self-loop
               if not isinstance(g[s], loihi.Probe) and g.successors(s) != [cur]]
        if not nxt:
            break
        if len(nxt) > 1:
            raise _fail(cur, f"it fans out to {len(nxt)} blocks ({', '.join(nxt)})", HINT_CHAIN)
        syn = nxt[0]
        targets = g.successors(syn)
        if len(targets) != 1 or not isinstance(g[targets[0]], loihi.Compartment):
            raise _fail(syn, "a synapse block that does not feed exactly one population", HINT_CHAIN)
        comp = targets[0]
        # a block from the population to itself is netx's dense_rec; anything else is not a chain
        own = [p for p in g.predecessors(comp) if p != syn and g.predecessors(p) == [comp]
               and isinstance(g[p], loihi.Synapse)]
        preds = [p for p in g.predecessors(comp) if p not in own]
        if any(g[q].meta.get("role") == "bias" for p in preds for q in g.predecessors(p)):
            raise _fail(g[comp].source or comp,
                        "a bias into the synaptic current (a CubaLIF's, or the integrator of a neuron rebuilt "
                        "for reset by subtraction), which snnc feeds from an always-on neuron; netx biases "
                        "enter the voltage", "train this layer without bias (or use reset to value for a "
                        "subtracting LIF/IF), or keep the snnc program")
        if len(own) > 1 or len(preds) != 1:
            raise _fail(comp, f"{len(preds) + len(own)} incoming blocks (netx layers have one, "
                        "plus at most one recurrent block)", HINT_CHAIN)
        if comp in seen:
            raise _fail(comp, "a cycle", HINT_CHAIN)
        seen.add(comp)
        pairs.append((syn, comp, own[0] if own else None))
        cur = comp
    if not pairs:
        raise _fail(sources[0], "no layer after the input", HINT_CHAIN)
    return pairs


def _neuron(name: str, c: loihi.Compartment) -> dict[str, Any]:
    for reg in ("du", "dv"):
        if np.ndim(getattr(c, reg)) and np.unique(np.asarray(getattr(c, reg))).size > 1:
            raise _fail(name, f"per-neuron {reg} (netx stores one iDecay/vDecay per layer)",
                        "give the layer one time constant, or keep the snnc program")
    for arr in ("u_init", "v_init"):
        if getattr(c, arr) is not None and np.any(np.asarray(getattr(c, arr))):
            raise _fail(name, f"non-zero {arr} (netx neurons start at rest)", "drop the initial state")
    return {
        "type": "CUBA",
        "iDecay": int(np.asarray(c.du).flat[0]) + 1,
        "vDecay": int(np.asarray(c.dv).flat[0]),
        "vThMant": int(c.vth),
        "refDelay": 1,
        "gradedSpike": False,
    }


def _bias(name: str, c: loihi.Compartment) -> np.ndarray | None:
    b = arith.effective_bias(c)  # Lava's scale_bias: int16 mantissa, int32 shift
    if not np.any(b):
        return None
    unit = 1 << NETX_BIAS_EXP
    if np.any(b % unit):
        bad = int(b[np.flatnonzero(b % unit)[0]])
        raise _fail(name, f"bias {bad} (bias_mant << bias_exp) is not a multiple of 2^{NETX_BIAS_EXP}; "
                    "netx fixes bias_exp = 6",
                    "compile with target=snnc.backends.netx.netx_target() (what --emit netx does), "
                    "which puts every bias on netx's grid")
    return b // unit


def _effective(name: str, s: loihi.Synapse) -> np.ndarray:
    m = folded_weights(s.dense_weights(), s.weight_exp, s.num_weight_bits, s.sign_mode)
    if m is None:
        raise _fail(name, f"weight_exp={s.weight_exp} floors the sum of weights that are not "
                    f"multiples of 2^{-s.weight_exp}", "compile for netx: snnc compile --emit netx "
                    "(or snnc.backends.netx.netx_target()) keeps weight_exp = 0")
    return m


def _dense(name: str, s: loihi.Synapse, rec: loihi.Synapse | None = None) -> dict[str, Any]:
    mats = [_effective(name, s)] + ([_effective(name, rec)] if rec is not None else [])
    back = netx_effective_parts(mats)
    if isinstance(back, str) or not all(np.array_equal(b, m) for b, m in zip(back, mats)):
        why = back if isinstance(back, str) else "lava-dl's optimize_weight_bits changes the weights"
        raise _fail(name, why, "compile with target=snnc.backends.netx.netx_target() (weight_exp = 0)")
    out: dict[str, Any] = {"type": "dense", "shape": np.array([s.n_out]), "weight": mats[0]}
    if rec is not None:
        if rec.delays is not None and np.any(rec.delays) or s.delays is not None and np.any(s.delays):
            raise _fail(name, "a recurrent layer with delays (lava-dl then drops the weight exponent)",
                        "drop the delays of the recurrent layer")
        out.update(type="dense_rec", weight_rec=mats[1])
    if s.delays is not None and np.any(s.delays):
        d = np.asarray(s.delays, dtype=np.int64)
        if d.max() > NETX_MAX_DELAY:
            raise _fail(name, f"delay {int(d.max())} > {NETX_MAX_DELAY} (netx clamps it)", "shorten the delay")
        out["delay"] = d
    return out


def _conv(s: loihi.ConvSynapse) -> dict[str, Any]:
    return {
        "type": "conv",
        "shape": np.array(s.out_shape),
        "weight": np.asarray(s.weights, dtype=np.int64),
        "stride": np.array(s.stride),
        "padding": np.array(s.padding),
        "dilation": np.array(s.dilation),
        "groups": np.int64(s.groups),
    }


#: lava-dl's SDNN conventions (hdf5.Network: spike_exp default 6, state_exp fixed 6, messageBits 16)
SDNN_EXP = 6
SDNN_MESSAGE_BITS = 16
HINT_SDNN = "lava-dl builds SDNN layers with spike_exp = state_exp = 6, ReLU, no cum_error; keep the snnc program"


def _sd_chain(prog) -> tuple[str | None, list[tuple[str, str]]]:
    """A sigma-delta program as (input delta or None, [(synapse, population), ...]) from its input."""
    g = prog.graph
    sources = g.of_kind(loihi.SpikeSource)
    if len(sources) != 1:
        raise _fail("<graph>", f"{len(sources)} inputs (netx has exactly one)", HINT_CHAIN)
    cur, delta, pairs, seen = sources[0], None, [], set()
    while True:
        nxt = [s for s in g.successors(cur) if not isinstance(g[s], loihi.Probe)]
        if not nxt:
            break
        if len(nxt) > 1:
            raise _fail(cur, f"it fans out to {len(nxt)} blocks ({', '.join(nxt)})", HINT_CHAIN)
        node = g[nxt[0]]
        if isinstance(node, loihi.SigmaDeltaCompartment) and cur == sources[0] and node.neuron == loihi.DELTA:
            delta = cur = nxt[0]  # lava-dl's Input block: the input enters its a_in
            continue
        if not isinstance(node, (loihi.Synapse, loihi.ConvSynapse)):
            raise _fail(nxt[0], f"a {node.kind} where netx needs a synapse block", HINT_CHAIN)
        targets = g.successors(nxt[0])
        if len(targets) != 1 or not isinstance(g[targets[0]], loihi.SigmaDeltaCompartment):
            raise _fail(nxt[0], "a synapse block that does not feed exactly one sigma-delta population "
                        "(netx SDNN layers are all sigma-delta)", HINT_CHAIN)
        comp = targets[0]
        if len(g.predecessors(comp)) != 1 or comp in seen:
            relayed = any(g.predecessors(p) and g.predecessors(p)[0].startswith(BIAS_RELAY)
                          for p in g.predecessors(comp))
            raise _fail(comp, f"{len(g.predecessors(comp))} incoming blocks (netx SDNN layers have one)",
                        HINT_RELAY if relayed else HINT_CHAIN)
        if g[comp].neuron == loihi.DELTA:
            raise _fail(comp, "a delta population behind a synapse (lava-dl builds a Delta only as the Input "
                        "block)", HINT_SDNN)
        seen.add(comp)
        pairs.append((nxt[0], comp))
        cur = comp
    if not pairs and delta is None:
        raise _fail(sources[0], "no layer after the input", HINT_CHAIN)
    return delta, pairs


def _sd_neuron(name: str, c: loihi.SigmaDeltaCompartment, message_bits: int | None) -> dict[str, Any]:
    if c.neuron != loihi.SIGMA:
        bad = [f"{k} = {getattr(c, k)}" for k in ("spike_exp", "state_exp") if int(getattr(c, k)) != SDNN_EXP]
        if bad:
            raise _fail(name, f"{', '.join(bad)} (a netx file does not store them: lava-dl builds spike_exp = "
                        f"state_exp = {SDNN_EXP})", HINT_SDNN)
        if c.cum_error:
            raise _fail(name, "cum_error = True (lava-dl's SDNN neurons have none)", HINT_SDNN)
        if c.neuron == loihi.SIGMA_DELTA and c.activation != "relu":
            raise _fail(name, f"activation {c.activation!r} (lava-dl builds every SDNN layer as a ReLU)", HINT_SDNN)
    if message_bits is not None and int(message_bits) != SDNN_MESSAGE_BITS:
        raise _fail(name, f"the synapse after it takes num_message_bits {message_bits}: lava-dl 0.6 builds "
                    f"{SDNN_MESSAGE_BITS} and cannot read a messageBits field (its Network crashes on it)",
                    "keep the snnc program (it runs other message widths on the emulator and in Lava)")
    out: dict[str, Any] = {"type": "SDNN", "activation": "relu", "vThMant": int(getattr(c, "vth", 0) or 0)}
    if c.neuron == loihi.SIGMA:
        out["sigma_output"] = True
    return out


def _sd_bias(c: loihi.SigmaDeltaCompartment) -> np.ndarray | None:
    """The bias as lava-dl reads it back: per channel (C,) when uniform per channel, else per neuron
    ((W, H, C) for a 3-D population)."""
    if c.bias is None or not np.any(c.bias):
        return None
    b = np.asarray(c.bias, dtype=np.int64).reshape(c.shape)
    if b.ndim == 3:
        per_channel = b.reshape(b.shape[0], -1)
        if np.all(per_channel == per_channel[:, :1]):
            return per_channel[:, 0].astype(np.float32)
        return b.transpose(2, 1, 0).astype(np.float32)
    return b.reshape(-1).astype(np.float32)


def sdnn_layers(prog) -> list[dict[str, Any]]:
    """The netx layers of a sigma-delta program (see the module docstring)."""
    g = prog.graph
    delta, pairs = _sd_chain(prog)
    syns = [s for s, _ in pairs]
    bits_after = {}  # population -> the num_message_bits of the synapse it feeds
    prev = delta
    for s, c in pairs:
        if prev is not None:
            bits_after[prev] = int(g[s].num_message_bits)
        prev = c
    if delta is not None:
        d = g[delta]
        layer: dict[str, Any] = {"type": "input", "shape": np.array(d.shape)}
        layer["neuron"] = _sd_neuron(d.source or delta, d, bits_after.get(delta))
        transform = g.meta.get("input_transform") or g[g.predecessors(delta)[0]].meta.get("input_transform")
        if transform:
            layer["weight"], layer["bias"] = np.int64(transform["weight"]), np.int64(transform["bias"])
        layers = [layer]
        prev_conv = len(d.shape) == 3
    else:
        first = g[syns[0]] if syns else None
        if first is not None and int(first.num_message_bits):
            raise _fail(syns[0], f"the input enters a graded synapse (num_message_bits {first.num_message_bits}) "
                        "without an Input block: a netx file cannot say so (lava-dl's Network(input_message_bits) "
                        "defaults to binary)", "keep the snnc program, or add lava-dl's Input block (a delta "
                        "fed by the input)")
        layers = [{"type": "input", "shape": np.array(prog.input_shape)}]
        prev_conv = len(prog.input_shape) == 3
    for s_name, c_name in pairs:
        s, c = g[s_name], g[c_name]
        label = c.source or c_name
        if isinstance(s, loihi.ConvSynapse):
            if not prev_conv:
                raise _fail(label, "a convolution after a dense layer", "put convolutions first")
            layer = _conv(s)
            prev_conv = True
        else:
            if prev_conv and len(layers) > 1:
                layers.append({"type": "flatten"})
            elif prev_conv and len(layers) == 1 and delta is not None:
                layers.append({"type": "flatten"})
            layer = _dense(label, s)
            prev_conv = False
        layer["neuron"] = _sd_neuron(label, c, bits_after.get(c_name))
        bias = _sd_bias(c) if c.neuron == loihi.SIGMA_DELTA else None
        if bias is not None:
            layer["bias"] = bias
        layers.append(layer)
    return layers


def netx_layers(prog) -> list[dict[str, Any]]:
    """The netx layer dictionaries of ``prog`` (``neuron`` nested); raises if not expressible."""
    g = prog.graph
    sd = g.of_kind(loihi.SigmaDeltaCompartment)
    if sd:
        lif = g.of_kind(loihi.Compartment)
        if lif:
            raise _fail(lif[0], "a LIF population in a sigma-delta program (netx networks are all SDNN or "
                        "all LIF)", HINT_CHAIN)
        return sdnn_layers(prog)
    layers: list[dict[str, Any]] = [{"type": "input", "shape": np.array(prog.input_shape)}]
    prev_conv = len(prog.input_shape) == 3
    for i, (syn, comp, own) in enumerate(chain(prog)):
        s, c = g[syn], g[comp]
        label = c.source or comp
        if isinstance(s, loihi.ConvSynapse):
            if own is not None:
                why = "a recurrent convolution"
                ref = getattr(prog, "reference", None)
                if ref is not None and comp in ref.nodes and ref[comp].meta.get("reset") == "subtract":
                    why += " (the self-synapse of its reset by subtraction, rebuilt from Lava's registers)"
                raise _fail(label, why, "netx has recurrent dense layers only: compile with reset='value' "
                            "(--reset value) for netx, or keep the snnc program")
            if not prev_conv:
                raise _fail(label, "a convolution after a dense layer (netx takes the conv input "
                            "shape from the previous conv)", "put convolutions first")
            layer = _conv(s)
            prev_conv = True
        else:
            if prev_conv and i > 0:
                layers.append({"type": "flatten"})
            layer = _dense(label, s, None if own is None else g[own])
            prev_conv = False
        layer["neuron"] = _neuron(label, c)
        bias = _bias(label, c)
        if bias is not None and c.start_step:
            # snnc switches a bias on when the input first reaches the layer (start_step =
            # synaptic depth); netx's LIF has it from step 0.  Without bias the two agree.
            raise _fail(label, f"a bias that starts at step {c.start_step} (netx biases act from step 0)",
                        "compile with target=snnc.backends.netx.netx_target() (what --emit netx does: every "
                        "neuron runs from step 0, as in lava-dl), or keep the snnc program")
        if bias is not None:
            if layer["type"] == "conv":  # netx neurons are (W, H, C)
                bias = bias.reshape(c.shape).transpose(2, 1, 0)
            layer["bias"] = bias
        layers.append(layer)
    return layers


def _write(group, key: str, value: Any) -> None:
    if isinstance(value, dict):
        sub = group.create_group(key)
        for k, v in value.items():
            _write(sub, k, v)
    elif isinstance(value, str):  # lava-dl reads strings as (1,) ascii, like slayer writes them
        group.create_dataset(key, (1,), "S10", [value.encode("ascii")])
    else:
        group.create_dataset(key, data=value)


def export_netx(prog, path: str | os.PathLike) -> Path:
    """Write ``prog`` to ``path`` as lava-dl netx HDF5; see the module docstring."""
    import h5py

    layers = netx_layers(prog)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with h5py.File(tmp, "w") as f:
        f.attrs["generator"] = "snnc"
        root = f.create_group("layer")
        for i, layer in enumerate(layers):
            _write(root, str(i), layer)
    tmp.replace(path)
    return path


def netx_target(base: str = "loihi2"):
    """``base``'s target on every grid lava-dl netx imposes, so that whatever the quantizer
    produces exports: ``weight_exp`` fixed to 0 (netx stores integer weights and lets lava-dl
    choose the exponent), every bias on netx's 2^6 grid (``bias_exp ≥ 6``: netx fixes
    bias_exp = 6), and every neuron running from step 0 (``hold_until_input=False``: netx has
    no start step).  The extra rounding is reported like any other (the layer table's ``w_err``
    and notes)."""
    spec = get_target(base)
    return dataclasses.replace(spec, name=spec.name, weight_exp_min=0, weight_exp_max=0,
                               bias_exp_min=max(spec.bias_exp_min, NETX_BIAS_EXP), hold_until_input=False)

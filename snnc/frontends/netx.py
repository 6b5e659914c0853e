"""Read lava-dl netx HDF5 (``.net``, ``.h5``) into a compiled program (an
:class:`~snnc.compiler.artifact.Artifact`; ``snnc.load`` wraps it in a :class:`snnc.Program`).

A netx file is already integer (Loihi registers), so it is not re-quantized: every layer
becomes exactly the Lava processes ``lava.lib.dl.netx.hdf5.Network`` builds from it, in
snnc's Loihi dialect, and the program runs on the emulator or Lava with the spikes
lava-dl's Network gives.  Mapping (inverse of :mod:`snnc.backends.netx`)::

    dense   weight W (stored)  ->  Synapse(W << s, weight_exp = −s, num_weight_bits)  with
                                    (s, bits) from lava-dl's optimize_weight_bits
                                    (:func:`snnc.backends.netx_weights.netx_optimize`)
    dense_rec  weight, weight_rec -> the input Synapse and a Synapse from the layer to itself,
                                    sharing (s, bits) optimized over [weight | weight_rec]
            delay              ->  Synapse.delays (clamped to 62 as netx does)
    conv    weight (C', C/g, kH, kW), stride/padding/dilation (H, W), groups -> ConvSynapse
    neuron  CUBA/LOIHI: du = iDecay − 1, dv = vDecay, vth = vThMant, bias_mant = bias,
            bias_exp = 6, start_step = 0 (netx biases act from step 0)
    flatten (C, H, W) -> C-order vector (no node: snnc populations are already flat)

Every layer's population is probed, in order; the program's outputs are named
``layer<i>`` after the HDF5 group.  Not readable (:class:`~snnc.errors.FrontendError` or
:class:`~snnc.errors.UnsupportedOpError`, naming the group): files that are not HDF5 or have
no ``layer`` group (e.g. NIR), sigma-delta (SDNN), resonate-and-fire (RF) and graded-spike
neurons, input layers with a neuron, recurrent layers with delays, complex, pooling, average
and concat layers, ``iDecay = 0`` (Lava's du = −1, outside the 0..4095 register).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.netx_weights import netx_optimize
from snnc.compiler.artifact import Artifact
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi
from snnc.compiler.ir.arith import DECAY_UNITY
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.verify import verify
from snnc.compiler.targets import get_target
from snnc.errors import FrontendError, UnsupportedOpError

NEURON_TYPES = ("CUBA", "LOIHI")
LAYER_TYPES = ("input", "dense", "dense_rec", "conv", "flatten")
NETX_BIAS_EXP = 6


class _Reader:
    """Typed access to one netx layer group with errors naming the file and group."""

    def __init__(self, path: Path, group, where: str):
        self.path, self.g, self.where = path, group, where

    def err(self, msg: str, hint: str, cls=FrontendError) -> FrontendError:
        return cls(f"{self.path.name}: {self.where}: {msg}", node=self.where, hint=hint)

    def has(self, key: str) -> bool:
        return key in self.g

    def str(self, key: str) -> str:
        v = self.array(key)
        v = v.reshape(-1)[0] if v.ndim else v[()]
        return v.decode("ascii") if isinstance(v, bytes) else str(v)

    def array(self, key: str) -> np.ndarray:
        if key not in self.g:
            raise self.err(f"field '{key}' is missing", "re-export the network with lava-dl (slayer export_hdf5)")
        try:
            return np.asarray(self.g[key][()])
        except (TypeError, OSError, AttributeError) as e:
            raise self.err(f"field '{key}' is unreadable ({e})", "the file is damaged; re-export it") from None

    def int(self, key: str) -> int:
        v = self.array(key)
        if v.size != 1 or not np.isfinite(v.astype(np.float64)).all():
            raise self.err(f"field '{key}' must be one number, got shape {v.shape}",
                           "snnc reads one value per layer, as lava-dl does")
        return int(v.reshape(-1)[0])

    def ints(self, key: str) -> np.ndarray:
        v = self.array(key)
        if v.dtype.kind not in "biuf" or (v.dtype.kind == "f" and np.any(v != np.rint(v))):
            raise self.err(f"field '{key}' must hold integers (netx is fixed point)",
                           "export with lava-dl's quantization (slayer export_hdf5)")
        return v.astype(np.int64)


def _open(path: Path):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FrontendError(f"{path.name} is not a readable HDF5 file ({e})",
                            hint="netx files are HDF5 written by lava-dl (slayer export_hdf5) "
                                 "or snnc (--emit netx)") from None
    if "layer" not in f:
        keys = sorted(f.keys())
        f.close()
        hint = ("this looks like a NIR file: rename it to .nir" if "node" in keys
                else "netx files have a 'layer' group with numbered layers")
        raise FrontendError(f"{path.name} is HDF5 but not lava-dl netx (top-level groups: {keys})", hint=hint)
    return f


def _neuron(r: _Reader) -> dict[str, Any]:
    if not r.has("neuron"):
        raise r.err("a layer without 'neuron' (lava-dl's default non-leaky integrator "
                    "with vThMant 2^17 is outside the 17-bit threshold register)",
                    "export the layer with its neuron", UnsupportedOpError)
    n = _Reader(r.path, r.g["neuron"], r.where + "/neuron")
    kind = n.str("type")
    if kind not in NEURON_TYPES:
        raise n.err(f"neuron type {kind!r} is not supported (snnc runs {', '.join(NEURON_TYPES)} "
                    "neurons: Lava's LIF)", "sigma-delta and resonate-and-fire networks need "
                    "lava-dl's own netx runtime", UnsupportedOpError)
    if (n.has("gradedSpike") and n.int("gradedSpike")) or (n.has("messageBits") and n.int("messageBits")):
        raise n.err("graded spikes are not supported", "export with binary spikes", UnsupportedOpError)
    i_decay, v_decay, vth = n.int("iDecay"), n.int("vDecay"), n.int("vThMant")
    top = DECAY_UNITY - 1  # the 12-bit decay registers hold 0..4095
    if not 1 <= i_decay <= DECAY_UNITY:
        raise n.err(f"iDecay={i_decay} outside 1..{DECAY_UNITY} (Lava du = iDecay − 1 must be 0..{top})",
                    "train with a non-zero current decay", UnsupportedOpError)
    if not 0 <= v_decay <= top:
        raise n.err(f"vDecay={v_decay} outside 0..{top}", f"the 12-bit decay register holds 0..{top}")
    if not 0 <= vth <= (1 << 17) - 1:
        raise n.err(f"vThMant={vth} outside 0..131071", "the threshold mantissa has 17 bits")
    return {"du": i_decay - 1, "dv": v_decay, "vth": vth}


def _bias(r: _Reader, n: int, chw: tuple[int, ...] | None) -> tuple[np.ndarray, int]:
    if not r.has("bias"):
        return np.zeros(n, np.int64), 0
    b = r.ints("bias")
    if b.size == n and chw is not None and b.ndim == 3:  # netx neuron-wise (W, H, C)
        b = b.transpose(2, 1, 0)
    elif chw is not None and b.size == chw[0]:  # channel-wise
        b = np.broadcast_to(b.reshape(-1, 1, 1), chw)
    b = b.reshape(-1)
    if b.size == 1:
        b = np.full(n, int(b[0]))
    if b.size != n:
        raise r.err(f"bias has {b.size} values for {n} neurons", "re-export the network")
    exp = NETX_BIAS_EXP
    while np.abs(b).max(initial=0) > 4095 and exp < 7 and not np.any(b % 2):
        b, exp = b // 2, exp + 1
    if np.abs(b).max(initial=0) > 4095:
        raise r.err(f"bias {int(np.abs(b).max())} exceeds the 13-bit mantissa at bias_exp {exp}",
                    "reduce the bias", UnsupportedOpError)
    return b.astype(np.int64), exp


def _pair(r: _Reader, key: str, default: int) -> tuple[int, int]:
    if not r.has(key):
        return (default, default)
    v = r.ints(key).reshape(-1)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _weights(r: _Reader, key: str, n_in: int) -> np.ndarray:
    w = r.ints(key)
    if w.ndim == 1 or w.ndim > 2:
        w = w.reshape(-1, n_in) if w.size % max(n_in, 1) == 0 else w
    if w.ndim != 2 or w.shape[1] != n_in:
        raise r.err(f"{key} of shape {w.shape} does not take the {n_in} inputs it connects",
                    "the layers must form a chain")
    return w


def _optimized(r: _Reader, w: np.ndarray) -> tuple[np.ndarray, int, int]:
    opt = netx_optimize(w)
    if isinstance(opt, str):
        raise r.err(f"lava-dl cannot build this layer: {opt}", "re-export the network", UnsupportedOpError)
    w_lava, bits, exp = opt
    return np.clip(w_lava, -256, 255), bits, exp  # Lava's 8-bit clip; idempotent in its Dense


def _recurrent_synapses(r: _Reader, n_in: int) -> tuple[loihi.Synapse, loihi.Synapse, int]:
    """netx ``dense_rec``: input and recurrent blocks share one (weight_exp, bits), from
    lava-dl's optimizer run on ``[weight | weight_rec]``; each Lava Dense keeps its own sign mode."""
    if r.has("delay"):
        raise r.err("a recurrent layer with delays (lava-dl then drops the weight exponent)",
                    "export the recurrent layer without delays", UnsupportedOpError)
    w = _weights(r, "weight", n_in)
    w_rec = _weights(r, "weight_rec", w.shape[0])
    both, bits, exp = _optimized(r, np.hstack([w, w_rec]))
    make = lambda m, tag: loihi.Synapse(weights=m, weight_exp=exp, num_weight_bits=bits,  # noqa: E731
                                        meta={"source": f"{r.where}/{tag}"})
    return make(both[:, : w.shape[1]], "weight"), make(both[:, w.shape[1] :], "weight_rec"), w.shape[0]


def _dense_synapse(r: _Reader, n_in: int) -> tuple[loihi.Synapse, int]:
    w = _weights(r, "weight", n_in)
    w_lava, bits, exp = _optimized(r, w)
    delays = None
    if r.has("delay"):
        d = r.ints("delay")
        d = np.clip(d, 0, 62)  # as netx does (with a warning)
        if d.size == 1:
            d = np.full(w.shape, int(d.reshape(-1)[0]))
        elif d.ndim == 1 and d.size == w.shape[0]:
            d = np.repeat(d.reshape(-1, 1), w.shape[1], axis=1)
        elif d.ndim == 1 and d.size == w.shape[1]:
            d = np.repeat(d.reshape(1, -1), w.shape[0], axis=0)
        if d.shape != w.shape:
            raise r.err(f"delay of shape {d.shape} does not match weight {w.shape}", "re-export the network")
        delays = d
    syn = loihi.Synapse(weights=w_lava, weight_exp=exp, num_weight_bits=bits, delays=delays,
                        meta={"source": r.where})
    return syn, w.shape[0]


def load_netx(source: str | os.PathLike) -> Artifact:
    """Read a netx file into a compiled program's :class:`Artifact` (see the module docstring)."""
    path = Path(source)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    latency: dict[str, int] = {}
    layers: list[dict[str, Any]] = []  # rows of the compile summary (LayerReport fields)
    with _open(path) as f:
        groups = f["layer"]
        keys = sorted((k for k in groups.keys()), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0))
        if not keys or not all(k.isdigit() for k in keys):
            raise FrontendError(f"{path.name}: 'layer' must hold groups 0, 1, 2, …; found {keys[:5]}",
                                hint="re-export the network with lava-dl")
        in_shape: tuple[int, ...] | None = None
        prev: str | None = None
        cur_shape: tuple[int, ...] | None = None
        depth = 0
        for k in keys:
            r = _Reader(path, groups[k], f"layer/{k}")
            kind = r.str("type")
            if kind not in LAYER_TYPES:
                raise r.err(f"layer type {kind!r} is not supported (snnc reads {', '.join(LAYER_TYPES)})",
                            "pooling, average, concat and complex layers are not mapped by snnc yet",
                            UnsupportedOpError)
            if kind == "flatten":
                continue
            if kind == "input":
                if r.has("neuron"):
                    raise r.err("an input layer with a neuron (lava-dl's Input block) is not supported",
                                "export the network without its input block", UnsupportedOpError)
                if prev is None and r.has("shape"):
                    in_shape = tuple(int(n) for n in r.ints("shape").reshape(-1))
                continue
            neuron = _neuron(r)
            rec = None
            if kind in ("dense", "dense_rec"):
                n_in = int(np.prod(cur_shape)) if cur_shape else int(r.array("weight").shape[-1])
                if kind == "dense":
                    syn, n_out = _dense_synapse(r, n_in)
                else:
                    syn, rec, n_out = _recurrent_synapses(r, n_in)
                shape: tuple[int, ...] = (n_out,)
                chw = None
            else:  # conv
                src_shape = cur_shape or in_shape
                if src_shape is None or len(src_shape) != 3:
                    raise r.err("a conv layer needs a (C, H, W) input shape", "add an input layer with its shape")
                w = r.ints("weight")
                w = w.reshape(w.shape[:4])
                syn = loihi.ConvSynapse(weights=w, in_shape=src_shape, stride=_pair(r, "stride", 1),
                                        padding=_pair(r, "padding", 0), dilation=_pair(r, "dilation", 1),
                                        groups=r.int("groups") if r.has("groups") else 1,
                                        meta={"source": r.where})
                shape = chw = tuple(int(n) for n in syn.out_shape)
            if prev is None:
                in_shape = in_shape if in_shape and int(np.prod(in_shape)) == syn.n_in else (syn.n_in,)
                if kind == "conv":
                    in_shape = src_shape
                nodes["input"] = loihi.SpikeSource(shape=in_shape, meta={"source": "input"})
                prev = "input"
            n = int(np.prod(shape))
            bias, bias_exp = _bias(r, n, chw)
            name = f"layer{k}"
            nodes[f"{name}:syn"] = syn
            nodes[name] = loihi.Compartment(shape=shape, bias_mant=bias, bias_exp=bias_exp,
                                            meta={"source": name, "float_kind": "netx CUBA"}, **neuron)
            nodes[f"{name}:out"] = loihi.Probe(shape=shape, meta={"source": name})
            edges += [(prev, f"{name}:syn"), (f"{name}:syn", name), (name, f"{name}:out")]
            if rec is not None:  # the layer's own spikes, one step later (Lava's Dense buffer)
                nodes[f"{name}:rec"] = rec
                edges += [(name, f"{name}:rec"), (f"{name}:rec", name)]
            depth += 1
            latency[f"{name}:out"] = depth
            layers.append({
                "name": name, "kind": kind, "neurons": n, "synapses": syn.num_synapses + (rec.num_synapses if rec else 0),
                "scale": 1.0, "vth": neuron["vth"], "du": neuron["du"], "dv": neuron["dv"],
                "weight_exps": [getattr(syn, "weight_exp", 0)], "bias_exp": bias_exp,
                "weight_error": 0.0, "depth": depth, "notes": [f"netx CUBA {kind}, read from {r.where} (exact: no re-quantization)"],
            })
            prev, cur_shape = name, shape
    if prev is None:
        raise FrontendError(f"{path.name}: no dense or conv layer", hint="the netx file describes no network")
    graph = Graph(nodes, edges, meta={"source": str(path), "frontend": "netx"})
    verify(graph)
    return Artifact(graph, Convention(), get_target("loihi2"), latency, layers)

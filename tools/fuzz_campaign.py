"""Fuzz campaign: malformed inputs through the CLI and the API, as a user would give them.

Every case is one command (``snnc inspect|run|report|resources|profile|compile``, in process
through :func:`snnc.cli.main`, or a shell pipe) or one API call on one malformed input, and ends
in exactly one of::

    accepted    exit 0 (or the call returned) and nothing out of range was accepted
    refused     exit 2 with ``error:`` and ``hint:`` (the API: an SnncError)
    internal    exit 3, a traceback or an exception that is not an SnncError   (a bug)
    hang        still running after the case's time limit                        (a bug)
    silent      accepted although the input is out of range: a case that must be refused,
                or an accepted program that an independent range check (:func:`oracle`,
                which reads the files without snnc) finds outside Loihi's registers (a bug)

Families (``--family``):

``program``      compiled program directories: truncated/garbled/deleted/extra/mixed files;
                 edited JSON (unknown or missing latency, missing keys, 1-D weights, huge or
                 negative latency, dangling edges, no nodes, duplicate nodes, ...); registers out
                 of range (du 999999, vth −100 or 12.5, weight_exp 100, NaN weights, bias + 1e9,
                 ...); random JSON values and arrays.  Most edits re-hash ``manifest.json`` (as a
                 deliberate edit would), so that the checks behind the manifest are exercised
``netx``         lava-dl netx files: byte flips, truncations, edited datasets
``model_input``  NIR and ONNX models (byte damage, 0-neuron layers, NaN parameters, no outputs)
                 and input arrays (empty batch or time axis, .npy, NaN, pickles, wrong shapes)
                 through run, report, profile and ``compile --check``/``--calibration``
``cli``          numeric options (nan, inf, negative, huge), output paths (an existing file, a
                 path below a file, a directory for a file, 5000 characters), closed pipes
``api``          the public API with arguments of the wrong type or value

Run (the counts in docs/errors.md come from this command)::

    .venv/bin/python tools/fuzz_campaign.py --seed 0

``--scale`` multiplies the number of random cases (the default run has over 1000 cases);
``--json F`` writes every case's outcome; the exit status is 1 when any case is internal,
hang or silent.  ``tests/property/test_fuzz_campaign.py`` runs a seeded subset in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mlp.nir"
EXAMPLE_X = ROOT / "examples" / "mlp_input.npz"
FAMILIES = ("program", "netx", "model_input", "cli", "api")
OUTCOMES = ("accepted", "refused", "internal", "hang", "silent")
BAD = ("internal", "hang", "silent")
#: seconds one case may take before it counts as a hang
CASE_TIMEOUT = 120


@dataclasses.dataclass
class Case:
    family: str
    name: str
    #: what to run: a CLI argv (in process), a shell command (str), or a callable (API)
    action: list[str] | str | Callable[[], Any]
    #: "reject": must be refused; "any": may be accepted (then ``oracle`` must find nothing)
    expect: str = "reject"
    #: after an acceptance: a description of what was accepted out of range, or None
    oracle: Callable[[], str | None] | None = None
    cwd: Path | None = None


@dataclasses.dataclass
class Result:
    family: str
    name: str
    outcome: str
    detail: str
    seconds: float


# ------------------------------------------------------------------------------ fixtures
class Fixtures:
    """Valid programs, models and inputs, built once in ``root``; cases mutate copies."""

    def __init__(self, root: Path):
        import snnc

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # copies: a case that writes beside its model (no -o) writes here, not in examples/
        self.mlp_model = Path(shutil.copy(EXAMPLE, root / "mlp.nir"))
        self.mlp_x = Path(shutil.copy(EXAMPLE_X, root / "mlp_input.npz"))
        self.mlp = root / "mlp_program"
        prog = snnc.compile(self.mlp_model)
        prog.save(self.mlp)
        # the same network with a sparse block and one with synaptic delays (valid programs)
        import scipy.sparse as sp

        nodes = dict(prog.graph.nodes)
        nodes["lif2:syn"] = nodes["lif2:syn"].replace(weights=sp.csr_matrix(nodes["lif2:syn"].weights))
        sparse = type(prog)(prog.graph.with_changes(nodes=nodes), prog.convention, prog.target, prog.latency,
                            prog.layers, prog.timings)
        sparse.reference, sparse.placement = prog.reference, prog.placement
        self.sparse = root / "sparse.snnc"
        sparse.save(self.sparse)
        nodes = dict(prog.graph.nodes)
        w = np.asarray(nodes["lif1:syn"].weights)
        nodes["lif1:syn"] = nodes["lif1:syn"].replace(delays=np.ones(w.shape, np.int64))
        delayed = type(prog)(prog.graph.with_changes(nodes=nodes), prog.convention, prog.target, prog.latency,
                             prog.layers, prog.timings)
        delayed.placement = prog.placement
        self.delayed = root / "delayed.snnc"
        delayed.save(self.delayed)
        # a convolution
        self.conv_model = root / "conv.nir"
        self.conv_x = root / "conv_x.npz"
        _conv_nir(self.conv_model)
        rng = np.random.default_rng(3)
        np.savez(self.conv_x, x=(rng.random((2, 8, 2, 6, 6)) < 0.3).astype(np.uint8))
        self.conv = root / "conv.snnc"
        snnc.compile(self.conv_model).save(self.conv)
        # a converted ANN (ONNX, signed rate encoder: 2 spike channels per input)
        self.ann_model = root / "ann.onnx"
        self.ann_cal = root / "ann_cal.npz"
        self.ann_x = root / "ann_x.npz"
        _ann_onnx(self.ann_model)
        np.savez(self.ann_cal, x=rng.uniform(-1, 1, (64, 8)).astype(np.float32))
        np.savez(self.ann_x, x=rng.uniform(-1, 1, (4, 8)).astype(np.float32))
        self.ann = root / "ann.snnc"
        snnc.compile(self.ann_model, calibration=np.load(self.ann_cal)["x"], timesteps=16).save(self.ann)
        # lava-dl netx, written by snnc's exporter
        from snnc.backends.netx import netx_target

        self.netx = root / "mlp.net"
        try:
            snnc.compile(self.mlp_model, target=netx_target()).export_netx(self.netx)
        except Exception:  # pragma: no cover - netx export unavailable: the family is skipped
            self.netx = None
        self.programs = {"mlp": (self.mlp, self.mlp_x), "sparse": (self.sparse, self.mlp_x),
                         "delayed": (self.delayed, self.mlp_x), "conv": (self.conv, self.conv_x),
                         "ann": (self.ann, self.ann_x)}
        self._n = 0

    def fresh(self, stem: str) -> Path:
        self._n += 1
        return self.root / "cases" / f"{self._n:05d}-{stem}"


def _conv_nir(path: Path) -> None:
    import nir

    rng = np.random.default_rng(3)
    tau = np.full((3, 6, 6), 1e-3)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([2, 6, 6])),
            "conv": nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 0.5, (3, 2, 3, 3)), stride=1,
                               padding=1, dilation=1, groups=1, bias=np.full(3, 0.02)),
            "lif": nir.LIF(tau=tau, r=tau / 1e-4, v_leak=np.zeros_like(tau), v_threshold=np.ones_like(tau)),
            "output": nir.Output(output_type=np.array([3, 6, 6])),
        },
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")],
    )
    nir.write(path, graph)


def _ann_onnx(path: Path, outputs: bool = True, hidden: int = 6) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(hidden, 8)).astype(np.float32)
    w2 = rng.normal(size=(3, max(hidden, 1))).astype(np.float32)[:, :hidden]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "W1"), (np.zeros(hidden, np.float32), "b1"),
                                                        (np.ascontiguousarray(w2), "W2"), (np.zeros(3, np.float32), "b2"))]
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "W2", "b2"], ["y"], transB=1)]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])] if outputs else []
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                          outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))


# ------------------------------------------------------------------------------ program files
def _read_json(p: Path) -> Any:
    return json.loads(p.read_text())


def _write_json(p: Path, doc: Any) -> None:
    p.write_text(json.dumps(doc, indent=1))


def _read_npz(p: Path) -> dict[str, np.ndarray]:
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _write_npz(p: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(p, "wb") as fh:
        np.savez(fh, **arrays)


def rehash(d: Path) -> None:
    """Rewrite manifest.json for the files now in ``d`` (what a deliberate edit would do)."""
    import hashlib

    man = d / "manifest.json"
    if not man.is_file():
        return
    files = {}
    for part in ("program.json", "graph", "reference", "placement.npz"):
        p = d / part
        paths = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else ([p] if p.is_file() else [])
        for q in paths:
            files[q.relative_to(d).as_posix()] = {"sha256": hashlib.sha256(q.read_bytes()).hexdigest(),
                                                  "bytes": q.stat().st_size}
    doc = json.loads(man.read_text())
    doc["files"] = files
    man.write_text(json.dumps(doc, indent=1))


def _nodes(doc: dict, kind: str) -> list[dict]:
    return [n for n in doc["nodes"] if n["kind"] == kind]


def _array_key(field: Any) -> str | None:
    return field.get("$array") if isinstance(field, dict) else None


# ------------------------------------------------------------------------------ the oracle
def oracle(d: Path) -> str | None:
    """An independent range check of the program directory ``d``: reads its files with json
    and numpy only (not snnc) and returns what is outside Loihi's registers, or None."""
    try:
        doc = _read_json(d / "graph" / "graph.json")
        meta = _read_json(d / "program.json")
        arrays = _read_npz(d / "graph" / "arrays.npz")
    except Exception as e:  # snnc accepted files that json/numpy cannot even read
        return f"unreadable files accepted: {type(e).__name__}: {e}"

    def arr(v):
        if isinstance(v, dict) and "$array" in v:
            return arrays[v["$array"]]
        if isinstance(v, dict) and "$sparse" in v:
            return arrays[v["$sparse"] + ".data"]
        if isinstance(v, dict) and "$tuple" in v:
            return np.asarray(v["$tuple"])
        if isinstance(v, dict) and "$float" in v:
            return np.asarray(float(v["$float"]))
        return np.asarray(v)

    def ints_in(v, lo, hi) -> bool:
        a = arr(v)
        return a.dtype.kind in "iu" and (a.size == 0 or (int(a.min()) >= lo and int(a.max()) <= hi))

    names = [n.get("name") for n in doc.get("nodes", [])]
    if not names:
        return "a program without nodes"
    if len(set(names)) != len(names):
        return "duplicate node names"
    for s, t in doc.get("edges", []):
        if s not in names or t not in names:
            return f"dangling edge {s}->{t}"
    probes = [n["name"] for n in doc["nodes"] if n["kind"] == "Probe"]
    comps = [n for n in doc["nodes"] if n["kind"] == "Compartment"]
    lat = meta.get("latency", {})
    if set(lat) != set(probes):
        return f"latency keys {sorted(lat)} != outputs {probes}"
    for k in lat.values():
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= len(comps):
            return f"latency {k!r}"
    for n in doc["nodes"]:
        f = n["fields"]
        if n["kind"] == "Compartment":
            size = int(np.prod(arr(f["shape"]))) if arr(f["shape"]).size else 0
            if size < 1 or arr(f["shape"]).dtype.kind not in "iu" or arr(f["shape"]).min() < 1:
                return f"{n['name']}: shape {f['shape']!r}"
            for reg, lo, hi in (("du", 0, 4095), ("dv", 0, 4095), ("vth", 0, (1 << 17) - 1),
                                ("bias_mant", -4095, 4095), ("bias_exp", 0, 7)):
                if not ints_in(f[reg], lo, hi):
                    return f"{n['name']}: {reg} {arr(f[reg]).ravel()[:3]!r} ({arr(f[reg]).dtype})"
            if arr(f["bias_mant"]).size != size:
                return f"{n['name']}: bias_mant size"
            vs = f.get("v_scale")
            if not isinstance(vs, (int, float)) or isinstance(vs, bool) or not math.isfinite(vs) or vs <= 0:
                return f"{n['name']}: v_scale {vs!r}"
            st = f.get("start_step", 0)
            if not isinstance(st, int) or isinstance(st, bool) or st < 0:
                return f"{n['name']}: start_step {st!r}"
            for reg in ("u_init", "v_init"):
                if f.get(reg) is not None and not ints_in(f[reg], -(1 << 23), (1 << 23) - 1):
                    return f"{n['name']}: {reg}"
        elif n["kind"] in ("Synapse", "ConvSynapse"):
            w = arr(f["weights"])
            if not ints_in(f["weights"], -256, 255):
                return f"{n['name']}: weights {w.dtype} {w.ravel()[:3]!r}"
            if n["kind"] == "Synapse":
                if not isinstance(f["weights"], dict) or ("$array" in f["weights"] and w.ndim != 2):
                    return f"{n['name']}: weights of shape {w.shape}"
                if not ints_in(f.get("weight_exp", 0), -8, 7):
                    return f"{n['name']}: weight_exp {f.get('weight_exp')!r}"
                if not ints_in(f.get("num_weight_bits", 8), 1, 8):
                    return f"{n['name']}: num_weight_bits {f.get('num_weight_bits')!r}"
                if f.get("delays") is not None and not ints_in(f["delays"], 0, 62):
                    return f"{n['name']}: delays"
    return None


# ------------------------------------------------------------------------------ program cases
def _program_ops() -> list[tuple[str, Callable[[Path, random.Random], None], bool]]:
    """(name, edit(d, rng), rehash) -- targeted edits that must all be refused."""
    ops: list[tuple[str, Callable[[Path, random.Random], None], bool]] = []

    def meta_edit(fn):
        def edit(d, rng):
            m = _read_json(d / "program.json")
            fn(m)
            _write_json(d / "program.json", m)
        return edit

    def graph_edit(fn):
        def edit(d, rng):
            g = _read_json(d / "graph" / "graph.json")
            fn(g, rng)
            _write_json(d / "graph" / "graph.json", g)
        return edit

    def comp_field(field, value):
        def fn(g, rng):
            rng.choice(_nodes(g, "Compartment"))["fields"][field] = value
        return graph_edit(fn)

    def syn_field(field, value):
        def fn(g, rng):
            syns = _nodes(g, "Synapse") or _nodes(g, "ConvSynapse")
            rng.choice(syns)["fields"][field] = value
        return graph_edit(fn)

    def array_edit(kind, field, make):
        def edit(d, rng):
            g = _read_json(d / "graph" / "graph.json")
            a = _read_npz(d / "graph" / "arrays.npz")
            cands = [n for n in _nodes(g, kind) if _array_key(n["fields"].get(field))]
            if kind == "Synapse" and not cands:
                cands = [n for n in _nodes(g, "ConvSynapse") if _array_key(n["fields"].get(field))]
            if not cands:  # the field is a scalar or None here: write an array
                cands = _nodes(g, kind) or _nodes(g, "ConvSynapse")
                node = rng.choice(cands)
                key = f"fuzz_{field}"
                node["fields"][field] = {"$array": key}
                a[key] = make(None, node, a)
            else:
                node = rng.choice(cands)
                key = _array_key(node["fields"][field])
                a[key] = make(a[key], node, a)
            _write_json(d / "graph" / "graph.json", g)
            _write_npz(d / "graph" / "arrays.npz", a)
        return edit

    def first_probe(m):
        return next(iter(m["latency"]))

    # ---- program.json: the latency table, keys, layer rows, encoder, convention, target
    ops += [
        ("latency-unknown-output", meta_edit(lambda m: m["latency"].update({"no_such_output": 2})), True),
        ("latency-missing-output", meta_edit(lambda m: m["latency"].pop(first_probe(m))), True),
        ("latency-huge", meta_edit(lambda m: m["latency"].update({first_probe(m): 10**12})), True),
        ("latency-negative", meta_edit(lambda m: m["latency"].update({first_probe(m): -1})), True),
        ("latency-float", meta_edit(lambda m: m["latency"].update({first_probe(m): 2.5})), True),
        ("latency-string", meta_edit(lambda m: m["latency"].update({first_probe(m): "2"})), True),
        ("latency-off-by-one", meta_edit(lambda m: m["latency"].update({first_probe(m): m["latency"][first_probe(m)] + 1})), True),
        ("latency-not-a-dict", meta_edit(lambda m: m.update(latency=[2])), True),
        ("no-latency-key", meta_edit(lambda m: m.pop("latency")), True),
        ("no-convention-key", meta_edit(lambda m: m.pop("convention")), True),
        ("format-newer", meta_edit(lambda m: m.update(format=99)), True),
        ("format-string", meta_edit(lambda m: m.update(format="2")), True),
        ("convention-dt-negative", meta_edit(lambda m: m["convention"].update(dt=-1.0)), True),
        ("convention-unknown-key", meta_edit(lambda m: m["convention"].update(speed=3)), True),
        ("convention-integration", meta_edit(lambda m: m["convention"].update(integration="rk4")), True),
        ("target-spec-unknown-key", meta_edit(lambda m: m["target_spec"].update(warp=9)), True),
        ("target-spec-string", meta_edit(lambda m: m["target_spec"].update(cores_per_chip="many")), True),
        ("layers-not-a-list", meta_edit(lambda m: m.update(layers={"a": 1})), True),
        ("layer-row-not-a-dict", meta_edit(lambda m: m["layers"].__setitem__(0, 7)), True),
        ("layer-row-nan-error", meta_edit(lambda m: m["layers"][0].update(weight_error=float("nan"))), True),
        ("layer-row-no-name", meta_edit(lambda m: m["layers"][0].pop("name")), True),
        ("timings-nan", meta_edit(lambda m: m["timings"].update(quantize=float("nan"))), True),
        ("program-json-a-list", lambda d, rng: _write_json(d / "program.json", [1, 2]), True),
        ("program-json-garbled", lambda d, rng: (d / "program.json").write_text('{"format": 2, "lat'), True),
    ]
    # ---- graph.json: structure
    ops += [
        ("graph-no-nodes", graph_edit(lambda g, r: g.update(nodes=[], edges=[])), True),
        ("graph-dangling-edge", graph_edit(lambda g, r: g["edges"].append([g["nodes"][1]["name"], "ghost"])), True),
        ("graph-duplicate-node", graph_edit(lambda g, r: g["nodes"].append(json.loads(json.dumps(r.choice(g["nodes"]))))), True),
        ("graph-duplicate-edge", graph_edit(lambda g, r: g["edges"].append(list(r.choice(g["edges"])))), True),
        ("graph-edge-removed", graph_edit(lambda g, r: g["edges"].pop(r.randrange(len(g["edges"])))), True),
        ("graph-unknown-kind", graph_edit(lambda g, r: r.choice(g["nodes"]).update(kind="Teleporter")), True),
        ("graph-kind-swapped", graph_edit(lambda g, r: _nodes(g, "Probe")[0].update(kind="SpikeSource")), True),
        ("graph-two-sources", graph_edit(lambda g, r: g["nodes"].append({**json.loads(json.dumps(_nodes(g, "SpikeSource")[0])), "name": "input2"})), True),
        ("graph-no-probe", graph_edit(lambda g, r: (g.update(nodes=[n for n in g["nodes"] if n["kind"] != "Probe"]), g.update(edges=[e for e in g["edges"] if e[1] in {n["name"] for n in g["nodes"]}]))), True),
        ("graph-unknown-field", comp_field("colour", "red"), True),
        ("graph-format-version", graph_edit(lambda g, r: g.update(version=99)), True),
        ("graph-nodes-not-a-list", graph_edit(lambda g, r: g.update(nodes={"a": 1})), True),
        ("graph-edge-not-a-pair", graph_edit(lambda g, r: g["edges"].append(["a"])), True),
        ("graph-bad-tag", comp_field("vth", {"$quaternion": 1}), True),
        ("graph-missing-array", comp_field("bias_mant", {"$array": "nope"}), True),
        ("graph-bad-float-tag", comp_field("v_scale", {"$float": "lots"}), True),
        ("graph-bad-enum", syn_field("sign_mode", {"$enum": "SignMode", "value": 7}), True),
        ("graph-deep-nesting", _deep_nesting, True),
    ]
    # ---- registers out of range (the list and the rest of the registers)
    ops += [
        ("du-999999", comp_field("du", 999999), True),
        ("du-negative", comp_field("du", -1), True),
        ("dv-4096", comp_field("dv", 4096), True),
        ("dv-string", comp_field("dv", "fast"), True),
        ("vth-minus-100", comp_field("vth", -100), True),
        ("vth-12.5", comp_field("vth", 12.5), True),
        ("vth-2^17", comp_field("vth", 1 << 17), True),
        ("vth-null", comp_field("vth", None), True),
        ("vth-nan", comp_field("vth", {"$float": "nan"}), True),
        ("bias-exp-99", comp_field("bias_exp", 99), True),
        ("bias-exp-negative", comp_field("bias_exp", -3), True),
        ("start-step-negative", comp_field("start_step", -1), True),
        ("readout-unknown", comp_field("readout", "sparkles"), True),
        ("v-scale-zero", comp_field("v_scale", 0.0), True),
        ("v-scale-inf", comp_field("v_scale", {"$float": "inf"}), True),
        ("shape-zero", comp_field("shape", {"$tuple": [0]}), True),
        ("shape-empty", comp_field("shape", {"$tuple": []}), True),
        ("shape-list", comp_field("shape", [48]), True),
        ("shape-negative", comp_field("shape", {"$tuple": [-48]}), True),
        ("weight-exp-100", syn_field("weight_exp", 100), True),
        ("weight-exp-minus-9", syn_field("weight_exp", -9), True),
        ("weight-exp-float", syn_field("weight_exp", 1.5), True),
        ("num-weight-bits-0", syn_field("num_weight_bits", 0), True),
        ("num-weight-bits-9", syn_field("num_weight_bits", 9), True),
        ("probe-shape", graph_edit(lambda g, r: _nodes(g, "Probe")[0]["fields"].update(shape={"$tuple": [7]})), True),
        ("source-shape", graph_edit(lambda g, r: _nodes(g, "SpikeSource")[0]["fields"].update(shape={"$tuple": [5]})), True),
        ("weights-nan", array_edit("Synapse", "weights", lambda a, n, *_: np.where(np.arange(a.size).reshape(a.shape) == 0, np.nan, a.astype(float))), True),
        ("weights-float", array_edit("Synapse", "weights", lambda a, n, *_: a.astype(float) + 0.5), True),
        ("weights-999", array_edit("Synapse", "weights", lambda a, n, *_: np.where(np.arange(a.size).reshape(a.shape) == 1, 999, a)), True),
        ("weights-1d", array_edit("Synapse", "weights", lambda a, n, *_: a.reshape(-1)), True),
        ("weights-3d", array_edit("Synapse", "weights", lambda a, n, *_: a[None]), True),
        ("weights-transposed", array_edit("Synapse", "weights", lambda a, n, *_: (a.T if a.shape[0] != a.shape[-1] else np.pad(a, ((0, 0), (0, 1)))) if a.ndim == 2 else a.reshape(a.shape[::-1])), True),
        ("weights-empty", array_edit("Synapse", "weights", lambda a, n, *_: a[:0]), True),
        ("weights-bool", array_edit("Synapse", "weights", lambda a, n, *_: a != 0), True),
        ("weights-strings", array_edit("Synapse", "weights", lambda a, n, *_: np.full(a.shape, "w")), True),
        ("bias-plus-1e9", array_edit("Compartment", "bias_mant", lambda a, n, *_: a + 10**9), True),
        ("bias-float", array_edit("Compartment", "bias_mant", lambda a, n, *_: a.astype(float) + 0.25), True),
        ("bias-wrong-size", array_edit("Compartment", "bias_mant", lambda a, n, *_: np.concatenate([a, a])), True),
        ("bias-uint64-huge", array_edit("Compartment", "bias_mant", lambda a, n, *_: np.full(a.shape, 2**63, np.uint64)), True),
        ("du-per-neuron-wrong-size", array_edit("Compartment", "du", lambda a, n, *_: np.zeros(_size(n) + 1, np.int64)), True),
        ("dv-per-neuron-5000", array_edit("Compartment", "dv", lambda a, n, *_: np.full(_size(n), 5000, np.int64)), True),
        ("v-init-huge", array_edit("Compartment", "v_init", lambda a, n, *_: np.full(_size(n), 1 << 30, np.int64)), True),
        ("u-init-wrong-size", array_edit("Compartment", "u_init", lambda a, n, *_: np.zeros(1, np.int64)), True),
        ("v-offset-nan", array_edit("Compartment", "v_offset", lambda a, n, *_: np.full(_size(n), np.nan)), True),
        ("sparse-weights-float", _sparse_data(lambda a: a.astype(float) + 0.5), True),
        ("sparse-weights-complex", _sparse_data(lambda a: a.astype(np.complex64)), True),
        ("sparse-weights-999", _sparse_data(lambda a: a + 999), True),
        ("sparse-indices-out-of-range", _sparse_part("indices", lambda a: a + 10**6), True),
        ("sparse-indptr-decreasing", _sparse_part("indptr", lambda a: a[::-1].copy()), True),
        ("delays-99", array_edit("Synapse", "delays", lambda a, n, arrays: np.full(_weights_shape(n, arrays), 99, np.int64)), True),
        ("delays-wrong-shape", array_edit("Synapse", "delays", lambda a, n, *_: np.zeros(3, np.int64)), True),
        ("delays-negative", array_edit("Synapse", "delays", lambda a, n, arrays: np.full(_weights_shape(n, arrays), -1, np.int64)), True),
    ]
    # ---- the other files
    ops += [
        ("placement-core-out-of-range", _placement_edit(lambda pl: pl["core_of_0"].__setitem__(0, 10**6)), True),
        ("placement-wrong-size", _placement_edit(lambda pl: pl.update(core_of_0=pl["core_of_0"][:1])), True),
        ("placement-chip-negative", _placement_edit(lambda pl: pl.update(chip_of_core=-pl["chip_of_core"] - 1)), True),
        ("placement-header-garbled", _placement_edit(lambda pl: pl.update(header=np.array("{not json"))), True),
        ("placement-header-population", _placement_edit(lambda pl: pl.update(header=np.array(json.dumps({"target": "loihi2", "strategy": "x", "populations": ["ghost"]})))), True),
        ("placement-float-cores", _placement_edit(lambda pl: pl.update(core_of_0=pl["core_of_0"] + 0.5)), True),
        ("reference-nan", _reference_nan, True),
        ("reference-input-shape", _reference_input, True),
        ("encoder-scale-zero", meta_edit(lambda m: m.update(encoder={"kind": "rate", "in_shape": [8], "scale": 0.0, "timesteps": 16, "signed": True})), True),
        ("encoder-timesteps-huge", meta_edit(lambda m: m.update(encoder={"kind": "rate", "in_shape": [8], "scale": 1.0, "timesteps": 10**12, "signed": True})), True),
        ("encoder-unknown-kind", meta_edit(lambda m: m.update(encoder={"kind": "poisson", "in_shape": [8], "scale": 1.0, "timesteps": 16, "signed": True})), True),
        ("encoder-shape-mismatch", meta_edit(lambda m: m.update(encoder={"kind": "rate", "in_shape": [5], "scale": 1.0, "timesteps": 16, "signed": False})), True),
        ("encoder-missing-keys", meta_edit(lambda m: m.update(encoder={"kind": "rate"})), True),
    ]
    # ---- the directory itself (the manifest is left as the save wrote it)
    ops += [
        ("manifest-removed", lambda d, rng: (d / "manifest.json").unlink(), False),
        ("manifest-garbled", lambda d, rng: (d / "manifest.json").write_text("{\"format\": "), False),
        ("file-deleted", lambda d, rng: rng.choice([p for p in d.rglob("*") if p.is_file() and p.name != "manifest.json"]).unlink(), False),
        ("file-extra", lambda d, rng: (d / "graph" / "old.npz").write_bytes(b"PK\x03\x04"), False),
        ("program-json-edited", meta_edit(lambda m: m.update(snnc_version="9.9")), False),
        ("graph-json-edited-no-rehash", comp_field("vth", 1), False),
        ("directory-is-a-file", _dir_to_file, False),
        ("graph-dir-is-a-file", lambda d, rng: (shutil.rmtree(d / "graph"), (d / "graph").write_text("x")), False),
    ]
    return ops


def _size(node: dict) -> int:
    return int(np.prod(node["fields"]["shape"]["$tuple"]))


def _weights_shape(node: dict, arrays: dict[str, np.ndarray]) -> tuple[int, ...]:
    w = node["fields"].get("weights")
    if isinstance(w, dict) and "$array" in w:
        return tuple(arrays[w["$array"]].shape)
    if isinstance(w, dict) and "$sparse" in w:
        return tuple(int(v) for v in arrays[w["$sparse"] + ".shape"])
    return (1,)


def _sparse_part(part: str, fn):
    def edit(d, rng):
        g = _read_json(d / "graph" / "graph.json")
        keys = [n["fields"]["weights"]["$sparse"] for n in _nodes(g, "Synapse")
                if isinstance(n["fields"].get("weights"), dict) and "$sparse" in n["fields"]["weights"]]
        if not keys:
            raise _Skip
        a = _read_npz(d / "graph" / "arrays.npz")
        k = f"{rng.choice(keys)}.{part}"
        a[k] = fn(a[k])
        _write_npz(d / "graph" / "arrays.npz", a)
    return edit


def _sparse_data(fn):
    return _sparse_part("data", fn)


def _placement_edit(fn):
    def edit(d, rng):
        p = d / "placement.npz"
        if not p.is_file():
            raise _Skip
        pl = _read_npz(p)
        fn(pl)
        _write_npz(p, pl)
    return edit


def _reference_nan(d: Path, rng) -> None:
    p = d / "reference" / "arrays.npz"
    if not p.is_file():
        raise _Skip
    a = _read_npz(p)
    key = rng.choice([k for k, v in a.items() if v.dtype.kind == "f" and v.size])
    a[key] = a[key].copy()
    a[key].reshape(-1)[0] = np.nan
    _write_npz(p, a)


def _reference_input(d: Path, rng) -> None:
    p = d / "reference" / "graph.json"
    if not p.is_file():
        raise _Skip
    g = _read_json(p)
    _nodes(g, "Input")[0]["fields"]["shape"] = {"$tuple": [3]}
    _write_json(p, g)


def _deep_nesting(d: Path, rng) -> None:
    p = d / "graph" / "graph.json"
    text = p.read_text()
    p.write_text(text.replace('"readout": "spikes"', '"readout": ' + "[" * 100000 + "]" * 100000, 1))


def _dir_to_file(d: Path, rng) -> None:
    shutil.rmtree(d)
    d.write_text("not a directory")


class _Skip(Exception):
    """The edit does not apply to this program (e.g. no placement): pick another program."""


def _random_json_edit(d: Path, rng: random.Random) -> str:
    """Replace one random value of program.json or graph.json by a random odd value."""
    pool = [-1, 0, 1, 2**31, 2**63, -(2**40), 12.5, -0.5, 1e300, None, True, "x", "", [], {}, [1, 2],
            {"$tuple": [0]}, {"$array": "missing"}, {"$float": "nan"}, {"$tuple": [-1]}, 4096, 131072, 63, 8]
    f = d / rng.choice(["program.json", "graph/graph.json", "graph/graph.json"])
    doc = _read_json(f)
    paths = list(_leaves(doc, ()))
    path = rng.choice(paths)
    value = rng.choice(pool)
    _set(doc, path, value)
    _write_json(f, doc)
    return f"{f.relative_to(d)}:{'/'.join(map(str, path))}={value!r}"[:120]


def _leaves(doc: Any, path: tuple) -> Iterator[tuple]:
    if isinstance(doc, dict):
        if not doc:
            yield path
        for k, v in doc.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(doc, list):
        if not doc:
            yield path
        for i, v in enumerate(doc):
            yield from _leaves(v, path + (i,))
    else:
        yield path


def _set(doc: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        doc = doc[k]
    if path:
        doc[path[-1]] = value


def _random_array_edit(d: Path, rng: random.Random) -> str:
    """Replace one random array of graph/arrays.npz by a random variant."""
    p = d / "graph" / "arrays.npz"
    a = _read_npz(p)
    key = rng.choice(sorted(a))
    old = a[key]
    kind = rng.randrange(8)
    nrng = np.random.default_rng(rng.randrange(2**32))
    if kind == 0:  # same shape, huge integers
        new = nrng.integers(-(2**40), 2**40, size=old.shape)
    elif kind == 1:  # same shape, floats
        new = nrng.normal(0, 1000, size=old.shape)
    elif kind == 2:  # NaN / inf
        new = np.full(old.shape, rng.choice([np.nan, np.inf, -np.inf]))
    elif kind == 3:  # another shape
        new = np.resize(old, (max(old.size // 2, 1),) + old.shape[1:]) if old.ndim else np.arange(3)
    elif kind == 4:  # empty
        new = old.reshape(-1)[:0]
    elif kind == 5:  # 0-d
        new = np.asarray(old.reshape(-1)[0] if old.size else 0)
    elif kind == 6:  # another dtype
        new = old.astype(rng.choice([np.int8, np.uint8, np.float16, np.complex64, bool]))
    else:  # values within a small range (may well be a valid program)
        new = nrng.integers(-300, 300, size=old.shape) if old.dtype.kind in "iu" else old * 1.5
    a[key] = new
    _write_npz(p, a)
    return f"arrays.npz:{key} -> {new.dtype} {new.shape} (variant {kind})"


def _byte_damage(d: Path, rng: random.Random) -> str:
    files = sorted(p for p in d.rglob("*") if p.is_file() and p.name != "manifest.json")
    f = rng.choice(files)
    data = bytearray(f.read_bytes())
    kind = rng.randrange(3)
    if kind == 0 and data:
        cut = rng.randrange(len(data))
        data = data[:cut]
        what = f"truncated at {cut}"
    elif kind == 1 and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        what = "bytes flipped"
    else:
        start = rng.randrange(max(len(data), 1))
        data[start:start + 64] = bytes(rng.randrange(256) for _ in range(64))
        what = "64 bytes overwritten"
    f.write_bytes(bytes(data))
    return f"{f.relative_to(d)} {what}"


def program_cases(fx: Fixtures, rng: random.Random, n_random: int) -> list[Case]:
    cases = []
    commands = ("inspect", "run", "resources", "report", "profile")
    ops = _program_ops()
    names = list(fx.programs)
    i = 0
    # every targeted edit on every program it applies to, each through one command
    for name, edit, do_rehash in ops:
        for prog in names:
            i += 1
            case = _program_case(fx, rng, prog, commands[i % len(commands)], name, edit, do_rehash)
            if case is not None:
                cases.append(case)
    # random edits: JSON values, arrays, bytes (with and without a re-hashed manifest)
    for k in range(n_random):
        prog = rng.choice(names)
        which = k % 3
        edit = (_random_json_edit, _random_array_edit, _byte_damage)[which]
        do_rehash = which < 2 or rng.random() < 0.5
        case = _program_case(fx, rng, prog, commands[k % len(commands)],
                             ("random-json", "random-array", "bytes")[which], edit, do_rehash, expect="any")
        if case is not None:
            cases.append(case)
    return cases


def _program_case(fx, rng, prog, command, name, edit, do_rehash, expect="reject") -> Case | None:
    src, x = fx.programs[prog]
    d = fx.fresh(f"{prog}-{name}")
    d.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, d)
    try:
        what = edit(d, rng)
    except _Skip:
        shutil.rmtree(d, ignore_errors=True)
        return None
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):  # not applicable to this program
        shutil.rmtree(d, ignore_errors=True)
        return None
    if do_rehash and d.is_dir():
        rehash(d)
    argv = [command, str(d)]
    if command in ("run", "report", "profile"):
        argv += ["--input", str(x)]
    label = f"{prog}/{name}" + (f" [{what}]" if isinstance(what, str) else "") + ("" if do_rehash else " (manifest as saved)")
    return Case("program", f"{label} via {command}", argv, expect, (lambda: oracle(d)) if d.is_dir() else None)


# ------------------------------------------------------------------------------ netx cases
def netx_cases(fx: Fixtures, rng: random.Random, n: int) -> list[Case]:
    if fx.netx is None:
        return []
    import h5py

    cases = []
    data = fx.netx.read_bytes()
    for k in range(n):
        f = fx.fresh("model") .with_suffix(".net")
        f.parent.mkdir(parents=True, exist_ok=True)
        kind = k % 4
        if kind < 3:  # bytes
            buf = bytearray(data)
            if kind == 0:
                buf = buf[: rng.randrange(len(buf))]
            elif kind == 1:
                for _ in range(rng.randint(1, 16)):
                    buf[rng.randrange(len(buf))] ^= rng.randint(1, 255)
            else:
                s = rng.randrange(min(len(buf), 4096))
                buf[s:s + 256] = bytes(rng.randrange(256) for _ in range(256))
            f.write_bytes(bytes(buf))
            what = ("truncated", "bytes flipped", "header overwritten")[kind]
        else:  # an edited dataset
            shutil.copy(fx.netx, f)
            with h5py.File(f, "r+") as h:
                names = []
                h.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
                name = rng.choice(names)
                value = rng.choice([np.array([]), np.array(np.nan), np.array(-(2**40)), np.array("\xe9t\xe9".encode("latin-1")),
                                    np.zeros((3, 3, 3)), np.array(b"CUBA\xff"), np.array(1e30), np.array([1, 2, 3])])
                del h[name]
                h[name] = value
            what = f"dataset {name} replaced"
        command = ("inspect", "compile")[k % 2]
        argv = [command, str(f)] + (["-o", str(f.with_suffix(".snnc"))] if command == "compile" else [])
        cases.append(Case("netx", f"netx {what} via {command}", argv, "any"))
    return cases


# ------------------------------------------------------------------------------ models, inputs
def model_input_cases(fx: Fixtures, rng: random.Random, n_random: int) -> list[Case]:
    import nir

    cases = []
    d = fx.root / "models"
    d.mkdir(parents=True, exist_ok=True)

    def nir_file(name, nodes, edges):
        p = d / f"{name}.nir"
        nir.write(p, nir.NIRGraph(nodes=nodes, edges=edges))
        return p

    z = np.zeros
    tau = np.full(4, 1e-3)
    lif = lambda n, **kw: nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=z(n), v_threshold=np.ones(n), **kw)  # noqa: E731
    models = {
        "zero-neuron-layer": ([("input", nir.Input(input_type=np.array([4]))),
                               ("fc", nir.Linear(weight=z((0, 4)))), ("lif", lif(0)),
                               ("output", nir.Output(output_type=np.array([0])))],
                              [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
        "zero-input": ([("input", nir.Input(input_type=np.array([0]))), ("fc", nir.Linear(weight=z((4, 0)))),
                        ("lif", lif(4)), ("output", nir.Output(output_type=np.array([4])))],
                       [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
        "nan-weights": ([("input", nir.Input(input_type=np.array([4]))), ("fc", nir.Linear(weight=np.full((4, 4), np.nan))),
                         ("lif", lif(4)), ("output", nir.Output(output_type=np.array([4])))],
                        [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
        "inf-tau": ([("input", nir.Input(input_type=np.array([4]))), ("fc", nir.Linear(weight=np.eye(4))),
                     ("lif", nir.LIF(tau=np.full(4, np.inf), r=np.ones(4), v_leak=z(4), v_threshold=np.ones(4))),
                     ("output", nir.Output(output_type=np.array([4])))],
                    [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
        "shape-mismatch": ([("input", nir.Input(input_type=np.array([4]))), ("fc", nir.Linear(weight=np.eye(3))),
                            ("lif", lif(3)), ("output", nir.Output(output_type=np.array([3])))],
                           [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
        "no-output": ([("input", nir.Input(input_type=np.array([4]))), ("fc", nir.Linear(weight=np.eye(4))), ("lif", lif(4))],
                      [("input", "fc"), ("fc", "lif")]),
        "dangling-edge": ([("input", nir.Input(input_type=np.array([4]))), ("fc", nir.Linear(weight=np.eye(4))),
                           ("lif", lif(4)), ("output", nir.Output(output_type=np.array([4])))],
                          [("input", "fc"), ("fc", "lif"), ("lif", "output"), ("lif", "ghost")]),
        "negative-threshold": ([("input", nir.Input(input_type=np.array([4]))), ("fc", nir.Linear(weight=np.eye(4))),
                                ("lif", nir.LIF(tau=tau, r=np.full(4, 10.0), v_leak=z(4), v_threshold=-np.ones(4))),
                                ("output", nir.Output(output_type=np.array([4])))],
                               [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
        "empty-graph": ([], []),
    }
    for name, (nodes, edges) in models.items():
        try:
            p = nir_file(name, dict(nodes), edges)
        except Exception:  # nir refuses to write it: nothing to feed snnc
            continue
        for cmd in ("compile", "inspect"):
            argv = [cmd, str(p)] + (["-o", str(fx.fresh(name))] if cmd == "compile" else [])
            # NIR adds Output nodes to sinks; inspect describes a model without compiling it
            # (a threshold below the reset is a compile-time refusal)
            expect = "any" if name == "no-output" or (cmd == "inspect" and name == "negative-threshold") else "reject"
            cases.append(Case("model_input", f"nir {name} via {cmd}", argv, expect))
    # ONNX: without outputs, garbled, an output that is no tensor
    no_out = d / "no_outputs.onnx"
    _ann_onnx(no_out, outputs=False)
    zero = d / "zero_hidden.onnx"
    _ann_onnx(zero, hidden=0)
    for p in (no_out, zero):
        for cmd in ("compile", "inspect"):
            argv = [cmd, str(p)] + (["-o", str(fx.fresh(p.stem)), "--calibration", str(fx.ann_cal)] if cmd == "compile" else [])
            cases.append(Case("model_input", f"onnx {p.stem} via {cmd}", argv, "reject"))
    for k, (src, suffix) in enumerate([(fx.mlp_model, ".nir"), (fx.ann_model, ".onnx")] * max(n_random // 2, 1)):
        if k >= n_random:
            break
        p = d / f"damaged{k}{suffix}"
        buf = bytearray(Path(src).read_bytes())
        if k % 3 == 0:
            buf = buf[: rng.randrange(len(buf))]
        else:
            for _ in range(rng.randint(1, 12)):
                buf[rng.randrange(len(buf))] ^= rng.randint(1, 255)
        p.write_bytes(bytes(buf))
        cmd = ("compile", "inspect")[k % 2]
        argv = [cmd, str(p)] + (["-o", str(fx.fresh("damaged"))] if cmd == "compile" else [])
        if cmd == "compile" and suffix == ".onnx":
            argv += ["--calibration", str(fx.ann_cal)]
        cases.append(Case("model_input", f"{suffix[1:]} damaged bytes #{k} via {cmd}", argv, "any"))
    # input arrays
    x = np.load(fx.mlp_x)["x"]
    inputs = {
        "empty-batch": x[:0], "empty-time": x[:, :0], "zero-d": np.asarray(1), "one-d": x[0, 0],
        "nan": np.where(x == 1, np.nan, 0.0), "graded": x * 0.5, "negative": -x.astype(np.int8),
        "strings": np.full(x.shape, "a"), "complex": x.astype(np.complex64), "wrong-shape": x[..., :63],
        "extra-axis": x[..., None], "huge-values": x.astype(np.int64) * 2**40, "bool": x.astype(bool),
        "float16": x.astype(np.float16), "object-pickle": None, "npy": x, "no-key-x": x, "garbled": None,
        "directory": None, "empty-file": None,
    }
    for name, arr in inputs.items():
        p = d / f"in_{name}.npz"
        if name == "object-pickle":
            np.save(d / "in_obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
            p = d / "in_obj.npy"
        elif name == "npy":
            p = d / "in_x.npy"
            np.save(p, arr)
        elif name == "no-key-x":
            np.savez(p, spikes=arr)
        elif name == "garbled":
            p.write_bytes(fx.mlp_x.read_bytes()[:300] + b"\x00" * 50)
        elif name == "directory":
            p = d / "in_dir.npz"
            p.mkdir(exist_ok=True)
        elif name == "empty-file":
            p.write_bytes(b"")
        else:
            np.savez(p, x=arr)
        valid = name in ("npy", "bool", "float16")
        for cmd in ("run", "report", "profile", "compile-check", "compile-calibration"):
            if cmd == "compile-check":
                argv = ["compile", str(fx.mlp_model), "-o", str(fx.fresh("check")), "--check", str(p)]
                if valid:
                    continue  # a valid input: a full Lava run, not a malformed case
            elif cmd == "compile-calibration":
                argv = ["compile", str(fx.mlp_model), "-o", str(fx.fresh("cal")), "--calibration", str(p)]
            else:
                argv = [cmd, str(fx.mlp), "--input", str(p)]
            cases.append(Case("model_input", f"input {name} via {cmd}", argv, "any" if valid else "reject"))
    # a converted ANN's inputs: static, spikes, wrong shapes
    a = np.load(fx.ann_x)["x"]
    for name, arr in {"static-wrong-width": a[:, :7], "static-empty": a[:0], "spikes-model-width": (a[:, None] > 0).repeat(3, 1),
                      "static-nan": np.full(a.shape, np.nan), "static-3d": a[:, None, :]}.items():
        p = d / f"ann_{name}.npz"
        np.savez(p, x=arr)
        for cmd in ("run", "report", "profile"):
            cases.append(Case("model_input", f"ann input {name} via {cmd}", [cmd, str(fx.ann), "--input", str(p)], "reject"))
    return cases


# ------------------------------------------------------------------------------ CLI edges
def cli_cases(fx: Fixtures, rng: random.Random) -> list[Case]:
    cases = []
    d = fx.root / "cli"
    d.mkdir(parents=True, exist_ok=True)
    a_file = d / "a_file"
    a_file.write_text("x")
    a_dir = d / "a_dir"
    a_dir.mkdir(exist_ok=True)
    (a_dir / "keep.txt").write_text("user data")
    long = str(d / ("n" * 5000))
    deep_long = str(d / "/".join(["d" * 200] * 25))
    mlp, x, model = str(fx.mlp), str(fx.mlp_x), str(fx.mlp_model)
    for opt, values in (("--timeout", ["nan", "-1", "0", "inf", "-inf", "1e400"]),):
        for v in values:
            cases.append(Case("cli", f"run {opt} {v}", ["run", mlp, "--input", x, opt, v]))
            cases.append(Case("cli", f"compile {opt} {v}", ["compile", model, "-o", str(fx.fresh("t")), opt, v]))
    for v in ["nan", "inf", "0", "-1", "1e300", "-inf"]:
        cases.append(Case("cli", f"compile --dt {v}", ["compile", model, "-o", str(fx.fresh("dt")), "--dt", v]))
    for v in ["-1", "0", "100000000000", "abc"]:
        cases.append(Case("cli", f"run --steps {v}", ["run", mlp, "--input", x, "--steps", v]))
    if fx.netx is not None:
        for opt, v in (("--reset-interval", "0"), ("--reset-interval", "-1"), ("--reset-offset", "-5"),
                       ("--reset-interval", "nan")):
            # an offset without an interval is ignored, as lava-dl's hdf5.Network ignores it
            expect = "any" if opt == "--reset-offset" else "reject"
            cases.append(Case("cli", f"run model.net {opt} {v}", ["run", str(fx.netx), "--input", x, opt, v], expect))
            cases.append(Case("cli", f"run program {opt} {v}", ["run", mlp, "--input", x, opt, v]))
    for v in ["0", "-1", "100000000", str(2**40), "abc"]:
        cases.append(Case("cli", f"compile --timesteps {v}", ["compile", str(fx.ann_model), "-o", str(fx.fresh("ts")),
                                                             "--calibration", str(fx.ann_cal), "--timesteps", v]))
    outputs = {"an existing file": str(a_file), "a path below a file": str(a_file / "out"),
               "a directory with other content": str(a_dir), "5000 characters": long, "a 5000-character deep path": deep_long,
               "an empty string": ""}
    for what, path in outputs.items():
        file_ok = "any" if what == "an existing file" else "reject"  # a file output replaces a file
        cases.append(Case("cli", f"compile -o {what}", ["compile", model, "-o", path]))
        cases.append(Case("cli", f"run -o {what}", ["run", mlp, "--input", x, "-o", path], file_ok))
        cases.append(Case("cli", f"report --json {what}", ["report", mlp, "--input", x, "--json", path], file_ok))
        cases.append(Case("cli", f"resources --plot {what}", ["resources", mlp, "--plot", path], file_ok))
        cases.append(Case("cli", f"profile --json {what}", ["profile", mlp, "--input", x, "--json", path], file_ok))
    for emit in ("onnx", "netx"):
        cases.append(Case("cli", f"compile --emit {emit} -o a directory", ["compile", model, "--emit", emit, "-o", str(a_dir)]))
        cases.append(Case("cli", f"compile --emit {emit} -o below a file", ["compile", model, "--emit", emit, "-o", str(a_file / "m")]))
    cases += [
        Case("cli", "report --json a directory", ["report", mlp, "--input", x, "--json", str(a_dir)]),
        Case("cli", "resources --json a directory", ["resources", mlp, "--json", str(a_dir)]),
        Case("cli", "report --plot r.xyz", ["report", mlp, "--input", x, "--plot", str(d / "r.xyz")]),
        Case("cli", "profile --coefficients missing", ["profile", mlp, "--input", x, "--coefficients", str(d / "no.json")]),
        Case("cli", "profile --coefficients garbage", ["profile", mlp, "--input", x, "--coefficients", str(a_file)]),
        Case("cli", "profile --teacher missing", ["profile", mlp, "--input", x, "--teacher", str(d / "no.onnx")]),
        Case("cli", "profile --teacher not onnx", ["profile", mlp, "--input", x, "--teacher", str(a_file)]),
        Case("cli", "compile --target-file garbage", ["compile", model, "-o", str(fx.fresh("tf")), "--target-file", str(a_file)]),
        Case("cli", "compile --target unknown", ["compile", model, "-o", str(fx.fresh("tu")), "--target", "loihi9"]),
        Case("cli", "compile --calibration-method without data", ["compile", model, "-o", str(fx.fresh("cm")), "--calibration-method", "search"]),
        Case("cli", "compile a directory", ["compile", str(a_dir), "-o", str(fx.fresh("cd"))]),
        Case("cli", "compile a program directory", ["compile", mlp, "-o", str(fx.fresh("cp"))]),
        Case("cli", "compile unknown suffix", ["compile", str(a_file), "-o", str(fx.fresh("cs"))]),
        Case("cli", "run a model file", ["run", model, "--input", x]),
        Case("cli", "inspect missing", ["inspect", str(d / "missing")]),
        Case("cli", "inspect a directory without program", ["inspect", str(a_dir)]),
        Case("cli", "run --device bogus", ["run", mlp, "--input", x, "--device", "quantum"]),
        Case("cli", "run --backend unknown", ["run", mlp, "--input", x, "--backend", "abacus"]),
        Case("cli", "compile --stop-after unknown", ["compile", model, "--stop-after", "polish"]),
        Case("cli", "no arguments", []),
    ]
    # closed pipes, as a shell runs them: quiet (no traceback, nothing on stderr), exit 0 or 141
    snnc_exe = str(Path(sys.executable).with_name("snnc"))
    for cmd in (f"{snnc_exe} inspect {mlp} | head -2", f"{snnc_exe} inspect {model} | head -1",
                f"{snnc_exe} resources {mlp} | head -c 10", f"{snnc_exe} run {mlp} --input {x} | head -c 1",
                f"{snnc_exe} --help | head -1", f"{snnc_exe} compile {model} -o {fx.fresh('pipe')} | head -1"):
        cases.append(Case("cli", f"pipe: {cmd.replace(snnc_exe, 'snnc').replace(str(fx.root), '<tmp>')}", cmd, "any"))
    return cases


# ------------------------------------------------------------------------------ API edges
def api_cases(fx: Fixtures, rng: random.Random) -> list[Case]:
    import snnc

    d = fx.root / "api"
    d.mkdir(parents=True, exist_ok=True)
    a_file = d / "a_file"
    a_file.write_text("x")
    a_dir = d / "a_dir"
    a_dir.mkdir(exist_ok=True)
    (a_dir / "keep.txt").write_text("user data")
    prog = snnc.Program.load(fx.mlp)
    x = np.load(fx.mlp_x)["x"]
    cases = []

    def call(name, fn, expect="reject"):
        cases.append(Case("api", name, fn, expect))

    for bad in (None, 123, 1.5, b"bytes", ["a"], {"a": 1}, object(), str(a_file), str(d / "missing"), "", str(a_dir)):
        call(f"Program.load({_short(bad)})", lambda bad=bad: snnc.Program.load(bad))
    for bad in (None, 123, str(a_file), str(a_file / "below"), str(a_dir), "n" * 5000, ""):
        call(f"save({_short(bad)})", lambda bad=bad: prog.save(bad))
    for kw in ({"backend": "lava", "timeout": "abc"}, {"timeout": float("nan")}, {"timeout": -1}, {"timeout": True},
               {"backend": 5}, {"backend": "abacus"}, {"return_raw": "yes"}, {"progress": "sometimes"},
               {"device": 3}, {"device": "quantum"}, {"placement": 7}, {"colour": "red"}):
        call(f"run(x, {kw})", lambda kw=kw: prog.run(x, **kw))
    for bad in (None, "spikes", 3, [[1, 2]], x[:0], x[:, :0], x.astype(object), np.full(x.shape, np.nan),
                x[..., :5], {"x": x}, x * 2):
        call(f"run({_short(bad)})", lambda bad=bad: prog.run(bad))
        call(f"report({_short(bad)})", lambda bad=bad: prog.report(bad))
        call(f"profile({_short(bad)})", lambda bad=bad: prog.profile(bad))
    for bad in (123, str(d / "missing.onnx"), str(a_file), object(), ["a.onnx"]):
        call(f"profile(x, teacher={_short(bad)})", lambda bad=bad: prog.profile(x, teacher=bad))
    for bad in (str(a_dir), str(a_file / "x.onnx"), None, 42):
        call(f"export_onnx({_short(bad)})", lambda bad=bad: prog.export_onnx(bad))
        call(f"export_netx({_short(bad)})", lambda bad=bad: prog.export_netx(bad))
    for bad in (None, 123, str(d / "missing.nir"), str(a_dir), str(a_file), object()):
        call(f"snnc.load({_short(bad)})", lambda bad=bad: snnc.load(bad))
        call(f"snnc.compile({_short(bad)})", lambda bad=bad: snnc.compile(bad))
    for kw in ({"dt": float("nan")}, {"dt": "fast"}, {"target": 5}, {"target": "loihi9"}, {"timesteps": -1},
               {"calibration": "data"}, {"calibration": np.zeros((0, 40, 64))}, {"mapping": "magic"}):
        call(f"snnc.compile(mlp, {kw})", lambda kw=kw: snnc.compile(str(fx.mlp_model), **kw))
    return cases


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{v.shape}:{v.dtype}"
    s = repr(v)
    return s if len(s) <= 40 else s[:30] + "..." + s[-6:]


# ------------------------------------------------------------------------------ running
class _Hang(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Hang()


def run_case(case: Case, timeout: float = CASE_TIMEOUT) -> Result:
    from snnc.cli import main
    from snnc.errors import SnncError

    t0 = time.perf_counter()
    outcome, detail = "accepted", ""
    if isinstance(case.action, str):  # a shell pipe
        try:
            p = subprocess.run(["bash", "-c", case.action], capture_output=True, text=True, timeout=timeout)
            first = p.stderr.strip().splitlines()[:1]
            rc = p.returncode
            if "Traceback" in p.stderr or "Exception ignored" in p.stderr or "BrokenPipe" in p.stderr:
                outcome, detail = "internal", p.stderr[-400:]
            elif rc not in (0,):  # bash reports the pipe's last command; the writer's status is below
                outcome, detail = "internal", f"exit {rc}: {first}"
            elif p.stderr.strip():
                outcome, detail = "internal", f"stderr: {p.stderr.strip()[:200]}"
        except subprocess.TimeoutExpired:
            outcome, detail = "hang", f"over {timeout} s"
        return Result(case.family, case.name, outcome, detail, time.perf_counter() - t0)
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    out, err = io.StringIO(), io.StringIO()
    try:
        if callable(case.action):
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    case.action()
            except SnncError as e:
                outcome, detail = "refused", f"{type(e).__name__}: {e}"[:300]
        else:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = main(list(case.action))
                except SystemExit as e:  # argparse: usage errors exit 2 before any command
                    rc = e.code if isinstance(e.code, int) else 2
            text = err.getvalue()
            if rc in (0, 1, 141):
                outcome = "accepted"
            elif rc == 2 and "error:" in text and "Traceback" not in text:
                outcome, detail = "refused", text.strip().splitlines()[0][:300] if text.strip() else ""
            else:
                outcome, detail = "internal", f"exit {rc}: {text.strip()[-400:]}"
    except _Hang:
        outcome, detail = "hang", f"over {timeout} s"
    except BaseException as e:  # noqa: BLE001 - any escape is what the campaign looks for
        if isinstance(e, KeyboardInterrupt):
            raise
        outcome, detail = "internal", "".join(traceback.format_exception_only(type(e), e)).strip()[-400:]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if outcome == "accepted":
        if case.expect == "reject":
            outcome, detail = "silent", "accepted; must be refused"
        elif case.oracle is not None:
            found = case.oracle()
            if found:
                outcome, detail = "silent", f"accepted out of range: {found}"
    return Result(case.family, case.name, outcome, detail, time.perf_counter() - t0)


def build_cases(fx: Fixtures, seed: int, scale: float, families: tuple[str, ...]) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    if "program" in families:
        cases += program_cases(fx, rng, int(400 * scale))
    if "netx" in families:
        cases += netx_cases(fx, rng, int(100 * scale))
    if "model_input" in families:
        cases += model_input_cases(fx, rng, int(60 * scale))
    if "cli" in families:
        cases += cli_cases(fx, rng)
    if "api" in families:
        cases += api_cases(fx, rng)
    return cases


def campaign(seed: int = 0, scale: float = 1.0, families: tuple[str, ...] = FAMILIES,
             workdir: Path | None = None, progress: bool = False, limit: int | None = None,
             subsample: float | None = None) -> list[Result]:
    """Build the fixtures, the cases and run them; returns one :class:`Result` per case.
    ``subsample``: run that fraction of the cases (seeded), for a quick pass."""
    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix="snnc-fuzz-")) if own else workdir
    root.mkdir(parents=True, exist_ok=True)
    old_cwd = os.getcwd()
    try:
        os.chdir(root)  # a case that writes beside its input writes here
        fx = Fixtures(root / "fixtures")
        cases = build_cases(fx, seed, scale, families)
        if subsample is not None:
            pick = random.Random(seed + 1)
            cases = [c for c in cases if pick.random() < subsample]
        if limit is not None:
            cases = cases[:limit]
        results = []
        for i, case in enumerate(cases):
            r = run_case(case)
            results.append(r)
            if progress:
                mark = "!" if r.outcome in BAD else "."
                print(mark, end="" if (i + 1) % 80 else "\n", file=sys.stderr, flush=True)
                if r.outcome in BAD:
                    print(f"\n{r.outcome}: {r.name}: {r.detail}", file=sys.stderr)
        if progress:
            print(file=sys.stderr)
        return results
    finally:
        os.chdir(old_cwd)
        if own:
            shutil.rmtree(root, ignore_errors=True)


def summary(results: list[Result]) -> str:
    fams = sorted({r.family for r in results}, key=lambda f: FAMILIES.index(f) if f in FAMILIES else 99)
    lines = [f"{'family':<12} {'cases':>6} " + " ".join(f"{o:>9}" for o in OUTCOMES)]
    for fam in fams + ["total"]:
        rs = results if fam == "total" else [r for r in results if r.family == fam]
        c = Counter(r.outcome for r in rs)
        lines.append(f"{fam:<12} {len(rs):>6} " + " ".join(f"{c[o]:>9}" for o in OUTCOMES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the number of random cases")
    p.add_argument("--family", action="append", choices=FAMILIES, help="only these families (repeatable)")
    p.add_argument("--json", metavar="F", help="write every case's outcome")
    p.add_argument("--workdir", metavar="DIR", help="keep the fixtures and cases here")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    results = campaign(a.seed, a.scale, tuple(a.family or FAMILIES), Path(a.workdir) if a.workdir else None,
                       progress=not a.quiet)
    print(summary(results))
    print(f"seed {a.seed}, scale {a.scale}: {len(results)} cases in {time.perf_counter() - t0:.0f} s")
    for r in results:
        if r.outcome in BAD:
            print(f"{r.outcome}: {r.family}: {r.name}: {r.detail}")
    if a.json:
        Path(a.json).write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    return 1 if any(r.outcome in BAD for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

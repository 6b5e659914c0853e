"""Artifact: a compiled program's data and its directory format, below the roof.

An :class:`Artifact` is what the compiler produces and what the fixed-point frontends (lava-dl
netx, snnc ONNX step models) read: the Loihi-dialect graph with its discretization convention,
target, output latency, compile-summary rows and pass timings, plus, when known, the float
model it was compiled from (``reference``), the input encoder of a converted ANN (``encoder``)
and the neuron -> core -> chip placement (``placement``).  :class:`snnc.Program` (the roof) is
an Artifact with the verbs (run, report, profile, export ...); ``snnc.load`` and
``snnc.compile`` wrap artifacts in it (docs/decisions/0005-layering.md).

Directory format (:meth:`Artifact.save` / :meth:`Artifact.load`; JSON + npz, no pickle)::

    program.json     format, snnc_version, target (+ target_spec), convention, latency,
                     layers, timings, encoder (converted ANNs only)
    graph/           the Loihi-dialect graph (snnc.compiler.ir.serialize)
    reference/       the float model, when known
    placement.npz    the placement, when known
    manifest.json    written last: the SHA-256 and size of every file above

A save is atomic (:func:`snnc.reporting.atomic_dir`): the program is written into a sibling
temporary directory, flushed to disk, the manifest last, and swapped in whole, so the
directory always holds the old program or the new one.  A load refuses a directory whose
files do not match its manifest (partial, mixed with another save, or altered) and validates
the whole program (:func:`check`): every register in its hardware range
(:mod:`snnc.compiler.ir.verify`), the wiring, finite values, the latency table (every output,
no other key, each latency the synaptic depth of its output), the encoder, the placement
and the float reference, each refused with a :class:`~snnc.errors.FrontendError` that names
the file, the field, the value and the limit.  Directories of format 1 (no manifest, written
before snnc checked them) are validated the same way; only the manifest check is skipped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from snnc import reporting
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.serialize import ARRAYS_FILE, GRAPH_FILE, load_graph, save_graph
from snnc.compiler.ir.verify import problems
from snnc.compiler.mapping.placement import Placement
from snnc.compiler.targets import TargetSpec, get_target, target_from_dict
from snnc.encoding import RateEncoder, encoder_from_json
from snnc.errors import ArgumentError, FrontendError, SnncError, ValidationError
from snnc.version import __version__

#: version of the directory format written by :meth:`Artifact.save` (2: with manifest.json)
PROGRAM_FORMAT = 2
PROGRAM_FILE = "program.json"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "snnc-manifest"
PLACEMENT_FILE = "placement.npz"
#: the parts of a program directory (files, and directories whose every file is the program's)
PROGRAM_PARTS = (PROGRAM_FILE, "graph", "reference", PLACEMENT_FILE)
_RECOMPILE = "recompile the model with `snnc compile` (or save the program again)"


class Artifact:
    """A compiled network's data (see the module docstring)."""

    def __init__(
        self,
        graph: Graph,
        convention: Convention,
        target: TargetSpec,
        latency: dict[str, int],
        layers: list[dict[str, Any]] | None = None,
        timings: dict[str, float] | None = None,
    ):
        self.graph = graph
        self.convention = convention
        self.target = target
        self.latency = dict(latency)
        self.layers = list(layers or [])
        self.timings = dict(timings or {})
        #: the float-dialect model it was compiled from (set by snnc.compile; saved as reference/)
        self.reference: Graph | None = None
        #: static inputs -> spikes (:mod:`snnc.encoding`), set for converted ANNs; saved as "encoder"
        self.encoder = None
        #: neuron -> core -> chip (:class:`snnc.compiler.mapping.Placement`, partition pass);
        #: saved as placement.npz
        self.placement: Placement | None = None

    @classmethod
    def of(cls, artifact: Artifact) -> Artifact:
        """``artifact`` as an instance of ``cls`` (itself when it already is one; else a new
        object sharing its graph, tables, reference, encoder and placement)."""
        if isinstance(artifact, cls):
            return artifact
        out = cls(artifact.graph, artifact.convention, artifact.target, artifact.latency,
                  artifact.layers, artifact.timings)
        out.reference, out.encoder, out.placement = artifact.reference, artifact.encoder, artifact.placement
        return out

    # ------------------------------------------------------------------ structure
    @property
    def input_name(self) -> str:
        return self.graph.of_kind(loihi.SpikeSource)[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.graph[self.input_name].shape)

    @property
    def outputs(self) -> list[str]:
        return self.graph.of_kind(loihi.Probe)

    def probed(self, output: str) -> str:
        """The compartment an output records."""
        return self.graph.predecessors(output)[0]

    def stats(self) -> dict[str, int]:
        comps = [self.graph[n] for n in self.graph.of_kind(*loihi.NEURON_OPS)]
        syns = [self.graph[n] for n in self.graph.of_kind(loihi.Synapse, loihi.ConvSynapse)]
        return {
            "layers": sum(1 for c in comps if c.meta.get("role") != "bias"),
            "neurons": int(sum(c.size for c in comps)),
            "synapse_blocks": len(syns),
            "synapses": int(sum(s.num_synapses for s in syns)),
        }

    def layer_table(self) -> list[dict[str, Any]]:
        """The compile summary's rows, one per population, read from the graph that runs:
        ``neurons``, ``synapses``, ``vth``, ``du``, ``dv`` (``"min..max"`` when per neuron),
        ``weight_exps`` (of the blocks into it; a hi/lo split's residual blocks left out),
        ``bias_exp``; ``kind``, ``weight_error`` and ``notes`` come from :attr:`layers` (the
        compiler's report), matched by layer name."""
        saved = {r.get("name"): r for r in self.layers if isinstance(r, dict)}
        rows = []
        for c in self.graph.of_kind(*loihi.NEURON_OPS):
            node = self.graph[c]
            if node.meta.get("role") == "bias":
                continue
            name = node.source or c
            info = saved.get(name, {})
            syns = [s for s in self.graph.predecessors(c)
                    if isinstance(self.graph[s], (loihi.Synapse, loihi.ConvSynapse))]
            exps = [int(getattr(self.graph[s], "weight_exp", 0)) for s in syns if not s.endswith(":lo")]
            if isinstance(node, loihi.SigmaDeltaCompartment):  # no decays, no bias exponent
                rows.append({
                    "name": name, "kind": info.get("kind", node.neuron), "neurons": node.size,
                    "synapses": sum(self.graph[s].num_synapses for s in syns), "vth": int(node.vth),
                    "du": "-", "dv": "-", "weight_exps": exps, "bias_exp": "-",
                    "weight_error": float(info.get("weight_error", 0.0)), "notes": list(info.get("notes", [])),
                })
                continue
            rows.append({
                "name": name, "kind": info.get("kind", node.meta.get("float_kind", "")),
                "neurons": node.size, "synapses": sum(self.graph[s].num_synapses for s in syns),
                "vth": int(node.vth), "du": _register_text(node.du), "dv": _register_text(node.dv),
                "weight_exps": exps, "bias_exp": int(node.bias_exp),
                "weight_error": float(info.get("weight_error", 0.0)), "notes": list(info.get("notes", [])),
            })
        return rows

    # ------------------------------------------------------------------ save/load
    def save(self, path: str | os.PathLike) -> Path:
        """Write the program to the directory ``path`` (JSON + npz, no pickle), atomically.

        ``path`` may be missing, empty, or hold a compiled program (which is replaced); a file,
        or a directory with other content, is refused before anything is written
        (:class:`~snnc.errors.InputError`).  The program is checked first (:func:`check`): a
        program that would not load is not written (:class:`~snnc.errors.ValidationError`).
        """
        out = reporting.directory_path(path, is_program_dir, "a compiled program")
        try:
            check(self)
        except FrontendError as e:
            raise ValidationError(f"refusing to save an invalid program: {e.message}",
                                  hint="a program changed after compiling must keep Loihi's ranges") from None
        with reporting.atomic_dir(out, is_program_dir, "a compiled program") as tmp:
            self._write(tmp)
        return out

    def _write(self, d: Path) -> None:
        save_graph(self.graph, d / "graph")
        meta = {
            "format": PROGRAM_FORMAT,
            "snnc_version": __version__,
            "target": self.target.name,
            "target_spec": self.target.to_dict(),
            "convention": {
                "dt": self.convention.dt,
                "integration": self.convention.integration,
                "spike_if": self.convention.spike_if,
                "synapse_input": self.convention.synapse_input,
                "reset": self.convention.reset,
            },
            "latency": self.latency,
            "layers": self.layers,
            "timings": self.timings,
        }
        if self.encoder is not None:
            meta["encoder"] = self.encoder.to_json()
        (d / PROGRAM_FILE).write_text(json.dumps(meta, indent=2, default=_json_default))
        if self.reference is not None:
            save_graph(self.reference, d / "reference")
        if self.placement is not None:
            self.placement.save(d / PLACEMENT_FILE)
        reporting.fsync_tree(d)
        manifest = {"format": MANIFEST_FORMAT, "version": 1, "program_format": PROGRAM_FORMAT,
                    "files": {f: {"sha256": reporting.sha256_file(d / f), "bytes": (d / f).stat().st_size}
                              for f in _program_files(d)}}
        (d / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))  # last: the directory is whole

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a directory written by :meth:`save` (as an instance of ``cls``), checked whole.

        A missing, partial, mixed or altered directory, damaged files and a program outside
        Loihi's ranges raise :class:`~snnc.errors.FrontendError` naming the file, the field, the
        value and the limit (see the module docstring); a ``path`` that is no path raises
        :class:`~snnc.errors.ArgumentError`.
        """
        if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
            raise ArgumentError(f"a program directory must be a path (str or os.PathLike), not "
                                f"{type(path).__name__}", hint="pass the directory `snnc compile -o` wrote")
        d = Path(path)
        _check_directory(d)
        manifest = (d / MANIFEST_FILE).is_file()
        if manifest:  # first: a file changed after the save is named as such
            _check_manifest(d)
        meta = _read_json(d / PROGRAM_FILE, d)
        fmt = meta.get("format") if isinstance(meta, dict) else None
        if not isinstance(fmt, int) or isinstance(fmt, bool):
            raise _damaged(d, PROGRAM_FILE, f"format={fmt!r} is not a program format number")
        if fmt > PROGRAM_FORMAT:
            raise FrontendError(
                f"{str(d)!r} was written by a newer snnc (program format {fmt}; this snnc reads up "
                f"to {PROGRAM_FORMAT})", hint="upgrade snnc, or recompile the model with this version")
        if fmt >= 2 and not manifest:
            _check_manifest(d)  # refuses: the save that wrote this directory did not finish
        try:
            prog = cls._from_meta(d, meta)
        except RecursionError:
            raise _damaged(d, PROGRAM_FILE, "nested too deeply") from None
        check(prog, d)
        return prog

    @classmethod
    def _from_meta(cls, d: Path, meta: dict[str, Any]):
        f = PROGRAM_FILE
        for key in ("convention", "latency"):
            if key not in meta:
                raise _damaged(d, f, f"the key {key!r} is missing")
        conv_d = _field(d, f, meta, "convention", dict)
        unknown = set(conv_d) - {"dt", "integration", "spike_if", "synapse_input", "reset"}
        if unknown:
            raise _damaged(d, f, f"convention has unknown keys {sorted(unknown)}")
        try:
            conv = Convention(**conv_d)
            if "target_spec" in meta:
                spec_d = _field(d, f, meta, "target_spec", dict)
                _check_sources(d, spec_d.get("sources", {}))
                spec = target_from_dict(spec_d, f"{d / f}:target_spec")
            else:
                spec = get_target(_field(d, f, meta, "target", str))
        except SnncError as e:
            raise _damaged(d, f, e.message) from None
        latency = _field(d, f, meta, "latency", dict)
        layers = _field(d, f, meta, "layers", list, default=[])
        timings = _field(d, f, meta, "timings", dict, default={})
        for k, v in timings.items():
            if not _is_number(v) or not math.isfinite(v) or v < 0:
                raise _damaged(d, f, f"timings[{k!r}]={v!r} is not a finite number of seconds >= 0")
        for i, row in enumerate(layers):
            _check_row(d, i, row)
        graph = load_graph(d / "graph")
        prog = cls(graph, conv, spec, latency, layers, timings)
        enc = meta.get("encoder")
        if enc is not None:
            prog.encoder = _encoder(d, enc)
        if (d / PLACEMENT_FILE).is_file():
            try:
                prog.placement = Placement.load(d / PLACEMENT_FILE)
            except Exception as e:  # a damaged npz or header: zipfile, zlib, JSON, key errors
                raise _damaged(d, PLACEMENT_FILE, f"{type(e).__name__}: {e}") from None
        if (d / "reference").is_dir():
            prog.reference = load_graph(d / "reference")
        return prog

    def __repr__(self) -> str:
        st = self.stats()
        return (f"<{type(self).__module__}.{type(self).__name__} target={self.target.name} "
                f"layers={st['layers']} neurons={st['neurons']}>")


def _register_text(register: Any) -> int | str:
    """A decay register for the table: the int, or ``"min..max"`` when per neuron."""
    if np.ndim(register) == 0:
        return int(register)
    return f"{int(np.min(register))}..{int(np.max(register))}"


def is_program_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is a directory holding a compiled program (which a save may replace)."""
    p = Path(path)
    return (p / PROGRAM_FILE).is_file() or (p / MANIFEST_FILE).is_file()


# ------------------------------------------------------------------------------ checks
def check(prog: Artifact, d: Path | None = None) -> None:
    """Validate a whole program (see the module docstring); ``d``: the directory it was read
    from, named in the :class:`~snnc.errors.FrontendError` of the first problem found."""
    for file, message in _program_problems(prog):
        if d is None:
            raise FrontendError(f"{file}: {message}", hint=_RECOMPILE)
        raise _damaged(d, file, message)


def _program_problems(prog: Artifact) -> Iterator[tuple[str, str]]:
    """(file, message) for every problem of ``prog``, the graph's first."""
    g = prog.graph
    bad = problems(g)
    for p in bad[:1]:
        where = "" if p.node == "<graph>" else f"node {p.node!r}{_layer_of(g, p.node)}: "
        yield (f"graph/{ARRAYS_FILE if p.array else GRAPH_FILE}", f"{where}{p.message}")
    if bad:
        return
    if not all(isinstance(n, tuple(loihi.LOIHI_OPS)) for n in g.nodes.values()):
        yield (f"graph/{GRAPH_FILE}", "holds float-dialect nodes (a compiled program is a Loihi-dialect graph)")
        return
    sources, probes = g.of_kind(loihi.SpikeSource), g.of_kind(loihi.Probe)
    if len(sources) != 1:
        yield (f"graph/{GRAPH_FILE}", f"has {len(sources)} spike sources (a program has exactly one input)")
        return
    if not probes:
        yield (f"graph/{GRAPH_FILE}", "has no probe (a program has at least one output)")
        return
    yield from _latency_problems(prog, probes)
    yield from _encoder_problems(prog)
    yield from _placement_problems(prog)
    yield from _reference_problems(prog)


def _latency_problems(prog: Artifact, probes: list[str]) -> Iterator[tuple[str, str]]:
    """Every output has a latency, no other key has one, and each is its synaptic depth: the
    start step of its compartment where the target holds populations until their input
    arrives, else at most the longest synapse chain to it (never above one per compartment)."""
    g, lat, f = prog.graph, prog.latency, PROGRAM_FILE
    unknown = sorted(set(lat) - set(probes))
    if unknown:
        yield (f, f"latency names {unknown[0]!r}, which is not an output (outputs: {', '.join(probes)})")
        return
    missing = [o for o in probes if o not in lat]
    if missing:
        yield (f, f"latency lacks the output {missing[0]!r}")
        return
    depth = _synaptic_depths(g)
    for o in probes:
        k, comp = lat[o], g.predecessors(o)[0]
        bound = max(depth.get(comp, 0), 1)
        if not isinstance(k, int) or isinstance(k, bool):
            yield (f, f"latency[{o!r}]={k!r} is not an int (steps, 0..{bound})")
            return
        start = int(getattr(g[comp], "start_step", 0))  # sigma-delta populations start at once
        if start > 0 and k != start:
            yield (f, f"latency[{o!r}]={k} differs from the synaptic depth of {comp!r} (its start_step "
                      f"{start})")
            return
        if not 0 <= k <= bound:
            yield (f, f"latency[{o!r}]={k} outside 0..{bound} (the synaptic depth of {comp!r} is at most {bound})")
            return


def _synaptic_depths(g: Graph) -> dict[str, int]:
    """Longest chain of synapse blocks from the input to every compartment (back edges left out)."""
    order, back = g.schedule()
    depth: dict[str, int] = {}
    for n in order:
        node = g[n]
        preds = [s for s in g.predecessors(n) if (s, n) not in back]
        if isinstance(node, loihi.SpikeSource):
            depth[n] = 0
        elif isinstance(node, (loihi.Synapse, loihi.ConvSynapse)):
            depth[n] = max((depth.get(s, 0) for s in preds), default=0) + 1
        else:
            depth[n] = max((depth.get(s, 0) for s in preds), default=0)
    return depth


def _encoder_problems(prog: Artifact) -> Iterator[tuple[str, str]]:
    enc = prog.encoder
    if enc is None:
        return
    spike = int(np.prod(enc.spike_shape))
    size = prog.graph[prog.input_name].size
    if spike != size:
        yield (PROGRAM_FILE, f"encoder makes {spike} input channels {tuple(enc.spike_shape)}; the program's "
                             f"input has {size} {prog.input_shape}")


def _placement_problems(prog: Artifact) -> Iterator[tuple[str, str]]:
    pl, f = prog.placement, PLACEMENT_FILE
    if pl is None:
        return
    chips = np.asarray(pl.chip_of_core)
    if chips.ndim != 1 or chips.dtype.kind not in "iu" or (chips.size and chips.min() < 0):
        yield (f, f"chip_of_core is not a list of chip numbers >= 0 ({chips.dtype} {chips.shape})")
        return
    if chips.size and chips.max() >= prog.target.chips_per_system:
        yield (f, f"chip_of_core holds chip {int(chips.max())}, outside 0..{prog.target.chips_per_system - 1} "
                  f"(target {prog.target.name})")
        return
    comps = prog.graph.of_kind(loihi.Compartment)
    if set(pl.core_of) != set(comps):
        extra = sorted(set(pl.core_of) - set(comps))
        what = f"places {extra[0]!r}, which is no population" if extra else \
            f"does not place {sorted(set(comps) - set(pl.core_of))[0]!r}"
        yield (f, f"core_of {what}")
        return
    for c in comps:
        a = np.asarray(pl.core_of[c])
        n = prog.graph[c].size
        if a.ndim != 1 or a.size != n or a.dtype.kind not in "iu":
            yield (f, f"core_of[{c!r}] is not one core number per neuron ({a.dtype} {a.shape}, {n} neurons)")
            return
        if a.size and (a.min() < 0 or a.max() >= chips.size):
            bad = int(a.min()) if a.min() < 0 else int(a.max())
            yield (f, f"core_of[{c!r}] holds core {bad}, outside 0..{chips.size - 1}")
            return


def _reference_problems(prog: Artifact) -> Iterator[tuple[str, str]]:
    ref = prog.reference
    if ref is None:
        return
    if not isinstance(ref, Graph) or any(isinstance(n, tuple(loihi.LOIHI_OPS)) for n in ref.nodes.values()):
        yield (f"reference/{GRAPH_FILE}", "is not a float-dialect graph")
        return
    bad = problems(ref)
    for p in bad[:1]:
        where = "" if p.node == "<graph>" else f"node {p.node!r}: "
        yield (f"reference/{ARRAYS_FILE if p.array else GRAPH_FILE}", f"{where}{p.message}")
    if bad:
        return
    inputs = ref.of_kind(ops.Input)
    size = prog.graph[prog.input_name].size
    if len(inputs) != 1 or int(np.prod(ref[inputs[0]].shape)) != size:
        yield (f"reference/{GRAPH_FILE}", f"the float model's input ({', '.join(inputs) or 'none'}) does not "
                                          f"match the program's input of {size} neurons")
        return
    for c in prog.graph.of_kind(loihi.Compartment):
        name = c[: -len(":readout")] if c.endswith(":readout") and c not in ref else c
        if name in ref:
            node = ref[name]
            if not isinstance(node, (ops.NeuronOp, ops.Output)):
                yield (f"reference/{GRAPH_FILE}", f"node {name!r} is a {node.kind}; the program's population "
                                                  f"{c!r} needs a neuron population or an output")
                return
            n = int(np.prod(node.shape))
            if n != prog.graph[c].size:
                yield (f"reference/{GRAPH_FILE}", f"node {name!r} has {n} neurons; the program's {c!r} has "
                                                  f"{prog.graph[c].size}")
                return


def _layer_of(g: Graph, node: str) -> str:
    src = g[node].source if node in g else None
    return f" (layer {src})" if src and src != node else ""


# ------------------------------------------------------------------------------ reading
def _damaged(d: Path, file: str, message: str) -> FrontendError:
    return FrontendError(f"compiled program {str(d)!r} is damaged: {file}: {message}", hint=_RECOMPILE)


def _check_directory(d: Path) -> None:
    try:
        exists, is_dir = d.exists(), d.is_dir()
        has_meta = (d / PROGRAM_FILE).is_file()
    except OSError as e:
        raise FrontendError(f"cannot read {str(d)[:200]!r}: {e.strerror}", hint="check the path") from None
    left = reporting.leftovers(d)
    found = (f"; an interrupted save left {str(left[-1])!r} beside it" if left else "")
    if not exists:
        raise FrontendError(f"{str(d)!r} is not a compiled snnc program (no such directory){found}",
                            hint="create one with `snnc compile MODEL -o DIR`")
    if not is_dir:
        raise FrontendError(f"{str(d)!r} is a file, not a compiled program directory",
                            hint="model files load with snnc.load; programs are the directories `snnc compile` writes")
    if not has_meta:
        raise FrontendError(
            f"{str(d)!r} is not a compiled snnc program (no {PROGRAM_FILE}){found}",
            hint="create one with `snnc compile MODEL -o DIR`",
        )


def _read_json(file: Path, d: Path) -> Any:
    try:
        return json.loads(file.read_bytes())
    except (ValueError, RecursionError) as e:
        raise _damaged(d, file.relative_to(d).as_posix(), f"not valid JSON ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise _damaged(d, file.relative_to(d).as_posix(), f"cannot be read ({e.strerror})") from None


def _program_files(d: Path) -> list[str]:
    """The program's files under ``d`` (relative, POSIX), sorted."""
    out = []
    for part in PROGRAM_PARTS:
        p = d / part
        if p.is_dir():
            out += [q.relative_to(d).as_posix() for q in p.rglob("*") if not q.is_dir()]
        elif p.exists() or p.is_symlink():
            out.append(part)
    return sorted(out)


def _check_manifest(d: Path) -> None:
    if not (d / MANIFEST_FILE).is_file():
        raise FrontendError(
            f"compiled program {str(d)!r} is incomplete: no {MANIFEST_FILE} (a save was interrupted, "
            "or the directory was copied in part)", hint=_RECOMPILE)
    man = _read_json(d / MANIFEST_FILE, d)
    files = man.get("files") if isinstance(man, dict) and man.get("format") == MANIFEST_FORMAT else None
    if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("bytes"), int)
            for v in files.values()):
        raise _damaged(d, MANIFEST_FILE, "is not an snnc manifest")
    present = _program_files(d)
    for f in present:
        if f not in files:
            raise _damaged(d, f, f"is not in {MANIFEST_FILE}: the directory mixes files of two saves")
    for f, entry in sorted(files.items()):
        p = d / f
        if f not in present or not p.is_file() or ".." in Path(f).parts:
            raise _damaged(d, f, f"is missing (listed in {MANIFEST_FILE}): the directory is incomplete")
        if p.stat().st_size != entry["bytes"] or reporting.sha256_file(p) != entry["sha256"]:
            raise _damaged(d, f, f"does not match its SHA-256 in {MANIFEST_FILE}: it was changed after the "
                                 "save, or comes from another save")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _field(d: Path, f: str, meta: dict, key: str, kind: type, default: Any = None) -> Any:
    v = meta.get(key, default)
    if not isinstance(v, kind):
        raise _damaged(d, f, f"{key} is a {type(v).__name__}, not a {kind.__name__}")
    return v


#: the layer-table fields a row must hold when present, with their types
_ROW_FIELDS = {"name": str, "kind": str, "weight_error": (int, float), "notes": list}


def _check_row(d: Path, i: int, row: Any) -> None:
    if not isinstance(row, dict):
        raise _damaged(d, PROGRAM_FILE, f"layers[{i}] is a {type(row).__name__}, not an object")
    if not isinstance(row.get("name"), str):
        raise _damaged(d, PROGRAM_FILE, f"layers[{i}] has no name")
    for key, kind in _ROW_FIELDS.items():
        if key in row and (not isinstance(row[key], kind) or isinstance(row[key], bool)):
            raise _damaged(d, PROGRAM_FILE, f"layers[{i}].{key}={row[key]!r} is not a {getattr(kind, '__name__', 'number')}")
    if "weight_error" in row and not (math.isfinite(row["weight_error"]) and row["weight_error"] >= 0):
        raise _damaged(d, PROGRAM_FILE, f"layers[{i}].weight_error={row['weight_error']!r} is not a finite number >= 0")
    if "notes" in row and not all(isinstance(n, str) for n in row["notes"]):
        raise _damaged(d, PROGRAM_FILE, f"layers[{i}].notes holds a value that is not text")


def _check_sources(d: Path, sources: Any) -> None:
    """A target's ``sources``: field -> [evidence grade, source], both text."""
    if not isinstance(sources, dict) or not all(
            isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(t, str) for t in v)
            for v in sources.values()):
        raise _damaged(d, PROGRAM_FILE, "target_spec.sources is not a table of [grade, source] texts")


def _encoder(d: Path, enc: Any) -> RateEncoder:
    try:
        return encoder_from_json(enc)
    except SnncError as e:
        raise _damaged(d, PROGRAM_FILE, f"encoder: {e.message}") from None


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o).__name__)

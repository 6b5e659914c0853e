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
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.serialize import load_graph, save_graph
from snnc.compiler.mapping.placement import Placement
from snnc.compiler.targets import TargetSpec, get_target, target_from_dict
from snnc.encoding import encoder_from_json
from snnc.errors import FrontendError
from snnc.version import __version__

#: version of the directory format written by :meth:`Artifact.save`
PROGRAM_FORMAT = 1


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
        comps = [self.graph[n] for n in self.graph.of_kind(loihi.Compartment)]
        syns = [self.graph[n] for n in self.graph.of_kind(loihi.Synapse, loihi.ConvSynapse)]
        return {
            "layers": sum(1 for c in comps if c.meta.get("role") != "bias"),
            "neurons": int(sum(c.size for c in comps)),
            "synapse_blocks": len(syns),
            "synapses": int(sum(s.num_synapses for s in syns)),
        }

    # ------------------------------------------------------------------ save/load
    def save(self, path: str | os.PathLike) -> Path:
        """Write the program to a directory (JSON + npz, no pickle)."""
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
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
        (d / "program.json").write_text(json.dumps(meta, indent=2, default=_json_default))
        # an earlier save into the same directory must not leave parts this program lacks
        if self.reference is not None:
            save_graph(self.reference, d / "reference")
        elif (d / "reference").exists():
            shutil.rmtree(d / "reference")
        if self.placement is not None:
            self.placement.save(d / "placement.npz")
        else:
            (d / "placement.npz").unlink(missing_ok=True)
        return d

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a directory written by :meth:`save` (as an instance of ``cls``)."""
        d = Path(path)
        meta_file = d / "program.json"
        if not meta_file.is_file():
            raise FrontendError(
                f"{str(d)!r} is not a compiled snnc program (no program.json)",
                hint="create one with `snnc compile MODEL -o DIR`",
            )
        try:
            meta = json.loads(meta_file.read_text())
            graph = load_graph(d / "graph")
            conv = Convention(**meta["convention"])
            spec = target_from_dict(meta["target_spec"]) if "target_spec" in meta else get_target(meta["target"])
            prog = cls(graph, conv, spec, meta["latency"], meta.get("layers"), meta.get("timings"))
            if (d / "placement.npz").is_file():
                prog.placement = Placement.load(d / "placement.npz")
            if (d / "reference").is_dir():
                prog.reference = load_graph(d / "reference")
            if meta.get("encoder") is not None:
                prog.encoder = encoder_from_json(meta["encoder"])
            return prog
        except (KeyError, TypeError, ValueError, OSError) as e:
            if isinstance(e, FrontendError):
                raise
            raise FrontendError(
                f"compiled program in {str(d)!r} is damaged: {type(e).__name__}: {e}",
                hint="recompile the model with `snnc compile`",
            ) from None

    def __repr__(self) -> str:
        st = self.stats()
        return (f"<{type(self).__module__}.{type(self).__name__} target={self.target.name} "
                f"layers={st['layers']} neurons={st['neurons']}>")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o).__name__)

"""Program: a compiled Loihi-dialect graph with what is needed to run, save and explain it.

Time alignment.  On the chip every synapse layer adds one step, so a population at synaptic
depth k sees input spike ``x[:, t]`` at raw step ``t + k``.  :meth:`Program.run` runs
``T + max(latency)`` raw steps and returns, for each output, ``raw[:, k : k + T]``: outputs are
aligned with the input's time index, like the float reference (:func:`snnc.simulate`).
The latency per output is :attr:`Program.latency`.
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
from snnc.compiler.ir.printer import format_graph
from snnc.compiler.targets import TargetSpec, get_target, target_from_dict
from snnc.errors import FrontendError, InputError, ValidationError

PROGRAM_FORMAT = 1
BACKENDS = ("emulator", "lava", "loihi2")


class Program:
    """A compiled network.  Build it with :func:`snnc.compile`; load it with :meth:`load`."""

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
        #: neuron -> core -> chip (:class:`snnc.mapping.Placement`, partition pass); saved as placement.npz
        self.placement = None

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

    # ------------------------------------------------------------------------ run
    def _check_input(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        want = self.input_shape
        if x.ndim != 2 + len(want) or tuple(x.shape[2:]) != want:
            raise InputError(
                f"input has shape {tuple(x.shape)}; expected (batch, time, {', '.join(map(str, want))})",
                hint="spike arrays are (batch, time, *input_shape); add a batch axis for one sample",
            )
        if x.dtype == np.bool_:
            return x
        if x.dtype.kind not in "biuf" or (x.size and not _is_binary(x)):
            raise InputError(
                "input must be binary spikes (0/1) for the Loihi backends",
                hint="encode real values as spikes first (e.g. rate coding)",
            )
        return x if x.dtype == np.uint8 else x.astype(np.uint8)

    def run(
        self,
        x: Any,
        backend: str = "emulator",
        *,
        timeout: float | None = None,
        return_raw: bool = False,
        progress: bool | None = None,
        device: Any = None,
    ) -> np.ndarray | dict[str, np.ndarray]:
        """Run on ``x`` (batch, T, *input_shape); return (batch, T, *output_shape) per output.

        Spiking outputs are 0/1 ``uint8``; read-outs (LI, I, CubaLI, or synapse-only outputs)
        are membrane values decoded to the float model's units (``float64``).  With one
        output the array is returned, otherwise a dict by output name.  ``return_raw=True``
        returns the backend's :class:`~snnc.backends.base.RunResult` instead (every layer,
        raw chip time line).  ``progress``: a progress bar over the batch (emulator and Lava;
        ``None`` shows it when stderr is a terminal and the run lasts over a second).  ``device``
        (``"cpu"``, ``"cuda"``): the emulator's torch engine on that device, same spikes.
        """
        x = self._check_input(self.encode(x))
        steps = x.shape[1] + max(self.latency.values(), default=0)
        if backend == "emulator":
            from snnc.backends import emulator

            # only the probed compartments are recorded unless every layer is asked for
            record = None if return_raw else [self.probed(o) for o in self.outputs]
            raw = emulator.run(self.graph, x, steps, record, progress=progress, device=device)
        elif backend == "lava":
            from snnc.backends import lava

            if device is not None:
                raise InputError(f"device={device!r} applies to the emulator, not to Lava",
                                 hint="drop device= or run backend='emulator'")

            kwargs = {} if timeout is None else {"timeout": timeout}
            raw = lava.run(self.graph, x, steps, progress=progress, **kwargs)
        elif backend == "loihi2":
            from snnc.backends import loihi2_hw

            raw = loihi2_hw.run(self.graph, x, steps, placement=getattr(self, "placement", None))
        else:
            raise ValidationError(
                f"unknown backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}"
            )
        if return_raw:
            return raw
        out = {o: self._decode(o, raw, x.shape[1]) for o in self.outputs}
        return out[self.outputs[0]] if len(out) == 1 else out

    def _decode(self, output: str, raw, t: int) -> np.ndarray:
        src = self.probed(output)
        comp: loihi.Compartment = self.graph[src]
        k = self.latency[output]
        shape = (raw.steps,) + tuple(self.graph[output].shape)
        if comp.readout == "v":
            v = raw.v[src][:, k : k + t].astype(np.float64) / comp.v_scale
            if comp.v_offset is not None:
                v = v + comp.v_offset.reshape(-1)
            return v.reshape((v.shape[0], t) + shape[1:])
        s = raw.spikes[src][:, k : k + t].astype(np.uint8)
        return s.reshape((s.shape[0], t) + shape[1:])

    @property
    def timesteps(self) -> int | None:
        """Steps per static input sample (converted ANNs), else None (the input's own T)."""
        return None if self.encoder is None else self.encoder.timesteps

    def encode(self, x: Any) -> Any:
        """Static inputs (batch, *in_shape) -> spikes through :attr:`encoder`; spikes unchanged."""
        if self.encoder is not None and self.encoder.is_static(x):
            return self.encoder.encode(x)
        return x

    def to_lava(self, x: Any | None = None, steps: int | None = None):
        """Build the Lava processes of this program (for users who wire or run them).

        ``x`` (one sample, (T, *input_shape)) fills the input RingBuffer; without it the
        source sends no spikes.  Returns :class:`snnc.backends.lava.LavaNetwork`.
        """
        from snnc.backends import lava

        if x is None:
            x = np.zeros((1,) + self.input_shape, dtype=np.uint8)
        x = self._check_input(np.asarray(x)[None])[0]
        steps = steps or x.shape[0] + max(self.latency.values(), default=0)
        return lava.to_lava(self.graph, x, steps)

    def report(self, x: Any):
        """Per-layer float-vs-fixed error report on ``x`` (:mod:`snnc.calibration.report`):
        ``.text()``, ``.to_json()``, ``.plot(path)``."""
        from snnc.calibration.report import error_report

        return error_report(self, x)

    def profile(self, x: Any, coefficients: Any = "loihi2", teacher: Any = None, **kwargs):
        """Energy per inference on ``x`` (:mod:`snnc.profiler`, docs/energy.md): an
        :class:`~snnc.profiler.EnergyReport` with ``.text()``, ``.to_json()``, ``.plot(path)``."""
        from snnc.profiler import profile

        return profile(self, x, coefficients, teacher, **kwargs)

    def resources(self):
        """Resource report of :attr:`placement` (:mod:`snnc.mapping.report`):
        ``.text()``, ``.to_json()``, ``.plot(path)``, ``.summary_line()``."""
        from snnc.mapping.report import resource_report

        if self.placement is None:
            raise ValidationError("this program has no placement",
                                  hint="recompile it with this snnc version (the partition pass places it)")
        return resource_report(self.graph, self.placement, self.target)

    def export_onnx(self, path: str | os.PathLike):
        """Write this program as an ONNX step model (:mod:`snnc.backends.onnx_step`)."""
        from snnc.backends.onnx_step import export_program

        return export_program(self, path)

    def export_netx(self, path: str | os.PathLike) -> Path:
        """Write this program as lava-dl netx HDF5 (:mod:`snnc.backends.netx`)."""
        from snnc.backends.netx import export_netx

        return export_netx(self, path)

    # ------------------------------------------------------------------ save/load
    def save(self, path: str | os.PathLike) -> Path:
        """Write the program to a directory (JSON + npz, no pickle)."""
        from snnc import __version__
        from snnc.compiler.ir.serialize import save_graph

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
    def load(cls, path: str | os.PathLike) -> "Program":
        from snnc.compiler.ir.serialize import load_graph

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
                from snnc.mapping.placement import Placement

                prog.placement = Placement.load(d / "placement.npz")
            if (d / "reference").is_dir():
                prog.reference = load_graph(d / "reference")
            if meta.get("encoder") is not None:
                from snnc.encoding import encoder_from_json

                prog.encoder = encoder_from_json(meta["encoder"])
            return prog
        except (KeyError, TypeError, ValueError, OSError) as e:
            if isinstance(e, FrontendError):
                raise
            raise FrontendError(
                f"compiled program in {str(d)!r} is damaged: {type(e).__name__}: {e}",
                hint="recompile the model with `snnc compile`",
            ) from None

    # ------------------------------------------------------------------- display
    def summary(self) -> str:
        st = self.stats()
        tie = (
            " (the chip spikes on v > vth: exact ties at the threshold do not spike)"
            if self.convention.spike_if == ">="
            else ""
        )
        lines = [
            f"target {self.target.name}; convention {self.convention.describe()}{tie}",
            f"{st['layers']} layers, {st['neurons']} neurons, {st['synapses']} synapses "
            f"in {st['synapse_blocks']} blocks; latency "
            + ", ".join(f"{self.graph[o].source or o}: {k} steps" for o, k in self.latency.items()),
            f"{'layer':<16} {'kind':<8} {'neurons':>7} {'synapses':>9} {'vth':>6} {'du':>9} {'dv':>9} "
            f"{'w_exp':>7} {'b_exp':>5} {'w_err':>6}",
        ]
        if self.encoder is not None:  # a converted ANN: static inputs are encoded (snnc.encoding)
            lines.insert(2, f"input: {self.encoder.describe()}; run(X) takes (batch, "
                            f"{', '.join(map(str, self.encoder.in_shape))}) values")
        for r in self.layers:
            exps = ",".join(str(e) for e in r["weight_exps"]) or "-"
            lines.append(
                f"{r['name'][:16]:<16} {r['kind'][:8]:<8} {r['neurons']:>7} {r['synapses']:>9} "
                f"{r['vth']:>6} {r['du']:>9} {r['dv']:>9} {exps:>7} {r['bias_exp']:>5} "
                f"{100 * r['weight_error']:>5.1f}%"
            )
            lines += [f"  note ({r['name']}): {n}" for n in r["notes"]]
        return "\n".join(lines)

    def __str__(self) -> str:
        return format_graph(self.graph)

    def __repr__(self) -> str:
        st = self.stats()
        return f"<snnc.Program target={self.target.name} layers={st['layers']} neurons={st['neurons']}>"


def _is_binary(x: np.ndarray) -> bool:
    """All entries 0 or 1: a min/max pass for integers, an exact test for floats."""
    if x.dtype.kind in "iu":
        return bool(x.min() >= 0 and x.max() <= 1)
    return bool(np.all((x == 0) | (x == 1)))


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o).__name__)

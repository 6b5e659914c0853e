"""Program: a compiled Loihi-dialect graph with what is needed to run, save and explain it.

Time alignment.  On the chip every synapse layer adds one step, so a population at synaptic
depth k sees input spike ``x[:, t]`` at raw step ``t + k``.  :meth:`Program.run` runs
``T + max(latency)`` raw steps and returns, for each output, ``raw[:, k : k + T]``: outputs are
aligned with the input's time index, like the float reference (:func:`snnc.simulate`).
The latency per output is :attr:`Program.latency`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from snnc import reporting
from snnc.backends import registry
from snnc.backends.netx import export_netx
from snnc.backends.onnx_step import export_program
from snnc.backends.wiring import BIAS, Constant, Spikes, check_input, check_steps
from snnc.calibration.report import error_report
from snnc.compiler.artifact import PROGRAM_FORMAT, Artifact
from snnc.compiler.ir import loihi
from snnc.compiler.ir.printer import format_graph
from snnc.compiler.mapping.report import resource_report
from snnc.encoding import check_memory
from snnc.errors import ArgumentError, InputError, ValidationError
from snnc.profiler import profile

__all__ = ["BACKENDS", "PROGRAM_FORMAT", "Program"]

#: the backend names (:data:`snnc.backends.registry.NAMES`)
BACKENDS = registry.NAMES


class Program(Artifact):
    """A compiled network.  Build it with :func:`snnc.compile`; load it with :meth:`load`.

    Its data and directory format are those of :class:`snnc.compiler.artifact.Artifact`
    (``graph``, ``convention``, ``target``, ``latency``, ``layers``, ``timings``, ``reference``,
    ``encoder``, ``placement``; :meth:`save`, :meth:`load`); this class adds the verbs.
    """

    # ------------------------------------------------------------------------ run
    def check_input(self, x: Any, input: str | None = None) -> Spikes | Constant:  # noqa: A002
        """``x`` encoded (static inputs, :meth:`encode`) and checked against the program's
        input (:func:`snnc.backends.wiring.check_input`, the backends' one check).  Pass the
        result to :meth:`run` (or a backend) and it is not checked again.  ``input="bias"``:
        ``x`` (batch, *input_shape) is checked as the bias route's constant input."""
        if input == BIAS or isinstance(x, Constant):
            return check_input(self.graph, x, route=BIAS if input is None else input)
        try:
            return _nonempty(check_input(self.graph, self.encode(x), route=input))
        except InputError as e:
            if self.encoder is None or isinstance(x, Spikes):
                raise
            enc = self.encoder  # say what the model takes, not only what its encoder emits
            shape = ", ".join(map(str, enc.in_shape))
            raise InputError(
                f"{e.message}; this converted ANN takes static inputs (batch, {shape}) (the model's "
                f"input, rate-encoded to {enc.timesteps} steps of {int(np.prod(enc.spike_shape))} spike "
                f"channels) or spikes (batch, time, {', '.join(map(str, enc.spike_shape))})",
                hint=f"pass (batch, {shape}) values as the ANN took them") from None

    def run(
        self,
        x: Any,
        backend: str = "emulator",
        *,
        timeout: float | None = None,
        return_raw: bool = False,
        progress: bool | None = None,
        device: Any = None,
        steps: int | None = None,
        **options: Any,
    ) -> np.ndarray | dict[str, np.ndarray]:
        """Run on ``x`` (batch, T, *input_shape); return (batch, T, *output_shape) per output.

        Spiking outputs are 0/1 ``uint8``; read-outs (LI, I, CubaLI, or synapse-only outputs)
        are membrane values decoded to the float model's units (``float64``); a sigma-delta
        output is its int32 payload (or sigma), ``int32``, or ``float64`` ``value / out_scale``
        when its ``out_scale`` is not 1.  A program whose input feeds a sigma-delta population
        directly takes int32 values (batch, T, *input_shape), lava-dl's RingBuffer on ``a_in``.  With one
        output the array is returned, otherwise a dict by output name.  ``return_raw=True``
        returns the backend's :class:`~snnc.backends.base.RunResult` instead (every layer,
        raw chip time line).  ``backend``: a name of :mod:`snnc.backends.registry`
        (``emulator``, ``lava``, ``loihi2``).  ``progress``: a progress bar over the batch
        (emulator and Lava; ``None`` shows it when stderr is a terminal and the run lasts over
        a second).  ``timeout``: Lava's watchdog, seconds.  ``device`` (``"cpu"``,
        ``"cuda"``): the emulator's torch engine on that device, same spikes.  Further
        ``options`` go to the backend (:data:`snnc.backends.base.RUN_OPTIONS`); one it does
        not take is an :class:`~snnc.errors.InputError` (``timeout`` and ``progress`` are
        ignored by a backend without them).  ``input="bias"`` (emulator, Lava): ``x`` is
        (batch, *input_shape), one constant value per input element and sample, set as the
        ``bias_mant`` of the compartments the input feeds directly (lava-dl's Input block, as
        lava-dl's tests set ``in_layer.neuron.bias_mant``); ``steps`` (T, required then) is the
        number of output steps.  With spikes ``steps`` (≥ T) runs longer than the input.
        ``states=True`` records u and v of every layer (with ``return_raw``).
        """
        _check_run_arguments(backend, timeout, return_raw, progress)
        b = registry.get_backend(backend)
        given = {"timeout": timeout, "progress": progress, "device": device, **options}
        opts = registry.checked_options(b, given)
        if "placement" in b.options and given.get("placement") is None:
            opts["placement"] = self.placement  # what the program itself holds
        x = self.check_input(x, options.get("input"))
        if isinstance(x, Constant):
            if steps is None:
                raise InputError("input='bias' needs steps= (the number of steps to run: the input "
                                 "has no time axis)", hint="e.g. prog.run(image, input='bias', steps=16)")
            t = check_steps(steps)
        else:
            t = x.steps if steps is None else check_steps(steps)
            if t < x.steps:
                raise InputError(f"steps={t} is shorter than the input ({x.steps} steps)",
                                 hint="leave steps out to run as long as the input")
        raw_steps = t + max(self.latency.values(), default=0)
        # only the probed compartments are recorded unless every layer is asked for
        record = None if return_raw else [self.probed(o) for o in self.outputs]
        self._check_memory(x.batch, raw_steps, record)
        raw = b.run(self.graph, x, raw_steps, record, **opts)
        if return_raw:
            return raw
        out = {o: self._decode(o, raw, t) for o in self.outputs}
        return out[self.outputs[0]] if len(out) == 1 else out

    def _check_memory(self, batch: int, steps: int, record: list[str] | None) -> None:
        """Refuse a run whose recordings would not fit in memory, before it starts."""
        comps = record if record is not None else self.graph.of_kind(*loihi.NEURON_OPS)
        per_step = sum(self.graph[c].size * (1 + (16 if _records_values(self.graph[c]) else 0)) for c in comps)
        check_memory(2 * batch * steps * per_step, f"recording {batch} samples x {steps} steps of "
                     f"{len(comps)} populations", "run fewer samples (or shorter inputs) at a time")

    def _decode(self, output: str, raw, t: int) -> np.ndarray:
        src = self.probed(output)
        comp: loihi.Compartment = self.graph[src]
        k = self.latency[output]
        shape = (raw.steps,) + tuple(self.graph[output].shape)
        if isinstance(comp, loihi.SigmaDeltaCompartment):  # its int32 output (payload or sigma)
            p = raw.payload[src][:, k : k + t]
            p = p.astype(np.int32) if comp.out_scale == 1 else p.astype(np.float64) / comp.out_scale
            return p.reshape((p.shape[0], t) + shape[1:])
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
        if self.encoder is not None and not isinstance(x, Spikes) and self.encoder.is_static(x):
            return self.encoder.encode(x)
        return x

    @classmethod
    def wrap(cls, artifact: Artifact) -> Program:
        """An :class:`~snnc.compiler.artifact.Artifact` (what a fixed-point frontend returns)
        as a Program; a Program is returned as it is."""
        return cls.of(artifact)

    def to_lava(self, x: Any | None = None, steps: int | None = None):
        """Build the Lava processes of this program (for users who wire or run them).

        ``x`` (one sample, (T, *input_shape)) fills the input RingBuffer; without it the
        source sends no spikes.  Returns :class:`snnc.backends.lava.LavaNetwork`.
        """
        if x is None:
            x = np.zeros((1,) + self.input_shape, dtype=np.uint8)
        spikes = check_input(self.graph, np.asarray(x)[None])
        steps = steps or spikes.steps + max(self.latency.values(), default=0)
        return registry.get_backend("lava").build(self.graph, spikes, steps)

    def report(self, x: Any):
        """Per-layer float-vs-fixed error report on ``x`` (:mod:`snnc.calibration.report`):
        ``.text()``, ``.to_dict()``, ``.to_json()``, ``.plot(path)``.  Takes what :meth:`run`
        takes (static inputs of a converted ANN are encoded)."""
        return error_report(self, self.check_input(x))

    def profile(self, x: Any, coefficients: Any = "loihi2", teacher: Any = None, **kwargs):
        """Energy per inference on ``x`` (:mod:`snnc.profiler`, docs/energy.md): an
        :class:`~snnc.profiler.EnergyReport` with ``.text()``, ``.to_dict()``, ``.to_json()``, ``.plot(path)``.
        ``teacher``: an ONNX path or ``onnx.ModelProto``, or a torch module."""
        _check_teacher(teacher)
        return profile(self, x, coefficients, teacher, **kwargs)

    def resources(self):
        """Resource report of :attr:`placement` (:mod:`snnc.compiler.mapping.report`):
        ``.text()``, ``.to_dict()``, ``.to_json()``, ``.plot(path)``, ``.summary_line()``."""
        if self.placement is None:
            raise ValidationError("this program has no placement",
                                  hint="recompile it with this snnc version (the partition pass places it)")
        return resource_report(self.graph, self.placement, self.target)

    def export_onnx(self, path: str | os.PathLike):
        """Write this program as an ONNX step model (:mod:`snnc.backends.onnx_step`) to the
        file ``path`` (atomically; checked before any work); returns the ``onnx.ModelProto``."""
        with reporting.atomic_file(path) as tmp:
            return export_program(self, tmp)

    def export_netx(self, path: str | os.PathLike) -> Path:
        """Write this program as lava-dl netx HDF5 (:mod:`snnc.backends.netx`) to the file
        ``path`` (atomically; checked before any work)."""
        with reporting.atomic_file(path) as tmp:
            export_netx(self, tmp)
        return Path(path)

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
        for r in self.layer_table():  # the registers of the graph that runs
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


def _records_values(node) -> bool:
    """A population whose run records int64 values per step (read-outs, sigma-delta outputs)."""
    return isinstance(node, loihi.SigmaDeltaCompartment) or node.readout == "v"


# ------------------------------------------------------------------------------ API boundary
def _nonempty(x: Spikes | Constant) -> Spikes | Constant:
    """Refuse an input without samples or time steps (run, report, profile and the check all
    take it alike)."""
    shape = tuple(x.data.shape)
    if shape[0] == 0:
        raise InputError(f"the input {shape} holds no sample (its batch axis is empty)",
                         hint="pass at least one sample")
    if isinstance(x, Spikes) and x.steps == 0:
        raise InputError(f"the input {shape} has no time step", hint="pass spikes (batch, T >= 1, *input_shape)")
    return x


def _check_run_arguments(backend: Any, timeout: Any, return_raw: Any, progress: Any) -> None:
    """The types and ranges of :meth:`Program.run`'s own arguments, before any work."""
    if not isinstance(backend, str):
        raise ArgumentError(f"backend must be a name (str), not {type(backend).__name__}",
                            hint=f"one of: {', '.join(registry.NAMES)}")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer, np.floating)):
            raise ArgumentError(f"timeout must be a number of seconds, not {type(timeout).__name__} {timeout!r}",
                                hint="e.g. timeout=60")
        if not (np.isfinite(timeout) and timeout > 0):
            raise InputError(f"timeout={timeout!r} must be a finite number of seconds > 0", hint="e.g. timeout=60")
    if not isinstance(return_raw, (bool, np.bool_)):
        raise ArgumentError(f"return_raw must be True or False, not {type(return_raw).__name__}")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise ArgumentError(f"progress must be True, False or None, not {type(progress).__name__}")


def _check_teacher(teacher: Any) -> None:
    """A teacher for :meth:`Program.profile`: None, an existing ONNX path, an ``onnx.ModelProto``
    or a torch module."""
    if teacher is None:
        return
    if isinstance(teacher, (str, os.PathLike)) and not isinstance(teacher, bytes):
        if not Path(teacher).is_file():
            raise InputError(f"teacher {str(teacher)!r}: no such file", hint="pass the ANN teacher as an .onnx file")
        return
    kind = type(teacher)
    if kind.__name__ == "ModelProto" and kind.__module__.startswith("onnx"):
        return
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(teacher, torch.nn.Module):
        return
    raise ArgumentError(f"teacher must be an ONNX path, an onnx.ModelProto or a torch module, not "
                        f"{kind.__name__}", hint="pass the ANN the student was distilled from, or leave it out")

"""The ``snnc`` command line: compile, run, inspect.

User errors print ``error: ...`` and ``hint: ...`` on stderr and exit with status 2; internal
errors (bugs) exit with 3.  Inputs, numeric options and output paths are checked before any
work; every output is written atomically (:mod:`snnc.reporting`), and nothing is written when a
command fails (``compile --check`` writes the program after the check: also when the backends
disagree, exit 1, so that it can be inspected).  A closed pipe (``snnc inspect OUT | head``)
ends the command quietly with status 141, as for a Unix tool killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

import numpy as np

import snnc
from snnc import emit, reporting
from snnc.backends import registry
from snnc.backends.emulator.shard import is_writer
from snnc.calibration.sigma_delta import output_agreement
from snnc.check import compare_backends, compare_float
from snnc.compiler.artifact import is_program_dir
from snnc.compiler.conventions import apply_preset
from snnc.compiler.ir.printer import format_graph
from snnc.encoding import MAX_TIMESTEPS, DeltaEncoder
from snnc.errors import InputError, SnncError
from snnc.program import Program
from snnc.version import __version__

#: model files the CLI reads, for help texts
MODEL_FILES = ".nir, .onnx, or lava-dl netx .net/.h5"
#: exit status of a command whose output pipe was closed (128 + SIGPIPE, as Unix tools)
EXIT_PIPE = 141


def _add_convention(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("discretization (NIR carries no time step)")
    # default None: --from fills what is not given, then snnc.compiler.discretize.Convention's defaults
    g.add_argument("--dt", type=float, default=None, help="time step in the model's time unit (default 1e-4, snnTorch's)")
    g.add_argument("--integration", choices=("euler", "exact"), default=None, help="forward Euler (default) or exact exponential")
    g.add_argument("--spike-if", choices=(">", ">="), default=None, help="threshold comparison (default '>')")
    g.add_argument("--synapse-input", choices=("ode", "jump"), default=None, help="how CubaLIF input enters its current (default 'ode')")
    g.add_argument("--reset", choices=("value", "subtract"), default=None,
                   help="after a spike: v <- NIR's v_reset (default) or v <- v - threshold")


def _add_netx(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("lava-dl netx files (.net, .h5): hdf5.Network's keywords")
    g.add_argument("--reset-interval", type=int, default=None, metavar="R",
                   help="reset every layer's u and v every R steps (lava-dl's reset_interval; default: never)")
    g.add_argument("--reset-offset", type=int, default=None, metavar="K",
                   help="phase of that reset (lava-dl's reset_offset; layer L resets at K + 1 + L mod R)")


def _netx_options(a: argparse.Namespace) -> dict:
    """``--reset-interval``/``--reset-offset`` as ``snnc.load`` keywords (the ones given)."""
    return {k: v for k, v in (("reset_interval", a.reset_interval), ("reset_offset", a.reset_offset))
            if v is not None}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snnc", description=f"Compile spiking networks ({MODEL_FILES}) for Loihi 2.")
    p.add_argument("--version", action="version", version=f"snnc {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what each pass does")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("compile", help=f"compile a model ({MODEL_FILES}) for a target")
    c.add_argument("model", help=f"model file ({MODEL_FILES})")
    c.add_argument("--target", default="loihi2", help="target chip (loihi2, loihi1) or CHIP-SYSTEM "
                   "(loihi2-oheo-gulch, loihi2-kapoho-point, loihi2-hala-point, ...; docs/mapping.md)")
    c.add_argument("--target-file", metavar="F", default=None,
                   help="a .toml/.json target file with your hardware's limits (overrides --target)")
    c.add_argument("--mapping", choices=("comm", "greedy"), default="comm",
                   help="core -> chip placement: communication-aware (default) or greedy")
    c.add_argument("--no-split", action="store_true", help="refuse layers that do not fit one core")
    c.add_argument("-o", "--output", help="program directory to write (default: MODEL stem + .snnc)")
    c.add_argument("--stop-after", metavar="PASS", help="stop after a pass (validate, quantize) and print the IR")
    c.add_argument("--dump-ir", action="store_true", help="print the compiled IR")
    c.add_argument("--calibration", metavar="X.npz", help="input spikes (key 'x') to size each layer's scale from data; "
                   "for an ONNX ANN: static inputs (batch, *input_shape) to balance its thresholds (--neuron sdnn: "
                   "to choose its units and delta threshold)")
    c.add_argument("--timesteps", type=int, default=None, metavar="T",
                   help=f"ONNX ANNs: time steps per static input sample, 1..{MAX_TIMESTEPS} (default 32; with --neuron "
                   "sdnn: steps a static input is held, default 1; docs/conversion.md)")
    c.add_argument("--neuron", choices=("if", "sdnn"), default="if",
                   help="ONNX ANNs: rate-coded IF neurons (default) or sigma-delta neurons (graded messages; "
                   "docs/conversion.md)")
    c.add_argument("--threshold", type=float, default=None, metavar="THETA",
                   help="--neuron sdnn: the delta threshold in activation units (default: searched on the "
                   "calibration data, the largest that keeps the ANN's decisions within 0.5 pp)")
    c.add_argument("--calibration-method", choices=("max", "percentile", "search"), default=None,
                   help="how calibration data size each layer (default: max; see docs/calibration.md)")
    c.add_argument("--split-weights", action="store_true",
                   help="each weight block as two 8-bit blocks (hi + residual): ~14-bit weights, 2x synapses")
    c.add_argument("--check", metavar="X.npz", help="after compiling, run X on the emulator and on Lava and compare "
                   "every layer (OUT is written after the check)")
    c.add_argument("--timeout", type=float, default=None, help="watchdog for Lava runs, seconds (> 0)")
    c.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="--check: progress bars over the batch (default: when stderr is a terminal)")
    c.add_argument("--emit", choices=("snnc", "netx", "onnx"), default="snnc",
                   help="write a program directory (default), lava-dl netx HDF5 or an ONNX step model")
    c.add_argument("--from", dest="exporter", choices=("snntorch", "norse", "sinabs", "rockpool"), default=None,
                   help="read the NIR file with this exporter's convention (docs/interop.md); "
                        "discretization flags given explicitly win")
    _add_convention(c)
    _add_netx(c)

    r = sub.add_parser("run", help="run a compiled program (or a lava-dl netx file) on input spikes")
    r.add_argument("program", help="program directory written by `snnc compile`, or a lava-dl netx file "
                   "(.net/.h5: runs as snnc.load reads it)")
    r.add_argument("--input", required=True, metavar="X.npz", help="spikes (batch, time, *shape) under key 'x' (or an .npy)")
    r.add_argument("--backend", choices=registry.NAMES, default=registry.DEFAULT, help=registry.describe())
    r.add_argument("-o", "--output", metavar="Y.npz", help="write the output to this file (.npz format, the name as "
                   "given): key 'x' (the input layout), or one key per output")
    r.add_argument("--timeout", type=float, default=None, help="watchdog for Lava runs, seconds (> 0)")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar over the batch (default: when stderr is a terminal)")
    r.add_argument("--device", default=None, help="run the emulator in torch on this device (cpu, cuda)")
    r.add_argument("--input-route", choices=("a_in", "bias"), default=None,
                   help="bias: X is (batch, *input_shape), each sample's values set as the bias of the layer "
                   "the input feeds directly (lava-dl's Input block); needs --steps")
    r.add_argument("--steps", type=int, default=None, metavar="T", help="output steps to run (default: X's length)")
    r.add_argument("--shard", action="store_true",
                   help="under torchrun: each process runs its share of the batch, rank 0 writes the "
                   "whole output (emulator; docs/benchmarks.md)")
    _add_netx(r)

    rep = sub.add_parser("report", help="per-layer quantization error of a compiled program (float vs emulator)")
    rep.add_argument("program", help="program directory written by `snnc compile`")
    rep.add_argument("--input", required=True, metavar="X.npz", help="spikes (batch, time, *shape) under key 'x'")
    rep.add_argument("--json", metavar="F", help="also write the report as JSON")
    rep.add_argument("--plot", metavar="F.png", help="also write per-layer error bars as PNG")

    res = sub.add_parser("resources", help="cores, chips and per-core utilisation of a compiled program")
    res.add_argument("program", help="program directory written by `snnc compile`")
    res.add_argument("--json", metavar="F", help="also write the report as JSON")
    res.add_argument("--plot", metavar="F.png", help="also write per-core utilisation as PNG")

    prof = sub.add_parser("profile", help="energy per inference of a compiled program (docs/energy.md)")
    prof.add_argument("program", help="program directory written by `snnc compile`")
    prof.add_argument("--input", required=True, metavar="X.npz", help="inputs under key 'x' (spikes, or static for an encoder)")
    prof.add_argument("--coefficients", default="loihi2", metavar="NAME|FILE",
                      help="coefficient set: loihi2, loihi1, a shipped name, or a .json/.toml file")
    prof.add_argument("--teacher", metavar="MODEL.onnx", help="ANN teacher for the MAC op-count proxy")
    prof.add_argument("--io-mode", default="compute", choices=("compute", "io-bound", "io-serial"),
                      help="host I/O in the time model: inputs on chip (compute), each step at least the measured "
                           "host I/O floor (io-bound), or chip time + host I/O (io-serial); docs/energy.md")
    prof.add_argument("--static", default="chip", choices=("chip", "cores"),
                      help="static energy of every allocated chip (chip), or PRORATED by the cores in use (cores)")
    prof.add_argument("--json", metavar="F", help="also write the report as JSON")
    prof.add_argument("--plot", metavar="F.png", help="also write per-layer stacked energy bars as PNG")

    i = sub.add_parser("inspect", help="describe a model file or a compiled program")
    i.add_argument("path", help=f"a model file ({MODEL_FILES}) or a program directory")
    return p


def _load_input(path: str, option: str = "--input") -> np.ndarray:
    """The array under key 'x' of an .npz (or the array of an .npy), with at least one sample
    and one time step: an :class:`~snnc.errors.InputError` names the file otherwise."""
    f = Path(path)
    hint = "save the spikes with np.savez(path, x=spikes)"
    try:
        is_file = f.is_file()
    except OSError as e:
        raise InputError(f"cannot read {option} {path[:200]!r}: {e.strerror}", hint=hint) from None
    if not is_file:
        what = "a directory" if f.is_dir() else "no such file"
        raise InputError(f"{option} {path!r}: {what}", hint="pass an .npz with the spikes under key 'x'")
    try:
        with np.load(f, allow_pickle=False) as data:  # an .npy gives an array (no context manager)
            if "x" not in data.files:
                raise InputError(
                    f"{path!r} has no array 'x' (keys: {', '.join(data.files) or 'none'})", hint=hint)
            x = np.asarray(data["x"])
    except InputError:
        raise
    except (AttributeError, TypeError):  # np.load returned an ndarray: an .npy file
        try:
            x = np.asarray(np.load(f, allow_pickle=False))
        except Exception as e:
            raise InputError(f"cannot read {path!r} as .npy: {type(e).__name__}: {e}", hint=hint) from None
    except Exception as e:  # zipfile/zlib/pickle/format errors from numpy
        raise InputError(
            f"cannot read {path!r} as .npz: {type(e).__name__}: {e}",
            hint=hint,
        ) from None
    if x.ndim == 0 or x.shape[0] == 0:
        raise InputError(f"{path!r}: 'x' {tuple(x.shape)} holds no sample (the batch axis is empty)",
                         hint="pass at least one sample: (batch >= 1, ...)")
    if x.ndim >= 2 and x.shape[1] == 0:
        raise InputError(f"{path!r}: 'x' {tuple(x.shape)} has no time step",
                         hint="pass spikes (batch, T >= 1, *shape)")
    return x


def _positive(value: float | None, option: str) -> float | None:
    """A numeric option that must be a finite number > 0 (None: not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"{option} {value} must be a finite number > 0", hint=f"e.g. {option} 60")
    return value


def _check_timesteps(t: int | None) -> None:
    if t is not None and not 1 <= t <= MAX_TIMESTEPS:
        raise InputError(f"--timesteps {t} outside 1..{MAX_TIMESTEPS}",
                         hint="a converted ANN needs tens to hundreds of steps per sample (default 32)")


def _cmd_compile(a: argparse.Namespace) -> int:
    _positive(a.timeout, "--timeout")
    _check_timesteps(a.timesteps)
    if a.neuron == "sdnn" and a.emit == "netx":
        raise InputError("--neuron sdnn cannot be written as lava-dl netx (a netx file has no bias relays, "
                         "docs/conversion.md)",
                         hint="write the snnc program (leave out --emit) or an ONNX step model (--emit onnx)")
    given = a.output if a.output is not None else str(emit.default_path(a.model, a.emit))
    if a.emit == "snnc":  # checked before any work: a file, a foreign directory, a bad path
        reporting.directory_path(given, is_program_dir, "a compiled program")
    else:
        reporting.output_path(given)
    out = Path(given)
    calibration = _load_input(a.calibration, "--calibration") if a.calibration is not None else None
    check_x = _load_input(a.check, "--check") if a.check is not None else None
    apply_preset(a, a.exporter)
    netx = _netx_options(a)
    result = snnc.compile(
        snnc.load(a.model, **netx) if netx else a.model, target=emit.compile_target(a.target_file or a.target, a.emit), dt=a.dt, integration=a.integration, spike_if=a.spike_if,
        synapse_input=a.synapse_input, reset=a.reset, calibration=calibration, stop_after=a.stop_after,
        calibration_method=a.calibration_method, split_weights=a.split_weights, timesteps=a.timesteps,
        mapping=a.mapping, allow_split=not a.no_split, neuron=a.neuron, threshold=a.threshold,
    )
    if not isinstance(result, snnc.Program):
        print(format_graph(result))
        return 0
    x = None
    if check_x is not None:
        x = result.encode(check_x)  # static inputs of an ANN: encoded
        result.check_input(x)  # a wrong shape fails here: before any run, nothing written
    print(f"compiled {a.model} for {result.target.name} -> {out}")
    print(result.summary())
    if result.placement is not None:
        print(result.resources().summary_line())
    if a.dump_ir:
        print(str(result))
    if (x is not None or calibration is not None) and result.reference is not None:
        sample = (check_x if check_x is not None else calibration)[:64]
        if isinstance(result.encoder, DeltaEncoder):  # sigma-delta: the outputs against the float model
            r = output_agreement(result, sample)
            print(f"float model vs fixed point on {len(sample)} samples: argmax agreement "
                  f"{100 * r['agreement']:.1f} %, largest output difference {r['max_abs_difference']:.3g} "
                  f"(outputs up to {r['scale']:.3g})")
        else:
            # the report's loop is the emulator's slow instrumented one: a compact look at 64 samples
            print(result.report(result.encode((x if x is not None else calibration)[:64])).compact())
    agree = True
    if x is not None:
        reference = result.reference if result.reference is not None else snnc.load(a.model)
        if not isinstance(reference, snnc.Program):  # a netx file has no float model
            print(compare_float(reference, result, x).text())
        if a.progress is not False and sys.stderr.isatty():
            print(f"checking {x.shape[0]} samples x {x.shape[1]} steps on the emulator and on Lava "
                  "(Lava takes about a second per sample) ...", file=sys.stderr)
        comparison = compare_backends(result, x, timeout=a.timeout, progress=a.progress)
        print(comparison.text())
        agree = comparison.agree
    # written last: a failed check leaves OUT as it was (a disagreement still writes it)
    if a.emit == "snnc":
        result.save(out)
    else:
        emit.write(result, a.emit, out)
    return 0 if agree else 1


def _cmd_run(a: argparse.Namespace) -> int:
    _positive(a.timeout, "--timeout")
    if a.output is not None:
        reporting.output_path(a.output)  # before any work
    netx = _netx_options(a)
    if Path(a.program).is_file():  # a model file: a lava-dl netx file runs as snnc.load reads it
        prog = snnc.load(a.program, **netx)
        if not isinstance(prog, Program):
            raise InputError(f"{a.program!r} is a model to compile, not a program",
                             hint="compile it first (snnc compile MODEL -o DIR); lava-dl netx files run as they are")
    elif netx:
        raise InputError("--reset-interval/--reset-offset apply to lava-dl netx files",
                         hint="pass the .net file, or recompile the program from it with these flags")
    else:
        prog = Program.load(a.program)
    x = _load_input(a.input)
    route = {"input": a.input_route} if a.input_route else {}
    if a.shard:
        route["shard"] = True
    y = prog.run(x, backend=a.backend, timeout=a.timeout, progress=a.progress, device=a.device,
                 steps=a.steps, **route)
    # spike arrays live under key 'x' (the input layout), so an output can feed another run
    outs = y if isinstance(y, dict) else {"x": y}
    for name, arr in outs.items():
        kind = "spikes" if arr.dtype == np.uint8 else "values"
        extra = f", {int(arr.sum())} spikes" if kind == "spikes" else ""
        print(f"{name}: {kind} {tuple(arr.shape)}{extra} ({a.backend})")
    if a.output is not None and (not a.shard or is_writer()):  # sharded: rank 0 writes
        with reporting.atomic_file(a.output) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **outs)  # a file object: numpy appends no .npz, the name is the one given
        print(f"wrote {a.output}")
    return 0


def _cmd_inspect(a: argparse.Namespace) -> int:
    p = Path(a.path)
    if p.is_dir() and (p / "program.json").is_file():
        prog = snnc.Program.load(p)
        print(prog.summary())
        print(str(prog))
        return 0
    graph = snnc.load(a.path)
    if isinstance(graph, snnc.Program):  # a fixed-point file (lava-dl netx)
        print(graph.summary())
        print(str(graph))
        return 0
    print(f"{a.path}: {len(graph)} nodes, {len(graph.edges)} edges (float dialect)")
    print(format_graph(graph))
    return 0


def _check_report_outputs(a: argparse.Namespace) -> None:
    """Check ``--json``/``--plot`` before the report is computed (a bad suffix fails first)."""
    if a.json is not None:
        reporting.output_path(a.json)
    if a.plot is not None:
        reporting.figure_path(a.plot)


def _show_report(report, a: argparse.Namespace) -> int:
    """Print a report object's ``text()``; write ``--json``/``--plot`` when asked (report commands)."""
    print(report.text())
    if a.json is not None:
        report.to_json(a.json)
        print(f"wrote {a.json}")
    if a.plot is not None:
        print(f"wrote {report.plot(a.plot)}")
    return 0


def _cmd_report(a: argparse.Namespace) -> int:
    _check_report_outputs(a)
    return _show_report(Program.load(a.program).report(_load_input(a.input)), a)


def _cmd_resources(a: argparse.Namespace) -> int:
    _check_report_outputs(a)
    return _show_report(Program.load(a.program).resources(), a)


def _cmd_profile(a: argparse.Namespace) -> int:
    _check_report_outputs(a)
    if a.teacher is not None and not Path(a.teacher).is_file():
        raise InputError(f"--teacher {a.teacher!r}: no such file", hint="pass the ANN teacher as an .onnx file")
    prog = Program.load(a.program)
    return _show_report(prog.profile(_load_input(a.input), a.coefficients, a.teacher, name=a.program,
                                     io_mode=a.io_mode, static=a.static), a)


COMMANDS = {"profile": _cmd_profile, "resources": _cmd_resources, "compile": _cmd_compile, "run": _cmd_run, "inspect": _cmd_inspect, "report": _cmd_report}


class _PipeGuard:
    """stdout that survives its reader going away (``snnc compile ... | head``): the first
    write into a closed pipe points file descriptor 1 at /dev/null (so that the interpreter's
    final flush does not complain), later writes are dropped, and the command still finishes
    its work (a compile still writes its program); :func:`main` then exits with
    :data:`EXIT_PIPE`, as a Unix tool killed by SIGPIPE."""

    def __init__(self, stream):
        self._stream = stream
        self.closed_pipe = False

    def _closed(self) -> None:
        self.closed_pipe = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # not a real file (tests): nothing to redirect
            pass

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._closed()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._closed()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    stdout = sys.stdout
    guard = sys.stdout = _PipeGuard(stdout)
    try:
        rc = COMMANDS[args.command](args)
        guard.flush()  # a closed pipe shows here at the latest
        return EXIT_PIPE if guard.closed_pipe and rc == 0 else rc
    except SnncError as e:
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError as e:  # an estimate missed: still the user's size, not a bug
        print(f"error: out of memory ({e or 'allocation failed'})", file=sys.stderr)
        print("hint: run fewer samples or time steps at a time", file=sys.stderr)
        return 2
    except Exception as e:  # a bug in snnc: say so, keep the traceback in the log
        logging.getLogger("snnc").debug("internal error", exc_info=True)
        print(f"error: internal error in snnc: {type(e).__name__}: {e}", file=sys.stderr)
        print("hint: this is a bug; rerun with -v for the traceback and report it", file=sys.stderr)
        return 3
    finally:
        sys.stdout = stdout


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

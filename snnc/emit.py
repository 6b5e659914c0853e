"""What ``snnc compile --emit`` writes: the snnc program, lava-dl netx HDF5, or an ONNX step model.

==========  ==========  ===========================================================================
``--emit``  default     writer
==========  ==========  ===========================================================================
``snnc``    MODEL.snnc  :meth:`snnc.Program.save` (a directory; runs with ``snnc run``)
``netx``    MODEL.net   :func:`snnc.backends.netx.export_netx`; compiled with ``weight_exp = 0``
                        (:func:`snnc.backends.netx.netx_target`) so dense blocks fit netx
``onnx``    MODEL.onnx  ``snnc.backends.onnx_step.export_program`` (imported lazily)
==========  ==========  ===========================================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnc.errors import BackendUnavailableError, ValidationError

EMITTERS = ("snnc", "netx", "onnx")
SUFFIX = {"snnc": ".snnc", "netx": ".net", "onnx": ".onnx"}


def _check(kind: str) -> None:
    if kind not in EMITTERS:
        raise ValidationError(f"unknown --emit {kind!r}", hint=f"use one of: {', '.join(EMITTERS)}")


def compile_target(target: Any, kind: str) -> Any:
    """The target to compile for when emitting ``kind`` (netx needs ``weight_exp = 0``)."""
    _check(kind)
    if kind == "netx":
        from snnc.backends.netx import netx_target

        return netx_target(target)
    return target


def default_path(model: str, kind: str) -> Path:
    """``MODEL`` with the emitter's suffix."""
    _check(kind)
    return Path(model).with_suffix(SUFFIX[kind])


def write(prog, kind: str, path: str | Path) -> Path:
    """Write ``prog`` as ``kind`` to ``path`` (a directory for ``snnc``, a file otherwise)."""
    _check(kind)
    path = Path(path)
    if kind == "snnc":
        return prog.save(path)
    if kind == "netx":
        return prog.export_netx(path)
    try:
        prog.export_onnx(path)  # imports onnx only here
    except ImportError as e:
        raise BackendUnavailableError(
            f"the ONNX step-model exporter is not available ({e})",
            hint="install snnc with its ONNX dependencies (bash scripts/install.sh), or use --emit snnc",
        ) from None
    return path

"""What ``snnc compile --emit`` writes: the snnc program, lava-dl netx HDF5, or an ONNX step model.

==========  ==========  ===========================================================================
``--emit``  default     writer
==========  ==========  ===========================================================================
``snnc``    MODEL.snnc  :meth:`snnc.Program.save` (a directory; runs with ``snnc run``)
``netx``    MODEL.net   :func:`snnc.backends.netx.export_netx`; compiled with ``weight_exp = 0``
                        (:func:`snnc.backends.netx.netx_target`) so dense blocks fit netx
``onnx``    MODEL.onnx  :meth:`snnc.Program.export_onnx` (:func:`snnc.backends.onnx_step.export_program`)
==========  ==========  ===========================================================================

:func:`export_onnx` writes an ONNX step model of any model snnc loads (a ``.nir`` path, a
``nir.NIRGraph``, a Graph: a float step model) or of a compiled program (an integer one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from snnc.backends import onnx_step
from snnc.backends.netx import netx_target
from snnc.compiler.artifact import Artifact
from snnc.driver import load
from snnc.errors import BackendUnavailableError, ValidationError

__all__ = ["EMITTERS", "SUFFIX", "compile_target", "default_path", "export_onnx", "write"]

EMITTERS = ("snnc", "netx", "onnx")
SUFFIX = {"snnc": ".snnc", "netx": ".net", "onnx": ".onnx"}


def _check(kind: str) -> None:
    if kind not in EMITTERS:
        raise ValidationError(f"unknown --emit {kind!r}", hint=f"use one of: {', '.join(EMITTERS)}")


def compile_target(target: Any, kind: str) -> Any:
    """The target to compile for when emitting ``kind`` (netx needs ``weight_exp = 0``)."""
    _check(kind)
    if kind == "netx":
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


def export_onnx(model: Any, path: str | os.PathLike | None = None, **convention):
    """Write ``model`` as an ONNX step model (:mod:`snnc.backends.onnx_step`); returns the
    ``onnx.ModelProto`` and writes ``path`` when given.

    A compiled program (:class:`snnc.Program`) becomes an integer step model (no convention
    keywords: it carries its own); anything else is loaded first (:func:`snnc.load`: a ``.nir``
    path, a ``nir.NIRGraph``, a Graph) and becomes a float step model under :func:`snnc.simulate`'s
    convention keywords (``dt``, ``integration``, ``spike_if``, ``synapse_input``, ``reset``).
    """
    obj = model if isinstance(model, Artifact) else load(model)
    return onnx_step.export(obj, path, **convention)

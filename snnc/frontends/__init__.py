"""Frontends: read a model into the IR.  :func:`load` picks one by type or suffix.

Float formats (NIR, ONNX ANNs, torch SNNs) load as a float-dialect Graph; fixed-point formats
(lava-dl netx, snnc ONNX step models of a program) as an :class:`~snnc.compiler.artifact.Artifact`,
which the roof (``snnc.load``, :mod:`snnc.driver`) wraps in a :class:`snnc.Program`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from snnc.compiler.artifact import Artifact
from snnc.compiler.ir.graph import Graph
from snnc.errors import FrontendError, InputError
from snnc.frontends.netx import load_netx
from snnc.frontends.nir import load_nir
from snnc.frontends.onnx import load_onnx
from snnc.frontends.torch import load_torch

#: file suffixes each frontend reads
SUFFIXES = {".nir": "nir", ".onnx": "onnx", ".net": "netx", ".h5": "netx"}


#: keyword options each reader takes (``snnc.load(path, **options)``)
OPTIONS = {"netx": ("reset_interval", "reset_offset", "spike_exp", "skip_layers", "num_layers", "input_message_bits")}


def load(source: Any, example_input: Any = None, **options: Any) -> Graph | Artifact:
    """Load a model: a ``.nir`` path, a ``nir.NIRGraph``, or an already loaded Graph.

    Also: an ONNX model (an ANN, or an snnc step model: :mod:`snnc.frontends.onnx_step`), a
    lava-dl netx file (``.net``/``.h5``; returns the compiled program's Artifact, see
    :mod:`snnc.frontends.netx`; ``options``: lava-dl's ``reset_interval``, ``reset_offset``)
    and a ``torch.nn.Module`` with ``example_input`` (:mod:`snnc.frontends.torch`).
    """
    if isinstance(source, Graph) and not options:
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FrontendError(f"no such file: {str(path)!r}", hint="check the path")
        if path.is_dir():
            raise FrontendError(
                f"{str(path)!r} is a directory, not a model file",
                hint="pass a .nir file (compiled programs load with snnc.Program.load)",
            )
        kind = SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise FrontendError(
                f"cannot tell the format of {path.name!r} from its suffix",
                hint=f"supported model files: {', '.join(SUFFIXES)}",
            )
    elif type(source).__module__.startswith("nir"):
        kind = "nir"
    elif type(source).__name__ == "ModelProto" and type(source).__module__.startswith("onnx"):
        kind = "onnx"
    elif _is_torch_module(source) and not options:
        return load_torch(source, example_input)
    elif isinstance(source, Graph) or _is_torch_module(source):
        kind = "graph" if isinstance(source, Graph) else "torch"
    else:
        raise FrontendError(
            f"cannot load a model from a {type(source).__name__}",
            hint="pass a .nir path, a nir.NIRGraph or an snnc Graph",
        )
    unknown = sorted(set(options) - set(OPTIONS.get(kind, ())))
    if unknown:
        takers = [k for k, names in OPTIONS.items() if unknown[0] in names]
        where = f"applies to {', '.join(takers)} files (lava-dl's: .net, .h5)" if takers else "is not a load option"
        raise InputError(
            f"{unknown[0]}= {where}, not to a {kind} model",
            hint="load options: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in OPTIONS.items()),
        )
    if kind == "netx":  # lava-dl netx: already integer, read as a compiled program
        return load_netx(source, **options)
    if kind == "onnx":  # an ANN (converted at compile time) or an snnc step model
        return load_onnx(source)
    return load_nir(source)


def _is_torch_module(source: Any) -> bool:
    """True for a ``torch.nn.Module`` (without importing torch when it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(source, torch.nn.Module)

"""Import an snnc ONNX step model (see :mod:`snnc.backends.onnx_step`) back into snnc.

A step model is recognised by its ``snnc.step_model`` metadata entry (:func:`is_step_model`);
the ONNX frontend for ANN models delegates such files here.  :func:`load_step_model` returns
the IR the model was exported from, carried in its ``snnc.ir`` metadata entry:

* a float step model -> the float-dialect :class:`~snnc.compiler.ir.graph.Graph` (its
  discretization convention: :func:`step_model_convention`);
* an integer step model of a compiled program -> the program's
  :class:`~snnc.compiler.artifact.Artifact` (convention, target and latency included;
  ``snnc.load`` wraps it in a :class:`snnc.Program`); of a bare Loihi-dialect graph -> that Graph.

The import is refused, with a :class:`~snnc.errors.FrontendError` naming the field, when the
model was written by a newer snnc, when the IR entry is damaged, or when the model's tensors
no longer match the fingerprint taken at export (an edited step model would otherwise be
imported as the unedited network).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from snnc.backends.onnx_step import (
    KEY_FORMAT,
    STEP_MODEL_FORMAT,
    metadata,
    as_model,
    step_metadata,
    tensors_fingerprint,
    unpack_ir,
)
from snnc.compiler.artifact import Artifact
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.serialize import load_graph
from snnc.errors import FrontendError

__all__ = ["is_step_model", "load_step_model", "step_model_convention"]

_REEXPORT = "re-export the network with snnc (prog.export_onnx or snnc compile --emit onnx)"


def _proto(model: Any):
    if isinstance(model, (str, os.PathLike)):
        return as_model(model)
    return model


def is_step_model(model_proto: Any) -> bool:
    """True when ``model_proto`` (an ``onnx.ModelProto`` or a path) is an snnc step model."""
    props = getattr(_proto(model_proto), "metadata_props", ())
    return any(p.key == KEY_FORMAT for p in props)


def step_model_convention(model_proto: Any) -> dict | None:
    """The discretization of a float step model (``dt``, ``integration``, ...), else None."""
    raw = metadata(_proto(model_proto)).get("snnc.convention")
    return None if raw is None else json.loads(raw)


def load_step_model(model_proto: Any) -> Graph | Artifact:
    """The snnc Graph or compiled program (an Artifact) a step model was exported from (see
    the module doc)."""
    model = _proto(model_proto)
    meta = step_metadata(model)
    try:
        version = int(meta[KEY_FORMAT])
    except ValueError:
        raise FrontendError(
            f"metadata 'snnc.step_model' is {meta[KEY_FORMAT]!r}, not a format number",
            hint=_REEXPORT,
        ) from None
    if version > STEP_MODEL_FORMAT:
        raise FrontendError(
            f"step model format {version} is newer than this snnc reads ({STEP_MODEL_FORMAT})",
            hint="upgrade snnc to import this model",
        )
    if "snnc.ir" not in meta:
        raise FrontendError("the step model has no 'snnc.ir' metadata entry", hint=_REEXPORT)
    want = meta.get("snnc.tensors_sha256")
    if want != tensors_fingerprint(model):
        raise FrontendError(
            "the step model's tensors differ from those it was exported with "
            "(metadata 'snnc.tensors_sha256' does not match): it was edited after export",
            hint="edit the snnc model and " + _REEXPORT,
        )
    with tempfile.TemporaryDirectory(prefix="snnc-onnx-import-") as tmp:
        d = Path(tmp)
        try:
            unpack_ir(meta["snnc.ir"], d)
        except FrontendError:
            raise
        except Exception as e:  # base64 / zip damage
            raise FrontendError(
                f"metadata 'snnc.ir' is damaged: {type(e).__name__}: {e}", hint=_REEXPORT
            ) from None
        if (d / "program.json").is_file():
            return Artifact.load(d)
        return load_graph(d / "graph")

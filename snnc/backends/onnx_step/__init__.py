"""ONNX as an SNN exchange format: a network as an ONNX *step model*.

A step model computes **one time step**; the network's state is explicit::

    inputs   x                (batch, *input_shape)  this step's input
             reset            bool scalar            True on the first step (start from rest)
             state_in.<key>   ...                    the previous step's state_out.<key>
    outputs  y.<output>       (batch, *shape)        float models: each Output node's value
             spikes.<layer>   (batch, *shape) uint8  compiled programs: every population's spikes
             v.<layer>        (batch, *shape) int64  compiled programs: read-out voltages
             state_out.<key>  ...                    the state after this step

Two kinds, both standard ONNX operators only (opset 17, default domain):

* **float** (:func:`export_graph`): :func:`snnc.simulate`'s step in float64
  (:mod:`.float_model`); onnxruntime reproduces its spikes;
* **loihi** (:func:`export_program`, ``prog.export_onnx``): the emulator's raw step in int64
  with every Lava saturation and int32/24-bit wrap (:mod:`.loihi_model`); onnxruntime
  reproduces its spikes bit for bit.

The model is marked in ``metadata_props``: ``snnc.step_model`` (format version),
``snnc.dialect`` (``float``/``loihi``), ``snnc.states`` (the state keys with dtype and shape),
``snnc.outputs``, ``snnc.latency`` (programs: steps each output lags its input),
``snnc.ir`` (the snnc IR it was made from, a base64 zip of the saved graph or program, so
:func:`snnc.frontends.onnx_step.load_step_model` imports it losslessly) and
``snnc.tensors_sha256`` (a fingerprint of the initializers: an edited model is refused on
import rather than silently imported with the old IR).

:func:`run_step_model` is the reference driver: it loops the steps with onnxruntime.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from snnc import progress as progress_bar
from snnc.backends.onnx_step import float_model, loihi_model
from snnc.backends.onnx_step.builder import MAX_MODEL_BYTES
from snnc.backends.wiring import BINARY, check_spikes
from snnc.compiler.artifact import Artifact
from snnc.compiler.conventions import repair_rockpool
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.serialize import save_graph
from snnc.errors import FrontendError, ValidationError

STEP_MODEL_FORMAT = 1
KEY_FORMAT = "snnc.step_model"

__all__ = [
    "KEY_FORMAT", "STEP_MODEL_FORMAT", "export", "export_graph", "export_program",
    "run_step_model", "metadata", "as_model", "step_metadata", "tensors_fingerprint", "unpack_ir",
]


# ----------------------------------------------------------------------------- IR blob
def _zip_dir(d: Path) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(p for p in d.rglob("*") if p.is_file()):
            z.write(f, f.relative_to(d).as_posix())
    return base64.b64encode(buf.getvalue()).decode("ascii")


def unpack_ir(blob: str, dest: Path) -> None:
    """Write the IR blob of ``snnc.ir`` into directory ``dest``."""
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(blob))) as z:
        for name in z.namelist():
            if name.startswith("/") or ".." in Path(name).parts:
                raise FrontendError(f"unsafe path {name!r} in the step model's snnc.ir")
        z.extractall(dest)


def tensors_fingerprint(model) -> str:
    """sha256 over the initializers' names, types, shapes and bytes, in order."""
    h = hashlib.sha256()
    for t in model.graph.initializer:
        h.update(t.name.encode())
        h.update(bytes([t.data_type % 256]))
        h.update(np.asarray(t.dims, dtype=np.int64).tobytes())
        h.update(t.raw_data)
    return h.hexdigest()


def metadata(model) -> dict[str, str]:
    """The model's ``metadata_props`` as a dict."""
    return {p.key: p.value for p in model.metadata_props}


def step_metadata(model) -> dict[str, str]:
    """:func:`metadata` of an snnc step model; :class:`FrontendError` for any other model."""
    meta = metadata(model)
    if KEY_FORMAT not in meta:
        raise FrontendError(
            f"this ONNX model is not an snnc step model (no '{KEY_FORMAT}' metadata)",
            hint="ONNX ANN models load through snnc.load; step models come from "
            "snnc.backends.onnx_step.export or prog.export_onnx",
        )
    return meta


# ------------------------------------------------------------------------------ export
def _finish(builder, name: str, dialect: str, info: dict, ir_dir: Path, extra: dict) -> Any:
    from onnx import helper

    size = sum(len(t.raw_data) for t in builder.initializers)
    if size > MAX_MODEL_BYTES:
        raise ValidationError(
            f"the step model would hold {size / 1e9:.2f} GB of tensors; one ONNX file holds "
            f"at most {MAX_MODEL_BYTES / 1e9:.0f} GB",
            hint="export a smaller network (sparse and conv blocks become dense matrices)",
        )
    doc = (
        f"snnc {dialect} step model: one time step; feed reset=True on the first step, then "
        "each state_out.<key> back as state_in.<key>. See snnc.backends.onnx_step."
    )
    states = [
        {"key": s.key, "dtype": np.dtype(s.dtype).name, "shape": list(s.shape),
         "batched": s.batched, "doc": s.doc}
        for s in builder.states
    ]
    meta = {
        KEY_FORMAT: str(STEP_MODEL_FORMAT),
        "snnc.dialect": dialect,
        "snnc.states": json.dumps(states),
        "snnc.outputs": json.dumps(info["outputs"]),
        "snnc.input_shape": json.dumps(info["input_shape"]),
        "snnc.input_dtype": info["input_dtype"],
        **({"snnc.payload": info["payload"]} if "payload" in info else {}),
        "snnc.ir": _zip_dir(ir_dir),
        **extra,
    }
    model = builder.model(name, doc, meta)
    helper.set_model_props(model, {**meta, "snnc.tensors_sha256": tensors_fingerprint(model)})
    return model


def _write(model, path: str | os.PathLike) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(model.SerializeToString())
    return p


def export_graph(graph: Graph, path: str | os.PathLike | None = None, *, dt: float = 1e-4,
                 integration: str = "euler", spike_if: str = ">", synapse_input: str = "ode",
                 reset: str = "value"):
    """Export a graph as a step model; writes ``path`` when given.

    A float-dialect graph becomes a float step model under :func:`snnc.simulate`'s
    convention (the keyword arguments); a Loihi-dialect graph becomes an integer step model
    (the keywords are then unused: the registers already hold the discretization).
    Returns the ``onnx.ModelProto``.  ``graph`` is IR: load a model file first
    (``snnc.load``), or call :func:`snnc.emit.export_onnx`, which takes a path too.
    """
    if not isinstance(graph, Graph):
        raise ValidationError(
            f"export_graph takes an snnc Graph, got a {type(graph).__name__}",
            hint="load the model first (snnc.load(path)), or use snnc.emit.export_onnx(path, ...)",
        )
    with tempfile.TemporaryDirectory(prefix="snnc-onnx-") as tmp:
        save_graph(graph, Path(tmp) / "graph")
        if graph.of_kind(*loihi.LOIHI_OPS):
            builder, info = loihi_model.build(graph)
            model = _finish(builder, "snnc_loihi_step", "loihi", info, Path(tmp), {})
        else:
            conv = Convention(dt=dt, integration=integration, spike_if=spike_if,
                              synapse_input=synapse_input, reset=reset)
            graph, _ = repair_rockpool(graph, conv)  # as snnc.simulate does
            builder, info = float_model.build(graph, conv)
            conv_doc = {"dt": dt, "integration": integration, "spike_if": spike_if,
                        "synapse_input": synapse_input, "reset": reset}
            extra = {"snnc.convention": json.dumps(conv_doc)}
            model = _finish(builder, "snnc_float_step", "float", info, Path(tmp), extra)
    if path is not None:
        _write(model, path)
    return model


def export_program(prog: Artifact, path: str | os.PathLike | None = None):
    """Export a compiled program (an :class:`snnc.Program` or its
    :class:`~snnc.compiler.artifact.Artifact`) as an integer step model (see module doc)."""
    builder, info = loihi_model.build(prog.graph)
    with tempfile.TemporaryDirectory(prefix="snnc-onnx-") as tmp:
        prog.save(tmp)
        latency = {f"spikes.{prog.probed(o)}": int(k) for o, k in prog.latency.items()}
        extra = {"snnc.latency": json.dumps(latency),
                 "snnc.program_outputs": json.dumps({o: prog.probed(o) for o in prog.outputs})}
        model = _finish(builder, "snnc_loihi_step", "loihi", info, Path(tmp), extra)
    if path is not None:
        _write(model, path)
    return model


def export(obj: Graph | Artifact, path: str | os.PathLike | None = None, **convention):
    """:func:`export_program` for a compiled program, :func:`export_graph` for a Graph
    (:func:`snnc.emit.export_onnx` also loads model files)."""
    if isinstance(obj, Artifact):
        if convention:
            raise ValidationError(
                "a compiled program carries its own convention",
                hint=f"drop the keyword(s) {', '.join(sorted(convention))}",
            )
        return export_program(obj, path)
    return export_graph(obj, path, **convention)


# ------------------------------------------------------------------------------ driver
def as_model(model):
    """An ``onnx.ModelProto`` from a path (read, with a FrontendError for a bad file) or as is."""
    import onnx

    if isinstance(model, (str, os.PathLike)):
        p = Path(model)
        if not p.is_file():
            raise FrontendError(f"no such file: {str(p)!r}", hint="check the path")
        try:
            return onnx.load(str(p))
        except Exception as e:  # protobuf decode errors
            raise FrontendError(
                f"{str(p)!r} is not an ONNX model: {type(e).__name__}: {e}",
                hint="pass a file written by snnc's ONNX export",
            ) from None
    return model


def run_step_model(model, x, steps: int | None = None, *, progress: bool | None = None):
    """Run a step model (path or ``ModelProto``) on ``x`` (batch, T, *input_shape).

    Loops ``steps`` steps with onnxruntime (default ``T``, plus the largest latency for a
    compiled program, so every output has seen the whole input); steps past ``T`` get zero
    input.  Returns ``{output name: (batch, steps, *shape)}`` for every non-state output.
    """
    import onnxruntime as ort

    model = as_model(model)
    meta = step_metadata(model)
    in_shape = tuple(json.loads(meta["snnc.input_shape"]))
    dtype = np.dtype(meta["snnc.input_dtype"])
    # the backends' one input check: an integer step model takes binary spikes, a float one values
    payload = meta.get("snnc.payload", BINARY) if meta.get("snnc.dialect") == "loihi" else None
    x = check_spikes(x, in_shape, payload).data
    if steps is None:
        lat = json.loads(meta.get("snnc.latency", "{}"))
        steps = x.shape[1] + max(lat.values(), default=0)
    batch = x.shape[0]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    states = json.loads(meta["snnc.states"])
    feeds = {
        f"state_in.{s['key']}": np.zeros(([batch] if s["batched"] else []) + s["shape"],
                                         dtype=s["dtype"])
        for s in states
    }
    names = [o.name for o in sess.get_outputs()]
    outs = [n for n in names if not n.startswith("state_out.")]
    zero = np.zeros((batch, *in_shape), dtype=dtype)
    rec: dict[str, list] = {n: [] for n in outs}
    with progress_bar.bar(total=steps, desc="onnx steps", unit="step", progress=progress) as bar:
        for t in range(steps):
            feeds["x"] = x[:, t].astype(dtype) if t < x.shape[1] else zero
            feeds["reset"] = np.array(t == 0)
            result = dict(zip(names, sess.run(names, feeds)))
            for n in outs:
                rec[n].append(result[n])
            for s in states:
                feeds[f"state_in.{s['key']}"] = result[f"state_out.{s['key']}"]
            bar.update(1)
    return {n: np.stack(v, axis=1) if v else np.zeros((batch, 0)) for n, v in rec.items()}

"""MAC counts of an ANN teacher (ONNX graph or torch module) and the 45 nm op-count proxy.

MACs per inference (batch dimension 1), per node::

    Gemm / MatMul       prod(out) · K                       (K: the contracted dimension)
    Conv                prod(out) · C_in/groups · prod(kernel)
    ConvTranspose       prod(in)  · C_out/groups · prod(kernel)
    nn.Linear           prod(out) · in_features
    nn.Conv{1,2,3}d     prod(out) · C_in/groups · prod(kernel)
    nn.ConvTranspose*   prod(in)  · C_out/groups · prod(kernel)

Other nodes (activations, pooling, additions) are not MACs and are not counted (NeuroBench's
convention: pooling and normalisation are not synaptic operations).

Proxy (Horowitz, ISSCC 2014, 45 nm, 0.9 V): fp32 MAC = 3.7 pJ mult + 0.9 pJ add = 4.6 pJ; an
SNN accumulate (AC) = 0.9 pJ.  ``E_ANN,proxy = MACs·4.6 pJ`` and ``E_SNN,proxy = SynOps·0.9 pJ``
are process-normalised op counts, **not** device measurements, and are never divided into the
Loihi device estimate without saying so.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from snnc.errors import FrontendError, InputError

MAC_FP32_PJ = 4.6
AC_FP32_PJ = 0.9
HOROWITZ = "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014 (45 nm, 0.9 V)"
MAC_OPS = ("Gemm", "MatMul", "Conv", "ConvTranspose")


@dataclasses.dataclass
class MacCount:
    source: str  # "onnx" or "torch"
    per_node: dict[str, int]

    @property
    def macs(self) -> int:
        return int(sum(self.per_node.values()))


def onnx_macs(model: Any) -> MacCount:
    """MACs per inference of an ONNX model (path or ``ModelProto``), from inferred shapes."""
    import onnx
    from onnx import shape_inference

    if not isinstance(model, onnx.ModelProto):
        p = Path(model)
        if not p.is_file():
            raise FrontendError(f"no such ONNX file: {str(p)!r}", hint="pass the teacher's .onnx path")
        try:
            model = onnx.load(str(p))
        except Exception as e:  # protobuf decode errors
            raise FrontendError(f"cannot read {str(p)!r} as ONNX: {e}", hint="export the teacher with torch.onnx.export") from None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name for i in m.graph.initializer}
    for inp in m.graph.input:  # symbolic (batch) dimensions -> 1
        if inp.name in inits:
            continue
        for d in inp.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = 1
    m = shape_inference.infer_shapes(m)
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = tuple(int(d.dim_value) for d in dims)
    for t in m.graph.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
    per_node: dict[str, int] = {}
    for i, node in enumerate(m.graph.node):
        if node.op_type not in MAC_OPS:
            continue
        name = node.name or f"{node.op_type}_{i}"
        need = [node.output[0], node.input[0], node.input[1]]
        if any(n not in shapes for n in need):
            raise FrontendError(f"cannot infer the shapes of ONNX node {name!r} ({node.op_type})",
                                hint="export the teacher with static input shapes")
        out, a, b = (shapes[n] for n in need)
        attrs = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        if node.op_type == "Gemm":
            k = a[0] if attrs.get("transA", 0) else a[-1]
            per_node[name] = int(np.prod(out)) * int(k)
        elif node.op_type == "MatMul":
            per_node[name] = int(np.prod(out)) * int(a[-1])
        elif node.op_type == "Conv":
            per_node[name] = int(np.prod(out)) * int(b[1]) * int(np.prod(b[2:]))
        else:  # ConvTranspose: weight (C_in, C_out/groups, *k)
            per_node[name] = int(np.prod(a)) * int(b[1]) * int(np.prod(b[2:]))
    batch = next((shapes[i.name][0] for i in m.graph.input if i.name not in inits and shapes.get(i.name)), 1)
    return MacCount("onnx", {k: v // max(batch, 1) for k, v in per_node.items()})


def torch_macs(module: Any, example_input: Any) -> MacCount:
    """MACs per inference of a torch module on ``example_input`` (forward hooks; batch averaged)."""
    import torch

    nn = torch.nn
    x = torch.as_tensor(np.asarray(example_input), dtype=torch.float32)
    batch = max(int(x.shape[0]), 1)
    per_node: dict[str, int] = {}
    hooks = []

    def hook(name):
        def f(mod, inp, out):
            n = int(out.numel())
            if isinstance(mod, nn.Linear):
                ops = n * mod.in_features
            elif isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                ops = int(inp[0].numel()) * (mod.out_channels // mod.groups) * int(np.prod(mod.kernel_size))
            else:
                ops = n * (mod.in_channels // mod.groups) * int(np.prod(mod.kernel_size))
            per_node[name] = per_node.get(name, 0) + ops // batch
        return f

    for name, mod in module.named_modules():
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                            nn.ConvTranspose3d)):
            hooks.append(mod.register_forward_hook(hook(name or type(mod).__name__)))
    try:
        with torch.no_grad():
            module(x)
    except Exception as e:
        raise InputError(f"the torch teacher failed on the example input of shape {tuple(x.shape)}: {e}",
                         hint="pass teacher_input=(batch, *in_shape) the teacher accepts") from None
    finally:
        for h in hooks:
            h.remove()
    return MacCount("torch", per_node)


def nvml_status() -> str:
    """Whether the teacher's GPU energy can be measured here (NVML needs CUDA and pynvml)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return "not measured: torch missing"
    if not torch.cuda.is_available():
        return "not measured: no CUDA device"
    try:
        import pynvml  # noqa: F401
    except ImportError:
        return "not measured: pynvml is not installed (pip install nvidia-ml-py)"
    return "available"


def nvml_energy_per_inference(module: Any, example_input: Any, repeats: int = 100) -> float:
    """Measured GPU energy (J) per inference of a torch module: NVML's total-energy counter
    around ``repeats`` forward passes, divided by ``repeats × batch``.  Needs CUDA + pynvml."""
    import pynvml
    import torch

    pynvml.nvmlInit()
    try:
        h = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        mod = module.cuda().eval()
        x = torch.as_tensor(np.asarray(example_input), dtype=torch.float32).cuda()
        with torch.no_grad():
            mod(x)
            torch.cuda.synchronize()
            e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
            for _ in range(repeats):
                mod(x)
            torch.cuda.synchronize()
            e1 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)  # millijoules
        return (e1 - e0) * 1e-3 / (repeats * int(x.shape[0]))
    finally:
        pynvml.nvmlShutdown()


def teacher_macs(teacher: Any, example_input: Any = None) -> MacCount:
    """MACs of an ONNX path/ModelProto or a torch module (which needs ``example_input``)."""
    try:
        import torch

        if isinstance(teacher, torch.nn.Module):
            if example_input is None:
                raise InputError("a torch teacher needs an example input to count its MACs",
                                 hint="pass teacher_input=(batch, *in_shape), or give the teacher as ONNX")
            return torch_macs(teacher, example_input)
    except ImportError:  # pragma: no cover
        pass
    return onnx_macs(teacher)

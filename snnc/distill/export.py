"""Student → NIR (snnTorch's convention, read back by ``snnc compile`` with its defaults) and
the QAT registers taken from snnc's own quantizer.

With ``dt = 1e-4`` and Euler (snnc's defaults), a layer with decays α (current) and β
(voltage) and bias b becomes ``Linear|Conv2d(W) → CubaLIF`` with::

    tau_syn = dt/(1−α),  w_in = 1/(1−α)      (so g_in = w_in·(1−α_I) = 1,  ``synapse_input=ode``)
    tau_mem = dt/(1−β),  r = 1/(1−β)         (so g_v = r·(1−α_v) = 1)
    v_leak  = b/(1−β)                        (so b_v = v_leak·(1−α_v) = b: the bias enters v)
    v_threshold = θ,  v_reset = 0

and the read-outs ``Affine(W, b) → I(r = 1/dt)`` (integrator), ``Affine → LI(tau = dt/(1−β),
r = 1/(1−β), v_leak = 0)`` (leaky) or ``Affine → Output`` (current).  See docs/conventions.md.
Learnt α, β, θ are written with their current values; a layer with batch norm is written
folded, ``W' = s ⊙ W`` and ``b' = b + c`` (:meth:`snnc.distill.neurons.CubaLIF.folded`), so
every ``quantize()`` compiles the fold of the current γ, β_bn and running statistics.
Training-only parts (decoders on taps, bridges, the teacher) are never exported.
"""

from __future__ import annotations

import nir
import numpy as np
import torch

from snnc.compiler.ir import loihi
from snnc.distill.integer import IntegerLayer
from snnc.distill.neurons import CubaLIF, Readout, SeqFlatten
from snnc.driver import compile as snnc_compile
from snnc.errors import ValidationError

#: the time step the student is exported with (snnc's default ``--dt``)
DT = 1e-4


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _value(x) -> float:
    """A float of a layer's decay or threshold (a float, or a learnt 0-d tensor)."""
    return float(x.detach().cpu().double()) if isinstance(x, torch.Tensor) else float(x)


def _cubalif(m: CubaLIF, shape: tuple[int, ...]) -> nir.CubaLIF:
    full = lambda v: np.full(shape, float(v))  # noqa: E731
    alpha, beta = _value(m.alpha), _value(m.beta)
    per_channel = lambda a: np.broadcast_to(a.reshape((-1,) + (1,) * (len(shape) - 1)), shape).copy()  # noqa: E731
    b = per_channel(_np(m.folded()[1]))  # the bias, plus BN's shift when the layer has BN
    th = m.threshold
    theta = per_channel(_np(th)) if isinstance(th, torch.Tensor) and th.dim() == 1 else full(_value(th))
    return nir.CubaLIF(
        tau_syn=full(DT / (1.0 - alpha)), tau_mem=full(DT / (1.0 - beta)), r=full(1.0 / (1.0 - beta)),
        v_leak=b / (1.0 - beta), v_threshold=theta, v_reset=full(0.0),
        w_in=full(1.0 / (1.0 - alpha)),
    )


def _synapse(m: CubaLIF, shape: tuple[int, ...]):
    syn = m.synapse
    w = _np(m.folded()[0])  # BN's scale folded in: W' = s ⊙ W
    if isinstance(syn, torch.nn.Linear):
        return nir.Linear(weight=w)
    return nir.Conv2d(
        input_shape=tuple(shape[1:]), weight=w, stride=syn.stride, padding=syn.padding,
        dilation=syn.dilation, groups=syn.groups, bias=np.zeros(syn.out_channels),
    )


def to_nir(student) -> nir.NIRGraph:
    """The deployable student as a NIR graph (node names = the student's module names)."""
    shape = student.input_shape
    nodes = {"input": nir.Input(input_type=np.array(shape))}
    edges = []
    prev = "input"
    p0 = next(student.parameters())
    x = torch.zeros(1, 1, *shape, device=p0.device, dtype=p0.dtype)  # e.g. CUDA after fit, float64
    for name, m in student.body.named_children():
        with torch.no_grad():  # the shape probe: a CubaLIF's synapse only (no BN statistics update)
            y = m._drive(x) if isinstance(m, CubaLIF) else m(x)
        out_shape = tuple(y.shape[2:])
        if isinstance(m, SeqFlatten):
            nodes[name] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            edges.append((prev, name))
        elif isinstance(m, CubaLIF):
            nodes[f"{name}_w"] = _synapse(m, shape)
            nodes[name] = _cubalif(m, out_shape)
            edges += [(prev, f"{name}_w"), (f"{name}_w", name)]
        else:
            raise ValidationError(f"layer {name!r} ({type(m).__name__}) cannot be exported",
                                  hint="use CubaLIF and SeqFlatten layers in the student body")
        prev, shape, x = name, out_shape, y
    o = student.out
    n_out = o.synapse.out_features
    w, b = _np(o.synapse.weight), _np(o.synapse.bias)
    if isinstance(o, Readout):
        nodes["out_w"] = nir.Affine(weight=w, bias=b)
        edges.append((prev, "out_w"))
        if o.kind == "current":
            edges.append(("out_w", "output"))
        else:
            if o.kind == "integrator":
                nodes["out"] = nir.I(r=np.full(n_out, 1.0 / DT))
            else:
                nodes["out"] = nir.LI(tau=np.full(n_out, DT / (1.0 - o.beta)), r=np.full(n_out, 1.0 / (1.0 - o.beta)),
                                      v_leak=np.zeros(n_out))
            edges += [("out_w", "out"), ("out", "output")]
    else:
        nodes["out_w"] = nir.Linear(weight=w)
        nodes["out"] = _cubalif(o, (n_out,))
        edges += [(prev, "out_w"), ("out_w", "out"), ("out", "output")]
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _population_names(student) -> list[tuple[str, object]]:
    names = [(n, m) for n, m in student.body.named_children() if isinstance(m, CubaLIF)]
    o = student.out
    out_name = "output:readout" if isinstance(o, Readout) and o.kind == "current" else "out"
    return names + [(out_name, o)]


def quantize_student(student, target: str = "loihi2"):
    """Export, run ``snnc.compile(..., stop_after="quantize")`` and load every population's
    registers into its layer (QAT mode on).  Returns the Loihi-dialect graph."""
    out = snnc_compile(to_nir(student), target, stop_after="quantize")
    graph = getattr(out, "graph", out)  # a Program once the graph holds compartments
    device = next(student.parameters()).device
    for pop, m in _population_names(student):
        comp = graph[pop]
        syns = [p for p in graph.predecessors(pop) if isinstance(graph[p], (loihi.Synapse, loihi.ConvSynapse))]
        if len(syns) != 1:
            raise ValidationError(f"population {pop!r} compiled to {len(syns)} synapse blocks, QAT needs one",
                                  node=pop, hint="keep one Linear/Conv2d per layer")
        m.integer = IntegerLayer.from_blocks(pop, comp, graph[syns[0]]).to(device)
    student.set_qat(True)
    return graph


def compile_student(student, target: str = "loihi2", **kw):
    """``snnc.compile`` of the exported student: a :class:`snnc.Program`."""
    return snnc_compile(to_nir(student), target, **kw)


def write_nir(student, path) -> None:
    """Write the exported student to a ``.nir`` file (``snnc compile PATH`` reads it)."""
    nir.write(str(path), to_nir(student))

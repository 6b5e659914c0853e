"""ANN-to-SNN weight initialisation of a same-topology student (IDSNN-style).

The k-th ``nn.Linear``/``nn.Conv2d`` of the ANN (in module order) initialises the k-th
synapse of the student (hidden layers, then the output), ``W_S = scale · W_A``,
``b_S = scale · b_A``; shapes must match.
"""

from __future__ import annotations

import torch
from torch import nn

from snnc.distill.conversion import deployable_body, input_standardisation
from snnc.distill.sigma_delta import SigmaDeltaStudent
from snnc.errors import ValidationError


def _weighted(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def init_from_ann(student, ann: nn.Module, scale: float = 1.0) -> list[tuple[str, str]]:
    """Copy the ANN's weights into the student; returns the (ann, student) module pairs."""
    src, dst = _weighted(ann), _weighted(student)
    dst = [(n, m) for n, m in dst if not n.startswith("losses")]
    if len(src) != len(dst):
        raise ValidationError(f"the ANN has {len(src)} weighted layers, the student {len(dst)}",
                              hint="build the student with the same topology as the ANN")
    pairs = []
    with torch.no_grad():
        for (na, a), (ns, s) in zip(src, dst):
            if a.weight.shape != s.weight.shape:
                raise ValidationError(f"{na} has weight {tuple(a.weight.shape)}, student {ns} {tuple(s.weight.shape)}",
                                      node=ns, hint="match the layer widths (and kernels) of the ANN")
            s.weight.copy_(a.weight * scale)
            if s.bias is not None:
                s.bias.copy_(a.bias * scale if a.bias is not None else torch.zeros_like(s.bias))
            pairs.append((na, ns))
    return pairs


def init_from_teacher(student, teacher: nn.Module) -> None:
    """Initialise a same-topology student from the trained teacher itself.

    A :class:`~snnc.distill.sigma_delta.SigmaDeltaStudent` takes the teacher's
    :func:`~snnc.distill.conversion.deployable_body` (``Conv1d`` as ``(1, k)`` ``Conv2d``) as its
    body and the teacher's input standardisation ``(μ, σ)`` as its host-side
    :attr:`~snnc.distill.sigma_delta.SigmaDeltaStudent.standardise` (exact: the body is the
    teacher's function of x' = (x − μ)/σ); recalibrate it on ``student.prepare(x)`` afterwards.
    A spiking student gets :func:`init_from_ann` of the body with the standardisation folded
    into its first layer (exact away from padded borders, docs in :mod:`snnc.distill.conversion`)."""
    if isinstance(student, SigmaDeltaStudent):
        body = deployable_body(teacher, fold_input=False)
        theirs, ours = body.state_dict(), student.body.state_dict()
        if {k: tuple(v.shape) for k, v in theirs.items()} != {k: tuple(v.shape) for k, v in ours.items()}:
            raise ValidationError("the sigma-delta student's body does not have the teacher's topology",
                                  hint="build it as SigmaDeltaStudent(deployable_body(make_teacher()), ...)")
        student.body.load_state_dict({k: v.to(ours[k].dtype) for k, v in theirs.items()})
        std = input_standardisation(teacher)
        if std is not None and std[0].numel() != 1:
            raise ValidationError(f"the teacher standardises {std[0].numel()} input channels",
                                  hint="the sigma-delta student's host-side standardisation is one (μ, σ)")
        student.standardise = None if std is None else (float(std[0]), float(std[1]))
        return
    init_from_ann(student, deployable_body(teacher))

"""ANN-to-SNN weight initialisation of a same-topology student (IDSNN-style).

The k-th ``nn.Linear``/``nn.Conv2d`` of the ANN (in module order) initialises the k-th
synapse of the student (hidden layers, then the output), ``W_S = scale · W_A``,
``b_S = scale · b_A``; shapes must match.
"""

from __future__ import annotations

import torch
from torch import nn

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

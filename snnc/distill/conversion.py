"""A trained teacher as a deployable body: the same function in the modules snnc's students use.

:func:`deployable_body` rewrites an ``nn.Sequential`` teacher module by module:

* ``Unflatten`` is dropped (the student's ``input_shape`` carries the shape);
* ``Conv1d(k, stride s, padding p)`` on ``(C, L)`` becomes ``Conv2d((1, k), stride (1, s),
  padding (0, p))`` on ``(C, 1, L)``: the same weights, ``W2[o, i, 0, :] = W1[o, i, :]``;
* an input ``BatchNorm1d(affine=False)`` (a fixed standardisation ``x' = (x − μ)/σ``,
  σ = √(running_var + eps), one μ, σ per channel) is dropped with ``fold_input=False`` (the
  student's host-side encoder applies it: :func:`input_standardisation`, exact) or, by default,
  folded into the next convolution::

      W' = W / σ_c ,   b' = b − Σ_{c,k} W[o, c, k] · μ_c / σ_c

  exact wherever the kernel covers no padding; at a padded border the teacher pads x' with 0,
  i.e. x = μ, the folded layer pads x with 0, so there the folded output differs by
  ``Σ_{padded taps} W·μ/σ`` (mnist1d's conv k5/2 p1 on 40 samples: output position 0 of 19;
  with μ/σ ≈ 5.5 this one position costs the trained mnist1d teacher ~40 pp, so the
  sigma-delta student takes the standardised input instead);
* ``Linear``, ``Conv2d``, ``ReLU``, ``Flatten``, ``AvgPool2d`` are copied.

The result feeds a :class:`~snnc.distill.sigma_delta.SigmaDeltaStudent` (its ``body``) or, through
:func:`snnc.distill.init.init_from_ann`, a same-topology spiking student.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from snnc.errors import ValidationError

#: modules copied as they are
_KEPT = (nn.Linear, nn.Conv2d, nn.ReLU, nn.Flatten, nn.AvgPool2d, nn.Identity, nn.Dropout)


def conv1d_as_conv2d(m: nn.Conv1d) -> nn.Conv2d:
    """``Conv1d`` on (C, L) as the equal ``Conv2d`` with a (1, k) kernel on (C, 1, L)."""
    if m.groups != 1 or m.dilation[0] != 1 or not isinstance(m.padding, tuple):
        raise ValidationError(f"Conv1d with groups={m.groups}, dilation={m.dilation}, padding={m.padding!r}",
                              hint="use groups=1, dilation=1 and an integer padding")
    c = nn.Conv2d(m.in_channels, m.out_channels, (1, m.kernel_size[0]), stride=(1, m.stride[0]),
                  padding=(0, m.padding[0]), bias=m.bias is not None)
    with torch.no_grad():
        c.weight.copy_(m.weight[:, :, None, :])
        if m.bias is not None:
            c.bias.copy_(m.bias)
    return c.to(m.weight.dtype)


def standardisation(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ, σ) per channel of an eval-mode ``BatchNorm1d(affine=False)``: x' = (x − μ)/σ."""
    if bn.affine or bn.running_mean is None:
        raise ValidationError("only a BatchNorm1d(affine=False) with running statistics can be folded",
                              hint="standardise the input with BatchNorm1d(C, affine=False)")
    return bn.running_mean.detach().clone(), (bn.running_var.detach() + bn.eps).sqrt()


def fold_standardisation(conv: nn.Conv2d, mu: torch.Tensor, sigma: torch.Tensor) -> nn.Conv2d:
    """``conv((x − μ)/σ)`` as one convolution of x (exact away from padded borders; module docstring)."""
    c = copy.deepcopy(conv)
    shape = (1, -1) + (1,) * (conv.weight.dim() - 2)
    with torch.no_grad():
        w = conv.weight / sigma.reshape(shape).to(conv.weight)
        shift = (w * mu.reshape(shape).to(w)).sum(dim=tuple(range(1, w.dim())))
        c.weight.copy_(w)
        if c.bias is None:
            c.bias = nn.Parameter(-shift)
        else:
            c.bias.copy_(conv.bias - shift)
    return c


def input_standardisation(teacher: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(μ, σ) of the teacher's input ``BatchNorm1d`` (before any weighted layer), or None."""
    for m in teacher.children():
        if isinstance(m, nn.BatchNorm1d):
            return standardisation(m)
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            return None
    return None


def deployable_body(teacher: nn.Sequential, fold_input: bool = True) -> nn.Sequential:
    """The teacher as ``Conv2d``/``Linear``/``ReLU``/``Flatten``/``AvgPool2d`` modules (module
    docstring); ``fold_input=False`` leaves the input standardisation out (the body then takes x')."""
    if not isinstance(teacher, nn.Sequential):
        raise ValidationError(f"the teacher is a {type(teacher).__name__}, not an nn.Sequential",
                              hint="deployable_body rewrites Sequential teachers module by module")
    out: list[nn.Module] = []
    pending = None  # (μ, σ) of an input standardisation waiting for its convolution
    for name, m in teacher.named_children():
        if isinstance(m, nn.Unflatten):
            continue
        if isinstance(m, nn.BatchNorm1d):
            if out:
                raise ValidationError(f"BatchNorm1d {name} after layer {len(out)}",
                                      node=name, hint="only an input standardisation (the first layer) is folded")
            pending = standardisation(m) if fold_input else None
            continue
        if isinstance(m, nn.Conv1d):
            m = conv1d_as_conv2d(m)
        elif isinstance(m, _KEPT):
            m = copy.deepcopy(m)
        else:
            raise ValidationError(f"teacher module {name} ({type(m).__name__}) has no deployable form",
                                  node=name, hint="use Conv1d/Conv2d, Linear, ReLU, Flatten, AvgPool2d")
        if pending is not None:
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                raise ValidationError(f"the input standardisation is followed by {type(m).__name__}",
                                      node=name, hint="follow BatchNorm1d by a convolution or a Linear layer")
            m = fold_standardisation(m, *pending) if isinstance(m, nn.Conv2d) else _fold_linear(m, *pending)
            pending = None
        out.append(m)
    return nn.Sequential(*out)


def _fold_linear(lin: nn.Linear, mu: torch.Tensor, sigma: torch.Tensor) -> nn.Linear:
    """``Linear((x − μ)/σ)`` with one (μ, σ) for the whole input (a one-channel standardisation)."""
    if mu.numel() != 1:
        raise ValidationError(f"a {mu.numel()}-channel standardisation before a Linear layer",
                              hint="fold per-channel standardisations into a convolution")
    c = copy.deepcopy(lin)
    with torch.no_grad():
        c.weight.copy_(lin.weight / sigma.to(lin.weight))
        c.bias.copy_(lin.bias - (c.weight * mu.to(lin.weight)).sum(1))
    return c

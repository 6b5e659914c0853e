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
from collections import OrderedDict

import torch
from torch import nn

from snnc.distill.neurons import CubaLIF
from snnc.distill.student import SpikingStudent
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


def dense_equivalent(conv: nn.Conv2d, in_shape: tuple[int, int, int]) -> nn.Linear:
    """``conv`` on a (C, H, W) input as the equal ``Linear`` on its flattened input (C·H·W →
    C'·H'·W', the same flattening order): ``W_dense[:, j] = conv(e_j)`` without the bias, the
    bias repeated per output position.  For spiking students, whose NIR export cannot carry
    non-square kernels (nir 1.x infers a Conv2d's output with ``kernel_size = weight.shape[2]``
    for both axes) and whose last hidden layer must be dense."""
    n = int(in_shape[0] * in_shape[1] * in_shape[2])
    with torch.no_grad():
        eye = torch.eye(n, dtype=conv.weight.dtype).reshape(n, *in_shape)
        out = nn.functional.conv2d(eye, conv.weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
        lin = nn.Linear(n, out[0].numel(), bias=True).to(conv.weight.dtype)
        lin.weight.copy_(out.reshape(n, -1).T)
        b = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels, dtype=conv.weight.dtype)
        lin.bias.copy_(b.repeat_interleave(out[0, 0].numel()))
    return lin


def padded_input_fold(teacher: nn.Sequential) -> tuple[nn.Sequential, float, int]:
    """The teacher's :func:`deployable_body` with its input standardisation folded **exactly**:
    the first convolution's padding p moves to the host, which pads x with μ (the x whose
    standardised value is the teacher's 0 padding), so ``body(pad_μ(x)) = teacher(x)`` with a
    spiking student's non-negative input (rate-coded x ∈ [0, 1], μ ∈ [0, 1]).  Returns
    (body, μ, p); the body's first module is the unpadded, folded convolution."""
    std = input_standardisation(teacher)
    body = deployable_body(teacher, fold_input=False)
    first = body[0]
    if std is None or not isinstance(first, nn.Conv2d) or std[0].numel() != 1:
        raise ValidationError("padded_input_fold needs a one-channel input BatchNorm1d before a convolution",
                              hint="use deployable_body for other teachers")
    pad = int(first.padding[1])
    if first.padding[0]:
        raise ValidationError(f"the first convolution pads the height by {first.padding[0]}",
                              hint="padded_input_fold moves a width-only padding (1-D signals) to the host")
    first = copy.deepcopy(first)
    first.padding = (0, 0)
    body[0] = fold_standardisation(first, *std)
    return body, float(std[0]), pad


def lif_student_like(body: nn.Sequential, in_shape: tuple[int, ...], output: str = "mem_mean",
                     balance: list[float] | None = None, **lif):
    """A CUBA LIF :class:`~snnc.distill.student.SpikingStudent` with the function of a
    :func:`deployable_body`: each ``Conv2d|Linear → ReLU`` becomes a dense ``CubaLIF`` layer
    (``fc1, fc2, ...``; a convolution through :func:`dense_equivalent`), the last ``Linear`` the
    read-out.  The input is the flattened ``in_shape``.  ``balance`` (one λ per ReLU layer, e.g.
    its 99.9th-percentile activation on training data) rescales layer l by λ_{l−1}/λ_l (bias by
    1/λ_l, λ_0 = 1) and the read-out by λ_L, the data-based weight normalisation of ANN→SNN
    conversion, so each layer's activation a maps to a firing rate ≈ a/λ; ``lif``: CubaLIF options."""
    mods = list(body)
    if not mods or not isinstance(mods[-1], nn.Linear):
        raise ValidationError("the body must end with a Linear layer (the logits)", hint="use deployable_body(teacher)")
    layers: OrderedDict = OrderedDict()
    shape = tuple(in_shape)
    weighted: list[nn.Linear] = []
    for i, m in enumerate(mods[:-1]):
        if isinstance(m, nn.Conv2d):
            with torch.no_grad():
                out_shape = tuple(m(torch.zeros(1, *shape, dtype=m.weight.dtype)).shape[1:])
            weighted.append(dense_equivalent(m, shape))
            shape = out_shape
        elif isinstance(m, nn.Linear):
            weighted.append(copy.deepcopy(m))
            shape = (m.out_features,)
        elif isinstance(m, nn.Flatten):
            shape = (int(torch.tensor(shape).prod()),)
        elif not isinstance(m, (nn.ReLU, nn.Identity, nn.Dropout)):
            raise ValidationError(f"body module {i} ({type(m).__name__}) has no LIF form",
                                  hint="use Conv2d/Linear → ReLU layers, Flatten, and a Linear read-out")
    readout = copy.deepcopy(mods[-1])
    if balance is not None:
        if len(balance) != len(weighted):
            raise ValidationError(f"balance has {len(balance)} values for {len(weighted)} hidden layers",
                                  hint="one λ per ReLU layer")
        lam = [1.0, *map(float, balance)]
        with torch.no_grad():
            for k, lin in enumerate(weighted):
                lin.weight.mul_(lam[k] / lam[k + 1])
                lin.bias.div_(lam[k + 1])
            readout.weight.mul_(lam[-1])
    for k, lin in enumerate(weighted):
        layers[f"fc{k + 1}"] = CubaLIF(lin, **lif)
    n_in = int(torch.tensor(in_shape).prod())
    student = SpikingStudent((n_in,), layers, output, n_out=readout.out_features)
    student.out.synapse.load_state_dict(readout.state_dict())  # a Readout's or an output CubaLIF's
    return student

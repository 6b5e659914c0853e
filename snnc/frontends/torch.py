"""``snnc.load(module, example_input)``: torch networks with spiking neurons, through NIR.

The module goes to the NIR exporter of the framework its neurons come from, then through
snnc's NIR frontend (:mod:`snnc.frontends.nir`):

==========================  ================================================================
neurons from                exporter
==========================  ================================================================
a module that exports       its own ``module.to_nir()`` (snnc's distillation students:
itself                      :meth:`snnc.distill.student.SpikingStudent.to_nir`)
snnTorch (``snntorch.*``)   ``snntorch.export_nir.export_to_nir(module, example_input, ignore_dims=[0])``
                            (the batch dim of ``example_input`` must not leak into the graph)
Norse (``norse.*``)         ``norse.torch.to_nir(module, example_input[0])`` (Norse wants an
                            unbatched sample)
Sinabs (``sinabs.*``)       ``sinabs.to_nir(module, x)``: ``x = example_input`` when the network
                            uses its ``*Squeeze`` layers (batch and time in one axis), else
                            ``example_input[:, None]`` (its plain layers read (batch, time, ...))
Rockpool (``rockpool.*``)   ``rockpool...torch.nir.to_nir(module, example_input[:, None])``
                            ((batch, time, n); the (1, 1) it writes into Input/Output is read away)
==========================  ================================================================

``example_input`` is one batch ``(batch, *input_shape)`` of one time step.  The graph carries
no time step: compile with the exporter's convention (``snnc.compile(g, convention="snntorch")``,
``"norse"``, ``"sinabs"`` or ``"rockpool"``; :mod:`snnc.compiler.conventions`).  A module with no spiking neuron is an
ANN: export it to ONNX and let snnc convert it (``snnc compile model.onnx --timesteps T``).
"""

from __future__ import annotations

from typing import Any

from snnc.errors import FrontendError
from snnc.frontends.nir import load_nir

#: "snnc": a module with its own ``to_nir()`` method (snnc's distillation students)
FRAMEWORKS = ("snnc", "snntorch", "norse", "sinabs", "rockpool")


def exports_itself(module: Any) -> bool:
    """True when ``module`` has its own ``to_nir()`` method (no exporter needed)."""
    return callable(getattr(module, "to_nir", None))


def framework_of(module: Any) -> str | None:
    """Which framework's neurons ``module`` holds (by the modules' packages), or None;
    ``"snnc"`` for a module that exports itself (:func:`exports_itself`)."""
    if exports_itself(module):
        return "snnc"
    import torch

    # torch's own traversal: Rockpool's modules override ``modules()`` with their own meaning
    walk = torch.nn.Module.modules(module) if isinstance(module, torch.nn.Module) else [module]
    found = {type(m).__module__.split(".")[0] for m in walk}
    for name in FRAMEWORKS[1:]:
        if name in found:
            return name
    return None


def _snntorch(module: Any, x: Any):
    from snntorch.export_nir import export_to_nir

    return export_to_nir(module, x, ignore_dims=[0])


def _norse(module: Any, x: Any):
    import norse.torch

    return norse.torch.to_nir(module, x[0])


def _sinabs(module: Any, x: Any):
    import sinabs

    squeezed = any(type(m).__name__.endswith("Squeeze") for m in module.modules())  # a torch Sequential
    return sinabs.to_nir(module, x if squeezed else x[:, None])


def _rockpool(module: Any, x: Any):
    from rockpool.nn.modules.torch.nir import to_nir as rockpool_to_nir

    return rockpool_to_nir(module, x[:, None])


_EXPORTERS = {"snntorch": _snntorch, "norse": _norse, "sinabs": _sinabs, "rockpool": _rockpool}


def to_nir(module: Any, example_input: Any = None):
    """The NIR graph of ``module`` from its framework's exporter (see the module docstring)."""
    kind = framework_of(module)
    if kind == "snnc":
        return module.to_nir()
    if kind is None:
        raise FrontendError(
            f"{type(module).__name__} has no spiking neurons snnc recognises (snnTorch, Norse, Sinabs, Rockpool, "
            "snnc students)",
            hint="an ANN of torch layers: export it with torch.onnx.export and compile the .onnx "
                 "with --timesteps T (ANN-to-SNN conversion)",
        )
    if example_input is None:
        raise FrontendError(f"loading a {kind} module needs example_input",
                            hint="pass one batch of one time step: snnc.load(module, x[:, 0])")
    try:
        return _EXPORTERS[kind](module, example_input)
    except ImportError as e:
        raise FrontendError(f"{kind} is not importable ({e})", hint=f"install {kind} (see docs/interop.md)") from None
    except (RuntimeError, ValueError, TypeError, AttributeError, KeyError) as e:
        raise FrontendError(
            f"{kind}'s NIR exporter failed on {type(module).__name__}: {type(e).__name__}: {e}",
            hint="give every neuron per-neuron parameter tensors (a scalar beta or threshold has "
                 "NIR shape ()), and check example_input's shape",
        ) from None


def load_torch(module: Any, example_input: Any = None):
    """``snnc.load(module, example_input)``: the float-dialect Graph of a torch SNN."""
    return load_nir(to_nir(module, example_input))

"""``snnc.load(module, example_input)``: torch networks with spiking neurons, through NIR.

The module goes to the NIR exporter of the framework its neurons come from, then through
snnc's NIR frontend (:mod:`snnc.frontends.nir`):

==========================  ================================================================
neurons from                exporter
==========================  ================================================================
snnc's distillation student ``snnc.distill.export.to_nir(student)``
snnTorch (``snntorch.*``)   ``snntorch.export_nir.export_to_nir(module, example_input, ignore_dims=[0])``
                            (the batch dim of ``example_input`` must not leak into the graph)
Norse (``norse.*``)         ``norse.torch.to_nir(module, example_input[0])`` (Norse wants an
                            unbatched sample)
==========================  ================================================================

``example_input`` is one batch ``(batch, *input_shape)`` of one time step.  The graph carries
no time step: compile with the exporter's convention (``snnc.compile(g, convention="snntorch")``
or ``"norse"``; :mod:`snnc.frontends.conventions`).  A module with no spiking neuron is an
ANN: export it to ONNX and let snnc convert it (``snnc compile model.onnx --timesteps T``).
"""

from __future__ import annotations

from typing import Any

from snnc.errors import FrontendError

FRAMEWORKS = ("snnc", "snntorch", "norse")


def framework_of(module: Any) -> str | None:
    """Which framework's neurons ``module`` holds (by the modules' packages), or None."""
    if type(module).__module__.startswith("snnc.distill"):
        return "snnc"
    found = {type(m).__module__.split(".")[0] for m in module.modules()}
    for name in ("snntorch", "norse"):
        if name in found:
            return name
    return None


def to_nir(module: Any, example_input: Any = None):
    """The NIR graph of ``module`` from its framework's exporter (see the module docstring)."""
    kind = framework_of(module)
    if kind == "snnc":
        from snnc.distill.export import to_nir as student_to_nir

        return student_to_nir(module)
    if kind is None:
        raise FrontendError(
            f"{type(module).__name__} has no spiking neurons snnc recognises (snnTorch, Norse, snnc students)",
            hint="an ANN of torch layers: export it with torch.onnx.export and compile the .onnx "
                 "with --timesteps T (ANN-to-SNN conversion)",
        )
    if example_input is None:
        raise FrontendError(f"loading a {kind} module needs example_input",
                            hint="pass one batch of one time step: snnc.load(module, x[:, 0])")
    try:
        if kind == "snntorch":
            from snntorch.export_nir import export_to_nir

            return export_to_nir(module, example_input, ignore_dims=[0])
        import norse.torch

        return norse.torch.to_nir(module, example_input[0])
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
    from snnc.frontends.nir import load_nir

    return load_nir(to_nir(module, example_input))

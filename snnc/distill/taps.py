"""Feature taps: forward hooks registered by module name, so users do not rewrite models."""

from __future__ import annotations

import torch
from torch import nn

from snnc.errors import ValidationError


class Taps:
    """Record the outputs of ``model``'s modules named ``names`` on every forward pass.

    ``taps[name]`` is the last output; ``close()`` removes the hooks."""

    def __init__(self, model: nn.Module, names):
        mods = dict(model.named_modules())
        missing = [n for n in names if n not in mods]
        if missing:
            raise ValidationError(f"no module named {missing[0]!r} in {type(model).__name__}",
                                  hint=f"module names: {', '.join(n for n in mods if n)[:300]}")
        self.values: dict[str, torch.Tensor] = {}
        self._handles = [mods[n].register_forward_hook(self._hook(n)) for n in names]

    def _hook(self, name):
        def hook(module, inputs, output):
            self.values[name] = output

        return hook

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.values[name]

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

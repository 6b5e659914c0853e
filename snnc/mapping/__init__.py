"""Deprecated: ``snnc.mapping`` moved to :mod:`snnc.compiler.mapping` (its submodules too:
``snnc.mapping.placement`` is :mod:`snnc.compiler.mapping.placement`, ...;
docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.mapping import Placement

warnings.warn("snnc.mapping is deprecated; import snnc.compiler.mapping instead", DeprecationWarning,
              stacklevel=2)

__all__ = ["Placement"]

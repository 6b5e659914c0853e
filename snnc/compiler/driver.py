"""Deprecated: the compile driver moved to the roof, :mod:`snnc.driver` (call ``snnc.compile``;
docs/decisions/0005-layering.md).  This alias goes in the next release."""

import warnings

from snnc.driver import compile  # noqa: A004 - the public name is snnc.compile

warnings.warn("snnc.compiler.driver is deprecated; use snnc.compile (snnc.driver.compile)",
              DeprecationWarning, stacklevel=2)

__all__ = ["compile"]

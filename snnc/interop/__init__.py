"""Deprecated: ``snnc.interop`` was folded into the backends (docs/decisions/0005-layering.md):
``snnc.interop.netx_weights`` is :mod:`snnc.backends.netx_weights`, ``snnc.interop.netx_lava``
is :mod:`snnc.backends.lava.netx`.  This alias goes in the next release."""

import warnings

warnings.warn("snnc.interop is deprecated; import snnc.backends.netx_weights or snnc.backends.lava.netx",
              DeprecationWarning, stacklevel=2)

"""Deprecated: ``snnc.interop.netx_weights`` moved to :mod:`snnc.backends.netx_weights`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.backends.netx_weights import *  # noqa: F401,F403

warnings.warn("snnc.interop.netx_weights is deprecated; import snnc.backends.netx_weights instead", DeprecationWarning,
              stacklevel=2)

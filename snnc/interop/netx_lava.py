"""Deprecated: ``snnc.interop.netx_lava`` moved to :mod:`snnc.backends.lava.netx`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.backends.lava.netx import *  # noqa: F401,F403

warnings.warn("snnc.interop.netx_lava is deprecated; import snnc.backends.lava.netx instead", DeprecationWarning,
              stacklevel=2)

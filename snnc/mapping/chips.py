"""Deprecated: ``snnc.mapping.chips`` moved to :mod:`snnc.compiler.mapping.chips`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.mapping.chips import *  # noqa: F401,F403

warnings.warn("snnc.mapping.chips is deprecated; import snnc.compiler.mapping.chips instead", DeprecationWarning,
              stacklevel=2)

"""Deprecated: ``snnc.mapping.placement`` moved to :mod:`snnc.compiler.mapping.placement`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.mapping.placement import *  # noqa: F401,F403

warnings.warn("snnc.mapping.placement is deprecated; import snnc.compiler.mapping.placement instead", DeprecationWarning,
              stacklevel=2)

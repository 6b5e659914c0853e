"""Deprecated: ``snnc.mapping.cost`` moved to :mod:`snnc.compiler.mapping.cost`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.mapping.cost import *  # noqa: F401,F403

warnings.warn("snnc.mapping.cost is deprecated; import snnc.compiler.mapping.cost instead", DeprecationWarning,
              stacklevel=2)

"""Deprecated: ``snnc.mapping.split`` moved to :mod:`snnc.compiler.mapping.split`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.mapping.split import *  # noqa: F401,F403

warnings.warn("snnc.mapping.split is deprecated; import snnc.compiler.mapping.split instead", DeprecationWarning,
              stacklevel=2)

"""Deprecated: ``snnc.mapping.usage`` moved to :mod:`snnc.compiler.mapping.usage`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.mapping.usage import *  # noqa: F401,F403

warnings.warn("snnc.mapping.usage is deprecated; import snnc.compiler.mapping.usage instead", DeprecationWarning,
              stacklevel=2)

"""Deprecated: ``snnc.frontends.conventions`` moved to :mod:`snnc.compiler.conventions`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.conventions import *  # noqa: F401,F403

warnings.warn("snnc.frontends.conventions is deprecated; import snnc.compiler.conventions instead", DeprecationWarning,
              stacklevel=2)

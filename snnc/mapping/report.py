"""Deprecated: ``snnc.mapping.report`` moved to :mod:`snnc.compiler.mapping.report`
(docs/decisions/0005-layering.md); this alias goes in the next release."""

import warnings

from snnc.compiler.mapping.report import *  # noqa: F401,F403

warnings.warn("snnc.mapping.report is deprecated; import snnc.compiler.mapping.report instead", DeprecationWarning,
              stacklevel=2)

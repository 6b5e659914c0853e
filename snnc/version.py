"""The installed snnc version (``snnc.__version__``), on the ground floor so that the
directory formats below the roof can record it without importing the roof."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("snnc")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

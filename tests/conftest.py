"""Test-suite settings shared by every test directory.

Hypothesis: under CI (``CI=true``) examples are derandomized, so a CI run is reproducible and
a red CI can be rerun locally with ``CI=true``; locally each run explores new examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")

# shared test helpers (tests/helpers) importable by name under --import-mode=importlib
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

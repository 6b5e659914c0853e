"""Regression testing of deployed networks: golden spike files, metric baselines, pytest plugin.

The pytest plugin (:mod:`snnc.testing.plugin`, auto-loaded through the ``pytest11`` entry
point) provides the fixtures; the helpers here also work without pytest::

    from snnc.testing import assert_spikes_match, write_golden, Baselines
"""

from __future__ import annotations

from snnc.testing.baseline import Baselines, baseline_key
from snnc.testing.golden import (
    BIT_EXACT_TARGETS,
    GoldenFileError,
    assert_spikes_match,
    read_golden,
    write_golden,
)

__all__ = sorted(["assert_spikes_match", "read_golden", "write_golden", "GoldenFileError", "Baselines",
                  "baseline_key", "BIT_EXACT_TARGETS"])

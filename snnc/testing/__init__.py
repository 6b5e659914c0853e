"""Regression testing of deployed networks: golden spike files, metric baselines, pytest plugin.

The pytest plugin (:mod:`snnc.testing.plugin`, auto-loaded through the ``pytest11`` entry
point) provides the fixtures; the helpers here also work without pytest::

    from snnc.testing import assert_spikes_match, write_golden, Baselines

Names are imported lazily: the golden-file and baseline modules load on first use.
"""

from __future__ import annotations

#: targets whose spikes are identical (the emulator is bit-exact with Lava's fixed_pt models):
#: golden files compare element for element and metric baselines are shared between them
BIT_EXACT_TARGETS = ("emulator", "lava")

_EXPORTS = {
    "assert_spikes_match": "snnc.testing.golden",
    "read_golden": "snnc.testing.golden",
    "write_golden": "snnc.testing.golden",
    "GoldenFileError": "snnc.testing.golden",
    "Baselines": "snnc.testing.baseline",
    "baseline_key": "snnc.testing.baseline",
}

__all__ = sorted([*_EXPORTS, "BIT_EXACT_TARGETS"])


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'snnc.testing' has no attribute {name!r}")

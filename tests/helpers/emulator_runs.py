"""Comparing two emulator RunResults exactly (shared by the emulator engine tests)."""

from __future__ import annotations

import numpy as np


def assert_same_run(a, b) -> None:
    """Same recorded compartments, identical spikes, identical int64 voltages."""
    assert set(a.spikes) == set(b.spikes) and set(a.v) == set(b.v)
    for c in a.spikes:
        assert np.array_equal(a.spikes[c], b.spikes[c]), c
    for c in a.v:
        assert a.v[c].dtype == b.v[c].dtype == np.int64
        assert np.array_equal(a.v[c], b.v[c]), c

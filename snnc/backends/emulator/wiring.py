"""Deprecated: ``snnc.backends.emulator.wiring`` moved to :mod:`snnc.backends.wiring` (the one
input check of every backend; docs/decisions/0005-layering.md); this alias goes in the next
release.

``check_input(graph, w, x, steps)``, ``validate_input(graph, w, x, steps)``,
``spike_array(x, steps, n_in)`` and ``spike_view(x, n_in)`` keep their old signatures here;
:func:`snnc.backends.wiring.check_input` returns a :class:`~snnc.backends.wiring.Spikes`.
"""

import warnings

import numpy as np

from snnc.backends.wiring import (  # noqa: F401
    LAVA_CONV_MAX_GEOMETRY,
    LAVA_MAX_DELAY,
    SYNAPSE_KINDS,
    Spikes,
    Wiring,
    check_conv,
    check_record,
    check_spikes,
    wiring,
)

warnings.warn("snnc.backends.emulator.wiring is deprecated; import snnc.backends.wiring instead",
              DeprecationWarning, stacklevel=2)


def _in_shape(graph, w):
    return tuple(graph[w.source].shape) if w.source else None


def validate_input(graph, w, x, steps) -> tuple[np.ndarray, int]:
    """The checked ``x`` as given and ``steps`` as an int (old signature)."""
    s = check_spikes(x, _in_shape(graph, w), steps=steps)
    return s.data, int(steps)


def check_input(graph, w, x, steps) -> np.ndarray:
    """The checked ``x`` as bool (batch, steps, n_in) (old signature)."""
    return check_spikes(x, _in_shape(graph, w), steps=steps).padded(int(steps))


def spike_view(x: np.ndarray, n_in: int) -> np.ndarray:
    """Checked ``x`` as bool (batch, T_in, n_in), no copy for bool and 0/1 bytes (old signature)."""
    return Spikes(np.asarray(x), (n_in,) if n_in else None).view()


def spike_array(x: np.ndarray, steps: int, n_in: int) -> np.ndarray:
    """Checked ``x`` as bool (batch, steps, n_in), zero after T_in (old signature)."""
    return Spikes(np.asarray(x), (n_in,) if n_in else None).padded(steps)

"""The backends, listed once: :data:`BACKENDS`, :func:`get_backend`, :func:`checked_options`.

``Program.run``, ``Program.to_lava``, the CLI (``snnc run --backend``), the profiler,
``snnc.check``, the calibration traces and the pytest plugin (``--snnc-target``) find backends
here, so a new backend is one module stating its :class:`~snnc.backends.base.BackendSpec`
(``BACKEND``) and one entry in :data:`BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snnc.backends import emulator, lava, loihi2_hw
from snnc.backends.base import ADVISORY_OPTIONS, RUN_OPTIONS, Backend
from snnc.errors import InputError, ValidationError

#: name -> backend, in the order users see them (the first is the default)
BACKENDS: dict[str, Backend] = {b.name: b for b in (emulator.BACKEND, lava.BACKEND, loihi2_hw.BACKEND)}
#: the backend names (``snnc run --backend`` choices, ``--snnc-target`` choices)
NAMES: tuple[str, ...] = tuple(BACKENDS)
DEFAULT = NAMES[0]


def get_backend(name: str) -> Backend:
    """The backend called ``name``; a :class:`~snnc.errors.ValidationError` for any other name."""
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise ValidationError(f"unknown backend {name!r}", hint=f"use one of: {', '.join(NAMES)}") from None


def takers(option: str) -> list[Backend]:
    """The backends whose ``run`` takes ``option``."""
    return [b for b in BACKENDS.values() if option in b.options]


def checked_options(backend: Backend, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``options`` to pass to ``backend.run``: those it takes (``None`` included: the
    backend's own default), without those it ignores.

    ``None`` means "not given".  An option of :data:`~snnc.backends.base.ADVISORY_OPTIONS`
    that the backend does not take is dropped; any other option it does not take raises an
    :class:`~snnc.errors.InputError` (``device='cpu' applies to the emulator, not to Lava``),
    as does an option no backend takes.
    """
    out = {}
    for key, value in options.items():
        if key in backend.options:
            out[key] = value
        elif value is None or key in ADVISORY_OPTIONS:
            continue
        elif key not in RUN_OPTIONS:
            raise InputError(
                f"unknown option {key}= for backend {backend.name!r}",
                hint=f"{backend.name} takes: {', '.join(sorted(backend.options)) or 'no options'}",
            )
        else:
            others = takers(key)
            where = " and ".join(b.title for b in others) or "no backend"
            raise InputError(
                f"{key}={value!r} applies to {where}, not to {backend.title}",
                hint=f"drop {key}=" + (f" or run backend={others[0].name!r}" if others else ""),
            )
    return out


def describe() -> str:
    """One line per backend: ``name: summary`` (the CLI's ``--backend`` help)."""
    return "; ".join(f"{b.name}: {b.summary}" for b in BACKENDS.values())

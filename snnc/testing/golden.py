"""Golden spike files and the assertion that compares a run against them.

A golden file is an ``.npz`` holding one array per output (``y`` for a single array, else the
output names) and ``__snnc__``, a JSON string with the target and software versions that
recorded it.  :func:`assert_spikes_match` compares:

* ``exact=True`` (integer targets: ``emulator``, ``lava``) -- every element equal; the message
  gives the number of differing elements and the first one (sample, step, neuron...);
* ``exact=False`` (hardware) -- per output, the total spike count within ``count_rtol`` of the
  golden count, and the per-sample argmax of the spike counts over time (the predicted class)
  equal in at least ``argmax_agreement`` of the samples.

A golden file whose outputs or shapes do not fit the run raises :class:`GoldenFileError`
naming the file, the field and the fix.
"""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.registry import BACKENDS
from snnc.errors import SnncError

#: targets whose spikes are identical (the emulator is bit-exact with Lava's fixed_pt models):
#: golden files compare element for element and metric baselines are shared between them
BIT_EXACT_TARGETS = tuple(b.name for b in BACKENDS.values() if b.bit_exact)

META_KEY = "__snnc__"
UPDATE_HINT = "if the change is intended, rerun pytest with --snnc-update-golden"


class GoldenFileError(SnncError, ValueError):
    """A golden file is missing, unreadable, or does not fit the outputs it is compared with."""


def _as_dict(y: Any) -> dict[str, np.ndarray]:
    if isinstance(y, dict):
        return {str(k): np.asarray(v) for k, v in y.items()}
    return {"y": np.asarray(y)}


def software_versions() -> dict[str, str]:
    """Versions of snnc and the Lava distributions installed (absent ones left out)."""
    out = {}
    for dist in ("snnc", "lava-nc", "lava-loihi", "onnxruntime"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def write_golden(path: str | os.PathLike, y: Any, target: str) -> Path:
    """Record ``y`` (an array or a dict of arrays) as the golden file ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"target": target, "versions": software_versions()})
    arrays = _as_dict(y)
    if META_KEY in arrays:
        raise GoldenFileError(f"an output may not be named {META_KEY!r}", hint="rename it")
    with open(p, "wb") as fh:
        np.savez_compressed(fh, **arrays, **{META_KEY: np.array(meta)})
    return p


def read_golden(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the metadata of a golden file."""
    p = Path(path)
    if not p.is_file():
        raise GoldenFileError(f"golden file {str(p)!r} does not exist",
                              hint="record it: run pytest with --snnc-update-golden")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - zip/format errors from numpy
        raise GoldenFileError(f"golden file {str(p)!r} is not a readable .npz: "
                              f"{type(e).__name__}: {e}", hint=UPDATE_HINT) from None
    meta = json.loads(str(arrays.pop(META_KEY))) if META_KEY in arrays else {}
    return arrays, meta


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    bad = np.argwhere(a != b)
    idx = tuple(int(i) for i in bad[0])
    return f"{len(bad)} of {a.size} elements differ; first at {idx}: got {a[idx]!r}, golden {b[idx]!r}"


def _predicted(a: np.ndarray) -> np.ndarray:
    """Per sample, the index of the neuron with most spikes over time (a, (batch, T, ...))."""
    counts = a.reshape(a.shape[0], a.shape[1], -1).sum(axis=1)
    return counts.argmax(axis=1)


def assert_spikes_match(actual: Any, golden: Any, *, exact: bool = True,
                        count_rtol: float = 0.05, argmax_agreement: float = 1.0,
                        source: str = "golden") -> None:
    """Assert ``actual`` matches ``golden`` (arrays, dicts of arrays, or a golden file path).

    See the module docstring for ``exact`` and the tolerances.  Raises ``AssertionError`` on
    a mismatch and :class:`GoldenFileError` when the golden data cannot be compared at all.
    """
    if isinstance(golden, (str, os.PathLike)):
        source = str(golden)
        golden, _ = read_golden(golden)
    got, want = _as_dict(actual), _as_dict(golden)
    if set(got) != set(want):
        raise GoldenFileError(
            f"{source}: outputs {sorted(want)} in the golden data, but the run gave {sorted(got)}",
            hint=UPDATE_HINT,
        )
    failures = []
    for name in sorted(want):
        a, b = got[name], want[name]
        if a.shape != b.shape:
            raise GoldenFileError(
                f"{source}: field {name!r} has shape {b.shape} in the golden data, but the run "
                f"gave {a.shape}", hint=UPDATE_HINT + " (or run the input the file was made with)",
            )
        if exact:
            if not np.array_equal(a, b):
                failures.append(f"{name}: {_first_difference(a, b)}")
            continue
        n_got, n_want = float(a.sum()), float(b.sum())
        if abs(n_got - n_want) > count_rtol * max(n_want, 1.0):
            failures.append(f"{name}: {n_got:g} spikes, golden {n_want:g} "
                            f"(tolerance ±{100 * count_rtol:g}%)")
        if a.ndim >= 3 and a.shape[0]:
            agree = float(np.mean(_predicted(a) == _predicted(b)))
            if agree < argmax_agreement:
                failures.append(f"{name}: argmax agrees on {100 * agree:.1f}% of samples, "
                                f"need {100 * argmax_agreement:g}%")
    if failures:
        raise AssertionError(f"spikes do not match {source}:\n  " + "\n  ".join(failures)
                             + f"\n  ({UPDATE_HINT})")

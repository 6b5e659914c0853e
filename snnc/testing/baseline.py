"""Metric baselines (energy, latency, ...) with per-metric tolerances, keyed by target and versions.

A baseline file is JSON::

    {
      "tolerances": {                                  per metric: rtol and/or atol
        "*":       {"latency_steps": {"atol": 0}, "energy_uj": {"rtol": 0.05}},
        "loihi2":  {"energy_uj": {"rtol": 0.25}}       a target's entry overrides "*"
      },
      "baselines": {                                   recorded values, by key
        "emulator|snnc=0.1.0|lava-nc=0.10.0": {"latency_steps": 2, "energy_uj": 1.84}
      }
    }

The key is the target plus the versions of the software that produce the numbers
(:func:`baseline_key`), so a new compiler or Lava release records its own baseline instead of
silently moving the old one.  :meth:`Baselines.check` compares a value with the baseline of
the current key; when there is none it falls back to another baseline of the same target (the
last key in sorted order: versions compare as strings, so not necessarily the newest; for
``emulator`` and ``lava``, whose spikes are identical, of either), says so in the failure
message, and fails with a hint to record one when the target has
none.  A metric with no tolerance must match exactly (``atol = rtol = 0``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from snnc.testing.golden import BIT_EXACT_TARGETS, GoldenFileError, software_versions

DEFAULT_TOLERANCE = {"rtol": 0.0, "atol": 0.0}


def baseline_key(target: str, versions: dict[str, str] | None = None) -> str:
    versions = software_versions() if versions is None else versions
    return "|".join([target, *(f"{k}={v}" for k, v in sorted(versions.items()))])


class Baselines:
    """One baseline file for one target; see the module docstring."""

    def __init__(self, path: str | os.PathLike, target: str, update: bool = False):
        self.path = Path(path)
        self.target = target
        self.update = update
        self.key = baseline_key(target)
        self.doc = self._read()

    def _read(self) -> dict:
        if not self.path.is_file():
            return {"tolerances": {}, "baselines": {}}
        try:
            doc = json.loads(self.path.read_text())
        except ValueError as e:
            raise GoldenFileError(f"baseline file {str(self.path)!r} is not valid JSON: {e}",
                                  hint="fix or delete it, then rerun with --snnc-update-golden")
        if not isinstance(doc, dict) or not isinstance(doc.get("baselines", {}), dict):
            raise GoldenFileError(
                f"baseline file {str(self.path)!r}: field 'baselines' must be an object",
                hint="see snnc.testing.baseline for the format")
        doc.setdefault("tolerances", {})
        doc.setdefault("baselines", {})
        return doc

    def tolerance(self, metric: str) -> dict[str, float]:
        tol = dict(DEFAULT_TOLERANCE)
        for scope in ("*", self.target):
            tol.update(self.doc["tolerances"].get(scope, {}).get(metric, {}))
        return tol

    def _reference(self) -> tuple[str, dict] | None:
        base = self.doc["baselines"]
        if self.key in base:
            return self.key, base[self.key]
        same = [k for k in base if k.split("|", 1)[0] == self.target]
        if not same and self.target in BIT_EXACT_TARGETS:  # equal spikes, so equal counts
            same = [k for k in base if k.split("|", 1)[0] in BIT_EXACT_TARGETS]
        return (same[-1], base[same[-1]]) if same else None

    def check(self, metric: str, value: float) -> None:
        """Assert ``value`` is within the metric's tolerance of its baseline (or record it)."""
        if self.update:
            self.doc["baselines"].setdefault(self.key, {})[metric] = float(value)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.doc, indent=2, sort_keys=True) + "\n")
            return
        ref = self._reference()
        if ref is None or metric not in ref[1]:
            raise GoldenFileError(
                f"baseline file {str(self.path)!r} has no '{metric}' for target {self.target!r}",
                hint="record it: run pytest with --snnc-update-golden")
        key, values = ref
        want = float(values[metric])
        tol = self.tolerance(metric)
        limit = tol["atol"] + tol["rtol"] * abs(want)
        if abs(float(value) - want) > limit:
            note = "" if key == self.key else f" (no baseline for {self.key!r}; compared with {key!r})"
            raise AssertionError(
                f"{metric} = {float(value):g}, baseline {want:g} ± {limit:g} "
                f"(rtol {tol['rtol']:g}, atol {tol['atol']:g}) in {self.path}{note}; "
                "if the change is intended, rerun with --snnc-update-golden")

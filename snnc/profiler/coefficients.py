"""Named, versioned energy/latency coefficient sets with their sources.

A set is a JSON or TOML file::

    name = "my_fit"            version = "1"          chip = "loihi2"
    description = "..."        [citations]  key = "full citation"
    [coefficients.synop_pJ]    value = 1.2   grade = "measured"   source = "my regression, 2026"
                               range = [0.9, 1.5]      # optional [low, high]

Every coefficient of :data:`FIELDS` must be present (those of :data:`OPTIONAL` default to
their entry there), finite and ≥ 0, with a ``grade`` from
:data:`GRADES` and a non-empty ``source``; ``range`` (optional) must bracket ``value``.
Shipped sets live in ``snnc/profiler/data/`` (:data:`ALIASES` maps short names); a user's own
fitted set is loaded from a file path.  Bad files raise :class:`CoefficientError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snnc.errors import ValidationError

DATA = Path(__file__).with_name("data")

#: coefficient -> meaning (the unit is the name's suffix)
FIELDS: dict[str, str] = {
    "synop_pJ": "energy per binary synaptic operation",
    "graded_synop_pJ": "energy per graded-message synaptic operation",
    "graded_payload_bit_pJ": "energy per payload bit a graded message carries along one route",
    "neuron_update_active_pJ": "energy per update of a neuron that received input or spiked",
    "neuron_update_idle_pJ": "energy per update of an idle neuron",
    "spike_out_pJ": "energy per output spike (axon out)",
    "route_core_pJ": "energy per spike message delivered within its core",
    "route_chip_pJ": "energy per spike message to another core of the same chip",
    "route_interchip_pJ": "energy per spike message to a core on another chip",
    "host_message_pJ": "energy per input message from the host",
    "static_power_W": "static power per allocated chip",
    "synop_ns": "core time per synaptic operation",
    "neuron_update_active_ns": "core time per active neuron update",
    "neuron_update_idle_ns": "core time per idle neuron update",
    "barrier_ns": "barrier synchronisation and step management time per step (one core, one chip)",
    "step_floor_us": "minimum time per step",
    # --- the activity-driven time model (issue 15, snnc.profiler.timing) ---
    "graded_synop_ns": "core time per graded (payload x weight) synaptic operation",
    "graded_payload_bit_ns": "core time per payload bit a core receives",
    "spike_out_ns": "core time per spike (or graded message) its neurons generate",
    "msg_out_ns": "core time per message it sends (one per destination core)",
    "msg_interchip_ns": "extra sender time per message to a core on another chip",
    "msg_in_ns": "core time per message it receives (spike or graded, host messages included)",
    "barrier_per_core_ns": "extra barrier time per core in use beyond the first",
    "barrier_interchip_ns": "extra barrier time per chip in use beyond the first",
    "step_dynamic_nJ": "dynamic energy per step of fixed management (x86, barrier) on each chip in use",
    "host_io_step_us": "host I/O time of a step that exchanges data with the host (I/O modes)",
    "host_io_message_ns": "host I/O time per message the host sends (I/O modes)",
    "host_power_W": "extra power of the host interface / embedded x86 while the program is I/O-bound",
}
GRADES = ("measured", "derived", "source-read", "secondary", "simulated", "estimate")
_NEW = "not in this set (written before snnc's activity-driven time model, issue 15): 0"
#: coefficients a set may leave out (added after sets were written): their value then
OPTIONAL: dict[str, dict[str, Any]] = {
    "graded_payload_bit_pJ": {"value": 0.0, "grade": "estimate",
                              "source": "not in this set (written before snnc charged graded payloads): 0"},
    **{k: {"value": 0.0, "grade": "estimate", "source": _NEW}
       for k in ("graded_payload_bit_ns", "spike_out_ns", "msg_out_ns", "msg_interchip_ns", "msg_in_ns",
                 "barrier_per_core_ns", "barrier_interchip_ns", "step_dynamic_nJ", "host_io_step_us",
                 "host_io_message_ns", "host_power_W")},
}
ALIASES = {"loihi2": "loihi2_activity2026", "loihi1": "loihi1_davies2018"}


class CoefficientError(ValidationError):
    """A coefficient set that cannot be used (unknown name, unreadable or invalid file)."""


@dataclasses.dataclass(frozen=True)
class Coefficient:
    value: float
    grade: str
    source: str
    range: tuple[float, float] | None = None

    @property
    def low(self) -> float:
        return self.range[0] if self.range else self.value

    @property
    def high(self) -> float:
        return self.range[1] if self.range else self.value


@dataclasses.dataclass(frozen=True)
class CoefficientSet:
    name: str
    version: str
    chip: str
    description: str
    coefficients: Mapping[str, Coefficient]
    citations: Mapping[str, str] = dataclasses.field(default_factory=dict)
    path: str = ""

    def __getitem__(self, key: str) -> float:
        return self.coefficients[key].value

    def bound(self, which: str) -> "CoefficientSet":
        """The set with every coefficient at its ``"low"`` or ``"high"`` end."""
        co = {k: dataclasses.replace(c, value=getattr(c, which)) for k, c in self.coefficients.items()}
        return dataclasses.replace(self, coefficients=co)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "chip": self.chip,
            "description": self.description, "citations": dict(self.citations), "path": self.path,
            "coefficients": {k: {"value": c.value, "grade": c.grade, "source": c.source,
                                 **({"range": list(c.range)} if c.range else {})}
                             for k, c in self.coefficients.items()},
        }


def available() -> list[str]:
    """Names of the shipped sets."""
    return sorted(p.stem for p in DATA.glob("*.json"))


def load_coefficients(spec: "str | Path | CoefficientSet") -> CoefficientSet:
    """A shipped set by name (``loihi2``, ``loihi1``, ``loihi2_intel2024``, ...) or a file path."""
    if isinstance(spec, CoefficientSet):
        return spec
    s = str(spec)
    name = ALIASES.get(s, s)
    path = DATA / f"{name}.json"
    if not path.is_file():
        path = Path(s)
        if not path.is_file():
            raise CoefficientError(
                f"unknown coefficient set {s!r}: neither a shipped set nor a file",
                hint=f"use one of {', '.join(sorted(ALIASES) + available())} or a path to a .json/.toml file",
            )
    return _parse(_read(path), str(path))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CoefficientError(f"cannot read coefficient file {str(path)!r}: {e}",
                               hint="write it as JSON or TOML (.toml); see docs/energy.md") from None
    if not isinstance(data, dict):
        raise CoefficientError(f"coefficient file {str(path)!r} must hold a table/object at the top",
                               hint="see docs/energy.md for the format")
    return data


def _parse(d: dict[str, Any], path: str) -> CoefficientSet:
    where = f"coefficient file {path!r}"
    for key in ("name", "version", "coefficients"):
        if key not in d:
            raise CoefficientError(f"{where} has no {key!r}", hint="see docs/energy.md for the format")
    raw = d["coefficients"]
    if not isinstance(raw, dict):
        raise CoefficientError(f"{where}: 'coefficients' must be a table", hint="see docs/energy.md")
    if "graded_synop_ns" not in raw and isinstance(raw.get("synop_ns"), dict):  # older sets: as binary
        raw = {**raw, "graded_synop_ns": {**raw["synop_ns"], "source": "not in this set: synop_ns's value"}}
    raw = {**{k: v for k, v in OPTIONAL.items() if k not in raw}, **raw}
    missing = [k for k in FIELDS if k not in raw]
    if missing:
        raise CoefficientError(f"{where} lacks {', '.join(missing)}",
                               hint="give every coefficient (copy a shipped set from snnc/profiler/data/)")
    unknown = [k for k in raw if k not in FIELDS]
    if unknown:
        raise CoefficientError(f"{where}: unknown coefficient(s) {', '.join(unknown)}",
                               hint=f"known: {', '.join(FIELDS)}")
    co = {k: _coefficient(k, raw[k], where) for k in FIELDS}
    return CoefficientSet(str(d["name"]), str(d["version"]), str(d.get("chip", "")),
                          str(d.get("description", "")), co, dict(d.get("citations", {})), path)


def _coefficient(key: str, c: Any, where: str) -> Coefficient:
    if not isinstance(c, dict):
        raise CoefficientError(f"{where}: {key} must be a table with value, grade, source, got {c!r}",
                               hint=f'write {key} = {{ value = 1.0, grade = "estimate", source = "..." }}')
    v = c.get("value")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise CoefficientError(f"{where}: {key} value {v!r} is not a finite number >= 0",
                               hint=f"{key} is the {FIELDS[key]}; give a non-negative number")
    grade = c.get("grade")
    if grade not in GRADES:
        raise CoefficientError(f"{where}: {key} grade {grade!r} is not one of {', '.join(GRADES)}",
                               hint="say how the value was obtained (estimate if unsure)")
    if not str(c.get("source", "")).strip():
        raise CoefficientError(f"{where}: {key} has no source", hint="every coefficient names its source")
    rng = c.get("range")
    if rng is not None:
        ok = (isinstance(rng, (list, tuple)) and len(rng) == 2
              and all(isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r) for r in rng))
        if not ok or not (0 <= rng[0] <= v <= rng[1]):
            raise CoefficientError(f"{where}: {key} range {rng!r} must be [low, high] with 0 <= low <= value "
                                   f"({v}) <= high", hint="fix the range or leave it out")
        rng = (float(rng[0]), float(rng[1]))
    return Coefficient(float(v), str(grade), str(c["source"]), rng)

"""Target specifications: bit widths and resource limits, each constant with its source.

Every resource constant carries a source and an evidence grade (``TargetSpec.sources``);
the grades are those of ``../shared/reference/loihi.md``:

* ``source-read``  read in source code or a primary document (file and line given);
* ``secondary``    quoted by a secondary source (press, wikichip, blogs);
* ``estimate``     not public: a stated assumption, override it with a target file.

Sources:

* [lava]   lava-nc 0.10.0 ``lava/proc/lif/models.py:72-108`` (LIF registers),
           ``lava/proc/dense/models.py`` and ``lava/utils/weightutils.py`` (weights),
           ``lava/proc/dense/models.py:330-334`` (DelayDense, delays ≤ 63; netx uses 62),
           ``lava/magma/compiler/subcompilers/constants.py`` (120 N3 cores per Loihi 2 chip),
           ``lava/magma/core/resources.py:101-128`` (systems).
* [nengo]  nengo-loihi ``builder/discretize.py:10-21`` (vth, bias, state widths),
           ``block.py:8-11`` (Loihi 1 per-core limits: 1024 compartments, 4096 input and
           output axons, 16384×64 synapse bits), ``block.py`` ``SynapseConfig.bits_per_axon``
           (the synapse-memory format: see :mod:`snnc.compiler.mapping.cost`).
* [press]  Intel Loihi 2 brief / press as quoted by secondary sources: 128 cores and about
           1 M neurons per chip, 128 KiB synaptic SRAM per core; Hala Point 1152 chips.

Loihi 2's per-core limits are **not public**; the values below are marked ``estimate`` and
can be replaced by a TOML/JSON target file (:func:`load_target_file`, ``snnc.compile(...,
target="my_board.toml")``, ``snnc compile --target-file F``).  Built-in names:
``loihi2`` / ``loihi1`` (the largest system of that chip) and ``CHIP-SYSTEM`` variants such as
``loihi2-kapoho-point`` (:data:`SYSTEMS`).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snnc.errors import ValidationError

SourceNote = tuple[str, str]  # (evidence grade, source)


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """Fixed-point formats and resource limits of one chip generation in one system."""

    name: str
    weight_bits: int = 8  # magnitude bits of the weight mantissa [lava]
    weight_exp_min: int = -8  # [nengo]; Lava's Python model accepts any int
    weight_exp_max: int = 7
    vth_bits: int = 17  # threshold mantissa, compared as vth << 6 [lava][nengo]
    bias_mant_bits: int = 13  # signed: |bias_mant| ≤ 4095 [lava][nengo]
    bias_exp_min: int = 0
    bias_exp_max: int = 7
    decay_bits: int = 12  # du, dv in 0..4095 [lava]
    state_bits: int = 24  # u wraps, v saturates at ±2^23 [lava]
    max_delay: int = 62  # extra synaptic delay steps (DelayDense, as netx uses) [lava]
    # ---- resources (see ``sources`` for each one's provenance)
    neurons_per_core: int = 8192
    cores_per_chip: int = 120
    synapse_memory_bits: int = 16384 * 64  # synaptic memory per core, bits
    fan_in_axons: int = 8192  # input axons per core
    fan_out_axons: int = 8192  # output axons per core
    chips_per_system: int = 1152
    system: str = "hala_point"
    # ---- synapse-memory format (snnc.compiler.mapping.cost): [nengo] SynapseConfig.bits_per_axon
    memory_word_bits: int = 64  # each synapse block rounds up to whole words
    synapses_per_block: int = 64  # n_synapses field (63) + 1
    block_header_bits: int = 10  # synapse_idx_bits (4) + n_synapses_bits (6)
    delay_field_bits: int = 6  # per synapse when the block has delays
    # ---- semantics of the program format (not of the chip)
    #: hold each population silent (no bias, state 0) until its first input can arrive (snnc's
    #: start_step = synaptic depth, which keeps a bias from acting early); lava-dl netx runs every
    #: neuron from step 0 (snnc.backends.netx.netx_target sets False)
    hold_until_input: bool = True
    source: str = ""
    #: field -> (evidence grade, source) for every resource constant
    sources: Mapping[str, SourceNote] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def vth_max(self) -> int:
        return (1 << self.vth_bits) - 1

    @property
    def bias_mant_max(self) -> int:
        return (1 << (self.bias_mant_bits - 1)) - 1

    @property
    def decay_max(self) -> int:
        return (1 << self.decay_bits) - 1

    @property
    def state_max(self) -> int:
        return (1 << (self.state_bits - 1)) - 1

    @property
    def max_cores(self) -> int:
        return self.cores_per_chip * self.chips_per_system

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (what :func:`target_from_dict` and target files read)."""
        d = dataclasses.asdict(self)
        d["sources"] = {k: list(v) for k, v in self.sources.items()}
        return d


#: systems (boards) and their chip counts, per chip generation
SYSTEMS: dict[str, dict[str, tuple[int, SourceNote]]] = {
    "loihi2": {
        "oheo_gulch": (1, ("source-read", "lava/magma/core/resources.py:121-123 (Oheo Gulch, 1 chip)")),
        "kapoho_point": (8, ("source-read", "lava-dl PilotNet notebooks num_chips=8; Intel press "
                             "'eight-chip'; Lava resources.py:126-128 says four (conflict, loihi.md §2.4)")),
        "hala_point": (1152, ("secondary", "Intel newsroom, Hala Point: 1152 Loihi 2 chips")),
    },
    "loihi1": {
        "kapoho_bay": (2, ("source-read", "lava/magma/core/resources.py:101-104")),
        "nahuku": (32, ("source-read", "lava/magma/core/resources.py:107-109")),
        "pohoiki_springs": (768, ("secondary", "Intel press via all-about-industries: 768 chips")),
    },
}

_NENGO_FORMAT = ("source-read", "nengo-loihi block.py SynapseConfig.bits_per_axon (Loihi 1)")
_L2_FORMAT = ("estimate", "Loihi 2 synapse format not public; Loihi 1's (nengo-loihi block.py) assumed")

_LOIHI2_SOURCES: dict[str, SourceNote] = {
    "neurons_per_core": ("estimate", "1 M neurons / 128 cores per chip (wikichip, press); not public "
                         "per core; lava-loihi placed <= 3168/core for PilotNet (loihi.md §2.3)"),
    "cores_per_chip": ("source-read", "Lava NUM_VIRTUAL_CORES_L3 = 120 "
                       "(lava/magma/compiler/subcompilers/constants.py; 128 nominal)"),
    "synapse_memory_bits": ("secondary", "128 KiB synaptic SRAM per core of a flexibly partitioned "
                            "192 KB core memory (fbhtechinfo; Intel brief unverified)"),
    "fan_in_axons": ("estimate", "not public; 8192 assumed (one axon per neuron of a full core); "
                     "PilotNet used 2560 AxonIn on one core (loihi.md §2.3)"),
    "fan_out_axons": ("estimate", "not public; 8192 assumed (as fan_in_axons)"),
    "memory_word_bits": _L2_FORMAT, "synapses_per_block": _L2_FORMAT,
    "block_header_bits": _L2_FORMAT, "delay_field_bits": _L2_FORMAT,
}
_LOIHI1_SOURCES: dict[str, SourceNote] = {
    "neurons_per_core": ("source-read", "nengo-loihi block.py:8 MAX_COMPARTMENTS = 1024"),
    "cores_per_chip": ("source-read", "nengo-loihi hardware/allocators.py:163-165 (128 cores)"),
    "synapse_memory_bits": ("source-read", "nengo-loihi block.py:11 MAX_SYNAPSE_BITS = 16384*64"),
    "fan_in_axons": ("source-read", "nengo-loihi block.py:9 MAX_IN_AXONS = 4096"),
    "fan_out_axons": ("source-read", "nengo-loihi block.py:10 MAX_OUT_AXONS = 4096"),
    "memory_word_bits": _NENGO_FORMAT, "synapses_per_block": _NENGO_FORMAT,
    "block_header_bits": _NENGO_FORMAT,
    "delay_field_bits": ("estimate", "nengo-loihi adds delay_bits per synapse; 6 from Lava's 0..63 "
                         "delays (lava/proc/dense/models.py:330-334)"),
}


def _with_system(spec: TargetSpec, system: str) -> TargetSpec:
    chips, note = SYSTEMS[spec.name][system]
    sources = {**spec.sources, "chips_per_system": note}
    return dataclasses.replace(spec, system=system, chips_per_system=chips, sources=sources)


_BASE: dict[str, TargetSpec] = {
    "loihi2": TargetSpec(
        name="loihi2",
        source="Lava 0.10.0 fixed_pt models (Loihi2SimCfg); per-core sizes are estimates",
        sources=_LOIHI2_SOURCES,
    ),
    "loihi1": TargetSpec(
        name="loihi1",
        neurons_per_core=1024,
        cores_per_chip=128,
        fan_in_axons=4096,
        fan_out_axons=4096,
        source="nengo-loihi block.py / discretize.py; Lava 0.10.0 fixed_pt models",
        sources=_LOIHI1_SOURCES,
    ),
}
#: the largest system of each chip: a bare chip name means "how many chips does it need?"
_LARGEST = {"loihi2": "hala_point", "loihi1": "pohoiki_springs"}

TARGETS: dict[str, TargetSpec] = {name: _with_system(s, _LARGEST[name]) for name, s in _BASE.items()}
for _chip, _systems in SYSTEMS.items():
    for _sys in _systems:
        TARGETS[f"{_chip}-{_sys.replace('_', '-')}"] = _with_system(_BASE[_chip], _sys)

#: resource fields a target file may set, with their types (all must be > 0)
RESOURCE_FIELDS = (
    "neurons_per_core", "cores_per_chip", "synapse_memory_bits", "fan_in_axons", "fan_out_axons",
    "chips_per_system", "memory_word_bits", "synapses_per_block", "block_header_bits",
    "delay_field_bits", "max_delay",
)
_FILE_KEYS = {"base": str, "name": str, "system": str, "source": str, "sources": dict,
              **{f: int for f in RESOURCE_FIELDS}}


def with_resources(fmt: TargetSpec, res: TargetSpec) -> TargetSpec:
    """``fmt``'s fixed-point formats with ``res``'s resource limits, system and sources."""
    fields = {f: getattr(res, f) for f in RESOURCE_FIELDS}
    return dataclasses.replace(fmt, **fields, system=res.system, sources=dict(res.sources))


def get_target(name: str | TargetSpec) -> TargetSpec:
    """A built-in target by name (``loihi2``, ``loihi2-kapoho-point``, ...) or a target file
    path (``.toml``/``.json``); unknown names raise a :class:`ValidationError`."""
    if isinstance(name, TargetSpec):
        return name
    text = str(name)
    if text.lower().endswith((".toml", ".json")):
        return load_target_file(text)
    try:
        return TARGETS[text.lower()]
    except KeyError:
        raise ValidationError(
            f"unknown target {name!r}",
            hint=f"use one of: {', '.join(TARGETS)}, or a target file (.toml/.json)",
        ) from None


def load_target_file(path: str | Path) -> TargetSpec:
    """Read a TOML or JSON target file: a built-in ``base`` with resource fields overridden.

    Keys: ``base`` (default ``loihi2``), ``system`` (a known system sets ``chips_per_system``),
    ``name``, ``source``, any of :data:`RESOURCE_FIELDS` (positive integers) and a
    ``[sources]`` table (field → text) saying where the user's values come from.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"target file {str(p)!r} does not exist",
                              hint="pass a .toml or .json file; examples in snnc/targets/")
    try:
        data = tomllib.loads(p.read_text()) if p.suffix.lower() == ".toml" else json.loads(p.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValidationError(f"target file {str(p)!r} is not valid {p.suffix[1:].upper()}: {e}",
                              hint="fix the syntax; examples in snnc/targets/") from None
    if not isinstance(data, dict):
        raise ValidationError(f"target file {str(p)!r} must hold a table/object at the top level",
                              hint="write key = value pairs; examples in snnc/targets/")
    return target_from_dict(data, origin=str(p))


def target_from_dict(data: Mapping[str, Any], origin: str = "<dict>") -> TargetSpec:
    """Validate ``data`` (see :func:`load_target_file`) and build the :class:`TargetSpec`."""
    full = "weight_bits" in data  # a to_dict() of a saved program: every field present
    keys = set(_FILE_KEYS) | ({f.name for f in dataclasses.fields(TargetSpec)} if full else set())
    for key, value in data.items():
        if key not in keys:
            raise ValidationError(f"target file {origin!r}: unknown key {key!r}",
                                  hint=f"known keys: {', '.join(sorted(_FILE_KEYS))}")
        want = _FILE_KEYS.get(key, type(getattr(_BASE["loihi2"], key, value)))
        if want is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError(f"target file {origin!r}: {key} = {value!r} is not an integer",
                                  hint=f"write {key} as a whole number, e.g. {getattr(_BASE['loihi2'], key)}")
        if want is not int and not isinstance(value, want):
            raise ValidationError(f"target file {origin!r}: {key} = {value!r} is not a {want.__name__}",
                                  hint=f"write {key} as a {want.__name__}")
        if key in RESOURCE_FIELDS and value <= 0:
            raise ValidationError(f"target file {origin!r}: {key} = {value} must be positive",
                                  hint=f"give {key} a value > 0")
    # a name is the base only when it names one (a saved custom target's name does not)
    named = str(data.get("name", "")).lower()
    base_name = str(data.get("base", named if named in _BASE else "loihi2")).lower()
    if base_name not in _BASE:
        raise ValidationError(f"target file {origin!r}: unknown base {base_name!r}",
                              hint=f"base is one of: {', '.join(_BASE)}")
    spec = _BASE[base_name]
    system = data.get("system")
    if system is not None and system in SYSTEMS[base_name]:
        spec = _with_system(spec, system)
    elif system is not None and "chips_per_system" not in data:
        raise ValidationError(f"target file {origin!r}: unknown system {system!r} without chips_per_system",
                              hint=f"use one of {', '.join(SYSTEMS[base_name])} or set chips_per_system")
    changes = {k: v for k, v in data.items() if k not in ("base", "sources")}
    sources = dict(spec.sources)
    user_sources = data.get("sources", {})
    for key, note in user_sources.items():
        sources[key] = tuple(note) if isinstance(note, list) else ("user", str(note))
    for key in changes:
        if key in RESOURCE_FIELDS and key not in user_sources and not full:
            sources[key] = ("user", f"target file {origin}")
    return dataclasses.replace(spec, **changes, sources=sources)

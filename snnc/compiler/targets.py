"""Target specifications: bit widths and limits, each constant with its source.

Sources (full citations in ``../shared/reference/loihi.md`` and ``docs/concepts.md``):

* [lava]   lava-nc 0.10.0 ``lava/proc/lif/models.py:72-108`` (LIF registers),
           ``lava/proc/dense/models.py`` and ``lava/utils/weightutils.py`` (weights),
           ``lava/proc/dense/models.py:330-334`` (DelayDense, delays ≤ 63; netx uses 62).
* [nengo]  nengo-loihi ``builder/discretize.py:10-21`` (vth, bias, state widths),
           ``block.py:8-11`` (Loihi 1 per-core limits), ``block.py:495-500`` (weight_exp −8..7).
* [press]  Intel Loihi 2 brief / press as quoted by secondary sources: 128 cores and about
           1 M neurons per chip.  Loihi 2 per-core limits are not public: marked ``estimate``.
"""

from __future__ import annotations

import dataclasses

from snnc.errors import ValidationError


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """Fixed-point formats and resource limits of one chip generation."""

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
    neurons_per_core: int = 8192  # estimate for Loihi 2 [press]; 1024 on Loihi 1 [nengo]
    cores_per_chip: int = 120  # usable by Lava's mapper (128 nominal) [lava]
    source: str = ""

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


TARGETS: dict[str, TargetSpec] = {
    "loihi2": TargetSpec(
        name="loihi2",
        source="Lava 0.10.0 fixed_pt models (Loihi2SimCfg); per-core sizes are estimates",
    ),
    "loihi1": TargetSpec(
        name="loihi1",
        neurons_per_core=1024,
        cores_per_chip=128,
        source="nengo-loihi block.py / discretize.py; Lava 0.10.0 fixed_pt models",
    ),
}


def get_target(name: str | TargetSpec) -> TargetSpec:
    """Look a target up by name; unknown names raise a :class:`ValidationError`."""
    if isinstance(name, TargetSpec):
        return name
    try:
        return TARGETS[str(name).lower()]
    except KeyError:
        raise ValidationError(
            f"unknown target {name!r}",
            hint=f"use one of: {', '.join(TARGETS)}",
        ) from None

"""Synapse-memory cost model: how many bits a core spends on the synapses of one input axon.

The format is Loihi 1's, as nengo-loihi encodes it (``block.py``,
``SynapseConfig.bits_per_axon``; source-read).  An input axon's synapses are stored in
blocks of at most ``B = synapses_per_block`` (64) entries; each block carries a header of
``H = block_header_bits`` (10: a 4-bit synapse-format index and a 6-bit count) and is
rounded up to whole ``w = memory_word_bits`` (64-bit) words::

    bits(n) = ⌊n/B⌋ · ⌈(B·b + H)/w⌉·w  +  [n mod B > 0] · ⌈((n mod B)·b + H)/w⌉·w

with ``b`` bits per synapse, by weight format:

* **dense**  (a full row of weights per axon, no indices):  ``b = weight + delay``;
* **sparse** (only the non-zero synapses, each with its target index): ``b = weight + delay
  + index``, ``index = ⌈log2 max(m, 64)⌉`` for ``m`` neurons on the core (nengo-loihi's
  index widths 6..12 bits, widened for Loihi 2's larger cores);
* **conv-shared** (one kernel per core, reused at every position, as Loihi 2 shares
  convolution weights — PilotNet's per-core "Synapses" are kernel sizes, loihi.md §2.3):
  every input channel of the group is an axon whose synapses are the kernel taps of the
  core's output channels, ``n = channels_on_core · kH · kW``, ``b = weight``.

``weight`` is ``num_weight_bits`` plus a sign bit for mixed-sign blocks (Lava stores 8-bit
unsigned / 9-bit signed weights, ``lava/magma/core/learning/constants.py``); ``delay`` is
``delay_field_bits`` (6) when the block has synaptic delays.  For Loihi 2 this whole format is
an **estimate** (not public) and every constant is a target-file field.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.ir import loihi
from snnc.compiler.targets import TargetSpec

#: bits of one neuron state register: Lava declares every LIF and sigma-delta state
#: (u, v; sigma, act, residue, error) with precision 24, the width of Loihi's state words
STATE_REGISTER_BITS = 24
#: a LIF's state registers (u, v): ``neurons_per_core`` counts neurons of this size, so a core's
#: neuron state memory is ``neurons_per_core · 2 · 24`` bits (an estimate: Loihi 2's neuron
#: memory is shared by the neuron models' state words, not public in detail)
LIF_STATE_REGISTERS = 2
#: Loihi 2's graded-spike payload: 24 bits (decision 0007: lava-dl's hardware test
#: ``test_hdf5_nx.py`` reads outputs through ``NxToPyAdapter(num_message_bits=24)`` and
#: sign-extends them from 24 bits; the PilotNet SDNN decoder does the same)
MAX_MESSAGE_BITS = 24


def state_registers(node) -> int:
    """Per-neuron state registers of a population: LIF ``u, v``; sigma-delta: ``act, residue``
    (delta), ``sigma, act, residue`` (sigma_delta), ``sigma`` (sigma), plus ``error`` with
    ``cum_error`` (Lava's ``sdn`` Vars that a neuron carries from step to step)."""
    if isinstance(node, loihi.SigmaDeltaCompartment):
        regs = {loihi.DELTA: 2, loihi.SIGMA_DELTA: 3, loihi.SIGMA: 1}[node.neuron]
        return regs + int(bool(node.cum_error) and node.neuron != loihi.SIGMA)
    return LIF_STATE_REGISTERS


def state_bits(node) -> int:
    """Neuron state bits per neuron of a population (:func:`state_registers` × 24)."""
    return state_registers(node) * STATE_REGISTER_BITS


def state_bits_limit(spec: TargetSpec) -> int:
    """A core's neuron state memory: ``neurons_per_core`` LIF neurons' worth (estimate)."""
    return int(spec.neurons_per_core) * LIF_STATE_REGISTERS * STATE_REGISTER_BITS


def neurons_per_core(node, spec: TargetSpec) -> int:
    """Most neurons of ``node`` one core holds: ``neurons_per_core``, fewer for populations with
    more state per neuron than a LIF (a sigma_delta's three registers: 2/3 as many)."""
    return max(1, min(int(spec.neurons_per_core), state_bits_limit(spec) // state_bits(node)))


def message_bits(node) -> int:
    """The payload width a synapse block reads: ``num_message_bits`` (0: binary spikes)."""
    return int(getattr(node, "num_message_bits", 0) or 0)


def axon_bits(n: np.ndarray | int, bits_per_synapse: np.ndarray | int, spec: TargetSpec) -> np.ndarray:
    """Memory bits of one input axon holding ``n`` synapses of ``bits_per_synapse`` (vectorised)."""
    n = np.asarray(n, dtype=np.int64)
    b = np.asarray(bits_per_synapse, dtype=np.int64)
    per, hdr, w = spec.synapses_per_block, spec.block_header_bits, spec.memory_word_bits
    full, rem = np.divmod(n, per)
    full_bits = -(-(per * b + hdr) // w) * w
    rem_bits = np.where(rem > 0, -(-(rem * b + hdr) // w) * w, 0)
    return full * full_bits + rem_bits


def weight_bits(node: loihi.Synapse | loihi.ConvSynapse) -> int:
    """Stored bits per weight: mantissa plus a sign bit for mixed-sign blocks."""
    if isinstance(node, loihi.ConvSynapse):
        w = np.asarray(node.weights)
        mixed = bool(w.size and w.min() < 0 < w.max())
        return 8 + int(mixed)
    return int(node.num_weight_bits) + int(node.sign_mode == loihi.SignMode.MIXED)


def synapse_field_bits(node: loihi.Synapse | loihi.ConvSynapse, spec: TargetSpec) -> int:
    """Bits per synapse without the index: weight, plus the delay field when delays are used."""
    delay = spec.delay_field_bits if getattr(node, "delays", None) is not None else 0
    return weight_bits(node) + delay


def index_bits(neurons_on_core: np.ndarray | int) -> np.ndarray:
    """Target-index bits of a sparse synapse on a core holding ``neurons_on_core`` neurons."""
    m = np.maximum(np.asarray(neurons_on_core, dtype=np.int64), 64)
    return np.ceil(np.log2(m)).astype(np.int64)

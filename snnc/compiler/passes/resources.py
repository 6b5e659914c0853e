"""check_resources: refuse, before any Lava or hardware run, what cannot fit the target.

Reads the per-core usage left by ``partition`` and raises :class:`~snnc.errors.ResourceError`
for the first limit broken, naming the layer, the quantity, the value, the limit and the fix:

* neurons on a core  > ``neurons_per_core``  (only with splitting off): allow splitting;
* synapse memory     > ``synapse_memory_bits``: a single neuron whose fan-in does not fit a
  core → narrow the layer's input or prune its weights; otherwise allow splitting;
* input axons        > ``fan_in_axons``;  output axons > ``fan_out_axons``;
* neuron state bits  > ``neurons_per_core`` · 2 · 24 (a core's state memory, counted in LIF
  neurons of two 24-bit registers; a sigma-delta neuron holds sigma/act/residue, + error with
  cum_error: :mod:`snnc.compiler.mapping.cost`) -- only with splitting off;
* graded payloads    > 24 bits (``num_message_bits`` of a synapse; Loihi 2's graded spikes,
  decision 0007): lower the layer's ``messageBits``;
* chips used         > ``chips_per_system``: use a bigger system.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.compiler.mapping.cost import MAX_MESSAGE_BITS, state_bits_limit
from snnc.compiler.passes.context import CompileContext
from snnc.errors import ResourceError

_BIGGER = "use a bigger system (--target loihi2-hala-point, or a target file with chips_per_system >= {n})"


def check_resources(graph: Graph, ctx: CompileContext) -> Graph:
    usage, placement, spec = ctx.reports["usage"], ctx.reports["placement"], ctx.target
    split_ok = ctx.allow_split
    _check_message_bits(graph, usage)
    checks = (
        ("neurons", usage.neurons, spec.neurons_per_core, "neurons_per_core"),
        ("synapse memory (bits)", usage.synapse_bits, spec.synapse_memory_bits, "synapse_memory_bits"),
        ("input axons (fan-in)", usage.axons_in, spec.fan_in_axons, "fan_in_axons"),
        ("output axons (fan-out)", usage.axons_out, spec.fan_out_axons, "fan_out_axons"),
    )
    if usage.state_bits is not None:
        checks += (("neuron state memory (bits)", usage.state_bits, state_bits_limit(spec), "neurons_per_core"),)
    for quantity, used, limit, field in checks:
        over = np.flatnonzero(used > limit)
        if not over.size:
            continue
        core = int(over[np.argmax(used[over])])
        name = usage.layers[int(usage.layer[core])]
        layer = graph[name].source or name
        one = int(usage.neurons[core]) == 1
        if not split_ok and not one:
            fix = "allow splitting (drop allow_split=False / --no-split) or narrow the layer"
        elif field == "synapse_memory_bits":
            fix = ("a single neuron's fan-in does not fit one core: narrow the layer's input "
                   "(fewer presynaptic neurons) or prune its weights so they are stored sparse")
        elif field == "fan_in_axons":
            fix = "narrow the layer's input (fewer presynaptic neurons) or prune its connections"
        elif quantity.startswith("neuron state"):
            fix = ("a sigma-delta neuron keeps sigma, act and residue (24 bits each): fewer fit a core "
                   "than LIF neurons; allow splitting or narrow the layer")
        elif field == "fan_out_axons":
            fix = "narrow the next layer or prune this layer's outgoing connections"
        else:
            fix = "narrow the layer"
        shown = f"{field} · 48 bits" if quantity.startswith("neuron state") else field
        raise ResourceError(
            f"{quantity} on core {core}: {int(used[core])} > limit {limit} ({spec.name} {shown}"
            f"{', one neuron on the core' if one else ''})",
            node=layer, hint=f"{fix}; or raise {field} in a target file if your hardware allows it",
        )
    n_chips = placement.n_chips
    if n_chips > spec.chips_per_system:
        big = max(usage.layers, key=lambda p: int(usage.neurons[usage.layer == usage.layers.index(p)].sum()))
        raise ResourceError(
            f"the network needs {n_chips} chips ({placement.n_cores} cores) > limit "
            f"{spec.chips_per_system} chips of {spec.system} (chips_per_system; largest layer "
            f"'{graph[big].source or big}')",
            node=graph[big].source or big, hint=_BIGGER.format(n=n_chips) + ", or narrow the network",
        )
    return graph


def _check_message_bits(graph: Graph, usage) -> None:
    """Refuse a graded synapse whose payload is wider than Loihi 2's graded spikes."""
    if usage.message_bits is None or not usage.message_bits.size or usage.message_bits.max() <= MAX_MESSAGE_BITS:
        return
    for name in graph.of_kind(loihi.Synapse, loihi.ConvSynapse):
        bits = int(getattr(graph[name], "num_message_bits", 0) or 0)
        if bits > MAX_MESSAGE_BITS:
            post = graph.successors(name)[0]
            layer = graph[post].source or post
            raise ResourceError(
                f"graded messages into {layer!r}: num_message_bits {bits} > limit {MAX_MESSAGE_BITS} "
                f"(Loihi 2 graded spikes carry {MAX_MESSAGE_BITS}-bit payloads)", node=name,
                hint=f"export the layer before it with messageBits <= {MAX_MESSAGE_BITS} (lava-dl's default "
                     "is 16); Lava's CPU models do not clip payloads, the chip would")

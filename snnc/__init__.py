"""snnc: a neuromorphic deployment compiler -- NIR in, Loihi 2 fixed point out.

Public API::

    g = snnc.load("model.nir")
    y_ref = snnc.simulate(g, x, dt=1e-4, integration="euler", spike_if=">", synapse_input="ode")
    prog = snnc.compile(g, target="loihi2", dt=1e-4)
    y = prog.run(x, backend="emulator")      # or "lava"
    prog.save("out"); prog = snnc.Program.load("out"); procs = prog.to_lava()
    prog.export_netx("model.net"); prog2 = snnc.load("model.net")   # lava-dl netx, both ways
    g = snnc.load(torch_module, example_input)   # snnTorch / Norse modules (docs/interop.md)
    prog = snnc.compile(g, convention="norse")   # exporter presets: snntorch, norse, sinabs, rockpool

The package is a stack of floors, every import pointing down (docs/decisions/0005-layering.md);
this module is on the roof.
"""

from __future__ import annotations

from snnc.backends.reference import simulate as _simulate
from snnc.compiler.targets import TARGETS
from snnc.driver import compile, load  # noqa: A004 - the public name is snnc.compile
from snnc.program import Program
from snnc.version import __version__


def simulate(graph, x, dt=1e-4, integration="euler", spike_if=">", synapse_input="ode", record=None,
             reset="value"):
    """Float reference simulation of a model (NIR semantics); see :mod:`snnc.backends.reference`."""
    return _simulate(
        load(graph), x, dt=dt, integration=integration, spike_if=spike_if,
        synapse_input=synapse_input, record=record, reset=reset,
    )


__all__ = ["load", "compile", "simulate", "Program", "TARGETS", "__version__"]

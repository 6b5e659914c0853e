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
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("snnc")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from snnc.compiler.driver import compile  # noqa: E402,A004
from snnc.compiler.targets import TARGETS  # noqa: E402
from snnc.frontends import load  # noqa: E402
from snnc.program import Program  # noqa: E402


def simulate(graph, x, dt=1e-4, integration="euler", spike_if=">", synapse_input="ode", record=None,
             reset="value"):
    """Float reference simulation of a model (NIR semantics); see :mod:`snnc.backends.reference`."""
    from snnc.backends.reference import simulate as _simulate

    return _simulate(
        load(graph), x, dt=dt, integration=integration, spike_if=spike_if,
        synapse_input=synapse_input, record=record, reset=reset,
    )


__all__ = ["load", "compile", "simulate", "Program", "TARGETS", "__version__"]

"""The backend protocol: run a Loihi-dialect graph on input spikes, step by step.

Every backend returns a :class:`RunResult` on the *raw* time line of the chip: index ``t``
is Lava's ``time_step`` ``t + 1``.  Input spikes ``x[:, t]`` are sent at raw step ``t`` and
reach a population at synaptic depth ``k`` at raw step ``t + k`` (one step per synapse
layer).  :class:`snnc.Program` removes that latency; backends never shift anything.

A backend is a :class:`Backend`: a name, the keyword options its ``run`` takes
(:data:`RUN_OPTIONS` says what each means) and ``run``.  Each backend module states itself as
a :class:`BackendSpec` (``BACKEND``); :mod:`snnc.backends.registry` lists them, and
``Program.run``, the CLI, the profiler and the pytest plugin find them there.  Every backend
checks its input with :func:`snnc.backends.wiring.check_input` (the one input check).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from snnc.compiler.ir.graph import Graph


@dataclasses.dataclass
class RunResult:
    """Raw rasters of a run.

    ``spikes[name]``: bool array (batch, steps, *shape) for every recorded ``Compartment``.
    ``v[name]``: int64 array (batch, steps, *shape), the membrane voltage after the step
    (after reset), for compartments with ``readout == "v"`` -- and for every recorded
    compartment when the run recorded states (``states=True``), which also fills
    ``u[name]``: the current after the step, int64 (batch, steps, *shape).
    ``payload[name]``: int64 (batch, steps, *shape) holding the int32 output of every recorded
    ``SigmaDeltaCompartment`` (the graded payload ``s_out`` of a delta/sigma_delta, 0 where
    nothing is sent; ``sigma`` of a sigma); its ``spikes[name]`` are ``payload != 0``.
    """

    spikes: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    steps: int
    backend: str
    u: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    payload: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


#: every keyword option a backend's ``run`` may take, and what it means.  A backend takes a
#: subset (:attr:`Backend.options`); a new option is added here with its meaning.
RUN_OPTIONS = {
    "progress": "a progress bar over the batch (None: when stderr is a terminal and the run "
    "lasts over a second)",
    "timeout": "seconds the whole batch may take before its processes are killed (a watchdog)",
    "device": "run the integer arithmetic in torch on this device ('cpu', 'cuda')",
    "observer": "an Observer called from the time loop at every step",
    "placement": "the program's core placement (Program.run passes the program's own)",
    "profile": "read the board's energy profiler",
    "input": "where x enters: 'a_in' (default: (batch, T, *input_shape) sent step by step) or "
    "'bias' ((batch, *input_shape): each sample's values as the bias_mant of the compartments "
    "the input feeds directly, lava-dl's Input block; snnc.backends.wiring.ROUTES)",
    "states": "also record u and v of every recorded compartment (RunResult.u, RunResult.v)",
    "shard": "under torchrun, run this process's share of the batch and gather the whole result "
    "on every process (torch.distributed; snnc.backends.emulator.shard)",
}
#: options about how to run, not what to compute: a backend that does not take them ignores
#: them (the emulator needs no watchdog; a board run shows no bar), so code that passes them
#: (``snnc run --timeout``, the pytest plugin's ``snnc_run``) runs on every backend.  Any other
#: option a backend does not take is an :class:`~snnc.errors.InputError`
#: (:func:`snnc.backends.registry.checked_options`).
ADVISORY_OPTIONS = frozenset({"progress", "timeout"})


class Backend(Protocol):
    """What the registry (:mod:`snnc.backends.registry`) holds for each backend."""

    #: the name users pass (``Program.run(x, backend=name)``, ``snnc run --backend name``)
    name: str
    #: how messages call it ("the emulator", "Lava")
    title: str
    #: one line for ``snnc run --backend``'s help
    summary: str
    #: the keyword options ``run`` takes (keys of :data:`RUN_OPTIONS`)
    options: frozenset[str]
    #: its spikes equal the emulator's bit for bit (golden files compare exactly)
    bit_exact: bool

    def run(
        self,
        graph: Graph,
        x: Any,
        steps: int,
        record: Sequence[str] | None = None,
        **options: Any,
    ) -> RunResult:
        """Run ``graph`` for ``steps`` raw steps on ``x`` (batch, T_in, *in_shape), T_in ≤ steps.

        ``x`` is an array or a checked :class:`~snnc.backends.wiring.Spikes`; every backend
        checks it with :func:`snnc.backends.wiring.check_input` (a ``Spikes`` passes as it
        is).  Steps beyond ``x``'s length receive no input spikes.  ``record`` names the
        compartments to record (``None``: all of them).
        """
        ...


@dataclasses.dataclass(frozen=True)
class BackendSpec:
    """A :class:`Backend` made of a module's ``run`` function (how each backend states itself)."""

    name: str
    title: str
    summary: str
    options: frozenset[str]
    runner: Callable[..., RunResult]
    bit_exact: bool = True
    #: the backend's own objects for one sample, for users who wire or run them (Lava's
    #: ``to_lava``); ``None`` when it has none
    build: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.options) - set(RUN_OPTIONS)
        if unknown:  # a new option is stated in RUN_OPTIONS first
            raise ValueError(f"backend {self.name!r}: options {sorted(unknown)} are not in RUN_OPTIONS")

    def run(self, graph: Graph, x: Any, steps: int, record: Sequence[str] | None = None,
            **options: Any) -> RunResult:
        return self.runner(graph, x, steps, record, **options)

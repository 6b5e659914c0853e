"""The emulator's time loop: Lava's order of operations, batched over samples.

One raw step ``t`` (Lava ``time_step = t + 1``; loihi.md §1.10)::

    for every Compartment c:  a_in = Σ over its Synapses of their buffer (from step t−1)
                              update u, v; spikes s_c[t]; v reset     (compartment.py)
    for every Synapse k:      buffer_k ← f(W_k, spikes of its source at step t)  (synapse.py;
                              ConvSynapse: Lava Conv, 24-bit wrapped, same one-step delay)
                              (source = x[:, t] for the SpikeSource, zeros when t ≥ T_in)

so a spike sent at step t reaches a population one synapse layer away at step t + 1
(plus any extra ``delays``).  Recurrent loops need no special care: every synapse reads
spikes of the step just computed and delivers them at the next one.

:func:`run` takes the fast path of :mod:`.fast` (same results, exact float/int8 products, no
int32 wraps that provably cannot fire, batch chunks on threads) when its guards hold for the
graph, and the loop here (:func:`_run_generic`) otherwise; with ``device=`` it runs this loop
in torch (:mod:`.torch_engine`).  Either way the batch goes through in spans of samples (the
input's bool copy stays bounded, a progress bar advances per span); samples are independent,
so spans change no result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snnc.backends.base import RunResult
from snnc.backends.emulator import fast
from snnc.backends.emulator.compartment import CompartmentState
from snnc.backends.emulator.synapse import synapse_state, wrap32
from snnc.backends.emulator.wiring import (
    check_record,
    spike_array,
    spike_view,
    validate_input,
    wiring,
)
from snnc.compiler.ir.graph import Graph
from snnc.progress import bar as progress_bar

NAME = "emulator"


#: samples converted and run at a time (bounds the bool copy of the input; the bar advances
#: once per span): fast path / generic engine
SPAN_FAST = 1024
SPAN_GENERIC = 64


def run(
    graph: Graph,
    x,
    steps: int,
    record: Sequence[str] | None = None,
    *,
    progress: bool | None = False,
    device=None,
) -> RunResult:
    """Run a Loihi-dialect ``graph`` for ``steps`` raw steps on ``x`` (batch, T_in, *in_shape).

    Bit-exact with Lava 0.10.0 ``Loihi2SimCfg(select_tag="fixed_pt")``.  ``x`` holds binary
    spikes (bool or 0/1); steps at and after ``T_in`` get no input.  ``record`` names the
    compartments to return (``None``: all).  Returns spikes (bool, (batch, steps, *shape))
    of every recorded compartment and ``v`` (int64, after reset) of those with
    ``readout == "v"``.

    The batch runs in spans of samples (:data:`SPAN_FAST` / :data:`SPAN_GENERIC`), so the
    spike copy of the input stays bounded; ``progress`` shows a bar over them (``None``: when
    stderr is a terminal; see :mod:`snnc.progress`).  ``device`` (``"cpu"``, ``"cuda"``, a
    ``torch.device``) runs the same integer arithmetic in torch instead
    (:mod:`.torch_engine`); ``None`` is the numpy engine.

    Raises :class:`~snnc.errors.InputError` for bad ``x``/``steps``/``record``,
    :class:`~snnc.errors.ValidationError` for a graph the backends cannot run and
    :class:`~snnc.errors.BackendUnavailableError` for a ``device`` that is not there.
    """
    w = wiring(graph)
    xv, steps = validate_input(graph, w, x, steps)
    rec = check_record(w, record)
    batch = xv.shape[0]
    n_in = graph[w.source].size if w.source else 0
    if device is not None:
        from snnc.backends.emulator import torch_engine

        runner, p = torch_engine.Runner(graph, w, device), None
        span = torch_engine.SPAN
    else:
        runner = None
        # the fast path's setup (planning, int8 weights) pays off from a few samples on
        p = fast.plan(graph, w) if fast.ENABLED and batch >= fast.MIN_BATCH and steps else None
        span = SPAN_FAST if p is not None else SPAN_GENERIC

    spikes = {c: np.zeros((batch, steps, graph[c].size), dtype=bool) for c in rec}
    v_rec = {
        c: np.zeros((batch, steps, graph[c].size), dtype=np.int64)
        for c in rec
        if graph[c].readout == "v"
    }
    desc = f"emulator ({device})" if device is not None else "emulator"
    with progress_bar(total=batch, desc=desc, unit="sample", progress=progress) as bar:
        for lo in range(0, batch, span):
            hi = min(lo + span, batch)
            sp_ = {c: a[lo:hi] for c, a in spikes.items()}
            vr_ = {c: a[lo:hi] for c, a in v_rec.items()}
            if p is not None and runner is None:  # reads the input in place, unpadded
                fast.run_fast(p, w.source, spike_view(xv[lo:hi], n_in), sp_, vr_, steps=steps)
                bar.update(hi - lo)
                continue
            xs = spike_array(xv[lo:hi], steps, n_in)
            if runner is not None:
                runner.run(xs, sp_, vr_)
            else:  # BLAS on one thread: its small products gain little from two, and
                # lose 40x when another process holds a core (measured: 12 -> 525 ms)
                with fast.one_thread_per_kernel(False, True):
                    _run_generic(graph, w, xs, sp_, vr_)
            bar.update(hi - lo)

    def shaped(c: str, a: np.ndarray) -> np.ndarray:
        return a.reshape((batch, steps) + tuple(graph[c].shape))

    return RunResult(
        spikes={c: shaped(c, a) for c, a in spikes.items()},
        v={c: shaped(c, a) for c, a in v_rec.items()},
        steps=steps,
        backend=NAME,
    )


def _run_generic(graph: Graph, w, xs: np.ndarray, spikes: dict, v_rec: dict) -> None:
    """The reference loop (int64 with every Lava wrap); fills ``spikes``/``v_rec``."""
    batch, steps = xs.shape[0], xs.shape[1]
    comps = {c: CompartmentState(graph[c], batch) for c in w.compartments}
    syns = {s: synapse_state(graph[s], batch) for s in w.synapses}
    current: dict[str, np.ndarray] = {}
    for t in range(steps):
        for c, state in comps.items():
            ins = w.comp_in[c]
            if ins:
                a = syns[ins[0]].output()
                for s in ins[1:]:
                    a = a + syns[s].output()
                a = wrap32(a) if len(ins) > 1 else a
            else:
                a = np.zeros((batch, state.n), dtype=np.int64)
            current[c] = state.step(a, t)
            if c in spikes:
                spikes[c][:, t] = current[c]
            if c in v_rec:
                v_rec[c][:, t] = state.v
        for s, state in syns.items():
            src = w.syn_src[s]
            state.update(xs[:, t] if src == w.source else current[src])


class Emulator:
    """The emulator as a :class:`~snnc.backends.base.Backend` object."""

    name = NAME

    def run(self, graph: Graph, x, steps: int, record: Sequence[str] | None = None,
            **kwargs) -> RunResult:
        return run(graph, x, steps, record, **kwargs)

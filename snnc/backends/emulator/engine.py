"""The emulator's time loop: Lava's order of operations, batched over samples.

One raw step ``t`` (Lava ``time_step = t + 1``; loihi.md §1.10)::

    for every Compartment c:  a_in = Σ over its Synapses of their buffer (from step t−1)
                                     (+ x[:, t] itself if the input feeds c directly)
                              update u, v; spikes s_c[t]; v reset     (arith.lif_step)
                              (a sigma-delta population: its int32 output s_c[t],
                              arith.sigma_delta_step)
    for every Synapse k:      buffer_k ← f(W_k, output of its source at step t)  (synapse.py;
                              ConvSynapse: Lava Conv, 24-bit wrapped, same one-step delay;
                              graded payloads when num_message_bits > 0)
                              (source = x[:, t] for the SpikeSource, zeros when t ≥ T_in)

so a spike sent at step t reaches a population one synapse layer away at step t + 1
(plus any extra ``delays``).  Recurrent loops need no special care: every synapse reads
spikes of the step just computed and delivers them at the next one.

:func:`run` takes the fast path of :mod:`.fast` (same results, exact float/int8 products, no
int32 wraps that provably cannot fire, batch chunks on threads) when its guards hold for the
graph, and the loop here (:func:`_loop`) otherwise.  That one loop runs on numpy arrays
(:mod:`.arrays`) or, with ``device=``, on torch tensors (:mod:`.torch_engine`): the state
classes and the arithmetic (:mod:`snnc.compiler.ir.arith`) are the same.  An
:class:`Observer` (``run(..., observer=...)``) sees each step's intermediates and can replace
a synapse's input spikes; it forces this loop (the fast path computes no intermediates), as do
``states=True`` (u and v of every recorded compartment), sigma-delta populations and graded
synapses, and any program whose bounds the fast path cannot prove (its guards: :mod:`.fast`).
Either way the batch goes through in spans of samples (the input's bool copy stays bounded,
a progress bar advances per span); samples are independent, so spans change no result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snnc.backends.base import BackendSpec, RunResult
from snnc.backends.emulator import fast, torch_engine
from snnc.backends.emulator import shard as _shard
from snnc.backends.emulator.arrays import NUMPY_ARRAYS
from snnc.backends.emulator.compartment import CompartmentState, SigmaDeltaState
from snnc.backends.emulator.synapse import synapse_state
from snnc.backends.wiring import BINARY, Constant, check_input, check_record, check_steps, wiring
from snnc.compiler.ir import arith
from snnc.compiler.ir.graph import Graph
from snnc.progress import bar as progress_bar

NAME = "emulator"


#: samples converted and run at a time (bounds the bool copy of the input; the bar advances
#: once per span): fast path / generic engine
SPAN_FAST = 1024
SPAN_GENERIC = 64


class Observer:
    """Callbacks of the emulator's generic loop (:func:`run` with ``observer=``).

    Override what you need; the defaults do nothing.  Arrays are the loop's own (numpy int64
    and bool, or torch tensors with ``device=``), batch first, for the samples ``lo:hi`` of
    the current span (:meth:`span`), and must not be modified in place.  Per raw step ``t``,
    in the loop's order:

    * :meth:`compartment` after each compartment's update, with its input and the step's
      intermediates (:class:`snnc.compiler.ir.arith.LifStep`: ``u_raw`` is u before its
      wraps, ``v_raw`` v before its int32 wrap and clip, ``v_pre`` v before the reset, ...;
      for a sigma-delta population :class:`snnc.compiler.ir.arith.SigmaDeltaStep`);
    * :meth:`synapse_input` before each synapse block reads its source's spikes: returning an
      array (batch, n_in) replaces them (teacher forcing); ``None`` keeps them;
    * :meth:`synapse_sums` with the block's raw sums (float64 (batch, depth·n_out), before
      Lava's int cast, ``weight_exp`` shift and wraps; int64 for graded Dense/Sparse/DelayDense).
    """

    def span(self, lo: int, hi: int) -> None:
        """Samples ``lo:hi`` of the batch run next, from raw step 0."""

    def compartment(self, name: str, t: int, a_sum, a, step: arith.LifStep) -> None:
        """Compartment ``name`` at step ``t``: ``a_sum`` the sum of its synapse buffers, ``a``
        the input Lava adds (``a_sum`` wrapped to int32 when several ports add up)."""

    def synapse_input(self, name: str, t: int, spikes):
        """The spikes synapse ``name`` reads at step ``t``; return replacements or ``None``."""
        return None

    def synapse_sums(self, name: str, t: int, sums) -> None:
        """Synapse ``name``'s raw sums of step ``t`` (delivered at t + 1 and later)."""


def run(
    graph: Graph,
    x,
    steps: int,
    record: Sequence[str] | None = None,
    *,
    progress: bool | None = False,
    device=None,
    observer: Observer | None = None,
    input: str | None = None,  # noqa: A002 - the run option's public name
    states: bool = False,
    shard: bool = False,
) -> RunResult:
    """Run a Loihi-dialect ``graph`` for ``steps`` raw steps on ``x`` (batch, T_in, *in_shape).

    Bit-exact with Lava 0.10.0 ``Loihi2SimCfg(select_tag="fixed_pt")``.  ``x`` holds binary
    spikes (bool or 0/1), or is the :class:`~snnc.backends.wiring.Spikes` of
    :func:`~snnc.backends.wiring.check_input` (not checked again); steps at and after ``T_in``
    get no input.  ``record`` names the
    compartments to return (``None``: all).  Returns spikes (bool, (batch, steps, *shape))
    of every recorded compartment and ``v`` (int64, after reset) of those with
    ``readout == "v"``; of a sigma-delta population ``payload`` (int64: its int32 output) and
    ``spikes = payload != 0``.

    The batch runs in spans of samples (:data:`SPAN_FAST` / :data:`SPAN_GENERIC`), so the
    spike copy of the input stays bounded; ``progress`` shows a bar over them (``None``: when
    stderr is a terminal; see :mod:`snnc.progress`).  ``device`` (``"cpu"``, ``"cuda"``, a
    ``torch.device``) runs the same integer arithmetic in torch instead
    (:mod:`.torch_engine`); ``None`` is the numpy engine.  ``observer`` (an
    :class:`Observer`) is called from the loop at every step (never the fast path).
    ``input="bias"``: ``x`` is (batch, *in_shape), each sample's values set as the
    ``bias_mant`` of the compartments the input feeds directly for the whole run
    (:class:`~snnc.backends.wiring.Constant`).  ``states=True`` also returns ``u`` and ``v`` of
    every recorded compartment (``RunResult.u``, ``RunResult.v``).

    ``shard=True`` under torchrun: this process runs its share of the batch and every process
    returns the whole result, bit-identical for any number of processes (:mod:`.shard`).

    Raises :class:`~snnc.errors.InputError` for bad ``x``/``steps``/``record``,
    :class:`~snnc.errors.ValidationError` for a graph the backends cannot run and
    :class:`~snnc.errors.BackendUnavailableError` for a ``device`` that is not there.
    """
    steps = check_steps(steps)
    w = wiring(graph)
    xv = check_input(graph, x, steps, w, route=input)
    rec = check_record(w, record)
    if shard:  # this process's share, gathered (one process: the whole batch, here)
        return _shard.run(run, graph, xv, steps, record, progress=progress, device=device,
                          observer=observer, input=input, states=states)
    batch = xv.batch
    constant = isinstance(xv, Constant)
    p = None
    if device is not None:
        xp, span = torch_engine.TorchArrays(device), torch_engine.SPAN
    else:
        xp = NUMPY_ARRAYS
        # the fast path's setup (planning, int8 weights) pays off from a few samples on
        if (fast.ENABLED and observer is None and not states and batch >= fast.min_batch(graph)
                and steps):
            p = fast.plan(graph, w, xv)
        span = SPAN_FAST if p is not None else SPAN_GENERIC

    spikes = {c: np.zeros((batch, steps, graph[c].size), dtype=bool) for c in rec}
    lif = [c for c in rec if not w.graded(c)]
    v_rec = {
        c: np.zeros((batch, steps, graph[c].size), dtype=np.int64)
        for c in lif
        if graph[c].readout == "v" or states
    }
    u_rec = {c: np.zeros((batch, steps, graph[c].size), dtype=np.int64) for c in lif} if states else {}
    # a sigma-delta population's int32 output, recorded with v (the loop's int64 records)
    p_rec = {c: np.zeros((batch, steps, graph[c].size), dtype=np.int64) for c in rec if w.graded(c)}
    state = None
    desc = f"emulator ({device})" if device is not None else "emulator"
    with progress_bar(total=batch, desc=desc, unit="sample", progress=progress) as bar:
        for lo in range(0, batch, span):
            hi = min(lo + span, batch)
            sp_ = {c: a[lo:hi] for c, a in spikes.items()}
            vr_ = {c: a[lo:hi] for c, a in (v_rec | p_rec).items()}
            if p is not None:  # reads the input in place, unpadded
                fast.run_span(p, xv[lo:hi], lo, sp_, vr_, steps)
                bar.update(hi - lo)
                continue
            bias = None
            if constant:  # the source sends nothing; its values are the direct targets' bias
                xs, bias = None, xv[lo:hi].bias_mant()
            elif xv.payload == BINARY:
                xs = xv[lo:hi].padded(steps)
            else:
                xs = xv[lo:hi].values(steps)
            if state is None:  # weights in the backend's form, once per run
                state = _states(graph, w, hi - lo, xp)
            if observer is not None:
                observer.span(lo, hi)
            # BLAS on one thread: its small products gain little from two, and lose 40x when
            # another process holds a core (measured: 12 -> 525 ms)
            with fast.one_thread_per_kernel(False, device is None):
                _loop(xp, w, state, xs, sp_, vr_, observer,
                      {c: a[lo:hi] for c, a in u_rec.items()}, bias, (hi - lo, steps))
            bar.update(hi - lo)

    def shaped(c: str, a: np.ndarray) -> np.ndarray:
        return a.reshape((batch, steps) + tuple(graph[c].shape))

    return RunResult(
        spikes={c: shaped(c, a) for c, a in spikes.items()},
        v={c: shaped(c, a) for c, a in v_rec.items()},
        steps=steps,
        backend=NAME,
        u={c: shaped(c, a) for c, a in u_rec.items()},
        payload={c: shaped(c, a) for c, a in p_rec.items()},
    )


def _states(graph: Graph, w, batch: int, xp) -> tuple[dict, dict]:
    """The population (LIF and sigma-delta, graph order) and synapse states of ``graph`` on
    the arrays ``xp``."""
    comps = {c: SigmaDeltaState(graph[c], batch, xp) if w.graded(c) else CompartmentState(graph[c], batch, xp)
             for c in (w.neurons or w.compartments)}
    syns = {s: synapse_state(graph[s], batch, xp) for s in w.synapses}
    return comps, syns


#: the emulator as the registry lists it (:mod:`snnc.backends.registry`)
BACKEND = BackendSpec(
    name=NAME,
    title="the emulator",
    summary="bit-exact numpy emulator of Lava 0.10's fixed point (default)",
    options=frozenset({"progress", "device", "observer", "input", "states", "shard"}),
    runner=run,
)

def _loop(xp, w, state: tuple[dict, dict], xs: np.ndarray | None, spikes: dict, v_rec: dict,
          observer: Observer | None = None, u_rec: dict | None = None,
          bias: np.ndarray | None = None, size: tuple[int, int] | None = None) -> None:
    """The time loop over one span ``xs`` (b, steps, n_in): bool spikes, or int64 values of an
    integer input; ``None`` on the bias route, where ``bias`` (b, n_in) int64 is the
    ``bias_mant`` of the compartments the input feeds directly.  Fills ``spikes``/``v_rec``/
    ``u_rec`` (numpy slices (b, steps, n); ``v_rec`` of a sigma-delta population: its int32
    output, ``spikes`` where it is non-zero) and calls ``observer``.  ``size``: (b, steps),
    needed without ``xs``.  Every Lava wrap is kept."""
    comps, syns = state
    batch, steps = size if size is not None else xs.shape[:2]
    for st in (*comps.values(), *syns.values()):
        st.reset(batch)
    for c in w.direct:  # the bias route's values, or the node's own bias_mant again
        comps[c].set_bias_mant(bias)
    x = xp.inputs(xs) if xs is not None else None
    direct = set(w.direct) if x is not None else set()
    rec_s = {c: xp.record(a) for c, a in spikes.items()}
    rec_v = {c: xp.record(a) for c, a in v_rec.items()}
    rec_u = {c: xp.record(a) for c, a in (u_rec or {}).items()}
    silent = {c: xp.zeros((batch, comps[c].n)) for c in comps if not w.comp_in[c] and c not in direct}
    current: dict = {}
    for t in range(steps):
        for c, st in comps.items():
            bufs = [syns[s].output() for s in w.comp_in[c]]
            if c in direct:  # the input's value of this step is a_in itself (RingBuffer -> a_in)
                bufs.append(xp.to_int64(x[:, t]))
            if bufs:
                a_sum, a = arith.input_sum(xp, bufs)
            else:
                a_sum = a = silent[c]
            out = st.advance(a, t)
            if isinstance(out, arith.SigmaDeltaStep):  # an int32 output: payload or sigma
                current[c] = out.out
                if c in rec_s:
                    rec_s[c][:, t] = xp.ne(out.out, 0)
                if c in rec_v:
                    rec_v[c][:, t] = out.out
            else:
                current[c] = out.s
                if c in rec_s:
                    rec_s[c][:, t] = out.s
                if c in rec_v:
                    rec_v[c][:, t] = out.v
                if c in rec_u:
                    rec_u[c][:, t] = out.u
            if observer is not None:
                observer.compartment(c, t, a_sum, a, out)
        for k, st in syns.items():
            src = w.syn_src[k]
            s_in = x[:, t] if src == w.source else current[src]
            if observer is None:
                st.update(s_in)
                continue
            forced = observer.synapse_input(k, t, s_in)
            acc = st.sums(s_in if forced is None else forced)
            observer.synapse_sums(k, t, acc)
            st.load(acc)
    for c, r in rec_s.items():
        xp.copy_back(spikes[c], r)
    for c, r in rec_v.items():
        xp.copy_back(v_rec[c], r)
    for c, r in rec_u.items():
        xp.copy_back(u_rec[c], r)

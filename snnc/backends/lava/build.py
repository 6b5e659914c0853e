"""Build real Lava 0.10.0 processes from a Loihi-dialect graph, and run them in-process.

``to_lava(graph, x_sample, steps)`` maps every node one to one (names kept in
:class:`LavaNetwork`):

=================  =============================================================
``SpikeSource``     ``lava.proc.io.source.RingBuffer(data)`` with ``data`` (n_in, steps):
                    the sample padded with zeros; it sends column ``t`` at raw step t
``Synapse``         ``Dense`` (dense weights), ``Sparse`` (CSR weights), or ``DelayDense``
                    (any ``delays``; sparse weights are densified), each with
                    ``weight_exp``, ``num_weight_bits`` and ``sign_mode`` (Lava's enum)
``ConvSynapse``     ``conv.Conv(weight, input_shape=(W, H, C), padding, stride, dilation,
                    groups)`` wired through virtual ports (see :func:`conv_kwargs`)
``Compartment``     ``lif.LIF(shape=(n,), du, dv, vth, bias_mant, bias_exp, u, v)``;
                    ``lif.LIFReset(..., reset_interval, reset_offset)`` with a periodic reset
``SigmaDeltaCompartment``  ``sdn.Delta(shape=(n,), vth, cum_error, spike_exp, state_exp)``,
                    ``sdn.SigmaDelta(..., bias, act_mode=RELU|UNIT)`` or ``sdn.Sigma(shape)``
                    (``vth``/``bias`` as int64, so that the constructor's ``· 2^k`` is exact
                    and the int32 Var wraps it, as arith's registers)
``num_message_bits``  passed to ``Dense``/``Sparse``/``DelayDense``/``Conv`` (> 0: graded)
input -> compartment  ``RingBuffer.s_out.connect(lif.a_in)``: the input's int32 values (or
                    spikes) enter ``a_in`` in the same step (lava-dl's Input block)
recorded spikes     ``lava.proc.io.sink.RingBuffer(shape=(n,), buffer=steps)`` on ``s_out``
                    (int32: a sigma-delta population's payloads, or sigma, are recorded as such)
``readout="v"``     ``Monitor().probe(lif.v, steps)`` (v after reset, read every step)
``states=True``     ``Monitor``s on ``u`` and ``v`` of every recorded compartment
=================  =============================================================

On the bias route (a :class:`~snnc.backends.wiring.Constant` sample) the compartments the
input feeds directly get the sample's values as ``bias_mant`` (as lava-dl's tests set
``net.in_layer.neuron.bias_mant``) and the RingBuffer is not connected.

Lava silently ignores constructor keywords it does not know (``LIF(bias=...)`` gives no
bias), so every keyword is checked against the process's signature, or, for the
connection parameters Lava reads from ``proc_params`` (``weight_exp``, ``num_weight_bits``,
``sign_mode``), against the names its bit-accurate models read.

:meth:`LavaNetwork.run` executes with ``Loihi2SimCfg(select_tag="fixed_pt")`` (always: the
default silently picks the float models).  ``start_step`` is realised by running in
segments (``RunSteps``): a population with ``start_step = k > 0`` is built with u = v = 0
and ``bias_mant = 0``; after step k−1 its ``u``, ``v`` and ``bias_mant`` are set to the real
values.  Disconnected parts of the graph get separate runtimes (Lava compiles only what is
connected to the process it runs).

Convolutions.  Our populations are 1-D (the C-order flattening of the model's (C, H, W));
Lava's ``Conv`` takes (W, H, C) in and gives (W', H', C') out.  Each ``ConvSynapse`` is wired
with Lava's virtual ports, which its Python simulation applies on the receiving side
(``np.reshape`` / ``np.transpose`` per step, fine with numpy<2)::

    src.s_out.reshape((C, H, W)).transpose([2, 1, 0])      -> conv.s_in      (W, H, C)
    conv.a_out.transpose([2, 1, 0]).reshape((n_out,))      -> lif.a_in       one chain per target

Lava's ``conv_scipy`` computes a true convolution (``scipy.signal.convolve2d`` flips the
kernel), while the model's (NIR's, torch's) is a cross-correlation, so the kernel is flipped
spatially as well as transposed: ``weight = W[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)``,
exactly as lava-dl's netx does (lava/lib/dl/netx/hdf5.py:505-506).  Stride, padding and
dilation are given in (W, H) order.  ``weight_exp``/``num_weight_bits`` are not passed: the
fixed-point Conv model never reads them.

Lava is imported inside functions only; this module defines no Lava Process or Model.
In-process runs have no watchdog: :func:`snnc.backends.lava.run` wraps them in one.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from snnc.backends.wiring import Constant, Spikes, Wiring, check_input, check_record, wiring
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import BackendError, InputError

#: keywords Lava's connection processes take through ``**kwargs`` into ``proc_params``,
#: read by the bit-accurate models (lava/proc/dense/models.py:75-90, 315-322;
#: lava/proc/sparse/models.py:78-85)
CONNECTION_PROC_PARAMS = ("weight_exp", "num_weight_bits", "sign_mode")


def make_process(cls: type, proc_params: Sequence[str] = (), **kwargs: Any):
    """``cls(**kwargs)`` after checking every keyword name is one ``cls`` really reads."""
    accepted = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self":
                accepted.add(p.name)
        break  # the most derived __init__ defines the public keywords
    accepted |= set(proc_params)
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise BackendError(
            f"internal: {cls.__name__} does not take {', '.join(unknown)} "
            f"(accepted: {', '.join(sorted(accepted))})",
            hint="Lava ignores unknown keywords silently; this is a bug in snnc's Lava builder",
        )
    return cls(**kwargs)


def conv_kwargs(node: loihi.ConvSynapse) -> dict[str, Any]:
    """``lava.proc.conv.process.Conv`` keywords for ``node`` (model layout -> Lava layout)."""
    c, h, w = (int(d) for d in node.in_shape)
    kernel = np.asarray(node.weights, dtype=np.int64)
    return {
        # (C', C/g, kH, kW) cross-correlation -> (C', kW, kH, C/g) convolution kernel
        "weight": np.ascontiguousarray(kernel[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)),
        "input_shape": (w, h, c),
        "padding": tuple(int(v) for v in node.padding[::-1]),
        "stride": tuple(int(v) for v in node.stride[::-1]),
        "dilation": tuple(int(v) for v in node.dilation[::-1]),
        "groups": int(node.groups),
    }


@dataclasses.dataclass
class LavaNetwork:
    """The Lava processes of one program and sample, by graph node name."""

    source: Any | None
    synapses: dict[str, Any]
    compartments: dict[str, Any]
    sinks: dict[str, Any]
    monitors: dict[str, Any]
    steps: int
    #: compartment -> (start_step, {var name: value to set at start_step})
    starts: dict[str, tuple[int, dict[str, np.ndarray]]]
    #: lists of node names that form separately connected parts of the graph
    parts: list[list[str]]
    #: compartment -> Monitor on u (``states=True``; v then has a monitor in ``monitors``)
    u_monitors: dict[str, Any] = dataclasses.field(default_factory=dict)

    def processes(self) -> dict[str, Any]:
        procs = {**self.synapses, **self.compartments}
        if self.source is not None:
            procs = {"<source>": self.source, **procs}
        return procs

    #: the sigma-delta populations (their sinks record int32 values)
    graded: frozenset = frozenset()

    def run(self, run_cfg: Any = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Run all ``steps`` in this process (no watchdog); stop the runtimes.

        ``run_cfg`` defaults to ``Loihi2SimCfg(select_tag="fixed_pt")``; the Loihi 2 hardware
        backend passes ``Loihi2HwCfg()``.

        Returns ``spikes[name]`` (steps, n) bool for the compartments with a sink and
        ``v[name]`` (steps, n) int64 for those with a monitor.
        """
        spikes, v, _, _ = self.run_states(run_cfg)
        return spikes, v

    def run_states(self, run_cfg: Any = None) -> tuple[dict, dict, dict, dict]:
        """:meth:`run`, also returning ``u[name]`` (steps, n) int64 of the compartments with a
        monitor on u (``states=True``) and ``payload[name]`` (steps, n) int64, the int32 output
        of every recorded sigma-delta population (its ``spikes`` are ``payload != 0``)."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        cfg = run_cfg if run_cfg is not None else Loihi2SimCfg(select_tag="fixed_pt")
        spikes: dict[str, np.ndarray] = {}
        v: dict[str, np.ndarray] = {}
        u: dict[str, np.ndarray] = {}
        payload: dict[str, np.ndarray] = {}
        for part in self.parts:
            comps = [c for c in part if c in self.compartments]
            if not comps:
                continue
            anchor = self.compartments[comps[0]]
            bounds = sorted(
                {self.starts[c][0] for c in comps if 0 < self.starts[c][0] < self.steps}
            )
            t = 0
            try:
                for b in [*bounds, self.steps]:
                    if b > t:
                        anchor.run(condition=RunSteps(num_steps=b - t), run_cfg=cfg)
                        t = b
                    if b < self.steps:
                        for c in comps:
                            k, values = self.starts[c]
                            if k == b:
                                lif = self.compartments[c]
                                for var, value in values.items():
                                    getattr(lif, var).set(value)
                for c in comps:
                    if c in self.sinks:
                        data = np.asarray(self.sinks[c].data.get())
                        spikes[c] = data.T != 0
                        if c in self.graded:
                            payload[c] = np.rint(data.T.astype(np.float64)).astype(np.int64)
                    lif = self.compartments[c]
                    for var, mons, out in (("v", self.monitors, v), ("u", self.u_monitors, u)):
                        if c in mons:
                            data = mons[c].get_data()[lif.name][var]
                            out[c] = np.rint(np.asarray(data, dtype=np.float64)).astype(np.int64)
            finally:
                anchor.stop()
        return spikes, v, u, payload


def _parts(graph: Graph, w: Wiring, direct: bool = True) -> list[list[str]]:
    """Weakly connected parts of the executable nodes (SpikeSource, Synapse, Compartment);
    ``direct``: the input's straight edges to compartments are connected (not on the bias
    route)."""
    nodes = ([w.source] if w.source else []) + list(w.synapses) + list(w.neurons or w.compartments)
    parent = {n: n for n in nodes}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for s in w.synapses:
        for other in (w.syn_src[s], *w.syn_dst[s]):
            parent[find(other)] = find(s)
    for c in w.direct if direct else ():
        parent[find(c)] = find(w.source)
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(find(n), []).append(n)
    return list(groups.values())


def _values(a, n: int, default: int = 0) -> np.ndarray:
    if a is None:
        return np.full(n, default, dtype=np.int64)
    return np.broadcast_to(np.asarray(a, dtype=np.int64).reshape(-1), (n,)).copy()


def to_lava(
    graph: Graph,
    x_sample,
    steps: int,
    record: Sequence[str] | None = None,
    *,
    input: str | None = None,  # noqa: A002 - the run option's public name
    states: bool = False,
) -> LavaNetwork:
    """Build the Lava processes for one sample ``x_sample`` (T_in, *in_shape), or a checked
    :class:`~snnc.backends.wiring.Spikes` of one sample, and ``steps``.  ``input="bias"``:
    ``x_sample`` is (*in_shape), set as the ``bias_mant`` of the compartments the input feeds
    directly (or a checked :class:`~snnc.backends.wiring.Constant` of one sample).

    ``record`` names the compartments that get a spike sink (``None``: all); recorded
    compartments with ``readout == "v"`` also get a ``Monitor`` on ``v``, and every recorded
    compartment Monitors on ``u`` and ``v`` with ``states=True``.
    """
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF, LIFReset
    from lava.proc.monitor.process import Monitor
    from lava.proc.sdn.process import ActivationMode, Delta, Sigma, SigmaDelta
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode as LavaSignMode

    w = wiring(graph)
    one = x_sample if isinstance(x_sample, (Spikes, Constant)) else np.asarray(x_sample)[None]
    xs = check_input(graph, one, steps, w, route=input)
    if xs.batch != 1:
        raise InputError(f"to_lava builds one sample; got {xs.batch}", hint="pass x[i] (T, *input_shape)")
    if steps < 1:
        raise InputError("a Lava run needs at least one step", hint="pass steps >= 1")
    rec = check_record(w, record)
    constant = isinstance(xs, Constant)
    sample_bias = xs.bias_mant()[0] if constant else None

    source = None
    if w.source is not None:  # the RingBuffer's data: (n_in, steps) int32, nothing after T_in
        data = np.zeros((xs.n_in, steps), dtype=np.int32)
        if not constant:
            data[:, : xs.steps] = xs.values()[0].T
        source = make_process(Source, data=data)
    comps: dict[str, Any] = {}
    starts: dict[str, tuple[int, dict[str, np.ndarray]]] = {}
    for c in w.compartments:
        node: loihi.Compartment = graph[c]
        n = node.size
        bias = sample_bias.copy() if constant and c in w.direct else _values(node.bias_mant, n)
        u0, v0 = _values(node.u_init, n), _values(node.v_init, n)
        k = int(node.start_step)
        later = k > 0
        reset = {}
        if node.reset_interval:  # Lava's LIFReset (lava-dl's periodic state reset)
            reset = {"reset_interval": int(node.reset_interval), "reset_offset": int(node.reset_offset)}
        comps[c] = make_process(
            LIFReset if reset else LIF,
            shape=(n,),
            du=int(node.du) if np.ndim(node.du) == 0 else _values(node.du, n),
            dv=int(node.dv) if np.ndim(node.dv) == 0 else _values(node.dv, n),
            vth=int(node.vth),
            bias_mant=np.zeros(n, dtype=np.int64) if later else bias,
            bias_exp=int(node.bias_exp),
            u=np.zeros(n, dtype=np.int64) if later else u0,
            v=np.zeros(n, dtype=np.int64) if later else v0,
            name=f"snnc:{c}",
            **reset,
        )
        starts[c] = (k, {"u": u0, "v": v0, "bias_mant": bias} if later else {})
    for c in w.sigma_deltas:
        node: loihi.SigmaDeltaCompartment = graph[c]
        n = node.size
        if node.neuron == loihi.SIGMA:
            comps[c] = make_process(Sigma, shape=(n,))  # Delta and Sigma take no name
        else:
            kw = {"shape": (n,), "vth": np.int64(node.vth), "cum_error": bool(node.cum_error),
                  "spike_exp": int(node.spike_exp), "state_exp": int(node.state_exp)}
            if node.neuron == loihi.DELTA:
                comps[c] = make_process(Delta, **kw)
            else:
                mode = ActivationMode.RELU if node.activation == "relu" else ActivationMode.UNIT
                comps[c] = make_process(SigmaDelta, bias=_values(node.bias, n), act_mode=mode, **kw)
        starts[c] = (0, {})
    if source is not None and not constant:
        for c in w.direct:  # the input's value is the compartment's a_in in the same step
            source.s_out.connect(comps[c].a_in)
    syns: dict[str, Any] = {}
    for s in w.synapses:
        node: loihi.Synapse | loihi.ConvSynapse = graph[s]
        src = w.syn_src[s]
        out_port = source.s_out if src == w.source else comps[src].s_out
        if isinstance(node, loihi.ConvSynapse):
            kw = conv_kwargs(node)
            proc = make_process(Conv, name=f"snnc:{s}", num_message_bits=int(node.num_message_bits), **kw)
            c, h, wd = (int(d) for d in node.in_shape)
            out_whc = tuple(int(d) for d in proc.a_out.shape)
            want = tuple(int(d) for d in node.out_shape[::-1])
            if out_whc != want:
                raise BackendError(
                    f"internal: Lava's Conv output shape {out_whc} is not the expected {want}",
                    node=s,
                )
            out_port.reshape((c, h, wd)).transpose([2, 1, 0]).connect(proc.s_in)
            for d in w.syn_dst[s]:
                proc.a_out.transpose([2, 1, 0]).reshape((node.n_out,)).connect(comps[d].a_in)
            syns[s] = proc
            continue
        common = {
            "weight_exp": int(node.weight_exp),
            "num_weight_bits": int(node.num_weight_bits),
            "sign_mode": LavaSignMode(int(node.sign_mode)),
            "num_message_bits": int(node.num_message_bits),
            "name": f"snnc:{s}",
        }
        if node.delays is not None:
            proc = make_process(
                DelayDense,
                CONNECTION_PROC_PARAMS,
                weights=node.dense_weights().astype(np.int64),
                delays=np.asarray(node.delays, dtype=np.int64),
                **common,
            )
        elif node.is_sparse:
            proc = make_process(
                Sparse, CONNECTION_PROC_PARAMS, weights=sp.csr_matrix(node.weights), **common
            )
        else:
            proc = make_process(
                Dense, CONNECTION_PROC_PARAMS, weights=np.asarray(node.weights, np.int64), **common
            )
        syns[s] = proc
        out_port.connect(proc.s_in)
        for d in w.syn_dst[s]:
            proc.a_out.connect(comps[d].a_in)
    sinks: dict[str, Any] = {}
    monitors: dict[str, Any] = {}
    u_monitors: dict[str, Any] = {}
    for c in rec:
        n = graph[c].size
        sinks[c] = make_process(Sink, shape=(n,), buffer=steps)
        comps[c].s_out.connect(sinks[c].a_in)
        if w.graded(c):  # the sink records its int32 output; no u or v
            continue
        if graph[c].readout == "v" or states:
            mon = Monitor()
            mon.probe(comps[c].v, steps)
            monitors[c] = mon
        if states:
            mon = Monitor()
            mon.probe(comps[c].u, steps)
            u_monitors[c] = mon
    return LavaNetwork(
        source=source,
        synapses=syns,
        compartments=comps,
        sinks=sinks,
        monitors=monitors,
        steps=int(steps),
        starts=starts,
        parts=_parts(graph, w, direct=not constant),
        u_monitors=u_monitors,
        graded=frozenset(w.sigma_deltas),
    )

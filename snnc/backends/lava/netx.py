"""Run a netx HDF5 file in real Lava, exactly as lava-dl builds it, under snnc's watchdog.

Parent side: :func:`run_netx` (or :func:`run_netx_many`, several files in one child;
:func:`run_netx_states`, with every block's u and v) writes the job to a temporary directory
and runs ``python -m snnc.backends.lava.netx DIR`` through
:func:`snnc.backends.lava.run.run_worker` (new session, killed on timeout, Lava failures as
:class:`~snnc.errors.BackendError`).

Child side (:func:`main`): per sample, ``lava.lib.dl.netx.hdf5.Network(path, **keywords)``
with the keywords given (``reset_interval``, ``reset_offset``, ``skip_layers``, ``spike_exp``,
``num_layers``: lava-dl's names), a sink ``RingBuffer`` on every block's ``out`` (and with
``states`` a ``Monitor`` on the named Vars of every block's neuron: ``u`` and ``v`` for LIF,
``sigma``, ``act``, ``residue`` for sigma-delta), run for ``steps`` steps with
``Loihi2SimCfg(select_tag="fixed_pt")``.  The input enters as lava-dl's own code feeds it
(``input=``):

* ``"spikes"`` (default): a ``RingBuffer`` on ``net.inp`` (a network without an Input block,
  or one whose Input block is skipped, ``skip_layers=1``: its values are then the first
  synapse's graded payloads, as lava-dl's ``test_hdf5_nx.py`` sends ``act0.npy``);
* ``"a_in"``: a ``RingBuffer`` of int32 values on ``net.in_layer.neuron.a_in`` (lava-dl's
  PilotNet SDNN test and tutorials: the Input block's ``inp`` is not wired);
* ``"bias"``: ``net.in_layer.neuron.bias_mant.init`` set to each sample's values (lava-dl's
  ``test_tinynet`` and PilotNet LIF hardware test); ``x`` is (batch, *shape).

Blocks with a 3-D shape are (W, H, C) in Lava; inputs and recorded arrays are transposed to
and from the model's C-order (C, H, W).  Results hold one (batch, steps, n) array per block
(spikes, or with ``values=True`` the int64 values a block sends: graded payloads of sigma-delta
blocks; the monitored states), in block order (netx layer groups that hold neurons).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from snnc.backends.lava.run import INSTALL_HINT, default_timeout, lava_available, run_worker
from snnc.backends.lava.worker import run_job
from snnc.errors import BackendUnavailableError, InputError

MODULE = "snnc.backends.lava.netx"
#: how the input enters lava-dl's network (see the module docstring)
INPUTS = ("spikes", "a_in", "bias")
#: lava-dl ``hdf5.Network`` keywords passed through (None: lava-dl's default)
KEYWORDS = ("reset_interval", "reset_offset", "skip_layers", "spike_exp", "num_layers")
#: the neuron Vars recorded with ``states=True``
LIF_STATES = ("u", "v")
SDNN_STATES = ("sigma", "act", "residue")


def run_netx(path, x, steps: int, *, timeout: float | None = None, **options) -> list[np.ndarray]:
    """Spikes of every netx block, each (batch, steps, n) bool, for input ``x`` (batch, T, *shape);
    ``options``: :data:`KEYWORDS` (lava-dl's ``hdf5.Network`` keywords), ``input``
    (:data:`INPUTS`), ``values=True`` (int64 values sent: graded payloads)."""
    return run_netx_many([(path, x, steps, options)], timeout=timeout)[0]


def run_netx_states(path, x, steps: int, *, timeout: float | None = None, **options) -> list[dict[str, np.ndarray]]:
    """:func:`run_netx` with every block's state: per block ``{"s": bool, "u": int64, "v": int64}``,
    each (batch, steps, n) (u and v read by Lava Monitors after each step).  ``states`` may name
    other Vars (e.g. :data:`SDNN_STATES`: ``{"s": int64 payloads, "sigma": ..., ...}``)."""
    options.setdefault("states", True)
    return run_netx_many([(path, x, steps, options)], timeout=timeout, states=True)[0]


def _state_names(states) -> tuple[str, ...]:
    if states is True:
        return LIF_STATES
    if not states:
        return ()
    if isinstance(states, str) or not all(isinstance(v, str) and v.isidentifier() for v in states):
        raise InputError(f"states={states!r}: True or a list of neuron Var names (e.g. {list(SDNN_STATES)})")
    return tuple(states)


def run_netx_many(runs, *, timeout: float | None = None, states: bool = False) -> list[list]:
    """:func:`run_netx` for several ``(path, x, steps[, options])`` in one child (one Python start
    and Lava import).  With ``states`` each block is a dict of s and the states
    (:func:`run_netx_states`)."""
    if not lava_available():
        raise BackendUnavailableError("Lava (lava-nc 0.10.0) is not installed", hint=INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="snnc-netx-") as tmp:
        d = Path(tmp)
        jobs, limit, what = [], 0.0, []
        for j, run in enumerate(runs):
            path, x, steps = run[:3]
            opts = dict(run[3]) if len(run) > 3 else {}
            route = opts.get("input", "spikes")
            if route not in INPUTS:
                raise InputError(f"input={route!r}: lava-dl's network takes one of {', '.join(INPUTS)}")
            unknown = sorted(set(opts) - set(KEYWORDS) - {"input", "states", "values"})
            if unknown:
                raise InputError(f"{unknown[0]}= is not an option of lava-dl's Network run here",
                                 hint=f"options: {', '.join(KEYWORDS)}, input, states, values")
            x = np.asarray(x).astype(np.int64)  # spikes (0/1) or int32 values: the RingBuffer is int32
            with open(d / f"input{j}.npz", "wb") as fh:
                np.savez(fh, x=x)
            keywords = {k: opts[k] for k in KEYWORDS if opts.get(k) is not None}
            jobs.append({"netx": str(Path(path).resolve()), "steps": int(steps), "input": route,
                         "keywords": {k: int(v) for k, v in keywords.items()},
                         "states": list(_state_names(opts.get("states", states))),
                         "values": bool(opts.get("values", False))})
            limit += default_timeout(x.shape[0], int(steps))
            what.append(f"{Path(path).name}: {x.shape[0]} sample(s), {steps} steps")
        (d / "job.json").write_text(json.dumps({"runs": jobs}))
        info, _, _ = run_worker(d, limit if timeout is None else timeout, "netx " + "; ".join(what), MODULE)
        out = []
        with np.load(d / "result.npz", allow_pickle=False) as z:
            for j, n in enumerate(info["blocks"]):
                job = jobs[j]
                sent = [z[f"r{j}s{i}"] if job["values"] else z[f"r{j}s{i}"].astype(bool) for i in range(n)]
                if job["states"]:
                    out.append([{"s": sent[i], **{v: z[f"r{j}{v}{i}"] for v in job["states"]}}
                                for i in range(n)])
                else:
                    out.append(sent)
        return out


def _to_lava_layout(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(T, *model_shape) -> (*lava_shape, T): (C, H, W) becomes (W, H, C)."""
    t = a.shape[0]
    if len(shape) == 3:
        return a.reshape((t,) + shape[::-1]).transpose(3, 2, 1, 0)
    return a.reshape(t, -1).T.reshape(shape + (t,))


def _from_lava_layout(a: np.ndarray) -> np.ndarray:
    """(*lava_shape, T) -> (T, n) in C-order of the model's (C, H, W)."""
    if a.ndim == 4:
        a = a.transpose(2, 1, 0, 3)
    return a.reshape(-1, a.shape[-1]).T


def _monitored(mon, proc, var: str, steps: int) -> np.ndarray:
    """A Monitor's record of ``var`` (steps, *lava_shape) as (T, n) in the model's C-order."""
    data = np.asarray(mon.get_data()[proc.name][var], dtype=np.float64)
    data = np.rint(data).astype(np.int64).reshape((steps,) + tuple(int(n) for n in getattr(proc, var).shape))
    return _from_lava_layout(np.moveaxis(data, 0, -1))


def _run_sample(job: dict, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.monitor.process import Monitor

    steps, route = int(job["steps"]), job["input"]
    net = Network(net_config=job["netx"], **job["keywords"])
    if route == "bias":  # as lava-dl's tests: the Input block's bias_mant from the sample
        shape = tuple(int(n) for n in net.in_layer.neuron.bias_mant.shape)
        net.in_layer.neuron.bias_mant.init = _to_lava_layout(x[None], shape)[..., 0]
        src = None
    else:
        port = net.inp if route == "spikes" else net.in_layer.neuron.a_in
        shape = tuple(int(n) for n in port.shape)
        data = np.zeros(shape + (steps,), np.int32)
        data[..., : x.shape[0]] = _to_lava_layout(x, shape)
        src = Source(data=data)
        src.s_out.connect(port)
    sinks, monitors = [], []
    for layer in net.layers:
        sink = Sink(shape=layer.out.shape, buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
        if job["states"]:
            pair = {}
            for var in job["states"]:
                mon = Monitor()
                mon.probe(getattr(layer.neuron, var), steps)
                pair[var] = mon
            monitors.append(pair)
    anchor = src if src is not None else net
    try:
        anchor.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = []
        for i, (layer, sink) in enumerate(zip(net.layers, sinks)):
            # the values sent (0/1 spikes, or int32 graded payloads), exact in the sink's float64
            block = {"s": np.rint(_from_lava_layout(np.asarray(sink.data.get(), np.float64))).astype(np.int64)}
            if job["states"]:
                for var, mon in monitors[i].items():
                    block[var] = _monitored(mon, layer.neuron, var, steps)
            out.append(block)
        return out
    finally:
        anchor.stop()


def _import_netx() -> None:
    import lava.lib.dl.netx.hdf5  # noqa: F401


def _netx_job(d: Path) -> tuple[dict, dict]:
    arrays, blocks, timings = {}, [], []
    for j, job in enumerate(json.loads((d / "job.json").read_text())["runs"]):
        with np.load(d / f"input{j}.npz", allow_pickle=False) as z:
            x = z["x"]
        out: list[list[dict]] = []
        for b in range(x.shape[0]):
            t0 = time.perf_counter()
            out.append(_run_sample(job, x[b]))
            timings.append({"run": j, "run_s": time.perf_counter() - t0})
        blocks.append(len(out[0]) if out else 0)
        for i in range(blocks[-1]):
            arrays[f"r{j}s{i}"] = np.stack([o[i]["s"] for o in out])
            for var in job["states"]:
                arrays[f"r{j}{var}{i}"] = np.stack([o[i][var] for o in out])
    return arrays, {"blocks": blocks, "timings": timings}


def main(argv: list[str]) -> int:
    return run_job(argv, _import_netx, _netx_job)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Child-process entry point of the Lava backend: ``python -m snnc.backends.lava.worker DIR``.

``DIR`` (written by :func:`snnc.backends.lava.run`) holds::

    graph/        the program (snnc.compiler.ir.serialize; JSON + npz, no pickle)
    input.npz     x: uint8 spikes or int32 values (batch, T_in, *in_shape); on the bias route
                  int64 (batch, *in_shape)
    job.json      {"steps": int, "record": [names], "input": "a_in" | "bias", "states": bool}

and receives ``result.npz`` (``s<i>``: uint8 (batch, steps, n), ``v<i>``, ``u<i>``, ``p<i>``
(a sigma-delta population's int32 output): int64) plus
``result.json`` (the names for each ``i`` and per-sample timings), or ``error.json``
(``{"type", "message"}``) when something raises.  Exit status: 0 ok, 1 error, 3 Lava is
not importable.  Each sample gets freshly built processes and its own Lava runtime.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from snnc.backends.lava.build import to_lava
from snnc.backends.wiring import check_input
from snnc.compiler.ir import loihi
from snnc.compiler.ir.serialize import load_graph

EXIT_ERROR = 1
EXIT_NO_LAVA = 3
#: the file in the job directory through which a worker reports finished samples
PROGRESS_FILE = "progress"

#: test hook: "raise" fails the worker after importing Lava; "lava-hang" runs a Lava
#: network whose DelayDense model raises inside a Lava process (delays > 63), which makes
#: Lava 0.10.0 hang -- used to test the watchdog against a genuine Lava hang
FAULT_ENV = "SNNC_LAVA_WORKER_FAULT"


def _inject_fault(kind: str) -> None:
    if kind == "raise":
        raise RuntimeError("injected fault (SNNC_LAVA_WORKER_FAULT=raise)")
    if kind == "lava-hang":
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.dense.process import DelayDense
        from lava.proc.io.source import RingBuffer
        from lava.proc.lif.process import LIF

        src = RingBuffer(data=np.ones((2, 5), np.int32))
        dd = DelayDense(weights=np.ones((2, 2), np.int64), delays=np.full((2, 2), 64, np.int64))
        lif = LIF(shape=(2,), vth=10)
        src.s_out.connect(dd.s_in)
        dd.a_out.connect(lif.a_in)
        try:
            lif.run(condition=RunSteps(num_steps=5), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        finally:
            lif.stop()
        raise RuntimeError("Lava did not hang")


def _write_error(d: Path, e: BaseException) -> None:
    msg = str(e).strip().splitlines()
    (d / "error.json").write_text(
        json.dumps({"type": type(e).__name__, "message": " ".join(msg)[:2000]})
    )


def run_job(argv: list[str], check_import, job) -> int:
    """The child protocol shared by every Lava-running worker in snnc.

    ``check_import()`` imports what the job needs (a failure exits with
    :data:`EXIT_NO_LAVA`); ``job(d)`` returns (arrays for ``result.npz``, the
    ``result.json`` dict); any exception is written to ``error.json`` (:data:`EXIT_ERROR`).
    """
    d = Path(argv[0])
    try:
        check_import()
    except Exception as e:  # noqa: BLE001 - any import failure means "not usable"
        traceback.print_exc()
        _write_error(d, e)
        return EXIT_NO_LAVA
    try:
        arrays, info = job(d)
        with open(d / "result.npz", "wb") as fh:
            np.savez(fh, **arrays)
        (d / "result.json").write_text(json.dumps(info))
        return 0
    except BaseException as e:  # noqa: BLE001 - report everything to the parent
        traceback.print_exc()
        _write_error(d, e)
        return EXIT_ERROR


def report_progress(d: Path, done: int) -> None:
    """Tell the parent that ``done`` units (samples) are finished: ``PROGRESS_FILE`` in ``d``,
    replaced atomically so the parent never reads half a number."""
    tmp = d / (PROGRESS_FILE + ".tmp")
    tmp.write_text(str(int(done)))
    os.replace(tmp, d / PROGRESS_FILE)


def _import_lava() -> None:
    import lava.magma.core.run_configs
    import lava.proc.lif.process  # noqa: F401


def _graph_job(d: Path) -> tuple[dict, dict]:
    if os.environ.get(FAULT_ENV):
        _inject_fault(os.environ[FAULT_ENV])
    job = json.loads((d / "job.json").read_text())
    graph = load_graph(d / "graph")
    with np.load(d / "input.npz", allow_pickle=False) as z:
        x = z["x"]
    steps = int(job["steps"])
    record = list(job["record"])
    states = bool(job.get("states", False))
    # read from a file: checked once here, for the batch
    xs = check_input(graph, x, steps, route=job.get("input"))
    batch = xs.batch
    graded = set(graph.of_kind(loihi.SigmaDeltaCompartment))
    spikes = {c: np.zeros((batch, steps, graph[c].size), np.uint8) for c in record}
    lif = [c for c in record if c not in graded]
    vs = {
        c: np.zeros((batch, steps, graph[c].size), np.int64)
        for c in lif
        if graph[c].readout == "v" or states
    }
    us = {c: np.zeros((batch, steps, graph[c].size), np.int64) for c in lif} if states else {}
    ps = {c: np.zeros((batch, steps, graph[c].size), np.int64) for c in record if c in graded}
    timings = []
    for b in range(batch):
        t0 = time.perf_counter()
        net = to_lava(graph, xs[b : b + 1], steps, record, states=states)
        t1 = time.perf_counter()
        s, v, u, p = net.run_states()
        t2 = time.perf_counter()
        timings.append({"build_s": t1 - t0, "run_s": t2 - t1})
        for c in record:
            spikes[c][b] = s[c]
            if c in vs:
                vs[c][b] = v[c]
            if c in us:
                us[c][b] = u[c]
            if c in ps:
                ps[c][b] = p[c]
        report_progress(d, b + 1)
    arrays = {f"s{i}": spikes[c] for i, c in enumerate(record)}
    arrays.update({f"v{i}": vs[c] for i, c in enumerate(record) if c in vs})
    arrays.update({f"u{i}": us[c] for i, c in enumerate(record) if c in us})
    arrays.update({f"p{i}": ps[c] for i, c in enumerate(record) if c in ps})
    return arrays, {"record": record, "timings": timings}


def main(argv: list[str]) -> int:
    return run_job(argv, _import_lava, _graph_job)

if __name__ == "__main__":
    sys.stdout.flush()
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)

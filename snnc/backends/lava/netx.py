"""Run a netx HDF5 file in real Lava, exactly as lava-dl builds it, under snnc's watchdog.

Parent side: :func:`run_netx` (or :func:`run_netx_many`, several files in one child) writes the job to a temporary directory and runs
``python -m snnc.backends.lava.netx DIR`` through :func:`snnc.backends.lava.run.run_worker`
(new session, killed on timeout, Lava failures as :class:`~snnc.errors.BackendError`).

Child side (:func:`main`): per sample, ``lava.lib.dl.netx.hdf5.Network(path)`` fed by a
``RingBuffer`` source on ``net.inp``, a sink ``RingBuffer`` on every block's ``out``, run for
``steps`` steps with ``Loihi2SimCfg(select_tag="fixed_pt")``.  Blocks with a 3-D shape are
(W, H, C) in Lava; inputs and recorded spikes are transposed to and from the model's
C-order (C, H, W).  The result holds one (batch, steps, n) spike array per block, in block
order (netx layer groups that hold neurons).
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
from snnc.errors import BackendUnavailableError

MODULE = "snnc.backends.lava.netx"


def run_netx(path, x, steps: int, *, timeout: float | None = None) -> list[np.ndarray]:
    """Spikes of every netx block, each (batch, steps, n) bool, for input ``x`` (batch, T, *shape)."""
    return run_netx_many([(path, x, steps)], timeout=timeout)[0]


def run_netx_many(runs, *, timeout: float | None = None) -> list[list[np.ndarray]]:
    """:func:`run_netx` for several (path, x, steps) in one child (one Python start + Lava import)."""
    if not lava_available():
        raise BackendUnavailableError("Lava (lava-nc 0.10.0) is not installed", hint=INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="snnc-netx-") as tmp:
        d = Path(tmp)
        jobs, limit, what = [], 0.0, []
        for j, (path, x, steps) in enumerate(runs):
            x = np.asarray(x).astype(np.uint8)
            with open(d / f"input{j}.npz", "wb") as fh:
                np.savez(fh, x=x)
            jobs.append({"netx": str(Path(path).resolve()), "steps": int(steps)})
            limit += default_timeout(x.shape[0], int(steps))
            what.append(f"{Path(path).name}: {x.shape[0]} sample(s), {steps} steps")
        (d / "job.json").write_text(json.dumps({"runs": jobs}))
        info, _, _ = run_worker(d, limit if timeout is None else timeout, "netx " + "; ".join(what), MODULE)
        with np.load(d / "result.npz", allow_pickle=False) as z:
            return [[z[f"r{j}s{i}"].astype(bool) for i in range(n)] for j, n in enumerate(info["blocks"])]


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


def _run_sample(path: str, x: np.ndarray, steps: int) -> list[np.ndarray]:
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    net = Network(net_config=path)
    shape = tuple(int(n) for n in net.inp.shape)
    data = np.zeros(shape + (steps,), np.int32)
    data[..., : x.shape[0]] = _to_lava_layout(x, shape)
    src = Source(data=data)
    src.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = Sink(shape=layer.out.shape, buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    try:
        src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return [_from_lava_layout(np.asarray(s.data.get())) for s in sinks]
    finally:
        src.stop()


def _import_netx() -> None:
    import lava.lib.dl.netx.hdf5  # noqa: F401


def _netx_job(d: Path) -> tuple[dict, dict]:
    arrays, blocks, timings = {}, [], []
    for j, job in enumerate(json.loads((d / "job.json").read_text())["runs"]):
        with np.load(d / f"input{j}.npz", allow_pickle=False) as z:
            x = z["x"]
        out: list[list[np.ndarray]] = []
        for b in range(x.shape[0]):
            t0 = time.perf_counter()
            out.append(_run_sample(job["netx"], x[b], int(job["steps"])))
            timings.append({"run": j, "run_s": time.perf_counter() - t0})
        blocks.append(len(out[0]) if out else 0)
        arrays.update({f"r{j}s{i}": np.stack([o[i] for o in out]).astype(np.uint8) for i in range(blocks[-1])})
    return arrays, {"blocks": blocks, "timings": timings}


def main(argv: list[str]) -> int:
    return run_job(argv, _import_netx, _netx_job)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

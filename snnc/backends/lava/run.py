"""Run a Loihi-dialect graph on real Lava 0.10.0 (CPU, fixed point), under a watchdog.

Lava can hang instead of failing (an exception inside one of its process models leaves the
parent waiting on a channel), so every run happens in a child process::

    python -m snnc.backends.lava.worker TMPDIR       (start_new_session=True)

The program and the input travel through ``TMPDIR`` (JSON + npz, no pickle of user
objects; see :mod:`snnc.backends.lava.worker`).  If the child does not finish within
``timeout`` seconds its whole process group (the worker and every Lava process it forked)
is killed and :class:`~snnc.errors.BackendTimeoutError` is raised; a child that fails raises
:class:`~snnc.errors.BackendError` with the child's last error line; a missing Lava raises
:class:`~snnc.errors.BackendUnavailableError`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from snnc import progress as progress_bar
from snnc.backends.base import BackendSpec, RunResult
from snnc.backends.wiring import Constant, check_input, check_record, check_steps, wiring
from snnc.backends.lava.build import to_lava
from snnc.backends.lava.worker import PROGRESS_FILE
from snnc.compiler.ir.graph import Graph
from snnc.compiler.ir.serialize import save_graph
from snnc.errors import BackendError, BackendTimeoutError, BackendUnavailableError

NAME = "lava"
#: the child-process entry point of :func:`run`
WORKER = "snnc.backends.lava.worker"
log = logging.getLogger(__name__)

#: seconds between looks at the child's progress (only when a bar or callback wants it)
POLL_S = 0.25
#: seconds allowed for starting Python + importing Lava, per run
TIMEOUT_BASE_S = 60.0
#: seconds allowed per sample (build + compile + runtime start/stop)
TIMEOUT_PER_SAMPLE_S = 10.0
#: seconds allowed per simulated step and sample
TIMEOUT_PER_STEP_S = 0.05

INSTALL_HINT = (
    "install the project environment with `bash scripts/install.sh` "
    "(lava-nc 0.10.0 repacked for Python 3.11, numpy<2)"
)

#: information about the last run (per-sample build/run seconds, wall time), for reports
last_run_info: dict = {}


def default_timeout(batch: int, steps: int) -> float:
    """``TIMEOUT_BASE_S + batch · (TIMEOUT_PER_SAMPLE_S + steps · TIMEOUT_PER_STEP_S)``."""
    return TIMEOUT_BASE_S + batch * (TIMEOUT_PER_SAMPLE_S + steps * TIMEOUT_PER_STEP_S)


def lava_available() -> bool:
    """True when the ``lava`` package (lava-nc) can be found, without importing it."""
    try:
        return importlib.util.find_spec("lava") is not None and (
            importlib.util.find_spec("lava.magma") is not None
        )
    except (ImportError, ValueError):
        return False


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live (non-zombie) processes of group ``pgid`` (Linux)."""
    members = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append((int(p.name), cmd))
    return members


def _wait_empty(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill_group(proc: subprocess.Popen, grace_s: float = 0.0) -> None:
    """Kill the child's whole process group and reap the child.

    After ``grace_s`` seconds, every member except multiprocessing's resource tracker gets
    SIGKILL; the tracker (which ignores SIGTERM) is left a few seconds to unlink the shared
    memory of the killed Lava processes, then it is killed too.
    """
    pgid = proc.pid
    if grace_s > 0:
        _wait_empty(pgid, grace_s)
    for _ in range(100):  # repeat: a Lava process may fork while we kill
        others = [pid for pid, cmd in group_members(pgid) if "resource_tracker" not in cmd]
        if not others:
            break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        pass
    if not _wait_empty(pgid, 5.0):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _wait_empty(pgid, 5.0)


def _tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _last_error_line(d: Path, log_file: Path) -> str:
    err = d / "error.json"
    if err.is_file():
        try:
            e = json.loads(err.read_text())
            return f"{e['type']}: {e['message']}"
        except (ValueError, KeyError):
            pass
    lines = [ln for ln in _tail(log_file).splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "(no output)"


def _wait(proc: subprocess.Popen, deadline: float, progress_file: Path,
          on_progress: Callable[[int], None] | None) -> int:
    """``proc.wait()`` until ``deadline`` (perf_counter), reporting the child's progress."""
    done = 0
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, 0)
        try:
            return proc.wait(timeout=min(left, POLL_S) if on_progress else left)
        except subprocess.TimeoutExpired:
            if time.perf_counter() >= deadline:
                raise
        finally:
            if on_progress is not None:
                try:
                    now = int(progress_file.read_text())
                except (OSError, ValueError):
                    now = done
                if now > done:
                    done = now
                    on_progress(done)


def run_worker(d: Path, timeout: float, what: str, module: str = WORKER,
               on_progress: Callable[[int], None] | None = None) -> tuple[dict, float, int]:
    """Run ``python -m MODULE D`` in a new session under the watchdog; return its result.

    The child reads its job from ``d`` and writes ``result.npz`` + ``result.json`` (or
    ``error.json``); exit status 3 means Lava is not importable.  Returns (the parsed
    ``result.json``, wall seconds, the child's process-group id).  ``what`` describes the
    job in the timeout message.  Every Lava-running child in snnc goes through here.
    ``on_progress(done)`` is called with the units the child reports finished
    (:func:`snnc.backends.lava.worker.report_progress`), polled every :data:`POLL_S` seconds.
    """
    log_file = d / "child.log"
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    t0 = time.perf_counter()
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(d)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=str(d),
        )
        try:
            rc = _wait(proc, t0 + timeout, d / PROGRESS_FILE, on_progress)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            err = BackendTimeoutError(
                f"the Lava run did not finish within {timeout:.1f} s "
                f"({what}); its processes were killed",
                hint="Lava hangs instead of failing when one of its processes raises; "
                "run the emulator on the same input, or pass a larger timeout=",
            )
            err.pgid = proc.pid
            err.child_log = _tail(log_file)
            raise err from None
        except BaseException:
            kill_group(proc)
            raise
        # normal exit: give stragglers (Lava children, resource tracker) a moment
        kill_group(proc, grace_s=2.0)
    wall = time.perf_counter() - t0
    if rc == 3:
        raise BackendUnavailableError(
            f"Lava cannot be imported in the child process: {_last_error_line(d, log_file)}",
            hint=INSTALL_HINT,
        )
    if rc != 0 or not (d / "result.npz").is_file():
        err = BackendError(
            f"the Lava child process failed (exit status {rc}): "
            f"{_last_error_line(d, log_file)}",
            hint="the child's log is in the exception's child_log attribute",
        )
        err.child_log = _tail(log_file)
        err.pgid = proc.pid
        raise err
    return json.loads((d / "result.json").read_text()), wall, proc.pid


def run(
    graph: Graph,
    x,
    steps: int,
    record: Sequence[str] | None = None,
    *,
    timeout: float | None = None,
    progress: bool | None = None,
    input: str | None = None,  # noqa: A002 - the run option's public name
    states: bool = False,
) -> RunResult:
    """Run ``graph`` on Lava for ``steps`` raw steps; same contract as the emulator's ``run``.

    ``x`` (batch, T_in, *in_shape) holds the input's payload (binary spikes, or int32 values);
    with ``input="bias"`` it is (batch, *in_shape), set as the ``bias_mant`` of the
    compartments the input feeds directly.  Each sample is a fresh Lava network
    (``Loihi2SimCfg(select_tag="fixed_pt")``).  ``states=True`` also records u and v of every
    recorded compartment (Lava ``Monitor``s).  ``timeout`` (seconds, whole batch) defaults
    to :func:`default_timeout`.  ``progress``: a bar over the samples (:mod:`snnc.progress`;
    ``None`` shows it when stderr is a terminal and the run lasts over a second).
    """
    steps = check_steps(steps)
    w = wiring(graph)
    xs = check_input(graph, x, steps, w, route=input)
    rec = check_record(w, record)
    batch = xs.batch
    shapes = {c: (batch, steps) + tuple(graph[c].shape) for c in rec}
    lif = [c for c in rec if not w.graded(c)]
    v_names = [c for c in lif if graph[c].readout == "v" or states]
    u_names = list(lif) if states else []
    p_names = [c for c in rec if w.graded(c)]
    if batch == 0 or steps == 0:
        return RunResult(
            spikes={c: np.zeros(shapes[c], bool) for c in rec},
            v={c: np.zeros(shapes[c], np.int64) for c in v_names},
            steps=steps,
            backend=NAME,
            u={c: np.zeros(shapes[c], np.int64) for c in u_names},
            payload={c: np.zeros(shapes[c], np.int64) for c in p_names},
        )
    if not lava_available():
        raise BackendUnavailableError("Lava (lava-nc 0.10.0) is not installed", hint=INSTALL_HINT)
    if timeout is None:
        timeout = default_timeout(batch, steps)
    # the worker's input file: uint8 spikes as the user's layout (no copy for 0/1 bytes), int32
    # values of an integer input, or the bias route's values
    x_file = xs.data.astype(np.int64) if isinstance(xs, Constant) else xs.transport()

    with tempfile.TemporaryDirectory(prefix="snnc-lava-") as tmp:
        d = Path(tmp)
        save_graph(graph, d / "graph")
        with open(d / "input.npz", "wb") as fh:
            np.savez(fh, x=x_file)
        (d / "job.json").write_text(json.dumps({"steps": steps, "record": rec, "input": xs.route,
                                                "states": bool(states)}))
        with progress_bar.bar(total=batch, desc="lava", unit="sample", progress=progress) as bar:
            shown = [0]

            def advance(done: int) -> None:
                bar.update(done - shown[0])
                shown[0] = done

            on_progress = advance if progress_bar.enabled(progress) else None
            info, wall, pgid = run_worker(d, timeout, f"{batch} sample(s), {steps} steps",
                                          on_progress=on_progress)
        spikes, vs, us, ps = {}, {}, {}, {}
        with np.load(d / "result.npz", allow_pickle=False) as z:
            for i, c in enumerate(info["record"]):
                spikes[c] = z[f"s{i}"].astype(bool).reshape(shapes[c])
                if c in v_names:
                    vs[c] = z[f"v{i}"].astype(np.int64).reshape(shapes[c])
                if c in u_names:
                    us[c] = z[f"u{i}"].astype(np.int64).reshape(shapes[c])
                if c in p_names:
                    ps[c] = z[f"p{i}"].astype(np.int64).reshape(shapes[c])
    last_run_info.clear()
    last_run_info.update({"wall_s": wall, "samples": info["timings"], "pgid": pgid})
    log.debug("lava run: %.2f s wall, %s", wall, info["timings"])
    return RunResult(spikes=spikes, v=vs, steps=steps, backend=NAME, u=us, payload=ps)


#: the Lava backend as the registry lists it (:mod:`snnc.backends.registry`)
BACKEND = BackendSpec(
    name=NAME,
    title="Lava",
    summary="real lava-nc 0.10 processes on the CPU (fixed_pt), under a watchdog",
    options=frozenset({"progress", "timeout", "input", "states"}),
    runner=run,
    build=to_lava,
)

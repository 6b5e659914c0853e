"""A test set sharded over processes: ``torch.distributed`` (torchrun), one share per rank.

``emulator.run(..., shard=True)`` (``Program.run(x, shard=True)``, ``snnc run --shard``) run
under ``torchrun`` splits the batch into contiguous shares, rank r taking samples
``[r·B // P, (r + 1)·B // P)`` of B over P processes, runs its share with the emulator, and
gathers every share to every rank (``all_gather``: gloo on the CPU, NCCL when the group runs
on GPUs), so each process returns the whole batch's result.  Samples are independent and every
path of the emulator is exact, so the result is bit-identical for any number of processes
(``tests/integration/test_shard.py`` runs 1 and 2).

Without a process group (``WORLD_SIZE`` unset or 1, or torch not installed) ``shard=True``
runs the whole batch here.  Under torchrun the group is started on first use (gloo, or NCCL
when ``device`` is CUDA), each process runs ``THREADS / local processes`` of the fast path's
threads (so the processes of one machine share its cores instead of oversubscribing them), and
a CUDA ``device`` becomes ``cuda:LOCAL_RANK``.  Only rank 0 shows the progress bar (over its
own share).

Several machines (torchrun's rendezvous; every machine runs the same command, with the input
file and the program at the same path)::

    torchrun --nnodes 2 --nproc-per-node 2 --rdzv-backend c10d \\
        --rdzv-endpoint HOST0:29500 --rdzv-id eval1 \\
        -m snnc.cli run PROGRAM --input x.npz -o y.npz --shard

(``HOST0``: any machine of the group reachable by the others; rank 0 writes ``y.npz``.)
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Callable

import numpy as np

from snnc.backends.base import RunResult
from snnc.backends.emulator import fast


def world() -> tuple[int, int]:
    """(rank, number of processes) of this process's group, (0, 1) without one."""
    dist = _dist()
    if dist is not None and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_writer() -> bool:
    """Whether this process writes the shared outputs (rank 0, or no group)."""
    return world()[0] == 0


def bounds(batch: int, rank: int, size: int) -> tuple[int, int]:
    """The contiguous share ``[lo, hi)`` of ``batch`` samples that rank ``rank`` of ``size`` runs."""
    return rank * batch // size, (rank + 1) * batch // size


def _dist():
    """``torch.distributed`` when torch is installed and this process was started by torchrun
    (``WORLD_SIZE`` > 1), else ``None``."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    try:
        import torch.distributed as dist  # optional heavy dependency: only sharded runs need it
    except ImportError:
        return None
    return dist if dist.is_available() else None


def _group(device) -> tuple[int, int, str]:
    """(rank, size, backend) of the process group, started here on first use."""
    dist = _dist()
    if dist is None:
        return 0, 1, ""
    if not dist.is_initialized():
        cuda = device is not None and str(device).startswith("cuda")
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        # started here, closed here: a gloo group left open aborts the interpreter at exit
        atexit.register(_close, dist)
    return dist.get_rank(), dist.get_world_size(), dist.get_backend()


def _close(dist) -> None:
    if dist.is_initialized():
        dist.barrier()  # no rank leaves while another still gathers
        dist.destroy_process_group()


def run(runner: Callable[..., RunResult], graph, x, steps: int, record, **options) -> RunResult:
    """``runner(graph, x[lo:hi], steps, record, **options)`` on this rank's share of the checked
    input ``x`` (a ``Spikes`` or ``Constant``), gathered to the whole batch on every rank."""
    device = options.get("device")
    rank, size, backend = _group(device)
    if size == 1 or x.batch < size:  # (fewer samples than processes: each runs them all)
        return runner(graph, x, steps, record, **options)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(size)))
    if device is not None and str(device) == "cuda":
        options["device"] = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    if rank != 0:
        options["progress"] = False
    lo, hi = bounds(x.batch, rank, size)
    with _threads(max(1, fast.THREADS // max(1, local))):
        mine = runner(graph, x[lo:hi], steps, record, **options)
    return _gather(mine, x.batch, size, backend)


@contextlib.contextmanager
def _threads(n: int):
    old = fast.THREADS
    fast.THREADS = n
    try:
        yield
    finally:
        fast.THREADS = old


def _gather(mine: RunResult, batch: int, size: int, backend: str) -> RunResult:
    """Every rank's share of each record, concatenated in rank order on every rank."""
    import torch  # optional heavy dependency: present, the process group runs on it
    import torch.distributed as dist

    dev = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
    most = -(-batch // size)  # shares differ by at most one sample: pad to the largest

    def gather(a: np.ndarray) -> np.ndarray:
        # spikes travel as bits (np.packbits: 8x less to send), values as they are
        flat = np.packbits(a.reshape(a.shape[0], -1), axis=1) if a.dtype == np.bool_ else a
        if flat.shape[0] < most:  # all_gather takes equal shapes: pad the smaller shares
            pad = np.zeros((most,) + flat.shape[1:], flat.dtype)
            pad[: flat.shape[0]] = flat
            flat = pad
        t = torch.from_numpy(np.ascontiguousarray(flat)).to(dev)
        parts = [torch.empty_like(t) for _ in range(size)]
        dist.all_gather(parts, t)
        shares = (bounds(batch, r, size) for r in range(size))
        out = np.concatenate([p.cpu().numpy()[: hi - lo] for p, (lo, hi) in zip(parts, shares)])
        if a.dtype == np.bool_:
            n = int(np.prod(a.shape[1:], dtype=np.int64))
            out = np.unpackbits(out, axis=1, count=n).view(np.bool_).reshape((batch,) + a.shape[1:])
        return out

    return RunResult(
        spikes={c: gather(a) for c, a in sorted(mine.spikes.items())},
        v={c: gather(a) for c, a in sorted(mine.v.items())},
        steps=mine.steps, backend=mine.backend,
        u={c: gather(a) for c, a in sorted(mine.u.items())},
    )

"""Training loops: a float teacher, and the distiller with progress bars, checkpoints,
seeds, CPU by default / CUDA when present, and DDP when launched with ``torchrun``.

DDP: with ``WORLD_SIZE > 1`` in the environment (torchrun), :func:`ddp_setup` joins the
process group (NCCL on CUDA, Gloo on CPU), each rank trains on ``indices[rank::world]`` of
every epoch's permutation (padded to a multiple of ``world``, so the ranks take equal batch
counts) and the student is wrapped in ``DistributedDataParallel``.  Checked on CPU with Gloo
(``torchrun --nproc_per_node 2``, the slow tests: the ranks' weights stay equal, also with a
data set of odd size); NCCL/CUDA is untested here, and the projectors owned by feature losses
are trained per rank (not synchronised).
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snnc import reporting
from snnc.errors import InputError


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def ddp_setup(model: nn.Module, device: torch.device) -> tuple[nn.Module, int, int]:
    """(model, rank, world): wrapped in DDP when launched by torchrun, else unchanged."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return model, 0, 1
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids), dist.get_rank(), world


def _bar(total: int, desc: str, progress: bool | None):
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(total=total, desc=desc, disable=not show, leave=False)


def _batches(n: int, batch: int, gen: torch.Generator, rank: int = 0, world: int = 1):
    """This rank's batches of one epoch.  With ``world > 1`` the permutation is padded by
    repeating its head to a multiple of ``world`` (as ``DistributedSampler`` does), so every
    rank gets as many batches of the same sizes: an extra one would hang in all-reduce."""
    idx = torch.randperm(n, generator=gen)
    pad = -n % world
    if pad:
        idx = torch.cat([idx, idx.repeat(-(-pad // n))[:pad]])
    idx = idx[rank::world]
    return [idx[i : i + batch] for i in range(0, len(idx), batch)]


#: what a checkpoint written by :func:`fit` holds (``teacher``, ``losses``, ``teacher_opt``
#: may be absent: checkpoints of older snnc versions)
CHECKPOINT_KEYS = ("student", "opt", "epoch", "history")


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """Read a :func:`fit` checkpoint with ``torch.load(weights_only=True)``: tensors and plain
    data (numbers, strings, lists, dicts) only, so a checkpoint from someone else cannot run
    code.  Checkpoints of every snnc version hold only such data and load unchanged; a file
    that needs more (a pickled object), a damaged file or one without the keys of
    :data:`CHECKPOINT_KEYS` raises :class:`~snnc.errors.InputError` naming the file."""
    p = Path(path)
    hint = "delete the checkpoint to start over, or pass one written by snnc.distill.fit"
    try:
        state = torch.load(p, map_location=device, weights_only=True)
    except Exception as e:  # pickle.UnpicklingError (code or objects refused), damage, I/O
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise InputError(f"checkpoint {str(p)!r} cannot be loaded as tensors and plain data: "
                         f"{type(e).__name__}: {first[:300]}", hint=hint) from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise InputError(f"checkpoint {str(p)!r} is not a snnc.distill checkpoint (missing "
                         f"{', '.join(missing)})", hint=hint)
    if not isinstance(state["epoch"], int) or state["epoch"] < 0 or not isinstance(state["history"], list):
        raise InputError(f"checkpoint {str(p)!r} has epoch={state['epoch']!r}, history of type "
                         f"{type(state['history']).__name__}", hint=hint)
    return state


def train_teacher(model: nn.Module | Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor,
                  epochs: int = 60, batch: int = 64, lr: float = 1e-3, seed: int = 0,
                  progress: bool | None = None, weight_decay: float = 1e-4) -> nn.Module:
    """Plain CE training of a float ANN (Adam, ``lr``, ``weight_decay``); returns it in eval mode.

    ``seed`` fixes the batch order and, when ``model`` is a factory (a callable returning the
    untrained module, e.g. ``lambda: nn.Sequential(...)``), the initial weights too: the
    factory is called after seeding, so the same seed gives the same teacher.  A module
    passed in keeps the weights it was built with (seed it before building it)."""
    seed_everything(seed)
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise InputError(f"train_teacher got a {type(model).__name__}, not a module or a factory",
                             hint="pass an nn.Module or a callable returning one (seeded initialisation)")
        model = model()
        if not isinstance(model, nn.Module):
            raise InputError(f"the teacher factory returned a {type(model).__name__}, not an nn.Module",
                             hint="the factory must return the untrained torch module")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    with _bar(epochs, "teacher", progress) as bar:
        for _ in range(epochs):
            model.train()
            for b in _batches(len(x), batch, gen):
                opt.zero_grad()
                F.cross_entropy(model(x[b]), y[b]).backward()
                opt.step()
            bar.update()
    return model.eval()


def fit(distiller, x_teacher: torch.Tensor, x_student: torch.Tensor, y: torch.Tensor, epochs: int = 30,
        batch: int = 64, seed: int = 0, qat_epochs: int = 0, progress: bool | None = None,
        checkpoint: str | os.PathLike | None = None, device: str | None = None) -> list[dict]:
    """Train ``distiller.student`` for ``epochs`` float epochs, then ``qat_epochs`` epochs in QAT
    mode (registers re-taken from ``snnc.compile`` every batch).  Returns per-epoch mean logs.

    ``checkpoint``: a file written after every epoch (student, teacher, the losses' parameters
    such as feature projectors, both optimizers, epoch, history) and resumed from when it exists
    (:func:`load_checkpoint`: ``weights_only=True``, no code runs on loading); checkpoints
    written before the losses and the teacher optimizer were saved still load."""
    seed_everything(seed)
    dev = pick_device(device)
    student = distiller.student.to(dev)
    if distiller.teacher is not None:
        distiller.teacher.to(dev)
    distiller.student, rank, world = ddp_setup(student, dev)
    x_teacher, x_student, y = x_teacher.to(dev), x_student.to(dev), y.to(dev)
    gen = torch.Generator().manual_seed(seed)
    distiller.configure(x_teacher[:batch], x_student[:batch], y[:batch])
    total = epochs + qat_epochs
    start, history = 0, []
    path = Path(checkpoint) if checkpoint else None
    if path is not None and path.exists():
        state = load_checkpoint(path, dev)
        student.load_state_dict(state["student"])
        distiller.opt.load_state_dict(state["opt"])
        if distiller.teacher is not None and state.get("teacher") is not None:
            distiller.teacher.load_state_dict(state["teacher"])
        if state.get("losses") is not None:  # absent from older checkpoints
            distiller.losses.load_state_dict(state["losses"])
        if distiller.teacher_opt is not None and state.get("teacher_opt") is not None:
            distiller.teacher_opt.load_state_dict(state["teacher_opt"])
        start, history = state["epoch"], state["history"]
        for _ in range(start):  # the same batch order as an uninterrupted run
            _batches(len(y), batch, gen, rank, world)
    with _bar(total - start, "distill", progress) as bar:
        for epoch in range(start, total):
            qat = epoch >= epochs
            logs: dict[str, float] = {}
            batches = _batches(len(y), batch, gen, rank, world)
            for b in batches:
                if qat:
                    student.quantize()
                for k, v in distiller.step(x_teacher[b], x_student[b], y[b]).items():
                    logs[k] = logs.get(k, 0.0) + v / len(batches)
            logs["epoch"], logs["qat"] = epoch + 1, qat
            history.append(logs)
            bar.set_postfix(loss=f"{logs['loss']:.3f}")
            bar.update()
            if path is not None and rank == 0:
                # = distiller.state_dict() split by part: the student unwrapped (no DDP "module.")
                t, t_opt = distiller.teacher, distiller.teacher_opt
                with reporting.atomic_file(path) as tmp:  # a kill mid-save keeps the last whole one
                    torch.save({"student": student.state_dict(), "opt": distiller.opt.state_dict(),
                                "epoch": epoch + 1, "teacher": None if t is None else t.state_dict(),
                                "losses": distiller.losses.state_dict(),
                                "teacher_opt": None if t_opt is None else t_opt.state_dict(),
                                "history": history}, tmp)
    if qat_epochs:
        student.quantize()  # registers of the final weights
    distiller.student = student
    return history

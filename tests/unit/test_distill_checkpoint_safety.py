"""Checkpoints load with ``torch.load(weights_only=True)``: a checkpoint cannot run code, old
checkpoints (written with ``weights_only=False`` loading, without the losses/teacher optimizer)
still resume, and damaged or foreign files are InputErrors naming the file."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from snnc.distill import Distiller, dense_student, fit, loss_family
from snnc.distill.data import rate_encode
from snnc.distill.trainer import load_checkpoint
from snnc.errors import InputError


def _setup():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 12, generator=g)
    y = (x[:, :6].sum(1) > x[:, 6:].sum(1)).long()
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))
    return Distiller(teacher, dense_student([12, 10, 2]), loss_family("kd")), x, rate_encode(x, 4), y


class _Payload:
    """Unpickling this runs ``open(marker, 'w')``: what a hostile checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_checkpoint_that_carries_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    ck = tmp_path / "evil.pt"
    torch.save({"student": {}, "opt": {}, "epoch": 0, "history": [], "x": _Payload(marker)}, ck)
    d, x, xs, y = _setup()
    with pytest.raises(InputError, match="evil.pt.*cannot be loaded as tensors and plain data"):
        fit(d, x, xs, y, epochs=1, batch=32, checkpoint=ck, progress=False)
    assert not marker.exists()  # weights_only=False would have created it
    with open(ck, "wb") as fh:  # a plain pickle (not torch's zip format) with the same payload
        pickle.dump(_Payload(marker), fh)
    with pytest.raises(InputError, match="cannot be loaded"):
        load_checkpoint(ck)
    assert not marker.exists()


def test_an_old_checkpoint_still_resumes(tmp_path):
    # the layout written before the losses and the teacher optimizer were saved
    d, x, xs, y = _setup()
    ck = tmp_path / "old.pt"
    fit(d, x, xs, y, epochs=1, batch=32, seed=3, checkpoint=ck, progress=False)
    state = torch.load(ck, weights_only=True)
    old = {k: state[k] for k in ("student", "opt", "epoch", "history")}
    torch.save(old, ck)
    d2, *_ = _setup()
    hist = fit(d2, x, xs, y, epochs=2, batch=32, seed=3, checkpoint=ck, progress=False)
    assert [h["epoch"] for h in hist] == [1, 2]


def test_damaged_and_foreign_checkpoints_name_the_file(tmp_path):
    d, x, xs, y = _setup()
    ck = tmp_path / "ck.pt"
    fit(d, x, xs, y, epochs=1, batch=32, checkpoint=ck, progress=False)
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="ck.pt"):
        load_checkpoint(ck)
    torch.save({"weights": torch.zeros(3)}, ck)
    with pytest.raises(InputError, match="not a snnc.distill checkpoint.*student"):
        load_checkpoint(ck)
    torch.save([1, 2, 3], ck)
    with pytest.raises(InputError, match="not a snnc.distill checkpoint"):
        load_checkpoint(ck)


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    d, x, xs, y = _setup()
    ck = tmp_path / "ck.pt"
    fit(d, x, xs, y, epochs=1, batch=32, seed=3, checkpoint=ck, progress=False)
    before = ck.read_bytes()

    def dies(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies)
    d2, *_ = _setup()
    with pytest.raises(InputError, match="No space left"):
        fit(d2, x, xs, y, epochs=2, batch=32, seed=3, checkpoint=ck, progress=False)
    assert ck.read_bytes() == before  # the last whole checkpoint is kept
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left

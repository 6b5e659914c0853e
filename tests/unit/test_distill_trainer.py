"""Trainer: seeded runs are reproducible, a checkpoint resumes to the same weights, QAT epochs
leave the student in QAT mode with the registers of its final weights."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from snnc.distill import Distiller, ReverseKD, dense_student, fit, loss_family
from snnc.distill.data import rate_encode
from snnc.distill.trainer import _batches


def _setup():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(96, 12, generator=g)
    y = (x[:, :6].sum(1) > x[:, 6:].sum(1)).long()
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))
    student = dense_student([12, 10, 10, 2])
    return Distiller(teacher, student, loss_family("kd")), x, rate_encode(x, 4), y


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    d1, x, xs, y = _setup()
    fit(d1, x, xs, y, epochs=2, batch=32, seed=3, progress=False)
    ck = tmp_path / "ck.pt"
    d2, *_ = _setup()
    fit(d2, x, xs, y, epochs=1, batch=32, seed=3, checkpoint=ck, progress=False)
    d3, *_ = _setup()
    hist = fit(d3, x, xs, y, epochs=2, batch=32, seed=3, checkpoint=ck, progress=False)
    assert [h["epoch"] for h in hist] == [1, 2]
    for a, b in zip(d1.student.parameters(), d3.student.parameters()):
        assert torch.equal(a, b)


def _setup_feature_two_way():
    d, x, xs, y = _setup()
    pairs = {"body.fc2": "1"}  # a 10-wide student tap onto the 16-wide teacher ReLU: a projector
    torch.manual_seed(0)
    return Distiller(d.teacher, d.student, loss_family("feature", pairs=pairs), taps=pairs,
                     reverse=ReverseKD(teacher_lr=1e-2)), x, xs, y


def test_checkpoint_resume_restores_projectors_and_teacher_optimizer(tmp_path):
    # the feature loss owns a trained projector and the two-way loop a teacher optimizer: both
    # must come back from the checkpoint for the resumed run to equal the uninterrupted one
    d1, x, xs, y = _setup_feature_two_way()
    h1 = fit(d1, x, xs, y, epochs=3, batch=32, seed=3, progress=False)
    assert d1.teacher_opt is not None and len(list(d1.losses.parameters())) > 0
    ck = tmp_path / "ck.pt"
    d2, *_ = _setup_feature_two_way()
    fit(d2, x, xs, y, epochs=1, batch=32, seed=3, checkpoint=ck, progress=False)
    d3, *_ = _setup_feature_two_way()
    h3 = fit(d3, x, xs, y, epochs=3, batch=32, seed=3, checkpoint=ck, progress=False)
    assert h3 == h1
    for a, b in zip(d1.state_dict().values(), d3.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for o1, o3 in ((d1.opt, d3.opt), (d1.teacher_opt, d3.teacher_opt)):
        s1, s3 = o1.state_dict()["state"], o3.state_dict()["state"]
        assert s1.keys() == s3.keys()
        for k in s1:
            assert all(torch.equal(s1[k][n], s3[k][n]) for n in s1[k])


def test_qat_epochs_end_in_qat_mode_with_current_registers():
    d, x, xs, y = _setup()
    hist = fit(d, x, xs, y, epochs=1, qat_epochs=1, batch=32, seed=0, progress=False)
    assert [h["qat"] for h in hist] == [False, True]
    st = d.student
    assert st.qat_on
    before = st.out.integer.weights.clone()
    st.quantize()  # re-taking the registers of the same weights changes nothing
    assert torch.equal(before, st.out.integer.weights)


DDP_SCRIPT = '''
import sys, torch, torch.distributed as dist
from torch import nn
from snnc.distill import Distiller, dense_student, fit, loss_family
from snnc.distill.data import rate_encode
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 96
x = torch.rand(n, 12, generator=g); y = (x[:, :6].sum(1) > x[:, 6:].sum(1)).long()
torch.manual_seed(0)
teacher = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))
d = Distiller(teacher, dense_student([12, 10, 10, 2]), loss_family("kd"))
fit(d, x, rate_encode(x, 4), y, epochs=2, qat_epochs=1, batch=16, progress=False)
w = d.student.out.synapse.weight.detach().clone()
ws = [torch.zeros_like(w) for _ in range(dist.get_world_size())]
dist.all_gather(ws, w)
# one file per rank: two ranks printing to one pipe interleave their lines
with open(f"rank{dist.get_rank()}.txt", "w") as f:
    f.write(f"EQUAL {all(torch.equal(ws[0], v) for v in ws)}")
dist.destroy_process_group()
'''


@pytest.mark.slow
def test_torchrun_ddp_on_cpu_keeps_ranks_equal(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    torchrun = Path(sys.executable).with_name("torchrun")
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", str(script)], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [(tmp_path / f"rank{i}.txt").read_text() for i in range(2)] == ["EQUAL True"] * 2


def test_ddp_shards_give_every_rank_the_same_batches():
    # an extra batch (or a longer last one) on one rank leaves the others waiting in all-reduce
    for n, batch, world in [(97, 16, 2), (96, 16, 2), (10, 4, 3), (2, 4, 3), (100, 7, 4)]:
        shards = [_batches(n, batch, torch.Generator().manual_seed(5), r, world) for r in range(world)]
        sizes = [[len(b) for b in bs] for bs in shards]
        assert all(sz == sizes[0] for sz in sizes), (n, world, sizes)
        seen = torch.cat([b for bs in shards for b in bs])
        assert set(seen.tolist()) == set(range(n))  # padding repeats samples, drops none
    # one process: exactly the batches of before (randperm in chunks)
    ref = torch.randperm(97, generator=torch.Generator().manual_seed(5)).split(16)
    got = _batches(97, 16, torch.Generator().manual_seed(5))
    assert len(got) == len(ref) and all(torch.equal(a, b) for a, b in zip(got, ref))


@pytest.mark.slow
def test_torchrun_ddp_on_cpu_with_uneven_shards(tmp_path):
    # 97 samples on 2 ranks: without padding rank 0 takes one batch more and hangs in all-reduce
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    torchrun = Path(sys.executable).with_name("torchrun")
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", str(script), "97"], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [(tmp_path / f"rank{i}.txt").read_text() for i in range(2)] == ["EQUAL True"] * 2

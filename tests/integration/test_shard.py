"""A test set sharded over processes (snnc/backends/emulator/shard.py): 1 and 2 processes under
torchrun (gloo, CPU) give outputs identical to an ordinary run, through ``snnc run --shard``
and through ``emulator.run(..., shard=True)`` (every record, an odd batch: shares of 5 and 6).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.backends import emulator
from snnc.backends.emulator import shard
from snnc.compiler.ir import loihi, ops
from snnc.compiler.ir.graph import Graph

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("torch.distributed")


def _torchrun(nproc: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", *args]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _mlp() -> Graph:
    rng = np.random.default_rng(0)
    nodes: dict = {"in": ops.Input((30,))}
    edges, prev = [], "in"
    for i, (a, b) in enumerate([(30, 24), (24, 5)]):
        tau = np.full(b, 1e-3)
        nodes[f"fc{i}"] = ops.Linear(rng.normal(0.05, 1.0, (b, a)) * 2.5 / np.sqrt(a))
        nodes[f"lif{i}"] = ops.LIF(tau, tau / 1e-4, np.zeros(b), np.ones(b), np.zeros(b))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["out"] = ops.Output((5,))
    edges.append((prev, "out"))
    return Graph(nodes, edges)


def test_snnc_run_shard_on_1_and_2_processes_equals_one_run(tmp_path):
    prog = snnc.compile(_mlp())
    prog.save(tmp_path / "prog")
    x = (np.random.default_rng(1).random((21, 12, 30)) < 0.3).astype(np.uint8)
    np.savez(tmp_path / "x.npz", x=x)
    want = prog.run(x)
    assert want.any()
    for nproc in (1, 2):
        out = tmp_path / f"y{nproc}.npz"
        r = _torchrun(nproc, "-m", "snnc.cli", "run", "prog", "--input", "x.npz", "-o", out.name,
                      "--shard", cwd=tmp_path)
        assert r.stdout.count("wrote") == 1  # rank 0 alone writes
        got = np.load(out)["x"]
        assert got.dtype == want.dtype and np.array_equal(got, want), f"{nproc} processes"


_WORKER = """
import sys
import numpy as np
from snnc.backends import emulator
from snnc.backends.emulator import shard
sys.path.insert(0, {here!r})
from test_shard import conv_program
g, x = conv_program()
raw = emulator.run(g, x, 9, shard=True)
rank, size = shard.world()
assert size == {nproc}, size
if shard.is_writer():
    np.savez({out!r}, **{{"s_" + k: a for k, a in raw.spikes.items()}},
             **{{"v_" + k: a for k, a in raw.v.items()}})
"""


def conv_program():
    """A conv -> LIF -> dense -> LIF read-out and an odd batch of 11 input spike trains."""
    rng = np.random.default_rng(2)
    conv = loihi.ConvSynapse(weights=rng.integers(-20, 21, (4, 2, 3, 3)), in_shape=(2, 8, 8),
                             stride=(2, 1), padding=(1, 1))
    nodes = {"in": loihi.SpikeSource((2, 8, 8)), "k": conv,
             "a": loihi.Compartment(conv.out_shape, du=4095, dv=1024, vth=8,
                                    bias_mant=rng.integers(-2, 3, conv.n_out), bias_exp=6),
             "d": loihi.Synapse(rng.integers(-90, 90, (3, conv.n_out)), weight_exp=-1),
             "b": loihi.Compartment((3,), du=800, dv=300, vth=30, bias_mant=np.zeros(3),
                                    readout="v")}
    g = Graph(nodes, [("in", "k"), ("k", "a"), ("a", "d"), ("d", "b")])
    return g, rng.random((11, 7, 2, 8, 8)) < 0.3


def test_emulator_run_shard_on_2_processes_equals_one_run(tmp_path):
    g, x = conv_program()
    want = emulator.run(g, x, 9)
    assert want.spikes["a"].any() and want.v["b"].any()
    out = tmp_path / "r.npz"
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(here=str(Path(__file__).parent), nproc=2, out=str(out)))
    _torchrun(2, str(script), cwd=tmp_path)
    got = np.load(out)
    for k, a in want.spikes.items():
        assert np.array_equal(got["s_" + k], a), k
    for k, a in want.v.items():
        assert np.array_equal(got["v_" + k], a), k


def test_shares_cover_the_batch_in_order_and_differ_by_at_most_one():
    for batch in (1, 7, 11, 1000):
        for size in (1, 2, 3, 8):
            shares = [shard.bounds(batch, r, size) for r in range(size)]
            assert shares[0][0] == 0 and shares[-1][1] == batch
            assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
            sizes = [hi - lo for lo, hi in shares]
            assert max(sizes) - min(sizes) <= 1


def test_without_a_process_group_shard_runs_the_whole_batch_here(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    g, x = conv_program()
    assert shard.world() == (0, 1) and shard.is_writer()
    a, b = emulator.run(g, x, 9, shard=True), emulator.run(g, x, 9)
    for k in a.spikes:
        assert np.array_equal(a.spikes[k], b.spikes[k])

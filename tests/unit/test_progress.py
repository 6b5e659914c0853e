"""Progress bars (snnc/progress.py) and the emulator's spans that drive them.

A bar appears on stderr when asked for (or in auto mode on a terminal), never otherwise;
running the batch in spans must not change a single spike.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc import progress
from snnc.backends import emulator
from snnc.backends.emulator import engine, fast
from snnc.cli import main
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import BackendUnavailableError, InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mlp.nir"
EXAMPLE_X = ROOT / "examples" / "mlp_input.npz"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def two_layers(seed=0):
    rng = np.random.default_rng(seed)
    nodes = {"in": loihi.SpikeSource((12,))}
    edges, prev = [], "in"
    for i, n in enumerate([9, 5]):
        nodes[f"s{i}"] = loihi.Synapse(rng.integers(-256, 256, (n, nodes[prev].size)))
        nodes[f"c{i}"] = loihi.Compartment((n,), du=4095, dv=300, vth=40, bias_mant=np.zeros(n),
                                           readout="v" if i else "spikes")
        edges += [(prev, f"s{i}"), (f"s{i}", f"c{i}")]
        prev = f"c{i}"
    return Graph(nodes, edges)


def test_auto_mode_follows_stderr(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not progress.enabled(None) and progress.enabled(True) and not progress.enabled(False)
    monkeypatch.setattr("sys.stderr", _Tty())
    assert progress.enabled(None) and not progress.enabled(False)


def test_bar_counts_to_total_on_stderr(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    with progress.bar(total=7, desc="work", unit="sample", progress=True) as b:
        for _ in range(7):
            b.update(1)
    assert "work" in err.getvalue() and "7/7" in err.getvalue()
    err.truncate(0)
    with progress.bar(total=7, desc="work", progress=False) as b:
        b.update(7)
    assert isinstance(b, progress.NullBar) and err.getvalue() == ""


@pytest.mark.parametrize("fast_path", [True, False])
def test_spans_change_nothing_and_advance_the_bar(monkeypatch, fast_path):
    g = two_layers()
    x = np.random.default_rng(1).random((23, 10, 12)) < 0.3
    whole = emulator.run(g, x, 13)
    monkeypatch.setattr(fast, "ENABLED", fast_path)
    monkeypatch.setattr(engine, "SPAN_FAST", 8)
    monkeypatch.setattr(engine, "SPAN_GENERIC", 8)
    monkeypatch.setattr(fast, "MIN_BATCH", 1)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    steps = []
    real_bar = engine.progress_bar

    def spy(**kw):
        ctx = real_bar(**kw)
        b = ctx.__enter__()
        update = b.update
        b.update = lambda n=1: (steps.append(n), update(n))
        return _Entered(ctx, b)

    monkeypatch.setattr(engine, "progress_bar", spy)
    spanned = emulator.run(g, x, 13, progress=True)
    for c in whole.spikes:
        assert np.array_equal(whole.spikes[c], spanned.spikes[c]), c
    assert np.array_equal(whole.v["c1"], spanned.v["c1"])
    assert steps == [8, 8, 7] and "23/23" in err.getvalue()  # three spans, bar moved


class _Entered:
    def __init__(self, ctx, b):
        self.ctx, self.b = ctx, b

    def __enter__(self):
        return self.b

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc)


def test_program_run_progress_and_device(monkeypatch):
    prog = snnc.compile(EXAMPLE)
    x = np.load(EXAMPLE_X)["x"][:4]
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    y = prog.run(x)  # auto mode, stderr not a terminal: no bar
    assert err.getvalue() == ""
    assert np.array_equal(prog.run(x, progress=True), y) and "4/4" in err.getvalue()
    assert np.array_equal(prog.run(x, device="cpu"), y)  # the torch engine, same spikes
    with pytest.raises(InputError, match="not to Lava"):
        prog.run(x, backend="lava", device="cpu")


def test_cli_run_progress_flag(tmp_path, capsys):
    out = tmp_path / "mlp.snnc"
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", str(out), "--input", str(EXAMPLE_X), "--progress"]) == 0
    assert "emulator" in capsys.readouterr().err
    assert main(["run", str(out), "--input", str(EXAMPLE_X), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    import torch

    if not torch.cuda.is_available():
        assert main(["run", str(out), "--input", str(EXAMPLE_X), "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert "CUDA" in err and "hint: " in err
    assert issubclass(BackendUnavailableError, snnc.errors.SnncError)


@pytest.mark.lava
def test_lava_run_reports_each_sample(monkeypatch):
    """The Lava child reports every finished sample; the parent's bar counts them as they come
    and the spikes are those of a run without a bar."""
    import importlib

    lava_run = importlib.import_module("snnc.backends.lava.run")  # the module, not the function
    prog = snnc.compile(EXAMPLE)
    x = np.load(EXAMPLE_X)["x"][:3]
    seen = []
    real = lava_run.run_worker

    def spy(*args, on_progress=None, **kwargs):
        def record(done):
            seen.append(done)
            on_progress(done)
        return real(*args, on_progress=record if on_progress else None, **kwargs)

    monkeypatch.setattr(lava_run, "run_worker", spy)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    y = prog.run(x, backend="lava", progress=True)
    assert seen and seen == sorted(set(seen)) and seen[-1] == 3
    assert "lava" in err.getvalue() and "3/3" in err.getvalue()
    assert np.array_equal(y, prog.run(x))
    err.truncate(0)
    seen.clear()
    prog.run(x, backend="lava")  # auto mode, stderr not a terminal: no bar and no polling
    assert err.getvalue() == "" and seen == []

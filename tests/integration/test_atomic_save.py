"""Saving is atomic: at every instant OUT holds the old program or the new one, whole.

Two designs, both with OUT holding program A before a save of program B:

* **fault injection at every step**: a trace function raises an exception at the k-th line
  that ``Program.save`` executes in snnc's own code: every line of the temporary directory,
  fsync and swap machinery (``snnc/reporting.py``) and a strided sample of the others (the
  checks, the graph and file writers; all of them in the ``slow`` variant); after each failed
  save OUT loads and is A (a failure before the swap) or B (after it, in the clean-up), never a
  mix, and no temporary directory is left beside it unless the failure struck the clean-up
  itself (then it carries OUT's name and the PID);
* **SIGKILL at random instants**: a child process saves A and B into OUT in a loop and is
  killed with SIGKILL after a random delay; OUT then loads and is A or B, and the next save
  removes the killed writer's leftover.

Single files (``run -o``, ``--json``, ``--emit onnx``, checkpoints) go through
``snnc.reporting.atomic_file``, tested the same way with failures at each step.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc import reporting
from snnc.compiler.ir.printer import format_graph
from snnc.errors import FrontendError, InputError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mlp.nir"
PACKAGE = str(ROOT / "snnc")


@pytest.fixture(scope="module")
def programs():
    a = snnc.compile(EXAMPLE)
    b = snnc.compile(EXAMPLE, split_weights=True)
    assert _fingerprint(a) != _fingerprint(b)
    return a, b


def _fingerprint(prog) -> str:
    return format_graph(prog.graph) + repr(sorted(prog.latency.items())) + repr(prog.layers)


def _temps(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if reporting.TEMP_MARK in p.name)


#: the functions of snnc.reporting that create, flush and swap in the new directory
SWAP_CODE = {"atomic_dir", "_swap_in", "_exchange", "fsync_tree", "fsync_path"}


class _Injected(Exception):
    pass


def _lines_of_save(prog, out: Path) -> list[tuple[str, int]]:
    """(file, line) of every line snnc's own code executes during ``prog.save(out)``."""
    seen: list[tuple[str, int]] = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(PACKAGE):
            if event == "line":
                seen.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
            return tracer
        return None

    sys.settrace(tracer)
    try:
        prog.save(out)
    finally:
        sys.settrace(None)
    return seen


def _save_failing_at(prog, out: Path, k: int) -> tuple[str, int] | None:
    """``prog.save(out)`` with an exception raised at the k-th line; the (file, line) where it
    was raised, or None when the save had fewer lines."""
    count, where = [0], []

    def tracer(frame, event, arg):
        if not frame.f_code.co_filename.startswith(PACKAGE):
            return None
        if event == "line":
            count[0] += 1
            if count[0] == k:
                where.append((frame.f_code.co_filename, frame.f_lineno))
                raise _Injected(f"line {k}")
        return tracer

    sys.settrace(tracer)
    try:
        prog.save(out)
    except (_Injected, InputError):  # the save wraps an OSError as InputError; ours passes through
        pass
    finally:
        sys.settrace(None)
    return where[0] if where else None


def test_a_failure_at_any_step_of_save_leaves_the_old_program_whole(programs, tmp_path):
    _inject_everywhere(programs, tmp_path, sample=60)


@pytest.mark.slow
def test_a_failure_at_every_line_of_save_leaves_the_old_program_whole(programs, tmp_path):
    _inject_everywhere(programs, tmp_path, sample=None)


def _inject_everywhere(programs, tmp_path, sample: int | None):
    a, b = programs
    out = tmp_path / "out"
    a.save(out)
    want_a, want_b = _fingerprint(a), _fingerprint(b)
    a.save(tmp_path / "probe")  # the same situation: B saved over A
    lines = _lines_of_save(b, tmp_path / "probe")
    # every line of the temporary directory, fsync and swap machinery; a sample of the others
    swap = [i for i, (f, _, fn) in enumerate(lines, 1) if f.endswith("reporting.py") and fn in SWAP_CODE]
    rest = [i for i in range(1, len(lines) + 1) if i not in set(swap)]
    ks = swap + (rest if sample is None else rest[:: max(len(rest) // sample, 1)])
    assert len(swap) > 40 and len(ks) > len(swap) + (sample or 1000) // 2
    injected, seen = 0, {False: 0, True: 0}
    pristine = tmp_path / "pristine"
    a.save(pristine)
    import shutil

    for k in ks:
        shutil.rmtree(out)
        shutil.copytree(pristine, out)  # OUT holds A
        where = _save_failing_at(b, out, k)
        injected += where is not None
        got = _fingerprint(snnc.Program.load(out))
        # the failure struck before the swap (A) or after it, during the clean-up (B): never a mix
        assert got in (want_a, want_b), f"line {k} of {len(lines)}: {where}"
        seen[got == want_b] += 1
        _clean_named_leftovers(out, where)
    assert injected == len(ks)
    assert seen[False] > 50 and seen[True] > 0  # failures before the swap keep A; after it, B


def _clean_named_leftovers(out: Path, where) -> None:
    """A failure inside the clean-up itself (the finally block) leaves the temporary behind, as a
    kill there would: it must carry OUT's name and this process's PID (the next save of a later
    process removes it); remove it for the next round."""
    import shutil

    for name in _temps(out):
        assert where is None or where[0].endswith("reporting.py"), f"leftover {name} after a failure at {where}"
        assert name.startswith(f".{out.name}{reporting.TEMP_MARK}{os.getpid()}-"), name
        p = out.parent / name
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def test_a_failure_at_any_step_of_a_file_write_keeps_the_old_file(tmp_path):
    out = tmp_path / "r.json"
    reporting.write_text(out, "old")
    n = len(_file_lines(tmp_path / "probe.json"))
    for k in range(1, n + 1):
        count = [0]

        def tracer(frame, event, arg):
            if not frame.f_code.co_filename.startswith(PACKAGE):
                return None
            if event == "line":
                count[0] += 1
                if count[0] == k:
                    raise _Injected(k)
            return tracer

        sys.settrace(tracer)
        try:
            reporting.write_text(out, "new")
        except (_Injected, InputError):
            pass
        finally:
            sys.settrace(None)
        assert out.read_text() in ("old", "new")
        _clean_named_leftovers(out, None)
        reporting.write_text(out, "old")


def _file_lines(path: Path) -> list[int]:
    seen = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(PACKAGE):
            if event == "line":
                seen.append(frame.f_lineno)
            return tracer
        return None

    sys.settrace(tracer)
    try:
        reporting.write_text(path, "x")
    finally:
        sys.settrace(None)
    return seen


_CHILD = textwrap.dedent("""
    import sys, snnc
    a = snnc.Program.load(sys.argv[1]); b = snnc.Program.load(sys.argv[2]); out = sys.argv[3]
    print("ready", flush=True)
    while True:
        a.save(out)
        b.save(out)
""")


def _kill_campaign(programs, tmp_path, kills: int, seed: int):
    a, b = programs
    pa, pb, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    a.save(pa)
    b.save(pb)
    a.save(out)
    want = {_fingerprint(a): "A", _fingerprint(b): "B"}
    rng = random.Random(seed)
    seen = {"A": 0, "B": 0}
    killed: list[int] = []
    for i in range(kills):
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(pa), str(pb), str(out)],
                                 stdout=subprocess.PIPE, cwd=ROOT)
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.25))  # a save takes ~10-30 ms: most kills land inside one
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed.append(child.pid)
        left = _temps(out)
        got = want.get(_fingerprint(snnc.Program.load(out)))
        assert got is not None, f"kill {i}: OUT holds neither program (leftovers {left})"
        seen[got] += 1
        for name in left:  # a killed writer's leftover is named after OUT and its PID (a child
            # killed before its first save's clean-up leaves earlier children's leftovers too)
            assert any(name.startswith(f".{out.name}{reporting.TEMP_MARK}{pid}-") for pid in killed), name
        assert set(reporting.leftovers(out)) == {out.parent / n for n in left}
    a.save(out)  # the next save removes every leftover of dead writers
    assert _temps(out) == []
    return seen


def test_saves_killed_at_random_instants_leave_a_whole_program(programs, tmp_path):
    seen = _kill_campaign(programs, tmp_path, kills=8, seed=0)
    assert sum(seen.values()) == 8


@pytest.mark.slow
def test_many_killed_saves_leave_a_whole_program(programs, tmp_path):
    seen = _kill_campaign(programs, tmp_path, kills=150, seed=1)
    assert seen["A"] > 10 and seen["B"] > 10  # both states were hit


def test_without_an_atomic_swap_the_old_program_is_set_aside_under_a_name(programs, tmp_path, monkeypatch):
    a, b = programs
    out = tmp_path / "out"
    a.save(out)
    monkeypatch.setattr(reporting, "_exchange", lambda x, y: False)  # a file system without renameat2
    b.save(out)
    assert _fingerprint(snnc.Program.load(out)) == _fingerprint(b)
    assert _temps(out) == []


def test_save_refuses_files_and_foreign_directories_before_writing(programs, tmp_path):
    a, _ = programs
    f = tmp_path / "file"
    f.write_text("keep")
    with pytest.raises(InputError, match="a file of that name exists"):
        a.save(f)
    with pytest.raises(InputError, match="is not a directory"):
        a.save(f / "below")
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="other content, which snnc does not replace"):
        a.save(d)
    with pytest.raises(InputError, match="too long"):
        a.save(tmp_path / ("n" * 5000))
    with pytest.raises(InputError, match="must be a path"):
        a.save(None)
    assert f.read_text() == "keep" and (d / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine"]
    (tmp_path / "empty").mkdir()
    a.save(tmp_path / "empty")  # an empty directory is taken
    assert snnc.Program.load(tmp_path / "empty").stats() == a.stats()


def test_saved_directories_follow_the_umask(programs, tmp_path):
    a, _ = programs
    old = os.umask(0o022)
    try:
        a.save(tmp_path / "p")
    finally:
        os.umask(old)
    assert (tmp_path / "p").stat().st_mode & 0o777 == 0o755  # mkdtemp's 0700 is not kept
    assert (tmp_path / "p" / "program.json").stat().st_mode & 0o777 == 0o644


def test_partial_mixed_and_altered_directories_are_refused(programs, tmp_path):
    a, b = programs
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    import shutil

    mixed = tmp_path / "mixed"  # A's program.json with B's graph: what an in-place save could leave
    shutil.copytree(tmp_path / "a", mixed)
    shutil.rmtree(mixed / "graph")
    shutil.copytree(tmp_path / "b" / "graph", mixed / "graph")
    with pytest.raises(FrontendError, match=r"graph/.*does not match its SHA-256 in manifest.json"):
        snnc.Program.load(mixed)
    partial = tmp_path / "partial"
    shutil.copytree(tmp_path / "a", partial)
    (partial / "manifest.json").unlink()
    with pytest.raises(FrontendError, match="incomplete: no manifest.json"):
        snnc.Program.load(partial)
    shutil.copytree(tmp_path / "a", tmp_path / "short")
    (tmp_path / "short" / "placement.npz").unlink()
    with pytest.raises(FrontendError, match="placement.npz: is missing"):
        snnc.Program.load(tmp_path / "short")
    shutil.copytree(tmp_path / "a", tmp_path / "extra")
    (tmp_path / "extra" / "graph" / "old.npz").write_bytes(b"x")
    with pytest.raises(FrontendError, match="graph/old.npz: is not in manifest.json"):
        snnc.Program.load(tmp_path / "extra")


def test_a_format_1_directory_without_manifest_still_loads_validated(programs, tmp_path):
    import json

    a, _ = programs
    d = tmp_path / "old"
    a.save(d)
    (d / "manifest.json").unlink()
    meta = json.loads((d / "program.json").read_text())
    meta["format"] = 1
    (d / "program.json").write_text(json.dumps(meta))
    assert _fingerprint(snnc.Program.load(d)) == _fingerprint(a)
    g = json.loads((d / "graph" / "graph.json").read_text())
    next(n for n in g["nodes"] if n["kind"] == "Compartment")["fields"]["du"] = 999999
    (d / "graph" / "graph.json").write_text(json.dumps(g))
    with pytest.raises(FrontendError, match=r"graph/graph.json: node 'lif1': du=999999 outside 0..4095"):
        snnc.Program.load(d)


def test_an_invalid_program_is_not_written(programs, tmp_path):
    a, _ = programs
    nodes = dict(a.graph.nodes)
    nodes["lif1"] = nodes["lif1"].replace(vth=-100)
    bad = type(a)(a.graph.with_changes(nodes=nodes), a.convention, a.target, a.latency, a.layers)
    with pytest.raises(ValidationError, match="refusing to save an invalid program.*vth=-100 outside 0..131071"):
        bad.save(tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and list(tmp_path.iterdir()) == []


def test_cli_outputs_are_atomic_and_named_as_given(programs, tmp_path, capsys):
    from snnc.cli import main

    a, _ = programs
    a.save(tmp_path / "p")
    x = ROOT / "examples" / "mlp_input.npz"
    assert main(["run", str(tmp_path / "p"), "--input", str(x), "-o", str(tmp_path / "y")]) == 0
    assert f"wrote {tmp_path / 'y'}" in capsys.readouterr().out
    assert (tmp_path / "y").is_file() and not (tmp_path / "y.npz").exists()  # the name given
    with np.load(tmp_path / "y") as z:
        assert z["x"].shape == (4, 40, 10)
    assert _temps(tmp_path / "y") == []

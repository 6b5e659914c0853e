"""The Loihi 2 hardware backend: detection, the unavailable path, and (marked hw) a board run."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc import cli
from snnc.backends import loihi2_hw
from snnc.errors import BackendUnavailableError, ValidationError
from snnc.mapping import Placement

ROOT = Path(__file__).resolve().parents[2]
MLP = ROOT / "examples" / "mlp.nir"
X = np.load(ROOT / "examples" / "mlp_input.npz")["x"][:2, :12]


@pytest.fixture
def no_lava_loihi(monkeypatch):
    """Detection as on a machine without lava-loihi (whatever this one has)."""
    monkeypatch.setattr(loihi2_hw, "REQUIRED_MODULES", {"snnc_absent.subcompilers.nc": "NC"})


@pytest.fixture
def no_board(monkeypatch):
    for var in ("BOARD", "PARTITION", "SLURM", "NXSDKHOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(loihi2_hw.shutil, "which", lambda name: None)


def test_missing_lava_loihi_names_the_module_and_the_access_route(no_lava_loihi):
    prog = snnc.compile(MLP, target="loihi2")
    with pytest.raises(BackendUnavailableError) as e:
        prog.run(X, backend="loihi2")
    assert "snnc_absent.subcompilers.nc" in str(e.value)
    assert "INRC" in e.value.hint and "backend='lava'" in e.value.hint
    assert isinstance(e.value, ImportError)


def test_detection_needs_software_and_board(monkeypatch, no_board):
    monkeypatch.setattr(loihi2_hw, "REQUIRED_MODULES", {"numpy": "present"})
    st = loihi2_hw.status()
    assert not st.available and "no Loihi 2 board" in st.reason
    monkeypatch.setenv("BOARD", "ncl-og-05")
    st = loihi2_hw.status()
    assert st.available and st.board == "slurm:ncl-og-05"


def test_detection_imports_nothing():
    """status() looks modules up without importing Lava (importing lava.proc forks, see
    loihi.md §6.2)."""
    import subprocess
    import sys

    code = ("import sys; from snnc.backends import loihi2_hw; st = loihi2_hw.status(); "
            "print(sorted(m for m in sys.modules if m == 'lava' or m.startswith('lava.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_run_on_loihi2_exits_2_with_hint(tmp_path, capsys, no_lava_loihi):
    prog = snnc.compile(MLP, target="loihi2")
    prog.save(tmp_path / "prog")
    np.savez(tmp_path / "x.npz", x=X)
    rc = cli.main(["run", str(tmp_path / "prog"), "--input", str(tmp_path / "x.npz"),
                   "--backend", "loihi2"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "error: the Loihi 2 hardware backend cannot run: lava-loihi is not installed" in err
    assert "hint: lava-loihi is Intel's closed extension" in err


def test_read_profile_sums_the_series():
    profiler = types.SimpleNamespace(
        energy=np.array([1.0, 2.0, 3.0]), static_energy=np.array([0.5, 0.5, 0.5]),
        dynamic_energy=np.array([0.5, 1.5, 2.5]), execution_time=np.array([10.0, 12.0, 11.0]),
        num_alloc_chips=1, power=np.array([0.7]),
    )
    p = loihi2_hw.read_profile(profiler, steps=3)
    assert p["energy_total"] == 6.0 and p["energy_static"] == 1.5 and p["energy_dynamic"] == 4.5
    assert p["time_total"] == 33.0 and p["chips"] == 1 and p["raw"]["power"] == [0.7]


def test_placement_must_cover_every_population():
    prog = snnc.compile(MLP, target="loihi2")
    comps = {c: np.zeros(prog.graph[c].size, np.int64) for c in prog.graph.of_kind(
        snnc.compiler.ir.loihi.Compartment)}
    ok = Placement("loihi2", comps, np.zeros(1, np.int64))
    assert loihi2_hw.check_placement(prog.graph, ok)["cores"] == 1
    first = next(iter(comps))
    bad = Placement("loihi2", {**comps, first: comps[first][:-1]}, np.zeros(1, np.int64))
    with pytest.raises(ValidationError, match="placement does not cover"):
        loihi2_hw.check_placement(prog.graph, bad)


@pytest.mark.hw
def test_board_run_matches_the_emulator_and_reads_the_profiler():
    prog = snnc.compile(MLP, target="loihi2")
    y_hw = prog.run(X, backend="loihi2")
    np.testing.assert_array_equal(y_hw, prog.run(X, backend="emulator"))
    profiles = loihi2_hw.last_profile["samples"]
    assert len(profiles) == X.shape[0]
    assert all(p["energy_total"] > 0 and p["time_total"] > 0 for p in profiles)

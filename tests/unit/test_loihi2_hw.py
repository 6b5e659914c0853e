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
from snnc.compiler.mapping import Placement

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


def test_read_profile_converts_the_breakdowns():
    profiler = types.SimpleNamespace(
        energy_breakdown=lambda: (30.0, 20.0, 10.0, 12.0, 17.0, 1.0),  # µJ
        power_breakdown=lambda: (0.6, 0.4, 0.2, 0.25, 0.34, 0.01),    # W
        num_alloc_chips=1, power=np.array([0.6, 0.61]), static_power="n/a",
    )
    p = loihi2_hw.read_profile(profiler, steps=10)
    assert p["total_uj"] == 30.0 and p["static_uj"] == 10.0 and p["vdd_io_w"] == 0.01
    assert p["time_s"] == pytest.approx(30e-6 / 0.6) and p["time_per_step_s"] == pytest.approx(5e-6)
    assert p["chips"] == 1 and p["raw"]["power"] == [0.6, 0.61] and "static_power" not in p["raw"]


def test_placement_must_cover_every_population():
    prog = snnc.compile(MLP, target="loihi2")
    comps = {c: np.zeros(prog.graph[c].size, np.int64) for c in prog.graph.of_kind(
        snnc.compiler.ir.loihi.Compartment)}
    ok = Placement("loihi2", comps, np.zeros(1, np.int64))
    assert loihi2_hw.check_placement(prog.graph, ok)["cores"] == 1
    own = loihi2_hw.check_placement(prog.graph, prog.placement)  # the partitioner's placement
    assert own["cores"] == prog.placement.n_cores and own["chips"] == 1
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
    assert all(p["total_uj"] > 0 and p["time_s"] > 0 for p in profiles)

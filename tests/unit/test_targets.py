"""TargetSpec: sourced constants, systems, target files (round trip and bad files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import snnc
from snnc.cli import main
from snnc.compiler.targets import RESOURCE_FIELDS, SYSTEMS, TARGETS, get_target, load_target_file
from snnc.errors import ValidationError

EXAMPLES = Path(__file__).parents[2] / "snnc" / "targets"
MLP = Path(__file__).parents[2] / "examples" / "mlp.nir"
GRADES = {"source-read", "secondary", "estimate"}


@pytest.mark.parametrize("name", ["loihi2", "loihi1"])
def test_every_resource_constant_has_a_source_and_grade(name):
    spec = get_target(name)
    for field in (*RESOURCE_FIELDS[:5], "chips_per_system"):
        grade, source = spec.sources[field]
        assert grade in GRADES and source, field
    if name == "loihi2":  # not public: said so
        assert spec.sources["fan_in_axons"][0] == "estimate"
        assert spec.sources["neurons_per_core"][0] == "estimate"


def test_systems_chip_counts():
    assert get_target("loihi2-oheo-gulch").chips_per_system == 1
    assert get_target("loihi2-kapoho-point").chips_per_system == 8
    assert get_target("loihi2-hala-point").chips_per_system == 1152
    assert get_target("loihi2") == get_target("loihi2-hala-point")
    assert get_target("loihi1-nahuku").chips_per_system == 32
    assert get_target("loihi1").neurons_per_core == 1024 and get_target("loihi1").fan_in_axons == 4096
    assert set(SYSTEMS["loihi2"]) == {"oheo_gulch", "kapoho_point", "hala_point"}
    assert all(t.name in ("loihi1", "loihi2") for t in TARGETS.values())


def test_shipped_target_files_load():
    kp = load_target_file(EXAMPLES / "loihi2-kapoho-point.toml")
    assert kp.system == "kapoho_point" and kp.chips_per_system == 8 and kp.sources["neurons_per_core"][0] == "user"
    nh = get_target(str(EXAMPLES / "loihi1-nahuku.json"))
    assert nh.name == "loihi1" and nh.chips_per_system == 32
    custom = load_target_file(EXAMPLES / "loihi2-custom-board.toml")
    assert custom.system == "my_lab_rig" and custom.chips_per_system == 2


def test_target_file_round_trip_through_compile_and_save(tmp_path):
    f = tmp_path / "board.toml"
    f.write_text('base = "loihi2"\nsystem = "oheo_gulch"\nneurons_per_core = 32\nfan_in_axons = 4000\n'
                 '[sources]\nfan_in_axons = "measured on our board"\n')
    prog = snnc.compile(MLP, target=str(f))
    assert prog.target.neurons_per_core == 32 and prog.target.chips_per_system == 1
    assert prog.target.sources["fan_in_axons"] == ("user", "measured on our board")
    assert prog.target.sources["neurons_per_core"][0] == "user"
    assert prog.placement.n_cores == 3  # 48 neurons -> 2 cores of 24, 10 neurons -> 1
    back = snnc.Program.load(prog.save(tmp_path / "out"))
    assert back.target == prog.target and back.target.sources == prog.target.sources
    j = tmp_path / "board.json"
    j.write_text(json.dumps(prog.target.to_dict()))
    assert load_target_file(j) == prog.target


def test_a_custom_target_name_saves_and_loads(tmp_path):
    """A target named after the user's board (not a base) round-trips through a saved program."""
    f = tmp_path / "mine.toml"
    f.write_text('name = "my_board"\nneurons_per_core = 64\n')
    prog = snnc.compile(MLP, target=str(f))
    assert prog.target.name == "my_board" and prog.target.neurons_per_core == 64
    back = snnc.Program.load(prog.save(tmp_path / "out"))
    assert back.target == prog.target


@pytest.mark.parametrize("text, match", [
    ('neurons_per_cores = 5\n', "unknown key 'neurons_per_cores'"),
    ('neurons_per_core = "many"\n', "neurons_per_core = 'many' is not an integer"),
    ('neurons_per_core = true\n', "is not an integer"),
    ('neurons_per_core = 2.5\n', "is not an integer"),
    ('fan_in_axons = 0\n', "fan_in_axons = 0 must be positive"),
    ('chips_per_system = -3\n', "must be positive"),
    ('base = "loihi9"\n', "unknown base 'loihi9'"),
    ('system = "garage"\n', "unknown system 'garage' without chips_per_system"),
    ('neurons_per_core = \n', "not valid TOML"),
])
def test_bad_target_files(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ValidationError, match=match) as e:
        load_target_file(f)
    assert e.value.hint


def test_missing_and_unknown_targets(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        get_target(str(tmp_path / "nope.toml"))
    with pytest.raises(ValidationError, match="unknown target 'loihi3'") as e:
        get_target("loihi3")
    assert "loihi2-kapoho-point" in e.value.hint
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValidationError, match="top level"):
        load_target_file(tmp_path / "list.json")


def test_cli_target_file_and_bad_file_exit_2(tmp_path, capsys):
    f = tmp_path / "t.toml"
    f.write_text('base = "loihi2"\nneurons_per_core = 16\n')
    assert main(["compile", str(MLP), "-o", str(tmp_path / "p"), "--target-file", str(f)]) == 0
    out = capsys.readouterr().out
    assert "resources: 4 cores on 1 chip(s)" in out  # 48 neurons -> 3 cores of 16, 10 -> 1
    f.write_text("neurons_per_core = 0\n")
    assert main(["compile", str(MLP), "-o", str(tmp_path / "q"), "--target-file", str(f)]) == 2
    err = capsys.readouterr().err
    assert "must be positive" in err and "hint:" in err
    assert not (tmp_path / "q").exists()

"""The backends are listed once (snnc.backends.registry): names, options, and what the CLI, the
pytest plugin and Program.run take from there; every backend checks input once (Spikes)."""

from __future__ import annotations
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.backends import registry
from snnc.backends.base import RUN_OPTIONS, BackendSpec
from snnc.backends.wiring import Spikes, check_input
from snnc.cli import _parser
from snnc.errors import InputError, ValidationError
from snnc.testing import BIT_EXACT_TARGETS
from snnc.testing.plugin import TARGETS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "mlp.nir")


@pytest.fixture(scope="module")
def prog():
    return snnc.compile(EXAMPLE)


def test_one_list_of_backends():
    assert registry.NAMES == ("emulator", "lava", "loihi2") and registry.DEFAULT == "emulator"
    assert TARGETS == registry.NAMES and BIT_EXACT_TARGETS == ("emulator", "lava")
    run = next(a for a in _parser()._subparsers._group_actions[0].choices["run"]._actions
               if "--backend" in a.option_strings)
    assert tuple(run.choices) == registry.NAMES
    for b in registry.BACKENDS.values():
        assert set(b.options) <= set(RUN_OPTIONS) and b.title and b.summary


def test_unknown_backend_and_options():
    with pytest.raises(ValidationError, match="unknown backend 'nope'") as e:
        registry.get_backend("nope")
    assert "emulator, lava, loihi2" in e.value.hint
    lava = registry.get_backend("lava")
    with pytest.raises(InputError, match="device='cpu' applies to the emulator, not to Lava") as e:
        registry.checked_options(lava, {"device": "cpu"})
    assert e.value.hint == "drop device= or run backend='emulator'"
    with pytest.raises(InputError, match="unknown option devce="):
        registry.checked_options(registry.get_backend("emulator"), {"devce": "cpu"})
    # advisory options are dropped where they do not apply; None is "not given"
    assert registry.checked_options(registry.get_backend("emulator"),
                                    {"timeout": 5, "progress": None, "device": None}) == \
        {"progress": None, "device": None}
    assert registry.checked_options(lava, {"timeout": 5, "device": None}) == {"timeout": 5}


def test_a_spec_states_only_known_options():
    with pytest.raises(ValueError, match="not in RUN_OPTIONS"):
        BackendSpec("x", "x", "x", frozenset({"speed"}), runner=lambda *a, **k: None)


def test_program_run_goes_through_the_registry(prog, monkeypatch):
    x = np.load(ROOT / "examples" / "mlp_input.npz")["x"]
    seen = {}
    real = registry.BACKENDS["emulator"]

    class Spy:
        name, title, summary, options, bit_exact = real.name, real.title, real.summary, real.options, True

        def run(self, graph, xs, steps, record=None, **options):
            seen.update(x=xs, options=options)
            return real.run(graph, xs, steps, record, **options)

    monkeypatch.setitem(registry.BACKENDS, "emulator", Spy())
    y = prog.run(x, timeout=3)  # the emulator has no watchdog: timeout is ignored
    assert isinstance(seen["x"], Spikes) and seen["x"].data is x  # checked once, not copied
    assert seen["options"] == {"progress": None, "device": None}
    assert y.shape == (4, 40, 10)


def test_a_checked_input_is_taken_as_it_is(prog):
    x = np.load(ROOT / "examples" / "mlp_input.npz")["x"]
    s = check_input(prog.graph, x)
    assert check_input(prog.graph, s) is s and prog.check_input(s) is s
    assert np.array_equal(prog.run(s), prog.run(x))
    assert s.uint8() is x  # 0/1 bytes: no copy
    assert np.shares_memory(Spikes(x.view(bool), (64,)).uint8(), x)
    with pytest.raises(InputError, match="checked for a source of shape"):
        check_input(prog.graph, Spikes(x[:, :, :3], (3,)))

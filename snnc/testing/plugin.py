"""The snnc pytest plugin: hardware-in-the-loop regression tests for deployed SNNs.

Registered as the ``pytest11`` entry point ``snnc``, so it is active in every pytest run once
snnc is installed.  It only adds options, a marker and fixtures; tests that use none of them
run exactly as before.  Loading it imports ``snnc`` (numpy and scipy, about 0.3 s) but no
torch or Lava; those load only when a fixture runs a program on them.

Options::

    --snnc-target {emulator,lava,loihi2}   where snnc_run runs programs (default: emulator)
    --snnc-update-golden                   (re)record golden files and baselines, do not compare

Marker ``hw``: the test needs a Loihi 2 board; it is skipped, with the reason, when
lava-loihi or a board is absent (see :mod:`snnc.backends.loihi2_hw`).  The ini option
``snnc_hw_marker`` renames it, or, empty, turns it off (for projects whose own ``hw`` marker
means other hardware).

Fixtures:

``snnc_target``    the selected target (skips when it is ``loihi2`` and the board is absent)
``snnc_compile``   ``snnc_compile(model, **compile_options) -> Program``, compiled once per
                   session per (model, options)
``snnc_run``       ``snnc_run(prog, x) -> outputs`` on the selected target
``snnc_golden``    ``snnc_golden.assert_spikes_match(y, exact=None, name=None)`` against
                   ``<test dir>/golden/<module>/<test>[-name].npz``; exact on integer targets,
                   spike-count / argmax tolerances on hardware
``snnc_baseline``  ``snnc_baseline.check(metric, value)`` against
                   ``<test dir>/golden/<module>/<test>.baseline.json`` (per-metric tolerances,
                   keyed by target and software versions; :mod:`snnc.testing.baseline`)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import snnc
from snnc.backends import loihi2_hw, registry
from snnc.testing.baseline import Baselines
from snnc.testing.golden import BIT_EXACT_TARGETS, assert_spikes_match, write_golden

#: the targets of ``--snnc-target``: the registered backends (:mod:`snnc.backends.registry`)
TARGETS = registry.NAMES
GOLDEN_DIR = "golden"

_UPDATED = pytest.StashKey[list]()
_HW = pytest.StashKey[object]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("snnc", "snnc regression tests (hardware in the loop)")
    group.addoption("--snnc-target", choices=TARGETS, default=registry.DEFAULT,
                    help="where the snnc_run fixture runs compiled programs (default: emulator)")
    group.addoption("--snnc-update-golden", action="store_true", default=False,
                    help="record golden spike files and metric baselines instead of comparing")
    parser.addini("snnc_hw_marker", default="hw",
                  help="marker of tests that need a Loihi 2 board (skipped without one); "
                  "empty: none (for projects whose 'hw' marker means other hardware)")


def pytest_configure(config: pytest.Config) -> None:
    marker = config.getini("snnc_hw_marker")
    if marker:
        config.addinivalue_line(
            "markers", f"{marker}: needs Loihi 2 hardware (lava-loihi and a board); skipped "
            "when absent")
    config.stash[_UPDATED] = []


def _hardware(config: pytest.Config):
    if _HW not in config.stash:
        config.stash[_HW] = loihi2_hw.status()
    return config.stash[_HW]


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.config.getini("snnc_hw_marker")
    if marker and item.get_closest_marker(marker) is not None:
        st = _hardware(item.config)
        if not st.available:
            pytest.skip(f"Loihi 2 hardware absent: {st.reason}")


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    updated = config.stash.get(_UPDATED, [])
    if updated:
        terminalreporter.section("snnc golden files updated")
        for p in updated:
            terminalreporter.write_line(str(p))


# ---------------------------------------------------------------------------- fixtures
class Compiler:
    """``snnc.compile`` with a session cache keyed by the model and the options."""

    def __init__(self) -> None:
        self.cache: dict = {}
        self.compiled = 0

    def __call__(self, model, **options):
        key = (str(Path(model).resolve()) if isinstance(model, (str, Path)) else id(model),
               tuple(sorted((k, _option_key(v)) for k, v in options.items())))
        if key not in self.cache:  # the model is kept with its program, so its id stays unique
            self.cache[key] = (model, snnc.compile(model, **options))
            self.compiled += 1
        return self.cache[key][1]


def _option_key(value) -> object:
    """A compile option as a cache key: arrays by content (their repr elides the middle)."""
    if hasattr(value, "tobytes") and hasattr(value, "shape"):
        return (str(value.dtype), tuple(value.shape), hashlib.sha1(value.tobytes()).hexdigest())
    return repr(value)


def _test_file_stem(request: pytest.FixtureRequest) -> tuple[Path, str, str]:
    path = Path(str(request.node.path))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    return path.parent / GOLDEN_DIR / path.stem, name, path.stem


class Golden:
    """Golden-file assertions bound to one test (see :func:`snnc_golden`)."""

    def __init__(self, request: pytest.FixtureRequest, target: str):
        self.dir, self.test, _ = _test_file_stem(request)
        self.target = target
        self.update = request.config.getoption("--snnc-update-golden")
        self._updated = request.config.stash[_UPDATED]

    def path(self, name: str | None = None) -> Path:
        return self.dir / (f"{self.test}-{name}.npz" if name else f"{self.test}.npz")

    def assert_spikes_match(self, actual, *, exact: bool | None = None, name: str | None = None,
                            count_rtol: float = 0.05, argmax_agreement: float = 1.0) -> None:
        path = self.path(name)
        if self.update:
            self._updated.append(write_golden(path, actual, self.target))
            return
        exact = self.target in BIT_EXACT_TARGETS if exact is None else exact
        assert_spikes_match(actual, path, exact=exact, count_rtol=count_rtol,
                            argmax_agreement=argmax_agreement)


@pytest.fixture(scope="session")
def snnc_target(request: pytest.FixtureRequest) -> str:
    """The target selected with ``--snnc-target``."""
    target = request.config.getoption("--snnc-target")
    if target == loihi2_hw.NAME:
        st = _hardware(request.config)
        if not st.available:
            pytest.skip(f"Loihi 2 hardware absent: {st.reason}")
    return target


@pytest.fixture(scope="session")
def snnc_compile() -> Compiler:
    """``snnc_compile(model, **options)``: compile once per session per model and options."""
    return Compiler()


@pytest.fixture
def snnc_run(snnc_target: str):
    """``snnc_run(prog, x, **kw)``: ``prog.run(x, backend=<selected target>, **kw)``."""

    def run(prog, x, **kw):
        return prog.run(x, backend=snnc_target, **kw)

    return run


@pytest.fixture
def snnc_golden(request: pytest.FixtureRequest, snnc_target: str) -> Golden:
    """Golden spike files of this test (``golden/<module>/<test>.npz`` beside the test file)."""
    return Golden(request, snnc_target)


@pytest.fixture
def snnc_baseline(request: pytest.FixtureRequest, snnc_target: str):
    """Metric baselines of this test (``golden/<module>/<test>.baseline.json``)."""
    d, test, _ = _test_file_stem(request)
    update = request.config.getoption("--snnc-update-golden")
    b = Baselines(d / f"{test}.baseline.json", snnc_target, update=update)
    if update:
        request.config.stash[_UPDATED].append(b.path)
    return b

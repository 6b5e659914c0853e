"""The Lava backend's child process and watchdog: errors, timeouts, missing Lava, wiring.

Lava itself is never imported into the pytest process (it sets the multiprocessing start
method on import); everything that needs it runs in a child.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from snnc.backends import emulator
from snnc.backends import lava as lava_backend
from snnc.backends.lava.run import group_members
from snnc.backends.lava.worker import FAULT_ENV
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import BackendError, BackendTimeoutError, BackendUnavailableError, InputError

pytestmark = [
    pytest.mark.lava,
    pytest.mark.skipif(not lava_backend.lava_available(), reason="lava-nc is not installed"),
]


def small_graph() -> Graph:
    return Graph(
        {
            "in": loihi.SpikeSource((3,)),
            "s1": loihi.Synapse(np.array([[200, -30, 90], [5, 255, 7]])),
            "c1": loihi.Compartment((2,), 100, 200, 50, np.array([3, -5]), 4),
            "s2": loihi.Synapse(np.array([[255, -200]]), weight_exp=1),
            "c2": loihi.Compartment((1,), 4095, 10, 80, np.zeros(1, np.int64), readout="v",
                                    start_step=2, v_init=np.array([999])),
        },
        [("in", "s1"), ("s1", "c1"), ("c1", "s2"), ("s2", "c2")],
    )


def test_batch_and_record_match_emulator():
    g = small_graph()
    x = np.random.default_rng(3).random((3, 10, 3)) < 0.5
    emu = emulator.run(g, x, 14, record=["c2"])
    lav = lava_backend.run(g, x, 14, record=["c2"])
    assert list(lav.spikes) == ["c2"] and lav.backend == "lava" and lav.steps == 14
    assert np.array_equal(emu.spikes["c2"], lav.spikes["c2"])
    assert np.array_equal(emu.v["c2"], lav.v["c2"])
    info = lava_backend.last_run_info
    assert len(info["samples"]) == 3 and info["wall_s"] > 0


def test_input_errors_are_raised_before_spawning():
    with pytest.raises(InputError, match="expected"):
        lava_backend.run(small_graph(), np.zeros((1, 4, 2)), 5)
    r = lava_backend.run(small_graph(), np.zeros((2, 0, 3)), 0)
    assert r.spikes["c1"].shape == (2, 0, 2)


def test_child_error_surfaces_as_backend_error(monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "raise")
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="RuntimeError: injected fault") as info:
        lava_backend.run(small_graph(), np.zeros((1, 2, 3)), 3, timeout=60)
    assert time.monotonic() - t0 < 30
    assert not isinstance(info.value, BackendTimeoutError)
    assert "Traceback" in info.value.child_log
    assert group_members(info.value.pgid) == []


def test_timeout_kills_the_whole_process_group():
    t0 = time.monotonic()
    with pytest.raises(BackendTimeoutError, match="did not finish within 3.0 s") as info:
        lava_backend.run(small_graph(), np.ones((1, 5, 3)), 500_000, timeout=3)
    assert time.monotonic() - t0 < 20
    assert group_members(info.value.pgid) == []


def test_genuine_lava_hang_is_caught(monkeypatch):
    """An exception inside a Lava process model makes Lava 0.10.0 hang; the watchdog ends it."""
    monkeypatch.setenv(FAULT_ENV, "lava-hang")
    with pytest.raises(BackendTimeoutError) as info:
        lava_backend.run(small_graph(), np.zeros((1, 2, 3)), 3, timeout=6)
    assert group_members(info.value.pgid) == []


def test_missing_lava_in_child(monkeypatch, tmp_path):
    fake = tmp_path / "lava"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no lava here (test)')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(BackendUnavailableError, match="no lava here") as info:
        lava_backend.run(small_graph(), np.zeros((1, 2, 3)), 3, timeout=60)
    assert "scripts/install.sh" in info.value.hint


def test_missing_lava_in_parent(monkeypatch):
    # (the package attribute `run` is the function; the module is in sys.modules)
    monkeypatch.setattr(sys.modules["snnc.backends.lava.run"], "lava_available", lambda: False)
    with pytest.raises(BackendUnavailableError) as info:
        lava_backend.run(small_graph(), np.zeros((1, 2, 3)), 3)
    assert "bash scripts/install.sh" in info.value.hint


SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, scipy.sparse as sp
    from snnc.backends.lava.build import make_process, to_lava
    from snnc.compiler.ir import loihi
    from snnc.compiler.ir.graph import Graph
    from snnc.errors import BackendError
    g = Graph({
        "in": loihi.SpikeSource((2,)),
        "d": loihi.Synapse(np.array([[3, -5], [1, 1]]), weight_exp=-3, num_weight_bits=5),
        "s": loihi.Synapse(sp.csr_matrix(np.array([[0, 7], [0, 0]]))),
        "dd": loihi.Synapse(np.array([[4, 4], [4, 4]]), delays=np.array([[0, 1], [2, 3]])),
        "c": loihi.Compartment((2,), 7, 9, 11, np.array([13, -13]), 2, readout="v"),
    }, [("in", "d"), ("in", "s"), ("in", "dd"), ("d", "c"), ("s", "c"), ("dd", "c")])
    net = to_lava(g, np.ones((3, 2)), 5)
    out = {k: type(p).__name__ for k, p in net.synapses.items()}
    out["params"] = {k: [p.proc_params["weight_exp"], p.proc_params["num_weight_bits"],
                         p.proc_params["sign_mode"].name] for k, p in net.synapses.items()}
    lif = net.compartments["c"]
    out["lif"] = [type(lif).__name__, int(lif.du.init), int(lif.dv.init), int(lif.vth.init),
                  np.asarray(lif.bias_mant.init).tolist(), int(lif.bias_exp.init)]
    out["source"] = np.asarray(net.source.data.init).tolist()
    out["monitors"] = sorted(net.monitors)
    from lava.proc.lif.process import LIF
    try:
        make_process(LIF, shape=(1,), bias=5)
        out["unknown_kwarg"] = "accepted"
    except BackendError as e:
        out["unknown_kwarg"] = str(e)
    spikes, v = net.run()
    out["ran"] = sorted(spikes)
    print(json.dumps(out))
    """
)


def test_to_lava_processes_and_kwargs():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["d"], out["s"], out["dd"]) == ("Dense", "Sparse", "DelayDense")
    assert out["params"]["d"] == [-3, 5, "MIXED"]
    assert out["params"]["s"] == [0, 8, "EXCITATORY"]
    assert out["lif"] == ["LIF", 7, 9, 11, [13, -13], 2]
    assert out["source"] == [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0]]
    assert out["monitors"] == ["c"]
    assert "does not take bias" in out["unknown_kwarg"]
    assert out["ran"] == ["c"]

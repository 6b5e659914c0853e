"""Smoke checks of the environment built by ``bash scripts/install.sh``.

* The repacked Lava wheels are the ones installed (``+py311`` visible in importlib.metadata), with
  torch 2.13.0+cpu, numpy<2 and the pinned NIR/ONNX/snnTorch versions.
* ``lava.magma``, ``lava.lib.dl.netx``, ``lava.lib.dl.slayer`` (without its optional object
  detection part), ``snntorch``, ``nir``, ``nirtorch`` and ``torch`` import.
* A tiny Lava network (RingBuffer source -> Dense -> LIF -> RingBuffer sink,
  ``Loihi2SimCfg(select_tag="fixed_pt")``) runs and the sink receives exactly the expected spikes.

Everything that imports Lava runs in a subprocess under a timeout: importing ``lava.proc`` sets the
multiprocessing start method of the whole process, and a failing Lava child process makes the
parent hang instead of raising (see docs/decisions/0002-lava-on-python-311.md).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.lava

TIMEOUT_S = 120

# Spikes of the 2 source channels over 10 steps; the last two columns are silent so that the
# one-step Dense delay never wraps around the ring buffer.
SPIKES_IN = np.array([[1, 0, 1, 0, 1, 0, 1, 0, 0, 0],
                      [0, 1, 1, 0, 0, 1, 1, 0, 0, 0]])
WEIGHTS = np.array([[20, 0], [10, 10], [0, 4]])  # even and positive: not altered by truncation
DU, DV, VTH = 4095, 0, 15  # u = this step's input only; v integrates without leak
# Worked by hand from the rules below: neuron 0 fires one step after every spike of channel 0;
# neuron 1 needs two inputs of 10; neuron 2 needs four inputs of 4 (v = 16 > 15).
EXPECTED_OUT = np.array([[0, 1, 0, 1, 0, 1, 0, 1, 0, 0],
                         [0, 0, 1, 1, 0, 0, 1, 1, 0, 0],
                         [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]])


def reference_lif(spikes_in, weights, du, dv, vth):
    """Loihi fixed-point LIF behind a Dense layer (bias 0): Dense delays by one step, activation
    and threshold are shifted left by 6, decays are ``sign(x) * (|x| * (4096 - d) >> 12)`` with
    d = du + 1 for the current, v is reset to 0 on a spike."""
    n_steps = spikes_in.shape[1]
    u = np.zeros(weights.shape[0], np.int64)
    v = np.zeros_like(u)
    out = np.zeros((weights.shape[0], n_steps), int)
    a_prev = np.zeros_like(u)

    def decay(x, d):
        return np.sign(x) * ((np.abs(x) * (4096 - d)) >> 12)

    for t in range(n_steps):
        u = decay(u, du + 1) + (a_prev << 6)
        v = decay(v, dv) + u
        spike = v > (vth << 6)
        v[spike] = 0
        out[:, t] = spike
        a_prev = weights @ spikes_in[:, t]
    return out


def run_python(code: str, timeout: float = TIMEOUT_S) -> dict:
    """Run ``code`` in a fresh interpreter (own process group, killed on timeout) and return the
    JSON object it prints on its last stdout line."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # Lava forks children: kill the whole group
        out, err = proc.communicate()
        pytest.fail(f"subprocess timed out after {timeout} s\nstderr:\n{err[-4000:]}")
    assert proc.returncode == 0, f"subprocess failed ({proc.returncode}):\n{err[-4000:]}"
    return json.loads(out.strip().splitlines()[-1])


def test_reference_matches_hand_worked_expectation():
    assert (reference_lif(SPIKES_IN, WEIGHTS, DU, DV, VTH) == EXPECTED_OUT).all()


def test_versions_and_imports():
    info = run_python("""
        import importlib.metadata as md, importlib.util, json, sys
        import lava.magma
        import lava.lib.dl.netx
        import lava.lib.dl.slayer as slayer
        import snntorch, nir, nirtorch, torch, numpy
        dists = ["lava-nc", "lava-dl", "torch", "numpy", "nir", "nirtorch", "snntorch",
                 "onnx", "onnxruntime", "onnxscript", "h5py"]
        print(json.dumps({
            "versions": {d: md.version(d) for d in dists},
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "obd_loaded": "lava.lib.dl.slayer.object_detection" in sys.modules,
            "slayer_has_block": hasattr(slayer, "block"),
        }))
    """)
    v = info["versions"]
    assert v["lava-nc"] == "0.10.0+py311"
    assert v["lava-dl"] == "0.6.0+py311"
    assert info["torch"] == v["torch"] == "2.13.0+cpu"
    assert int(info["numpy"].split(".")[0]) < 2  # numpy 2 makes Lava hang (install.md section 6.1)
    assert (v["nir"], v["nirtorch"], v["snntorch"]) == ("1.0.8", "2.6", "1.0.0")
    assert (v["onnx"], v["onnxruntime"], v["onnxscript"], v["h5py"]) == (
        "1.23.2", "1.32.0", "0.7.2", "3.16.0")
    assert info["slayer_has_block"]
    assert not info["obd_loaded"], "slayer.object_detection must be imported lazily"


def test_no_installed_top_level_tests_package():
    # The PyPI wheels ship a top-level `tests` package; the repack leaves it out. Isolated mode
    # (-I) and another cwd, so that only site-packages is searched.
    proc = subprocess.run(
        [sys.executable, "-I", "-c",
         "import importlib.util; print(importlib.util.find_spec('tests') is None)"],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=os.path.dirname(sys.executable))
    assert proc.stdout.strip() == "True", proc.stderr


def test_tiny_lava_fixed_pt_run():
    result = run_python(f"""
        import json
        import numpy as np
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.dense.process import Dense
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
        from lava.proc.lif.process import LIF

        spikes = np.array({SPIKES_IN.tolist()})
        weights = np.array({WEIGHTS.tolist()})
        n_steps = spikes.shape[1]
        src = Source(data=spikes)
        dense = Dense(weights=weights)
        lif = LIF(shape=(weights.shape[0],), du={DU}, dv={DV}, vth={VTH},
                  bias_mant=0, bias_exp=0)
        sink = Sink(shape=(weights.shape[0],), buffer=n_steps)
        src.s_out.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        lif.s_out.connect(sink.a_in)
        try:
            src.run(condition=RunSteps(num_steps=n_steps),
                    run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            data = sink.data.get()
        finally:
            src.stop()
        print(json.dumps({{"spikes": np.asarray(data).astype(int).tolist()}}))
    """)
    got = np.array(result["spikes"])
    assert got.shape == EXPECTED_OUT.shape
    assert (got == EXPECTED_OUT).all(), f"sink spikes:\n{got}\nexpected:\n{EXPECTED_OUT}"
    assert got.sum() == 9

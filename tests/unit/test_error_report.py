"""The per-layer quantization-error report: float reference vs emulator."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.backends import emulator
from snnc.backends.emulator import fast
from snnc.calibration.methods import calibrate_graph
from snnc.calibration.trace import chip_traces
from snnc.cli import main
from snnc.driver import compile_with
from snnc.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "mlp.nir"
X = np.load(ROOT / "examples" / "mlp_input.npz")["x"]


@pytest.fixture(scope="module")
def prog():
    return snnc.compile(MODEL)


def _with(prog, syn: str, **changes):
    """A copy of ``prog`` with one synapse block's registers changed."""
    nodes = dict(prog.graph.nodes)
    nodes[syn] = dataclasses.replace(prog.graph[syn], **changes)
    from snnc.compiler.ir.graph import Graph

    g = Graph(nodes, list(prog.graph.edges), dict(prog.graph.meta))
    p = snnc.Program(g, prog.convention, prog.target, prog.latency, prog.layers)
    p.reference = prog.reference
    return p


def test_chip_traces_are_the_emulator_spike_for_spike(prog, monkeypatch):
    tr = chip_traces(prog.graph, X, X.shape[1])
    for enabled in (True, False):
        monkeypatch.setattr(fast, "ENABLED", enabled)
        raw = emulator.run(prog.graph, np.concatenate([X] * 3), X.shape[1] + 2)  # 12 samples: fast path
        for c, t in tr.items():
            k = prog.graph[c].start_step
            np.testing.assert_array_equal(raw.spikes[c][:4, k : k + X.shape[1]].reshape(t.spikes.shape), t.spikes)


def test_report_counts_match_both_simulators(prog):
    r = prog.report(X)
    assert [layer.name for layer in r.layers] == ["lif1", "lif2"]
    ref = snnc.simulate(MODEL, X)  # the output layer lif2
    y = prog.run(X)
    lif2 = r.layer("lif2")
    assert lif2.spikes_float == int(ref.sum()) and lif2.spikes_fixed == int(y.sum())
    assert lif2.agreement == pytest.approx(np.mean(ref == y))
    want = np.abs(y.sum(1).astype(int) - ref.sum(1)).sum() / ref.sum()
    assert lif2.spike_count_error == pytest.approx(want)
    assert all(layer.u_wraps == layer.int32_wraps == layer.v_saturated == 0 for layer in r.layers)
    assert r.worst is not None and r.worst.hints


def test_report_names_a_deliberately_misscaled_layer_and_says_why(prog):
    """lif2 at 1/1024 of its scale: its threshold mantissa drops below 8 bits (vth ~ 15)."""
    cal = calibrate_graph(prog.reference, X, prog.convention, prog.target, "max")
    good = compile_with(prog.reference, prog.convention, prog.target, cal)
    cal["lif2"] = dataclasses.replace(cal["lif2"], scale_factor=1 / 1024)
    bad = compile_with(prog.reference, prog.convention, prog.target, cal)
    rg, rb = good.report(X), bad.report(X)
    assert rb.worst.name == "lif2"
    assert rb.layer("lif2").vth < 256
    assert rb.layer("lif2").own_error > 3 * max(rg.layer("lif2").own_error, 0.01) > 0
    assert rb.layer("lif1").own_error == pytest.approx(rg.layer("lif1").own_error)
    assert any("threshold too small for the 17-bit mantissa" in h for h in rb.layer("lif2").hints)


def test_wrap_and_saturation_counters_fire_on_a_constructed_overflow(prog):
    """weight_exp 3 -> 7 (16x): lif1's current u passes 2^23 and wraps; the spikes the
    instrumented loop computes are still exactly the emulator's."""
    hot = _with(prog, "lif1:syn", weight_exp=7)
    r = hot.report(X)
    assert r.layer("lif1").u_wraps > 0
    assert any("24-bit current u wrapped" in h for h in r.layer("lif1").hints)
    assert r.worst.name == "lif1"
    raw = emulator.run(hot.graph, X, X.shape[1] + 2)
    tr = chip_traces(hot.graph, X, X.shape[1])
    np.testing.assert_array_equal(raw.spikes["lif1"][:, 1 : 1 + X.shape[1]], tr["lif1"].spikes)
    # weight_exp 17: a << 6 leaves int32 (Lava wraps it)
    wide = _with(prog, "lif1:syn", weight_exp=17)
    rw = wide.report(X)
    assert rw.layer("lif1").int32_wraps > 0 and any("int32" in h for h in rw.layer("lif1").hints)
    tr = chip_traces(wide.graph, X, X.shape[1])
    raw = emulator.run(wide.graph, X, X.shape[1] + 2)
    np.testing.assert_array_equal(raw.spikes["lif1"][:, 1 : 1 + X.shape[1]], tr["lif1"].spikes)
    # strong negative weights into lif2 at the top exponent: v clips at -(2^23 - 1)
    w = -np.abs(np.asarray(prog.graph["lif2:syn"].weights))
    cold = _with(prog, "lif2:syn", weights=w, weight_exp=7)
    assert cold.report(X).layer("lif2").v_saturated > 0


def test_json_text_plot_and_cli(prog, tmp_path, capsys):
    r = prog.report(X)
    d = json.loads(r.to_json(tmp_path / "r.json"))
    assert d["worst_layer"] == r.worst.name and len(d["layers"]) == 2
    assert json.loads((tmp_path / "r.json").read_text()) == d
    assert "worst layer" in r.text()
    png = r.plot(tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "p"
    assert main(["compile", str(MODEL), "-o", str(out), "--calibration", str(ROOT / "examples" / "mlp_input.npz")]) == 0
    assert "quantization error (float vs fixed" in capsys.readouterr().out
    assert main(["report", str(out), "--input", str(ROOT / "examples" / "mlp_input.npz"), "--json",
                 str(tmp_path / "c.json"), "--plot", str(tmp_path / "c.png")]) == 0
    assert "worst layer" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["samples"] == 4


def test_report_needs_a_float_model_and_good_input(prog, tmp_path):
    p = snnc.Program(prog.graph, prog.convention, prog.target, prog.latency, prog.layers)
    with pytest.raises(InputError, match="no float reference"):
        p.report(X)
    with pytest.raises(InputError):
        prog.report(X[:, :, :10])



def test_conv_wrap_counter_counts_lavas_24_bit_output():
    """A shared-kernel Conv block whose sums leave Lava's signed 24-bit output (``signed_clamp``):
    the report counts exactly the sums a scipy correlation puts out of range, names the layer
    with the hint, and the instrumented loop's spikes stay the emulator's."""
    from scipy.signal import correlate

    from snnc.compiler.ir import loihi, ops
    from snnc.compiler.ir.graph import Graph

    rng = np.random.default_rng(0)
    c_in, h = 2, 6
    kernel = rng.normal(0.3, 0.5, (3, c_in, 3, 3))
    nodes = {
        "in": ops.Input(shape=(c_in, h, h)),
        "conv": ops.Conv2d((h, h), kernel, (1, 1), (0, 0), (1, 1), 1, np.zeros(3)),
        "if1": ops.IF(r=np.full((3, 4, 4), 1e4), v_threshold=np.ones((3, 4, 4)), v_reset=np.zeros((3, 4, 4))),
        "out": ops.Output(shape=(3, 4, 4)),
    }
    g = Graph(nodes, [("in", "conv"), ("conv", "if1"), ("if1", "out")])
    prog = snnc.compile(g)
    (syn,) = [n for n in prog.graph.of_kind(loihi.ConvSynapse)]
    x = (rng.random((3, 12, c_in, h, h)) < 0.5).astype(np.uint8)
    assert prog.report(x).layer("if1").conv_wraps == 0
    big = np.asarray(prog.graph[syn].weights, dtype=np.int64) * 2**17  # Lava's Conv clips nothing
    hot = _with(prog, syn, weights=big)
    r = hot.report(x)
    # the sums Lava computes: a valid cross-correlation of each step's spikes with the kernel
    acc = np.stack([
        np.stack([sum(correlate(x[b, t, c].astype(np.int64), big[o, c], mode="valid") for c in range(c_in))
                  for o in range(big.shape[0])])
        for b in range(x.shape[0]) for t in range(x.shape[1])
    ])
    want = int(np.count_nonzero((acc < -2**23) | (acc >= 2**23)))
    assert want > 0 and r.layer("if1").conv_wraps == want
    assert any("24-bit output" in hint for hint in r.layer("if1").hints)
    tr = chip_traces(hot.graph, x, x.shape[1])
    raw = emulator.run(hot.graph, x, x.shape[1] + 1)
    np.testing.assert_array_equal(raw.spikes["if1"][:, 1:].reshape(tr["if1"].spikes.shape), tr["if1"].spikes)

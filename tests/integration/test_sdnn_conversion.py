"""ONNX ANN -> sigma-delta network (``neuron="sdnn"``): the float model, the threshold search,
the encoder and the option plumbing.

A tiny digits CNN is trained here in about a second (sklearn digits, torch) and exported with
``torch.onnx.export``; nothing is written outside pytest's tmp directories.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import snnc
from snnc.backends.reference import simulate
from snnc.calibration.balance import ann_forward
from snnc.calibration.sigma_delta import VTH_GRID, convert_sdnn, with_threshold
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.encoding import DeltaEncoder, encoder_from_json
from snnc.errors import CalibrationError, FrontendError, InputError, ValidationError


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(x))
    x = (x[idx] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return x[:1200], y[idx][:1200], x[1200:1400], y[idx][1200:1400]


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    import torch
    import torch.nn as nn

    xtr, ytr, xte, yte = _digits()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                      nn.Linear(96, 24), nn.ReLU(), nn.Linear(24, 10))
    opt = torch.optim.Adam(m.parameters(), 5e-3)
    xt, yt = torch.tensor(xtr), torch.tensor(ytr)
    for _ in range(6):
        for i in range(0, len(xt), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(xt[i : i + 64]), yt[i : i + 64]).backward()
            opt.step()
    m.eval()
    path = tmp_path_factory.mktemp("sdnn") / "cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (xt[:1],), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    return path, xtr, xte, yte


def _logits(path, x):
    g = snnc.load(path)
    return ann_forward(g, x)[g.of_kind(ops.Output)[0]]


def test_float_sdnn_at_theta_zero_is_the_ann_at_every_step(cnn):
    path, xtr, xte, _ = cnn
    r = convert_sdnn(snnc.load(path), xtr[:300], Convention(), threshold=0.0)
    kinds = {type(n) for n in r.graph.nodes.values()}
    assert {ops.Delta, ops.SigmaDelta, ops.Sigma} <= kinds and ops.IF not in kinds
    # biases live in the neurons: no linear op adds one (messages are changes)
    for n in r.graph.of_kind(ops.Affine, ops.Conv2d):
        assert not np.any(r.graph[n].bias)
    y = simulate(r.graph, r.encoder.encode(xte, timesteps=3))
    ann = _logits(path, xte)
    for t in range(3):
        np.testing.assert_allclose(y[:, t], ann, atol=1e-9)


def test_static_input_is_sent_once_and_sequences_step_by_step(cnn):
    path, xtr, xte, _ = cnn
    r = convert_sdnn(snnc.load(path), xtr[:300], Convention(), threshold=0.0)
    senders = r.graph.of_kind(ops.Delta, ops.SigmaDelta)
    rec = simulate(r.graph, r.encoder.encode(xte[:20], timesteps=4), record=senders)
    for s in senders:
        assert np.any(rec[s][:, 0]) and not np.any(rec[s][:, 1:]), s
    # a sequence of frames: the output follows each frame (θ = 0: exactly)
    seq = np.stack([xte[:10], xte[10:20], xte[10:20], xte[20:30]], axis=1)
    y = simulate(r.graph, r.encoder.encode(seq))
    for t in range(4):
        np.testing.assert_allclose(y[:, t], _logits(path, seq[:, t]), atol=1e-9)
    rec = simulate(r.graph, r.encoder.encode(seq), record=senders)
    assert not np.any(rec[senders[0]][:, 2])  # the repeated frame changes nothing: no message


def test_delta_threshold_semantics_on_a_hand_example():
    # Input -> Delta(θ = 0.1) -> Output:  y = 0.3, 0.35, 0.5, 0.5, 0.42
    # sent: 0.3 (≥ θ), 0 (0.05 < θ), 0.2 (0.5 − 0.3), 0, 0 (|0.42 − 0.5| < θ)
    g = Graph({"in": ops.Input(shape=(1,)), "d": ops.Delta(threshold=np.array([0.1])),
               "out": ops.Output(shape=(1,))}, [("in", "d"), ("d", "out")])
    y = simulate(g, np.array([0.3, 0.35, 0.5, 0.5, 0.42]).reshape(1, 5, 1))
    np.testing.assert_allclose(y.reshape(-1), [0.3, 0.0, 0.2, 0.0, 0.0], atol=1e-12)
    # a SigmaDelta sums what it receives, adds its bias, applies ReLU, and sends changes ≥ θ
    g = Graph({"in": ops.Input(shape=(1,)), "sd": ops.SigmaDelta(threshold=np.array([0.25]), bias=np.array([-0.5])),
               "out": ops.Output(shape=(1,))}, [("in", "sd"), ("sd", "out")])
    # σ = 1, 1.2, 0.7, 0.7 ; y = relu(σ − 0.5) = 0.5, 0.7, 0.2, 0.2 ; ŝ: 0.5, 0.5, 0.2, 0.2
    y = simulate(g, np.array([1.0, 0.2, -0.5, 0.0]).reshape(1, 4, 1))
    np.testing.assert_allclose(y.reshape(-1), [0.5, 0.0, -0.3, 0.0], atol=1e-12)


def test_threshold_search_takes_the_largest_theta_within_tolerance(cnn):
    path, xtr, _, _ = cnn
    r = convert_sdnn(snnc.load(path), xtr[:300], Convention(), tolerance=0.02)
    assert [row["vth"] for row in r.search] == list(VTH_GRID)
    base = r.search[0]["agreement"]
    ok = [row["vth"] for row in r.search if row["agreement"] >= base - 0.02]
    assert r.vth == max(ok)
    # a larger θ never sends more messages on static inputs (a wider dead zone)
    msgs = [row["messages"] for row in r.search]
    assert all(a >= b for a, b in zip(msgs, msgs[1:])) and msgs[-1] < msgs[0]
    thetas = {float(np.unique(r.graph[n].threshold)[0]) for n in r.graph.of_kind(ops.Delta, ops.SigmaDelta)}
    assert thetas == {r.vth / 64}
    assert r.graph.meta["ann"]["search"] == r.search
    strict = convert_sdnn(snnc.load(path), xtr[:300], Convention(), tolerance=0.0)
    assert strict.vth <= r.vth
    assert strict.search[[row["vth"] for row in strict.search].index(strict.vth)]["agreement"] >= base


def test_units_keep_conv_kernels_on_lava_convs_grid(cnn):
    path, xtr, _, _ = cnn
    r = convert_sdnn(snnc.load(path), xtr[:300], Convention(), threshold=0.0)
    for n in r.graph.of_kind(ops.Conv2d):
        assert np.max(np.abs(r.graph[n].weight)) * 64 <= 254 + 1e-9


def test_delta_encoder_round_trips_and_refuses_bad_input():
    enc = DeltaEncoder((1, 2), 0.5, 3)
    q = enc.encode(np.array([[[0.25, -0.5]]]))
    assert q.dtype == np.int32 and q.shape == (1, 3, 1, 2)
    np.testing.assert_array_equal(q[0, :, 0], [[32, -64]] * 3)  # x / 0.5 · 64, held 3 steps
    seq = enc.encode(np.zeros((2, 5, 1, 2)))
    assert seq.shape == (2, 5, 1, 2)
    # encoded once: int32 sequences are what encode returns, model values are anything else
    assert not enc.is_static(seq) and enc.is_static(seq.astype(np.float32)) and enc.is_static(q[:, 0])
    back = encoder_from_json(json.loads(json.dumps(enc.to_json())))
    assert back == enc
    with pytest.raises(FrontendError, match="unknown encoder kind"):
        encoder_from_json({"kind": "morse"})
    with pytest.raises(FrontendError, match="scale"):
        encoder_from_json({**enc.to_json(), "scale": -1})
    with pytest.raises(InputError, match="expected static inputs"):
        enc.encode(np.zeros((2, 3)))
    with pytest.raises(InputError, match="finite"):
        enc.encode(np.full((1, 1, 2), np.nan))


def test_compile_options_are_checked(cnn):
    path, xtr, _, _ = cnn
    with pytest.raises(CalibrationError, match="sigma-delta"):
        snnc.compile(path, neuron="sdnn")
    with pytest.raises(ValidationError, match="neuron='sdnn'"):
        snnc.compile(path, calibration=xtr[:50], threshold=0.1)
    with pytest.raises(ValidationError, match="neuron="):
        snnc.compile(path, calibration=xtr[:50], neuron="lif")
    with pytest.raises(ValidationError, match="threshold"):
        snnc.compile(path, calibration=xtr[:50], neuron="sdnn", threshold=-1.0)
    with pytest.raises(ValidationError, match="calibration_method='search' applies to LIF programs"):
        snnc.compile(path, calibration=xtr[:50], neuron="sdnn", calibration_method="search")
    with pytest.raises(ValidationError, match="split_weights=True applies to LIF programs"):
        snnc.compile(path, calibration=xtr[:50], neuron="sdnn", split_weights=True)
    g = convert_sdnn(snnc.load(path), xtr[:50], Convention(), threshold=0.0).graph
    with pytest.raises(ValidationError, match="already a spiking network"):
        snnc.compile(g, calibration=xtr[:50], neuron="sdnn")
    assert with_threshold(g, 0.5) is not g


# ----------------------------------------------------------------------------- compiled programs
@pytest.fixture(scope="module")
def compiled(cnn):
    path, xtr, _, _ = cnn
    return snnc.compile(path, calibration=xtr[:300], neuron="sdnn")


def test_compiled_sdnn_is_the_dead_zone_integer_ann_after_depth_plus_one_steps(cnn, compiled):
    from snnc.calibration.sigma_delta import one_shot_integer_ann
    from snnc.compiler.ir import loihi

    _, _, xte, yte = cnn
    prog = compiled
    kinds = {prog.graph[n].neuron for n in prog.graph.of_kind(loihi.SigmaDeltaCompartment)}
    assert kinds == {"delta", "sigma_delta", "sigma"}
    assert all(prog.graph[s].num_message_bits == 16 for s in prog.graph.of_kind(loihi.Synapse, loihi.ConvSynapse))
    (o,) = prog.outputs
    depth = prog.latency[o]
    assert depth == 3  # Delta -> conv -> SigmaDelta -> dense -> SigmaDelta -> dense -> Sigma
    raw = prog.run(xte, return_raw=True)  # static input, one step: depth + 1 raw steps
    assert raw.steps == depth + 1
    src = prog.probed(o)
    out = raw.payload[src][:, depth].reshape(len(xte), -1) / prog.graph[src].out_scale
    q = prog.encoder.encode(xte)[:, 0]
    np.testing.assert_array_equal(out, one_shot_integer_ann(prog, q, deadzone=True))
    # nothing reaches the read-out before the input wave does (bias relays, no bias waves)
    assert not np.any(raw.payload[src][:, :depth])
    y = prog.run(xte)
    assert y.shape == (len(xte), 1, 10) and y.dtype == np.float64
    np.testing.assert_array_equal(y[:, 0], out)
    ann = float((_logits(cnn[0], xte).argmax(-1) == yte).mean())
    quantized = float((one_shot_integer_ann(prog, q).argmax(-1) == yte).mean())
    sdnn = float((y[:, 0].argmax(-1) == yte).mean())
    assert abs(sdnn - quantized) <= 0.01 and abs(quantized - ann) <= 0.03, (sdnn, quantized, ann)


def test_compiled_sdnn_follows_a_sequence_and_round_trips(cnn, compiled, tmp_path):
    from snnc.calibration.sigma_delta import output_agreement

    _, _, xte, _ = cnn
    prog = compiled
    seq = np.stack([xte[:20], xte[20:40], xte[20:40], xte[40:60]], axis=1)  # (20, 4, 1, 8, 8)
    y = prog.run(seq)
    assert y.shape == (20, 4, 10)
    np.testing.assert_array_equal(prog.run(prog.encode(seq)), y)  # encoded once, not twice
    r = output_agreement(prog, seq)
    assert r["agreement"] >= 0.95 and r["max_abs_difference"] < 0.1 * r["scale"], r
    prog.save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "program.json").read_text())
    assert meta["encoder"]["kind"] == "delta"
    back = snnc.Program.load(tmp_path / "p")
    np.testing.assert_array_equal(back.run(seq), y)


def test_cli_compile_sdnn_and_run(cnn, tmp_path, capsys):
    from snnc.cli import main

    path, xtr, xte, _ = cnn
    np.savez(tmp_path / "cal.npz", x=xtr[:100])
    np.savez(tmp_path / "x.npz", x=xte[:5])
    out = tmp_path / "out"
    assert main(["compile", str(path), "--neuron", "sdnn", "--threshold", "0.0625", "--calibration",
                 str(tmp_path / "cal.npz"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "delta encoder" in text and "argmax agreement" in text
    back = snnc.Program.load(out)
    from snnc.compiler.ir import loihi

    assert {back.graph[n].vth for n in back.graph.of_kind(loihi.SigmaDeltaCompartment)
            if back.graph[n].neuron != "sigma" and back.graph[n].meta.get("role") != "bias"} == {4}
    assert main(["run", str(out), "--input", str(tmp_path / "x.npz"), "-o", str(tmp_path / "y.npz")]) == 0
    assert np.load(tmp_path / "y.npz")["x"].shape == (5, 1, 10)
    capsys.readouterr()
    assert main(["compile", str(path), "--neuron", "sdnn", "--calibration", str(tmp_path / "cal.npz"),
                 "--emit", "netx", "-o", str(tmp_path / "m.net")]) == 2
    assert "cannot be written as lava-dl netx" in capsys.readouterr().err
    assert not (tmp_path / "m.net").exists()
    # an ONNX step model of the program (sd-core's exporter) carries the delta encoder and runs alike
    assert main(["compile", str(path), "--neuron", "sdnn", "--threshold", "0.0625", "--calibration",
                 str(tmp_path / "cal.npz"), "--emit", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    step = snnc.load(tmp_path / "m.onnx")
    np.testing.assert_array_equal(step.run(xte[:5]), back.run(xte[:5]))


@pytest.mark.lava
def test_compiled_sdnn_on_lava_equals_the_emulator(cnn, compiled):
    """Every population's graded payload (and the read-out's sigma), step by step, on a static
    input and on a sequence: the emulator against Lava 0.10's fixed_pt models themselves."""
    from snnc.compiler.ir import loihi

    _, _, xte, _ = cnn
    prog = compiled
    seq = np.stack([xte[:2], xte[2:4], xte[2:4]], axis=1)
    for x in (xte[:3], seq):
        emu = prog.run(x, return_raw=True)
        lava = prog.run(x, backend="lava", return_raw=True, timeout=240)
        names = prog.graph.of_kind(loihi.SigmaDeltaCompartment)
        assert set(names) <= set(lava.payload), sorted(set(names) - set(lava.payload))
        for n in names:
            np.testing.assert_array_equal(lava.payload[n], emu.payload[n], err_msg=n)
        assert any(np.any(emu.payload[n]) for n in names)


def test_bias_register_mode_sends_bias_waves_ahead_of_the_input(cnn):
    from snnc.compiler.ir import loihi

    path, xtr, xte, _ = cnn
    c = convert_sdnn(snnc.load(path), xtr[:300], Convention(), threshold=0.0, bias="register")
    prog = snnc.compile(c.graph)
    prog.encoder = c.encoder
    g = prog.graph
    hidden = [n for n in g.of_kind(loihi.SigmaDeltaCompartment) if g[n].neuron == "sigma_delta"
              and g[n].meta.get("role") != "bias"]
    assert hidden and all(g[n].bias is not None and np.any(g[n].bias) for n in hidden)
    assert not any(p.endswith(":bias") for n in hidden for p in g.predecessors(n))  # no relay columns
    (o,) = prog.outputs
    raw = prog.run(xte[:20], return_raw=True)
    assert np.any(raw.payload[prog.probed(o)][:, : prog.latency[o]])  # the waves reach the read-out early
    with pytest.raises(ValidationError, match="bias="):
        convert_sdnn(snnc.load(path), xtr[:50], Convention(), threshold=0.0, bias="late")


@pytest.mark.parametrize("arch", ["mlp", "two_convs_stride2", "large_conv_kernel"])
def test_dead_zone_ann_equality_holds_across_architectures(arch, tmp_path):
    """Untrained nets of other shapes (no pooling, a stride-2 shared kernel, a kernel 20x too large
    for the grid at unit scale: the units absorb it): the read-out after depth + 1 steps is the
    one-shot dead-zone integer ANN, bit for bit, at θ = 0 and at the searched θ."""
    import torch
    import torch.nn as nn

    from snnc.calibration.sigma_delta import one_shot_integer_ann

    xtr, _, xte, _ = _digits()
    torch.manual_seed(1)
    m = {
        "mlp": lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                                     nn.Linear(16, 10)),
        "two_convs_stride2": lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                                                   nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                                                   nn.Linear(96, 10)),
        "large_conv_kernel": lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                                                   nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                                                   nn.Linear(64, 10)),
    }[arch]().eval()
    if arch == "large_conv_kernel":
        with torch.no_grad():
            m[3].weight.mul_(20)
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.tensor(xtr[:1]),), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    x = xte[:60]
    for theta in (0.0, None):
        prog = snnc.compile(path, calibration=xtr[:300], neuron="sdnn", threshold=theta)
        (o,) = prog.outputs
        depth, src = prog.latency[o], prog.probed(o)
        raw = prog.run(x, return_raw=True)
        out = raw.payload[src][:, depth].reshape(len(x), -1) / prog.graph[src].out_scale
        np.testing.assert_array_equal(out, one_shot_integer_ann(prog, prog.encoder.encode(x)[:, 0], deadzone=True))
        assert not np.any(raw.payload[src][:, :depth])
        with torch.no_grad():
            ann = m(torch.tensor(x)).numpy()
        assert np.max(np.abs(out - ann)) < 0.05 * np.max(np.abs(ann)) + 0.02


def test_compiled_sdnn_is_placed_and_its_graded_messages_are_profiled(cnn, compiled):
    """The partition and resource passes run on converted programs (sigma-delta state counted
    per core), so the profiler uses the program's own placement and charges graded messages."""
    _, _, xte, _ = cnn
    assert compiled.placement is not None
    kinds = {type(compiled.graph[n]).__name__ for n in compiled.placement.core_of}
    assert "SigmaDeltaCompartment" in kinds
    rep = compiled.profile(xte[:4])
    assert not any("no placement" in n for n in rep.notes)
    c = rep.counts
    assert c.graded_synops > 0 and c.synops == 0
    assert sum(layer.dynamic_J["graded_synops"] for layer in rep.estimate.layers) > 0


def test_netx_export_of_a_converted_program_names_the_bias_relays(compiled, tmp_path):
    from snnc.errors import BackendError

    with pytest.raises(BackendError, match="incoming blocks") as e:
        compiled.export_netx(tmp_path / "x.net")
    assert "relay" in e.value.hint and "bias='register'" in e.value.hint
    assert not (tmp_path / "x.net").exists()

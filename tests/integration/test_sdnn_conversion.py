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
    g = convert_sdnn(snnc.load(path), xtr[:50], Convention(), threshold=0.0).graph
    with pytest.raises(ValidationError, match="already a spiking network"):
        snnc.compile(g, calibration=xtr[:50], neuron="sdnn")
    assert with_threshold(g, 0.5) is not g

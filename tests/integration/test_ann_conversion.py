"""A digits ReLU MLP (and a tiny CNN) through the ANN contract: ONNX → balanced IF → Loihi 2.

    g = snnc.load("mlp.onnx"); prog = snnc.compile(g, calibration=X_cal, timesteps=T)
    y = prog.run(X)              # (batch, T, n_classes); pred = y.sum(axis=1).argmax(-1)

The nets are trained here in about a second (sklearn digits, torch), exported with
``torch.onnx.export``, and nothing is written outside pytest's tmp directories.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import snnc


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(x))
    x = (x[idx] / 16.0).astype(np.float32)
    return x[:1200], y[idx][:1200], x[1200:1500], y[idx][1200:1500]


def _train_and_export(make, x, y, path, epochs=12):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny nets: threads only contend
    m = make()
    opt = torch.optim.Adam(m.parameters(), 5e-3)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(epochs):
        for i in range(0, len(xt), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(xt[i : i + 64]), yt[i : i + 64]).backward()
            opt.step()
    m.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (xt[:1],), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    return m


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    import torch.nn as nn

    xtr, ytr, xte, yte = _digits()
    path = tmp_path_factory.mktemp("ann") / "mlp.onnx"
    m = _train_and_export(lambda: nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10)), xtr, ytr, path)
    import torch

    with torch.no_grad():
        ann = float((m(torch.tensor(xte)).argmax(-1).numpy() == yte).mean())
    return path, xtr, xte, yte, ann


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    import torch.nn as nn

    xtr, ytr, xte, yte = _digits()
    xtr, xte = xtr.reshape(-1, 1, 8, 8), xte.reshape(-1, 1, 8, 8)
    path = tmp_path_factory.mktemp("ann") / "cnn.onnx"
    _train_and_export(lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10)),
        xtr, ytr, path, epochs=4)
    return path, xtr, xte


def test_converted_mlp_accuracy_is_close_to_the_ann(mlp):
    path, xtr, xte, yte, ann = mlp
    assert ann > 0.9
    prog = snnc.compile(snnc.load(path), target="loihi2", calibration=xtr[:300], timesteps=16)
    y = prog.run(xte)
    assert y.shape == (len(xte), 16, 10) and prog.timesteps == 16
    acc = float((y.sum(axis=1).argmax(-1) == yte).mean())
    assert acc >= ann - 0.03, (acc, ann)


def test_program_with_encoder_round_trips(mlp, tmp_path):
    path, xtr, xte, _, _ = mlp
    prog = snnc.compile(path, calibration=xtr[:100], timesteps=8)
    prog.save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "program.json").read_text())
    assert meta["encoder"]["kind"] == "rate" and meta["encoder"]["timesteps"] == 8
    back = snnc.Program.load(tmp_path / "p")
    np.testing.assert_array_equal(back.run(xte[:20]), prog.run(xte[:20]))
    # spikes still go in as spikes
    np.testing.assert_array_equal(back.run(back.encode(xte[:20])), prog.run(xte[:20]))


def test_cli_compile_onnx_with_timesteps_and_run(mlp, tmp_path, capsys):
    from snnc.cli import main

    path, xtr, xte, _, _ = mlp
    np.savez(tmp_path / "cal.npz", x=xtr[:100])
    np.savez(tmp_path / "x.npz", x=xte[:5])
    out = tmp_path / "out"
    assert main(["compile", str(path), "--timesteps", "8", "--calibration", str(tmp_path / "cal.npz"),
                 "-o", str(out)]) == 0
    assert "CubaLIF" in capsys.readouterr().out
    assert main(["run", str(out), "--input", str(tmp_path / "x.npz"), "-o", str(tmp_path / "y.npz")]) == 0
    assert np.load(tmp_path / "y.npz")["x"].shape == (5, 8, 10)
    assert main(["compile", str(path), "-o", str(tmp_path / "o2")]) == 2  # no calibration data
    assert "calibration" in capsys.readouterr().err


@pytest.mark.lava
@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_emulator_and_lava_spikes_are_equal(which, mlp, cnn):
    from snnc.check import compare_backends

    path, xtr, xte = (mlp[0], mlp[1], mlp[2]) if which == "mlp" else cnn
    prog = snnc.compile(path, calibration=xtr[:100], timesteps=10)
    comparison = compare_backends(prog, prog.encode(xte[:3]), timeout=120)
    assert comparison.agree, comparison.text()
    assert sum(r["spikes_a"] for r in comparison.layers.values()) > 0

"""ANN → SNN conversion accuracy: ONNX ReLU networks converted, calibrated and run on the emulator.

For each data set (sklearn digits; mnist1d, generated offline with the package's own generator and
default arguments) and model (a ReLU MLP and a small CNN, trained here with torch, exported with
``torch.onnx.export``), the contract path is measured side by side with the ANN::

    g = snnc.load("model.onnx")
    prog = snnc.compile(g, target="loihi2", calibration=X_cal, timesteps=T)
    pred = prog.run(X_test).sum(axis=1).argmax(-1)          # emulator, Loihi 2 fixed point

for T in {8, 16, 32, 64}, and the smallest T whose accuracy is within 1 pp of the ANN's is
reported.  ``--ablation`` also measures the conversion choices on one model per data set at
T = 32 and 64: Loihi's plain reset to zero vs the reset-by-subtraction neuron, the activation
percentile, the per-layer threshold search, and the float SNN (no quantization).

    .venv/bin/python benchmarks/bench_accuracy_ann.py [--ablation] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

TIMESTEPS = (8, 16, 32, 64)
CAL_SAMPLES = 500


# --------------------------------------------------------------------------- data
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(x))
    x = (x[idx] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y[idx]
    return x[:1297], y[:1297], x[1297:], y[1297:]


def mnist1d():
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())  # the package's generator, default args (no download)
    return (d["x"].astype(np.float32)[:, None], d["y"], d["x_test"].astype(np.float32)[:, None], d["y_test"])


# --------------------------------------------------------------------------- models
def models(dataset: str):
    import torch.nn as nn

    if dataset == "digits":
        return {
            "MLP 64-128-64-10": lambda: nn.Sequential(
                nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)),
            "CNN c8-p-c16-p-fc": lambda: nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10)),
        }
    return {
        "MLP 40-256-256-10": lambda: nn.Sequential(
            nn.Flatten(), nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)),
        "CNN1d c16-p-c32-p-fc64": lambda: nn.Sequential(
            nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.AvgPool1d(2), nn.Conv1d(16, 32, 5, padding=2),
            nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(320, 64), nn.ReLU(), nn.Linear(64, 10)),
    }


def train(make, x, y, epochs: int, seed: int = 0):
    """Adam, cross-entropy, mini-batches of 64; eval mode afterwards."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    m = make()
    opt = torch.optim.Adam(m.parameters(), 2e-3, weight_decay=1e-4)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            b = perm[i : i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(xt[b]), yt[b]).backward()
            opt.step()
    return m.eval()


def export(m, x, path: Path) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.tensor(x[:1]),), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}})


def ann_accuracy(m, x, y) -> float:
    import torch

    with torch.no_grad():
        return float((m(torch.tensor(x)).argmax(-1).numpy() == y).mean())


# --------------------------------------------------------------------------- measurements
def snn_accuracy(prog, x, y) -> float:
    return float((prog.run(x).sum(axis=1).argmax(-1) == y).mean())


def contract(path: Path, xcal, xte, yte, timesteps) -> dict[int, tuple[float, float]]:
    """Accuracy and compile+run seconds per T through snnc.load/compile/run."""
    import snnc

    out = {}
    for t in timesteps:
        t0 = time.perf_counter()
        prog = snnc.compile(snnc.load(path), target="loihi2", calibration=xcal, timesteps=t)
        out[t] = (snn_accuracy(prog, xte, yte), time.perf_counter() - t0)
    return out


def ablation(path: Path, xcal, xte, yte, timesteps) -> list[tuple[str, dict[int, float]]]:
    """Conversion variants (snnc.calibration.balance.convert options) on the emulator."""
    import snnc
    from snnc.calibration import balance
    from snnc.compiler.discretize import Convention

    g = snnc.load(path)
    variants = [
        ("reset subtract, p99.9 (default)", dict()),
        ("reset zero (Lava LIF), p99.9", dict(reset="zero")),
        ("reset zero, p100 (max, Diehl 2015)", dict(reset="zero", percentile=100.0)),
        ("reset zero, p99.9, threshold search", dict(reset="zero", thresholds="search")),
        ("reset subtract, p99.99", dict(percentile=99.99)),
        ("reset subtract, p100 (max)", dict(percentile=100.0)),
    ]
    rows = []
    for label, kw in variants:
        accs = {}
        for t in timesteps:
            c = balance.convert(g, xcal, Convention(), t, **kw)
            prog = snnc.compile(c.graph, calibration=c.spikes[: balance.QUANTIZER_SAMPLES])
            prog.encoder = c.encoder
            accs[t] = snn_accuracy(prog, xte, yte)
            if label.endswith("(default)"):
                ref = snnc.simulate(c.graph, c.encoder.encode(xte)).sum(axis=1).argmax(-1)
                accs[f"float {t}"] = float((ref == yte).mean())
        rows.append((label, accs))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", nargs="+", default=["digits", "mnist1d"], choices=["digits", "mnist1d"])
    p.add_argument("--ablation", action="store_true", help="also compare conversion choices (T=32, 64)")
    p.add_argument("--quick", action="store_true", help="fewer training epochs (smoke run)")
    a = p.parse_args(argv)
    from tqdm import tqdm

    print(f"ANN -> SNN conversion on the emulator (Loihi 2 fixed point); calibration: {CAL_SAMPLES} "
          "training samples; accuracy on the held-out test set")
    header = f"{'data set':<9} {'model':<24} {'ANN':>6} " + " ".join(f"{'T=' + str(t):>7}" for t in TIMESTEPS) \
        + "  T(<=1pp)  compile+run s (T=64)"
    lines = [header]
    ablations = []
    with tempfile.TemporaryDirectory(prefix="snnc-bench-ann-") as tmp:
        jobs = [(ds, name, make) for ds in a.dataset for name, make in models(ds).items()]
        for ds, name, make in tqdm(jobs, desc="models", disable=not sys.stderr.isatty()):
            xtr, ytr, xte, yte = digits() if ds == "digits" else mnist1d()
            epochs = (40 if ds == "digits" else 60) // (8 if a.quick else 1)
            m = train(make, xtr, ytr, epochs)
            ann = ann_accuracy(m, xte, yte)
            path = Path(tmp) / f"{ds}-{name.split()[0]}.onnx"
            export(m, xtr, path)
            xcal = xtr[:CAL_SAMPLES]
            res = contract(path, xcal, xte, yte, TIMESTEPS)
            within = [t for t in TIMESTEPS if res[t][0] >= ann - 0.01]
            lines.append(
                f"{ds:<9} {name:<24} {100 * ann:6.1f} " + " ".join(f"{100 * res[t][0]:7.1f}" for t in TIMESTEPS)
                + f"  {str(within[0]) if within else '>64':>8}  {res[TIMESTEPS[-1]][1]:.1f}"
            )
            print(lines[-1], flush=True)
            if a.ablation and name.startswith("MLP" if ds == "mnist1d" else "CNN"):
                ablations.append((ds, name, ann, ablation(path, xcal, xte, yte, (32, 64))))
    print("\n" + "\n".join(lines))
    for ds, name, ann, rows in ablations:
        print(f"\nablation: {ds} {name} (ANN {100 * ann:.1f} %), emulator accuracy %")
        print(f"{'variant':<40} {'T=32':>6} {'T=64':>6}")
        for label, accs in rows:
            print(f"{label:<40} {100 * accs[32]:6.1f} {100 * accs[64]:6.1f}")
            if "float 32" in accs:
                print(f"{'  same, float SNN (no quantization)':<40} {100 * accs['float 32']:6.1f} {100 * accs['float 64']:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

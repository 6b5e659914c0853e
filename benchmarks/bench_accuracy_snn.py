"""Accuracy benchmark (2): a directly trained float SNN deployed on Loihi 2 fixed point.

    .venv/bin/python benchmarks/bench_accuracy_snn.py [--epochs 40] [--steps 25] [--repeats 3]

An snnTorch LIF MLP (64 → 128 → 10, per-neuron β and thresholds, reset to zero) is trained with
surrogate gradients on sklearn's 8x8 digits (1437 train / 360 test, fixed split), inputs
rate-coded as Bernoulli spikes p = pixel/16 over ``--steps`` steps, prediction = the output
layer's spike count (argmax).  It is exported to NIR with snnTorch's own exporter and then

* the float SNN is run by snnc's float reference (``snnc.simulate``, equal to snnTorch's forward
  pass spike for spike);
* the network is compiled with no calibration and with each calibration method
  (``max``, ``percentile``, ``search``; calibration data = 64 training samples) and run on the
  bit-exact emulator.

All of them see the same test spikes (``--repeats`` independent encodings of the 360 test
digits), so the accuracies differ only by quantization.  Printed per method: accuracy, the
difference to the float SNN in percentage points, the elementwise output-spike agreement, and
compile time.  Target: |fixed − float| ≤ 0.5 pp.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

import snnc

N_HIDDEN = 128


def digits_spikes(steps: int, seed: int, repeats: int):
    """(x_train, y_train, x_test, y_test): Bernoulli spike trains of the 8x8 digits."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    p = d.data / 16.0
    p_tr, p_te, y_tr, y_te = train_test_split(p, d.target, test_size=0.2, random_state=0, stratify=d.target)
    rng = np.random.default_rng(seed)
    enc = lambda q: (rng.random((q.shape[0], steps, q.shape[1])) < q[:, None, :]).astype(np.uint8)  # noqa: E731
    x_te = np.concatenate([enc(p_te) for _ in range(repeats)])
    return p_tr, y_tr, x_te, np.tile(y_te, repeats), enc


def train(p_tr, y_tr, enc, steps: int, epochs: int, seed: int):
    """Surrogate-gradient training of the snnTorch LIF MLP; returns the module."""
    import snntorch as snn
    import torch
    from snntorch import surrogate

    torch.manual_seed(seed)
    nn = torch.nn
    neuron = dict(reset_mechanism="zero", reset_delay=False, spike_grad=surrogate.fast_sigmoid(25))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(64, N_HIDDEN)
            self.lif1 = snn.Leaky(beta=torch.full((N_HIDDEN,), 0.9), threshold=torch.ones(N_HIDDEN), **neuron)
            self.fc2 = nn.Linear(N_HIDDEN, 10)
            self.lif2 = snn.Leaky(beta=torch.full((10,), 0.9), threshold=torch.ones(10), **neuron)

        def forward(self, x):
            s1, _ = self.lif1(self.fc1(x))
            s2, _ = self.lif2(self.fc2(s1))
            return s2

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    y_all = torch.as_tensor(y_tr)
    gen = np.random.default_rng(seed)
    for _ in range(epochs):
        order = gen.permutation(len(y_tr))
        xs = torch.as_tensor(enc(p_tr), dtype=torch.float32)
        for b in range(0, len(order), 64):
            idx = order[b : b + 64]
            for m in net.modules():
                if isinstance(m, snn.SpikingNeuron):
                    m.reset_mem()
            counts = sum(net(xs[idx, t]) for t in range(steps))
            loss = loss_fn(counts, y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def export_nir(net, path: pathlib.Path) -> pathlib.Path:
    import nir
    import torch
    from snntorch.export_nir import export_to_nir

    nir.write(path, export_to_nir(net, torch.zeros(1, 64), ignore_dims=[0]))
    return path


def accuracy(y: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(y.sum(axis=1).argmax(-1) == labels))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=3, help="independent spike encodings of the test set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="none,max,percentile,search")
    ap.add_argument("--save", metavar="DIR", help="keep the NIR model and test spikes here")
    a = ap.parse_args()

    p_tr, y_tr, x_te, y_te, enc = digits_spikes(a.steps, a.seed, a.repeats)
    t0 = time.perf_counter()
    net = train(p_tr, y_tr, enc, a.steps, a.epochs, a.seed)
    print(f"trained {a.epochs} epochs in {time.perf_counter() - t0:.1f} s")
    out = pathlib.Path(a.save or tempfile.mkdtemp(prefix="snnc-acc-"))
    out.mkdir(parents=True, exist_ok=True)
    model = export_nir(net, out / "digits_lif_mlp.nir")
    x_cal = enc(p_tr[:64])
    np.savez(out / "test_spikes.npz", x=x_te, y=y_te)
    np.savez(out / "calibration.npz", x=x_cal)

    y_float = snnc.simulate(model, x_te)
    acc_float = accuracy(y_float, y_te)
    print(f"digits, {len(y_te)} test samples ({a.repeats} encodings x 360), T = {a.steps}")
    print(f"{'model':<22} {'accuracy':>9} {'vs float':>9} {'spikes equal':>13} {'compile s':>10}")
    print(f"{'float SNN (reference)':<22} {100 * acc_float:>8.2f}% {'':>9} {'':>13} {'':>10}")
    worst = 0.0
    for method in a.methods.split(","):
        t0 = time.perf_counter()
        if method == "none":
            prog = snnc.compile(model)
        else:
            prog = snnc.compile(model, calibration=x_cal, calibration_method=method)
        dt = time.perf_counter() - t0
        y = prog.run(x_te)
        acc = accuracy(y, y_te)
        worst = max(worst, abs(acc - acc_float))
        print(
            f"{'fixed, ' + method:<22} {100 * acc:>8.2f}% {100 * (acc - acc_float):>+8.2f}pp "
            f"{100 * np.mean(y == y_float):>12.3f}% {dt:>10.2f}"
        )
    print(f"largest |fixed - float| = {100 * worst:.2f} pp (target <= 0.5 pp): {'met' if worst <= 0.005 else 'NOT met'}")
    sys.exit(0)


if __name__ == "__main__":
    main()

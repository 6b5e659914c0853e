"""A sinabs CNN in the NIR paper's N-MNIST shape, trained on deterministic synthetic DVS events.

The network is the NIR paper's ``02_cnn/cnn_sinabs.nir``: input (2, 34, 34) → Conv(16, 5, stride 2,
pad 1) → IF → Conv(16, 3, pad 1) → IF → SumPool 2 → Conv(8, 3, pad 1) → IF → SumPool 2 → Flatten
(128) → Linear(256) → IF → Linear(10) → IF, all without bias, sinabs ``IAFSqueeze`` neurons with
threshold 1, ``SingleSpike`` and reset by subtraction.  Trained with BPTT, its weights grow to
1-2 thresholds: the case that made the quantizer round a threshold to vth = 0 (issue 13).

The events (:func:`events`) are a deterministic stand-in for N-MNIST: ten classes, a bar at one of
eight orientations moving across the field or a ring growing / shrinking, ON events where the
intensity rises and OFF where it falls, plus 1 % background noise.

Regenerate the test data (``tests/data/sinabs_cnn_nmnist.npz``, float32 weights) with::

    .venv/bin/python tests/helpers/sinabs_cnn.py tests/data/sinabs_cnn_nmnist.npz

(single-threaded and seeded: the same weights on the same platform; ``ITERATIONS`` Adam steps,
a few minutes on one core).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

T_STEPS = 20
SIZE = 34
CLASSES = 10
#: training schedule of the committed network
ITERATIONS, BATCH, LR, INIT_GAIN, COUNT_SCALE, SEED = 1300, 16, 1e-3, 10.0, 0.1, 0
DATA = Path(__file__).resolve().parents[1] / "data" / "sinabs_cnn_nmnist.npz"
#: the sinabs module index of every spiking layer (also the exporter's NIR node names)
SPIKING = ("1", "3", "6", "10", "12")

nn = torch.nn


def make_net(batch: int = 1) -> "nn.Sequential":
    import sinabs.layers as sl
    from sinabs.activation import MembraneSubtract, SingleSpike

    def iaf():
        return sl.IAFSqueeze(batch_size=batch, spike_threshold=torch.ones(1), spike_fn=SingleSpike,
                             reset_fn=MembraneSubtract())

    return nn.Sequential(
        nn.Conv2d(2, 16, 5, stride=2, padding=1, bias=False), iaf(),      # 0, 1
        nn.Conv2d(16, 16, 3, padding=1, bias=False), iaf(),                # 2, 3
        sl.SumPool2d(2),                                                   # 4
        nn.Conv2d(16, 8, 3, padding=1, bias=False), iaf(),                 # 5, 6
        sl.SumPool2d(2),                                                   # 7
        nn.Flatten(),                                                      # 8
        nn.Linear(128, 256, bias=False), iaf(),                            # 9, 10
        nn.Linear(256, CLASSES, bias=False), iaf(),                        # 11, 12
    )


def _set_batch(net: "nn.Sequential", batch: int) -> None:
    import sinabs.layers as sl

    for m in net:
        if isinstance(m, sl.IAFSqueeze):
            m.batch_size = batch
            m.reset_states()


def events(n: int, seed: int, steps: int = T_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of synthetic DVS events, (n, steps, 2, 34, 34) float32 0/1, and their labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    x = np.zeros((n, steps, 2, SIZE, SIZE), np.float32)
    for i in range(n):
        c = y[i]
        cx, cy = rng.uniform(12, 22, 2)
        speed = rng.uniform(0.8, 1.4)
        width = rng.uniform(2.0, 4.0)
        prev = None
        for t in range(steps + 1):
            if c < 8:  # a bar at one of 8 orientations, 22.5 degrees apart, moving across
                ang = c * math.pi / 8
                d = np.cos(ang) * (xx - cx) + np.sin(ang) * (yy - cy)
                img = (np.abs(d - (t - steps / 2) * speed) < width).astype(float)
            else:  # a ring growing (8) or shrinking (9)
                r = (2 + t * 0.6 * speed) if c == 8 else (2 + (steps - t) * 0.6 * speed)
                img = (np.abs(np.hypot(xx - cx, yy - cy) - r) < width / 2).astype(float)
            if prev is not None:
                x[i, t - 1, 0] = img > prev
                x[i, t - 1, 1] = img < prev
            prev = img
        x[i] = np.maximum(x[i], rng.random(x[i].shape) < 0.01)
    return x, y


def forward(net: "nn.Sequential", x, record: bool = False):
    """x (B, T, 2, 34, 34) → output spikes (B, T, 10); ``record``: also every spiking layer's
    spikes (B, T, n) float64, keyed by module index."""
    x = torch.as_tensor(x)
    b, t = x.shape[:2]
    _set_batch(net, b)
    h = x.flatten(0, 1)
    out = {}
    for i, m in enumerate(net):
        h = m(h)
        if record and str(i) in SPIKING:
            out[str(i)] = h.detach().numpy().reshape(b, t, -1).astype(np.float64)
    y = h.reshape(b, t, -1)
    return (y, out) if record else y


def weights(net: "nn.Sequential") -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items() if k.endswith("weight")}


def load(path: Path = DATA) -> "nn.Sequential":
    net = make_net(1)
    with np.load(path) as z:
        state = {k: torch.from_numpy(z[k]) for k in z.files}
    net.load_state_dict(state, strict=False)  # the IAF layers' states are not stored
    return net


def to_nir(net: "nn.Sequential"):
    """The network through sinabs' own exporter (Conv input shapes inferred for nir.write)."""
    import sinabs

    _set_batch(net, 1)
    g = sinabs.to_nir(net, torch.zeros(1, 2, SIZE, SIZE))
    g.infer_types()
    return g


def train(iterations: int = ITERATIONS, seed: int = SEED, log=None) -> "nn.Sequential":
    """BPTT with Adam on count cross-entropy; single-threaded and seeded (deterministic)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(iterations, seed, log)
    finally:
        torch.set_num_threads(threads)


def _train(iterations: int, seed: int, log) -> "nn.Sequential":
    torch.manual_seed(seed)
    net = make_net(BATCH)
    with torch.no_grad():  # large initial weights: a trained CNN's weights are 1-2 thresholds
        for m in net:
            if hasattr(m, "weight"):
                m.weight.mul_(INIT_GAIN)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    t0 = time.time()
    for it in range(iterations):
        x, y = events(BATCH, 1000 * seed + it)
        loss = nn.functional.cross_entropy(forward(net, x).sum(1) * COUNT_SCALE, torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log is not None and (it + 1) % 100 == 0:
            log(f"it {it + 1} {time.time() - t0:.0f}s loss {loss.item():.3f}")
    return net


def accuracy(net: "nn.Sequential", n: int = 64, seed: int = 999) -> float:
    x, y = events(n, seed)
    with torch.no_grad():
        return float((forward(net, x).sum(1).argmax(1).numpy() == y).mean())


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    net = train(log=lambda s: print(s, flush=True))
    print(f"validation accuracy {accuracy(net):.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **weights(net))
    print(f"wrote {out} ({out.stat().st_size} bytes)")

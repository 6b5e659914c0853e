"""Offline data for the examples and benchmarks, and a deterministic spike encoder.

``rate_encode``: an integrate-and-fire encoder of intensities x ∈ [0, 1] over T steps,
``s_t = ⌊(t+1)·x⌋ − ⌊t·x⌋`` (x·T spikes, evenly spaced, no randomness).
"""

from __future__ import annotations

import numpy as np
import torch

from snnc.distill.events import generate


def rate_encode(x: np.ndarray | torch.Tensor, timesteps: int) -> torch.Tensor:
    """(N, *shape) intensities in [0, 1] → (N, T, *shape) float 0/1 spikes."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64).clamp(0.0, 1.0)
    t = torch.arange(timesteps + 1, dtype=torch.float64).reshape(1, -1, *([1] * (x.dim() - 1)))
    level = torch.floor(t * x.unsqueeze(1) + 1e-9)
    return (level[:, 1:] - level[:, :-1]).to(torch.float32)


def digits(test_size: int = 360, split_seed: int = 0):
    """sklearn digits (8×8, 0..16) scaled to [0, 1]: (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=test_size,
                                          stratify=d.target, random_state=split_seed)
    return (torch.tensor(xtr, dtype=torch.float32), torch.tensor(ytr), torch.tensor(xte, dtype=torch.float32),
            torch.tensor(yte))


def mnist1d():
    """mnist1d (4000/1000 sequences of length 40), generated offline, min-max scaled with the
    training set's range to [0, 1].  Note: mnist1d seeds numpy's and random's global state."""
    from mnist1d.data import get_dataset_args, make_dataset

    state = np.random.get_state()
    d = make_dataset(get_dataset_args())
    np.random.set_state(state)
    lo, hi = float(d["x"].min()), float(d["x"].max())
    f = lambda a: torch.tensor((a - lo) / (hi - lo), dtype=torch.float32)  # noqa: E731
    return f(d["x"]), torch.tensor(d["y"]), f(d["x_test"]), torch.tensor(d["y_test"])


def events(n_train: int = 6000, n_test: int = 1000, seed: int = 0):
    """The DVS-like event-stream task of :mod:`snnc.distill.events` (moving / rotating bars,
    10 classes), generated offline in ~1.5 s: (x_train, y_train, x_test, y_test), ``x`` bool
    events (N, 32, 2, 16, 16) as torch tensors; train and test draw from independent seeds."""
    xtr, ytr = generate(n_train, seed=2 * seed)
    xte, yte = generate(n_test, seed=2 * seed + 1)
    return torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte), torch.from_numpy(yte)

"""lava-dl netx interop: snnc's emulator vs Lava running the same netx file, side by side.

    .venv/bin/python benchmarks/bench_netx.py [--batch 4] [--steps 100] [--hidden 64]

A CUBA MLP (in-hidden-10) built with lava-dl's slayer (``slayer.block.cuba.Dense``), written by
slayer's ``export_hdf5``; then: ``snnc.load`` (import), the emulator on the imported program,
Lava running the file through ``lava.lib.dl.netx.hdf5.Network`` (``Loihi2SimCfg`` fixed_pt, in
the watchdog child; the time includes the child's Python start and Lava import), whether every
layer's spikes are equal, and the re-export with ``prog.export_netx`` (byte size, and whether
lava-dl's Network reads the same weights back).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

import snnc
from snnc.backends.lava.netx import run_netx


def slayer_mlp(path: Path, n_in: int, hidden: int, seed: int = 0) -> Path:
    import lava.lib.dl.slayer as slayer

    torch.manual_seed(seed)
    params = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.1, "requires_grad": False}
    blocks = [slayer.block.cuba.Dense(params, n_in, hidden, weight_scale=2, weight_norm=False),
              slayer.block.cuba.Dense(params, hidden, 10, weight_scale=2, weight_norm=False)]
    y = torch.zeros(1, n_in, 2)
    with torch.no_grad():  # slayer learns its neurons' shape on the first forward pass
        for blk in blocks:
            y = blk(y)
    with h5py.File(path, "w") as f:
        for i, b in enumerate(blocks):
            b.export_hdf5(f.create_group(f"layer/{i}"))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--inputs", type=int, default=32)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = slayer_mlp(Path(tmp) / "mlp.net", a.inputs, a.hidden)
        t0 = time.perf_counter()
        prog = snnc.load(path)
        t_load = time.perf_counter() - t0
        x = (np.random.default_rng(0).random((a.batch, a.steps, a.inputs)) < 0.2).astype(np.uint8)
        t0 = time.perf_counter()
        raw = prog.run(x, return_raw=True)
        t_emu = time.perf_counter() - t0
        t0 = time.perf_counter()
        lava = run_netx(path, x, raw.steps)
        t_lava = time.perf_counter() - t0
        equal = all(np.array_equal(raw.spikes[f"layer{i}"].reshape(s.shape), s) for i, s in enumerate(lava))
        spikes = [int(s.sum()) for s in lava]
        t0 = time.perf_counter()
        out = prog.export_netx(Path(tmp) / "again.net")
        t_export = time.perf_counter() - t0
        with h5py.File(path) as f, h5py.File(out) as g:
            same_w = all(np.array_equal(f[f"layer/{i}/weight"][()], g[f"layer/{i + 1}/weight"][()]) for i in range(2))
        print(f"slayer MLP {a.inputs}-{a.hidden}-10, batch {a.batch}, {a.steps} steps ({raw.steps} raw)")
        print(f"import (snnc.load)     {1e3 * t_load:8.1f} ms")
        print(f"emulator               {1e3 * t_emu:8.1f} ms")
        print(f"Lava netx Network      {1e3 * t_lava:8.1f} ms   ({t_lava / t_emu:.0f}x the emulator)")
        print(f"spikes equal, every layer: {equal}  (spikes per layer {spikes})")
        print(f"re-export (export_netx) {1e3 * t_export:7.1f} ms, {out.stat().st_size} bytes; weights identical: {same_w}")


if __name__ == "__main__":
    main()

"""Regenerate the golden spike files from real Lava runs (run from the repo root).

    .venv/bin/python tests/golden/make_golden.py

Each golden file holds the raw spike raster of every layer of a shipped example program,
recorded from Lava (``Loihi2SimCfg(select_tag="fixed_pt")``) on the example input.  The
default test run checks the emulator against these files without starting Lava.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import snnc

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
CASES = {"mlp": (ROOT / "examples" / "mlp.nir", ROOT / "examples" / "mlp_input.npz")}


def main() -> None:
    for name, (model, inputs) in CASES.items():
        prog = snnc.compile(model, target="loihi2")
        x = np.load(inputs)["x"]
        raw = prog.run(x, backend="lava", return_raw=True)
        np.savez_compressed(GOLDEN / f"{name}_lava.npz", **{k: v.astype(np.uint8) for k, v in raw.spikes.items()})
        print(f"wrote {GOLDEN / f'{name}_lava.npz'}: " + ", ".join(f"{k} {int(v.sum())} spikes" for k, v in raw.spikes.items()))


if __name__ == "__main__":
    main()

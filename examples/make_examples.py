"""Write the shipped example models and inputs (deterministic; run from the repo root).

    .venv/bin/python examples/make_examples.py

* ``examples/mlp.nir``: Input(64) → Affine → CubaLIF(48) → Affine → LIF(10) → Output, in
  snnTorch's NIR convention (dt = 1e-4, τ = dt/(1−β), R = τ/dt, w_in = τ_syn/dt), with
  weights drawn so that both layers fire at moderate rates.
* ``examples/mlp_input.npz``: key ``x``, 4 samples × 40 steps × 64 Poisson spike trains.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

DT = 1e-4
HERE = Path(__file__).resolve().parent


def snntorch_lif(beta: np.ndarray, threshold: np.ndarray) -> nir.LIF:
    tau = DT / (1.0 - beta)
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros_like(beta), v_threshold=threshold,
                   v_reset=np.zeros_like(beta))


def snntorch_cubalif(alpha: np.ndarray, beta: np.ndarray, threshold: np.ndarray) -> nir.CubaLIF:
    tau_syn = DT / (1.0 - alpha)
    tau_mem = DT / (1.0 - beta)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / DT, v_leak=np.zeros_like(beta),
                       v_threshold=threshold, v_reset=np.zeros_like(beta), w_in=tau_syn / DT)


def mlp(rng: np.random.Generator) -> nir.NIRGraph:
    n_in, n_hid, n_out = 64, 48, 10
    w1 = rng.normal(0.0, 0.6, (n_hid, n_in)) / np.sqrt(n_in) + 0.02
    w2 = rng.normal(0.0, 1.2, (n_out, n_hid)) / np.sqrt(n_hid) + 0.05
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n_in])),
            "fc1": nir.Affine(weight=w1, bias=np.zeros(n_hid)),
            "lif1": snntorch_cubalif(np.full(n_hid, 0.5), np.full(n_hid, 0.9), np.full(n_hid, 1.0)),
            "fc2": nir.Affine(weight=w2, bias=np.full(n_out, 0.01)),
            "lif2": snntorch_lif(np.full(n_out, 0.85), np.full(n_out, 1.0)),
            "output": nir.Output(output_type=np.array([n_out])),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
    )


def main() -> None:
    rng = np.random.default_rng(2026)
    nir.write(HERE / "mlp.nir", mlp(rng))
    x = (rng.random((4, 40, 64)) < 0.15).astype(np.uint8)
    np.savez(HERE / "mlp_input.npz", x=x)
    print(f"wrote {HERE / 'mlp.nir'} and {HERE / 'mlp_input.npz'}")


if __name__ == "__main__":
    main()

"""ONNX step models in onnxruntime vs snnc's own simulators, side by side in one run.

    .venv/bin/python benchmarks/bench_onnx_step.py [--batch 4] [--steps 40] [--repeats 5]

On the shipped example MLP (64-48-10, CubaLIF + LIF) with random input spikes: the float step
model (``export_graph``) against ``snnc.simulate`` and the integer step model
(``prog.export_onnx``) against the emulator.  Printed: export time, model size, best-of-N run
time of each (``run_step_model`` includes creating the onnxruntime session), their ratio, and
whether the spikes are equal.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

import snnc
from snnc.backends import emulator, onnx_step

ROOT = pathlib.Path(__file__).resolve().parents[1]


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    g = snnc.load(ROOT / "examples" / "mlp.nir")
    prog = snnc.compile(g, target="loihi2")
    x = (np.random.default_rng(0).random((a.batch, a.steps, *prog.input_shape)) < 0.2)
    x = x.astype(np.uint8)
    raw_steps = a.steps + max(prog.latency.values())

    t0 = time.perf_counter()
    m_float = onnx_step.export_graph(g)
    t_float = time.perf_counter() - t0
    t0 = time.perf_counter()
    m_int = onnx_step.export_program(prog)
    t_int = time.perf_counter() - t0

    y_f = onnx_step.run_step_model(m_float, x)["y.output"]
    same_f = np.array_equal(y_f, snnc.simulate(g, x))
    y_i = onnx_step.run_step_model(m_int, x)
    emu = emulator.run(prog.graph, x, raw_steps)
    same_i = all(np.array_equal(y_i[f"spikes.{c}"], s) for c, s in emu.spikes.items())

    rows = [
        ("float step model (onnxruntime)", best(lambda: onnx_step.run_step_model(m_float, x), a.repeats)),
        ("snnc.simulate", best(lambda: snnc.simulate(g, x), a.repeats)),
        ("integer step model (onnxruntime)", best(lambda: onnx_step.run_step_model(m_int, x), a.repeats)),
        ("emulator", best(lambda: emulator.run(prog.graph, x, raw_steps), a.repeats)),
    ]
    print(f"mlp 64-48-10, batch {a.batch}, T = {a.steps} ({raw_steps} raw steps), "
          f"best of {a.repeats}")
    print(f"export: float {t_float * 1e3:.1f} ms ({m_float.ByteSize()} B), "
          f"integer {t_int * 1e3:.1f} ms ({m_int.ByteSize()} B)")
    for name, t in rows:
        print(f"{name:<34} {t * 1e3:8.2f} ms")
    print(f"float: onnx / simulate = {rows[0][1] / rows[1][1]:.2f}x, spikes equal: {same_f}")
    print(f"integer: onnx / emulator = {rows[2][1] / rows[3][1]:.2f}x, spikes equal: {same_i}")


if __name__ == "__main__":
    main()

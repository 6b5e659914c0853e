"""Validation of the activity-driven Loihi time and energy model against published measurements, leave-one-out.

    .venv/bin/python benchmarks/bench_energy_validation.py [--markdown] [--fit]

Every point is predicted from the network's own structure and activity (snnc's exact counts of a
run on the emulator) and from coefficients that were NOT fitted to that point:

* Loihi 2 per-operation times and energies are SANA-FE's calibrated Loihi 1 vectors
  (``loihi1_sanafe2025``) scaled by one time factor ``s`` and one energy factor ``k``; the fixed
  per-step time and energy (``barrier_ns``, ``step_dynamic_nJ``), the static power, the host I/O
  floor come from the other points (table in docs/energy.md says which).
* ``--fit`` prints ``s`` and ``k`` fitted to PilotNet SNN on Oheo Gulch (V1a): the values of the
  shipped ``loihi2`` set (``snnc/profiler/data/loihi2_activity2026.json``).

PilotNet runs on the lava-dl fixtures (../shared/lava-dl-fixtures): the image written to the
input layer's bias, ``reset_interval=16`` as in lava-dl's benchmark, placed on 74 cores as the
closed lava-loihi compiler did (per-core table printed in lava-dl's notebook). Its steady state
is the difference of two runs (41 and 25 raw steps: one 16-step inference once the pipeline is
full). Loihi 1 points use a network of the published shape (random weights, stated).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT.parent / "shared" / "lava-dl-fixtures"
if not FIX.is_dir():
    FIX = Path("/work/shared/lava-dl-fixtures")

#: lava-dl pilotnet_snn benchmark: cores per layer and neurons per core (closed lava-loihi compiler's
#: printed "Per core distribution"; the two last dense layers' cores are not printed: 1 each, 74 in all)
PILOT_CORES = {"layer0": 13, "layer1": 25, "layer2": 13, "layer3": 3, "layer4": 3, "layer5": 2,
               "layer7": 12, "layer8": 1, "layer9": 1, "layer10": 1}


@dataclasses.dataclass
class Point:
    id: str
    chip: str
    what: str
    step_s: float  # measured time per step
    energy_J: float | None  # measured total energy per inference
    steps_per_inf: int
    static_W: float | None
    source: str


POINTS = {
    "V1a": Point("V1a", "loihi2", "PilotNet SNN, Oheo Gulch (1 chip)", 1 / (408.91 * 16), 1.661103e-3, 16, 0.232078,
                 "lava-dl@dad9dfad pilotnet_snn/benchmark.ipynb: 408.91 fps, 0.679234 W, static 0.232078 W"),
    "V1b": Point("V1b", "loihi2", "PilotNet SNN, Kapoho Point (per chip)", 1 / (342.29 * 16), 2.414157e-3, 16,
                 0.352063, "lava-dl@12f04021 pilotnet_snn/benchmark.ipynb: 342.29 fps, 0.826347 W, static 0.352063 W"),
    "V2": Point("V2", "loihi2", "PilotNet SDNN, host-fed frames, Oheo Gulch", 1 / 16.87, 16.3e-3, 1, 0.282,
                "lava-dl@d825ac5 pilotnet_sdnn/benchmark.ipynb (via shared/reference/loihi.md): 16.87 fps, "
                "0.276 W total, 0.282 W static"),
    "V2b": Point("V2b", "loihi2", "PilotNet SDNN, host-fed frames (later run)", 1 / 11.18, None, 1, None,
                 "lava-dl@1878d6d4 pilotnet_sdnn/benchmark.ipynb: 11.18 fps (power not located)"),
    "V3": Point("V3", "loihi2", "2 LIF + 1 synapse, Oheo Gulch", 11.637382776475679 / 1e7, 2.7646 / 1e7, 1, 0.2146,
                "NECOTIS/TemporalLearningInRSNNs@40bae15 loihi_experiment/res.json: 1e7 steps in 11.637 s, "
                "2.7646 J (static 0.2146 W, dynamic 26.7 nJ/step)"),
    "V4": Point("V4", "loihi1", "keyword spotting 390-256-256-29 (Blouw 2019)", 1 / (297.1 * 10), 0.110 / 296, 10,
                0.0295, "abr/power_benchmarks: 296 inf/s (logs 297.1), running 0.110 W; 10 steps per inference "
                "(nengo-examples keyword-spotting, not stated in the paper)"),
    "V5": Point("V5", "loihi1", "scaled KWS C00L00 (Blouw 2018 runs)", 15.52 / 1000 / 10, 0.1045 * 15.52 / 1000, 10,
                0.0316, "abr/power_benchmarks logs/running/loihi_C00L00_run1 @a54c743: 1000 inf in 15.52 s, "
                "running 0.1045 W"),
}


def _placement(prog, cores: dict[str, int]):
    from snnc.compiler.mapping.placement import Placement
    core_of, nxt = {}, 0
    for name, k in cores.items():
        if name not in prog.graph:
            continue
        n = prog.graph[name].size
        per = -(-n // k)
        core_of[name] = (nxt + np.arange(n) // per).astype(np.int32)
        nxt += k
    return Placement(prog.target.name, core_of, np.zeros(nxt, dtype=np.int32), "lava-loihi per-core table")


def _counts(prog, x, placement, **run):
    from snnc.profiler.counts import count_events
    raw = prog.run(x, return_raw=True, progress=False, **run)
    xs = np.zeros((1, run["steps"]) + x.shape[1:], np.uint8) if run.get("input") == "bias" else x
    return count_events(prog.graph, xs, raw, placement)


def pilot_snn_counts():
    import snnc
    prog = snnc.load(FIX / "pilotnet_lif" / "network.net", reset_interval=16)
    img = np.load(FIX / "pilotnet_lif" / "image.npy").transpose(2, 1, 0)[None]
    pl = _placement(prog, PILOT_CORES)
    return [_counts(prog, img, pl, input="bias", steps=n) for n in (16, 32)]  # 25 and 41 raw steps


def pilot_sdnn_counts():
    import snnc
    prog = snnc.load(FIX / "pilotnet_sdnn" / "network.net")
    img = np.load(FIX / "pilotnet_sdnn" / "input.npy")[..., 0].transpose(2, 1, 0)[None].astype(np.int32)
    rng = np.random.default_rng(0)  # a frame that changes every step (a video): the image plus noise
    x = np.stack([img[0] + rng.integers(-8, 9, img.shape[1:]) for _ in range(8)])[None].astype(np.int32)
    return _counts(prog, x, _placement_any(prog, 61))


def _placement_any(prog, n_cores: int):
    """Populations spread over ``n_cores`` in proportion to their size (at least one core each)."""
    from snnc.compiler.ir import loihi
    names = list(prog.graph.of_kind(*loihi.NEURON_OPS))
    sizes = np.array([prog.graph[n].size for n in names], float)
    k = np.maximum(1, np.floor(sizes / sizes.sum() * (n_cores - len(names)))).astype(int)
    k[np.argmax(sizes)] += n_cores - k.sum()
    return _placement(prog, dict(zip(names, k.tolist(), strict=True)))


def nir_mlp_counts(sizes, steps, rate, target, seed=0, bias=0.0):
    """A feed-forward LIF network of the given sizes, random weights, Bernoulli(rate) input."""
    import tempfile

    import nir

    import snnc
    rng = np.random.default_rng(seed)
    nodes, edges, prev = {"input": nir.Input(input_type=np.array([sizes[0]]))}, [], "input"
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = rng.normal(0, 1.5 / np.sqrt(a), (b, a))
        nodes[f"fc{i}"] = nir.Affine(weight=w, bias=np.full(b, bias))
        tau = np.full(b, 0.02)
        nodes[f"lif{i}"] = nir.LIF(tau=tau, r=tau / 1e-3, v_leak=np.zeros(b), v_threshold=np.full(b, 0.5))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "output"))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.nir"
        nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges))
        prog = snnc.compile(str(path), target=target)
    x = (rng.random((1, steps, sizes[0])) < rate).astype(np.uint8)
    from snnc.profiler.counts import count_events
    raw = prog.run(x, return_raw=True, progress=False)
    return count_events(prog.graph, x, raw, prog.placement)


# ------------------------------------------------------------------------------------- the model
def scaled(base, s: float, k: float, name: str, **override):
    """``base`` with every ``_ns`` time × s and every ``_pJ`` energy × k, then ``override`` values."""
    from snnc.profiler.coefficients import Coefficient, CoefficientSet
    if name != "kws":  # Loihi 2: as the shipped loihi2 set (no per-core barrier term, no separate host power)
        override = {"barrier_per_core_ns": 0.0, "host_power_W": 0.0, **override}
    co = {}
    for key, c in base.coefficients.items():
        f = s if key.endswith("_ns") else k if key.endswith("_pJ") else 1.0
        v = override.get(key, c.value * f)
        co[key] = Coefficient(float(v), "derived", f"{base.name} x {f:.4g}" if key not in override else "override")
    return CoefficientSet(name, "loo", "loihi2", "", co)


def steady(c_short, c_long, co, io_mode="compute"):
    """(step time, dynamic J, static J) of the steps the long run adds (one steady-state inference)."""
    from snnc.profiler.energy import estimate
    a, b = estimate(c_short, co, io_mode), estimate(c_long, co, io_mode)
    n = c_long.steps - c_short.steps
    dt = float(b.times.dt[:, c_short.steps:].mean())
    return dt, b.dynamic_J - a.dynamic_J, co["static_power_W"] * n * dt


def fit_pilot(pilot, base, point: Point, barrier_ns, step_nj):
    """``s`` and ``k`` that reproduce ``point``'s step time and dynamic energy exactly."""
    unit = scaled(base, 1.0, 1.0, "unit", barrier_ns=0.0, step_dynamic_nJ=0.0, static_power_W=0.0)
    dt1, e1, _ = steady(*pilot, unit)
    s = (point.step_s - barrier_ns * 1e-9) / dt1
    e_dyn_meas = point.energy_J - point.static_W * point.steps_per_inf * point.step_s
    k = (e_dyn_meas - 16 * step_nj * 1e-9) / e1
    return s, k


def _streamed(e, counts, co):
    """(step time, energy per step) of the steps that take host input: a stream of frames keeps every
    step fed (the run's trailing latency steps have no input)."""
    fed = counts.host_per_step.sum(axis=0) > 0
    dt = float(e.times.dt[:, fed].mean())
    dyn = (e.dynamic_J - e.host_J) / counts.steps + co["host_power_W"] * dt
    return dt, dyn + co["static_power_W"] * dt


def run(markdown: bool, fit_only: bool) -> None:
    from snnc.profiler.coefficients import load_coefficients
    from snnc.profiler.energy import estimate
    t0 = time.perf_counter()
    base = load_coefficients("loihi1_sanafe2025")
    pilot = pilot_snn_counts()
    V3_BARRIER, V3_STEP_NJ = 1164.0, 26.7  # V3: 1.164 us per step (network work ~ns), 26.7 nJ per step
    s_a, k_a = fit_pilot(pilot, base, POINTS["V1a"], V3_BARRIER, V3_STEP_NJ)
    s_b, k_b = fit_pilot(pilot, base, POINTS["V1b"], V3_BARRIER, V3_STEP_NJ)
    print(f"fit on V1a: s = {s_a:.4g} (time), k = {k_a:.4g} (energy); on V1b: s = {s_b:.4g}, k = {k_b:.4g}")
    if fit_only:
        return
    rows = []

    def row(pid, dt, e, train, why=""):
        p = POINTS[pid]
        rows.append((p, dt, e, train, why))

    # V1a from V1b (+ V3's barrier, step energy and Oheo Gulch static power)
    co = scaled(base, s_b, k_b, "loo-V1a", barrier_ns=V3_BARRIER, step_dynamic_nJ=V3_STEP_NJ, static_power_W=0.2146)
    dt, ed, es = steady(*pilot, co)
    row("V1a", dt, ed + es, "s, k from V1b; barrier, step energy, static power (OG) from V3")
    # V1b from V1a (board change: static of V1a's OG board)
    co = scaled(base, s_a, k_a, "loo-V1b", barrier_ns=V3_BARRIER, step_dynamic_nJ=V3_STEP_NJ, static_power_W=0.232078)
    dt, ed, es = steady(*pilot, co)
    row("V1b", dt, ed + es, "s, k from V1a; barrier, step energy from V3; static power of V1a's board (OG)")
    # V3 from V1a (the barrier and step energy from Loihi 1 priors: V3 is their only Loihi 2 source)
    c3 = nir_mlp_counts([1, 1], 200, 0.025, "loihi2")
    co = scaled(base, s_a, k_a, "loo-V3", barrier_ns=base["barrier_ns"], step_dynamic_nJ=0.0, static_power_W=0.232078)
    e = estimate(c3, co)
    row("V3", e.step_time_s, e.total_J / c3.steps, "s, k, static from V1a; barrier = Loihi 1 (SANA-FE 0.6 us); "
        "step energy unknown without V3 (0)")
    # V2 (SDNN, host-fed) from V2b's I/O floor; V2b from V2's
    sd = pilot_sdnn_counts()
    for pid, floor_us in (("V2", 1e6 / 11.18), ("V2b", 1e6 / 16.87)):
        co = scaled(base, s_a, k_a, f"loo-{pid}", barrier_ns=V3_BARRIER, step_dynamic_nJ=V3_STEP_NJ,
                    static_power_W=0.2146, host_io_step_us=floor_us)
        e = estimate(sd, co, io_mode="io-bound")
        other = "V2b" if pid == "V2" else "V2"
        dt, e_step = _streamed(e, sd, co)
        row(pid, dt, e_step if POINTS[pid].energy_J else None,
            f"host I/O floor from {other}; s, k from V1a; static (OG) from V3")
    # Loihi 1 KWS (V4) and scaled KWS (V5): host-bound, each from the other's I/O time per step
    kws = nir_mlp_counts([390, 256, 256, 29], 10, 0.1, "loihi1")
    for pid, other in (("V4", "V5"), ("V5", "V4")):
        co = scaled(base, 1.0, 1.0, "kws", host_io_step_us=POINTS[other].step_s * 1e6)
        e = estimate(kws, co, io_mode="io-bound")
        dt, e_step = _streamed(e, kws, co)
        row(pid, dt, e_step * POINTS[pid].steps_per_inf, f"host I/O time per step from {other}; SANA-FE per-op; "
            "static and x86 power from Blouw's logs")
    load = os.getloadavg()
    print(f"(load {load[0]:.2f} {load[1]:.2f}; {time.perf_counter() - t0:.1f} s)")
    hdr = "| point | network, board | published step | modeled step | ratio | published E/inf | modeled E/inf | ratio | fitted on (never the point itself) |"
    print(hdr if markdown else hdr.replace("|", " "))
    if markdown:
        print("|---|---|---|---|---|---|---|---|---|")
    for p, dt, e, train, _ in rows:
        r_t = dt / p.step_s
        pe = "n/a" if p.energy_J is None else _si(p.energy_J, "J")
        me = "n/a" if e is None else _si(e, "J")
        r_e = "n/a" if e is None or p.energy_J is None else f"{e / p.energy_J:.2f}"
        flag = "" if 0.5 <= r_t <= 2 and (r_e == "n/a" or 0.5 <= float(r_e) <= 2) else " **outside 2x**"
        print(f"| {p.id} | {p.what} ({p.chip}) | {_si(p.step_s, 's')} | {_si(dt, 's')} | {r_t:.2f} | {pe} | {me} | "
              f"{r_e}{flag} | {train} |")


def _si(v: float, unit: str) -> str:
    for pre, f in (("", 1.0), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(v) >= f:
            return f"{v / f:.4g} {pre}{unit}"
    return f"{v:.3g} {unit}"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--fit", action="store_true", help="only print s and k fitted to V1a and V1b")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    run(a.markdown, a.fit)

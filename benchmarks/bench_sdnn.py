"""ANN → sigma-delta network vs the rate-coded IF conversion: accuracy, latency, synaptic events.

A digits CNN (sklearn digits, 8×8; c8-p-c16-p-fc, trained here with torch, exported with
``torch.onnx.export``) goes through both conversions of the same ONNX file, side by side in one
run, on the emulator (Loihi 2 fixed point)::

    sd = snnc.compile("cnn.onnx", calibration=X_cal, neuron="sdnn")        # sigma-delta
    rc = snnc.compile("cnn.onnx", calibration=X_cal, timesteps=T)           # rate-coded IF

Measured on the held-out test set:

* **ANN** (float, torch) and **quantized ANN**: the integer ANN of the compiled sigma-delta
  program's own registers, evaluated in one shot without time or thresholds
  (``s_k = max(Σ W'·s_{k−1} ≫ e + B, 0) ≫ 6``,
  :func:`snnc.calibration.sigma_delta.one_shot_integer_ann`, a numpy pass over the Loihi graph), and the same with the program's dead zone (activations below vth
  send nothing);
* **SDNN accuracy per latency**: argmax of the Sigma read-out at raw chip step r (latency r + 1
  steps; D = the network's synaptic depth), for the searched threshold and for θ = 0, with the
  biases through relays (default) and in Lava's bias register (bias waves);
* **rate-coded IF** accuracy per T (8, 16, 32, 64);
* **a sequence** (video-like: each test digit for 8 frames with sensor noise, σ = 0.05,
  clipped to [0, 1]) presented step by step to the sigma-delta program at several thresholds:
  accuracy of the last frame's output, agreement with the ANN on the same frames, messages and
  SynOps per frame (the rate code has no step-by-step counterpart: it needs T steps per frame);
* **synaptic events per inference** (SynOps: every non-zero message or spike × its non-zero
  fan-out, summed over every synapse block of the program, bias relays and always-on bias
  neurons included; the input counts through the blocks it feeds), over the raw steps the
  inference runs: D + 1 for the SDNN (static input held), T + depth for the IF program (what
  ``Program.run`` runs to read T aligned outputs).

    .venv/bin/python benchmarks/bench_sdnn.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CAL_SAMPLES = 500
IF_TIMESTEPS = (8, 16, 32, 64)
EXTRA_STEPS = 4  # SDNN steps recorded beyond depth + 1


# --------------------------------------------------------------------------- data, model
# the digits split, the training loop and the ONNX export are bench_accuracy_ann's (the IF
# conversion's benchmark), so both conversions are measured on the same data and recipe
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accuracy_ann import digits, export  # noqa: E402
from bench_accuracy_ann import train as _train  # noqa: E402


def cnn():
    """c8-p-c16-p-fc: the digits CNN this benchmark converts."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10))


def train(x, y, epochs: int, seed: int = 0):
    return _train(cnn, x, y, epochs, seed)


def depths(graph) -> dict[str, int]:
    """Synaptic depth of every population of a Loihi graph (sources and directly fed: 0)."""
    from snnc.compiler.ir import loihi

    d: dict[str, int] = {}
    for name in graph.schedule()[0]:
        node = graph[name]
        if isinstance(node, loihi.NEURON_OPS):
            preds = [graph.predecessors(s)[0] for s in graph.predecessors(name)
                     if isinstance(graph[s], (loihi.Synapse, loihi.ConvSynapse))]
            d[name] = 1 + max((d.get(p, 0) for p in preds), default=-1)
    return d


def synops_per_inference(prog, x_input, raw, window: int | None = None, shifted: bool = False) -> float:
    """Σ over synapse blocks of (non-zero messages of its source) × (non-zero fan-out), over the
    first ``window`` raw steps (all of them by default); ``shifted``: a population at depth k
    over raw steps [k, k + window) (a sequence's frames as that layer sees them)."""
    from snnc.calibration.sigma_delta import block_matrix
    from snnc.compiler.ir import loihi

    g = prog.graph
    depth = depths(g)
    total = 0.0
    batch = None
    for name in g.of_kind(loihi.Synapse, loihi.ConvSynapse):
        syn = g[name]
        (src,) = g.predecessors(name)
        fan = np.asarray((block_matrix(syn) != 0).sum(axis=0)).reshape(-1)
        if isinstance(g[src], loihi.SpikeSource):
            sent = np.asarray(x_input) != 0
        else:
            sent = np.asarray(raw.spikes[src]) != 0
        batch = sent.shape[0]
        k = depth.get(src, 0) if shifted else 0
        sent = sent.reshape(sent.shape[0], sent.shape[1], -1)[:, k : None if window is None else k + window]
        total += float((sent * fan).sum())
    return total / batch


# --------------------------------------------------------------------------- measurements
def sdnn_run(prog, x, window: int):
    """Static ``x`` held for ``window`` steps: (the read-out at raw steps 0..window−1, the raw
    run).  The run lasts window + depth raw steps (Program.run); only the first ``window`` are
    read, in which a held static input sends one wave (the Delta's step down when the input
    ends, at raw step ``window``, is outside)."""
    prog.encoder = dataclasses.replace(prog.encoder, timesteps=window)
    raw = prog.run(x, return_raw=True)
    (o,) = prog.outputs
    src = prog.probed(o)
    ro = raw.payload[src].reshape(len(x), raw.steps, -1)[:, :window] / prog.graph[src].out_scale
    return ro, raw


SEQ_FRAMES = 8
SEQ_NOISE = 0.05


def sequence_rows(g, xcal, xte, yte, ann_logits, search_vth: int):
    """The sigma-delta program on a noisy video-like sequence at several thresholds."""
    import snnc
    from snnc.calibration.sigma_delta import convert_sdnn
    from snnc.compiler.discretize import Convention
    from snnc.compiler.ir import loihi

    rng = np.random.default_rng(1)
    seq = np.clip(xte[:, None] + rng.normal(0.0, SEQ_NOISE, (len(xte), SEQ_FRAMES) + xte.shape[1:]), 0, 1)
    seq = seq.astype(np.float32)
    ann_pred = ann_logits(seq.reshape((-1,) + xte.shape[1:])).argmax(-1).reshape(len(xte), SEQ_FRAMES)
    rows = []
    for vth in sorted({0, search_vth, 2 * search_vth, 4 * search_vth}):
        c = convert_sdnn(g, xcal, Convention(), threshold=vth / 64)
        prog = snnc.compile(c.graph)
        prog.encoder = c.encoder
        raw = prog.run(seq, return_raw=True)
        (o,) = prog.outputs
        src, depth = prog.probed(o), prog.latency[o]
        y = raw.payload[src][:, depth : depth + SEQ_FRAMES].reshape(len(xte), SEQ_FRAMES, -1)
        pred = y.argmax(-1)
        d = depths(prog.graph)
        senders = [n for n in prog.graph.of_kind(loihi.SigmaDeltaCompartment)
                   if prog.graph[n].neuron != "sigma"]
        msgs = sum(float((raw.payload[n][:, d[n] : d[n] + SEQ_FRAMES] != 0).sum())
                   for n in senders) / len(xte) / SEQ_FRAMES
        rows.append(dict(vth=vth, acc_last=float((pred[:, -1] == yte).mean()),
                         agree=float((pred == ann_pred).mean()), messages=msgs,
                         synops=synops_per_inference(prog, None, raw, SEQ_FRAMES, shifted=True) / SEQ_FRAMES))
    return rows


def main(argv=None) -> int:
    import snnc
    from snnc.calibration.sigma_delta import convert_sdnn, one_shot_integer_ann
    from snnc.compiler.discretize import Convention

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer training epochs and test samples (smoke run)")
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    xtr, ytr, xte, yte = digits()
    if a.quick:
        xte, yte = xte[:200], yte[:200]
    m = train(xtr, ytr, 5 if a.quick else 40)
    import torch

    with torch.no_grad():
        ann = float((m(torch.tensor(xte)).argmax(-1).numpy() == yte).mean())
    xcal = xtr[:CAL_SAMPLES]
    acc = lambda logits: float((np.asarray(logits).argmax(-1) == yte).mean())  # noqa: E731
    print(f"sigma-delta vs rate-coded conversion of a digits CNN on the emulator; {len(xte)} test samples, "
          f"{CAL_SAMPLES} calibration samples; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="snnc-bench-sdnn-") as tmp:
        path = Path(tmp) / "cnn.onnx"
        export(m, xtr, path)
        g = snnc.load(path)
        rows = []
        variants = [("searched θ, bias relays (default)", None, "relay"),
                    ("θ = 0, bias relays", 0.0, "relay"),
                    ("searched θ, Lava bias register (waves)", None, "register")]
        search = None
        for label, theta, bias in variants:
            t0 = time.perf_counter()
            c = convert_sdnn(g, xcal, Convention(), threshold=theta, bias=bias)
            search = search or c.search
            prog = snnc.compile(c.graph)
            prog.encoder = c.encoder
            depth = max(prog.latency.values())
            ro, raw = sdnn_run(prog, xte, depth + 1 + EXTRA_STEPS)
            per_step = [acc(ro[:, r]) for r in range(ro.shape[1])]
            q = prog.encoder.encode(xte)[:, 0]
            ia = one_shot_integer_ann(prog, q, deadzone=False)
            iz = one_shot_integer_ann(prog, q, deadzone=True)
            diff = float(np.max(np.abs(ro[:, depth] - iz)))
            # the inference: D + 1 raw steps (the output is final at raw step D)
            events = synops_per_inference(prog, None, raw, window=depth + 1)
            rows.append(dict(label=label, vth=c.vth, depth=depth, per_step=per_step, int_ann=acc(ia),
                             int_dead=acc(iz), diff=diff, synops=events, seconds=time.perf_counter() - t0))
        if_rows = []
        for t in IF_TIMESTEPS:
            t0 = time.perf_counter()
            prog = snnc.compile(path, calibration=xcal, timesteps=t)
            x_sp = prog.encode(xte)
            raw = prog.run(x_sp, return_raw=True)
            y = prog.run(x_sp)
            if_rows.append(dict(t=t, acc=acc(y.sum(axis=1)), depth=max(prog.latency.values()),
                                synops=synops_per_inference(prog, np.concatenate(
                                    [x_sp, np.zeros((len(xte), raw.steps - x_sp.shape[1]) + x_sp.shape[2:], x_sp.dtype)],
                                    axis=1), raw), seconds=time.perf_counter() - t0))
        def ann_logits(x):
            with torch.no_grad():
                return m(torch.tensor(x)).numpy()

        seq_rows = sequence_rows(g, xcal, xte, yte, ann_logits, rows[0]["vth"])
    print(f"\nANN (float, torch): {100 * ann:.1f} %")
    print("\nthreshold search on the calibration data (float reference, static inputs):")
    print(f"{'vth':>4} {'θ':>8} {'agreement':>10} {'messages':>9} {'syn. events':>12}")
    for r in search:
        print(f"{r['vth']:>4} {r['theta']:>8.4f} {100 * r['agreement']:>9.1f}% {r['messages']:>9.1f} "
              f"{r['synaptic_events']:>12.0f}")
    print("\nsigma-delta (emulator): accuracy % at raw step r (latency r + 1 steps)")
    d = rows[0]["depth"]
    print(f"{'variant':<40} {'vth':>3} {'int ANN':>8} {'int ANN dz':>10} "
          + " ".join(f"{'r=' + str(r):>6}" for r in range(d + 1 + EXTRA_STEPS))
          + f" {'|out−dz ANN|':>12} {'SynOps/inf':>11} {'s':>5}")
    for r in rows:
        print(f"{r['label']:<40} {r['vth']:>3} {100 * r['int_ann']:>8.1f} {100 * r['int_dead']:>10.1f} "
              + " ".join(f"{100 * v:>6.1f}" for v in r["per_step"])
              + f" {r['diff']:>12.3g} {r['synops']:>11.0f} {r['seconds']:>5.1f}")
    print(f"  (synaptic depth D = {d}: the output is final at r = D, after D + 1 = {d + 1} steps)")
    print("\nrate-coded IF (emulator):")
    print(f"{'T':>4} {'acc %':>6} {'steps (T + depth)':>18} {'SynOps/inf':>11} {'s':>5}")
    for r in if_rows:
        print(f"{r['t']:>4} {100 * r['acc']:>6.1f} {r['t'] + r['depth']:>18} {r['synops']:>11.0f} {r['seconds']:>5.1f}")
    sd = rows[0]
    sd_acc = sd["per_step"][sd["depth"]]
    equal = [r for r in if_rows if r["acc"] >= sd_acc - 1e-12]
    print(f"\nSDNN (default) at latency D + 1 = {sd['depth'] + 1}: {100 * sd_acc:.1f} % (quantized ANN "
          f"{100 * sd['int_ann']:.1f} %, gap {100 * (sd['int_ann'] - sd_acc):+.1f} pp), {sd['synops']:.0f} SynOps/inference")
    if equal:
        e = equal[0]
        print(f"rate-coded IF at equal accuracy: T = {e['t']} ({100 * e['acc']:.1f} %), {e['synops']:.0f} SynOps/inference "
              f"= {e['synops'] / sd['synops']:.1f}x the SDNN's")
    else:
        best = max(if_rows, key=lambda r: r["acc"])
        print(f"rate-coded IF never reaches it up to T = {IF_TIMESTEPS[-1]} (best {100 * best['acc']:.1f} % at "
              f"T = {best['t']}, {best['synops']:.0f} SynOps/inference = {best['synops'] / sd['synops']:.1f}x)")
    print(f"\nsequence: {SEQ_FRAMES} frames per digit, sensor noise σ = {SEQ_NOISE} (sigma-delta program, "
          "step by step; per frame: each layer counted over the raw steps of its T frames, / T)")
    print(f"{'vth':>4} {'θ':>7} {'acc last frame %':>16} {'agreement with ANN %':>21} {'messages/frame':>15} "
          f"{'SynOps/frame':>13}")
    for r in seq_rows:
        print(f"{r['vth']:>4} {r['vth'] / 64:>7.4f} {100 * r['acc_last']:>16.1f} {100 * r['agree']:>21.1f} "
              f"{r['messages']:>15.1f} {r['synops']:>13.0f}")
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

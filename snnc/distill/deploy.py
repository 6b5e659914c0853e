"""Evaluation of a student in float, in QAT and deployed (snnc compile → emulator)."""

from __future__ import annotations

import numpy as np
import torch

from snnc.distill.decoders import FirstSpikeDecoder
from snnc.distill.export import compile_student


@torch.no_grad()
def evaluate(model, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> dict[str, float]:
    """Accuracy (%) and spikes per sample of a student (its current mode) or an ANN."""
    model.eval()
    correct, spikes = 0, 0.0
    for i in range(0, len(y), batch):
        out = model(x[i : i + batch])
        logits = out.logits if hasattr(out, "logits") else out
        correct += int((logits.argmax(-1) == y[i : i + batch].to(logits.device)).sum())
        spikes += float(out.spikes.sum()) if hasattr(out, "spikes") else 0.0
    return {"acc": 100.0 * correct / len(y), "spikes": spikes / len(y)}


def decode_output(student, out: np.ndarray) -> np.ndarray:
    """Logits from ``Program.run``'s output (N, T, n_out), as the student decodes its read-out."""
    o = torch.as_tensor(np.asarray(out, dtype=np.float64))
    kind = student.output
    if kind == "mem_mean":
        return (o[:, -1] / o.shape[1]).numpy()
    if kind == "per_timestep":
        return o.mean(1).numpy()
    if kind == "mem_last":
        return o[:, -1].numpy()
    if kind == "rate":
        return o.mean(1).numpy()
    return FirstSpikeDecoder()(o).numpy()


def _aligned_spikes(prog, raw, t: int) -> float:
    """Spikes of every population over the input's T steps (raw steps k..k+T for a
    population at synaptic depth k = its ``start_step``), summed over the batch."""
    total = 0
    for name, s in raw.spikes.items():
        k = int(prog.graph[name].start_step)
        total += int(np.asarray(s)[:, k : k + t].sum())
    return float(total)


def evaluate_deployed(student, x: torch.Tensor, y: torch.Tensor, target: str = "loihi2",
                      profile: bool = True) -> dict:
    """Compile the exported student with snnc, run it on the emulator: accuracy (%), spikes
    per inference (every population, every step) and, when the program has ``profile``
    (the energy profiler, its default coefficient set), per inference::

        energy_per_inference_j        E = E_dyn + E_static          (the profiler's total)
        event_energy_per_inference_j  E_dyn − steps·chips·step_dynamic_nJ − E_host
                                      (SynOps, neuron updates, spikes, routing: what the
                                      network's activity costs; on a small network the fixed
                                      per-step terms hide it in E)
        synops_per_inference          SynOps (binary and graded)"""
    prog = compile_student(student, target)
    xs = x.detach().cpu().numpy().astype(np.uint8)
    raw = prog.run(xs, return_raw=True)
    out = prog.run(xs)
    pred = decode_output(student, out).argmax(-1)
    res = {
        "acc": 100.0 * float((pred == y.cpu().numpy()).mean()),
        "spikes": _aligned_spikes(prog, raw, xs.shape[1]) / len(y),
        "program": prog,
    }
    if profile and hasattr(prog, "profile"):  # the energy profiler (snnc.profiler), where present
        rep = prog.profile(xs)
        res["energy_per_inference_j"] = float(rep.energy_J)  # mean over the batch, per inference
        res["event_energy_per_inference_j"] = rep.estimate.events_J
        res["synops_per_inference"] = float(rep.synops + rep.per_inference_counts()["graded_synops"])
    return res

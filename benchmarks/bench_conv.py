"""The emulator on real networks, side by side in one run, with the machine's load.

    .venv/bin/python benchmarks/bench_conv.py                       # pilotnet, mlp, shard
    .venv/bin/python benchmarks/bench_conv.py --parts pilotnet --lava   # + Lava (minutes)

* **pilotnet**: lava-dl's PilotNet LIF (``../shared/lava-dl-fixtures/pilotnet_lif``: Input
  block, five convolutions, four dense layers, ``reset_interval=17``), ``--batch`` images (the
  fixture's image and copies with ±8 noise) on the bias route, 24 raw steps.  The emulator's fast
  path against the generic engine (the 'before': ``fast.ENABLED = False``), bit-exact on every
  layer; against a torch float32 forward of the same convolutions and dense layers (``conv2d``
  / ``matmul`` over all samples and steps at once, on the spikes the emulator recorded: the
  synaptic work alone, no neuron updates); with ``--lava`` against lava-dl's ``hdf5.Network``
  in Lava fixed_pt on the first image (compile included; every layer's spikes compared).
* **mlp**: the LIF MLP 784-256-256-10 of bench_backends.py, ``--samples`` samples, T = 100, 10 %
  Poisson input: ``emulator.run`` against snnTorch's float forward (``nn.Linear`` +
  ``snn.Leaky``, β = 0.9) and against one GEMM per layer over all samples and steps, float32
  and int8 (``torch._int_mm``), on the emulator's recorded spikes (the floor of the synaptic
  work).
* **event** (not in the default parts): event-driven accumulation (the kernel columns of the
  active inputs summed: scipy's sparse spikes × sparse Wᵀ) against the fast path's im2col int8
  product for PilotNet's convolutions at 1 % and 10 % input rates, one step of ``--batch``.
* **shard**: ``Program.run(x, shard=True)`` under ``torchrun`` with 1 and 2 processes on
  PilotNet (``--shard-batch`` images): samples/s, bit-identical outputs.

Every time is the best of ``--repeat`` runs; ``load`` is ``os.getloadavg()`` (1 min) when the
line was measured.  Compare ratios measured in the same run only.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_backends import mlp, poisson  # noqa: E402

import snnc  # noqa: E402
from snnc.backends import emulator  # noqa: E402
from snnc.backends.emulator import fast  # noqa: E402
from snnc.compiler.ir import loihi  # noqa: E402

PILOT = ROOT.parent / "shared" / "lava-dl-fixtures" / "pilotnet_lif"
PILOT_STEPS = 24


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


class Time(float):
    """Best wall seconds of a measurement (the float), with ``cpu``: the best CPU seconds of this
    process (all its threads; ``time.process_time``).  On a shared machine the wall time
    grows with the other processes' load; the CPU time much less (only cache and SMT sharing)."""

    cpu: float

    def __new__(cls, wall: float, cpu: float):
        t = super().__new__(cls, wall)
        t.cpu = cpu
        return t


def best(f, repeat: int):
    """(:class:`Time`, last result) of ``repeat`` calls."""
    walls, cpus, r = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        r = f()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return Time(min(walls), min(cpus)), r


def ms(t: Time, n: int = 1) -> str:
    """``t`` per item of ``n`` in ms, wall and CPU."""
    return f"{t / n * 1e3:8.2f} ms (cpu {t.cpu / n * 1e3:7.2f})"


def ratio(a: Time, b: Time) -> str:
    return f"{a / b:.2f}x wall, {a.cpu / b.cpu:.2f}x cpu"


def best_threads(f, repeat: int, threads: int):
    """(best seconds, torch threads) of ``f`` over torch intra-op thread counts 1 and
    ``threads``: on a shared machine OpenMP's barriers can make 2 threads slower than 1."""
    import torch

    old = torch.get_num_threads()
    out = []
    try:
        for n in sorted({1, threads}):
            torch.set_num_threads(n)
            f()  # warm
            out.append((best(f, repeat)[0], n))
    finally:
        torch.set_num_threads(old)
    return min(out, key=lambda o: o[0])


def generic(f):
    old = fast.ENABLED
    fast.ENABLED = False
    try:
        return f()
    finally:
        fast.ENABLED = old


def pilot_program():
    return snnc.load(PILOT / "network.net", reset_interval=17)


def pilot_images(batch: int, seed: int = 0) -> np.ndarray:
    image = np.load(PILOT / "image.npy").transpose(2, 1, 0)[None]  # (W, H, C) -> (1, C, H, W)
    rng = np.random.default_rng(seed)
    x = np.clip(image + rng.integers(-8, 9, (batch,) + image.shape[1:]), 0, 255).astype(image.dtype)
    x[0] = image[0]
    return x


def same_run(a, b) -> bool:
    return all(np.array_equal(a.spikes[c], b.spikes[c]) for c in a.spikes) and all(
        np.array_equal(a.v[c], b.v[c]) for c in a.v)


# ------------------------------------------------------------------------------ PilotNet
def torch_float_forward(graph, raw):
    """A callable running every synapse of ``graph`` in torch float32 on the spikes its source
    recorded in ``raw``, all samples and steps at once (conv2d / matmul), and its MACs/sample."""
    import torch

    jobs, macs = [], 0
    for name, node in graph.nodes.items():
        src = graph.predecessors(name)[0] if graph.predecessors(name) else None
        if isinstance(node, loihi.ConvSynapse):
            s = raw.spikes[src]
            x = torch.from_numpy(s.reshape(-1, *node.in_shape).astype(np.float32))
            w = torch.from_numpy(np.asarray(node.weights, np.float32))
            kw = dict(stride=tuple(node.stride), padding=tuple(node.padding),
                      dilation=tuple(node.dilation), groups=int(node.groups))
            jobs.append(lambda x=x, w=w, kw=kw: torch.nn.functional.conv2d(x, w, **kw))
            co, cg, kh, kw_ = node.weights.shape
            macs += int(np.prod(node.out_shape)) * cg * kh * kw_
        elif isinstance(node, loihi.Synapse):
            s = raw.spikes[src]
            x = torch.from_numpy(s.reshape(-1, node.n_in).astype(np.float32))
            w = torch.from_numpy(np.asarray(node.dense_weights(), np.float32).T.copy())
            jobs.append(lambda x=x, w=w: x @ w)
            macs += node.n_in * node.n_out

    def run():
        for j in jobs:
            j()
    return run, macs


def bench_pilotnet(a) -> None:
    prog = pilot_program()
    depth = max(prog.latency.values())
    x = pilot_images(a.batch)
    steps = PILOT_STEPS - depth

    def fast_run():
        return prog.run(x, input="bias", steps=steps, return_raw=True)

    fast_run()  # warm: torch import, int8 probe, plan caches
    t_fast, r_fast = best(fast_run, a.repeat)
    l_fast = load()
    t_gen, r_gen = best(lambda: generic(fast_run), 2)
    l_gen = load()
    exact = same_run(r_fast, r_gen)
    fwd, macs = torch_float_forward(prog.graph, r_fast)
    t_fl, n_fl = best_threads(fwd, a.repeat, a.threads)
    l_fl = load()
    b = a.batch
    sizes = [prog.graph[c].size for c in prog.graph.of_kind(loihi.Compartment)]
    neurons = f"{sum(sizes):,} neurons ({sum(sizes[1:]):,} behind the input layer)"
    rates = ", ".join(f"{c} {r_fast.spikes[c].mean():.1%}" for c in ("layer1", "layer2", "layer3",
                                                                        "layer4", "layer5"))
    print(f"PilotNet LIF: {neurons}, {macs / 1e6:.1f} M synaptic MACs per step, "
          f"{PILOT_STEPS} raw steps, batch {b}, bias route; conv spike rates {rates}")
    print(f"  emulator fast path : {ms(t_fast, b)} per sample  "
          f"({macs * PILOT_STEPS * b / t_fast / 1e9:.1f} GMAC/s)  [{l_fast}]")
    print(f"  generic engine     : {ms(t_gen, b)} per sample  (the 'before')  [{l_gen}]")
    print(f"  torch float32 convs: {ms(t_fl, b)} per sample  (conv2d/matmul over all samples "
          f"and steps, synapses only, {n_fl} thread(s); "
          f"{macs * PILOT_STEPS * b / t_fl / 1e9:.1f} GMAC/s)  [{l_fl}]")
    print(f"  ratio: fast path faster than the generic engine {ratio(t_gen, t_fast)}; bit-exact "
          f"(every layer, every step): {exact}; the fast path takes {ratio(t_fast, t_fl)} the "
          f"torch float forward")
    if a.lava:
        from snnc.backends.lava.netx import run_netx

        t0 = time.perf_counter()
        blocks = run_netx(PILOT / "network.net", x[:1], PILOT_STEPS, reset_interval=17,
                          input="bias", timeout=3000)
        t_lava = time.perf_counter() - t0  # wall: Lava runs in child processes
        layers = [c for c in prog.graph.of_kind(loihi.Compartment)]
        lava_exact = len(blocks) == len(layers) and all(
            np.array_equal(r_fast.spikes[c][:1].reshape(blk.shape), blk)
            for c, blk in zip(layers, blocks))
        print(f"  lava-dl in Lava    : {t_lava * 1e3:8.0f} ms/sample  (1 sample, compile "
              f"included)  [{load()}]")
        print(f"  ratio: emulator {t_lava / (t_fast / b):.0f}x faster than Lava (wall); bit-exact "
              f"on sample 0 (every layer): {lava_exact}")


# ----------------------------------------------------------------------------------- MLP
def bench_mlp(a) -> None:
    import torch

    prog = snnc.compile(mlp([784, 256, 256, 10]))
    g = prog.graph
    steps = 100 + max(prog.latency.values())
    x = poisson(a.samples, 100, 784)
    emulator.run(g, x[:64], steps)  # warm
    t_emu, raw = best(lambda: emulator.run(g, x, steps), a.repeat)
    l_emu = load()
    syns = [s for s in g.of_kind(loihi.Synapse)]
    srcs = [g.predecessors(s)[0] for s in syns]
    ins = [x.reshape(-1, 784) if g[src].__class__ is loihi.SpikeSource
           else raw.spikes[src][:, :100].reshape(-1, g[src].size) for src in srcs]
    ins = [np.ascontiguousarray(i) for i in ins]
    wf = [torch.from_numpy(np.asarray(g[s].dense_weights(), np.float32).T.copy()) for s in syns]
    xf = [torch.from_numpy(i.astype(np.float32)) for i in ins]
    w8 = [torch.from_numpy(np.clip(np.asarray(g[s].dense_weights()), -128, 127).astype(np.int8)).t()
          for s in syns]
    x8 = [torch.from_numpy(i.view(np.int8)) for i in ins]

    def f32():
        for xi, wi in zip(xf, wf):
            xi @ wi

    def i8():
        for xi, wi in zip(x8, w8):
            torch._int_mm(xi, wi)

    t_f32, n_f32 = best_threads(f32, a.repeat, a.threads)
    l_f32 = load()
    t_i8, n_i8 = best_threads(i8, a.repeat, a.threads)
    l_i8 = load()
    t_snn, n_snn = best_threads(snntorch_forward(g, x), a.repeat, a.threads)
    l_snn = load()
    n = a.samples
    print(f"LIF MLP 784-256-256-10, T=100 ({steps} raw steps), {n} samples, 10 % input")
    print(f"  emulator (engine)  : {ms(t_emu)}  [{l_emu}]")
    print(f"  snnTorch forward   : {ms(t_snn)}  (float32, nn.Linear + snn.Leaky, {n_snn} "
          f"thread(s))  [{l_snn}]")
    print(f"  float32 GEMM floor : {ms(t_f32)}  (one matmul per layer, all samples and steps, "
          f"{n_f32} thread(s))  [{l_f32}]")
    print(f"  int8 GEMM floor    : {ms(t_i8)}  (torch._int_mm, same shapes, {n_i8} thread(s))  [{l_i8}]")
    print(f"  ratio: the emulator takes {ratio(t_emu, t_i8)} the int8 floor, {ratio(t_emu, t_f32)} "
          f"the float32 floor; snnTorch takes {ratio(t_snn, t_emu)} the emulator")


def snntorch_forward(g, x):
    import snntorch as snn
    import torch

    layers = []
    for s in g.of_kind(loihi.Synapse):
        w = np.asarray(g[s].dense_weights(), np.float32)
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        lin.weight.data = torch.from_numpy(w / np.abs(w).max())
        layers.append((lin, snn.Leaky(beta=0.9)))
    xt = torch.from_numpy(x.astype(np.float32))

    def run():
        with torch.no_grad():
            mems = [lif.init_leaky() for _, lif in layers]
            for t in range(xt.shape[1]):
                h = xt[:, t]
                for i, (lin, lif) in enumerate(layers):
                    h, mems[i] = lif(lin(h), mems[i])
    return run


# --------------------------------------------------------------------------------- event
def bench_event(a) -> None:
    import scipy.sparse as sp

    from snnc.backends.emulator import fast_conv
    from snnc.backends.emulator.synapse import conv_matrix

    g = pilot_program().graph
    rng = np.random.default_rng(0)
    with fast.one_thread_per_kernel(True, True):
        for name in g.of_kind(loihi.ConvSynapse):
            syn = g[name]
            wt = conv_matrix(syn).T.tocsr()  # (n_in, n_out): row j = what input j adds
            blk = fast_conv.build(syn, fast.int8_matmul())
            for rate in (0.01, 0.1):
                x = rng.random((a.batch, syn.n_in)) < rate
                hwc = np.ascontiguousarray(
                    x.reshape(a.batch, *syn.in_shape).transpose(0, 2, 3, 1).reshape(a.batch, -1))

                def events(x=x, wt=wt):
                    r, c = np.nonzero(x)
                    s = sp.csr_matrix((np.ones(r.size), (r, c)), shape=x.shape)
                    return s @ wt

                def product(blk=blk, hwc=hwc):
                    return fast_conv.sums(blk, hwc, fast.int8_matmul(), {})

                events()
                product()
                t_ev, _ = best(events, a.repeat)
                t_gm, _ = best(product, a.repeat)
                print(f"  {name} at {rate:.0%}: event-driven {ms(t_ev)}, im2col int8 {ms(t_gm)} "
                      f"({ratio(t_ev, t_gm)}), batch {a.batch}, one step  [{load()}]")


# --------------------------------------------------------------------------------- shard
def bench_shard(a) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outs, rates = {}, {}
        for nproc in (1, 2):
            out = pathlib.Path(tmp) / f"y{nproc}.npz"
            env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc-per-node={nproc}", __file__, "--shard-worker", str(out),
                   "--shard-batch", str(a.shard_batch), "--repeat", str(a.repeat)]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
            if r.returncode != 0:
                print(r.stdout[-2000:], r.stderr[-2000:])
                raise SystemExit(f"{nproc} processes failed")
            line = [s for s in r.stdout.splitlines() if s.startswith("shard:")][-1]
            rates[nproc] = float(line.split()[1])
            with np.load(out) as z:
                outs[nproc] = {k: z[k] for k in z.files}
            print(f"  {nproc} process(es): {line[7:]}")
        same = outs[1].keys() == outs[2].keys() and all(
            np.array_equal(outs[1][k], outs[2][k]) for k in outs[1])
        print(f"  ratio: 2 processes {rates[2] / rates[1]:.2f}x the throughput of 1; outputs "
              f"bit-identical: {same}")


def shard_worker(a) -> None:
    """Under torchrun: time Program.run(x, shard=True) on PilotNet, rank 0 reports and writes."""
    import torch.distributed as dist

    from snnc.backends.emulator import shard

    prog = pilot_program()
    x = pilot_images(a.shard_batch)
    steps = PILOT_STEPS - max(prog.latency.values())
    prog.run(x[:8], input="bias", steps=steps, shard=True)  # warm; starts the group

    def once():
        if dist.is_initialized():
            dist.barrier()
        return prog.run(x, input="bias", steps=steps, shard=True)

    t, y = best(once, a.repeat)
    rank, size = shard.world()
    if shard.is_writer():
        np.savez(a.shard_worker, **(y if isinstance(y, dict) else {"x": y}))
        print(f"shard: {a.shard_batch / t:.1f} samples/s ({t / a.shard_batch * 1e3:.2f} ms/sample, "
              f"{a.shard_batch} PilotNet samples over {size} process(es), fast-path threads "
              f"{max(1, fast.THREADS // size)} each)  [{load()}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="pilotnet,mlp,shard")
    ap.add_argument("--batch", type=int, default=16, help="PilotNet images")
    ap.add_argument("--samples", type=int, default=1000, help="MLP samples")
    ap.add_argument("--shard-batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="torch threads of the float/int8 references")
    ap.add_argument("--lava", action="store_true", help="PilotNet in Lava too (minutes)")
    ap.add_argument("--shard-worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.shard_worker:
        shard_worker(a)
        return
    print(f"{os.cpu_count()} CPUs, fast-path threads {fast.THREADS}; {load()}")
    parts = a.parts.split(",")
    if "pilotnet" in parts:
        bench_pilotnet(a)
    if "mlp" in parts:
        bench_mlp(a)
    if "event" in parts:
        print("Event-driven accumulation vs the im2col int8 product (PilotNet's convolutions)")
        bench_event(a)
    if "shard" in parts:
        print(f"Sharded evaluation (torchrun --standalone, gloo), PilotNet, {a.shard_batch} images")
        bench_shard(a)


if __name__ == "__main__":
    main()

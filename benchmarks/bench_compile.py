"""Compile time and peak memory at chip scale: validate → quantize → verify on float graphs.

    .venv/bin/python benchmarks/bench_compile.py [--sizes 10k,100k,1M] [--profile 1M]

Each size is compiled in a fresh child process (so peak RSS, ``VmHWM``, is that size's
alone).  The network (deterministic RNG, snnTorch convention β = 0.9, θ = 1) covers every
kind of synapse block the quantizer builds::

    Input (2,H,H) -conv 3x3-> LIF1 (16,H,H)                    shared-kernel ConvSynapse
    LIF1 -conv 3x3 -> SumPool 2-> LIF2 (8,H/2,H/2)             sparse Synapse (composed)
    LIF2 -AvgPool 4 -> Flatten-> LIF3 (8·(H/8)²)               sparse Synapse (composed)
    LIF3 -Affine-> LIF4 (D, per-neuron τ) -Linear-> LIF5 (D)   dense Synapses (D², big)
    LIF5 -Affine-> LI (10) -> Output                           read-out

``synapses`` counts stored synapses (a ConvSynapse stores its kernel); ``unrolled`` counts
every (pre, post) pair, conv positions included.  With ``--profile SIZE`` the child runs
under cProfile and prints the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from bench_backends import peak_rss_mib  # noqa: E402

DT = 1e-4
#: size name -> (H, D): neurons ≈ 16H² + 2H² + H²/8 + 2D
SIZES = {"10k": (24, 600), "100k": (80, 2000), "1M": (240, 6000)}


def _lif(shape, rng=None):
    tau = np.full(shape, DT / 0.1)
    if rng is not None:  # per-neuron time constants (snnTorch learnable beta)
        tau = DT / (1.0 - rng.uniform(0.8, 0.95, shape))
    from snnc.compiler.ir import ops

    return ops.LIF(tau, tau / DT, np.zeros(shape), np.ones(shape), np.zeros(shape))


def network(h: int, d: int, seed: int = 0):
    """The benchmark graph for input size H×H and dense width D; see the module docstring."""
    from snnc.compiler.ir import ops
    from snnc.compiler.ir.graph import Graph

    rng = np.random.default_rng(seed)
    c0, c1, c2 = 2, 16, 8
    h2, h3 = h // 2, h // 8
    n3 = c2 * h3 * h3
    nodes = {
        "in": ops.Input((c0, h, h)),
        "conv1": ops.Conv2d((h, h), rng.normal(0, 0.6, (c1, c0, 3, 3)), (1, 1), (1, 1), (1, 1), 1, np.zeros(c1)),
        "lif1": _lif((c1, h, h)),
        "conv2": ops.Conv2d((h, h), rng.normal(0, 0.15, (c2, c1, 3, 3)), (1, 1), (1, 1), (1, 1), 1,
                            rng.normal(0, 0.01, c2)),
        "pool2": ops.SumPool2d((c2, h, h), (2, 2), (2, 2), (0, 0)),
        "lif2": _lif((c2, h2, h2)),
        "pool3": ops.AvgPool2d((c2, h2, h2), (4, 4), (4, 4), (0, 0)),
        "flat3": ops.Flatten((c2, h3, h3)),
        "lif3": _lif((n3,)),
        "fc4": ops.Affine(rng.normal(0.01, 1.0, (d, n3)) * 2.0 / np.sqrt(n3), rng.normal(0, 0.01, d)),
        "lif4": _lif((d,), rng),
        "fc5": ops.Linear(rng.normal(0.01, 1.0, (d, d)) * 2.0 / np.sqrt(d)),
        "lif5": _lif((d,)),
        "fc6": ops.Affine(rng.normal(0, 1.0, (10, d)) / np.sqrt(d), np.zeros(10)),
        "li": ops.LI(np.full(10, DT / 0.1), np.full(10, 1.0), np.zeros(10)),
        "out": ops.Output((10,)),
    }
    chain = ["in", "conv1", "lif1", "conv2", "pool2", "lif2", "pool3", "flat3", "lif3", "fc4", "lif4",
             "fc5", "lif5", "fc6", "li", "out"]
    return Graph(nodes, list(zip(chain[:-1], chain[1:])))


def _counts(prog) -> tuple[int, int, int, dict[str, int]]:
    from snnc.compiler.ir import loihi

    g = prog.graph
    neurons = sum(g[n].size for n in g.of_kind(loihi.Compartment))
    stored = unrolled = 0
    kinds: dict[str, int] = {}
    for n in g.of_kind(loihi.Synapse, loihi.ConvSynapse):
        node = g[n]
        stored += node.num_synapses
        if isinstance(node, loihi.ConvSynapse):
            kinds["conv"] = kinds.get("conv", 0) + 1
            k = np.count_nonzero(node.weights) // node.weights.shape[0]  # per output channel
            unrolled += node.n_out * k  # upper bound (padding positions read zero)
        else:
            key = "sparse" if node.is_sparse else "dense"
            kinds[key] = kinds.get(key, 0) + 1
            unrolled += node.num_synapses
    return neurons, stored, unrolled, kinds


def run_one(size: str, profile: bool) -> dict:
    """Build and compile one size in this process; return the measurements."""
    import snnc

    h, d = SIZES[size]
    t0 = time.perf_counter()
    graph = network(h, d)
    t_build = time.perf_counter() - t0
    rss_graph = peak_rss_mib() / 1024
    t0 = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        prog = pr.runcall(snnc.compile, graph)
        pstats.Stats(pr, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    else:
        prog = snnc.compile(graph)
    t_compile = time.perf_counter() - t0
    neurons, stored, unrolled, kinds = _counts(prog)
    return {
        "size": size, "H": h, "D": d, "neurons": neurons, "synapses": stored, "unrolled": unrolled,
        "blocks": kinds, "build_s": t_build, "compile_s": t_compile, "timings": dict(prog.timings),
        "rss_graph_gb": rss_graph, "peak_rss_gb": peak_rss_mib() / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1M")
    ap.add_argument("--profile", default=None, help="size to run under cProfile (output on stderr)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.profile == args.one)))
        return
    rows = []
    for size in args.sizes.split(","):
        cmd = [sys.executable, __file__, "--one", size] + (["--profile", args.profile] if args.profile else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{size}: failed\n{out.stderr[-3000:]}")
            continue
        if args.profile == size:
            print(out.stderr)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'size':>5} {'neurons':>10} {'synapses':>12} {'unrolled':>12} {'validate':>9} {'quantize':>9} "
          f"{'compile':>9} {'s/M syn':>8} {'peak RSS':>9} {'graph RSS':>9}  blocks")
    for r in rows:
        t = r["timings"]
        print(f"{r['size']:>5} {r['neurons']:>10,} {r['synapses']:>12,} {r['unrolled']:>12,} "
              f"{t.get('validate', 0):>8.2f}s {t.get('quantize', 0):>8.2f}s {r['compile_s']:>8.2f}s "
              f"{r['compile_s'] / (r['synapses'] / 1e6):>8.3f} {r['peak_rss_gb']:>8.2f}G {r['rss_graph_gb']:>8.2f}G  "
              f"{r['blocks']}")
    for a, b in zip(rows[:-1], rows[1:]):
        print(f"{a['size']} -> {b['size']}: neurons x{b['neurons'] / a['neurons']:.1f}, synapses "
              f"x{b['synapses'] / a['synapses']:.1f}, compile time x{b['compile_s'] / a['compile_s']:.1f}, "
              f"peak RSS x{b['peak_rss_gb'] / a['peak_rss_gb']:.1f}")
    print("target at 1M neurons: compile <= 10 s, peak RSS <= 8 GB")


if __name__ == "__main__":
    main()

"""Partition + check_resources time on bench_compile's chip-scale network, greedy vs comm.

    .venv/bin/python benchmarks/bench_partition.py [--sizes 10k,100k,1M] [--target loihi2]

Each size runs in a fresh child process: the network of ``bench_compile.py`` is quantized
(``stop_after="quantize"``, not timed), then the ``partition`` and ``check_resources`` passes
run on it for each strategy, and the resource report is built once.  Printed per size:
neurons, stored synapses, cores, chips, quantize time, partition time per strategy (the
quantize time is the scale: both are measured in the same process), report time, and the
synapses expected across chips for greedy and comm.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def run_one(size: str, target: str) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_compile

    import snnc
    from snnc.compiler.discretize import Convention
    from snnc.compiler.passes.partition import partition
    from snnc.compiler.passes.pipelines import CompileContext
    from snnc.compiler.passes.resources import check_resources
    from snnc.compiler.targets import get_target
    from snnc.compiler.mapping.report import resource_report

    h, d = bench_compile.SIZES[size]
    graph = bench_compile.network(h, d)
    t0 = time.perf_counter()
    prog = snnc.compile(graph, target=target, stop_after="quantize")
    t_quant = time.perf_counter() - t0
    spec = get_target(target)
    row = {"size": size, "quantize_s": t_quant}
    for strategy in ("greedy", "comm"):
        ctx = CompileContext(convention=Convention(), target=spec, mapping=strategy)
        t0 = time.perf_counter()
        check_resources(partition(prog.graph, ctx), ctx)
        row[f"{strategy}_s"] = time.perf_counter() - t0
        placement = ctx.reports["placement"]
        t0 = time.perf_counter()
        rep = resource_report(prog.graph, placement, spec).to_dict()
        row["report_s"] = time.perf_counter() - t0
        row[f"{strategy}_cut"] = rep["cross_chip_synapses"]
        row.update(cores=rep["cores"], chips=rep["chips"], neurons=int(sum(r["neurons"] for r in rep["layers"])),
                   synapses=int(sum(t["synapses"] for t in rep["traffic"])))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1M")
    ap.add_argument("--target", default="loihi2")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.target)))
        return
    print(f"{'size':>5} {'neurons':>10} {'synapses':>12} {'cores':>6} {'chips':>5} {'quantize':>9} "
          f"{'greedy':>8} {'comm':>8} {'report':>8} {'cut greedy':>12} {'cut comm':>12}")
    for size in args.sizes.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", size, "--target", args.target],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{size}: failed\n{out.stderr[-3000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['size']:>5} {r['neurons']:>10,} {r['synapses']:>12,} {r['cores']:>6} {r['chips']:>5} "
              f"{r['quantize_s']:>8.2f}s {r['greedy_s']:>7.2f}s {r['comm_s']:>7.2f}s {r['report_s']:>7.2f}s "
              f"{r['greedy_cut']:>12,} {r['comm_cut']:>12,}")


if __name__ == "__main__":
    main()

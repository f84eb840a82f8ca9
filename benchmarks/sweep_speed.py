"""The speed of `netcost sweep` against the per-model API loop, in process CPU time
(``time.process_time``: the machine may be shared, wall time is noisy).

- the loop: ``netcost.analyze("regnet", values)`` for each of ``--loop`` sampled models
  (the YAML parsed every time), and with the spec parsed once;
- the sweep: ``netcost.sweep("regnet", sample=N, seed=0)``, the rows of ``N`` models drawn
  from the RegNetX space (pycls's sampler and constraints);
- ``--jobs``: the same sweep in worker processes (its wall time; its CPU is the workers').

    python benchmarks/sweep_speed.py [--n 10000] [--loop 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import time

import netcost
from netcost.api import load_spec

VARS = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio", "se_ratio")


def cpu(fn):
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="models in the sweep")
    parser.add_argument("--loop", type=int, default=200, help="models in the per-model loop")
    parser.add_argument("--jobs", type=int, default=0, help="also time --jobs J (wall time)")
    args = parser.parse_args()

    points = netcost.sweep("regnet", sample=args.loop, seed=1, frame=False).rows
    values = [{k: r[k] for k in VARS} for r in points]
    loop, _ = cpu(lambda: [netcost.analyze("regnet", v).totals for v in values])
    spec = load_spec("regnet")
    once, _ = cpu(lambda: [netcost.analyze(spec, v).totals for v in values])
    print(f"per-model API loop, {args.loop} RegNets: {loop / args.loop * 1e3:.1f} ms/model CPU (parsing each time)")
    print(f"                     spec parsed once: {once / args.loop * 1e3:.1f} ms/model CPU")

    seconds, result = cpu(lambda: netcost.sweep("regnet", sample=args.n, seed=0, frame=False))
    per = seconds / args.n * 1e3
    print(
        f"netcost sweep regnet --sample {args.n} --seed 0: {seconds:.1f} s CPU, {per:.2f} ms/model "
        f"({result.drawn:,} draws for {args.n:,} models): {once / args.loop / (seconds / args.n):.0f}x faster "
        "than the loop with the spec parsed once"
    )
    if args.jobs > 1:
        start = time.perf_counter()
        pooled = netcost.sweep("regnet", sample=args.n, seed=0, jobs=args.jobs, frame=False)
        wall = time.perf_counter() - start
        print(f"  --jobs {args.jobs}: {wall:.1f} s wall, the same rows: {pooled.rows == result.rows}")


if __name__ == "__main__":
    main()

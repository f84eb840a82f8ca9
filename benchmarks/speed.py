"""The speed figures of the analytic path, side by side in one run.

- CLI start-up: CPU time (user + sys of the child, ``RUSAGE_CHILDREN``) of
  ``netcost analyze resnet18 --format json`` next to ``python -c "import torch"``;
- in-process analysis of resnet18, resnet152 and efficientnet_b7 (and ``--train``);
- the depth curve: resnet50 with its third stage at 100, 1,000 and 5,000 blocks
  (about 1 K, 10 K and 50 K nodes), each in a child process with a time limit;
- table rendering: rows per second, rich against plain;
- ``netcost zoo``.

    python benchmarks/speed.py [--runs 7] [--depths 100 1000 5000] [--limit 120]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

PY = sys.executable


def child_cpu(cmd: list[str], runs: int, env: dict[str, str] | None = None, warm_up: bool = True) -> list[float]:
    """CPU seconds (user + sys) of each of ``runs`` runs of ``cmd``, after one warm-up run."""
    if warm_up:
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times


def cpu(fn, repeats: int = 1) -> float:
    """Median CPU seconds of ``fn()``."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def startup(runs: int) -> None:
    print("## start-up and whole commands (CPU time of the process, median)")
    netcost = child_cpu([PY, "-m", "netcost", "analyze", "resnet18", "--format", "json"], runs)
    rows = [("netcost analyze resnet18 --format json", netcost)]
    for model in ("resnet18", "efficientnet_b7"):
        table = child_cpu([PY, "-m", "netcost", "analyze", model], runs)
        rows.append((f"netcost analyze {model} (table, piped)", table))
    try:
        torch = child_cpu([PY, "-c", "import torch"], runs)
        rows.append(('python -c "import torch"', torch))
    except subprocess.CalledProcessError:
        torch = None
    rows.append(("python -c pass", child_cpu([PY, "-c", "pass"], runs)))
    for label, times in rows:
        print(f"  {label:<46} {statistics.median(times) * 1000:7.1f} ms  (n={len(times)})")
    if torch:
        print(f"  ratio netcost / import torch: {statistics.median(netcost) / statistics.median(torch):.3f}")


def in_process() -> None:
    from netcost.api import analyze, analyze_train, load_graph

    print("## in-process analysis (CPU time, median of 3)")
    for name in ("resnet18", "resnet152", "efficientnet_b7"):
        graph = load_graph(name)
        expand = cpu(lambda name=name: load_graph(name), 3)
        forward = cpu(lambda graph=graph: analyze(graph), 3)
        train = cpu(lambda graph=graph: analyze_train(graph, optimizer="adam"), 3)
        print(
            f"  {name:<16} {len(graph.nodes):6d} nodes   load+expand {expand * 1000:7.1f} ms   "
            f"analyze {forward * 1000:7.1f} ms   analyze --train {train * 1000:7.1f} ms"
        )


DEPTH_CHILD = """
import json, sys, time
from netcost.api import analyze, analyze_train, load_graph
d = int(sys.argv[1])
t0 = time.process_time(); g = load_graph("resnet50", {"depths": [3, 4, d, 3]})
t1 = time.process_time(); analyze(g)
t2 = time.process_time(); analyze_train(g, optimizer="adam")
t3 = time.process_time()
print(json.dumps({"nodes": len(g.nodes), "expand": t1 - t0, "analyze": t2 - t1, "train": t3 - t2}))
"""


def depth_curve(depths: list[int], limit: float) -> None:
    print(f"## depth curve: resnet50, third stage at n blocks (CPU time; limit {limit:.0f} s each)")
    for d in depths:
        try:
            out = subprocess.run(
                [PY, "-c", DEPTH_CHILD, str(d)], check=True, capture_output=True, text=True, timeout=limit
            )
        except subprocess.TimeoutExpired:
            print(f"  n={d:5d}   did not finish in {limit:.0f} s")
            continue
        r = json.loads(out.stdout)
        n = r["nodes"]
        print(
            f"  n={d:5d} {n:7d} nodes   expand {r['expand']:6.2f} s   analyze {r['analyze']:6.2f} s "
            f"({r['analyze'] / n * 1e6:5.1f} us/node)   "
            f"--train {r['train']:6.2f} s ({r['train'] / n * 1e6:5.1f} us/node)"
        )


def rendering() -> None:
    from rich.console import Console

    from netcost.api import analyze, load_graph
    from netcost.report import render

    print("## table rendering (CPU time; output to a string), against the analysis it shows")
    cases = [
        ("resnet18", load_graph("resnet18")),
        ("efficientnet_b7", load_graph("efficientnet_b7")),
        ("resnet50 n=1000", load_graph("resnet50", {"depths": [3, 4, 1000, 3]})),
    ]
    for name, graph in cases:
        analysis = cpu(lambda graph=graph: analyze(graph), 3)
        report = analyze(graph)
        rows = len(report.rows)

        def rich_table(report=report):
            render.print_table(report, console=Console(file=io.StringIO(), width=240, highlight=False))

        timings = [("rich", cpu(rich_table, 3))] if rows <= 2000 else []
        if hasattr(render, "plain_table"):
            timings.append(("plain", cpu(lambda report=report: render.plain_table(report), 3)))
        for label, seconds in timings:
            print(
                f"  {name:<16} {rows:6d} rows  {label:<5} {seconds * 1000:8.1f} ms  {rows / seconds:9.0f} rows/s"
                f"   ({seconds / analysis:5.2f} x the analysis, {analysis * 1000:.1f} ms)"
            )


def zoo(runs: int) -> None:
    import inspect
    import tempfile

    from netcost.report.zoo import zoo_rows

    print("## netcost zoo (CPU time)")
    uncached = {"cache": False} if "cache" in inspect.signature(zoo_rows).parameters else {}
    print(f"  zoo_rows() in process, no cache          {cpu(lambda: zoo_rows(**uncached), 3) * 1000:7.1f} ms")
    with tempfile.TemporaryDirectory() as root:
        cold = []
        for k in range(runs):  # a new, empty cache directory each run
            env = dict(os.environ, NETCOST_CACHE_DIR=os.path.join(root, str(k)))
            cold += child_cpu([PY, "-m", "netcost", "zoo", "--format", "json"], 1, env, warm_up=False)
        env = dict(os.environ, NETCOST_CACHE_DIR=os.path.join(root, "warm"))
        warm = child_cpu([PY, "-m", "netcost", "zoo", "--format", "json"], runs, env)
    print(f"  netcost zoo --format json, empty cache   {statistics.median(cold) * 1000:7.1f} ms  (n={len(cold)})")
    print(f"  netcost zoo --format json, cached        {statistics.median(warm) * 1000:7.1f} ms  (n={len(warm)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--depths", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--limit", type=float, default=120.0, help="seconds allowed per depth")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}")
    startup(args.runs)
    in_process()
    depth_curve(args.depths, args.limit)
    rendering()
    zoo(args.runs)


if __name__ == "__main__":
    main()

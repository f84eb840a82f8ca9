"""Time `netcost analyze resnet18` as a whole process, next to `python -c "import torch"`.

Prints the median and spread of repeated runs. The analytic path must stay well under a
second; importing torch alone usually does not.

    python benchmarks/analyze_latency.py [--runs 15] [--model resnet18]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, check=True, capture_output=True)  # warm the file cache once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=4)
    print(
        f"{label:<45} median {statistics.median(times) * 1000:7.1f} ms   IQR {q[0] * 1000:6.1f}-{q[2] * 1000:6.1f} ms"
        f"   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--model", default="resnet18")
    args = parser.parse_args()
    py = sys.executable
    report("python -c pass", timed([py, "-c", "pass"], args.runs))
    report(f"netcost analyze {args.model} (table)", timed([py, "-m", "netcost", "analyze", args.model], args.runs))
    report(
        f"netcost analyze {args.model} --format json",
        timed([py, "-m", "netcost", "analyze", args.model, "--format", "json"], args.runs),
    )
    try:
        report('python -c "import torch"', timed([py, "-c", "import torch"], args.runs))
    except subprocess.CalledProcessError:
        print('python -c "import torch"                      (torch not installed)')


if __name__ == "__main__":
    main()

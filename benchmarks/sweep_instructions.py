"""The sweep's work in instructions, which a shared machine does not blur: valgrind's
callgrind counts the instructions of ``netcost.sweep("regnet", sample=N, seed=0)`` in a fresh
process, less those of the same process with N = 0 (start-up, imports and one small sweep
that compiles the expressions), for this checkout and, with ``--against``, another one (a
``git worktree`` of an earlier commit), side by side.

Process CPU time on a shared 2-core machine moved by 30-40% between runs of the same code
(docs/sweep.md, Speed); instruction counts moved by 0.2% between two hash seeds, and the
script fixes the seed. They are a stand-in for time, not time: the seconds are measured by
benchmarks/sweep_speed.py.

    python benchmarks/sweep_instructions.py [--n 1000] [--against ../netcost-before]

Needs valgrind (``apt-get install valgrind``); about 90 s a checkout for 1,000 models.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PROGRAM = """
import sys, netcost
from netcost.api import load_spec
spec = load_spec("regnet")
netcost.sweep(spec, sample=50, seed=7, frame=False)
n = int(sys.argv[1])
if n:
    netcost.sweep(spec, sample=n, seed=0, frame=False)
"""


def instructions(tree: Path, n: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", PROGRAM, str(n)]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed in {tree}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_model(tree: Path, n: int) -> float:
    return (instructions(tree, n) - instructions(tree, 0)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="models in the measured sweep")
    parser.add_argument("--against", type=Path, help="another source tree (its netcost/ and specs/)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind: apt-get install valgrind")
    trees = [("this checkout", HERE)] + ([("--against", args.against.resolve())] if args.against else [])
    results = [(label, tree, per_model(tree, args.n)) for label, tree in trees]
    for label, tree, count in results:
        print(f"{label} ({tree}): {count / 1e6:.2f} M instructions a model ({args.n:,} RegNets, seed 0)")
    if len(results) == 2:
        print(f"this checkout / --against: {results[0][2] / results[1][2]:.3f}")


if __name__ == "__main__":
    main()

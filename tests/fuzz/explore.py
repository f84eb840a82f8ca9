"""Group the failures a ``FUZZ_COLLECT=path.jsonl`` fuzz run recorded into classes, with the
shortest reproducer of each:

    FUZZ_COLLECT=/tmp/f.jsonl HYPOTHESIS_PROFILE=thorough python -m pytest -m fuzz
    python -m tests.fuzz.explore /tmp/f.jsonl
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict

CLASSES = [
    ("hang", r"^hang"),
    ("traceback", r"traceback \(([^)]*)\)"),
    ("traceback printed", r"traceback printed"),
    ("wrong exit code", r"exit code (\d+) not in"),
    ("impossible number: negative", r"negative ([\w.\[\]]+)"),
    ("impossible number: not finite", r"(\S+) = (nan|inf|-inf):"),
    ("impossible number: sums", r"sum of layers' (\w+)"),
    ("impossible number: shape", r"shape \["),
    ("impossible number: flops", r"flops != 2 x macs"),
    ("impossible number: bytes", r"bytes != numel|param_bytes !="),
    ("impossible number: peak", r"peak \d+ impossible"),
    ("impossible number: rf", r"rf_(size|jump)"),
    ("corrupt output: JSON", r"not valid JSON|(NaN|Infinity|-Infinity) in JSON"),
    ("corrupt output: emoji/markup/escape", r"emoji|rich markup|raw escape"),
    ("error without location", r"line:col in the message"),
    ("error without message", r"exit 2 without a message"),
    ("gate: wrong verdict", r"passed=|verdict|read as|accepted|checked nothing|without naming"),
]


def classify(message: str) -> str:
    head = message.splitlines()[0] if message else ""  # the verdict; the rest is the run's output
    for name, pattern in CLASSES:
        m = re.search(pattern, head)
        if m:
            detail = m.group(1) if m.groups() and name not in ("wrong exit code",) else ""
            if name == "wrong exit code":
                detail = f"exit {m.group(1)}"
            if name == "traceback":
                detail = re.sub(r":\d+ in", " in", detail)  # group by function, not line
            return f"{name}: {detail}" if detail else name
    return "other: " + message.splitlines()[0][:80]


def main(path: str) -> None:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            groups[(classify(record["message"]), record["label"])].append(record)
    for (cls, label), records in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
        best = min(records, key=lambda r: len(r["text"] or r["message"]))
        command = re.search(
            r"netcost (?:analyze|check|compare|ops|verify|calibrate|profile) .*$", best["message"], re.M
        )
        print(f"== {cls}  [{label}]  x{len(records)}")
        if command:
            print("   " + re.sub(r"/tmp/netcost-fuzz-\w+/", "", command.group(0))[:300])
        if best["text"]:
            print("   input: " + json.dumps(best["text"])[:400])
        tail = [ln for ln in best["message"].splitlines() if ln.strip().startswith(("stderr:", "exception:"))]
        for ln in tail[:2]:
            print("   " + ln.strip()[:300])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz-failures.jsonl")

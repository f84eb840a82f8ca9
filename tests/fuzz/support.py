"""Shared checks for the trust tests (issue #10): the exit-code contract, located and plain
error messages, self-consistent numbers, and a per-case time bound.

The contract, for every command and every input:

- exit 0: everything measured (and within budget); a JSON document on stdout parses
  strictly (no NaN/Infinity) and its numbers are non-negative and add up;
- exit 1: only a measured failure (over budget, grown past --max-increase, verify mismatch);
- exit 2: every error, as plain text (no rich markup, no emoji), naming file:line:col when a
  spec file is at fault;
- never a Python traceback, never more than a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from netcost.cli import run

REPO = Path(__file__).resolve().parents[2]
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp64": 8}
TRACEBACK = "Traceback (most recent call last)"
CASE_SECONDS = float(os.environ.get("FUZZ_CASE_SECONDS", "10"))  # a shorter bound for surveys
# box drawing of typer/rich usage panels: not part of the message
_BOX = re.compile(r"[│╭╮╰╯─┃━┏┓┗┛]")
# anything in the emoji planes (rich's :100: -> 💯 turned a location into an emoji)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")
_MARKUP = re.compile(r"\[/?(?:bold|red|green|yellow|dim|italic|link)[^\]]*\]")


class CaseTimeout(BaseException):
    """A case ran past its time bound (a hang)."""


@contextlib.contextmanager
def time_limit(seconds: float = CASE_SECONDS):
    """Fail (CaseTimeout) when the block runs longer than ``seconds`` (main thread, POSIX)."""

    def expired(signum, frame):
        raise CaseTimeout(f"ran past {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def memory_limit(extra_bytes: int = 3 * 2**30):
    """Cap this process's address space at its current size plus ``extra_bytes`` for the
    block (a blow-up becomes a MemoryError, i.e. a visible failure, not a dead machine)."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError):  # pragma: no cover - not Linux
        yield
        return
    cap = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class Outcome:
    """One CLI run: exit code, stdout, stderr, the uncaught exception (in-process), seconds."""

    def __init__(self, args, code, stdout, stderr, exception=None, seconds=0.0, tb=""):
        self.args = [str(a) for a in args]
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.exception = exception
        self.seconds = seconds
        self.tb = tb

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def message(self) -> str:
        """stderr with usage-panel borders removed and whitespace collapsed."""
        return " ".join(_BOX.sub(" ", self.stderr).split())

    def __repr__(self) -> str:
        cmd = " ".join(repr(a) if " " in a or not a else a for a in self.args)
        exc = f"\n  exception: {self.exception!r}\n{self.tb[-1500:]}" if self.exception else ""
        return (
            f"netcost {cmd}\n  exit {self.code} in {self.seconds:.1f} s\n  stdout: {self.stdout[-600:]!r}"
            f"\n  stderr: {self.stderr[-600:]!r}{exc}"
        )


_runner = CliRunner()


def invoke(*args: Any, seconds: float = CASE_SECONDS, env: dict | None = None) -> Outcome:
    """Run the CLI in-process, as `netcost` runs (netcost.cli.run: the exit-code contract),
    under a time bound; a hang raises AssertionError."""
    import traceback

    start = time.perf_counter()
    exc, tb = None, ""
    try:
        with time_limit(seconds), memory_limit(), _runner.isolation(env=env) as (stdout, stderr, _):
            try:
                code = run([str(a) for a in args])
            except CaseTimeout:
                raise
            except BaseException as error:  # run() must not let anything out
                exc, tb, code = error, traceback.format_exc(), 1
            sys.stdout.flush()
            sys.stderr.flush()
            out, err = stdout.getvalue().decode(errors="replace"), stderr.getvalue().decode(errors="replace")
    except CaseTimeout:
        raise AssertionError(f"hang: netcost {' '.join(map(str, args))} ran past {seconds:g} s") from None
    elapsed = time.perf_counter() - start
    return Outcome(args, code, out, err, exc, elapsed, tb)


def run_process(*args: Any, timeout: float = 20.0, env: dict | None = None, cwd: Path | None = None) -> Outcome:
    """``python -m netcost ARGS`` in a subprocess (process-level behaviour: SystemExit, fd-level
    output, hangs). A run past ``timeout`` fails the test as a hang."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (full_env.get("PYTHONPATH", ""), str(REPO)) if p)
    full_env.setdefault("COLUMNS", "200")
    cmd = [sys.executable, "-m", "netcost", *map(str, args)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hang: netcost {' '.join(map(str, args))} ran past {timeout:g} s") from None
    return Outcome(args, proc.returncode, proc.stdout, proc.stderr, None, time.perf_counter() - start)


# --- the contract ------------------------------------------------------------------------


def crash_site(out: Outcome) -> str:
    """``Type at netcost/file.py:line in function`` of an uncaught exception: the innermost
    frame inside netcost (what the fix has to touch)."""
    import traceback

    exc = out.exception
    site = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "/netcost/" in frame.filename or "/yaml/" in frame.filename:
            name = frame.filename
            short = name[name.rfind("/netcost/") + 1 :] if "/netcost/" in name else name[name.rfind("/yaml/") + 1 :]
            site = f" at {short}:{frame.lineno} in {frame.name}"
    return f"{type(exc).__name__}{site}"


def assert_no_crash(out: Outcome, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
    assert out.exception is None, f"traceback ({crash_site(out)}): {out!r}"
    assert TRACEBACK not in out.output, f"traceback printed: {out!r}"
    assert out.code in allowed, f"exit code {out.code} not in {allowed}: {out!r}"


def assert_plain(text: str, out: Outcome | None = None) -> None:
    assert not _EMOJI.search(text), f"emoji in message: {out!r}"
    assert not _MARKUP.search(text), f"rich markup in message: {out!r}"
    assert "\x1b" not in text, f"raw escape sequence in output: {out!r}"


def assert_error(out: Outcome, *fragments: str, file: str | Path | None = None, line: int | None = None) -> None:
    """Exit 2, no traceback, a plain message containing every fragment (case-insensitive);
    with ``file``, the message names ``file:line:col`` (that line, when given)."""
    assert_no_crash(out, (2,))
    msg = out.message
    assert msg, f"exit 2 without a message: {out!r}"
    assert_plain(out.stderr, out)
    for fragment in fragments:
        assert fragment.lower() in msg.lower(), f"{fragment!r} not in the message: {out!r}"
    if file is not None:
        assert_located(out, file, line)


def assert_located(out: Outcome, file: str | Path | None, line: int | None = None) -> None:
    """The message names ``file:line:col`` (that line, when given); with ``file`` None, any
    ``*.yaml:line:col`` (an error in a spec the file extends may point into its parent)."""
    name = re.escape(Path(file).name) if file is not None else r"[^\s:]+\.ya?ml"
    found = [int(m.group(1)) for m in re.finditer(name + r":(\d+):(\d+)", out.message)]
    shown = Path(file).name if file is not None else "<spec>.yaml"
    assert found, f"no {shown}:line:col in the message: {out!r}"
    if line is not None:
        assert line in found, f"expected {shown}:{line}:col, found lines {found}: {out!r}"


def strict_json(text: str, out: Outcome | None = None) -> Any:
    def refuse(name):
        raise AssertionError(f"{name} in JSON output: {out!r}")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"stdout is not valid JSON ({exc}): {out!r}") from None


def _numbers(value: Any, path: str = ""):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{path}[{i}]")


# offsets and the report's own metadata may be negative or are not counts
_SIGNED = re.compile(
    r"\.rf_start(\[\d+\])?$|\.schema_version$|^\.vars\.|\.headroom_pct$|ratio|^\.(reference|notes|description|name)\b"
)
SUMMED = ("params", "buffers", "macs", "flops", "elementwise_flops", "activation_bytes")


def assert_consistent(doc: dict, out: Outcome | None = None) -> None:
    """An analyze JSON document: non-negative finite numbers, positive shapes, layer sums equal
    totals, FLOPs = 2 x MACs (netcost convention), bytes = elements x dtype size."""
    for path, v in _numbers(doc):
        assert math.isfinite(v), f"{path} = {v}: {out!r}"
        if not _SIGNED.search(path):
            assert v >= 0, f"negative {path} = {v}: {out!r}"
    totals, layers = doc["totals"], doc["layers"]
    for key in SUMMED:
        assert isinstance(totals[key], int), f"totals.{key} = {totals[key]!r} is not an integer: {out!r}"
        total = sum(layer[key] for layer in layers)
        assert total == totals[key], f"sum of layers' {key} {total} != totals.{key} {totals[key]}: {out!r}"
    size = DTYPE_BYTES.get(doc.get("dtype"))
    if doc.get("convention") == "netcost":
        assert totals["flops"] == 2 * totals["macs"], f"flops != 2 x macs: {out!r}"
    for layer in layers:
        shape = layer["output_shape"]
        assert all(isinstance(d, int) and d >= 1 for d in shape), f"layer {layer['name']} shape {shape}: {out!r}"
        if size and doc.get("source") == "spec":
            expected = math.prod(shape) * size
            assert layer["activation_bytes"] == expected, f"{layer['name']} bytes != numel x {size}: {out!r}"
        # a unit reads at least one input position; the jump is fractional after an up-sampling
        if layer.get("rf_size") is not None:
            assert all(v >= 1 for v in layer["rf_size"]), f"{layer['name']} rf_size {layer['rf_size']}: {out!r}"
        if layer.get("rf_jump") is not None:
            assert all(v > 0 for v in layer["rf_jump"]), f"{layer['name']} rf_jump {layer['rf_jump']}: {out!r}"
    if size:
        assert totals["param_bytes"] == totals["params"] * size, f"param_bytes != params x {size}: {out!r}"
    if layers and doc.get("source") == "spec":
        biggest = max(layer["activation_bytes"] for layer in layers)
        input_bytes = math.prod(doc["input"]) * (size or 1)
        peak = totals["peak_activation_bytes"]
        assert biggest <= peak <= totals["activation_bytes"] + input_bytes, f"peak {peak} impossible: {out!r}"


def assert_analyze_contract(out: Outcome, spec: Path | None = None, json_out: bool = True) -> dict | None:
    """analyze: exit 0 with a consistent document, or exit 2 with a located plain message."""
    assert_no_crash(out, (0, 2))
    if out.code == 2:
        assert out.message, f"exit 2 without a message: {out!r}"
        assert_plain(out.stderr, out)
        if spec is not None:
            assert_located(out, None)
        return None
    if not json_out:
        assert "\x1b" not in out.stdout, f"raw escape in the table: {out!r}"
        return None
    doc = strict_json(out.stdout, out)
    assert_consistent(doc, out)
    return doc


def assert_check_contract(out: Outcome) -> dict | None:
    """check --format json: exit 0/1 with a valid {schema_version, passed, results} whose
    ``passed`` matches the exit code, or exit 2 with a plain message."""
    assert_no_crash(out, (0, 1, 2))
    if out.code == 2:
        assert out.message, f"exit 2 without a message: {out!r}"
        assert_plain(out.stderr, out)
        return None
    doc = strict_json(out.stdout, out)
    assert doc["passed"] is (out.code == 0), f"passed={doc['passed']} but exit {out.code}: {out!r}"
    assert doc["results"], f"a check that checked nothing: {out!r}"
    for row in doc["results"]:
        assert row["passed"] is (row["actual"] <= row["budget"]) or "note" in row, f"row {row}: {out!r}"
        assert row["actual"] >= 0, f"negative actual: {out!r}"
    return doc


@contextlib.contextmanager
def collecting(label: str, text: str | None = None):
    """Pass a failed contract through, unless ``FUZZ_COLLECT=path.jsonl`` is set: then record
    it there (label, input text, message) and go on, so one run surveys every failure class
    (``python -m tests.fuzz.explore path.jsonl`` groups them)."""
    target = os.environ.get("FUZZ_COLLECT")
    try:
        yield
    except AssertionError as exc:
        if not target:
            raise
        with open(target, "a") as f:
            f.write(json.dumps({"label": label, "text": text, "message": str(exc)}) + "\n")

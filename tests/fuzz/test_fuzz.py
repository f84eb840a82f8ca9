"""Fuzzing netcost (issue #10): whatever the input, exit 0 with non-negative, self-consistent
numbers, or exit 1 only for a measured failure, or exit 2 with a plain (and, for a spec file,
located) message; never a traceback, never more than 10 s a case.

    python -m pytest tests/fuzz                                  # ci profile: a small slice
    HYPOTHESIS_PROFILE=thorough python -m pytest -m fuzz         # the long run (a CI step)
    FUZZ_COLLECT=failures.jsonl python -m pytest tests/fuzz      # record failures, don't stop
    python -m tests.fuzz.explore failures.jsonl                  # group them by class

Each case runs the CLI in-process (typer's CliRunner) under ``signal.setitimer`` and an
address-space cap, so a hang or a memory blow-up fails the case instead of the run.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies as s
from tests.fuzz.support import (
    assert_analyze_contract,
    assert_check_contract,
    assert_no_crash,
    collecting,
    invoke,
    strict_json,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.fuzz

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")


def fuzz_settings(ci: int, thorough: int = 500):
    """``ci`` examples, derandomized and without the database, in the default profile (a
    bounded slice: about a minute for the whole file on 2 cores); ``thorough`` otherwise."""
    common = {"deadline": None, "suppress_health_check": list(HealthCheck)}
    if os.environ.get("FUZZ_MAX_EXAMPLES"):  # a survey of a chosen size (see tests/fuzz/explore.py)
        return settings(max_examples=int(os.environ["FUZZ_MAX_EXAMPLES"]), database=None, **common)
    if PROFILE == "thorough":  # CI's separate step: derandomized, so a green run stays green
        if os.environ.get("FUZZ_RANDOM"):  # a fresh search, with hypothesis' example database
            return settings(max_examples=thorough, **common)
        return settings(max_examples=thorough, derandomize=True, database=None, **common)
    return settings(
        max_examples=ci,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: bounded time; the repro is printed
        **common,
    )


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="netcost-fuzz-"))


# --- specs -----------------------------------------------------------------------------------


@fuzz_settings(ci=60)
@given(case=s.mutated_spec(), options=st.lists(st.sampled_from(["--batch", "--dtype"]), max_size=1))
@example(case=("lenet5", "name: t\ninput: [3, 32, 32]\nlayers:\n  - conv: {out: 8, k: 3, stride: 0}\n"), options=[])
@example(case=("resnet18", "name: t\ninput: [3, 32, 32]\nlayers:\n  - conv: {out: 8, k: [-3, 3]}\n"), options=[])
def test_mutated_bundled_specs(case, options):
    _name, text = case
    spec = s.spec_path(tmpdir(), text)
    extra = {"--batch": ["--batch", "3"], "--dtype": ["--dtype", "fp16"]}
    args = ["analyze", spec, "--format", "json", *(a for o in options for a in extra[o])]
    with collecting("mutated spec", text=text):
        assert_analyze_contract(invoke(*args), spec)


@fuzz_settings(ci=40)
@given(case=s.mutated_spec(names=s.ALL_SPECS, max_mutations=1))
def test_mutated_specs_of_the_whole_zoo(case):
    _name, text = case
    spec = s.spec_path(tmpdir(), text)
    with collecting("mutated zoo spec", text=text):
        assert_analyze_contract(invoke("analyze", spec, "--format", "json"), spec)


@fuzz_settings(ci=50)
@given(text=s.small_spec())
@example(text="name: t\ninput: [3, 8, 8]\nlayers:\n- adaptive_avgpool: {out: 100000000}\n")
@example(text="name: t\ninput: [3, 8, 8]\nlayers:\n- upsample: {scale: 100000}\n- conv: {out: 4, k: 3}\n")
def test_random_small_specs(text):
    spec = s.spec_path(tmpdir(), text)
    with collecting("small spec", text=text):
        assert_analyze_contract(invoke("analyze", spec, "--format", "json"), spec)


@fuzz_settings(ci=10, thorough=300)
@given(text=s.small_spec(), fmt=st.sampled_from(["table", "csv", "markdown"]))
def test_random_small_specs_render(text, fmt):
    """Every renderer survives what the JSON one does (huge numbers, odd names)."""
    spec = s.spec_path(tmpdir(), text)
    with collecting(f"small spec --format {fmt}", text=text):
        assert_analyze_contract(invoke("analyze", spec, "--format", fmt), spec, json_out=False)


# --- inline specs and analyze options --------------------------------------------------------


@fuzz_settings(ci=60)
@given(text=s.inline_specs, options=s.analyze_options())
@example(text="dwsep(k=3)", options=[])
@example(text="conv(64,k=3,k=5)", options=[])
@example(text="conv(64,k=[3,3,3])", options=[])
def test_inline_specs(text, options):
    with collecting("inline", text=text):
        assert_analyze_contract(invoke("analyze", text, *options, "--format", "json"))


@fuzz_settings(ci=40)
@given(model=st.sampled_from(s.SMALL_SPECS), options=s.analyze_options(), train=st.booleans())
@example(model="resnet18", options=["--set", "classes=-5"], train=False)
@example(model="regnet_x_400mf", options=["--set", "rounding=torchvison"], train=False)
def test_bundled_specs_with_random_options(model, options, train):
    args = ["analyze", model, *options, "--format", "json", *(["--train"] if train else [])]
    with collecting("bundled + options"):
        out = invoke(*args)
        doc = assert_analyze_contract(out)
        if doc is not None and train:
            for key, value in doc["train"].items():
                if isinstance(value, (int, float)):
                    assert value >= 0 and math.isfinite(value), f"train.{key} = {value}: {out!r}"


# --- check: budgets, baselines, configs ------------------------------------------------------

LENET = {
    "params": 60_000,
    "buffers": 840,
    "param-bytes": 240_000,
    "macs": 326_520,
    "flops": 653_040,
    "elementwise-flops": 23_312,
    "activation-bytes": 65_192,
    "peak-activation-bytes": 37_632,
    "max-op-io-bytes": 37_632,
}


@fuzz_settings(ci=60)
@given(
    budgets=st.lists(
        st.tuples(st.sampled_from(s.BUDGET_OPTIONS), s.quantities), min_size=1, max_size=3, unique_by=lambda t: t[0]
    )
)
@example(budgets=[("macs", "4.1G")])
@example(budgets=[("macs", "0")])
@example(budgets=[("params", "1e400")])
@example(budgets=[("params", "60000")])
@example(budgets=[("params", "59999")])
@example(budgets=[("param-bytes", "2Gib")])
def test_check_budgets(budgets):
    """Against lenet5 (known totals): an accepted budget means its exact decimal value and the
    verdict follows; NaN, infinity and non-numbers are refused."""
    args = ["check", "lenet5", "--format", "json"]
    for metric, text in budgets:
        args += [f"--max-{metric}", text]
    with collecting("check budgets"):
        out = invoke(*args)
        doc = assert_check_contract(out)
        meaning = {m: s.canonical_quantity(t) for m, t in budgets}
        if any(v == "refuse" for v in meaning.values()):
            assert out.code == 2, f"a budget that is not a number was accepted ({meaning}): {out!r}"
        if doc is None:
            return
        rows = {r["metric"].replace("_", "-"): r for r in doc["results"]}
        for metric, value in meaning.items():
            row = rows[metric]
            assert row["actual"] == LENET[metric], f"{metric} actual {row['actual']} != {LENET[metric]}: {out!r}"
            if isinstance(value, int):
                assert row["budget"] == value, f"budget {budgets} read as {row['budget']}, not {value}: {out!r}"
                assert row["passed"] is (LENET[metric] <= value), f"verdict: {out!r}"
        for row in doc["results"]:
            headroom = row.get("headroom_pct")
            assert headroom is None or math.isfinite(headroom), f"headroom {headroom}: {out!r}"


@fuzz_settings(ci=40)
@given(baseline=s.baselines(), increase=s.percents)
@example(baseline='{"model": "lenet5", "totals": {"params": NaN}}', increase="5%")
@example(baseline='{"totals": {"params": 1}}', increase="5%")
@example(baseline='{"model": "lenet5", "totals": {"params": 1}}', increase="inf")
def test_check_baselines(baseline, increase):
    path = tmpdir() / "baseline.json"
    path.write_text(baseline)
    args = ["check", "lenet5", "--baseline", path, "--max-increase", increase, "--format", "json"]
    with collecting("check baseline", text=baseline):
        out = invoke(*args)
        doc = assert_check_contract(out)
        text = increase.strip().rstrip("%").strip().lower()
        if text in ("inf", "-inf", "nan"):
            assert out.code == 2, f"--max-increase {increase!r} accepted: {out!r}"
        try:
            parsed = json.loads(baseline)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("model") == "lenet5" and isinstance(parsed.get("totals"), dict):
            used = [v for k, v in parsed["totals"].items() if k in ("params", "macs", "flops")]
            if any(isinstance(v, float) and not math.isfinite(v) for v in used):
                assert out.code == 2, f"a NaN/infinite baseline total accepted: {out!r}"
        if doc is not None:
            for row in doc["results"]:
                headroom = row.get("headroom_pct")
                assert math.isfinite(row["budget"]), f"row {row}: {out!r}"
                assert headroom is None or math.isfinite(headroom), f"row {row}: {out!r}"
            if isinstance(parsed, dict) and "totals" in parsed and "model" not in parsed:
                raise AssertionError(f"a baseline without `model` accepted: {out!r}")


BOOL_KEYS = {"allow-partial", "train", "amp"}
CHOICES = {
    "dtype": {"fp32", "fp16", "bf16", "int8", "fp64"},
    "convention": {"netcost", "fvcore", "pycls", "flopcounter"},
    "optimizer": {
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "rmsprop_momentum",
        "rmsprop_centered",
        "adam",
        "adamw",
        "amsgrad",
    },
    "train-device": {"cpu", "cuda"},
}


# the keys of a [[tool.netcost.models]] entry the README documents (besides max-*)
KNOWN_MODEL_KEYS = {
    "model", "input", "set", "batch", "dtype", "convention", "allow-partial",
    "train", "optimizer", "momentum", "amp", "freeze", "train-device",
}  # fmt: skip


def _type_errors(entry: dict) -> set[str]:
    """The keys of a model entry whose values the contract says must be refused."""
    bad = set()
    for key, value in entry.items():
        if key not in KNOWN_MODEL_KEYS and not key.startswith("max-"):  # unknown keys are errors too
            bad.add(key)
        if key in BOOL_KEYS and not isinstance(value, bool):
            bad.add(key)
        if key == "batch" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            bad.add(key)
        if key in CHOICES and (not isinstance(value, str) or value not in CHOICES[key]):
            bad.add(key)
        if key == "model" and not isinstance(value, str):
            bad.add(key)
        if key.startswith("max-") and isinstance(value, float) and not math.isfinite(value):
            bad.add(key)
        if key == "momentum" and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            bad.add(key)
        if key == "set" and not isinstance(value, dict):
            bad.add(key)
        if key == "input" and (
            isinstance(value, bool) or not isinstance(value, (str, list, int)) or (isinstance(value, int) and value < 1)
        ):
            bad.add(key)
        if key.startswith("max-") and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            bad.add(key)
        if key == "freeze" and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            bad.add(key)
    return bad


@fuzz_settings(ci=40)
@given(config=s.configs())
@example(
    config=(
        '[[tool.netcost.models]]\nmodel = "lenet5"\nbatch = "abc"\nmax-params = "1M"\n',
        [{"model": "lenet5", "batch": "abc", "max-params": "1M"}],
    )
)
@example(
    config=(
        '[[tool.netcost.models]]\nmodel = "lenet5"\nallow-partial = "no"\nmax-params = "1M"\n',
        [{"model": "lenet5", "allow-partial": "no", "max-params": "1M"}],
    )
)
def test_check_configs(config):
    text, entries = config
    path = tmpdir() / "pyproject.toml"
    path.write_text(text)
    with collecting("check config", text=text):
        out = invoke("check", "--config", path, "--format", "json")
        assert_check_contract(out)
        bad = set().union(*(_type_errors(e) for e in entries))
        if bad:
            assert out.code == 2, f"config keys {sorted(bad)} with wrong types accepted: {out!r}"
        if out.code == 2 and entries:  # whatever the reason, the message names a key the config holds
            top = set(tomllib.loads(text).get("tool", {}).get("netcost", {})) - {"models"}
            keys = bad | top | {k for e in entries for k in e}
            named = [k for k in keys if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", out.message)]
            budgeted = any(k.startswith("max-") or k == "baseline" for k in keys)
            unbudgeted = not budgeted and "no budgets given" in out.message
            in_spec = re.search(r"\.ya?ml:\d+:\d+", out.message)  # a value the spec refuses, located there
            assert named or unbudgeted or in_spec, f"exit 2 without naming any of {sorted(keys)}: {out!r}"
        elif not entries:  # no [[tool.netcost.models]]: nothing to check is an error
            assert out.code == 2, f"{out!r}"


@fuzz_settings(ci=30)
@given(
    model=st.sampled_from(["lenet5", "resnet18", "conv(8,k=3) > relu"]),
    options=s.analyze_options(),
    budget=s.quantities,
    train=st.booleans(),
)
def test_check_cli_options(model, options, budget, train):
    args = ["check", model, *options, "--max-macs", budget, "--format", "json", *(["--train"] if train else [])]
    with collecting("check options"):
        assert_check_contract(invoke(*args))


# --- the other commands ----------------------------------------------------------------------


@fuzz_settings(ci=15, thorough=300)
@given(
    models=st.lists(st.one_of(st.sampled_from(s.SMALL_SPECS), s.inline_specs), min_size=1, max_size=3),
    options=s.analyze_options(),
    fmt=st.sampled_from(["json", "table", "csv", "markdown"]),
)
def test_compare(models, options, fmt):
    with collecting("compare"):
        out = invoke("compare", *models, *options, "--format", fmt)
        assert_no_crash(out, (0, 2))  # compare has no measured failure
        if out.code == 0 and fmt == "json":
            strict_json(out.stdout, out)


@fuzz_settings(ci=10, thorough=300)
@given(kind=st.one_of(st.none(), st.sampled_from(s.OPS), st.text(max_size=12)))
def test_ops_and_schema(kind):
    with collecting("ops"):
        out = invoke("ops", *([kind] if kind is not None else []))
        assert_no_crash(out, (0, 2))

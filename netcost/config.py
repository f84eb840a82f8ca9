"""Budgets declared once in a repository: ``[tool.netcost]`` in pyproject.toml.

[tool.netcost]
max-increase = "5%"                 # with baseline: fail when a total grows more than this
baseline = "netcost-baseline.json"  # a saved `netcost analyze/compare/check --format json`
max-params = "50M"                  # defaults for every model below

[[tool.netcost.models]]
model = "resnet18"                  # bundled name, spec path, or package.module:callable
input = "3x224x224"                 # optional: CxHxW, HxW or a size (or [3, 224, 224]);
                                    #   a torch model's inputs as --input takes them, one
                                    #   text or a list: ["input_ids=128:int64", ...]
device = "meta"                     # a torch model's device (meta, cpu, cuda) and
mode = "eval"                       #   mode (eval, train), as on the command line
set = { width = 0.5 }               # optional spec variables
batch = 1                           # optional; also dtype, convention, allow-partial
max-macs = "2G"                     # K/M/G/T = 10^3.., KiB/MiB/GiB = 2^10..
train = true                        # optional training cost; optimizer, momentum, amp,
optimizer = "adamw"                 #   freeze, train-device as on the command line

Every value is type-checked as TOML gives it: booleans are ``true``/``false`` (not
strings), integers are integers, choices are one of their names. Anything else is an
error naming the key (exit 2), never a silently weaker gate.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcost.budget import BUDGET_METRICS, CheckError, Target
from netcost.errors import NetcostError
from netcost.options import AnalyzeOptions, TorchInput, TrainOptions, check_bool, parse_shape, parse_torch_inputs
from netcost.text import printable
from netcost.units import parse_percent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUDGET_KEYS = {f"max-{m.replace('_', '-')}": m for m in BUDGET_METRICS}
TRAIN_KEYS = {"train", "optimizer", "momentum", "amp", "freeze", "train-device"}
MODEL_KEYS = {
    "model",
    "input",
    "set",
    "batch",
    "dtype",
    "convention",
    "device",
    "mode",
    "allow-partial",
    *TRAIN_KEYS,
    *BUDGET_KEYS,
}
TOP_KEYS = {"models", "baseline", "max-increase", *BUDGET_KEYS}


@dataclass(frozen=True)
class CheckConfig:
    """What ``[tool.netcost]`` asks the gate to do."""

    targets: tuple[Target, ...]
    baseline: Path | None = None
    max_increase: str | float | None = None


def load_config(path: str | Path = "pyproject.toml") -> CheckConfig:
    """The targets, baseline and largest allowed growth declared in ``[tool.netcost]``
    (a baseline path is relative to the config's folder)."""
    path = Path(path)
    shown = printable(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CheckError(f"no models given and no {shown} here to read [tool.netcost] from") from None
    except IsADirectoryError:
        raise CheckError(f"--config {shown} is a directory; give the pyproject.toml file") from None
    except OSError as exc:
        raise CheckError(f"cannot read {shown}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CheckError(f"{shown} is not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CheckError(f"{shown}: {exc}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise CheckError(f"{shown}: `tool` must be a table, got {type(tool).__name__}")
    section = tool.get("netcost")
    if section is None:
        raise CheckError(f"{shown} has no [tool.netcost] section", hint="see `netcost check --help` and the README")
    if not isinstance(section, dict):
        raise CheckError(f"{shown}: [tool.netcost] must be a table, got {type(section).__name__}")
    where = f"{shown} [tool.netcost]"
    _known(section, TOP_KEYS, where)
    defaults = {BUDGET_KEYS[k]: v for k, v in section.items() if k in BUDGET_KEYS}
    entries = section.get("models", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CheckError(f"{where}: `models` must be an array of tables ([[tool.netcost.models]])")
    if not entries:
        raise CheckError(f"{where} lists no [[tool.netcost.models]]")
    targets = tuple(
        _target(entry, defaults, f"{shown} [[tool.netcost.models]] #{i}") for i, entry in enumerate(entries, 1)
    )
    baseline = section.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise CheckError(f"{where} baseline: expected a path (a string), got {type(baseline).__name__}")
    increase = section.get("max-increase")
    if increase is not None and (isinstance(increase, bool) or not isinstance(increase, (str, int, float))):
        raise CheckError(f'{where} max-increase: expected a percentage such as "5%", got {type(increase).__name__}')
    if increase is not None:
        try:
            parse_percent(increase)
        except ValueError as exc:
            raise CheckError(f"{where} max-increase: {exc}") from None
    return CheckConfig(targets, path.parent / baseline if baseline else None, increase)


def _target(entry: dict[str, Any], defaults: dict[str, Any], where: str) -> Target:
    _known(entry, MODEL_KEYS, where)
    model = entry.get("model")
    if not isinstance(model, str) or not model:
        raise CheckError(f"{where}: missing `model` (a bundled name, spec path or package.module:callable)")
    overrides = entry.get("set", {})
    if not isinstance(overrides, dict):
        raise CheckError(f"{where} set: expected a table of variables, e.g. set = {{ width = 0.5 }}")
    budgets = {**defaults, **{BUDGET_KEYS[k]: v for k, v in entry.items() if k in BUDGET_KEYS}}
    try:
        train = None
        wants_train = check_bool(entry.get("train", False), "train")
        if wants_train or TRAIN_KEYS & set(entry) - {"train"}:
            train = TrainOptions(
                optimizer=entry.get("optimizer", "sgd"),
                momentum=entry.get("momentum", 0.0),
                amp=entry.get("amp", False),
                freeze=entry.get("freeze", ()),
                device=entry.get("train-device", "cuda"),
            )
            if not wants_train and "train" in entry:  # train = false beside training keys
                raise CheckError(
                    f"{where}: train = false but {', '.join(sorted(TRAIN_KEYS & set(entry) - {'train'}))} given"
                )
        shape, inputs = _input(entry.get("input"))
        options = AnalyzeOptions(
            input_shape=shape,
            inputs=inputs,
            device=entry.get("device"),
            mode=entry.get("mode", "eval"),
            overrides=overrides,
            batch=entry.get("batch", 1),
            dtype=entry.get("dtype", "fp32"),
            convention=entry.get("convention", "netcost"),
            train=train,
        )
        return Target(
            model=model,
            budgets=budgets,
            options=options,
            allow_partial=check_bool(entry.get("allow-partial", False), "allow-partial"),
        )
    except CheckError as exc:
        if exc.message.startswith(where):
            raise
        raise CheckError(f"{where} {exc.message}", hint=exc.hint) from None
    except NetcostError as exc:
        raise CheckError(f"{where} {exc.message}", hint=exc.hint) from None


def _input(value: Any) -> tuple[tuple[int, ...] | None, tuple[TorchInput, ...]]:
    """``input``: a list of sizes (a spec's CxHxW), or text as ``--input`` takes it, or a
    list of such texts (a torch model's several inputs)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
        return None, parse_torch_inputs(value, "input")
    if isinstance(value, str):
        return None, parse_torch_inputs([value], "input")
    return parse_shape(value, "input"), ()


def _known(table: dict, allowed: set[str], where: str) -> None:
    from netcost.ops import did_you_mean

    for key in table:
        if key not in allowed:
            raise CheckError(f"{where}: unknown key {printable(key)!r}", hint=did_you_mean(str(key), allowed))

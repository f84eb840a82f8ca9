"""Budgets declared once in a repository: ``[tool.netcost]`` in pyproject.toml.

[tool.netcost]
max-increase = "5%"                 # with baseline: fail when a total grows more than this
baseline = "netcost-baseline.json"  # a saved `netcost analyze/compare/check --format json`
max-params = "50M"                  # defaults for every model below

[[tool.netcost.models]]
model = "resnet18"                  # bundled name, spec path, or package.module:callable
input = "3x224x224"                 # optional: CxHxW, HxW or a size
set = { width = 0.5 }               # optional spec variables
batch = 1                           # optional; also dtype, convention, allow-partial
max-macs = "2G"                     # K/M/G/T = 10^3.., KiB/MiB/GiB = 2^10..
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from netcost.budget import BUDGET_METRICS, Target
from netcost.errors import NetcostError
from netcost.ops import did_you_mean
from netcost.units import parse_quantity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUDGET_KEYS = {f"max-{m.replace('_', '-')}": m for m in BUDGET_METRICS}
TRAIN_KEYS = {"train", "optimizer", "momentum", "amp", "freeze", "train-device"}
MODEL_KEYS = {"model", "input", "set", "batch", "dtype", "convention", "allow-partial", *TRAIN_KEYS, *BUDGET_KEYS}
TOP_KEYS = {"models", "baseline", "max-increase", *BUDGET_KEYS}


def parse_input_text(text: Any) -> tuple[int, ...] | None:
    if text is None:
        return None
    if isinstance(text, list):
        return tuple(int(v) for v in text)
    dims = tuple(int(p) for p in str(text).lower().split("x"))
    return dims * 2 if len(dims) == 1 else dims


def parse_percent(text: Any) -> float:
    try:
        return float(str(text).strip().rstrip("%"))
    except ValueError:
        raise NetcostError(f"--max-increase takes a percentage such as 5% or 0.5, got {text!r}") from None


def load_config(path: str | Path = "pyproject.toml") -> tuple[list[Target], str | None, float | None]:
    """(targets, baseline path, max increase in %) from ``[tool.netcost]``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise NetcostError(f"no models given and no {path} here to read [tool.netcost] from") from None
    except tomllib.TOMLDecodeError as exc:
        raise NetcostError(f"{path}: {exc}") from None
    section = data.get("tool", {}).get("netcost")
    if not section:
        raise NetcostError(f"{path} has no [tool.netcost] section", hint="see `netcost check --help` and the README")
    _known(section, TOP_KEYS, f"{path} [tool.netcost]")
    defaults = {
        BUDGET_KEYS[k]: _quantity(v, f"{path} [tool.netcost] {k}") for k, v in section.items() if k in BUDGET_KEYS
    }
    targets = []
    for i, entry in enumerate(section.get("models", []), start=1):
        where = f"{path} [[tool.netcost.models]] #{i}"
        _known(entry, MODEL_KEYS, where)
        if "model" not in entry:
            raise NetcostError(f"{where}: missing `model`")
        budgets = dict(defaults)
        budgets.update({BUDGET_KEYS[k]: _quantity(v, f"{where} {k}") for k, v in entry.items() if k in BUDGET_KEYS})
        targets.append(
            Target(
                model=str(entry["model"]),
                budgets=budgets,
                input=parse_input_text(entry.get("input")),
                overrides=dict(entry.get("set", {})),
                batch=int(entry.get("batch", 1)),
                dtype=str(entry.get("dtype", "fp32")),
                convention=str(entry.get("convention", "netcost")),
                allow_partial=bool(entry.get("allow-partial", False)),
                train=bool(entry.get("train", False)),
                optimizer=str(entry.get("optimizer", "sgd")),
                momentum=float(entry.get("momentum", 0.0)),
                amp=bool(entry.get("amp", False)),
                freeze=tuple(entry.get("freeze", ())),
                train_device=str(entry.get("train-device", "cuda")),
            )
        )
    if not targets:
        raise NetcostError(f"{path} [tool.netcost] lists no [[tool.netcost.models]]")
    increase = section.get("max-increase")
    return targets, section.get("baseline"), None if increase is None else parse_percent(increase)


def _quantity(value: Any, where: str) -> int:
    try:
        return parse_quantity(str(value))
    except ValueError as exc:
        raise NetcostError(f"{where}: {exc}") from None


def _known(table: dict, allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise NetcostError(f"{where}: unknown key {key!r}", hint=did_you_mean(key, allowed))

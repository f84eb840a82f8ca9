"""`netcost check`: budgets on the totals of a model, and growth against a baseline.

A budget passes when actual <= budget; ``headroom_pct`` = (budget - actual) / budget x 100,
negative when over. A total that was only partially counted (a torch model with ops the
counter does not know) fails unless partial totals are allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcost.compare import METRICS
from netcost.errors import NetcostError
from netcost.report.model import Report

# budgets on the training cost (`--train`): flag name -> key of the report's `train` totals
TRAIN_METRICS = {
    "train_memory_bytes": "peak_train_bytes",
    "train_step_flops": "step_flops",
    "backward_flops": "backward_flops",
    "grad_bytes": "grad_bytes",
    "optimizer_state_bytes": "optimizer_state_bytes",
    "saved_activation_bytes": "saved_activation_bytes",
}
BUDGET_METRICS = (*METRICS, *TRAIN_METRICS)
BYTE_METRICS = {m for m in BUDGET_METRICS if m.endswith("bytes")}


@dataclass
class Target:
    """One model to check: how to analyze it, and its budgets (metric -> limit)."""

    model: str
    budgets: dict[str, int] = field(default_factory=dict)
    input: tuple[int, ...] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    batch: int = 1
    dtype: str = "fp32"
    convention: str = "netcost"
    allow_partial: bool = False
    train: bool = False  # implied by any training budget
    optimizer: str = "sgd"
    momentum: float = 0.0
    amp: bool = False
    freeze: tuple[str, ...] = ()
    train_device: str = "cuda"

    @property
    def needs_training(self) -> bool:
        return self.train or any(m in TRAIN_METRICS for m in self.budgets)


@dataclass
class CheckResult:
    results: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return all(r["passed"] for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": 1, "passed": self.passed, "results": self.results}


def result(model: str, metric: str, budget: int | float, actual: int, note: str | None = None, ok=None) -> dict:
    headroom = (budget - actual) / budget * 100 if budget else (0.0 if actual == 0 else float("-inf"))
    passed = actual <= budget if ok is None else ok
    row = {
        "model": model,
        "metric": metric,
        "budget": budget,
        "actual": actual,
        "headroom_pct": round(headroom, 3),
        "passed": passed,
    }
    if note:
        row["note"] = note
    return row


def check_report(target: Target, report: Report) -> list[dict[str, Any]]:
    partial = bool(report.meta.get("partial"))
    rows = []
    for metric, budget in target.budgets.items():
        actual = (
            (report.train or {}).get(TRAIN_METRICS[metric]) if metric in TRAIN_METRICS else report.totals.get(metric)
        )
        if actual is None:
            rows.append(result(target.model, metric, budget, 0, f"{metric} is not available for this model", False))
            continue
        row = result(target.model, metric, budget, actual)
        if partial and not target.allow_partial:
            unsupported = ", ".join(sorted(report.meta.get("unsupported_ops", {})))
            row.update(passed=False, note=f"partially counted (could not count: {unsupported}); --allow-partial")
        rows.append(row)
    return rows


def check_baseline(target: Target, report: Report, baseline: Mapping[str, int], max_increase_pct: float) -> list:
    """Fail a metric that grew by more than ``max_increase_pct`` over the baseline's value."""
    rows = []
    for metric, before in baseline.items():
        actual = report.totals.get(metric)
        if metric not in METRICS or not isinstance(actual, int) or not before:
            continue
        limit = before * (1 + max_increase_pct / 100)
        growth = (actual - before) / before * 100
        rows.append(
            result(
                target.model,
                f"{metric} vs baseline",
                limit,
                actual,
                f"baseline {before}, growth {growth:+.2f}% (max +{max_increase_pct:g}%)",
            )
        )
    return rows


def load_baseline(path: str | Path) -> dict[str, dict[str, int]]:
    """model -> metric -> value, from a saved analyze, compare or check JSON document."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise NetcostError(f"cannot read baseline {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise NetcostError(f"baseline {path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    out: dict[str, dict[str, int]] = {}
    if isinstance(doc, dict) and "totals" in doc:
        out[doc["model"]] = dict(doc["totals"])
    elif isinstance(doc, dict) and "models" in doc:
        for model in doc["models"]:
            out[model["model"]] = dict(model["totals"])
    elif isinstance(doc, dict) and "results" in doc:
        for row in doc["results"]:
            if not row["metric"].endswith("vs baseline"):
                out.setdefault(row["model"], {})[row["metric"]] = row["actual"]
    else:
        raise NetcostError(f"baseline {path} is not a netcost analyze, compare or check document")
    return out

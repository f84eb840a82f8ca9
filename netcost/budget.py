"""The budget gate (`netcost check`, ``netcost.check``): budgets on the totals of models, and
growth against a baseline, decided here and only rendered by the CLI.

A budget passes when actual <= budget; ``headroom_pct`` = (budget - actual) / budget x 100,
negative when over (``None`` for a zero budget, where no percentage exists). A total that
was only partially counted (a torch model with ops the counter does not know) fails
unless partial totals are allowed. A gate that checked nothing is an error, not a pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from netcost.comparison import METRICS
from netcost.errors import NetcostError
from netcost.options import AnalyzeOptions, TrainOptions
from netcost.report.model import Report
from netcost.report.views import ResultViews
from netcost.text import printable
from netcost.units import parse_percent, parse_quantity

# budgets on the training cost (`--train`): metric name -> key of the report's `train` totals
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
SCHEMA_VERSION = 1


class CheckError(NetcostError):
    """The gate cannot run as asked: a bad budget, baseline or configuration (exit 2)."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """One model to check: how to analyse it, and its budgets (metric -> limit)."""

    model: str
    budgets: Mapping[str, int] = field(default_factory=dict)
    options: AnalyzeOptions = field(default_factory=AnalyzeOptions)
    allow_partial: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "budgets", parse_budgets(self.budgets))
        train_budget = any(m in TRAIN_METRICS for m in self.budgets)
        if train_budget and self.options.train is None:  # a training budget implies --train
            object.__setattr__(self, "options", replace(self.options, train=TrainOptions()))


@dataclass(frozen=True)
class BudgetRow:
    """One metric of one model against its budget (or its baseline)."""

    model: str
    metric: str
    budget: int | float
    actual: int
    headroom_pct: float | None
    passed: bool
    note: str | None = None
    # why it failed: "over" its budget or baseline limit, "incomplete" (a partial count
    # within budget), "unavailable" (the model has no such total); None when it passed
    failure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        for key in ("note", "failure"):
            if row[key] is None:
                del row[key]
        return row


@dataclass(frozen=True)
class CheckResult(ResultViews):
    """The gate's verdict: ``passed`` only when every row passed (and there is a row, or
    the totals were recorded as a baseline). ``totals``: each model's checkable totals, as
    a baseline holds them (:meth:`baseline_document`)."""

    TABLE: ClassVar[str] = "results"
    TITLE: ClassVar[str] = "netcost check"

    rows: tuple[BudgetRow, ...]
    totals: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    baseline_written: str | None = None

    @property
    def passed(self) -> bool:
        return (bool(self.rows) or self.baseline_written is not None) and all(r.passed for r in self.rows)

    def baseline_document(self) -> dict[str, Any]:
        """The totals as a baseline file (a compare-style document ``--baseline`` reads)."""
        models = [{"model": model, "totals": dict(totals)} for model, totals in self.totals.items()]
        return {"schema_version": SCHEMA_VERSION, "models": models}

    @property
    def results(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]

    def _repr_html_(self) -> str:
        from netcost.report.html.notebook import check_html

        return check_html(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        doc = {"schema_version": SCHEMA_VERSION, "passed": self.passed, "results": self.results}
        if self.baseline_written is not None:
            doc["baseline_written"] = self.baseline_written
        return doc


def parse_budgets(budgets: Mapping[str, Any]) -> dict[str, int]:
    """metric -> limit, each a whole number (``'1.5G'``, ``'24GiB'``, ``12_000_000``)."""
    out = {}
    for metric, value in budgets.items():
        if metric not in BUDGET_METRICS:
            from netcost.ops import did_you_mean

            hint = did_you_mean(str(metric), BUDGET_METRICS)
            raise CheckError(
                f"unknown budget metric {printable(metric)!r}; one of {', '.join(BUDGET_METRICS)}", hint=hint
            )
        try:
            out[metric] = parse_quantity(value)
        except ValueError as exc:
            raise CheckError(f"max-{metric.replace('_', '-')}: {exc}") from None
    return out


def headroom(budget: int | float, actual: int) -> float | None:
    if budget == 0:
        return 0.0 if actual == 0 else None
    return round((budget - actual) / budget * 100, 3)


def _row(
    model: str, metric: str, budget: int | float, actual: int, note: str | None = None, ok=None, failure: str = "over"
) -> BudgetRow:
    passed = actual <= budget if ok is None else ok
    return BudgetRow(model, metric, budget, actual, headroom(budget, actual), passed, note, None if passed else failure)


def check_report(target: Target, report: Report) -> list[BudgetRow]:
    """The rows of one model's budgets."""
    partial = bool(report.meta.get("partial"))
    rows = []
    for metric, budget in target.budgets.items():
        totals = (report.train or {}) if metric in TRAIN_METRICS else report.totals
        actual = totals.get(TRAIN_METRICS.get(metric, metric))
        if not isinstance(actual, int):
            note = f"{metric} is not available for this model"
            rows.append(_row(target.model, metric, budget, 0, note, False, "unavailable"))
            continue
        row = _row(target.model, metric, budget, actual)
        if partial and not target.allow_partial:
            unsupported = ", ".join(sorted(report.meta.get("unsupported_ops", {})))
            note = f"incomplete count (could not count: {unsupported}); --allow-partial lets it pass"
            row = replace(row, passed=False, note=note, failure=row.failure or "incomplete")
        rows.append(row)
    return rows


def check_baseline(model: str, report: Report, baseline: Mapping[str, int], max_increase_pct: float) -> list:
    """Fail a metric that grew by more than ``max_increase_pct`` over the baseline's value."""
    rows = []
    for metric, before in baseline.items():
        actual = report.totals.get(metric)
        if metric not in METRICS or not isinstance(actual, int):
            continue
        if before == 0:
            note = f"baseline 0, now {actual}"
            rows.append(_row(model, f"{metric} vs baseline", 0, actual, note, actual == 0))
            continue
        limit = before * (1 + max_increase_pct / 100)
        growth = (actual - before) / before * 100
        note = f"baseline {before}, growth {growth:+.2f}% (max +{max_increase_pct:g}%)"
        rows.append(_row(model, f"{metric} vs baseline", limit, actual, note))
    return rows


def load_baseline(path: str | Path) -> dict[str, dict[str, int]]:
    """model -> metric -> value, from a saved analyze, compare or check JSON document."""
    where = f"baseline {printable(path)}"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise CheckError(f"cannot read {where}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CheckError(f"{where} is not UTF-8 text") from None

    def refuse(name: str) -> None:
        raise CheckError(f"{where}: {name} is not a number a baseline can hold")

    try:
        doc = json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise CheckError(f"{where} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise CheckError(f"{where} nests too deeply") from None
    if isinstance(doc, dict) and "totals" in doc:
        return {_model(doc, where): _totals(doc["totals"], f"{where} totals")}
    if isinstance(doc, dict) and isinstance(doc.get("models"), list):
        out = {}
        for i, entry in enumerate(doc["models"]):
            at = f"{where} models[{i}]"
            if not isinstance(entry, dict) or "totals" not in entry:
                raise CheckError(f"{at}: expected an analyze document with model and totals")
            out[_model(entry, at)] = _totals(entry["totals"], f"{at} totals")
        return out
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):
        out: dict[str, dict[str, int]] = {}
        for i, row in enumerate(doc["results"]):
            at = f"{where} results[{i}]"
            if not isinstance(row, dict) or not isinstance(row.get("metric"), str) or "actual" not in row:
                raise CheckError(f"{at}: expected a check result with model, metric and actual")
            if row["metric"].endswith("vs baseline") or row["metric"] not in METRICS:
                continue
            out.setdefault(_model(row, at), {}).update(_totals({row["metric"]: row.get("actual")}, at))
        return out
    raise CheckError(f"{where} is not a netcost analyze, compare or check document")


def _model(doc: dict, where: str) -> str:
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise CheckError(f"{where}: missing `model` (the name the totals belong to)")
    return model


def _totals(totals: Any, where: str) -> dict[str, int]:
    if not isinstance(totals, dict):
        raise CheckError(f"{where}: expected an object of totals")
    out = {}
    for metric in METRICS:
        if metric not in totals or totals[metric] is None:
            continue
        value = totals[metric]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckError(f"{where}: {metric} must be a non-negative integer, got {printable(repr(value))}")
        out[metric] = value
    return out


Analyzer = Callable[[str, AnalyzeOptions], Report]


def check(
    targets: Sequence[Target],
    *,
    baseline: str | Path | Mapping[str, Mapping[str, int]] | None = None,
    max_increase: float | str | None = None,
    write_baseline: str | Path | None = None,
    analyzer: Analyzer | None = None,
) -> CheckResult:
    """Analyse every target and gate its totals: its budgets, and (with ``baseline``) its
    growth over the baseline's totals by at most ``max_increase`` percent. With
    ``write_baseline``, the totals are then written there as a baseline (whole, after the
    old one was read: it may be the same file), and no budget is needed.

    Raises :class:`CheckError` when nothing would be checked (no budget, no baseline, none
    to write), or for a baseline without ``max_increase``."""
    if not targets:
        raise CheckError("no models to check")
    base = load_baseline(baseline) if isinstance(baseline, (str, Path)) else dict(baseline or {})
    increase = None if max_increase is None else _percent(max_increase)
    if base and increase is None:
        raise CheckError(
            "a baseline needs a largest allowed growth: max-increase "
            '(--max-increase 5%, or max-increase = "5%" in [tool.netcost])'
        )
    if increase is not None and not base and baseline is None:
        raise CheckError(
            "max-increase needs a baseline, the saved totals to compare with "
            '(--baseline, or baseline = "..." in [tool.netcost])'
        )
    if not base and not any(t.budgets for t in targets) and write_baseline is None:
        raise CheckError(
            "no budgets given: add --max-params, --max-macs, ... or --baseline "
            '(in [tool.netcost]: max-params = "12M", ...)'
        )
    if analyzer is None:
        from netcost.api import analyze_options as analyzer
    rows: list[BudgetRow] = []
    totals: dict[str, dict[str, int]] = {}
    for target in targets:
        report = analyzer(target.model, target.options)
        totals[target.model] = {m: v for m in METRICS if isinstance(v := report.totals.get(m), int)}
        rows += check_report(target, report)
        before = base.get(target.model) or base.get(report.model)
        if before is not None:
            rows += check_baseline(target.model, report, before, increase)
        elif base:
            rows.append(BudgetRow(target.model, "baseline", 0, 0, 0.0, True, "not in the baseline: nothing to compare"))
    if write_baseline is not None:
        result = CheckResult(tuple(rows), totals, str(write_baseline))
        _write_baseline(write_baseline, result)
        return result
    if all(r.metric == "baseline" for r in rows) or not rows:
        raise CheckError("nothing was checked: no budget given and the baseline holds no totals for these models")
    return CheckResult(tuple(rows), totals)


def _write_baseline(path: str | Path, result: CheckResult) -> None:
    from netcost.files import write_atomic

    try:
        write_atomic(path, json.dumps(result.baseline_document(), indent=2) + "\n")
    except OSError as exc:
        raise CheckError(f"cannot write the baseline {printable(path)}: {exc.strerror or exc}") from None


def _percent(value: float | str) -> float:
    try:
        pct = parse_percent(value)
    except ValueError as exc:
        raise CheckError(f"max-increase: {exc}") from None
    return pct

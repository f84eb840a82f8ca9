"""Several models side by side, each total with its ratio to the first model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from netcost.report.model import SCHEMA_VERSION, Report
from netcost.report.views import ResultViews

METRICS = (
    "params",
    "buffers",
    "param_bytes",
    "macs",
    "flops",
    "elementwise_flops",
    "activation_bytes",
    "peak_activation_bytes",
    "max_op_io_bytes",
)


TRAIN_KEYS = (
    "step_flops",
    "backward_flops",
    "grad_bytes",
    "optimizer_state_bytes",
    "saved_activation_bytes",
    "peak_train_bytes",
)


def _ratio(a: Any, b: Any) -> float | None:
    return a / b if isinstance(a, int) and isinstance(b, int) and b else None


def ratios(report: Report, first: Report) -> dict[str, Any]:
    """Each total divided by the first model's (None where either is missing or zero)."""
    out: dict[str, Any] = {}
    for key in METRICS:
        out[key] = _ratio(report.totals.get(key), first.totals.get(key))
    if report.train is not None and first.train is not None:
        out["train"] = {k: _ratio(report.train.get(k), first.train.get(k)) for k in TRAIN_KEYS}
    rf, rf0 = report.totals.get("receptive_field"), first.totals.get("receptive_field")
    out["receptive_field"] = [x / y for x, y in zip(rf, rf0, strict=True)] if rf and rf0 else None
    return out


def comparison(reports: Sequence[Report], depth: int | None = None) -> dict[str, Any]:
    """The compare JSON document: every model's analyze document plus ``ratio_to_first``;
    layers (folded to ``depth``) only when a depth is asked for."""
    models = []
    for report in reports:
        shown = report.folded(depth) if depth else report
        models.append({**shown.to_dict(layers=depth is not None), "ratio_to_first": ratios(report, reports[0])})
    return {"schema_version": SCHEMA_VERSION, "models": models}


def with_predictions(doc: dict[str, Any], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The compare document with each model's predicted latency (netcost.analysis.predict)
    and its ratio to the first model's, beside the MAC ratios."""
    first = predictions[0]["totals"]["predicted_s"]
    models = []
    for m, p in zip(doc["models"], predictions, strict=True):
        seconds = p["totals"]["predicted_s"]
        predicted = {"latency_s": seconds, "ratio_to_first": seconds / first if first else None}
        models.append({**m, "predicted": {**predicted, "calibration": p["calibration"]}})
    return {**doc, "models": models}


@dataclass(frozen=True)
class Comparison(ResultViews):
    """What ``netcost.compare`` returns: the compare document (``.to_dict()``; indexed like
    it, ``result["models"]``), ``.df`` one row per model (its totals and ratios)."""

    doc: dict[str, Any]

    TABLE: ClassVar[str] = "models"
    TITLE: ClassVar[str] = "netcost compare"

    def to_dict(self) -> dict[str, Any]:
        return self.doc

    def __getitem__(self, key: str) -> Any:
        return self.doc[key]

    def records(self) -> list[dict[str, Any]]:
        keep = ("model", "totals", "ratio_to_first")
        return [_flat_model({k: m[k] for k in keep if k in m}) for m in self.doc["models"]]


def _flat_model(model: dict[str, Any]) -> dict[str, Any]:
    out = {"model": model["model"]}
    for group in ("totals", "ratio_to_first"):
        for key, value in (model.get(group) or {}).items():
            if not isinstance(value, (dict, list)):
                out[key if group == "totals" else f"{key}_ratio"] = value
    return out

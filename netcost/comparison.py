"""Several models side by side, each total with its ratio to the first model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netcost.report.model import SCHEMA_VERSION, Report

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

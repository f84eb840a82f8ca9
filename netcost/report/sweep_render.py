"""Rendering of `netcost sweep` rows and of a `netcost fit` result (formatting only here)."""

from __future__ import annotations

import csv
import sys
from typing import Any

from netcost.report.render import Format, json_document, outside, plain_grid
from netcost.units import binary, grouped, si

# the totals a table shows (csv and json carry every column)
TABLE_TOTALS = (
    "params",
    "macs",
    "flops",
    "activation_bytes",
    "peak_activation_bytes",
    "step_flops",
    "peak_train_bytes",
)
_TITLES = {"activation_bytes": "activations", "peak_activation_bytes": "peak act.", "peak_train_bytes": "train peak"}


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return outside(str(value))
    if key.endswith("bytes"):
        return binary(value)
    return grouped(value) if key == "params" else si(value)


def render_sweep(doc: dict[str, Any], format: Format) -> None:
    """``doc``: SweepResult.to_dict()."""
    rows, columns = doc["rows"], doc["columns"]
    if format is Format.json:
        sys.stdout.write(json_document(doc))
        return
    if format is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv(row.get(c)) for c in columns])
        return
    shown = [*doc["varied"], *(k for k in TABLE_TOTALS if k in columns)]
    titles = [_TITLES.get(k, k) for k in shown]
    cells = [[_value(k, row.get(k)) for k in shown] for row in rows]
    numeric = [k not in doc["varied"] for k in shown]
    if format is Format.markdown:
        sys.stdout.write("| " + " | ".join(titles) + " |\n|" + "---|" * len(titles) + "\n")
        sys.stdout.writelines("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |\n" for row in cells)
    else:
        sys.stdout.write("\n".join(plain_grid(titles, cells, [not n for n in numeric])) + "\n")
    print(_summary(doc), file=sys.stderr)


def _summary(doc: dict[str, Any]) -> str:
    n = len(doc["rows"])
    if doc["kind"] == "sample":
        return f"netcost: {n} models of space {doc['space']!r} (seed {doc['seed']}, {doc['drawn']:,} draws)"
    return f"netcost: {n} models"


def _csv(value: Any) -> Any:
    if isinstance(value, list):
        return "x".join(map(str, value))
    return value


def render_fit(doc: dict[str, Any], format: Format) -> None:
    """``doc``: FitResult.to_dict()."""
    if format is Format.json:
        sys.stdout.write(json_document(doc))
        return
    setting = " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in doc["variables"].items())
    scale = f"{doc['scale']} = {doc['value']:.6g}: " if doc["scale"] not in doc["variables"] else ""
    budgets = ", ".join(f"{k} <= {_value(k, v)}" for k, v in doc["budgets"].items())
    lines = [f"{doc['model']}: {scale}{outside(setting)} fits {budgets}"]
    totals = doc["totals"]
    cells = [[k, _value(k, totals[k]), grouped(totals[k])] for k in totals if isinstance(totals[k], int)]
    lines += plain_grid(["total", "value", "exact"], cells, [True, False, False])
    over = ", ".join(doc["next_over"]) or "an invalid model"
    lines.append(f"next: {doc['scale']} = {doc['next_value']:.6g} exceeds {over} ({doc['probes']} models costed)")
    sys.stdout.write("\n".join(lines) + "\n")

"""Rendering of the compare document (netcost.comparison.comparison)."""

from __future__ import annotations

import csv
import io
import sys
from typing import Any

from netcost.report.render import Format, json_document, outside, stdout_console
from netcost.text import printable
from netcost.units import binary, si

ROWS = [
    ("params", "params", si),
    ("MACs", "macs", si),
    ("FLOPs", "flops", si),
    ("elementwise FLOPs", "elementwise_flops", si),
    ("param bytes", "param_bytes", binary),
    ("activations (sum)", "activation_bytes", binary),
    ("peak activation memory", "peak_activation_bytes", binary),
    ("max op inputs+output", "max_op_io_bytes", binary),
]


def _rf(value: Any) -> str:
    return "-" if not value else (str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}")


def _ratio(r: Any) -> str:
    return "" if r is None else f" ({r:.3g}x)"


TRAIN_ROWS = [
    ("train: step FLOPs", "step_flops", si),
    ("train: backward FLOPs", "backward_flops", si),
    ("train: gradients", "grad_bytes", binary),
    ("train: optimizer state", "optimizer_state_bytes", binary),
    ("train: saved activations", "saved_activation_bytes", binary),
    ("train: peak of the step", "peak_train_bytes", binary),
]


def table_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for title, key, fmt in ROWS:
        cells = [f"{fmt(m['totals'].get(key))}{_ratio(m['ratio_to_first'].get(key))}" for m in doc["models"]]
        rows.append([title, *cells])
    rows.append(["receptive field", *(_rf(m["totals"].get("receptive_field")) for m in doc["models"])])
    if all("train" in m for m in doc["models"]):
        for title, key, fmt in TRAIN_ROWS:
            cells = [
                f"{fmt(m['train'].get(key))}{_ratio(m['ratio_to_first'].get('train', {}).get(key))}"
                for m in doc["models"]
            ]
            rows.append([title, *cells])
    return rows


def render_compare(doc: dict[str, Any], format: Format) -> None:
    names = [outside(m["model"]) for m in doc["models"]]
    if format is Format.json:
        sys.stdout.write(json_document(doc))
    elif format is Format.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["model", *(key for _, key, _ in ROWS), "receptive_field", *(f"{k}_ratio" for _, k, _ in ROWS)])
        for m in doc["models"]:
            rf = m["totals"].get("receptive_field")
            writer.writerow(
                [
                    outside(m["model"]),
                    *(m["totals"].get(k) for _, k, _ in ROWS),
                    "x".join(map(str, rf or [])),
                    *(m["ratio_to_first"].get(k) for _, k, _ in ROWS),
                ]
            )
        sys.stdout.write(out.getvalue())
    elif format is Format.markdown:
        lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        lines += ["| " + " | ".join(row) + " |" for row in table_rows(doc)]
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(
            title=Text(f"convention: {outside(doc['models'][0]['convention'])}; ratios to {names[0]}"),
            box=None,
            header_style="bold",
            title_justify="left",
        )
        table.add_column("metric")
        for name in names:
            table.add_column(Text(name), justify="right")
        for row in table_rows(doc):
            table.add_row(*(Text(c) for c in row))
        console = stdout_console()
        console.print(table)
        for m in doc["models"]:
            for note in m.get("notes", []) or []:
                console.print(Text.assemble((f"note ({outside(m['model'])}):", "yellow"), " " + printable(note)))

"""Rendering of prediction documents (netcost.analysis.predict.Prediction.to_dict())."""

from __future__ import annotations

import sys
from typing import Any

from netcost.report.profile_render import _ms
from netcost.report.render import Format, json_document, markdown_cell, outside
from netcost.report.verify_render import _md_table, _write_csv, console
from netcost.units import binary, si

PREDICT_FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
COLUMNS = ("layer", "op class", "FLOPs", "bytes moved", "predicted", "%", "bound")
CSV_KEYS = ("name", "op", "op_class", "flops", "bytes_moved", "predicted_s", "share", "bound")


def title(doc: dict[str, Any]) -> str:
    c = doc["calibration"]
    layout = ", channels-last" if c["channels_last"] else ""
    return (
        f"{outside(doc['model'])}: predicted latency at batch {doc['batch']} {doc['dtype']}{layout} on "
        f"{outside(c['device'])} ({c['threads']} threads; calibrated {outside(c['measured_at'])})"
    )


def _cells(r: dict[str, Any]) -> list[str]:
    share = "-" if r["share"] is None else f"{100 * r['share']:.1f}"
    return [outside(r["name"]), r["op_class"], si(r["flops"]), binary(r["bytes_moved"]), _ms(r["predicted_s"]), share]


def summary_lines(doc: dict[str, Any]) -> list[str]:
    t, c = doc["totals"], doc["calibration"]
    lines = [
        f"predicted: {_ms(t['predicted_s'])} for the whole model (layers {_ms(t['layer_sum_s'])}, each "
        f"{c['network_factor']:.2f}x its time alone, + {_ms(c['step_overhead_s'])} per layer between them "
        f"{_ms(t['step_overhead_s'])}; both fitted on the calibration's reference networks)"
    ]
    for cls, acc in sorted(doc["by_class"].items(), key=lambda kv: -kv[1]["predicted_s"]):
        rate = f", {si(acc['flops'] / acc['predicted_s'])}FLOP/s" if acc["flops"] and acc["predicted_s"] else ""
        lines.append(f"  {cls}: {_ms(acc['predicted_s'])} over {acc['layers']} layers{rate}")
    return lines


def render_prediction(doc: dict[str, Any], format: Format) -> None:
    sys.stdout.write(_RENDER[format](doc))


def _table(doc: dict[str, Any]) -> str:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    table = Table(title=escape(title(doc)), box=None, header_style="bold", title_justify="left")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("layer", "op class", "bound") else "right")
    for r in doc["layers"]:
        table.add_row(*(escape(c) for c in [*_cells(r), r["bound"]]))
    out.print(table)
    for line in summary_lines(doc):
        out.print(escape(line))
    for note in doc.get("notes", []):
        out.print(f"[yellow]note:[/yellow] {escape(outside(note))}")
    return ""


def _csv(doc: dict[str, Any]) -> str:
    header = ["batch", "dtype", *CSV_KEYS]
    return _write_csv(header, [[doc["batch"], doc["dtype"], *(r[k] for k in CSV_KEYS)] for r in doc["layers"]])


def _markdown(doc: dict[str, Any]) -> str:
    lines = [f"### {markdown_cell(title(doc))}", ""]
    lines += _md_table(list(COLUMNS), [[*_cells(r), r["bound"]] for r in doc["layers"]], right={2, 3, 4, 5})
    lines += ["", *(f"- {markdown_cell(line.strip())}" for line in summary_lines(doc))]
    lines += [f"- note: {markdown_cell(n)}" for n in doc.get("notes", [])]
    return "\n".join(lines) + "\n"


_RENDER = {Format.table: _table, Format.json: json_document, Format.csv: _csv, Format.markdown: _markdown}

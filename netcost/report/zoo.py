"""`netcost zoo`: the bundled specs with their headline numbers."""

from __future__ import annotations

import json
import sys
from typing import Any

from netcost.report.render import Format
from netcost.units import grouped, si


def zoo_rows() -> list[dict[str, Any]]:
    from netcost.api import analyze, load_spec
    from netcost.zoo import bundled

    rows = []
    for name, path in bundled().items():
        spec = load_spec(path)
        report = analyze(spec)
        rows.append(
            {
                "name": name,
                "params": report.totals["params"],
                "macs": report.totals["macs"],
                "input": report.input[1:],
                "vars": sorted(spec.vars),
                "reference": spec.reference,
                "description": spec.description,
            }
        )
    return rows


def render_zoo(rows: list[dict[str, Any]], format: Format) -> None:
    if format is Format.json:
        sys.stdout.write(json.dumps({"schema_version": 1, "models": rows}, indent=2) + "\n")
        return
    header = ["model", "params", "MACs", "input", "variables", "reference"]
    cells = [
        [
            r["name"],
            grouped(r["params"]),
            si(r["macs"]),
            "x".join(map(str, r["input"])),
            " ".join(r["vars"]),
            r["reference"] or "",
        ]
        for r in rows
    ]
    if format is Format.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["model", "params", "macs", "input", "vars", "reference"])
        for r in rows:
            writer.writerow(
                [
                    r["name"],
                    r["params"],
                    r["macs"],
                    "x".join(map(str, r["input"])),
                    " ".join(r["vars"]),
                    r["reference"] or "",
                ]
            )
        return
    if format is Format.markdown:
        sys.stdout.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
        sys.stdout.writelines("| " + " | ".join(c) + " |\n" for c in cells)
        return
    from rich.table import Table

    from netcost.report.render import stdout_console

    table = Table(box=None, header_style="bold")
    for i, h in enumerate(header):
        table.add_column(h, justify="right" if i in (1, 2) else "left")
    for c in cells:
        table.add_row(*c)
    stdout_console().print(table)

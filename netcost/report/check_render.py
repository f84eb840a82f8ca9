"""Rendering of check results: table, JSON, JUnit XML, and GitHub Actions annotations."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Any

from netcost.budget import BYTE_METRICS
from netcost.report.render import json_document, markdown_cell, outside
from netcost.units import binary, si


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    markdown = "markdown"


JUNIT_FAILURE = {"incomplete": "IncompleteCount", "unavailable": "NotAvailable"}


def pct(value: float | None) -> str:
    """A headroom: ``-20.9%``; ``-`` where none exists (a zero budget exceeded)."""
    return "-" if value is None else f"{value:.1f}%"


def fmt(metric: str, value: Any) -> str:
    base = metric.removesuffix(" vs baseline")
    return binary(value) if base in BYTE_METRICS else si(value)


def junit(doc: dict[str, Any]) -> str:
    import xml.etree.ElementTree as ET  # only here: its import costs start-up time

    results = doc["results"]
    failures = sum(not r["passed"] for r in results)
    suites = ET.Element("testsuites", name="netcost", tests=str(len(results)), failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name="netcost check", tests=str(len(results)), failures=str(failures))
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"netcost.{outside(r['model'])}",
            name=f"{r['metric']} <= {fmt(r['metric'], r['budget'])}",
        )
        text = (
            f"{outside(r['model'])} {r['metric']}: {fmt(r['metric'], r['actual'])} against "
            f"{fmt(r['metric'], r['budget'])} (headroom {pct(r['headroom_pct'])})"
            + (f"; {outside(r['note'])}" if r.get("note") else "")
        )
        if not r["passed"]:
            kind = JUNIT_FAILURE.get(r.get("failure"), "BudgetExceeded")
            ET.SubElement(case, "failure", message=text, type=kind).text = text
        else:
            ET.SubElement(case, "system-out").text = text
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def annotations(doc: dict[str, Any]) -> list[str]:
    """GitHub Actions workflow commands for the failures (only under GITHUB_ACTIONS=true)."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return []
    return [
        f"::error title=netcost budget::{outside(r['model'])} {r['metric']} is {fmt(r['metric'], r['actual'])}, budget "
        f"{fmt(r['metric'], r['budget'])} ({pct(r['headroom_pct'])} headroom)"
        for r in doc["results"]
        if not r["passed"]
    ]


def render_check(doc: dict[str, Any], format: CheckFormat) -> None:
    commands = annotations(doc)
    if format is CheckFormat.json:
        sys.stdout.write(json_document(doc))
    elif format is CheckFormat.junit:
        sys.stdout.write(junit(doc))
    elif format is CheckFormat.markdown:
        lines = ["| model | metric | budget | actual | headroom | result |", "|---|---|---:|---:|---:|---|"]
        for r in doc["results"]:
            lines.append(
                f"| {markdown_cell(r['model'])} | {r['metric']} | {fmt(r['metric'], r['budget'])} | "
                f"{fmt(r['metric'], r['actual'])} | {pct(r['headroom_pct'])} | "
                f"{'PASS' if r['passed'] else _failed(r)} |"
            )
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        _table(doc)
    # workflow commands: on stdout with the table, on stderr when stdout holds a document
    stream = sys.stdout if format is CheckFormat.table else sys.stderr
    for line in commands:
        print(line, file=stream)


def _failed(row: dict[str, Any]) -> str:
    """FAIL, with why when it is not a total over its budget."""
    reason = {"incomplete": "incomplete count", "unavailable": "not available"}.get(row.get("failure"))
    return f"FAIL ({reason})" if reason else "FAIL"


def _table(doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from netcost.report.render import stdout_console

    console = stdout_console()
    if not doc["results"]:
        console.print(f"no budgets to check; the totals were written to {escape(outside(doc['baseline_written']))}")
        return
    table = Table(box=None, header_style="bold")
    for col in ("model", "metric", "budget", "actual", "headroom", "result", "note"):
        table.add_column(col, justify="right" if col in ("budget", "actual", "headroom") else "left")
    for r in doc["results"]:
        result = Text("PASS", "green") if r["passed"] else Text(_failed(r), "bold red")
        table.add_row(
            Text(outside(r["model"])),
            Text(outside(r["metric"])),
            fmt(r["metric"], r["budget"]),
            fmt(r["metric"], r["actual"]),
            pct(r["headroom_pct"]),
            result,
            Text(outside(r.get("note", ""))),
        )
    console.print(table)
    failed = [r for r in doc["results"] if not r["passed"]]
    if not failed:
        console.print(f"[green]all {len(doc['results'])} budgets met[/green]")
        return
    over = [r for r in failed if r.get("failure") == "over"]
    summary = f"[bold red]{len(failed)} of {len(doc['results'])} budgets failed[/bold red]"
    if over:
        worst = min(over, key=lambda r: -1e300 if r["headroom_pct"] is None else r["headroom_pct"])
        by = "a zero budget" if worst["headroom_pct"] is None else f"{-worst['headroom_pct']:.1f}%"
        summary += f"; worst: {escape(outside(worst['model']))} {escape(worst['metric'])} over by {by}"
    for failure, text in (("incomplete", "incomplete count"), ("unavailable", "not available")):
        n = sum(r.get("failure") == failure for r in failed)
        if n:
            summary += f"; {n} {text} (see note)"
    console.print(summary)

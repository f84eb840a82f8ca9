"""Results shown in Jupyter: ``_repr_html_`` of Report and CheckResult.

A Report shows the very page ``netcost report`` writes, inside a sandboxed iframe
(``srcdoc``): the page keeps its own style, script and Content-Security-Policy, and the
notebook's page is untouched by either. A check result is a plain table."""

from __future__ import annotations

import html
from typing import Any

from netcost.report.html.escape import text

FRAME_HEIGHT = 720


def framed(page: str, title: str) -> str:
    """``page`` (a whole HTML document) in an iframe that may run only the page's script."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" title="{text(title)}" '
        f'width="100%" height="{FRAME_HEIGHT}" style="border:1px solid #d9dde5"></iframe>'
    )


def report_html(report: Any) -> str:
    from netcost.report.html.page import page

    return framed(page([report]), f"netcost report: {report.model}")


def check_html(doc: dict[str, Any]) -> str:
    """A check result (CheckResult.to_dict()) as a table: one row per model and metric."""
    from netcost.report.check_render import fmt, pct

    verdict = "passed" if doc["passed"] else "FAILED"
    head = "".join(f"<th>{h}</th>" for h in ("model", "metric", "actual", "budget", "headroom", ""))
    rows = []
    for r in doc["results"]:
        cells = [
            r["model"],
            r["metric"],
            fmt(r["metric"], r["actual"]),
            fmt(r["metric"], r["budget"]),
            pct(r["headroom_pct"]),
            ("ok" if r["passed"] else r.get("failure") or "over") + (f" ({r['note']})" if r.get("note") else ""),
        ]
        rows.append("<tr>" + "".join(f"<td>{text(c)}</td>" for c in cells) + "</tr>")
    return (
        f"<p><b>netcost check: {verdict}</b></p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )

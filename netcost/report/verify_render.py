"""Rendering of a verify document (the dict of VerifyReport.to_dict(); no torch here)."""

from __future__ import annotations

import json
import sys
from typing import Any

from netcost.report.render import Format, stdout_console
from netcost.units import binary, grouped

CHECKS = (
    ("params", grouped),
    ("shape", lambda v: "x".join(map(str, v[1:])) if v else "-"),
    ("bytes", binary),
    ("fvcore", grouped),
    ("flopcounter", grouped),
)


def _cell(cell: dict[str, Any], fmt) -> str:
    if cell["ok"] is None:
        return "[dim]n/a[/dim]"
    if cell["ok"]:
        return f"[green]✓[/green] {fmt(cell['analytic'])}"
    return f"[red]✗[/red] {fmt(cell['analytic'])} ≠ {fmt(cell['counted'])}"


def render_verify(doc: dict[str, Any], format: Format) -> None:
    if format is Format.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console()
    shape = "x".join(map(str, doc["input"]))
    table = Table(
        title=f"verify {doc['model']}  input {shape}  on {doc['device']}",
        title_justify="left",
        box=None,
        header_style="bold",
    )
    for title in ("layer", "op", "params", "output", "output bytes", "fvcore", "FlopCounterMode", "note"):
        table.add_column(title, overflow="fold")
    for row in doc["layers"]:
        note = row["fvcore"].get("note", "")
        table.add_row(row["name"], row["op"], *(_cell(row[key], fmt) for key, fmt in CHECKS), escape(note))
    console.print(table)
    for t in doc["totals"]:
        mark = "[green]✓[/green]" if t["ok"] else "[red]✗[/red]"
        console.print(f"{mark} total {t['check']}: analytic {grouped(t['analytic'])}, counted {grouped(t['counted'])}")
    for f in doc["receptive_fields"]:
        mark = "[green]✓[/green]" if f["ok"] else "[red]✗[/red]"
        analytic = "global" if f["analytic"] is None else "x".join(map(str, f["analytic"]))
        console.print(
            f"{mark} receptive field of {f['node']}: analytic {analytic}, measured "
            f"{'x'.join(map(str, f['measured']))} (by gradient, on a {'x'.join(map(str, f['input']))} input)"
        )
    mem = doc["memory"]
    if mem:
        mark = "[green]✓[/green]" if mem["ok"] else "[red]✗[/red]"
        console.print(
            f"{mark} peak activation memory: analytic {binary(mem['analytic_bytes'])}, measured "
            f"{binary(mem['measured_bytes'])} (at {mem['measured_at']}): {escape(mem['explanation'])}"
        )
    ref = doc["against"]
    if ref:
        mark = "[green]✓[/green]" if ref["ok"] else "[red]✗[/red]"
        console.print(
            f"{mark} against {ref['reference']}: params {grouped(ref['params']['analytic'])} vs "
            f"{grouped(ref['params']['reference'])}, MACs {grouped(ref['macs']['analytic'])} vs "
            f"{grouped(ref['macs']['reference'])}, parameter tensors {ref['param_tensors']['analytic']} vs "
            f"{ref['param_tensors']['reference']}"
            + (
                f"; first shape difference at #{ref['first_shape_difference']['index']}"
                if ref["first_shape_difference"]
                else ""
            )
        )
    for note in doc["notes"]:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if doc["passed"]:
        console.print(f"[bold green]verify passed[/bold green]: {len(doc['layers'])} layers agree")
    else:
        console.print(
            f"[bold red]verify FAILED[/bold red]: {len(doc['mismatches'])} mismatches: "
            + escape(", ".join(doc["mismatches"][:10]))
            + (" ..." if len(doc["mismatches"]) > 10 else "")
        )


def render_train_verify(doc: dict[str, Any], format: Format) -> None:
    """``verify --train``: the checks of one real training step, and layers that disagree or
    that a counter over-counts."""
    if format is Format.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    from rich.markup import escape

    console = stdout_console()
    shape = "x".join(map(str, doc["input"]))
    console.print(f"[bold]verify --train {doc['model']}[/bold]  input {shape}  {doc['optimizer']}  on {doc['device']}")
    for check in doc["checks"]:
        mark = "[green]✓[/green]" if check["ok"] else "[red]✗[/red]"
        fmt = binary if "bytes" in check["check"] or "memory" in check["check"] else grouped
        note = f" — {escape(check['note'])}" if check.get("note") else ""
        console.print(
            f"{mark} {check['check']}: analytic {fmt(check['analytic'])}, measured {fmt(check['measured'])}" + note
        )
    flagged = [
        r
        for r in doc["layers"]
        if r["backward_flops"].get("note") or r["backward_flops"]["ok"] is False or r["saved"]["ok"] is False
    ]
    for row in flagged[:20]:
        b = row["backward_flops"]
        console.print(
            f"  {row['name']} ({row['op']}): backward FLOPs analytic {grouped(b['analytic'])}, counted "
            f"{grouped(b['counted'])}" + (f" — {escape(b['note'])}" if b.get("note") else "")
        )
    if len(flagged) > 20:
        console.print(f"  ... and {len(flagged) - 20} more layers")
    for note in doc.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if doc["passed"]:
        console.print("[bold green]verify --train passed[/bold green]")
    else:
        console.print("[bold red]verify --train FAILED[/bold red]: " + escape(", ".join(doc["mismatches"])))

"""Rendering of a verify document (the dict of VerifyReport.to_dict(); no torch here).

Every format of ``Format`` is honoured (``VERIFY_FORMATS``, ``TRAIN_VERIFY_FORMATS``):

- ``table``: the rich table, then one line per check;
- ``json``: the document as it is;
- ``csv``: one row per layer, the table's columns with each check split into
  ``<check>_analytic``, ``<check>_counted``, ``<check>_ok`` (raw integers; the whole-model
  checks are in the exit code, JSON and Markdown);
- ``markdown``: the table's layer rows as a Markdown table, then the checks as a list.

Names that come from specs and models are shown with control characters escaped.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from typing import Any

from netcost.report.render import Format, json_document, markdown_cell, outside
from netcost.units import binary, grouped

VERIFY_FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
TRAIN_VERIFY_FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)


def _dims(v) -> str:
    return "x".join(map(str, v[1:])) if v else "-"


# the table's columns: (title, the layer's check, formatter for humans)
CHECKS = (
    ("params", "params", grouped),
    ("output", "shape", _dims),
    ("output bytes", "bytes", binary),
    ("fvcore", "fvcore", grouped),
    ("FlopCounterMode", "flopcounter", grouped),
)
# every per-layer check, for CSV (buffers are checked too, shown in the table only when wrong)
CSV_CHECKS = ("params", "buffers", "shape", "bytes", "fvcore", "flopcounter")


def console():
    """A rich console for results, as ``render.stdout_console`` but with no emoji codes
    (a name such as ``a:three:b`` is printed as it is)."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False, emoji=False)
    return Console(width=240, highlight=False, emoji=False)


def _plain_cell(cell: dict[str, Any], fmt: Callable[[Any], str]) -> str:
    if cell["ok"] is None:
        return "n/a"
    if cell["ok"]:
        return f"✓ {fmt(cell['analytic'])}"
    return f"✗ {fmt(cell['analytic'])} ≠ {fmt(cell['counted'])}"


def _rich_cell(cell: dict[str, Any], fmt: Callable[[Any], str]) -> str:
    from rich.markup import escape

    text = escape(_plain_cell(cell, fmt))
    if cell["ok"] is None:
        return f"[dim]{text}[/dim]"
    mark = "[green]✓[/green]" if cell["ok"] else "[red]✗[/red]"
    return mark + text[1:]


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("✓" if ok else "✗")


def check_lines(doc: dict[str, Any]) -> list[tuple[bool | None, str]]:
    """(passed?, plain text) for each whole-model check of a verify document, in order."""
    lines: list[tuple[bool | None, str]] = []
    for t in doc["totals"]:
        text = f"total {t['check']}: analytic {grouped(t['analytic'])}, counted {grouped(t['counted'])}"
        if "true" in t:  # the counter's figure lacks what it is known to miss
            text += f" (the true figure is {grouped(t['true'])}: {outside(t['note'])})"
        lines.append((t["ok"], text))
    for f in doc["receptive_fields"]:
        analytic = "global" if f["analytic"] is None else "x".join(map(str, f["analytic"]))
        text = (
            f"receptive field of {outside(f['node'])}: analytic {analytic}, measured "
            f"{'x'.join(map(str, f['measured']))} (by gradient, on a {'x'.join(map(str, f['input']))} input)"
        )
        if f.get("note"):
            text += f"; {outside(f['note'])}"
        lines.append((f["ok"], text))
    mem = doc["memory"]
    if mem:
        lines.append(
            (
                mem["ok"],
                f"peak activation memory: analytic {binary(mem['analytic_bytes'])}, measured "
                f"{binary(mem['measured_bytes'])} (at {outside(mem['measured_at'])}): {outside(mem['explanation'])}",
            )
        )
    ref = doc["against"]
    if ref:
        diff, named, missed = ref["first_shape_difference"], ref["named_tensors"], ref["macs"]["missed"]
        lines.append(
            (
                ref["ok"],
                f"against {outside(ref['reference'])}: params {grouped(ref['params']['analytic'])} vs "
                f"{grouped(ref['params']['reference'])}, MACs {grouped(ref['macs']['analytic'])} vs "
                f"{grouped(ref['macs']['reference'])}"
                + (f" (+{grouped(missed)} FlopCounterMode misses)" if missed else "")
                + f", parameter tensors {ref['param_tensors']['analytic']} vs {ref['param_tensors']['reference']}"
                + ("; same names and shapes" if named["equal"] else "; names differ")
                + (f"; first shape difference at #{diff['index']}" if diff and not named["equal"] else ""),
            )
        )
    return lines


def row_note(row: dict[str, Any]) -> str:
    """The notes of a layer's counter cells (a skipped op, an attention gap), each once."""
    notes = [row[c].get("note") for c in ("fvcore", "flopcounter")]
    return "; ".join(dict.fromkeys(n for n in notes if n))


def verdict(doc: dict[str, Any], what: str = "verify") -> str:
    if doc["passed"]:
        return f"{what} passed: {len(doc['layers'])} layers agree" if what == "verify" else f"{what} passed"
    shown = ", ".join(outside(m) for m in doc["mismatches"][:10])
    more = " ..." if len(doc["mismatches"]) > 10 else ""
    return f"{what} FAILED: {len(doc['mismatches'])} mismatches: {shown}{more}"


def render_verify(doc: dict[str, Any], format: Format) -> None:
    sys.stdout.write(_VERIFY[format](doc))


def _verify_table(doc: dict[str, Any]) -> str:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    shape = "x".join(map(str, doc["input"]))
    table = Table(
        title=escape(f"verify {outside(doc['model'])}  input {shape}  on {outside(doc['device'])}"),
        title_justify="left",
        box=None,
        header_style="bold",
    )
    for title in ("layer", "op", *(c[0] for c in CHECKS), "note"):
        table.add_column(title, overflow="fold")
    for row in doc["layers"]:
        note = row_note(row)
        cells = (_rich_cell(row[key], fmt) for _, key, fmt in CHECKS)
        table.add_row(escape(outside(row["name"])), escape(outside(row["op"])), *cells, escape(outside(note)))
    out.print(table)
    for ok, text in check_lines(doc):
        mark = "[dim]n/a[/dim]" if ok is None else ("[green]✓[/green]" if ok else "[red]✗[/red]")
        out.print(f"{mark} {escape(text)}")
    for note in doc["notes"]:
        out.print(f"[yellow]note:[/yellow] {escape(outside(note))}")
    style = "bold green" if doc["passed"] else "bold red"
    head, _, tail = verdict(doc).partition(":")
    out.print(f"[{style}]{escape(head)}[/{style}]:{escape(tail)}")
    return ""


def _csv_value(v: Any) -> Any:
    if isinstance(v, list):
        return "x".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else (outside(v) if isinstance(v, str) else v)


def _write_csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return out.getvalue()


def _verify_csv(doc: dict[str, Any]) -> str:
    header = ["layer", "op", *(f"{c}_{part}" for c in CSV_CHECKS for part in ("analytic", "counted", "ok")), "note"]
    rows = []
    for r in doc["layers"]:
        cells = [r[c][part] for c in CSV_CHECKS for part in ("analytic", "counted", "ok")]
        rows.append([r["name"], r["op"], *cells, row_note(r) or None])
    return _write_csv(header, rows)


def _md_table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return lines


def _verify_markdown(doc: dict[str, Any]) -> str:
    shape = "x".join(map(str, doc["input"]))
    lines = [f"### verify {markdown_cell(doc['model'])}  input {shape}  on {markdown_cell(doc['device'])}", ""]
    rows = [
        [r["name"], r["op"], *(_plain_cell(r[key], fmt) for _, key, fmt in CHECKS), row_note(r)] for r in doc["layers"]
    ]
    lines += _md_table(["layer", "op", *(c[0] for c in CHECKS), "note"], rows)
    lines.append("")
    lines += [f"- {_mark(ok)} {markdown_cell(text)}" for ok, text in check_lines(doc)]
    lines += [f"- note: {markdown_cell(note)}" for note in doc["notes"]]
    lines += ["", f"**{markdown_cell(verdict(doc))}**"]
    return "\n".join(lines) + "\n"


_VERIFY = {
    Format.table: _verify_table,
    Format.json: json_document,
    Format.csv: _verify_csv,
    Format.markdown: _verify_markdown,
}


# --- verify --train -----------------------------------------------------------------------


def _fmt_for(check: str) -> Callable[[Any], str]:
    return binary if "bytes" in check or "memory" in check else grouped


def _train_check_lines(doc: dict[str, Any]) -> list[tuple[bool | None, str]]:
    lines = []
    for check in doc["checks"]:
        fmt = _fmt_for(check["check"])
        note = f" — {outside(check['note'])}" if check.get("note") else ""
        text = f"{check['check']}: analytic {fmt(check['analytic'])}, measured {fmt(check['measured'])}{note}"
        lines.append((check["ok"], text))
    return lines


def _flagged(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Layers that disagree, or that a counter over-counts (with a note)."""
    return [
        r
        for r in doc["layers"]
        if r["backward_flops"].get("note") or r["backward_flops"]["ok"] is False or r["saved"]["ok"] is False
    ]


def _flagged_line(row: dict[str, Any]) -> str:
    b = row["backward_flops"]
    note = f" — {outside(b['note'])}" if b.get("note") else ""
    return (
        f"{outside(row['name'])} ({outside(row['op'])}): backward FLOPs analytic {grouped(b['analytic'])}, counted "
        f"{grouped(b['counted'])}" + note
    )


def _train_verdict(doc: dict[str, Any]) -> str:
    if doc["passed"]:
        return "verify --train passed"
    return "verify --train FAILED: " + ", ".join(outside(m) for m in doc["mismatches"])


def render_train_verify(doc: dict[str, Any], format: Format) -> None:
    """``verify --train``: the checks of one real training step, and layers that disagree or
    that a counter over-counts."""
    sys.stdout.write(_TRAIN[format](doc))


def _train_table(doc: dict[str, Any]) -> str:
    from rich.markup import escape

    out = console()
    shape = "x".join(map(str, doc["input"]))
    out.print(
        f"[bold]verify --train {escape(outside(doc['model']))}[/bold]  input {shape}  "
        f"{escape(outside(doc['optimizer']))}  on {escape(outside(doc['device']))}"
    )
    for ok, text in _train_check_lines(doc):
        out.print(("[green]✓[/green] " if ok else "[red]✗[/red] ") + escape(text))
    flagged = _flagged(doc)
    for row in flagged[:20]:
        out.print("  " + escape(_flagged_line(row)))
    if len(flagged) > 20:
        out.print(f"  ... and {len(flagged) - 20} more layers")
    for note in doc.get("notes", []):
        out.print(f"[yellow]note:[/yellow] {escape(outside(note))}")
    style = "bold green" if doc["passed"] else "bold red"
    head, sep, tail = _train_verdict(doc).partition(": ")
    out.print(f"[{style}]{escape(head)}[/{style}]" + (f": {escape(tail)}" if sep else ""))
    return ""


def _train_csv(doc: dict[str, Any]) -> str:
    header = ["layer", "op", "dgrad_flops", "wgrad_flops"]
    header += ["backward_flops_analytic", "backward_flops_counted", "backward_flops_ok"]
    header += ["saved_analytic", "saved_measured", "saved_ok", "note"]
    rows = []
    for r in doc["layers"]:
        b, s = r["backward_flops"], r["saved"]
        flops = [b["analytic"], b["counted"], b["ok"]]
        rows.append([r["name"], r["op"], r["dgrad_flops"], r["wgrad_flops"], *flops, *s.values(), b.get("note")])
    return _write_csv(header, rows)


def _train_markdown(doc: dict[str, Any]) -> str:
    shape = "x".join(map(str, doc["input"]))
    model, optimizer, device = (markdown_cell(doc[k]) for k in ("model", "optimizer", "device"))
    lines = [f"### verify --train {model}  input {shape}  {optimizer}  on {device}"]
    lines.append("")
    lines += [f"- {_mark(ok)} {markdown_cell(text)}" for ok, text in _train_check_lines(doc)]
    lines.append("")
    rows = [
        [
            r["name"],
            r["op"],
            _plain_cell(r["backward_flops"], grouped),
            _plain_cell({**r["saved"], "counted": r["saved"]["measured"]}, binary),
            r["backward_flops"].get("note", ""),
        ]
        for r in doc["layers"]
    ]
    lines += _md_table(["layer", "op", "backward FLOPs", "saved activations", "note"], rows)
    lines.append("")
    lines += [f"- note: {markdown_cell(note)}" for note in doc.get("notes", [])]
    lines += ["", f"**{markdown_cell(_train_verdict(doc))}**"]
    return "\n".join(lines) + "\n"


_TRAIN = {
    Format.table: _train_table,
    Format.json: json_document,
    Format.csv: _train_csv,
    Format.markdown: _train_markdown,
}

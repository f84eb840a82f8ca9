"""Renderers: a Report (raw integers) to a rich table, JSON, CSV or Markdown.

This module and ``netcost.units`` are the only places where numbers become text.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any

from netcost.report.model import Report
from netcost.units import binary, grouped, si


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


# column title, row key, formatter for humans
Column = tuple[str, str, Callable[[Any], str]]


def _shape(dims: list[int] | None) -> str:
    return "-" if not dims else "x".join(str(d) for d in dims[1:])


def _rf(row: dict[str, Any]) -> str:
    if row["rf_global"]:
        return "global"
    size, jump = row["rf_size"], row["rf_jump"]
    if size is None:  # a counted torch model: no receptive field
        return "-"
    text = str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"
    step = str(jump[0]) if jump[0] == jump[1] else f"{jump[0]}x{jump[1]}"
    return f"{text} /{step}"


def columns(report: Report, formulas: bool = False) -> list[Column]:
    cols: list[Column] = [
        ("layer", "name", str),
        ("op", "op", str),
        ("args", "args", str),
        ("output", "output_shape", _shape),
        ("params", "params", grouped),
        ("MACs", "macs", si),
        ("FLOPs", "flops", si),
        ("elem.", "elementwise_flops", si),
        ("RF /jump", "", lambda row: _rf(row)),
        ("output bytes", "activation_bytes", binary),
    ]
    if report.train is not None:
        cols += [("backward FLOPs", "backward_flops", si), ("saved", "saved_activation_bytes", binary)]
    if formulas:
        cols += [("params formula", "formula_params", _text), ("FLOPs formula", "formula_flops", _text)]
    return cols


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _cell(row: dict[str, Any], key: str, fmt: Callable[[Any], str]) -> str:
    return fmt(row) if key == "" else fmt(row.get(key))


def totals_lines(report: Report) -> list[tuple[str, str]]:
    t = report.totals
    rf = t["receptive_field"]
    return [
        ("params", f"{grouped(t['params'])} ({si(t['params'])}), {binary(t['param_bytes'])} at {report.dtype}"),
        ("buffers", grouped(t["buffers"])),
        ("MACs", f"{grouped(t['macs'])} ({si(t['macs'])})"),
        (f"FLOPs ({report.convention})", f"{grouped(t['flops'])} ({si(t['flops'])})"),
        ("elementwise FLOPs", f"{grouped(t['elementwise_flops'])} ({si(t['elementwise_flops'])})"),
        ("activations (sum of outputs)", binary(t["activation_bytes"])),
        ("peak activation memory", _at(binary(t["peak_activation_bytes"]), report.meta.get("peak_at"))),
        ("max op inputs+output", _at(binary(t["max_op_io_bytes"]), report.meta.get("max_op_io_at"))),
        ("receptive field", "-" if rf is None else (f"{rf[0]}" if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}")),
    ]


def train_lines(report: Report) -> list[tuple[str, str]]:
    """The training step, itemised (``analyze --train``)."""
    t = report.train
    if t is None:
        return []
    memory = t["memory"]
    peak = memory["peak"]
    state = memory["optimizer_state"]
    saved = memory["saved_activations"]
    frozen = f", frozen: {' '.join(t['frozen'])}" if t["frozen"] else ""
    return [
        (
            "training step",
            f"{t['optimizer']}{' momentum ' + str(t['momentum']) if t['momentum'] else ''}"
            f"{' (amp)' if t['amp'] else ''}, modelled on {t['device']}{frozen}",
        ),
        (
            "FLOPs forward / backward / step",
            f"{si(t['forward_flops'])} / {si(t['backward_flops'])} "
            f"(dgrad {si(t['dgrad_flops'])}, wgrad {si(t['wgrad_flops'])}) / {si(t['step_flops'])}",
        ),
        ("  parameters", binary(memory["parameters"])),
        ("  gradients", binary(memory["gradients"])),
        (
            "  optimizer state",
            f"{binary(t['optimizer_state_bytes'])} ({binary(state['buffers'])} buffers + "
            f"{binary(state['step_counters'])} step counters)",
        ),
        (
            "  saved activations",
            f"{binary(t['saved_activation_bytes'])} (shared tensors {binary(saved['tensors'])}, "
            f"private {binary(saved['private'])}, amp weight copies {binary(saved['amp_weight_copies'])})",
        ),
        ("  buffers", binary(memory["buffers"])),
        ("peak of the step", f"{binary(t['peak_train_bytes'])} ({peak['phase']}, at {peak['at']})"),
    ]


def _at(value: str, where: str | None) -> str:
    return f"{value} (at {where})" if where else value


def title(report: Report) -> str:
    shape = "x".join(str(d) for d in report.input)
    extra = ", ".join(f"{k}={v}" for k, v in report.vars.items())
    return f"{report.model}  input {shape}  {report.dtype}" + (f"  ({extra})" if extra else "")


def to_json(report: Report, formulas: bool = False) -> str:
    return json.dumps(report.to_dict(), indent=2)


def to_csv(report: Report, formulas: bool = False) -> str:
    out = io.StringIO()
    keys = list(report.rows[0]) if report.rows else []
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return out.getvalue()


def _csv_value(v: Any) -> Any:
    if isinstance(v, list):
        return "x".join(str(x) for x in v)
    return "" if v is None else v


def to_markdown(report: Report, formulas: bool = False) -> str:
    cols = columns(report, formulas)
    lines = [
        f"### {title(report)}",
        "",
        f"FLOPs convention: `{report.convention}` — {report.meta.get('convention_description', '')}",
        "",
    ]
    lines.append("| " + " | ".join(c[0] for c in cols) + " |")
    lines.append("|" + "|".join("---" if _is_text(i, c[0]) else "---:" for i, c in enumerate(cols)) + "|")
    for row in report.rows:
        lines.append("| " + " | ".join(_md(_cell(row, key, fmt)) for _, key, fmt in cols) + " |")
    lines += ["", "| total | |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in totals_lines(report) + train_lines(report)]
    return "\n".join(lines) + "\n"


def _is_text(index: int, title: str) -> bool:
    return index < 4 or title.endswith("formula")


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def stdout_console():
    """A rich console for results; piped output keeps whole rows instead of folding at 80."""
    from rich.console import Console

    return Console(highlight=False) if sys.stdout.isatty() else Console(width=240, highlight=False)


def print_table(report: Report, formulas: bool = False, console=None) -> None:
    from rich import box
    from rich.table import Table

    console = console or stdout_console()
    table = Table(title=title(report), box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, (name, _, _) in enumerate(columns(report, formulas)):
        text = _is_text(i, name)
        table.add_column(name, justify="left" if text else "right", overflow="fold", no_wrap=not text)
    for row in report.rows:
        table.add_row(*(_cell(row, key, fmt) for _, key, fmt in columns(report, formulas)))
    console.print(table)
    summary = Table(box=None, show_header=False, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    for name, value in totals_lines(report) + train_lines(report):
        summary.add_row(name, value)
    console.print(summary)
    print_provenance(report, console)
    console.print(
        f"[dim]FLOPs ({report.convention}): {report.meta.get('convention_description')}. "
        "elem.: elementwise operations, apart from FLOPs.[/dim]"
    )


def print_provenance(report: Report, console) -> None:
    """Where the numbers came from when not from a spec, and what could not be counted."""
    from rich.markup import escape

    if report.meta.get("source") == "counted":
        console.print("[yellow]counted:[/yellow] a torch model counted op by op (no spec, no receptive field)")
    if report.meta.get("partial"):
        ops = ", ".join(sorted(report.meta.get("unsupported_ops", {})))
        console.print(f"[bold red]partial:[/bold red] these ops could not be counted: {escape(ops)}")
    for note in report.meta.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


RENDERERS = {Format.json: to_json, Format.csv: to_csv, Format.markdown: to_markdown}

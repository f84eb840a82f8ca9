"""Renderers: a Report (raw integers) to a table, JSON, CSV or Markdown.

This module and ``netcost.units`` are the only places where numbers become text. The
cells of a table are computed once (:func:`table_cells`); a small table on a terminal is
drawn by rich, anything larger or piped is written plainly with the same columns (rich
costs about half a millisecond a row). Text that came from outside (layer, model and op
names, arguments) is shown with control characters escaped (:func:`netcost.text.printable`)
and never read as rich markup.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import textwrap
import unicodedata
from collections.abc import Callable
from enum import Enum
from typing import Any

from netcost.report.model import Report
from netcost.text import one_line, printable
from netcost.units import binary, grouped, si

RICH_MAX_ROWS = 120  # larger tables are written plainly even on a terminal


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


# column title, row key, formatter for humans
Column = tuple[str, str, Callable[[Any], str]]


outside = one_line  # every renderer shows outside text through this


def markdown_cell(text: Any) -> str:
    """Outside text as one Markdown table cell (``|`` escaped)."""
    return one_line(text).replace("|", "\\|")


def json_document(doc: Any) -> str:
    """A machine-readable document as every command writes it: indented JSON, one newline."""
    return json.dumps(doc, indent=2) + "\n"


def _shape(dims: list[int] | None) -> str:
    return "-" if not dims else "x".join(str(d) for d in dims[1:])


def _output(row: dict[str, Any]) -> str:
    """The output's dimensions, with the layout where the rank does not tell it (``HWC``)."""
    layout = row.get("output_layout")
    text = _shape(row.get("output_shape"))
    return f"{text} {layout}" if layout in UNUSUAL_LAYOUTS else text


UNUSUAL_LAYOUTS = ("HWC", "L")  # a rank-3 shape is CHW unless marked, a rank-1 one flat (F)


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
        ("layer", "name", outside),
        ("op", "op", outside),
        ("args", "args", outside),
        ("output", "", lambda row: _output(row)),
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
    return "" if value is None else outside(value)


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
    frozen = f", frozen: {outside(' '.join(t['frozen']))}" if t["frozen"] else ""
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
        ("peak of the step", f"{binary(t['peak_train_bytes'])} ({peak['phase']}, at {outside(peak['at'])})"),
    ]


def _at(value: str, where: str | None) -> str:
    return f"{value} (at {outside(where)})" if where else value


def title(report: Report) -> str:
    shape = "x".join(str(d) for d in report.input)
    extra = outside(", ".join(f"{k}={v}" for k, v in report.vars.items()))
    return f"{outside(report.model)}  input {shape}  {report.dtype}" + (f"  ({extra})" if extra else "")


def to_json(report: Report, formulas: bool = False) -> str:
    return json.dumps(report.to_dict(), indent=2)


def to_csv(report: Report, formulas: bool = False) -> str:
    out = io.StringIO()
    keys = list(report.rows[0]) if report.rows else []
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    if report.rows:
        writer.writerow(totals_row(report, keys))
    return out.getvalue()


TOTAL_ROW = "TOTAL"  # the ``name`` of the CSV's last row: the totals (drop it to keep layers only)


def totals_row(report: Report, keys: list[str]) -> dict[str, Any]:
    """The totals under the layer columns they sum (``activation_bytes``: the sum of the
    outputs, as the totals give it); the other columns left empty."""
    from netcost.report.model import SUMMED, TRAIN_SUMMED

    row: dict[str, Any] = dict.fromkeys(keys, "")
    row["name"] = TOTAL_ROW
    for key in (*SUMMED, *TRAIN_SUMMED):
        if key in row:
            total = report.totals.get(key)
            row[key] = total if isinstance(total, int) else sum(r.get(key) or 0 for r in report.rows)
    return row


def _csv_value(v: Any) -> Any:
    if isinstance(v, list):
        return "x".join(str(x) for x in v)
    if isinstance(v, str):
        return printable(v)
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
    lines += ["| " + " | ".join(markdown_cell(c) for c in cells) + " |" for cells in table_cells(report, formulas).rows]
    lines += ["", "| total | |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in totals_lines(report) + train_lines(report)]
    return "\n".join(lines) + "\n"


def _is_text(index: int, title: str) -> bool:
    return index < 4 or title.endswith("formula")


def stdout_console():
    """A rich console for results; piped output keeps whole rows instead of folding at 80."""
    from rich.console import Console

    return Console(highlight=False) if sys.stdout.isatty() else Console(width=240, highlight=False)


class Cells:
    """A table's text, computed once: titles, which columns are text (left-aligned), rows.
    (A plain class: a dataclass would cost its construction at every start-up.)"""

    __slots__ = ("rows", "text", "titles")

    def __init__(self, titles: list[str], text: list[bool], rows: list[list[str]]):
        self.titles, self.text, self.rows = titles, text, rows


def table_cells(report: Report, formulas: bool = False) -> Cells:
    cols = columns(report, formulas)
    return Cells(
        [name for name, _, _ in cols],
        [_is_text(i, name) for i, (name, _, _) in enumerate(cols)],
        [[_cell(row, key, fmt) for _, key, fmt in cols] for row in report.rows],
    )


# Columns left out, in this order, when the table is wider than the terminal; the others
# (layer, output, params, MACs and the formulas, which fold) always stay.
DROPPED_FIRST = ("elem.", "args", "output bytes", "RF /jump", "op", "FLOPs", "saved", "backward FLOPs")
MIN_NAME = 16  # layer names are shortened in the middle down to this many cells
MIN_FOLDED = 12  # a formula column folds down to this many cells
GAP = 3  # cells between columns (rich's padding and divider)


def fit(cells: Cells, width: int | None) -> tuple[Cells, list[str]]:
    """``cells`` narrowed to ``width`` terminal cells: columns left out by the priority of
    :data:`DROPPED_FIRST` while the row does not fit, then long layer names shortened in
    the middle (``features.1…conv2``), so each layer stays on one line. Returns the cells
    and the titles left out."""
    if width is None:
        return cells, []
    keep = list(range(len(cells.titles)))
    widths = [_column_width([cells.titles[i], *(row[i] for row in cells.rows)]) for i in keep]
    folds = [t.endswith("formula") for t in cells.titles]

    def needed(columns: list[int], name_width: int) -> int:
        used = sum(min(widths[i], MIN_FOLDED) if folds[i] else widths[i] for i in columns[1:])
        return name_width + used + GAP * (len(columns) - 1)

    dropped = []
    for title in DROPPED_FIRST:
        if needed(keep, widths[0]) <= width:
            break
        if title in cells.titles and cells.titles.index(title) in keep:
            keep.remove(cells.titles.index(title))
            dropped.append(title)
    name_width = max(MIN_NAME, widths[0] - max(0, needed(keep, widths[0]) - width))
    rows = [[row[i] for i in keep] for row in cells.rows]
    if name_width < widths[0]:
        for row in rows:
            row[0] = shorten_middle(row[0], name_width)
    return Cells([cells.titles[i] for i in keep], [cells.text[i] for i in keep], rows), dropped


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its middle replaced by an ellipsis."""
    if display_width(text) <= width:
        return text
    head = width // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def print_table(report: Report, formulas: bool = False, console=None) -> None:
    """The per-layer table and the totals: rich on a terminal for a small table (or on the
    ``console`` given), plain text otherwise; fitted to the terminal's width (``COLUMNS``
    when piped)."""
    cells = table_cells(report, formulas)
    if console is None and not (sys.stdout.isatty() and len(cells.rows) <= RICH_MAX_ROWS):
        width = terminal_width() or (_tty_width() if sys.stdout.isatty() else None)
        fitted, dropped = fit(cells, width)
        sys.stdout.write(plain_table(report, formulas, width, fitted, dropped))
        return
    console = console or stdout_console()
    fitted, dropped = fit(cells, console.width - 2)  # the box's edge and rich's last padding
    _rich_table(report, fitted, console, dropped)


def _tty_width() -> int | None:
    import shutil

    return shutil.get_terminal_size((0, 0)).columns or None


def terminal_width() -> int | None:
    """``COLUMNS`` when it is set to a number (plain tables fold their text columns to it)."""
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def _rich_table(report: Report, cells: Cells, console, dropped: list[str] = ()) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title(report)), box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for name, text in zip(cells.titles, cells.text, strict=True):
        table.add_column(name, justify="left" if text else "right", overflow="fold", no_wrap=not text)
    for row in cells.rows:
        table.add_row(*(Text(c) for c in row))  # Text: never parsed as markup
    console.print(table)
    summary = Table(box=None, show_header=False, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    for name, value in totals_lines(report) + train_lines(report):
        summary.add_row(Text(name), Text(value))
    console.print(summary)
    print_provenance(report, console)
    console.print(Text(_footnote(report, dropped), style="dim"))


def _footnote(report: Report, dropped: list[str] = ()) -> str:
    text = (
        f"FLOPs ({report.convention}): {report.meta.get('convention_description')}. "
        "elem.: elementwise operations, apart from FLOPs."
    )
    if dropped:
        shown_by = "a wider terminal, COLUMNS, or --format csv shows them"
        text += f" Left out to fit the width: {', '.join(dropped)} ({shown_by})."
    return text


def plain_table(
    report: Report,
    formulas: bool = False,
    width: int | None = None,
    cells: Cells | None = None,
    dropped: list[str] = (),
) -> str:
    """The table and totals as plain aligned text: the rich table's columns and content,
    no markup, no trailing spaces; text columns fold to fit ``width`` when given."""
    cells = cells or table_cells(report, formulas)
    lines = [title(report), ""]
    lines += plain_grid(cells.titles, cells.rows, cells.text, width, rule=True, foldable=_foldable(cells), gap=3)
    lines.append("")
    summary = totals_lines(report) + train_lines(report)
    lines += plain_grid(["", ""], [list(pair) for pair in summary], [True, True], header=False)
    lines.append("")
    for line in [*provenance_lines(report), _footnote(report, dropped)]:
        lines += textwrap.wrap(line, width, break_on_hyphens=False) if width else [line]
    return "\n".join(lines) + "\n"


def _foldable(cells: Cells) -> list[bool]:
    """The columns that may fold: the arguments and the formulas."""
    return [title == "args" or title.endswith("formula") for title in cells.titles]


def plain_grid(
    titles: list[str],
    rows: list[list[str]],
    text: list[bool],
    width: int | None = None,
    *,
    header: bool = True,
    rule: bool = False,
    foldable: list[bool] | None = None,
    gap: int = 2,
) -> list[str]:
    """Rows of cells as aligned lines: text columns left, numbers right, ``gap`` spaces
    apart (rich's padding and divider), trailing spaces stripped. Over ``width``, the
    widest ``foldable`` columns narrow and their cells continue on the next lines."""
    n = len(text)
    table = [titles, *rows] if header else rows
    widths = [_column_width([row[i] for row in table]) for i in range(n)]
    natural = list(widths)
    if width is not None and foldable:
        _narrow(widths, titles if header else [""] * n, foldable, width, gap)
    sep = " " * gap
    lines = []
    if header:
        lines.append(_line(titles, widths, text, sep))
        if rule:
            lines.append(sep.join("-" * w for w in widths).rstrip())
    if widths == natural:  # nothing folds: one format string for every ASCII row
        template = sep.join(f"{{:{'<' if left else '>'}{w}}}" for w, left in zip(widths, text, strict=True))
        for row in rows:
            if all(map(str.isascii, row)):
                lines.append(template.format(*row).rstrip())
            else:
                lines.append(_line(row, widths, text, sep))
        return lines
    for row in rows:
        lines.extend(_folded_lines(row, widths, text, sep))
    return lines


def _column_width(cells: list[str]) -> int:
    if all(map(str.isascii, cells)):
        return max(map(len, cells), default=0)
    return max(map(display_width, cells), default=0)


def _narrow(widths: list[int], titles: list[str], foldable: list[bool], width: int, gap: int) -> None:
    """Narrow the widest foldable column, a cell at a time, until the row fits (or none can)."""
    floor = [max(8, display_width(t)) for t in titles]
    excess = sum(widths) + gap * (len(widths) - 1) - width
    while excess > 0:
        candidates = [i for i, ok in enumerate(foldable) if ok and widths[i] > floor[i]]
        if not candidates:
            return
        widths[max(candidates, key=lambda i: widths[i])] -= 1
        excess -= 1


def _folded_lines(row: list[str], widths: list[int], text: list[bool], sep: str) -> list[str]:
    if all(display_width(c) <= w for c, w in zip(row, widths, strict=True)):
        return [_line(row, widths, text, sep)]
    pieces = [_chunks(c, w) for c, w in zip(row, widths, strict=True)]
    depth = max(len(p) for p in pieces)
    return [_line([p[k] if k < len(p) else "" for p in pieces], widths, text, sep) for k in range(depth)]


def _chunks(cell: str, width: int) -> list[str]:
    """``cell`` in pieces of at most ``width`` terminal cells, at spaces where it can."""
    if cell.isascii():
        return textwrap.wrap(cell, width, break_on_hyphens=False) or [""]
    out, current, used = [], "", 0
    for ch in cell:
        w = display_width(ch)
        if used + w > width and current:
            out.append(current)
            current, used = "", 0
        current += ch
        used += w
    return [*out, current] if current or not out else out


def _line(cells: list[str], widths: list[int], text: list[bool], sep: str) -> str:
    parts = []
    for cell, w, left in zip(cells, widths, text, strict=True):
        pad = " " * (w - display_width(cell))
        parts.append(cell + pad if left else pad + cell)
    return sep.join(parts).rstrip()


def display_width(s: str) -> int:
    """Terminal cells taken by ``s`` (wide East Asian characters count two)."""
    if s.isascii():
        return len(s)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else (0 if unicodedata.combining(c) else 1) for c in s)


def provenance_lines(report: Report) -> list[str]:
    """Where the numbers came from when not from a spec, and what could not be counted."""
    lines = []
    if report.meta.get("source") == "counted":
        lines.append("counted: a torch model counted op by op (no spec, no receptive field)")
    if report.meta.get("partial"):
        ops = ", ".join(sorted(report.meta.get("unsupported_ops", {})))
        lines.append(f"partial: these ops could not be counted: {outside(ops)}")
    lines += [f"note: {printable(note)}" for note in report.meta.get("notes", [])]
    return lines


def print_provenance(report: Report, console) -> None:
    """:func:`provenance_lines` on a rich console, the label coloured."""
    from rich.text import Text

    styles = {"counted": "yellow", "partial": "bold red", "note": "yellow"}
    for line in provenance_lines(report):
        label, _, rest = line.partition(": ")
        console.print(Text.assemble((label + ":", styles[label]), " " + rest))


RENDERERS = {Format.json: to_json, Format.csv: to_csv, Format.markdown: to_markdown}

"""The per-layer table as a tree: every block (a name prefix such as ``layer1`` or
``layer1.0``) gets a row of its own with its layers' sums (netcost.report.model.Report.folded),
placed before its members, so the page can fold blocks by depth and sort siblings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netcost.report.html.escape import text
from netcost.report.model import Report
from netcost.units import binary, grouped, si

EM_SPACE = "\u2003"  # a layer's indent under its block


@dataclass(frozen=True)
class TreeRow:
    row: dict[str, Any]
    depth: int  # 1 for a top-level name
    parent: str | None  # the enclosing block's name
    block: bool  # a block of several layers (its values are sums)


def _shape(row: dict[str, Any]) -> str:
    shape = row.get("output_shape")
    return "x".join(map(str, shape)) if shape else "-"


def _rf(row: dict[str, Any]) -> str:
    if row.get("rf_global"):
        return "global"
    size = row.get("rf_size")
    if not size:
        return "-"
    return str(size[0]) if len(set(size)) == 1 else "x".join(map(str, size))


def _rf_key(row: dict[str, Any]) -> float:
    if row.get("rf_global"):
        return float("inf")
    return max(row.get("rf_size") or [0])


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[dict[str, Any]], str]
    key: Callable[[dict[str, Any]], Any] | None = None  # sort value; None: the text
    numeric: bool = True
    css: str = ""


def _count(key: str, fmt: Callable[[Any], str] = si) -> Column:
    return Column(key, lambda r: fmt(r.get(key)), lambda r: r.get(key))


def columns(report: Report) -> list[Column]:
    """The table's columns: the analyze table's, training ones with --train, formulas when
    the report has them (hidden until asked for)."""
    cols = [
        Column("layer", lambda r: r["name"], numeric=False),
        Column("op", lambda r: r.get("op", ""), numeric=False),
        Column("args", lambda r: r.get("args") or "", numeric=False, css="args"),
        Column("output", _shape, lambda r: _size(r.get("output_shape")), numeric=True),
        Column("params", lambda r: grouped(r.get("params")), lambda r: r.get("params")),
        Column("MACs", lambda r: si(r.get("macs")), lambda r: r.get("macs")),
        Column("FLOPs", lambda r: si(r.get("flops")), lambda r: r.get("flops")),
        Column("activations", lambda r: binary(r.get("activation_bytes")), lambda r: r.get("activation_bytes")),
        Column("RF", _rf, _rf_key),
    ]
    rows = report.rows
    if rows and "backward_flops" in rows[0]:
        cols += [
            Column("backward FLOPs", lambda r: si(r.get("backward_flops")), lambda r: r.get("backward_flops")),
            Column(
                "saved for backward",
                lambda r: binary(r.get("saved_activation_bytes")),
                lambda r: r.get("saved_activation_bytes"),
            ),
        ]
    if rows and "formula_params" in rows[0]:
        cols += [
            Column("params formula", lambda r: r.get("formula_params") or "", numeric=False, css="formula"),
            Column("FLOPs formula", lambda r: r.get("formula_flops") or "", numeric=False, css="formula"),
        ]
    return cols


def _size(shape: list[int] | None) -> int:
    n = 1
    for d in shape or []:
        n *= d
    return n


def tree(report: Report) -> list[TreeRow]:
    """Blocks and layers in pre-order: a block before its members, members in execution
    order (a block where its first layer runs)."""
    depth = max((r["name"].count(".") + 1 for r in report.rows), default=1)
    blocks: dict[str, dict[str, Any]] = {}
    for d in range(1, depth):
        for row in report.folded(d).rows:
            if row.get("op", "").endswith(" layers") and row.get("args") == "":
                blocks[row["name"]] = row
    out: list[TreeRow] = []
    shown: set[str] = set()
    for row in report.rows:
        parts = row["name"].split(".")
        mine = [p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in blocks]
        for j, p in enumerate(mine):
            if p not in shown:  # a block's row once, before its first layer
                out.append(TreeRow(blocks[p], j + 1, mine[j - 1] if j else None, True))
                shown.add(p)
        out.append(TreeRow(row, len(mine) + 1, mine[-1] if mine else None, False))
    return out


def _sort_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value == float("inf"):
        return "1e308"
    return str(value)


def layer_table(report: Report, table_id: str) -> str:
    """The table's HTML: rows carry ``data-depth``, ``data-parent`` and each cell its raw
    sort value (``data-v``); the page's script folds and sorts with them."""
    cols = columns(report)
    head = "".join(
        f'<th data-col="{i}" data-numeric="{int(c.numeric)}" class="{c.css}" tabindex="0">{text(c.title)}</th>'
        for i, c in enumerate(cols)
    )
    lines = [f'<table class="layers" id="{text(table_id)}"><thead><tr>{head}</tr></thead><tbody>']
    for t in tree(report):
        cells = []
        for i, c in enumerate(cols):
            shown = text(c.cell(t.row))
            sort = f' data-v="{text(_sort_value(c.key(t.row)))}"' if c.key is not None else ""
            css = f' class="{c.css}"' if c.css else ""
            if i == 0:
                toggle = '<button class="fold" type="button" aria-expanded="true">▾</button>' if t.block else ""
                indent = EM_SPACE * (t.depth - 1)
                shown = f'<span class="indent">{indent}</span>{toggle}{shown}'
            cells.append(f"<td{css}{sort}>{shown}</td>")
        parent = f' data-parent="{text(t.parent)}"' if t.parent is not None else ""
        kind = "block" if t.block else "layer"
        lines.append(
            f'<tr class="{kind}" data-name="{text(t.row["name"])}" data-depth="{t.depth}"{parent}>{"".join(cells)}</tr>'
        )
    lines.append("</tbody></table>")
    return "\n".join(lines)

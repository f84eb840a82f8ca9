"""The self-contained report page: totals, charts and the layer table of each model, the
comparison of several, the roofline of a profile. Its only code is its own inline script,
allowed by hash in the page's Content-Security-Policy (no other script, style or fetch)."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from importlib.resources import files
from typing import Any

from netcost import __version__
from netcost.report.html import charts
from netcost.report.html.escape import script_json, text
from netcost.report.html.table import layer_table
from netcost.report.model import Report
from netcost.units import binary, grouped, si, si_unit

MAX_POINTS = 1500  # a chart draws at most this many layers; longer models are bucketed
MAX_TABLE_ROWS = 5000  # the layer table shows at most this many layers (a browser stays quick)


@cache
def asset(name: str) -> str:
    return files("netcost.report.html").joinpath(name).read_text(encoding="utf-8")


def csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(script: str, style: str) -> str:
    """Nothing but the page's own script and style (by hash), and no network."""
    return (
        f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def page(reports: Sequence[Report], profile: dict[str, Any] | None = None) -> str:
    """The whole HTML document."""
    script, style = asset("page.js"), asset("page.css")
    names = ", ".join(r.model for r in reports) or (profile or {}).get("model", "")
    body = [
        "<header><h1>netcost report</h1>",
        f'<p class="meta">{text(names)} · netcost {text(__version__)} · convention '
        f"{text(reports[0].convention if reports else '-')}</p></header>",
    ]
    if len(reports) > 1:
        body.append(comparison_section(reports))
    body += [model_section(r, i, heading=len(reports) > 1) for i, r in enumerate(reports)]
    if profile is not None:
        body.append(profile_section(profile))
    data = script_json(page_data(reports, profile))
    body.append(f'<script type="application/json" id="netcost-data">{data}</script>')
    body.append(f"<script>{script}</script>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{text(content_security_policy(script, style))}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>netcost: {text(names)}</title><style>{style}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def page_data(reports: Sequence[Report], profile: dict[str, Any] | None) -> dict[str, Any]:
    """The reports' JSON documents, carried by the page for whoever wants its numbers."""
    from netcost.comparison import ratios

    models = [r.to_dict() for r in reports]
    if len(reports) > 1:
        for doc, r in zip(models, reports, strict=True):
            doc["ratio_to_first"] = ratios(r, reports[0])
    data: dict[str, Any] = {"schema_version": 1, "models": models}
    if profile is not None:
        data["profile"] = profile
    return data


def _exact(n: Any, fmt=si) -> str:
    """``11,689,512 (11.7 M)``: the exact integer and its rounded form."""
    if not isinstance(n, int):
        return "-"
    short = fmt(n)
    return grouped(n) if short == str(n) else f"{grouped(n)} ({short})"


def _bytes(n: Any) -> str:
    return _exact(n, binary) if isinstance(n, int) else "-"


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f'<tr><th>{text(k)}</th><td class="n">{text(v)}</td></tr>' for k, v in pairs)
    return f'<table class="totals">{cells}</table>'


def totals_table(report: Report) -> str:
    t, meta = report.totals, report.meta
    rf = t.get("receptive_field")
    pairs = [
        ("params", _exact(t.get("params"))),
        ("buffers", _exact(t.get("buffers"))),
        ("param bytes", _bytes(t.get("param_bytes"))),
        ("MACs", _exact(t.get("macs"))),
        (f"FLOPs ({report.convention} convention)", _exact(t.get("flops"))),
        ("elementwise FLOPs", _exact(t.get("elementwise_flops"))),
    ]
    if t.get("attention_macs"):
        pairs.append(("attention MACs", _exact(t.get("attention_macs"))))
    peak_at = meta.get("peak_at")
    pairs += [
        ("activations (sum of outputs)", _bytes(t.get("activation_bytes"))),
        ("peak activation memory" + (f" (at {peak_at})" if peak_at else ""), _bytes(t.get("peak_activation_bytes"))),
        ("max op inputs+output", _bytes(t.get("max_op_io_bytes"))),
        ("receptive field", "-" if not rf else "x".join(map(str, rf))),
        ("input (batch first)", "x".join(map(str, report.input)) if report.input else "-"),
        ("dtype", report.dtype),
    ]
    if report.vars:
        pairs.append(("variables", ", ".join(f"{k}={v}" for k, v in report.vars.items())))
    out = [_rows(pairs)]
    if meta.get("convention_description"):
        out.append(f'<p class="meta">{text(report.convention)}: {text(meta["convention_description"])}</p>')
    if meta.get("partial"):
        ops = ", ".join(f"{k} ({v})" for k, v in (meta.get("unsupported_ops") or {}).items())
        out.append(f'<p class="warn">partial: some ops were not counted: {text(ops)}</p>')
    out += [f'<p class="note">note: {text(n)}</p>' for n in meta.get("notes") or []]
    return "\n".join(out)


def train_table(train: dict[str, Any]) -> str:
    peak = (train.get("memory") or {}).get("peak") or {}
    where = ", ".join(str(x) for x in (peak.get("phase"), peak.get("at")) if x)
    pairs = [
        ("optimizer", f"{train.get('optimizer')}" + (" + amp" if train.get("amp") else "")),
        ("trainable params", _exact(train.get("trainable_params"))),
        ("step FLOPs (forward + backward)", _exact(train.get("step_flops"))),
        ("backward FLOPs", _exact(train.get("backward_flops"))),
        ("gradients", _bytes(train.get("grad_bytes"))),
        ("optimizer state", _bytes(train.get("optimizer_state_bytes"))),
        ("saved activations", _bytes(train.get("saved_activation_bytes"))),
        ("peak of the step" + (f" ({where})" if where else ""), _bytes(train.get("peak_train_bytes"))),
    ]
    return _rows(pairs)


def train_chart(train: dict[str, Any]) -> str:
    memory = train.get("memory") or {}

    def flat(values: dict[str, Any], prefix: str = "") -> dict[str, int]:
        out: dict[str, int] = {}
        for k, v in values.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k.replace('_', ' ')}: "))
            elif isinstance(v, int) and v:
                out[f"{prefix}{k.replace('_', ' ')}"] = v
        return out

    held = {k: v for k, v in memory.items() if k != "peak"}
    peak = memory.get("peak") or {}
    bars = [("held through the step", flat(held))]
    if peak.get("breakdown"):
        where = " ".join(str(x) for x in (peak.get("phase"), peak.get("at")) if x)
        bars.append((f"at the peak ({where})" if where else "at the peak", flat(peak["breakdown"])))
    return charts.stacked_bars("training memory", bars, binary, chart="train")


def _bucketed(labels: list[str], values: list[float | None], combine) -> tuple[list[str], list[float | None], int]:
    """At most MAX_POINTS entries: consecutive layers combined (``combine``: sum or max of
    those with a value; None where none has one)."""
    n = len(values)
    k = math.ceil(n / MAX_POINTS) if n > MAX_POINTS else 1
    if k == 1:
        return labels, values, 1
    out_l, out_v = [], []
    for i in range(0, n, k):
        chunk = [v for v in values[i : i + k] if v is not None]
        out_l.append(f"{labels[i]} … {labels[min(i + k, n) - 1]}")
        out_v.append(combine(chunk) if chunk else None)
    return out_l, out_v, k


def _series(title, labels, values, fmt, color, *, combine=sum, kind="bars", peak=None, peak_label="", chart=""):
    layers = len(values)
    labels, values, k = _bucketed(labels, values, combine)
    caption = f"; {k} layers a {'bar' if kind == 'bars' else 'step'}" if k > 1 else ""
    index = None if peak is None else peak // k
    series = charts.Series(title, labels, values, fmt, color, kind, index, peak_label, caption, fmt is binary, layers)
    return charts.series_chart(series, chart=chart)


def model_charts(report: Report) -> list[str]:
    rows = report.rows
    if not rows:
        return ['<p class="note">no layers to chart</p>']
    names = [r["name"] for r in rows]
    colors = charts.COLORS
    out = [
        _series("MACs per layer", names, [r.get("macs") for r in rows], si, colors["macs"], chart="macs"),
        _series("params per layer", names, [r.get("params") for r in rows], si, colors["params"], chart="params"),
    ]
    live = report.meta.get("live_bytes")
    if live and len(live) == len(rows):
        peak_at = report.meta.get("peak_at")
        index = names.index(peak_at) if peak_at in names else max(range(len(live)), key=live.__getitem__)
        label = f"peak {binary(live[index])} at {names[index]}"
        out.append(
            _series(
                "activation memory alive over the execution order (liveness)",
                names,
                list(live),
                binary,
                charts.COLORS["memory"],
                combine=max,
                kind="line",
                peak=index,
                peak_label=label,
                chart="memory",
            )
        )
    else:
        out.append('<p class="note">no liveness timeline: a model counted by torch has none (a spec does)</p>')
    fields = [None if r.get("rf_global") else max(r["rf_size"]) if r.get("rf_size") else None for r in rows]
    if any(fields):
        out.append(
            _series(
                "receptive field by layer (pixels, the larger axis; global ones left out)",
                names,
                fields,
                lambda v: f"{v:g}",
                charts.COLORS["rf"],
                combine=max,
                kind="line",
                chart="rf",
            )
        )
    if report.train is not None:
        out.append(train_chart(report.train))
    return out


def model_section(report: Report, index: int, heading: bool = True) -> str:
    table_id = f"layers-{index}"
    table = report if len(report.rows) <= MAX_TABLE_ROWS else replace(report, rows=report.rows[:MAX_TABLE_ROWS])
    depth = max((r["name"].count(".") + 1 for r in report.rows), default=1)
    fold = 0 if len(report.rows) <= 200 else min(2, depth)
    buttons = "".join(f'<button type="button" data-depth="{d}">{d}</button>' for d in range(1, depth))
    formulas = (
        '<label><input type="checkbox" class="formulas"> formulas</label>'
        if report.rows and "formula_params" in report.rows[0]
        else ""
    )
    parts = [
        f'<section class="model" id="model-{index}">',
        f"<h2>{text(report.model)}</h2>" if heading else f"<h2>totals: {text(report.model)}</h2>",
        totals_table(report),
    ]
    if report.train is not None:
        parts += ["<h3>one training step</h3>", train_table(report.train)]
    parts += ["<h3>charts</h3>", *model_charts(report), f"<h3>layers ({len(report.rows)})</h3>"]
    parts.append(
        f'<div class="controls" data-for="{table_id}">fold blocks to depth {buttons}'
        '<button type="button" data-depth="0">all</button> · '
        '<button type="button" data-reset>execution order</button> · click a column to sort '
        f"{formulas}</div>"
    )
    if table is not report:
        parts.append(
            f'<p class="warn">the table shows the first {MAX_TABLE_ROWS:,} of {len(report.rows):,} layers (a block '
            "cut short sums the layers shown); the page's JSON data and `netcost analyze -f csv` hold every one</p>"
        )
    parts.append(layer_table(table, table_id).replace("<table ", f'<table data-fold="{fold}" ', 1))
    parts.append("</section>")
    return "\n".join(parts)


def comparison_section(reports: Sequence[Report]) -> str:
    from netcost.comparison import comparison
    from netcost.report.compare_render import table_rows

    doc = comparison(reports)
    head = "".join(f"<th>{text(r.model)}</th>" for r in reports)
    lines = [f"<h2>comparison (ratios to {text(reports[0].model)})</h2>"]
    lines.append(f'<table class="compare"><thead><tr><th>metric</th>{head}</tr></thead><tbody>')
    for row in table_rows(doc):
        cells = "".join(f'<td class="n">{text(c)}</td>' for c in row[1:])
        lines.append(f"<tr><th>{text(row[0])}</th>{cells}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def profile_section(doc: dict[str, Any]) -> str:
    from netcost.report.profile_render import _run_cells

    where = f"{text(doc.get('model'))} on {text(doc.get('device'))} ({text(doc.get('threads'))} threads)"
    out = [f"<h2>profile: {where}</h2>"]
    head = "".join(f"<th>{h}</th>" for h in ("batch", "dtype", "median", "IQR", "images/s", "achieved FLOP/s"))
    rows = "".join(
        "<tr>" + "".join(f'<td class="n">{text(c)}</td>' for c in _run_cells(r)) + "</tr>" for r in doc["runs"]
    )
    out.append(f'<table class="compare"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>')
    rl = doc.get("roofline")
    layers = doc.get("layers") or []
    points = [
        charts.Point(r["arithmetic_intensity"], r["achieved_flop_per_s"], str(r.get("name")), str(r.get("kind")))
        for r in layers
        if _positive(r.get("arithmetic_intensity")) and _positive(r.get("achieved_flop_per_s"))
    ]
    if rl and points and _positive(rl.get("peak_flop_per_s")) and _positive(rl.get("bandwidth_bytes_per_s")):
        title = f"roofline: {len(points)} layers, measured on {rl.get('device', doc.get('device'))}"
        out.append(
            charts.roofline_chart(
                title, points, rl["peak_flop_per_s"], rl["bandwidth_bytes_per_s"], lambda v: si_unit(v, "FLOP/s")
            )
        )
    else:
        out.append('<p class="note">no roofline: profile with --per-layer to time each layer</p>')
    out += [f'<p class="note">note: {text(n)}</p>' for n in doc.get("notes") or []]
    return "\n".join(out)


def _positive(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0

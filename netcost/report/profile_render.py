"""Rendering of profile documents (ProfileReport.to_dict()) and the roofline plot."""

from __future__ import annotations

import sys
from typing import Any

from netcost.report.render import Format, json_document, markdown_cell, outside
from netcost.report.verify_render import _md_table, _write_csv, console
from netcost.units import si_unit


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _rate(x: float | None) -> str:
    return si_unit(x, "FLOP/s")


PROFILE_FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
CALIBRATION_FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
RUN_COLUMNS = ("batch", "dtype", "median", "IQR", "images/s", "achieved (2 x MACs / time)")
LAYER_COLUMNS = ("layer", "kind", "time", "time %", "FLOPs %", "achieved", "FLOP/byte", "roofline")
RUN_KEYS = ("batch", "dtype", "amp", "channels_last", "median_s", "iqr_s", "timed_runs", "timed_blocks", "throughput")
RUN_KEYS += ("achieved_flop_per_s", "flops")
LAYER_KEYS = ("name", "op", "kind", "time_s", "time_share", "flops", "flops_share", "elementwise_flops")
LAYER_KEYS += ("bytes_moved", "arithmetic_intensity", "achieved_flop_per_s", "predicted_s")
LAYER_KEYS += ("op_class", "class_predicted_s")
PREDICTION_COLUMNS = ("op class", "predicted", "measured/predicted")


def _run_cells(r: dict[str, Any]) -> list[str]:
    dtype = r["dtype"] + (" (amp)" if r["amp"] else "") + (" CL" if r["channels_last"] else "")
    return [
        str(r["batch"]),
        dtype,
        _ms(r["median_s"]),
        _ms(r["iqr_s"]),
        f"{r['throughput']:.3g}",
        _rate(r["achieved_flop_per_s"]),
    ]


def _layer_cells(r: dict[str, Any]) -> list[str]:
    share = "-" if r["time_share"] is None else f"{100 * r['time_share']:.1f}"
    intensity = "-" if r["arithmetic_intensity"] is None else f"{r['arithmetic_intensity']:.3g}"
    return [
        outside(r["name"]),
        outside(r["kind"]),
        _ms(r["time_s"]),
        share,
        f"{100 * r['flops_share']:.1f}",
        _rate(r["achieved_flop_per_s"]),
        intensity,
        _ms(r.get("predicted_s")),
    ]


def _prediction_cells(r: dict[str, Any]) -> list[str]:
    p, t = r.get("class_predicted_s"), r.get("time_s")
    return [r.get("op_class") or "-", _ms(p), f"{t / p:.2f}" if p and t else "-"]


def layer_columns(doc: dict[str, Any]) -> tuple[str, ...]:
    return LAYER_COLUMNS + (PREDICTION_COLUMNS if doc.get("prediction") else ())


def layer_cells(doc: dict[str, Any], r: dict[str, Any]) -> list[str]:
    return _layer_cells(r) + (_prediction_cells(r) if doc.get("prediction") else [])


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """The per-layer summary and the roofline's fit, as plain text (with --per-layer)."""
    if not doc.get("layers"):
        return []
    s = doc["summary"]
    ratio = "-" if s["layer_sum_over_whole"] is None else f"{s['layer_sum_over_whole']:.2f}"
    lines = [
        f"per-layer times sum to {_ms(s['layer_time_sum_s'])}; the whole model takes "
        f"{_ms(s['whole_model_s'])} (ratio {ratio}; hooks and Python between layers make up the rest)"
    ]
    lines += [f"  {kind}: {_rate(rate)}" for kind, rate in sorted(s["achieved_flop_per_s_by_kind"].items())]
    rl = doc.get("roofline")
    if rl:
        rho = "-" if rl["rank_correlation"] is None else f"{rl['rank_correlation']:.2f}"
        med = rl["median_measured_over_predicted"]
        lines.append(
            f"roofline ({_rate(rl['peak_flop_per_s'])} peak, {si_unit(rl['bandwidth_bytes_per_s'], 'B/s')}): "
            f"rank correlation with measured layer times {rho}, median measured/predicted "
            f"{'-' if med is None else f'{med:.2f}'} over {rl['layers_compared']} layers"
        )
    p = doc.get("prediction")
    if p:
        rho = "-" if p["rank_correlation"] is None else f"{p['rank_correlation']:.2f}"
        med = p["median_measured_over_predicted"]
        whole = p["whole_model_measured_over_predicted"]
        lines.append(
            f"per-op-class prediction: rank correlation {rho}, median measured/predicted "
            f"{'-' if med is None else f'{med:.2f}'} over {p['layers_compared']} layers; whole model predicted "
            f"{_ms(p['whole_model_predicted_s'])}, measured {_ms(p['whole_model_measured_s'])} "
            f"(measured/predicted {'-' if whole is None else f'{whole:.2f}'})"
        )
    return lines


def _title(doc: dict[str, Any]) -> str:
    return f"{outside(doc['model'])} on {outside(doc['device'])} ({doc['threads']} threads)"


def render_profile(doc: dict[str, Any], format: Format) -> None:
    """A profile document in any of PROFILE_FORMATS. CSV: one row per setting (batch x
    dtype) or, with --per-layer, one row per layer (with the batch and dtype it was timed
    at); raw numbers, seconds and FLOP/s."""
    sys.stdout.write(_PROFILE[format](doc))


def layer_title(doc: dict[str, Any]) -> str:
    """Which setting the per-layer table timed (the first batch and dtype asked for)."""
    summary = doc.get("summary") or {}
    return f"per layer at batch {summary.get('batch', '?')} {summary.get('dtype', '?')}"


def _profile_table(doc: dict[str, Any]) -> str:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    runs = Table(title=escape(_title(doc)), box=None, header_style="bold", title_justify="left")
    for col in RUN_COLUMNS:
        runs.add_column(col, justify="left" if col == "dtype" else "right")
    for r in doc["runs"]:
        runs.add_row(*(escape(c) for c in _run_cells(r)))
    out.print(runs)
    if doc.get("layers"):
        layers = Table(title=escape(layer_title(doc)), box=None, header_style="bold", title_justify="left")
        for col in layer_columns(doc):
            layers.add_column(col, justify="left" if col in ("layer", "kind", "op class") else "right")
        for r in doc["layers"]:
            layers.add_row(*(escape(c) for c in layer_cells(doc, r)))
        out.print(layers)
    for line in summary_lines(doc):
        out.print(escape(line))
    for note in doc.get("notes", []):
        out.print(f"[yellow]note:[/yellow] {escape(outside(note))}")
    return ""


def _profile_csv(doc: dict[str, Any]) -> str:
    if doc.get("layers"):
        first = doc["runs"][0] if doc["runs"] else {}
        header = ["batch", "dtype", *LAYER_KEYS]
        rows = [[first.get("batch"), first.get("dtype"), *(r.get(k) for k in LAYER_KEYS)] for r in doc["layers"]]
        return _write_csv(header, rows)
    return _write_csv(list(RUN_KEYS), [[r.get(k) for k in RUN_KEYS] for r in doc["runs"]])


def _profile_markdown(doc: dict[str, Any]) -> str:
    lines = [f"### {markdown_cell(_title(doc))}", ""]
    lines += _md_table(list(RUN_COLUMNS), [_run_cells(r) for r in doc["runs"]], right={0, 2, 3, 4, 5})
    if doc.get("layers"):
        lines += ["", f"{layer_title(doc)}:", ""]
        rows = [layer_cells(doc, r) for r in doc["layers"]]
        columns = layer_columns(doc)
        lines += _md_table(list(columns), rows, right=set(range(2, len(columns))) - {len(LAYER_COLUMNS)})
    summary = summary_lines(doc)
    if summary:
        lines += ["", *(f"- {markdown_cell(line.strip())}" for line in summary)]
    notes = doc.get("notes", [])
    if notes:
        lines += ["", *(f"- note: {markdown_cell(note)}" for note in notes)]
    return "\n".join(lines) + "\n"


_PROFILE = {
    Format.table: _profile_table,
    Format.json: json_document,
    Format.csv: _profile_csv,
    Format.markdown: _profile_markdown,
}


def render_calibration(doc: dict[str, Any], format: Format) -> None:
    """``netcost calibrate``'s result (``Roofline`` as a dict, plus ``cached``) in any of
    CALIBRATION_FORMATS: one line of text, JSON, a one-row CSV, a Markdown table."""
    if format is Format.json:
        sys.stdout.write(json_document(doc))
        return
    keys = list(doc)
    if format is Format.csv:
        sys.stdout.write(_write_csv(keys, [[doc[k] for k in keys]]))
        return
    if format is Format.markdown:
        sys.stdout.write("\n".join(_md_table(keys, [[str(doc[k]) for k in keys]])) + "\n")
        return
    sys.stdout.write(
        f"{outside(doc['device'])} ({doc['threads']} threads, {doc['dtype']}): "
        f"peak {si_unit(doc['peak_flop_per_s'], 'FLOP/s')} "
        f"({doc['matmul_n']}x{doc['matmul_n']} matmul), bandwidth {si_unit(doc['bandwidth_bytes_per_s'], 'B/s')} "
        f"(copy of {doc['copy_bytes'] // 2**20} MiB)"
        + (" [cached; --recalibrate to measure again]" if doc.get("cached") else "")
        + "\n"
    )


def plot_title(doc: dict[str, Any]) -> str:
    """Model, setting, machine and threads: what the points were measured on."""
    rl = doc["roofline"]
    return f"{outside(doc['model'])}, {layer_title(doc)}, on {outside(rl['device'])} ({doc['threads']} threads)"


def roofline_labels(rl: dict[str, Any], lo: float, hi: float) -> list[tuple[str, float, float, str]]:
    """(text, x, y, alignment) of the peak, the bandwidth slope and the ridge point."""
    peak, bandwidth = rl["peak_flop_per_s"], rl["bandwidth_bytes_per_s"]
    ridge = peak / bandwidth
    return [
        (f"peak {si_unit(peak, 'FLOP/s')}", hi, peak, "right"),
        (f"bandwidth {si_unit(bandwidth, 'B/s')}", lo, lo * bandwidth, "left"),
        (f"ridge {ridge:.3g} FLOP/byte", ridge, peak, "center"),
    ]


def plot_roofline(doc: dict[str, Any], path: str) -> None:
    """A roofline plot (PNG/SVG by the file's extension): each layer as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rl = doc["roofline"]
    points = [r for r in doc["layers"] if r["achieved_flop_per_s"] and r["arithmetic_intensity"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    kinds = sorted({r["kind"] for r in points})
    for kind in kinds:
        xs = [r["arithmetic_intensity"] for r in points if r["kind"] == kind]
        ys = [r["achieved_flop_per_s"] for r in points if r["kind"] == kind]
        ax.scatter(xs, ys, s=14, label=kind)
    lo = min(r["arithmetic_intensity"] for r in points) / 2
    hi = max(r["arithmetic_intensity"] for r in points) * 2
    ridge = rl["peak_flop_per_s"] / rl["bandwidth_bytes_per_s"]
    xs = [lo, ridge, hi]
    ax.plot(xs, [min(x * rl["bandwidth_bytes_per_s"], rl["peak_flop_per_s"]) for x in xs], "k-", lw=1, label="roofline")
    for text, x, y, align in roofline_labels(rl, lo, hi):
        ax.annotate(text, (x, y), fontsize=7, ha=align, va="bottom", xytext=(0, 3), textcoords="offset points")
    ax.axvline(ridge, color="0.6", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(plot_title(doc), fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

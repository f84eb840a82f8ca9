"""Rendering of profile documents (ProfileReport.to_dict()) and the roofline plot."""

from __future__ import annotations

import json
import sys
from typing import Any

from netcost.report.render import Format, stdout_console
from netcost.units import si


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{si(x)}FLOP/s"


def render_profile(doc: dict[str, Any], format: Format) -> None:
    if format is Format.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    from rich.table import Table

    console = stdout_console()
    runs = Table(
        title=f"{doc['model']} on {doc['device']} ({doc['threads']} threads)",
        box=None,
        header_style="bold",
        title_justify="left",
    )
    for col in ("batch", "dtype", "median", "IQR", "images/s", "achieved (2 x MACs / time)"):
        runs.add_column(col, justify="left" if col == "dtype" else "right")
    for r in doc["runs"]:
        dtype = r["dtype"] + (" (amp)" if r["amp"] else "") + (" CL" if r["channels_last"] else "")
        runs.add_row(
            str(r["batch"]),
            dtype,
            _ms(r["median_s"]),
            _ms(r["iqr_s"]),
            f"{r['throughput']:.3g}",
            _rate(r["achieved_flop_per_s"]),
        )
    console.print(runs)
    if doc.get("layers"):
        layers = Table(box=None, header_style="bold")
        cols = ("layer", "kind", "time", "time %", "FLOPs %", "achieved", "FLOP/byte", "roofline")
        for col in cols:
            layers.add_column(col, justify="left" if col in ("layer", "kind") else "right")
        for r in doc["layers"]:
            share = "-" if r["time_share"] is None else f"{100 * r['time_share']:.1f}"
            intensity = "-" if r["arithmetic_intensity"] is None else f"{r['arithmetic_intensity']:.3g}"
            layers.add_row(
                r["name"],
                r["kind"],
                _ms(r["time_s"]),
                share,
                f"{100 * r['flops_share']:.1f}",
                _rate(r["achieved_flop_per_s"]),
                intensity,
                _ms(r.get("predicted_s")),
            )
        console.print(layers)
        s = doc["summary"]
        console.print(
            f"per-layer times sum to {_ms(s['layer_time_sum_s'])}; the whole model takes "
            f"{_ms(s['whole_model_s'])} (ratio {s['layer_sum_over_whole']:.2f}; hooks and Python "
            "between layers make up the rest)"
        )
        for kind, rate in sorted(s["achieved_flop_per_s_by_kind"].items()):
            console.print(f"  {kind}: {_rate(rate)}")
        rl = doc.get("roofline")
        if rl:
            rho = "-" if rl["rank_correlation"] is None else f"{rl['rank_correlation']:.2f}"
            console.print(
                f"roofline ({_rate(rl['peak_flop_per_s'])} peak, {si(rl['bandwidth_bytes_per_s'])}B/s): "
                f"rank correlation with measured layer times {rho}, median measured/predicted "
                f"{rl['median_measured_over_predicted']:.2f} over {rl['layers_compared']} layers"
            )
    for note in doc.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {note}")


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
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(f"{doc['model']} on {doc['device']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""The page's charts as inline SVG: bars or a line over the execution order, horizontal
stacked bars, and a log-log roofline. Plain markup, no script: a chart reads the same in
a browser, a notebook and a saved file. Every label passes through :func:`escape.text`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcost.report.html.escape import text

WIDTH, HEIGHT = 880, 240
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 30, 40
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#e15759", "#76b7b2", "#edc948", "#9c755f", "#ff9da7")
PALETTE += ("#86bcb6", "#d37295", "#bab0ac", "#8cd17d", "#499894")
# one color per chart kind: the browser test finds each chart by its color in a screenshot
COLORS = {"macs": "#4e79a7", "params": "#f28e2b", "memory": "#59a14f", "rf": "#b07aa1", "peak": "#e15759"}


@dataclass(frozen=True)
class Series:
    """One value per layer, in execution order, with the layer names as hover text."""

    title: str
    labels: Sequence[str]
    values: Sequence[float | None]
    format: Callable[[float], str]
    color: str
    kind: str = "bars"  # bars, line (a step line over the execution order)
    peak: int | None = None  # index to mark with its value
    peak_label: str = ""
    caption: str = ""
    binary: bool = False  # ticks at round numbers of KiB/MiB/GiB (byte values)
    layers: int = 0  # the layers the values stand for (0: one each)


def _svg(body: list[str], title: str, height: int = HEIGHT, chart: str = "") -> str:
    return (
        f'<svg class="chart" data-chart="{text(chart)}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="{text(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text class="title" x="{LEFT}" y="18">{text(title)}</text>' + "".join(body) + "</svg>"
    )


def _ticks(top: float, binary: bool = False) -> list[float]:
    """0, a round step and its multiples up to ``top`` (round in KiB, MiB, ... for bytes)."""
    if top <= 0:
        return [0.0]
    unit = 1.0
    if binary:
        while unit * 1024 <= top:
            unit *= 1024
    scaled = top / unit
    step = 10 ** math.floor(math.log10(scaled))
    for mult in (1, 2, 5, 10):
        if scaled / (step * mult) <= 5:
            step *= mult
            break
    return [i * step * unit for i in range(int(scaled / step) + 1)]


def series_chart(s: Series, chart: str = "") -> str:
    """Bars (or a step line) of one value per layer; the x axis is the execution order."""
    values = [v or 0 for v in s.values]
    n = len(values)
    drawn = [v is not None for v in s.values]  # a line breaks where a layer has no value
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    top = max(values, default=0) or 1
    body = [f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}"/>']
    for tick in _ticks(top, s.binary):
        y = base - tick / top * plot_h
        body.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}"/>')
        label = text(s.format(tick))
        body.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    step = plot_w / max(n, 1)
    if s.kind == "bars":
        for i, (label, v) in enumerate(zip(s.labels, values, strict=True)):
            h = v / top * plot_h
            body.append(
                f'<rect x="{LEFT + i * step:.2f}" y="{base - h:.2f}" width="{max(step * 0.8, 0.6):.2f}" '
                f'height="{h:.2f}" fill="{s.color}"><title>{text(label)}: {text(s.format(v))}</title></rect>'
            )
    else:
        lines, points = [], []
        for i, v in enumerate(values):
            if not drawn[i]:
                lines.append(points)
                points = []
                continue
            y = base - v / top * plot_h
            points.append(f"{LEFT + i * step:.2f},{y:.2f} {LEFT + (i + 1) * step:.2f},{y:.2f}")
        for line in [*lines, points]:
            if line:
                body.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2" points="{" ".join(line)}"/>')
        hover = max(step, 1.0)
        for i, (label, v) in enumerate(zip(s.labels, values, strict=True)):  # hover targets
            if not drawn[i]:
                continue
            body.append(
                f'<rect class="hover" x="{LEFT + i * step:.2f}" y="{TOP}" width="{hover:.2f}" height="{plot_h}">'
                f"<title>{text(label)}: {text(s.format(v))}</title></rect>"
            )
    if s.peak is not None and 0 <= s.peak < n:
        x, y = LEFT + (s.peak + 0.5) * step, base - values[s.peak] / top * plot_h
        anchor = "end" if x > LEFT + plot_w * 0.7 else "start"
        dx = -8 if anchor == "end" else 8
        body.append(f'<circle class="peak" cx="{x:.2f}" cy="{y:.2f}" r="5" fill="{COLORS["peak"]}"/>')
        body.append(
            f'<text class="peak-label" x="{x + dx:.2f}" y="{max(y + 4, TOP + 10):.2f}" text-anchor="{anchor}">'
            f"{text(s.peak_label)}</text>"
        )
    body.append(
        f'<text class="tick" x="{LEFT + plot_w / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"execution order ({s.layers or n} layers){text(s.caption)}</text>"
    )
    return _svg(body, s.title, chart=chart)


def stacked_bars(
    title: str, bars: Sequence[tuple[str, dict[str, int]]], format: Callable[[float], str], chart: str = ""
) -> str:
    """Horizontal bars split by part (``[(bar label, {part: value})]``), one color per part,
    on one scale, with a legend."""
    parts = list(dict.fromkeys(p for _, values in bars for p in values))
    color = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(parts)}
    row_h = 50  # a label line, then the bar
    plot_w = WIDTH - LEFT - RIGHT - 90
    height = TOP + row_h * len(bars) + 24 + 18 * math.ceil(len(parts) / 4)
    top = max((sum(v.values()) for _, v in bars), default=0) or 1
    body = []
    for row, (label, values) in enumerate(bars):
        y = TOP + row * row_h
        total = sum(values.values())
        body.append(f'<text class="tick" x="{LEFT}" y="{y + 12}">{text(label)}</text>')
        x = float(LEFT)
        for part, v in values.items():
            w = v / top * plot_w
            body.append(
                f'<rect x="{x:.2f}" y="{y + 18}" width="{w:.2f}" height="24" fill="{color[part]}">'
                f"<title>{text(part)}: {text(format(v))}</title></rect>"
            )
            x += w
        body.append(f'<text class="tick" x="{x + 6:.2f}" y="{y + 34}">{text(format(total))}</text>')
    legend_y = TOP + row_h * len(bars) + 14
    for i, part in enumerate(parts):
        lx, ly = LEFT + (i % 4) * 190, legend_y + (i // 4) * 18
        body.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{color[part]}"/>')
        body.append(f'<text class="tick" x="{lx + 14}" y="{ly}">{text(part)}</text>')
    return _svg(body, title, height, chart=chart)


@dataclass(frozen=True)
class Point:
    x: float  # arithmetic intensity, FLOPs per byte
    y: float  # achieved FLOP/s
    label: str
    group: str


def roofline_chart(
    title: str, points: Sequence[Point], peak: float, bandwidth: float, format: Callable[[float], str]
) -> str:
    """Layers as points on log-log axes under the roof min(peak, intensity x bandwidth)."""
    height = HEIGHT + 60
    plot_w, plot_h = WIDTH - LEFT - RIGHT - 150, height - TOP - BOTTOM
    ridge = peak / bandwidth
    xs = [p.x for p in points] + [ridge]
    ys = [p.y for p in points] + [peak]
    x_lo, x_hi = math.log10(min(xs) / 2), math.log10(max(xs) * 2)
    y_lo, y_hi = math.log10(min(min(ys) / 2, min(xs) / 2 * bandwidth)), math.log10(peak * 2)

    def px(x: float) -> float:
        return LEFT + (math.log10(x) - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (math.log10(y) - y_lo) / (y_hi - y_lo) * plot_h

    body = [
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for e in range(math.ceil(x_lo), math.floor(x_hi) + 1):
        body.append(f'<text class="tick" x="{px(10**e):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">1e{e}</text>')
    for e in range(math.ceil(y_lo), math.floor(y_hi) + 1):
        y = py(10**e)
        body.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}"/>')
        body.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{text(format(10**e))}</text>')
    lo, hi = 10**x_lo, 10**x_hi
    roof = [(lo, lo * bandwidth), (ridge, peak), (hi, peak)]
    body.append(
        '<polyline class="roof" fill="none" stroke="#333" stroke-width="1.5" points="'
        + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in roof)
        + '"/>'
    )
    body.append(
        f'<text class="tick" x="{px(ridge):.1f}" y="{py(peak) - 6:.1f}" text-anchor="middle">'
        f"ridge {ridge:.3g} FLOP/byte</text>"
    )
    groups = list(dict.fromkeys(p.group for p in points))
    color = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    for p in points:
        body.append(
            f'<circle cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="4" fill="{color[p.group]}">'
            f"<title>{text(p.label)} ({text(p.group)}): {p.x:.3g} FLOP/byte, {text(format(p.y))}</title></circle>"
        )
    for i, g in enumerate(groups):
        ly = TOP + 10 + i * 18
        body.append(f'<circle cx="{LEFT + plot_w + 20}" cy="{ly - 4}" r="5" fill="{color[g]}"/>')
        body.append(f'<text class="tick" x="{LEFT + plot_w + 30}" y="{ly}">{text(g)}</text>')
    body.append(
        f'<text class="tick" x="{LEFT + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
        "arithmetic intensity (FLOPs per byte moved), log scale</text>"
    )
    return _svg(body, title, height, chart="roofline")

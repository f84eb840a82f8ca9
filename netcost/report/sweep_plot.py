"""`netcost sweep --plot FILE` (matplotlib, the `plot` extra).

A grid: each total against the varied variable (the first numeric one), log axes where the
values span more than a decade. Samples: the distribution of params, MACs and activations,
a histogram and the empirical CDF of each, as the RegNet paper compares design spaces.
"""

from __future__ import annotations

from typing import Any

from netcost.errors import NetcostError

GRID_TOTALS = ("params", "macs", "activation_bytes", "peak_activation_bytes")
SAMPLE_TOTALS = ("params", "macs", "activation_bytes")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NetcostError("--plot needs matplotlib: pip install 'netcost[plot]'") from None
    return plt


def _spans_decades(values: list[float]) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and bool(positive) and max(positive) / min(positive) > 10


def plot_sweep(doc: dict[str, Any], path: str) -> None:
    """Write the figure of a SweepResult.to_dict() to ``path`` (PNG, SVG, PDF: by suffix)."""
    rows = doc["rows"]
    if not rows:
        raise NetcostError("--plot: no rows to plot (every model was filtered out)")
    plt = _pyplot()
    fig = _grid_figure(plt, doc) if doc["kind"] == "grid" else _sample_figure(plt, doc)
    from matplotlib.ticker import NullFormatter

    for ax in fig.axes:  # log axes: decade labels only (minor ones overlap)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    try:
        fig.savefig(path, bbox_inches="tight")
    except (OSError, ValueError) as exc:
        raise NetcostError(f"--plot {path}: {exc}") from None
    finally:
        plt.close(fig)


def _grid_figure(plt, doc):
    rows = doc["rows"]
    numeric = [
        v for v in doc["varied"] if all(isinstance(r[v], (int, float)) and not isinstance(r[v], bool) for r in rows)
    ]
    x_name = numeric[0] if numeric else doc["varied"][0]
    fig, axes = plt.subplots(1, len(GRID_TOTALS), figsize=(4 * len(GRID_TOTALS), 3.5))
    xs = [r[x_name] if numeric else str(r[x_name]) for r in rows]
    for ax, key in zip(axes, GRID_TOTALS, strict=True):
        ys = [r[key] for r in rows]
        ax.plot(xs, ys, "o-")
        ax.set_xlabel(x_name)
        ax.set_title(key)
        if numeric and _spans_decades([float(x) for x in xs]):
            ax.set_xscale("log")
        if _spans_decades([float(y) for y in ys]):
            ax.set_yscale("log")
    fig.suptitle(f"{doc['model']}: grid over {', '.join(doc['varied'])}")
    return fig


def _sample_figure(plt, doc):
    rows = doc["rows"]
    fig, axes = plt.subplots(2, len(SAMPLE_TOTALS), figsize=(4 * len(SAMPLE_TOTALS), 6.5))
    for col, key in enumerate(SAMPLE_TOTALS):
        values = sorted(r[key] for r in rows)
        log = _spans_decades([float(v) for v in values])
        hist, cdf = axes[0][col], axes[1][col]
        if log:
            import math

            low, high = math.log10(values[0]), math.log10(values[-1])
            bins = [10 ** (low + (high - low) * i / 30) for i in range(31)] if high > low else 30
            hist.hist(values, bins=bins)
            hist.set_xscale("log")
            cdf.set_xscale("log")
        else:
            hist.hist(values, bins=30)
        n = len(values)
        cdf.step(values, [(i + 1) / n for i in range(n)], where="post")
        hist.set_title(key)
        cdf.set_xlabel(key)
        cdf.set_ylabel("fraction of models (ECDF)")
    fig.suptitle(f"{doc['model']}: {len(rows)} models of space {doc['space']!r} (seed {doc['seed']})")
    return fig

"""Passes over a Graph: per-layer costs, receptive fields, memory. No torch here."""

from netcost.analysis.counts import DTYPE_BYTES, analyze_graph, cost_totals

__all__ = ["DTYPE_BYTES", "analyze_graph", "cost_totals"]

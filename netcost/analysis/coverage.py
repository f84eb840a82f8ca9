"""Which layers of a graph have no known cost: ``opaque`` nodes marked ``known: false`` (an
op captured from a torch or ONNX model that nothing counts). A report of such a graph is
*partial*, like a counted report with unsupported ops, and names them; ``check`` fails it
(netcost.budget) unless partial totals are allowed."""

from __future__ import annotations

from collections import Counter

from netcost.graph import Graph


def unknown_ops(graph: Graph) -> dict[str, int]:
    """``source_op -> how many layers`` of the ops whose cost is unknown (empty when none)."""
    found = Counter(
        node.op.source_op for node in graph.nodes if node.op.kind == "opaque" and not getattr(node.op, "known", True)
    )
    return dict(sorted(found.items()))


def coverage_meta(graph: Graph) -> dict[str, object]:
    """The report's ``partial`` and ``unsupported_ops`` entries, or nothing for a complete graph."""
    unknown = unknown_ops(graph)
    return {"partial": True, "unsupported_ops": unknown} if unknown else {}

"""Receptive field of every tensor, over the graph (branches merge by the largest)."""

from __future__ import annotations

from netcost.core.rf import RF
from netcost.graph import INPUT, Graph


def receptive_fields(graph: Graph) -> dict[str, RF]:
    fields = {INPUT: RF.identity()}
    for node in graph.nodes:
        fields[node.name] = node.op.rf(tuple(fields[i] for i in node.inputs), node.in_shapes, node.shape)
    return fields


def last_local_field(graph: Graph, fields: dict[str, RF]) -> RF | None:
    """The field of the last tensor that is still a spatial, non-global map."""
    for node in reversed(graph.nodes):
        rf = fields[node.name]
        if not rf.is_global and rf.spatial and node.shape.is_map:
            return rf
    return None

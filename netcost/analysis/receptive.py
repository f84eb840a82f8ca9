"""Receptive field of every tensor, over the graph (branches merge by the largest)."""

from __future__ import annotations

from netcost.core.rf import RF
from netcost.graph import INPUT, Graph


def receptive_fields(graph: Graph) -> dict[str, RF]:
    fields = {INPUT: RF.identity()}
    for node in graph.nodes:
        fields[node.name] = node.op.rf(tuple(fields[i] for i in node.inputs), node.in_shapes, node.shape)
    return fields


def final_field(graph: Graph, fields: dict[str, RF]) -> RF | None:
    """The field of the network's last map wider than 1x1 (the features its head reads);
    None when that map is global (after an SE gate) or there is no such map."""
    for node in reversed(graph.nodes):
        if node.shape.is_map and node.shape.h * node.shape.w > 1:
            rf = fields[node.name]
            return None if rf.is_global else rf
    return None

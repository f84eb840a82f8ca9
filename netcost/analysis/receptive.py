"""Receptive field of every tensor, over the graph (branches merge by the largest).

The size/jump/start recurrence is exact while every op maps positions affinely. After an
up-sampling (transposed conv, upsample) it is not: pairs of outputs read the same input,
so a unit's field depends on its position (its phase). Below such an op the size is
computed exactly instead, by carrying each unit's span of positions back to the input
(``Op.rf_back``), and the largest over one period of positions is reported.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from math import lcm

from netcost.core.rf import RF, Span
from netcost.graph import INPUT, Graph

RESAMPLING = ("conv_transpose", "upsample")


def receptive_fields(graph: Graph) -> dict[str, RF]:
    fields = {INPUT: RF.identity()}
    period = {INPUT: 1}  # positions after which a unit's field repeats (1 = affine: all alike)
    for node in graph.nodes:
        rf = node.op.rf(tuple(fields[i] for i in node.inputs), node.in_shapes, node.shape)
        # nested up-samplings multiply the phases a unit can have
        period[node.name] = lcm(*(period[i] for i in node.inputs)) * max(_factors(node))
        if period[node.name] > 1 and not rf.is_global and rf.spatial and node.shape.is_map:
            rf = _largest_over_phases(graph, node.name, rf, period[node.name])
        fields[node.name] = rf
    return fields


def _factors(node) -> tuple[int, ...]:
    if node.op.kind not in RESAMPLING:
        return (1,)
    return tuple(getattr(node.op, "stride", None) or node.op.scale)


def unit_span(graph: Graph, name: str, position: tuple[int, int]) -> tuple[Span, Span]:
    """The input positions (per axis, inclusive, never clipped) that the unit at ``position``
    of tensor ``name`` depends on: its spans carried back through every path."""
    spans: dict[str, list[Span | None]] = {name: [(p, p) for p in position]}
    for node in reversed(graph.nodes[: _index(graph, name) + 1]):
        wanted = spans.pop(node.name, None)
        if wanted is None:
            continue
        back = [node.op.rf_back(axis, wanted[axis], node.in_shapes, node.shape) for axis in range(2)]
        for i, source in enumerate(node.inputs):
            here = [back[axis][i] for axis in range(2)]
            spans[source] = [_hull(a, b) for a, b in zip(spans.get(source, here), here, strict=True)]
    return tuple(spans[INPUT])


def _largest_over_phases(graph: Graph, name: str, rf: RF, period: int) -> RF:
    node = graph[name]
    sizes = []
    for axis in range(2):
        n = node.shape.spatial[axis]
        centre = n // 2
        positions = range(max(0, centre - period), min(n, centre + period + 1))
        sizes.append(max(_extent(unit_span(graph, name, _at(axis, p, node.shape))[axis]) for p in positions))
    axes = tuple(dataclasses.replace(a, size=Fraction(s)) for a, s in zip(rf.axes, sizes, strict=True))
    return dataclasses.replace(rf, axes=axes)


def _at(axis: int, position: int, shape) -> tuple[int, int]:
    other = shape.spatial[1 - axis] // 2
    return (position, other) if axis == 0 else (other, position)


def _extent(span: Span) -> int:
    return span[1] - span[0] + 1


def _hull(a: Span, b: Span) -> Span:
    return min(a[0], b[0]), max(a[1], b[1])


def _index(graph: Graph, name: str) -> int:
    return next(i for i, n in enumerate(graph.nodes) if n.name == name)


def final_field(graph: Graph, fields: dict[str, RF]) -> RF | None:
    """The field of the network's last map wider than 1x1 (the features its head reads);
    None when that map is global (after an SE gate) or there is no such map."""
    for node in reversed(graph.nodes):
        if node.shape.is_map and node.shape.h * node.shape.w > 1:
            rf = fields[node.name]
            return None if rf.is_global else rf
    return None

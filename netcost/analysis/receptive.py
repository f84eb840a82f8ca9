"""Receptive field of every tensor, over the graph (branches merge by the largest).

The size/jump/start recurrence is exact while every op maps positions affinely. After an
up-sampling (transposed conv, upsample) it is not: pairs of outputs read the same input,
so a unit's field depends on its position (its phase). Below such an op the size is
computed exactly instead, by carrying each unit's span of positions back to the input
(``Op.rf_back``), and the largest over one period of positions is reported.

The work is bounded whatever the up-sampling factor: a unit's span endpoints never
decrease as its position grows (every ``rf_back`` is monotone), so positions with the same
span form runs, found by bisection; the extent is evaluated once per run. A window of
positions with more than :data:`MAX_RUNS` runs (no bundled spec comes near) is cut there,
and the size reported is the largest over the runs examined.

The same monotony makes the spans of one pass shareable (:class:`_Spans`): the span of a
range of positions runs from its first position's start to its last position's end, so a
unit's span is the hull of its inputs' spans at the two ends of what it reads, and each
(tensor, position) is worked out once per axis, not once per unit of every layer below it
(a stacked hourglass, up-sampling in every stack, took minutes without it).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from math import lcm

from netcost.core.rf import RF, Span
from netcost.graph import INPUT, Graph
from netcost.ops.base import Op

RESAMPLING = ("conv_transpose", "upsample")
SMALL_WINDOW = 64  # positions evaluated one by one
MAX_RUNS = 512  # runs of equal spans examined per tensor and axis


def receptive_fields(graph: Graph) -> dict[str, RF]:
    fields = {INPUT: RF.identity()}
    period = {INPUT: 1}  # positions after which a unit's field repeats (1 = affine: all alike)
    spans = (_Spans(graph, 0), _Spans(graph, 1))
    for index, node in enumerate(graph.nodes):
        rf = node.op.rf(tuple(fields[i] for i in node.inputs), node.in_shapes, node.shape)
        # nested up-samplings multiply the phases a unit can have
        period[node.name] = lcm(*(period[i] for i in node.inputs)) * max(_factors(node))
        if period[node.name] > 1 and not rf.is_global and rf.spatial and node.shape.is_map:
            rf = _largest_over_phases(graph, index, rf, period[node.name], spans)
        fields[node.name] = rf
    return fields


def _factors(node) -> tuple[int, ...]:
    if node.op.kind not in RESAMPLING:
        return (1,)
    return tuple(getattr(node.op, "stride", None) or node.op.scale)


def unit_span(graph: Graph, name: str, position: tuple[int, int], index: int | None = None) -> tuple[Span, Span]:
    """The input positions (per axis, inclusive, never clipped) that the unit at ``position``
    of tensor ``name`` (node number ``index``) depends on: its spans carried back through
    every path."""
    index = _index(graph, name) if index is None else index
    spans: dict[str, list[Span | None]] = {name: [(p, p) for p in position]}
    for node in reversed(graph.nodes[: index + 1]):
        wanted = spans.pop(node.name, None)
        if wanted is None:
            continue
        back = [node.op.rf_back(axis, wanted[axis], node.in_shapes, node.shape) for axis in range(2)]
        for i, source in enumerate(node.inputs):
            here = [back[axis][i] for axis in range(2)]
            spans[source] = [_hull(a, b) for a, b in zip(spans.get(source, here), here, strict=True)]
    return tuple(spans[INPUT])


class _Spans:
    """The input span of each unit along one axis, memoized per (tensor, position). A layer
    that reads the same positions of its one input (norms, activations) shares its input's
    spans: ``alias`` maps it to the first tensor up its chain that moves positions."""

    def __init__(self, graph: Graph, axis: int):
        self.axis = axis
        self.nodes = {node.name: node for node in graph.nodes}
        self.alias: dict[str, str] = {}
        for node in graph.nodes:
            if len(node.inputs) == 1 and type(node.op).rf_back is Op.rf_back:
                self.alias[node.name] = self.alias.get(node.inputs[0], node.inputs[0])
        self.memo: dict[tuple[str, int], Span] = {}

    def at(self, tensor: str, position: int) -> Span:
        memo, alias, axis = self.memo, self.alias, self.axis
        first = (alias.get(tensor, tensor), position)
        todo, reads = [first], {}
        while todo:  # depth-first without recursion: graphs run thousands of layers deep
            key = todo[-1]
            if key in memo:
                todo.pop()
                continue
            name, p = key
            if name == INPUT:
                memo[key] = (p, p)
                todo.pop()
                continue
            if key not in reads:  # first visit: what it reads, at each input's two ends
                node = self.nodes[name]
                back = node.op.rf_back(axis, (p, p), node.in_shapes, node.shape)
                sources = [alias.get(src, src) for src in node.inputs]
                ends = [((src, lo), (src, hi)) for src, (lo, hi) in zip(sources, back, strict=True)]
                reads[key] = ends
                todo.extend(end for pair in ends for end in pair if end not in memo)
                continue
            todo.pop()
            ends = reads.pop(key)
            memo[key] = (min(memo[lo][0] for lo, _ in ends), max(memo[hi][1] for _, hi in ends))
        return memo[first]


def _largest_over_phases(graph: Graph, index: int, rf: RF, period: int, spans: tuple[_Spans, _Spans]) -> RF:
    node = graph.nodes[index]
    sizes = []
    for axis in range(2):
        n = node.shape.spatial[axis]
        centre = n // 2
        first, last = max(0, centre - period), min(n, centre + period + 1) - 1

        def span(p: int, axis: int = axis) -> Span:
            return spans[axis].at(node.name, p)

        sizes.append(max(_extent(span(p)) for p in _run_starts(span, first, last)))
    axes = tuple(dataclasses.replace(a, size=Fraction(s)) for a, s in zip(rf.axes, sizes, strict=True))
    return dataclasses.replace(rf, axes=axes)


def _run_starts(span, first: int, last: int):
    """The first position of each run of equal spans in ``first..last`` (every position
    in a small window); at most MAX_RUNS runs."""
    if last - first < SMALL_WINDOW:
        yield from range(first, last + 1)
        return
    p = first
    for _ in range(MAX_RUNS):
        yield p
        if p >= last:
            return
        lo, hi = p, last  # the last position whose span equals span(p): spans are monotone
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if span(mid) == span(p):
                lo = mid
            else:
                hi = mid - 1
        p = lo + 1
        if p > last:
            return


def _at(axis: int, position: int, shape) -> tuple[int, int]:
    other = shape.spatial[1 - axis] // 2
    return (position, other) if axis == 0 else (other, position)


def _extent(span: Span) -> int:
    return span[1] - span[0] + 1


def _hull(a: Span, b: Span) -> Span:
    return min(a[0], b[0]), max(a[1], b[1])


def _index(graph: Graph, name: str) -> int:
    return next(i for i, n in enumerate(graph.nodes) if n.name == name)


MAPS = ("CHW", "HWC")  # layouts whose positions lie on a grid


def final_field(graph: Graph, fields: dict[str, RF]) -> RF | None:
    """The field of the network's last tensor with more than one position (a map wider than
    1x1, channels first or last, or a sequence of several tokens): the features its head
    reads. None when that tensor is global (after an SE gate, after attention over all
    tokens) or there is no such tensor."""
    for node in reversed(graph.nodes):
        shape = node.shape
        positions = shape.dims[0] if shape.is_tokens else (shape.h * shape.w if shape.layout in MAPS else 1)
        if positions > 1:
            rf = fields[node.name]
            return None if rf.is_global else rf
    return None

"""Activation memory: bytes per layer output, the liveness peak, and the seeds' MobileNetV2
figure (the largest inputs + output of any one op).

Liveness follows the execution order: a tensor is alive from the step that creates it to
the last step that reads it (the graph's output to the end), so a residual block's skip
tensor stays alive across the block. View ops (flatten, dropout, identity, crop) allocate
nothing: they extend the life of the storage they alias.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcost.graph import INPUT, Graph


@dataclass(frozen=True)
class Memory:
    per_node: dict[str, int]  # bytes of each layer output
    peak: int  # largest total of live storages
    peak_at: str  # the node executing at the peak
    max_op_io: int  # max over compute ops of inputs + output
    max_op_io_at: str
    live: tuple[int, ...] = ()  # bytes alive while each node executes, in execution order


def activation_memory(graph: Graph, bytes_per_element: int, batch: int = 1) -> Memory:
    unit = bytes_per_element * batch
    size = {INPUT: graph.input_shape.numel * unit}
    size.update({n.name: n.shape.numel * unit for n in graph.nodes})

    storage = {INPUT: INPUT}  # tensor -> the tensor that owns its storage
    created = {INPUT: -1}
    for i, node in enumerate(graph.nodes):
        storage[node.name] = storage[node.inputs[0]] if node.op.is_view else node.name
        created.setdefault(storage[node.name], i)
    end: dict[str, int] = {}
    for tensor, last in graph.last_use().items():
        owner = storage[tensor]
        end[owner] = max(end.get(owner, -1), last)

    live = live_bytes(graph, {s: (born, end[s], size[s]) for s, born in created.items()})
    peak, peak_at = peak_of(graph, live)

    io, io_at = 0, INPUT
    for node in graph.nodes:
        if node.op.is_view:
            continue
        total = sum(size[i] for i in node.inputs) + size[node.name]
        if total > io:
            io, io_at = total, node.name
    per_node = {n.name: size[n.name] for n in graph.nodes}
    return Memory(per_node, peak, peak_at, io, io_at, tuple(live))


def live_bytes(graph: Graph, lifetimes: dict[str, tuple[int, int, int]]) -> list[int]:
    """The liveness timeline: bytes alive while each node executes, in execution order,
    over storages alive from step ``born`` through step ``end`` inclusive.

    One pass: a storage's size is added at its birth and taken away after its last step."""
    n = len(graph.nodes)
    change = [0] * (n + 2)  # change[i + 1]: bytes born at step i (minus those freed after step i - 1)
    for born, end, size in lifetimes.values():
        change[born + 1] += size
        if end + 2 <= n + 1:
            change[end + 2] -= size
    live = change[0]  # step -1: the network input
    timeline = []
    for i in range(n):
        live += change[i + 1]
        timeline.append(live)
    return timeline


def peak_of(graph: Graph, timeline: list[int]) -> tuple[int, str]:
    """(largest entry of the timeline, the node executing then); the first one wins."""
    peak, peak_at = 0, INPUT
    for node, live in zip(graph.nodes, timeline, strict=True):
        if live > peak:
            peak, peak_at = live, node.name
    return peak, peak_at

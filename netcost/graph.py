"""The typed graph a spec expands into: named nodes in execution order, with shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

from netcost.core.shape import Shape
from netcost.errors import Location
from netcost.ops.base import Op

INPUT = "input"


@dataclass(frozen=True)
class Node:
    """One layer: ``name`` is hierarchical (``layer2.0.conv1``) and is also the compiled
    module's path and the report row's key."""

    name: str
    op: Op
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    shape: Shape
    location: Location = field(default_factory=Location, compare=False)


@dataclass
class Graph:
    """A DAG whose node list is a valid execution order (every input precedes its use)."""

    name: str
    input_shape: Shape
    nodes: list[Node] = field(default_factory=list)
    output: str = INPUT
    vars: dict[str, object] = field(default_factory=dict)
    reference: str | None = None
    description: str = ""
    settable: tuple[str, ...] = ()  # the spec's `vars` (reported); the rest of `vars` here is derived

    def __post_init__(self) -> None:
        self._by_name = {n.name: n for n in self.nodes}

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        self._by_name[node.name] = node
        self.output = node.name

    def add_layer(
        self, name: str, op: Op, inputs: tuple[str, ...], in_shapes: tuple[Shape, ...], shape: Shape, at: Location
    ) -> None:
        """``add(Node(...))``, as the spec expander adds a layer (a sweep's recording takes
        the same fields and makes no Node)."""
        self.add(Node(name, op, inputs, in_shapes, shape, at))

    def __getitem__(self, name: str) -> Node:
        return self._by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name or name == INPUT

    def shape_of(self, name: str) -> Shape:
        return self.input_shape if name == INPUT else self._by_name[name].shape

    def last_use(self) -> dict[str, int]:
        """Index of the last node that reads each tensor (the output lives to the end)."""
        last = {INPUT: -1}
        for i, node in enumerate(self.nodes):
            last.setdefault(node.name, i)
            for name in node.inputs:
                last[name] = i
        last[self.output] = len(self.nodes)
        return last

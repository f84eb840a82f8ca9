"""A Graph as the spec language's structure: a sequence of layers in which a merge node
closes a ``parallel`` whose branches start at one tensor (the merge's immediate dominator),
and hierarchical names become nested scopes (``seq: {name: ...}``).

The language has no references between layers (every layer reads the one before it; a
``parallel`` runs its branches on one input), so a graph can be written only if it is
series-parallel in that sense: anything else is refused here, with the layer that breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netcost.errors import NetcostError
from netcost.graph import INPUT, Graph, Node


@dataclass
class OpItem:
    node: Node


@dataclass
class ParItem:
    branches: list[list[OpItem | ParItem]]
    merge: Node


Item = OpItem | ParItem


# -- scoped entries: what the writer emits -----------------------------------------------------
@dataclass
class OpEntry:
    node: Node
    local: str  # the last part of its name


@dataclass
class ParEntry:
    branches: list[list[Entry]]
    merge: Node
    local: str


@dataclass
class SeqEntry:
    local: str
    entries: list[Entry]
    naming: str = "kind"
    nodes: int = 0  # layers inside, for deciding what is worth a block
    path: str = ""  # its full name

    def __hash__(self) -> int:  # identity: entries are mutable and compared by position
        return id(self)


@dataclass
class UseEntry:
    """A use of an exported block (set by netcost.spec.export.factor): ``values`` are its
    arguments (name -> value) where they differ from the block's defaults."""

    block: str
    local: str
    values: dict[str, object] = field(default_factory=dict)
    defaults: dict[str, object] = field(default_factory=dict)  # the block's arguments
    nodes: int = 0


@dataclass
class StageEntry:
    """Consecutive uses of one block: ``names`` a template, or None (a named stage)."""

    block: str
    local: str | None
    n: int
    names: str | None
    values: dict[str, object] = field(default_factory=dict)


Entry = OpEntry | ParEntry | SeqEntry | UseEntry | StageEntry


def not_writable(message: str, hint: str | None = None) -> NetcostError:
    return NetcostError(
        f"cannot export this graph as a spec: {message}",
        hint=hint
        or "the spec language writes a chain of layers with `parallel` branches that start at one "
        "tensor and end in one merge",
    )


def decompose(graph: Graph) -> list[Item]:
    """The graph as nested sequences and parallels, every node exactly once."""
    idom = _dominators(graph)
    items = _region(graph, idom, INPUT, graph.output)
    seen: dict[str, int] = {}
    _count(items, seen)
    for node in graph.nodes:
        uses = seen.get(node.name, 0)
        if uses == 0:
            raise not_writable(f"layer {node.name!r} does not lead to the output ({graph.output!r})")
        if uses > 1:
            raise not_writable(f"layer {node.name!r} is read from outside the branch that computes it")
    order = [n.name for n in graph.nodes]
    written = [n.name for n in flat_nodes(items)]
    if written != order:
        first = next(a for a, b in zip(order, written, strict=True) if a != b)
        raise not_writable(
            f"the layers run in an order the spec cannot state (at {first!r}): a spec runs the branches of a "
            "`parallel` one after the other, in the order the merge reads them",
        )
    return items


def _dominators(graph: Graph) -> dict[str, str | None]:
    """Immediate dominator of every tensor (the graph's node list is a topological order)."""
    idom: dict[str, str | None] = {INPUT: None}
    depth = {INPUT: 0}

    def common(a: str, b: str) -> str:
        while a != b:
            if depth[a] >= depth[b]:
                a = idom[a]  # type: ignore[assignment]
            else:
                b = idom[b]  # type: ignore[assignment]
        return a

    for node in graph.nodes:
        if not node.inputs:
            raise not_writable(f"layer {node.name!r} reads no tensor")
        for name in node.inputs:
            if name not in depth:
                raise not_writable(f"layer {node.name!r} reads {name!r}, which is not computed before it")
        dom = node.inputs[0]
        for other in node.inputs[1:]:
            dom = common(dom, other)
        idom[node.name] = dom
        depth[node.name] = depth[dom] + 1
    return idom


def _region(graph: Graph, idom: dict[str, str | None], start: str, end: str) -> list[Item]:
    """The items that compute ``end`` from ``start`` (which dominates it)."""
    items: list[Item] = []
    while end != start:
        node = graph[end]
        if len(node.inputs) == 1:
            items.append(OpItem(node))
            end = node.inputs[0]
            continue
        fork = idom[end]
        assert fork is not None
        items.append(ParItem([_region(graph, idom, fork, name) for name in node.inputs], node))
        end = fork
    items.reverse()
    return items


def _count(items: list[Item], seen: dict[str, int]) -> None:
    for node in flat_nodes(items):
        seen[node.name] = seen.get(node.name, 0) + 1


def flat_nodes(items: list[Item]):
    """Nodes in the order the spec would run them."""
    for item in items:
        if isinstance(item, OpItem):
            yield item.node
        else:
            for branch in item.branches:
                yield from flat_nodes(branch)
            yield item.merge


# -- scopes ------------------------------------------------------------------------------------
def scoped(items: list[Item], prefix: str = "") -> list[Entry]:
    """Runs of items whose names share the next part of the name become ``seq`` scopes."""
    out: list[Entry] = []
    run: list[Item] = []
    run_key: str | None = None

    def close() -> None:
        if run:
            inner = _join(prefix, run_key or "")
            entries = scoped(run, inner)
            nodes = sum(1 for _ in flat_nodes(run))
            out.append(SeqEntry(run_key or "", entries, _naming(entries), nodes, inner))
            run.clear()

    for item in items:
        key = _scope_key(item, prefix)
        if key is not None and key == run_key:
            run.append(item)
            continue
        close()
        run_key = key
        if key is not None:
            run.append(item)
        elif isinstance(item, OpItem):
            out.append(OpEntry(item.node, _local(item.node.name, prefix)))
        else:
            local = _local(item.merge.name, prefix)
            if "." in local:
                raise not_writable(
                    f"merge {item.merge.name!r} is named inside a scope its branches are not in",
                    hint="a spec names a merge in the scope of its `parallel`",
                )
            out.append(ParEntry([scoped(b, prefix) for b in item.branches], item.merge, local))
    close()
    return out


def _scope_key(item: Item, prefix: str) -> str | None:
    """The scope all of an item's names are under (``layer1`` of ``layer1.0.conv1``), or None
    for a layer named directly in ``prefix`` (or a parallel whose names span scopes)."""
    names = [n.name for n in flat_nodes([item])]
    heads = set()
    for name in names:
        rel = _local(name, prefix)
        if "." not in rel:
            return None
        heads.add(rel.split(".", 1)[0])
    return heads.pop() if len(heads) == 1 else None


def _local(name: str, prefix: str) -> str:
    if not prefix:
        return name
    if not name.startswith(prefix + "."):
        raise not_writable(f"layer {name!r} is not named under {prefix!r}, the scope it is computed in")
    return name[len(prefix) + 1 :]


def _join(prefix: str, local: str) -> str:
    return f"{prefix}.{local}" if prefix else local


def direct_locals(entries: list[Entry]) -> list[str]:
    """Names taken in the scope of ``entries`` itself (branches of a parallel share it)."""
    out: list[str] = []
    for e in entries:
        if isinstance(e, ParEntry):
            for branch in e.branches:
                out.extend(direct_locals(branch))
            out.append(e.local)
        elif isinstance(e, (OpEntry, SeqEntry, UseEntry)):
            out.append(e.local)
    return out


def _naming(entries: list[Entry]) -> str:
    """``index`` where every name in the scope is a number (``features.0``), else ``kind``."""
    names = direct_locals(entries)
    return "index" if names and all(n.isdigit() for n in names) else "kind"

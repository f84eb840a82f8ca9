"""A Graph written back as a spec (``netcost export``): YAML that expands to the same Graph
(the same layer names, ops, fields, inputs and shapes, in the same order), with repeated
scopes factored into blocks and stages.

The steps: :mod:`.tree` finds the ``parallel`` structure and the name scopes,
:mod:`.factor` the blocks and stages, :mod:`.render` writes the layers (names only where the
expander would not give them), :mod:`.writer` the YAML text. The text is expanded again
before it is returned: a graph it would not reproduce is refused, never written wrong.
"""

from __future__ import annotations

from netcost.core.shape import DEFAULT_LAYOUT
from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.spec.expand import Scope, expand
from netcost.spec.export.factor import Block, factor
from netcost.spec.export.render import Namer, layers
from netcost.spec.export.template import unify
from netcost.spec.export.tree import decompose, not_writable, scoped
from netcost.spec.export.values import argument
from netcost.spec.export.writer import Flow, lines
from netcost.spec.load import load_yaml
from netcost.spec.schema import parse_spec

__all__ = ["export_spec"]


def export_spec(graph: Graph, *, source: str | None = None) -> str:
    """YAML text of a spec that expands to ``graph``; ``source`` (what it was exported from)
    goes in the header comment. Raises NetcostError for a graph the language cannot write."""
    tree = scoped(decompose(graph))
    texts = [_text(graph, *factor(tree, leaves), source) for leaves in (False, True)]
    text = min(texts, key=lambda t: t.count("\n"))  # the shorter: with blocks of blocks or without
    _check(text, graph)
    return text


def _text(graph: Graph, entries: list, blocks: dict[str, Block], source: str | None) -> str:
    doc: dict = {"name": graph.name}
    if graph.description:
        doc["description"] = graph.description
    if graph.reference:
        doc["reference"] = graph.reference
    shape = graph.input_shape
    dims = list(shape.dims)
    doc["input"] = dims if DEFAULT_LAYOUT.get(len(dims)) == shape.layout else {"shape": dims, "layout": shape.layout}
    if blocks:
        doc["blocks"] = {name: _block(block, blocks) for name, block in blocks.items()}
    template = unify([entries])
    assert template is not None  # one instance always lays over itself
    doc["layers"] = layers(template, [(Namer(), Scope("", {}))], blocks)
    return _header(graph, source) + "\n".join(lines(doc)) + "\n"


def _block(block: Block, blocks: dict[str, Block]) -> dict:
    body: dict = {}
    if block.naming == "index":
        body["naming"] = "index"
    if block.args:
        body["args"] = Flow({name: argument(v, block.annotations.get(name)) for name, v in block.args.items()})
    ctx = [(Namer(), Scope("", {}, block.naming)) for _ in block.members]
    body["layers"] = layers(block.template, ctx, blocks)  # type: ignore[arg-type]
    return body


def _header(graph: Graph, source: str | None) -> str:
    from netcost import __version__

    origin = f" from {' '.join(source.split())}" if source else ""
    return (
        f"# Exported{origin} by netcost {__version__} (netcost export).\n"
        f"# {len(graph.nodes)} layers; expands to the same graph: layer names, ops, fields and shapes.\n"
    )


def _check(text: str, graph: Graph) -> None:
    """Expand the text again: the same nodes in the same order, or a refusal."""
    try:
        again = expand(parse_spec(load_yaml(text, "<export>"), "<export>", graph.name))
    except NetcostError as exc:
        raise not_writable(f"the written spec does not expand: {exc}") from None
    if again.input_shape != graph.input_shape or len(again.nodes) != len(graph.nodes):
        raise not_writable("the written spec expands to another graph")
    for ours, theirs in zip(again.nodes, graph.nodes, strict=True):
        if ours != theirs:
            raise not_writable(f"the written spec expands to another graph (at layer {theirs.name!r})")

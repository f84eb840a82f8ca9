"""The walk over an ONNX graph: constants folded, each node handed to its rule
(netcost.sources.onnx_rules, onnx_tensor_rules), the unknown ones made opaque."""

from __future__ import annotations

import math
from pathlib import Path

from netcost.core.shape import Shape
from netcost.errors import NetcostError
from netcost.graph import INPUT, Graph
from netcost.sources import onnx_rules, onnx_tensor_rules  # noqa: F401  (their rules register on import)
from netcost.sources.onnx_lower import OnnxError
from netcost.sources.onnx_state import ALIASES, FLOAT_TYPES, INT_TYPES, RULES, Const, Lowering, Unfit, attrs


def lower_nodes(model, data_inputs: list, path: Path) -> Graph:
    shapes, elem_types = inferred_dims(model)
    read = {i for node in model.graph.node for i in node.input}
    used = [v for v in data_inputs if v.name in read]
    if len(used) != 1:
        names = ", ".join(v.name for v in used) or "none"
        raise OnnxError(
            f"{path.name}: netcost's graph takes one input; this file's nodes read {len(used)} ({names})",
            hint="export the model with one input (the others fixed or folded)",
        )
    x = used[0]
    dims = shapes[x.name]
    integer = x.type.tensor_type.elem_type in INT_TYPES
    graph = Graph(
        name=path.stem,
        input_shape=Shape(dims[1:], "L" if integer and len(dims) == 2 else ""),
        description=f"ONNX file {path.name} ({model.producer_name or 'unknown producer'}, "
        f"opset {max((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), default=0)})",
    )
    lw = Lowering(model, shapes, graph, elem_types=elem_types)
    lw.acts[x.name] = INPUT
    lw.batch_axis[x.name] = 0
    for tensor in model.graph.initializer:
        numel = math.prod(tensor.dims)
        learnable = tensor.data_type in FLOAT_TYPES and numel > 1
        lw.init_numel[tensor.name] = numel
        sources = frozenset({tensor.name}) if learnable else frozenset()
        lw.consts[tensor.name] = Const(tuple(tensor.dims), sources, tensor)
    for node in model.graph.node:
        for name in dict.fromkeys([*node.input, *outer_names(node)]):
            lw.consumers.setdefault(name, []).append(node)
        for name in node.output:
            lw.producer[name] = node
    for node in model.graph.node:  # constants first: the pattern rules look ahead at them
        if node.op_type == "Constant":
            fold(lw, node)
            lw.skip.add(id(node))
    for node in model.graph.node:
        if id(node) not in lw.skip:
            lower_node(lw, node)
    output = model.graph.output[0].name
    if not lw.is_act(output):
        raise OnnxError(f"{path.name}: the output {output!r} does not depend on the input")
    graph.output = lw.act(output)
    return graph


def outer_names(node) -> list[str]:
    """Tensors of the enclosing graph that a node's sub-graphs (If branches) read."""
    names = []
    for a in node.attribute:
        if a.type == a.GRAPH:
            made = {o for inner in a.g.node for o in inner.output} | {t.name for t in a.g.initializer}
            names += [i for inner in a.g.node for i in inner.input if i and i not in made]
    return names


def inferred_dims(model) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """ONNX dims of every tensor that shape inference sized completely, and element types."""
    shapes, types = {}, {}
    for value in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        tensor = value.type.tensor_type
        types[value.name] = tensor.elem_type
        if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
            shapes[value.name] = tuple(d.dim_value for d in tensor.shape.dim)
    return shapes, types


def lower_node(lw: Lowering, node) -> None:
    if node.op_type in ("Shape", "Size") and node.input and not lw.is_const(node.input[0]):
        return _shape_const(lw, node)
    if all(not i or lw.is_const(i) for i in (*node.input, *outer_names(node))):
        return fold(lw, node)
    if node.op_type in ALIASES:
        return lw.alias(node.output[0], node.input[0])
    lower = RULES.get(node.op_type)
    if lower is None:
        return _unknown(lw, node, "no rule for this op")
    try:
        lower(lw, node)
    except UNFIT as exc:  # the rule cannot express this node (an attribute, an operand)
        _unknown(lw, node, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


# what a rule raises for a node it cannot express: the node is then an unknown opaque one
UNFIT = (Unfit, NetcostError, ValueError, TypeError, KeyError, IndexError, AttributeError)


def _unknown(lw: Lowering, node, reason: str) -> None:
    """``Lowering.unknown``; a node whose output cannot even be sized stops the lowering."""
    try:
        lw.unknown(node, reason)
    except Unfit as exc:
        raise OnnxError(
            f"{lw.graph.name}: node {node.name or node.op_type!r} ({node.op_type}): {exc}",
            hint="netcost needs every tensor's shape; run onnx's shape inference or onnxsim on the file to check it",
        ) from None


def _shape_const(lw: Lowering, node) -> None:
    import numpy as np

    dims = lw.dims(node.input[0])
    a = attrs(node)
    if node.op_type == "Size":
        value = np.array(math.prod(dims), dtype=np.int64)
    else:
        value = np.array(dims[a.get("start", 0) : a.get("end", len(dims))], dtype=np.int64)
    lw.consts[node.output[0]] = Const(tuple(value.shape), array=value)


def fold(lw: Lowering, node) -> None:
    """Evaluate a node whose inputs are all constants (ONNX's reference evaluator)."""
    import numpy as np

    sources = frozenset().union(*(lw.consts[i].sources for i in node.input if i))
    if node.op_type in ALIASES and node.op_type != "Cast":
        lw.consts[node.output[0]] = Const(
            lw.consts[node.input[0]].dims, sources, lw.consts[node.input[0]].proto, lw.consts[node.input[0]].array
        )
        return
    from onnx.reference import ReferenceEvaluator

    try:
        opsets = {o.domain or "": o.version for o in lw.model.opset_import}
        results = ReferenceEvaluator(node, opsets=opsets).run(None, {i: lw.consts[i].value() for i in node.input if i})
    except Exception as exc:  # an op the reference evaluator lacks, a bad attribute
        return _unknown(lw, node, f"constant folding failed: {str(exc).splitlines()[0][:120]}")
    for name, value in zip(node.output, results, strict=False):
        value = np.asarray(value)
        lw.consts[name] = Const(tuple(value.shape), sources, array=value)

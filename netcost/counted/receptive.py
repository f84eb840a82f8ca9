"""Receptive fields measured on the real module, by gradients.

On a linearised, narrowed copy of the graph — every conv and linear layer 2 channels wide
(depthwise ones stay depthwise), max pools replaced by average pools and activations and
normalisations by the identity (otherwise the gradient's support is smaller than the
theoretical field), all weights positive — the gradient of one output unit with respect
to the input is non-zero exactly on that unit's receptive field. Its bounding box is
measured and compared with the analytic size. Channels do not change a field, so the
narrow copy measures the original's fields at a fraction of the memory; float64 keeps
the products of many small weights from underflowing in deep networks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from netcost import ops
from netcost.analysis.receptive import receptive_fields, unit_span
from netcost.core.shape import Shape
from netcost.graph import INPUT, Graph, Node
from netcost.ops.act import Activation

WIDTH = 2
# same field, linear: a max pool routes its gradient to one input; a product of gates
# overflows over dozens of SE blocks, while a sum has the same support
LINEAR_STAND_INS = {"maxpool": "avgpool", "mul": "add"}
IDENTITY_KINDS = {"lrn", "layernorm", "groupnorm", "dropout", "softmax"}


@dataclass(frozen=True)
class FieldCheck:
    node: str
    analytic: tuple[int, int] | None  # None: global
    measured: tuple[int, int]
    input_size: tuple[int, int]
    ok: bool
    centre: tuple[int, int] | None = None  # analytic field of the measured (centre) unit


def checkpoints(graph: Graph) -> list[str]:
    """The last local map at each resolution (each stage's output), and one global tensor:
    the last global map wider than 1x1 (after an SE gate), else the first global one."""
    fields = receptive_fields(graph)
    last_at: dict[tuple[int, ...], str] = {}
    first_global = last_wide_global = None
    for node in graph.nodes:
        if not node.shape.is_map:
            continue
        rf = fields[node.name]
        if not rf.is_global and rf.spatial:
            last_at.pop(node.shape.spatial, None)
            last_at[node.shape.spatial] = node.name
        elif rf.is_global:
            first_global = first_global or node.name
            if node.shape.h * node.shape.w > 1:
                last_wide_global = node.name
    chosen = last_wide_global or first_global
    return [*last_at.values(), *([chosen] if chosen else [])]


def linearised(graph: Graph, upto: str, input_shape: Shape) -> Graph:
    """The narrowed, linear copy of ``graph`` up to node ``upto``, at ``input_shape``."""
    out = Graph(graph.name, input_shape)
    shapes = {INPUT: input_shape}
    for node in graph.nodes:
        ins = tuple(shapes[i] for i in node.inputs)
        op = _linear_op(node, ins)
        shape = op.shape(ins)
        shapes[node.name] = shape
        out.add(Node(node.name, op, node.inputs, ins, shape, node.location))
        if node.name == upto:
            break
    return out


def _linear_op(node: Node, ins: tuple[Shape, ...]) -> ops.Op:
    """The stand-in with the same field: linear, narrow, and of fixed geometry (the copy may
    run at another input size, where an adaptive pool would change its windows)."""
    op = node.op
    if op.kind in IDENTITY_KINDS or isinstance(op, Activation):
        return ops.REGISTRY["identity"]()
    if op.kind == "adaptive_avgpool":
        n, o = node.in_shapes[0].spatial, node.shape.spatial
        if n == o:
            return ops.REGISTRY["identity"]()
        if all(a % b == 0 for a, b in zip(n, o, strict=True)):
            k = tuple(a // b for a, b in zip(n, o, strict=True))
            return ops.REGISTRY["avgpool"](k=k, stride=k)
    if op.kind == "sparse_conv":  # a partial connection table has the field of a dense conv
        return ops.REGISTRY["conv"](out=WIDTH, k=op.k, stride=op.stride, pad=op.pad)
    if op.kind in LINEAR_STAND_INS:
        fields = {f.name: getattr(op, f.name) for f in dataclasses.fields(op) if f.name != "count_include_pad"}
        return ops.REGISTRY[LINEAR_STAND_INS[op.kind]](**fields)
    if op.kind in ("conv", "conv_transpose"):
        old_in, new_in = node.in_shapes[0].c, ins[0].c
        if op.groups == old_in and op.groups > 1:  # depthwise stays depthwise
            return dataclasses.replace(op, groups=new_in, out=new_in * (op.out // op.groups))
        return dataclasses.replace(op, groups=1, out=WIDTH)
    if op.kind == "linear":
        return dataclasses.replace(op, out=WIDTH)
    return op


def _fits(graph: Graph, upto: str, size: int, field) -> bool:
    """Whether the centre unit's whole field lies inside a size x size input."""
    try:
        shape = linearised(graph, upto, Shape.of(graph.input_shape.c, size, size))[upto].shape
    except Exception:  # too small for the network: not a fit
        return False
    for axis, n_out in enumerate(shape.spatial):
        a = field.axes[axis]
        centre = a.start + (n_out // 2) * a.jump
        if centre - (a.size - 1) / 2 < 0 or centre + (a.size - 1) / 2 > size - 1:
            return False
    return True


def input_size_for(graph: Graph, upto: str) -> int:
    field = receptive_fields(graph)[upto]
    if field.is_global:
        return max(graph.input_shape.spatial)
    size = int(max(a.size for a in field.axes))
    jump = int(max(a.jump for a in field.axes)) + 1
    for n in range(size, size + 4 * jump + 16):
        if _fits(graph, upto, n, field):
            return n
    raise ValueError(f"no input size up to {size + 4 * jump + 16} holds the field of {upto}")


def measure(graph: Graph, upto: str) -> FieldCheck:
    from netcost.counted.compile import build

    n = input_size_for(graph, upto)
    small = linearised(graph, upto, Shape.of(graph.input_shape.c, n, n))
    model = build(small).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif p.dim() > 1:
                p.fill_(1.0 / p[0].numel())
            else:
                p.fill_(1.0)
    # positive input: an SE gate multiplies by a function of the input, which must not be 0
    x = torch.ones(1, *small.input_shape.dims, dtype=torch.float64, requires_grad=True)
    y = model(x)
    centre = (0, 0, *(s // 2 for s in y.shape[2:]))
    y[0, :, centre[2], centre[3]].sum().backward()  # all channels: a concat keeps its inputs apart
    support = (x.grad[0].abs().sum(0) > 0).nonzero()
    measured = tuple(int(support[:, i].max() - support[:, i].min() + 1) for i in range(2))
    field = receptive_fields(graph)[upto]
    analytic = None if field.is_global else field.size
    if analytic is None:
        return FieldCheck(upto, None, measured, (n, n), measured == (n, n))
    # the centre unit's own field, carried back span by span: equal to the size everywhere on
    # affine networks, at most the largest one after up-sampling (fields depend on the phase)
    span = unit_span(small, upto, tuple(s // 2 for s in y.shape[2:]))
    centre = tuple(hi - lo + 1 for lo, hi in span)
    ok = measured == centre and all(m <= a for m, a in zip(measured, analytic, strict=True))
    return FieldCheck(upto, analytic, measured, (n, n), ok, centre)

"""Receptive fields measured on the real module, by gradients.

On a linearised, narrowed copy of the graph — every conv and linear layer 2 channels wide
(depthwise ones stay depthwise), max pools replaced by average pools and activations and
normalisations by the identity (otherwise the gradient's support is smaller than the
theoretical field), all weights positive — the gradient of one output unit with respect
to the input is non-zero exactly on that unit's receptive field. Its bounding box is
measured and compared with the analytic size. Channels do not change a field, so the
narrow copy measures the original's fields at a fraction of the memory; float64 keeps
the products of many small weights from underflowing in deep networks.

What is compared:

- a local field: the centre unit's gradient support, on the smallest square input (up to
  MAX_PROBE a side) that holds its whole analytic field, against that field; when no such
  input exists (Inception-ResNet-v2's last stages see 3,039 pixels), on the network's own
  input against the analytic span clipped to it, with a note;
- a global field: not "the whole input" but *every input position the network reads*:
  the centre unit's support must equal the support of all units together and the
  analytic read region (:func:`read_region`). An unpadded first conv may never read the
  last rows: squeezenet1_0's 7x7/2 conv reads 223 of 224, so its classifier is global
  over 223 x 223;
- a residual sum of tensors that narrowing made different widths (a concat of branches
  plus its identity) is measured as a concat: the same union of fields.

A field that cannot be measured is reported (``ok=None`` and a note), never raised.
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
MAX_PROBE = 2048  # the largest probe input a side (a 3x2048x2048 float64 input is 96 MiB)
# same field, linear: a max pool routes its gradient to one input; a product of gates
# overflows over dozens of SE blocks, while a sum has the same support
LINEAR_STAND_INS = {"maxpool": "avgpool", "mul": "add"}
IDENTITY_KINDS = {"lrn", "layernorm", "groupnorm", "dropout", "softmax", "scale"}  # scale: a factor 0 hides a field


@dataclass(frozen=True)
class FieldCheck:
    node: str
    analytic: tuple[int, int] | None  # None: global
    measured: tuple[int, int]
    input_size: tuple[int, int]
    ok: bool | None  # None: could not be measured (see note)
    centre: tuple[int, int] | None = None  # analytic field of the measured (centre) unit
    reads: tuple[int, int] | None = None  # global: the extent of the input the network reads
    note: str | None = None


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
    if op.kind in ("add", "mul") and len({x.c for x in ins}) > 1 and len({x.spatial for x in ins}) == 1:
        # narrowing gives a residual's identity (a concat's 4 x 2 channels, say) and its
        # branch (one conv: 2) different widths: a concat has the sum's field (the union)
        return ops.REGISTRY["concat"]()
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
    except Exception:  # too small for the network, or sizes that do not line up: not a fit
        return False
    for axis, n_out in enumerate(shape.spatial):
        a = field.axes[axis]
        centre = a.start + (n_out // 2) * a.jump
        if centre - (a.size - 1) / 2 < 0 or centre + (a.size - 1) / 2 > size - 1:
            return False
    return True


def input_size_for(graph: Graph, upto: str) -> int | None:
    """The smallest square input, at most MAX_PROBE pixels a side, that holds the centre
    unit's whole field; None when there is none (the field is then compared within the
    network's own input, clipped)."""
    field = receptive_fields(graph)[upto]
    if field.is_global:
        return None
    size = int(max(a.size for a in field.axes))
    jump = int(max(a.jump for a in field.axes)) + 1
    if size > MAX_PROBE:
        return None
    # the centre unit sits within a jump of the middle: a few jumps past the size fit it,
    # unless the sizes that line up (concat, add) are rarer; then grow by halves, bounded
    candidates = [*range(size, size + 4 * jump + 16)]
    n = size + 4 * jump + 16
    while n <= MAX_PROBE:
        candidates += range(n, min(n + jump + 16, MAX_PROBE + 1))
        n += max(n // 2, jump + 16)
    return next((n for n in candidates if n <= MAX_PROBE and _fits(graph, upto, n, field)), None)


def read_region(graph: Graph, upto: str) -> tuple[tuple[int, int], ...]:
    """The input positions (per axis, inclusive, clipped to the input) that the units of
    ``upto``, all of them, depend on: what the network reads. A global op reads its whole
    input; every other op carries spans back by its own rule (``Op.rf_back``)."""
    fields = receptive_fields(graph)
    shape = graph[upto].shape
    spans = {upto: [(0, n - 1) for n in shape.spatial]}
    for node in reversed(graph.nodes[: next(i for i, n in enumerate(graph.nodes) if n.name == upto) + 1]):
        wanted = spans.pop(node.name, None)
        if wanted is None:
            continue
        for i, source in enumerate(node.inputs):
            x = node.in_shapes[i]
            whole = (fields[node.name].is_global and not fields[source].is_global) or not node.shape.is_map
            if not x.is_map:  # a flat input (no positions): what reaches it is read whole
                here = [(0, n - 1) for n in graph.input_shape.spatial]
            elif whole:  # a global op reads its whole input
                here = [(0, n - 1) for n in x.spatial]
            else:
                here = [node.op.rf_back(axis, wanted[axis], node.in_shapes, node.shape)[i] for axis in range(2)]
            # positions outside a map (padding, a ceil_mode window's overhang) hold no data
            limits = x.spatial if x.is_map else graph.input_shape.spatial
            here = [(max(lo, 0), min(hi, n - 1)) for (lo, hi), n in zip(here, limits, strict=True)]
            old = spans.get(source, here)
            spans[source] = [(min(a[0], b[0]), max(a[1], b[1])) for a, b in zip(old, here, strict=True)]
    return tuple(spans[INPUT])


def measure(graph: Graph, upto: str) -> FieldCheck:
    """The field of ``upto`` by gradient, against the analytic one; never raises (a field
    that cannot be measured is reported with ``ok=None`` and a note, not as a mismatch)."""
    field = receptive_fields(graph)[upto]
    analytic = None if field.is_global else field.size
    try:
        return _measure_global(graph, upto) if field.is_global else _measure_local(graph, upto, analytic)
    except Exception as exc:  # a check that cannot run must not stop verify, nor fail it
        first = (str(exc).strip().splitlines() or [""])[0]
        note = f"not measured: {type(exc).__name__}: {first}"
        return FieldCheck(upto, analytic, (0, 0), (0, 0), None, note=note)


def _gradients(graph: Graph, upto: str, input_shape: Shape):
    """(the linear copy's gradient support of the centre unit, that of all its units, the
    centre position): boolean H x W maps of the input positions each depends on."""
    from netcost.counted.compile import build

    small = linearised(graph, upto, input_shape)
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
    centre = tuple(s // 2 for s in y.shape[2:])
    # all channels: a concat keeps its inputs apart
    (one,) = torch.autograd.grad(y[0, :, centre[0], centre[1]].sum(), x, retain_graph=True)
    (every,) = torch.autograd.grad(y.sum(), x)
    return one[0].abs().sum(0) > 0, every[0].abs().sum(0) > 0, centre, small


def _extent(support) -> tuple[int, int]:
    found = support.nonzero()
    if not len(found):
        return (0, 0)
    return tuple(int(found[:, i].max() - found[:, i].min() + 1) for i in range(2))


def _measure_global(graph: Graph, upto: str) -> FieldCheck:
    """Global means: every unit depends on every input position that the network reads at
    all. Not "on the whole input": squeezenet's unpadded 7x7/2 first conv never reads the
    last row and column of a 224 input, so even its classifier sees 223 x 223. Measured on
    the network's own input: the centre unit's gradient support must equal that of all
    units together, and match the analytic region the network reads (read_region)."""
    shape = graph.input_shape
    one, every, _, _ = _gradients(graph, upto, shape)
    region = read_region(graph, upto)
    reads = tuple(hi - lo + 1 for lo, hi in region)
    measured = _extent(one)
    ok = bool(torch.equal(one, every)) and measured == reads == _extent(every)
    note = None if reads == tuple(shape.spatial) else f"the network reads {reads[0]}x{reads[1]} of the input"
    return FieldCheck(upto, None, measured, tuple(shape.spatial), ok, reads=reads, note=note)


def _measure_local(graph: Graph, upto: str, analytic: tuple[int, int]) -> FieldCheck:
    """The centre unit's field, on an input that holds it whole; when none up to MAX_PROBE
    does, on the network's own input, against the analytic span clipped to it."""
    n = input_size_for(graph, upto)
    probe = graph.input_shape if n is None else Shape.of(graph.input_shape.c, n, n)
    one, _, position, small = _gradients(graph, upto, probe)
    measured = _extent(one)
    # the centre unit's own field, carried back span by span: equal to the size everywhere on
    # affine networks, at most the largest one after up-sampling (fields depend on the phase)
    span = unit_span(small, upto, position)
    if n is None:
        span = tuple((max(lo, 0), min(hi, m - 1)) for (lo, hi), m in zip(span, probe.spatial, strict=True))
    centre = tuple(hi - lo + 1 for lo, hi in span)
    ok = measured == centre and all(m <= a for m, a in zip(measured, analytic, strict=True))
    note = None
    if n is None:
        note = (
            f"no input up to {MAX_PROBE}x{MAX_PROBE} holds this field whole: compared within the "
            f"{probe.spatial[0]}x{probe.spatial[1]} input, clipped"
        )
    return FieldCheck(upto, analytic, measured, tuple(probe.spatial), ok, centre, note=note)

"""ONNX rules for convolutions, pooling, padding, dense layers, norms, Gather and If.

A rule reads the node's attributes and constant operands, picks the netcost op whose
fields express it, and adds it (``Lowering.add``, which checks the shape against ONNX's
inference). A rule that cannot express a node raises ``Unfit``; the node then becomes an
unknown ``opaque`` node (the report is partial). docs/onnx.md has the table.
"""

from __future__ import annotations

import math

from netcost.core.shape import same_padding
from netcost.ops import get
from netcost.sources.onnx_state import Lowering, Unfit, attrs, const_dims, const_value, operands, rule

# --- convolution, pooling ---------------------------------------------------------------------


def window_pads(lw: Lowering, a: dict, spatial, k, s, d, extra=(0, 0, 0, 0)) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from ONNX ``pads`` / ``auto_pad`` and an absorbed Pad."""
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if any(extra):
            raise Unfit("auto_pad SAME after an explicit Pad")
        (t, b), (left, right) = (same_padding(n, k[i], s[i], d[i]) for i, n in enumerate(spatial))
        if auto == "SAME_LOWER":
            t, b, left, right = b, t, right, left
        pads = (t, b, left, right)
    elif auto == "VALID":
        pads = (0, 0, 0, 0)
    else:
        p = a.get("pads", [0, 0, 0, 0])
        if len(p) != 4:
            raise Unfit(f"pads {p} of a {len(k)}-D window")
        pads = (p[0], p[2], p[1], p[3])  # ONNX: h_begin, w_begin, h_end, w_end
    return tuple(p + e for p, e in zip(pads, extra, strict=True))


def padded_input(lw: Lowering, name: str, fills: tuple[float, ...]) -> tuple[str, tuple[int, int, int, int]]:
    """The input a conv or pool reads, and the padding of a Pad in front it absorbs."""
    if name in lw.pads:
        source, pads, fill = lw.pads[name]
        if fill in fills:
            return source, pads
    return name, (0, 0, 0, 0)


@rule("Conv")
def conv(lw: Lowering, node) -> None:
    x, w, b = operands(node, 3)
    wd = const_dims(lw, w)
    if len(wd) != 4:
        raise Unfit(f"a {len(wd) - 2}-D convolution (netcost's conv is 2-D)")
    a = attrs(node)
    x, extra = padded_input(lw, x, (0.0,))
    k = tuple(a.get("kernel_shape", wd[2:]))
    stride, dilation = tuple(a.get("strides", (1, 1))), tuple(a.get("dilations", (1, 1)))
    pad = window_pads(lw, a, lw.shape(x).spatial, k, stride, dilation, extra)
    op = get("conv")(out=wd[0], k=k, stride=stride, pad=pad, dilation=dilation, groups=a.get("group", 1), bias=bool(b))
    lw.add(node, op, [x], node.output[0])
    lw.new_params([w, b])


@rule("ConvTranspose")
def conv_transpose(lw: Lowering, node) -> None:
    x, w, b = operands(node, 3)
    wd = const_dims(lw, w)
    a = attrs(node)
    if len(wd) != 4 or a.get("auto_pad", "NOTSET") != "NOTSET" or "output_shape" in a:
        raise Unfit("a conv_transpose other than 2-D with explicit pads")
    p = a.get("pads", [0, 0, 0, 0])
    if (p[0], p[1]) != (p[2], p[3]):
        raise Unfit(f"asymmetric pads {p}")
    groups = a.get("group", 1)
    op = get("conv_transpose")(
        out=wd[1] * groups,
        k=tuple(a.get("kernel_shape", wd[2:])),
        stride=tuple(a.get("strides", (1, 1))),
        pad=(p[0], p[1]),
        output_pad=tuple(a.get("output_padding", (0, 0))),
        dilation=tuple(a.get("dilations", (1, 1))),
        groups=groups,
        bias=bool(b),
    )
    lw.add(node, op, [x], node.output[0])
    lw.new_params([w, b])


@rule("MaxPool", "AveragePool")
def window_pool(lw: Lowering, node) -> None:
    a = attrs(node)
    k = tuple(a["kernel_shape"])
    if len(k) != 2:
        return _channel_pool(lw, node, k)
    maximum = node.op_type == "MaxPool"
    x, extra = padded_input(lw, node.input[0], (0.0, float("-inf")) if maximum else (0.0,))
    stride, dilation = tuple(a.get("strides", k)), tuple(a.get("dilations", (1, 1)))
    fields = dict(k=k, stride=stride, pad=window_pads(lw, a, lw.shape(x).spatial, k, stride, dilation, extra))
    fields["ceil_mode"] = bool(a.get("ceil_mode", 0))
    if maximum:
        op = get("maxpool")(**fields, dilation=dilation)
    else:
        op = get("avgpool")(**fields, count_include_pad=bool(a.get("count_include_pad", 0)) or any(extra))
    lw.add(node, op, [x], node.output[0])


def _channel_pool(lw: Lowering, node, k: tuple[int, ...]) -> None:
    """A window over one non-spatial axis only (torch's LRN pools the squares across
    channels with a ``(size, 1, 1)`` window): per-position work, fields unchanged."""
    if sum(n > 1 for n in k) > 1 or k[-2:] != (1, 1):
        raise Unfit(f"a {len(k)}-D pooling window {list(k)}")
    out = node.output[0]
    elementwise = math.prod(k) * math.prod(lw.sample_dims_of(out, node))
    lw.add_opaque(node, [node.input[0]], out, elementwise=elementwise)


@rule("If")
def if_(lw: Lowering, node) -> None:
    """A branch on a condition known before the run (torch's exporter writes some for
    rank checks): the taken branch's nodes, in place."""
    if not lw.is_const(node.input[0]):
        raise Unfit("a branch on a computed condition")
    taken = "then_branch" if bool(const_value(lw, node.input[0]).item()) else "else_branch"
    branch = next(a.g for a in node.attribute if a.name == taken)
    for inner in branch.node:
        for name in inner.input:
            lw.consumers.setdefault(name, []).append(inner)
        for name in inner.output:
            lw.producer[name] = inner
    from netcost.sources.onnx_walk import lower_node

    for inner in branch.node:
        if id(inner) not in lw.skip:
            lower_node(lw, inner)
    for output, result in zip(node.output, branch.output, strict=True):
        if lw.is_const(result.name):
            lw.consts[output] = lw.consts[result.name]
        else:
            lw.alias(output, result.name)


@rule("GlobalAveragePool")
def global_average(lw: Lowering, node) -> None:
    lw.add(node, get("gap")(), [node.input[0]], node.output[0])


@rule("GlobalMaxPool")
def global_max(lw: Lowering, node) -> None:
    x = node.input[0]
    lw.add_opaque(node, [x], node.output[0], elementwise=lw.shape(x).numel, effect="global")


@rule("Pad")
def pad(lw: Lowering, node) -> None:
    """Spatial constant padding of a map is held back for the conv or pool it feeds."""
    a = attrs(node)
    x = node.input[0]
    pads = list(a["pads"]) if "pads" in a else [int(v) for v in const_value(lw, node.input[1]).tolist()]
    given = len(node.input) > 2 and node.input[2]
    fill = float(const_value(lw, node.input[2]).item()) if given else a.get("value", 0.0)
    if len(node.input) > 3 and node.input[3]:
        raise Unfit("Pad with axes")
    if not any(pads):
        return lw.alias(node.output[0], x)
    rank = len(pads) // 2
    if a.get("mode", "constant") != "constant" or rank != 4 or any(pads[i] or pads[rank + i] for i in (0, 1)):
        raise Unfit(f"{a.get('mode', 'constant')} padding {pads}")
    if any(p < 0 for p in pads) or not lw.shape(x).is_map:
        raise Unfit(f"padding {pads}")
    lw.pads[node.output[0]] = (lw.pad_source(x), (pads[2], pads[6], pads[3], pads[7]), fill)
    lw.pad_nodes[node.output[0]] = node


# --- dense layers, norms ----------------------------------------------------------------------


@rule("Gemm")
def gemm(lw: Lowering, node) -> None:
    x, w, b = operands(node, 3)
    a = attrs(node)
    if a.get("transA", 0) or not lw.is_const(w):
        return _matmul(lw, node, x, w)
    wd = const_dims(lw, w)
    out = wd[0] if a.get("transB", 0) else wd[1]
    if b and math.prod(const_dims(lw, b)) != out:
        raise Unfit("a bias that is not one per output")
    _linear(lw, node, x, w, b, out, node.output[0])


@rule("MatMul")
def matmul(lw: Lowering, node) -> None:
    x, w = operands(node, 2)
    if not lw.is_const(w) or len(const_dims(lw, w)) != 2 or not lw.is_act(x):
        return _matmul(lw, node, x, w)
    out = const_dims(lw, w)[1]
    after = lw.consumers.get(node.output[0], [])
    bias = ""
    if len(after) == 1 and after[0].op_type == "Add":
        other = [i for i in after[0].input if i != node.output[0]]
        if len(other) == 1 and lw.is_const(other[0]) and const_dims(lw, other[0]) == (out,):
            bias = other[0]
    if bias:
        lw.skip.add(id(after[0]))
    _linear(lw, node, x, w, bias, out, after[0].output[0] if bias else node.output[0])


def _linear(lw: Lowering, node, x: str, w: str, b: str, out: int, output: str) -> None:
    """``linear``; a weight an earlier node counted (tied embeddings) adds MACs, no params."""
    shape = lw.shape(x)
    if not lw.all_counted([w]) and shape.layout in ("F", "LC", "HWC") and shape.c * out == math.prod(const_dims(lw, w)):
        lw.add(node, get("linear")(out=out, bias=bool(b)), [x], output)
        lw.new_params([w, b])
        return
    positions = shape.numel // shape.dims[-1]
    macs = positions * shape.dims[-1] * out
    lw.add_opaque(
        node,
        [x],
        output,
        macs=macs,
        elementwise=positions * out if b else 0,
        params=lw.new_params([w, b]),
        effect="global" if shape.rank == 1 else "elementwise",
    )


def _matmul(lw: Lowering, node, a: str, b: str) -> None:
    """A product of two activations (attention); with a constant side, MACs and its params."""
    if lw.is_act(a) and lw.is_act(b):
        return lw.add(node, get("matmul")(), [a, b], node.output[0])
    act = a if lw.is_act(a) else b
    k = lw.dims(a)[-1]
    out_numel = math.prod(lw.sample_dims_of(node.output[0], node))
    lw.add_opaque(node, [act], node.output[0], macs=out_numel * k, params=lw.new_params([a, b]), effect="global")


@rule("BatchNormalization")
def batch_norm(lw: Lowering, node) -> None:
    """``bn`` on a map or a vector; on other ranks (BatchNorm1d over a sequence) the same
    cost as an opaque layer: 2 operations per element, the affine params, the statistics buffers."""
    x, scale, bias, mean, var = operands(node, 5)
    statistics = sum(math.prod(const_dims(lw, n)) for n in (mean, var))
    if lw.shape(x).layout in ("CHW", "F"):
        lw.add(node, get("bn")(), [x], node.output[0])
        lw.new_params([scale, bias])
    else:
        params = lw.new_params([scale, bias])
        numel = lw.shape(x).numel
        lw.add_opaque(node, [x], node.output[0], elementwise=2 * numel, params=params, buffers=statistics)
    lw.counted.update(s for n in (mean, var) for s in lw.consts[n].sources)  # buffers, not params


@rule("LayerNormalization")
def layer_norm(lw: Lowering, node) -> None:
    x, scale, bias = operands(node, 3)
    shape = lw.shape(x)
    axis = attrs(node).get("axis", -1)
    full_rank = shape.rank + 1
    normalized = full_rank - (axis % full_rank)
    affine = math.prod(const_dims(lw, scale)) + (math.prod(const_dims(lw, bias)) if bias else 0)
    if normalized == 1 and shape.layout in ("LC", "HWC") and affine == 2 * shape.c:
        op = get("layernorm")(over="channels")
    elif normalized == shape.rank and affine == 2 * shape.numel:
        op = get("layernorm")(over="all")
    else:
        elementwise = 5 * shape.numel
        return lw.add_opaque(node, [x], node.output[0], elementwise=elementwise, params=lw.new_params([scale, bias]))
    lw.add(node, op, [x], node.output[0])
    lw.new_params([scale, bias])


@rule("LRN")
def lrn(lw: Lowering, node) -> None:
    a = attrs(node)
    op = get("lrn")(size=a["size"], alpha=a.get("alpha", 1e-4), beta=a.get("beta", 0.75), k=a.get("bias", 1.0))
    lw.add(node, op, [node.input[0]], node.output[0])


@rule("Gather")
def gather(lw: Lowering, node) -> None:
    data, indices = operands(node, 2)
    axis = attrs(node).get("axis", 0)
    if lw.is_const(data) and lw.is_act(indices) and len(const_dims(lw, data)) == 2 and axis == 0:
        vocab, dim = const_dims(lw, data)
        if lw.all_counted([data]):
            return lw.add_opaque(node, [indices], node.output[0])
        lw.add(node, get("embedding")(vocab=vocab, dim=dim), [indices], node.output[0])
        lw.new_params([data])
        return
    if not lw.is_act(data) or not lw.is_const(indices):
        raise Unfit("a gather of computed indices")
    shape = lw.shape(data)
    index = const_value(lw, indices)
    if shape.layout == "LC" and axis == 1 and index.ndim == 0:
        return lw.add(node, get("select_token")(index=int(index)), [data], node.output[0])
    lw.add_opaque(node, [data], node.output[0], view=index.ndim == 0)

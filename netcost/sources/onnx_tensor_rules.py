"""ONNX rules for the element-wise ops (activations, arithmetic, the Erf-GELU and SiLU
patterns, reductions) and those that move data (Reshape, Transpose, Concat, Split, Slice,
Resize, Expand). Registered into netcost.sources.onnx_rules.RULES on import."""

from __future__ import annotations

import math

from netcost.core.shape import LAYOUTS
from netcost.errors import NetcostError
from netcost.ops import get
from netcost.sources.onnx_state import Lowering, Unfit, attrs, const_value, operands, rule

ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "Gelu": "gelu"}
UNARY = (
    "Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos",
    "Softplus", "Softsign", "Elu", "Selu", "Celu", "Mish", "Not", "IsNaN", "IsInf", "ThresholdedRelu",
)  # fmt: skip
BINARY = (
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Sum", "Mean", "Equal", "Less", "Greater",
    "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "PRelu", "BitShift",
)  # fmt: skip
REDUCTIONS = (
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceSumSquare", "ReduceLogSumExp", "ReduceLogSum",
)  # fmt: skip
POSITIONS = frozenset("HWL")  # layout letters of axes that are positions (a window moves along them)


def sample_axis(lw: Lowering, name: str, axis: int) -> int:
    """A per-sample axis from an ONNX one (negative counts from the end)."""
    rank = len(lw.dims(name))
    axis %= rank
    batch = lw.batch_axis.get(name)
    if axis == batch:
        raise Unfit("an operation along the batch axis")
    return axis - (batch is not None and axis > batch)


def letters(lw: Lowering, name: str) -> str:
    shape = lw.shape(name)
    return shape.layout if len(shape.layout) == shape.rank else ""


def single_consumer(lw: Lowering, output: str, op_type: str):
    after = lw.consumers.get(output, [])
    return after[0] if len(after) == 1 and after[0].op_type == op_type else None


def const_near(lw: Lowering, name: str, value: float) -> bool:
    if not lw.is_const(name):
        return False
    array = lw.consts[name].value()
    return array.size == 1 and math.isclose(float(array.reshape(-1)[0]), value, rel_tol=1e-4)


# --- activations ------------------------------------------------------------------------------


@rule(*ACTIVATIONS)
def activation(lw: Lowering, node) -> None:
    x, out = node.input[0], node.output[0]
    if node.op_type == "Sigmoid":
        mul = single_consumer(lw, out, "Mul")
        if mul is not None and sorted(mul.input) == sorted([x, out]):  # x * sigmoid(x): SiLU
            lw.skip.add(id(mul))
            return lw.add(node, get("silu")(), [x], mul.output[0])
    lw.add(node, get(ACTIVATIONS[node.op_type])(), [x], out)


@rule("HardSigmoid")
def hard_sigmoid(lw: Lowering, node) -> None:
    a = attrs(node)
    if math.isclose(a.get("alpha", 0.2), 1 / 6, rel_tol=1e-4) and math.isclose(a.get("beta", 0.5), 0.5):
        return lw.add(node, get("hardsigmoid")(), [node.input[0]], node.output[0])
    elementwise(lw, node)


@rule("LeakyRelu")
def leaky_relu(lw: Lowering, node) -> None:
    lw.add(node, get("leaky_relu")(slope=attrs(node).get("alpha", 0.01)), [node.input[0]], node.output[0])


@rule("Clip")
def clip(lw: Lowering, node) -> None:
    """Clip(0, 6) is ReLU6, Clip(0, inf) ReLU; any other clip one operation per element."""
    x, low, high = operands(node, 3)
    a = attrs(node)
    lo = float(const_value(lw, low).item()) if low else a.get("min", -math.inf)
    hi = float(const_value(lw, high).item()) if high else a.get("max", math.inf)
    kind = {(0.0, 6.0): "relu6", (0.0, math.inf): "relu"}.get((lo, hi))
    if kind is None:
        return elementwise(lw, node)
    lw.add(node, get(kind)(), [x], node.output[0])


@rule("Softmax")
def softmax(lw: Lowering, node) -> None:
    x = node.input[0]
    opset = max((o.version for o in lw.model.opset_import if o.domain in ("", "ai.onnx")), default=13)
    axis = attrs(node).get("axis", -1 if opset >= 13 else 1)
    rank = lw.shape(x).rank
    if opset < 13 and axis % (rank + 1) != rank:
        raise Unfit("a Softmax over flattened trailing axes (opset < 13)")
    lw.add(node, get("softmax")(axis=sample_axis(lw, x, axis) - rank), [x], node.output[0])


@rule(*UNARY)
def elementwise(lw: Lowering, node) -> None:
    """One operation per output element; learned operands (PRelu's slope, a scale) are params."""
    if (node.op_type == "Div" and _gelu(lw, node)) or (node.op_type == "Mul" and _lrn(lw, node)):
        return
    acts = [i for i in node.input if i and lw.is_act(i)]
    consts = [i for i in node.input if i and lw.is_const(i)]
    out = node.output[0]
    if node.op_type in ("Add", "Mul", "Sum") and len(acts) >= 2 and not consts:
        try:
            return lw.add(node, get("mul" if node.op_type == "Mul" else "add")(), acts, out)
        except (NetcostError, Unfit):
            pass  # shapes netcost's merges do not take (other broadcasts): an opaque node
    numel = math.prod(lw.sample_dims_of(out, node))
    lw.add_opaque(node, acts, out, elementwise=numel, params=lw.new_params(consts))


for _op_type in BINARY:
    rule(_op_type)(elementwise)


def _gelu(lw: Lowering, div) -> bool:
    """``x * 0.5 * (1 + erf(x / sqrt(2)))`` as torch exports GELU below opset 20: one gelu."""
    x, divisor = operands(div, 2)
    if not lw.is_act(x) or not const_near(lw, divisor, math.sqrt(2)):
        return False
    erf = single_consumer(lw, div.output[0], "Erf")
    add = erf and single_consumer(lw, erf.output[0], "Add")
    if not add or not any(const_near(lw, i, 1.0) for i in add.input):
        return False
    mul = single_consumer(lw, add.output[0], "Mul")
    half = mul and single_consumer(lw, mul.output[0], "Mul")
    if not half or sorted(mul.input) != sorted([x, add.output[0]]):
        return False
    if not any(const_near(lw, i, 0.5) for i in half.input):
        return False
    lw.add(div, get("gelu")(), [x], half.output[0])
    lw.skip.update(id(n) for n in (erf, add, mul, half))
    return True


LRN_CHAIN = frozenset({"Reshape", "Pad", "AveragePool", "If", "Squeeze", "Unsqueeze", "Mul", "Add", "Pow"})


def _lrn(lw: Lowering, square) -> bool:
    """torch's local_response_norm as it exports: ``x / (k + alpha * avg_pool(x * x)) ** beta``
    with the pool across channels (pad, reshape, pool, squeeze in between): one lrn."""
    x = square.input[0]
    if len(square.input) != 2 or square.input[1] != x or not lw.is_act(x):
        return False
    chain, cur = [], square.output[0]
    for _ in range(16):
        after = [n for n in lw.consumers.get(cur, []) if n.op_type not in ("Shape", "Size")]
        if len(after) != 1:
            return False
        (step,) = after
        if step.op_type == "Div" and list(step.input) == [x, cur]:
            break
        if step.op_type not in LRN_CHAIN:
            return False
        chain.append(step)
        cur = step.output[0]
    else:
        return False
    kinds = {n.op_type: n for n in chain}
    pools, scales = [n for n in chain if n.op_type == "AveragePool"], [n for n in chain if n.op_type == "Mul"]
    if len(pools) != 1 or len(scales) != 1 or "Add" not in kinds or "Pow" not in kinds:
        return False
    try:
        alpha, k, beta = (_scalar(lw, kinds[t]) for t in ("Mul", "Add", "Pow"))
    except Unfit:
        return False
    size = max(attrs(pools[0])["kernel_shape"])
    lw.add(square, get("lrn")(size=size, alpha=alpha, beta=beta, k=k), [x], step.output[0])
    lw.skip.update(id(n) for n in (*chain, step))
    return True


def _scalar(lw: Lowering, node) -> float:
    values = [lw.consts[i].value() for i in node.input if i and lw.is_const(i)]
    if len(values) != 1 or values[0].size != 1:
        raise Unfit("not a scalar operand")
    return float(values[0].reshape(-1)[0])


@rule(*REDUCTIONS)
def reduction(lw: Lowering, node) -> None:
    """A mean over a map's positions (kept as 1x1) is ``mean``; others are one operation per
    input element, mixing positions (a global field) unless they reduce only channels."""
    x, out = node.input[0], node.output[0]
    a = attrs(node)
    axes = a.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in const_value(lw, node.input[1]).reshape(-1).tolist()]
    rank = len(lw.dims(x))
    axes = sorted({ax % rank for ax in axes} if axes else set(range(rank)))
    sample = [sample_axis(lw, x, ax) for ax in axes]
    keep = a.get("keepdims", 1)
    batch = lw.batch_axis.get(x)
    out_batch = batch if keep or batch is None else batch - sum(ax < batch for ax in axes)
    shape = lw.shape(x)
    if node.op_type == "ReduceMean" and shape.is_map and sample == [1, 2] and keep:
        return lw.add(node, get("mean")(), [x], out, batch_axis=out_batch)
    roles = letters(lw, x)
    effect = "elementwise" if roles and all(roles[ax] == "C" for ax in sample) else "global"
    lw.add_opaque(node, [x], out, elementwise=shape.numel, effect=effect, batch_axis=out_batch)


# --- layout -----------------------------------------------------------------------------------


def _reshape_batch_axis(before: tuple[int, ...], after: tuple[int, ...], axis: int | None) -> int | None:
    """Where a reshape puts the (size-1) batch axis, when it stays an axis of its own."""
    if axis is None:
        return None
    lead, rest = math.prod(before[:axis]), math.prod(before[axis + 1 :])
    for j, n in enumerate(after):
        if n == 1 and math.prod(after[:j]) == lead and math.prod(after[j + 1 :]) == rest:
            return j
    return None


@rule("Reshape", "Flatten", "Squeeze", "Unsqueeze")
def reshape(lw: Lowering, node) -> None:
    x, out = node.input[0], node.output[0]
    axis = _reshape_batch_axis(lw.dims(x), lw.dims(out), lw.batch_axis.get(x))
    lw.batch_axis[out] = axis
    dims = lw.sample_dims(out)
    shape = lw.shape(x)
    if node.op_type == "Flatten" and attrs(node).get("axis", 1) == 1 and lw.batch_axis.get(x) == 0:
        return lw.add(node, get("flatten")(), [x], out, batch_axis=0)
    if dims == shape.dims:
        return lw.alias(out, x)
    lw.add(node, get("reshape")(dims=dims), [x], out, batch_axis=axis)


@rule("Transpose")
def transpose(lw: Lowering, node) -> None:
    x, out = node.input[0], node.output[0]
    rank = len(lw.dims(x))
    perm = list(attrs(node).get("perm", range(rank - 1, -1, -1)))
    batch = lw.batch_axis.get(x)
    sample = [p - (batch is not None and p > batch) for p in perm if p != batch]
    out_batch = perm.index(batch) if batch is not None else None
    if sample == sorted(sample):
        lw.alias(out, x)
        lw.batch_axis[out] = out_batch
        return
    roles = letters(lw, x)
    layout = "".join(roles[p] for p in sample) if roles else ""
    op = get("permute_dims")(dims=tuple(sample), layout=layout if layout in LAYOUTS else "")
    lw.add(node, op, [x], out, batch_axis=out_batch)


@rule("Concat")
def concat(lw: Lowering, node) -> None:
    """Along a map's (or a vector's) channels: ``concat``; otherwise a copy, its learned
    operands (a class token) params."""
    acts = [i for i in node.input if i and lw.is_act(i)]
    consts = [i for i in node.input if i and lw.is_const(i)]
    axis = sample_axis(lw, acts[0], attrs(node)["axis"])
    shapes = [lw.shape(i) for i in acts]
    if not consts and axis == 0 and all(s.layout in ("CHW", "F") for s in shapes):
        return lw.add(node, get("concat")(), acts, node.output[0])
    lw.add_opaque(node, acts, node.output[0], params=lw.new_params(consts))


@rule("Split")
def split(lw: Lowering, node) -> None:
    x = node.input[0]
    a = attrs(node)
    axis = sample_axis(lw, x, a.get("axis", 0))
    if len(node.input) > 1 and node.input[1]:
        sizes = [int(v) for v in const_value(lw, node.input[1]).tolist()]
    else:
        n = lw.dims(x)[a.get("axis", 0)]
        parts = len(node.output)
        sizes = a.get("split") or [-(-n // parts)] * (parts - 1) + [n - (parts - 1) * -(-n // parts)]
    shape = lw.shape(x)
    for k, out in enumerate(node.output):
        if not out:
            continue
        if shape.is_map and axis == 0 and all(s > 0 for s in sizes):
            lw.add(node, get("split")(sizes=tuple(sizes), index=k), [x], out, suffix=f".{k}")
        else:
            lw.add_opaque(node, [x], out, view=True)


@rule("Slice")
def slice_(lw: Lowering, node) -> None:
    """A channel range of a map is a ``split`` part, a centred window a ``crop``; other slices
    are views, except off-centre windows of a map's positions (their field offsets are not
    modelled: unknown)."""
    x, starts, ends, axes, steps = operands(node, 5)
    starts = [int(v) for v in const_value(lw, starts).tolist()]
    ends = [int(v) for v in const_value(lw, ends).tolist()]
    axes = [int(v) for v in const_value(lw, axes).tolist()] if axes else list(range(len(starts)))
    steps = [int(v) for v in const_value(lw, steps).tolist()] if steps else [1] * len(starts)
    shape, out = lw.shape(x), node.output[0]
    sample = [sample_axis(lw, x, ax) for ax in axes]
    spans = {}
    for ax, s, e in zip(sample, starts, ends, strict=True):
        n = shape.dims[ax]
        s, e = (min(max(v + n if v < 0 else v, 0), n) for v in (s, e))
        spans[ax] = (s, e)
    if any(step != 1 for step in steps):
        raise Unfit(f"a strided slice (steps {steps})")
    if shape.is_map and set(spans) == {0}:
        s, e = spans[0]
        sizes = [size for size in (s, e - s, shape.c - e) if size]
        return lw.add(node, get("split")(sizes=tuple(sizes), index=1 if s else 0), [x], out)
    roles = letters(lw, x)
    spatial = [ax for ax in spans if roles and roles[ax] in "HW"]
    if spatial and shape.is_map and set(spans) <= {1, 2}:
        h, w = (spans.get(ax, (0, shape.dims[ax])) for ax in (1, 2))
        if all(lo == (shape.dims[ax] - (hi - lo)) // 2 for ax, (lo, hi) in ((1, h), (2, w))):
            return lw.add(node, get("crop")(h=h[1] - h[0], w=w[1] - w[0]), [x], out)
    if spatial:
        raise Unfit("an off-centre window of a map")
    lw.add_opaque(node, [x], out, view=True)


@rule("Resize", "Upsample")
def resize(lw: Lowering, node) -> None:
    x, out = node.input[0], node.output[0]
    a = attrs(node)
    shape = lw.shape(x)
    after = lw.sample_dims_of(out, node)
    if not shape.is_map or after[0] != shape.c or any(o % i for o, i in zip(after[1:], shape.spatial, strict=True)):
        raise Unfit("a resize other than an integer up-sampling of a map")
    mode = a.get("mode", "nearest")
    transform = a.get("coordinate_transformation_mode", "half_pixel")
    if mode == "linear" and transform not in ("half_pixel", "pytorch_half_pixel"):
        raise Unfit(f"linear resize with {transform} coordinates")
    if mode not in ("nearest", "linear"):
        raise Unfit(f"{mode} resize")
    scale = tuple(o // i for o, i in zip(after[1:], shape.spatial, strict=True))
    lw.add(node, get("upsample")(scale=scale, mode="bilinear" if mode == "linear" else "nearest"), [x], out)


@rule("Expand", "Tile")
def expand(lw: Lowering, node) -> None:
    lw.add_opaque(node, [node.input[0]], node.output[0])

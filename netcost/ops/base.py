"""The Op contract: one frozen dataclass per op kind, owning its shape rule, cost,
receptive-field effect, formulas, backward cost and saved tensors (training), and
(lazily) its torch builder.

Field annotations are the spec schema: the spec loader coerces YAML values into them
(``Pair`` accepts ``3`` or ``[1, 7]``; ``Padding`` accepts ``1``, ``[1, 2]``,
``[top, bottom, left, right]``, ``same`` or ``valid``), and each carries its domain
(netcost.spec.fields.Domain): ``Count`` and ``Pair`` are positive, ``Offsets`` and
``Padding`` non-negative, so a shape rule never sees a zero stride or a negative size.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, Any, ClassVar

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import LAYOUTS, Shape, same_padding
from netcost.errors import ShapeError
from netcost.spec.fields import NON_NEGATIVE, PADDING, PAIR, POSITIVE, POSITIVE_REAL, UNIT_INTERVAL, Domain

Count = Annotated[int, POSITIVE]  # channels, groups, sizes: >= 1
Pair = Annotated[tuple[int, int], PAIR, POSITIVE]  # an int for both axes, or [h, w]; each >= 1
Offsets = Annotated[tuple[int, int], PAIR, NON_NEGATIVE]  # per-axis amounts that may be 0 (>= 0)
Padding = Annotated[tuple[int, int, int, int] | str, PADDING]  # see module docstring; >= 0
Real = Annotated[float, Domain()]  # any finite number
PositiveReal = Annotated[float, POSITIVE_REAL]
Probability = Annotated[float, UNIT_INTERVAL]

Shapes = tuple[Shape, ...]


@dataclass(frozen=True)
class Formula:
    """A layer's cost written the way the slides write it, with its numbers."""

    params: str | None = None
    flops: str | None = None


@dataclass(frozen=True, kw_only=True)
class Op:
    """Base of every op. Subclasses are frozen dataclasses registered with ``@register``."""

    kind: ClassVar[str] = ""
    family: ClassVar[str] = ""
    arity: ClassVar[tuple[int, int | None]] = (1, 1)  # (min, max) inputs; None = unbounded
    is_view: ClassVar[bool] = False  # output aliases the input's storage (flatten, dropout in eval)
    layouts: ClassVar[tuple[str, ...] | None] = None  # input layouts it takes (core.shape); None: any
    # the layer is one learnable tensor (class token, layer scale): compiled, the tensor is
    # registered on the parent under the layer's name, as torchvision does (counted.compile)
    one_tensor: ClassVar[bool] = False
    EXAMPLES: ClassVar[list[tuple[Shapes, dict[str, Any]]]] = []

    def shape(self, ins: Shapes) -> Shape:
        return ins[0]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost()

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return fields_in[0]

    def rf_back(self, axis: int, span: tuple[int, int], ins: Shapes, out: Shape) -> tuple[tuple[int, int], ...]:
        """Positions of each input (along ``axis``: 0 = h, 1 = w) that outputs ``span`` read.
        Default: the same positions (element-wise ops, merges). Used where fields are
        position-dependent (after up-sampling); see netcost.analysis.receptive."""
        return (span,) * len(ins)

    def formula(self, ins: Shapes, out: Shape) -> Formula | None:
        return None

    # --- training (netcost.analysis.training) ---------------------------------------------
    # ``needs_grad[i]``: input i needs a gradient (some trainable layer feeds it; never the
    # network input). ``trainable``: this layer has parameters and they are not frozen.
    # Both are called only for layers whose output needs a gradient.

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Per-sample backward work. This default suits an op that has no rule of its own:
        the input gradient costs the forward's MACs, the weight gradient too when the layer
        trains, and the elementwise work is the forward's."""
        cost = self.cost(ins, out)
        wants_input = any(needs_grad)
        return BackwardCost(
            dgrad_macs=cost.macs if wants_input else 0,
            wgrad_macs=cost.macs if trainable and cost.params else 0,
            elementwise=cost.elementwise,
            alias=self.is_view,
        )

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """What autograd keeps for this layer's backward. Default: a view keeps nothing; any
        other op its inputs (the common case: conv, pooling, most activations)."""
        return Saved() if self.is_view else Saved(inputs=tuple(range(len(ins))))

    def param_tensors(self, ins: Shapes, out: Shape) -> tuple[int, ...]:
        """Sizes of the layer's parameter tensors in torch's registration order (the
        optimizer keeps state per tensor). Default from the cost: weight, then bias."""
        cost = self.cost(ins, out)
        if not cost.params:
            return ()
        if 0 < cost.bias < cost.params:
            return (cost.params - cost.bias, cost.bias)
        return (cost.params,)

    def is_view_in_training(self) -> bool:
        """Whether the output aliases the input in train mode (dropout does only in eval)."""
        return self.is_view

    def describe(self) -> str:
        """Short text of the arguments that differ from their defaults: ``3x3 /2 p1 g32``."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "out" or value == f.default:
                continue
            parts.append(_ARG_TEXT.get(f.name, lambda n, v: f"{n}={_compact(v)}")(f.name, value))
        return " ".join(parts)

    def build(self, ins: Shapes, out: Shape):  # pragma: no cover - torch path, issue 4
        raise NotImplementedError(f"{self.kind}: no torch builder yet")


_ARG_TEXT = {
    "k": lambda n, v: f"{v[0]}x{v[1]}" if isinstance(v, tuple) else f"k={v}",
    "stride": lambda n, v: f"/{_compact(v)}",
    "pad": lambda n, v: f"p{_compact(v)}",
    "dilation": lambda n, v: f"d{_compact(v)}",
    "groups": lambda n, v: f"g{v}",
    "bias": lambda n, v: "bias" if v else "no-bias",
}


def _compact(value: Any) -> str:
    if isinstance(value, tuple) and len(set(value)) == 1:
        return str(value[0])
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def need_map(op: Op, x: Shape) -> None:
    if not x.is_map:
        raise ShapeError(
            f"{op.kind} needs a CxHxW feature map (channels first), got {x.describe()}", hint=layout_hint(x, "CHW")
        )


def need_layout(op: Op, x: Shape, accepted: tuple[str, ...]) -> None:
    """A located-by-the-caller ShapeError unless ``x``'s layout is one of ``accepted``."""
    if x.layout not in accepted:
        takes = " or ".join(f"{LAYOUTS.get(a, a)} ({a})" for a in accepted)
        hint = next((h for h in (layout_hint(x, a) for a in accepted) if h), None)
        raise ShapeError(f"{op.kind} takes {takes}, got {x.describe()}", hint=hint)


def layout_hint(x: Shape, wanted: str) -> str | None:
    """How to get from ``x``'s layout to ``wanted`` in a spec."""
    if x.layout == "HWC" and wanted == "CHW":
        return "permute to channels-first first: `permute: {layout: CHW}`"
    if x.layout == "CHW" and wanted in ("HWC", "LC"):
        return (
            "permute to channels-last first (`permute: {layout: HWC}`), or make tokens (`to_tokens`)"
            if wanted == "HWC"
            else "make tokens of the map first: `to_tokens` (CxHxW -> [H*W, C])"
        )
    if x.layout == "CHW" and wanted == "F":
        return "flatten the map first (`flatten`), or pool it (`gap`)"
    if x.layout == "LC" and wanted == "CHW":
        return (
            "tokens have no grid: reshape them back with `to_map: {h: ..., w: ...}` "
            "(an input of two sizes is tokens [L, C]; a map is written [C, H, W])"
        )
    if x.layout == "F":
        return "the input is flat (after flatten or global pooling)"
    return None


def positive_out(op: Op, x: Shape, out: Shape) -> Shape:
    if any(d <= 0 for d in out.dims):
        raise ShapeError(f"{op.kind} shrinks {x} to {out}: the input is too small for this window")
    return out


def is_asymmetric(pads: tuple[tuple[int, int], ...]) -> bool:
    """Padding torch layers cannot express: the compiled module pads a copy in front."""
    return any(before != after for before, after in pads)


def padded_numel(x: Shape, pads: tuple[tuple[int, int], ...]) -> int:
    (t, b), (left, right) = pads
    return x.c * (x.h + t + b) * (x.w + left + right)


def resolve_pads(padding: tuple[int, int, int, int] | str, x: Shape, k, s, d) -> tuple[tuple[int, int], ...]:
    """Per-axis (before, after) padding; ``same`` depends on the input size."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple(same_padding(n, k[i], s[i], d[i]) for i, n in enumerate(x.spatial))
    t, b, left, right = padding
    return ((t, b), (left, right))

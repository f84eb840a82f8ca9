"""Ops that join branches: add (residual), concat (Inception, DenseNet), mul (SE gate)."""

from __future__ import annotations

from dataclasses import dataclass

from netcost.core import rf as rflib
from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Op, Shapes, need_layout


@dataclass(frozen=True, kw_only=True)
class MergeOp(Op):
    """Two or more inputs; the receptive field is the largest of the branches'."""

    arity = (2, None)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return rflib.merge(fields_in)


def _shapes(ins: Shapes) -> str:
    return ", ".join(str(s) for s in ins)


def _broadcast(op: Op, ins: Shapes) -> Shape:
    """The largest input, when every other input broadcasts to it (a ``Cx1x1`` gate does)."""
    out = max(ins, key=lambda s: s.numel)
    if len({x.layout for x in ins}) > 1:
        raise ShapeError(f"{op.kind} needs inputs of one layout, got {', '.join(x.describe() for x in ins)}")
    for x in ins:
        if x.rank != out.rank or any(a not in (1, b) for a, b in zip(x.dims, out.dims, strict=True)):
            raise ShapeError(f"{op.kind} needs equal (or broadcastable) shapes, got {_shapes(ins)}")
    return out


@register("add")
@dataclass(frozen=True, kw_only=True)
class Add(MergeOp):
    """Element-wise sum (residual connections): one add per element per extra input."""

    def shape(self, ins: Shapes) -> Shape:
        return _broadcast(self, ins)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=(len(ins) - 1) * out.numel)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Every input receives the output's gradient itself: no work, no new tensor."""
        return BackwardCost(alias=True)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Add

        return Add()

    EXAMPLES = [((Shape.of(8, 4, 4), Shape.of(8, 4, 4)), {})]


@register("concat")
@dataclass(frozen=True, kw_only=True)
class Concat(MergeOp):
    """Concatenation along channels; spatial sizes must agree, or with ``crop: true`` larger
    inputs are centre-cropped to the smallest (U-Net's skip connections). A copy, no arithmetic."""

    crop: bool = False

    layouts = ("CHW", "F")

    def shape(self, ins: Shapes) -> Shape:
        for x in ins:
            need_layout(self, x, self.layouts)
        if len({x.rank for x in ins}) != 1 or (not self.crop and len({x.spatial for x in ins}) != 1):
            raise ShapeError(f"concat needs equal spatial sizes, got {_shapes(ins)}", hint=_CROP_HINT)
        spatial = tuple(min(sizes) for sizes in zip(*(x.spatial for x in ins), strict=True))
        return Shape.of(sum(x.c for x in ins), *spatial)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Each input's gradient is a slice (a view) of the output's gradient; with ``crop``
        a cropped input's gradient is a new zero tensor with the slice copied in."""
        return BackwardCost(alias=not self.crop)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Concat

        return Concat(self.crop)

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        """With ``crop``, each input is read at its centre-crop offset."""
        if not self.crop or not out.is_map:
            return (span,) * len(ins)
        return tuple(
            (span[0] + (x.spatial[axis] - out.spatial[axis]) // 2, span[1] + (x.spatial[axis] - out.spatial[axis]) // 2)
            for x in ins
        )

    EXAMPLES = [
        ((Shape.of(8, 4, 4), Shape.of(3, 4, 4), Shape.of(1, 4, 4)), {}),
        ((Shape.of(8, 64, 64), Shape.of(8, 56, 56)), dict(crop=True)),
    ]


_CROP_HINT = "to centre-crop the larger inputs, merge with `{concat: {crop: true}}`"


@register("mul")
@dataclass(frozen=True, kw_only=True)
class Mul(MergeOp):
    """Element-wise product, broadcasting a ``Cx1x1`` gate over a ``CxHxW`` map (SE)."""

    def shape(self, ins: Shapes) -> Shape:
        return _broadcast(self, ins)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=(len(ins) - 1) * out.numel)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Each input's gradient is the output's gradient times the other inputs: one
        multiply per output element; a broadcast input (an SE gate) then sums it over the
        map (one add per output element), from a full-size product that is freed after."""
        wanted = [i for i, need in enumerate(needs_grad) if need]
        broadcast = [i for i in wanted if ins[i].numel != out.numel]
        return BackwardCost(
            elementwise=(len(wanted) + len(broadcast)) * out.numel,
            transient=len(broadcast) * out.numel,
        )

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """``a * b`` keeps ``b`` for ``a``'s gradient and ``a`` for ``b``'s, only when that
        gradient is needed. More inputs are multiplied in turn (``(a * b) * c``): each
        partial product that a later gradient needs is a private map-sized tensor."""
        if len(ins) == 2:
            keep = tuple(i for i, other in ((0, 1), (1, 0)) if needs_grad[other])
            return Saved(inputs=keep)
        return Saved(inputs=tuple(range(len(ins))), temps=(len(ins) - 2) * out.numel)

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Mul

        return Mul()

    EXAMPLES = [((Shape.of(8, 5, 5), Shape.of(8, 1, 1)), {})]

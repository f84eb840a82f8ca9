"""Ops that move or drop data without arithmetic: flatten, identity, dropout, crop."""

from __future__ import annotations

from dataclasses import dataclass

from netcost.core.cost import BackwardCost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Op, Probability, Shapes, need_map


@register("flatten")
@dataclass(frozen=True, kw_only=True)
class Flatten(Op):
    """``CxHxW -> (C*H*W,)``, a view. Units keep their field but leave the grid."""

    is_view = True

    def shape(self, ins: Shapes) -> Shape:
        return Shape.of(ins[0].numel)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return fields_in[0].flattened()

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.Flatten()

    EXAMPLES = [((Shape.of(8, 3, 3),), {})]


@register("identity")
@dataclass(frozen=True, kw_only=True)
class Identity(Op):
    """Passes its input through (a placeholder, or a named no-op)."""

    is_view = True

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.Identity()

    EXAMPLES = [((Shape.of(4, 5, 5),), {})]


@register("dropout")
@dataclass(frozen=True, kw_only=True)
class Dropout(Op):
    """Zero cost at inference, where it returns its input."""

    p: Probability = 0.5
    is_view = True

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise ValueError(f"p must be within [0, 1], got {self.p}")

    def is_view_in_training(self) -> bool:
        """In training dropout writes a new tensor (unless p = 0, where torch returns the input)."""
        return self.p == 0

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        if self.p == 0:
            return BackwardCost(alias=True)
        return BackwardCost(elementwise=out.numel)  # grad * mask / (1 - p), the scale folded in the mask

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """The mask: ``native_dropout``'s bool mask on CUDA; on CPU torch multiplies by a
        scaled noise tensor of the input's dtype and keeps that."""
        return Saved() if self.p == 0 else Saved(mask=out.numel)

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.Dropout(self.p)

    EXAMPLES = [((Shape.of(16),), dict(p=0.2))]


@register("crop")
@dataclass(frozen=True, kw_only=True)
class Crop(Op):
    """Centre crop to ``h x w`` (U-Net's skip connections); a view, no arithmetic."""

    h: Count
    w: Count
    is_view = True

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        if self.h > x.h or self.w > x.w or self.h < 1 or self.w < 1:
            raise ShapeError(f"crop to {self.h}x{self.w} does not fit in {x}")
        return Shape.of(x.c, self.h, self.w)

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        offset = (ins[0].spatial[axis] - out.spatial[axis]) // 2
        return ((span[0] + offset, span[1] + offset),)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        offsets = ((ins[0].h - self.h) // 2, (ins[0].w - self.w) // 2)
        return fields_in[0].map_axes(lambda i, a: a.through(1, 1, -offsets[i]))

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """A view forward, but the gradient is a new zero tensor of the input's size with
        the output's gradient copied in (``slice_backward``)."""
        return BackwardCost()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Crop

        return Crop(self.h, self.w)

    EXAMPLES = [((Shape.of(4, 64, 64),), dict(h=56, w=56))]

"""Ops that regroup channels without arithmetic: split (one part of the channels, a view)
and channel_shuffle (ShuffleNet's reshape-transpose-reshape, a copy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from netcost.core.cost import BackwardCost, Saved
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Op, Shapes, need_map
from netcost.spec.fields import INTS, NON_NEGATIVE, POSITIVE

Index = Annotated[int, NON_NEGATIVE]  # a position, from 0
Sizes = Annotated[tuple[int, ...], INTS, POSITIVE]  # channel counts, each >= 1


@register("split")
@dataclass(frozen=True, kw_only=True)
class Split(Op):
    """One part of the channels: ``x.chunk(parts, dim=1)[index]`` or
    ``torch.split(x, sizes, dim=1)[index]``; a view, no arithmetic.

    Each part that a network uses is its own layer; a branch of a ``parallel`` starts with
    one (ShuffleNetV2's ``x1, x2 = x.chunk(2, dim=1)``: ``split: {parts: 2, index: 0}`` in
    one branch, ``index: 1`` in the other).
    """

    parts: Count | None = None
    sizes: Sizes | None = None
    index: Index
    is_view = True

    def __post_init__(self):
        if (self.parts is None) == (self.sizes is None):
            raise ValueError("split takes `parts` (equal parts) or `sizes` (channels of each part), one of them")

    def part_sizes(self, channels: int) -> tuple[int, ...]:
        if self.sizes is not None:
            if sum(self.sizes) != channels:
                raise ShapeError(
                    f"split sizes {list(self.sizes)} sum to {sum(self.sizes)}, not the input's {channels} channels",
                    hint="the sizes of torch.split must add up to the channels exactly",
                )
            return self.sizes
        if channels % self.parts:
            raise ShapeError(
                f"split into {self.parts} equal parts needs channels divisible by {self.parts}, got {channels}",
                hint="give `sizes` for parts of different widths",
            )
        return (channels // self.parts,) * self.parts

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        sizes = self.part_sizes(x.c)
        if self.index >= len(sizes):
            parts = len(sizes)
            raise ShapeError(f"split index {self.index} is out of range: {parts} parts (index 0..{parts - 1})")
        return Shape.of(sizes[self.index], x.h, x.w)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """A view forward, but the input's gradient is a new tensor of the input's size (the
        part's gradient copied in, zeros elsewhere; torch's ``split_backward``). Torch builds
        one such tensor for all the parts of one chunk call; two parts used here are two
        layers, each counted with its own full-size gradient (summed in place)."""
        return BackwardCost()

    def describe(self) -> str:
        whole = f"{self.parts} parts" if self.parts is not None else "+".join(map(str, self.sizes or ()))
        return f"part {self.index} of {whole}"

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import ChannelSplit

        return ChannelSplit(self.index, parts=self.parts, sizes=self.sizes)

    EXAMPLES = [
        ((Shape.of(8, 5, 5),), dict(parts=2, index=1)),
        ((Shape.of(12, 4, 6),), dict(sizes=[3, 4, 5], index=2)),
    ]


@register("channel_shuffle")
@dataclass(frozen=True, kw_only=True)
class ChannelShuffle(Op):
    """ShuffleNet's channel shuffle: ``C = groups x (C / groups)`` transposed to
    ``(C / groups) x groups``, as torchvision's view-transpose-contiguous-view. A copy, no
    arithmetic; torch keeps nothing for its backward (a copy back)."""

    groups: Count

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        if x.c % self.groups:
            raise ShapeError(f"channel_shuffle groups={self.groups} must divide the {x.c} channels")
        return x

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return BackwardCost()  # the gradient shuffled back: a new tensor, no arithmetic

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import ChannelShuffle

        return ChannelShuffle(self.groups)

    EXAMPLES = [((Shape.of(8, 5, 5),), dict(groups=2)), ((Shape.of(12, 3, 4),), dict(groups=3))]

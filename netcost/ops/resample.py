"""Up-sampling by an integer factor (nearest or bilinear)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from netcost.core.conventions import UPSAMPLE_BILINEAR, UPSAMPLE_NEAREST
from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.ops import register
from netcost.ops.base import Op, Pair, Shapes, need_map

# elementwise operations per output element: a copy for nearest; 4 taps weighted and summed
# for bilinear (fvcore prices them apart: netcost.core.conventions).
PER_OUTPUT = {"nearest": 0, "bilinear": 4}
WORK_KIND = {"nearest": UPSAMPLE_NEAREST, "bilinear": UPSAMPLE_BILINEAR}


@register("upsample")
@dataclass(frozen=True, kw_only=True)
class Upsample(Op):
    """``nn.Upsample(scale_factor, mode)`` with ``align_corners=False``."""

    scale: Pair = (2, 2)
    mode: Literal["nearest", "bilinear"] = "nearest"

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        return Shape.of(x.c, x.h * self.scale[0], x.w * self.scale[1])

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=PER_OUTPUT[self.mode] * out.numel, work=((WORK_KIND[self.mode], out.numel),))

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Each output's gradient goes back to the input pixels it was made of: 1 add per
        output element for nearest, 4 weighted adds for bilinear."""
        return BackwardCost(elementwise=(1 if self.mode == "nearest" else 4) * out.numel)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Nothing: the backward needs only the sizes."""
        return Saved()

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        """Nearest: output ``o`` copies input ``floor(o / f)``; bilinear (align_corners=False)
        blends ``floor((o + 0.5) / f - 0.5)`` and the next one."""
        f, (lo, hi) = self.scale[axis], span
        if self.mode == "nearest":
            return ((lo // f, hi // f),)
        return ((math.floor((lo + 0.5) / f - 0.5), math.floor((hi + 0.5) / f - 0.5) + 1),)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        taps = 2 if self.mode == "bilinear" else 1

        def through(i, a):
            f = self.scale[i]
            shift = Fraction(1 - f, 2 * f) if taps == 2 else 0  # centre of output 0 in input pixels
            return a.resampled(f, taps, shift)

        return fields_in[0].map_axes(through)

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        align = False if self.mode == "bilinear" else None
        return nn.Upsample(scale_factor=tuple(float(s) for s in self.scale), mode=self.mode, align_corners=align)

    EXAMPLES = [((Shape.of(4, 5, 5),), {}), ((Shape.of(2, 4, 6),), dict(scale=[2, 3], mode="bilinear"))]

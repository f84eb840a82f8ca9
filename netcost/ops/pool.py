"""Pooling: max and average windows (with torch's ceil_mode), adaptive and global average."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from netcost.core.conventions import ADAPTIVE_POOL
from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF, AxisRF, window_span
from netcost.core.shape import Shape, window_out
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import (
    Op,
    Padding,
    Pair,
    Shapes,
    is_asymmetric,
    need_map,
    padded_numel,
    positive_out,
    resolve_pads,
)


@dataclass(frozen=True, kw_only=True)
class WindowPool(Op):
    """A ``k`` window every ``stride`` (default ``k``): ``kh*kw`` operations per output
    element (comparisons for max; adds and one divide for average)."""

    k: Pair
    stride: Pair | None = None
    pad: Padding = (0, 0, 0, 0)
    dilation: Pair = (1, 1)
    ceil_mode: bool = False

    @property
    def strides(self) -> tuple[int, int]:
        return self.stride or self.k

    def pads(self, x: Shape):
        return resolve_pads(self.pad, x, self.k, self.strides, self.dilation)

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        pads = self.pads(x)
        if any(p > k // 2 for (p, _), k in zip(pads, self.k, strict=True)):
            raise ShapeError(f"{self.kind} padding {pads} must be at most half the kernel {self.k} (torch's rule)")
        hw = (
            window_out(n, self.k[i], self.strides[i], pads[i], self.dilation[i], self.ceil_mode)
            for i, n in enumerate(x.spatial)
        )
        return positive_out(self, x, Shape.of(x.c, *hw))

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=self.k[0] * self.k[1] * out.numel)

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        pads = self.pads(ins[0])
        return (window_span(span, self.k[axis], self.strides[axis], pads[axis][0], self.dilation[axis]),)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        pads = self.pads(ins[0])
        return fields_in[0].map_axes(lambda i, a: a.through(self.k[i], self.strides[i], pads[i][0], self.dilation[i]))


def _padded(op: WindowPool, x: Shape) -> int:
    """Elements of the padded copy the compiled module makes (asymmetric padding), else 0."""
    pads = op.pads(x)
    return padded_numel(x, pads) if is_asymmetric(pads) else 0


def _window_module(op, ins: Shapes, fill: float):
    """nn.MaxPool2d / nn.AvgPool2d, padded in front when the padding is asymmetric."""
    from torch import nn

    from netcost.counted.modules import with_padding

    x = ins[0]
    if op.kind == "maxpool":
        return with_padding(
            lambda p: nn.MaxPool2d(op.k, op.strides, p, op.dilation, ceil_mode=op.ceil_mode), op.pads(x), fill
        )
    return with_padding(
        lambda p: nn.AvgPool2d(op.k, op.strides, p, op.ceil_mode, op.count_include_pad), op.pads(x), fill
    )


@register("maxpool")
@dataclass(frozen=True, kw_only=True)
class MaxPool(WindowPool):
    """Max pooling (``nn.MaxPool2d``)."""

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Each output's gradient is added at its argmax: one add per output element."""
        return BackwardCost(elementwise=out.numel, transient=_padded(self, ins[0]))

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Its input (the padded copy with asymmetric padding) and the int64 argmax indices
        (8 bytes per output element whatever the activation dtype)."""
        padded = _padded(self, ins[0])
        if padded:
            return Saved(temps=padded, indices=out.numel)
        return Saved(inputs=(0,), indices=out.numel)

    def build(self, ins: Shapes, out: Shape):
        return _window_module(self, ins, float("-inf"))

    EXAMPLES = [
        ((Shape.of(4, 112, 112),), dict(k=3, stride=2, pad=1)),
        ((Shape.of(4, 55, 55),), dict(k=3, stride=2)),
        ((Shape.of(3, 14, 14),), dict(k=3, stride=2, ceil_mode=True)),
    ]


@register("avgpool")
@dataclass(frozen=True, kw_only=True)
class AvgPool(WindowPool):
    """Average pooling (``nn.AvgPool2d``); padded zeros count in the mean unless told otherwise."""

    count_include_pad: bool = True

    def __post_init__(self):
        if self.dilation != (1, 1):
            raise ValueError("avgpool has no dilation in torch")

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Each output's gradient, divided, is added to its whole window: k*k per output."""
        return BackwardCost(elementwise=self.k[0] * self.k[1] * out.numel, transient=_padded(self, ins[0]))

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """``avg_pool2d`` keeps its input (the padded copy with asymmetric padding)."""
        padded = _padded(self, ins[0])
        return Saved(temps=padded) if padded else Saved(inputs=(0,))

    def build(self, ins: Shapes, out: Shape):
        return _window_module(self, ins, 0.0)

    EXAMPLES = [((Shape.of(4, 8, 8),), dict(k=2)), ((Shape.of(2, 9, 9),), dict(k=3, stride=1, pad=1))]


@register("adaptive_avgpool")
@dataclass(frozen=True, kw_only=True)
class AdaptiveAvgPool(Op):
    """``nn.AdaptiveAvgPool2d(out)``: bin ``i`` averages ``[floor(i n/o), ceil((i+1) n/o))``.
    Every input element is added once: ``C*H*W`` operations."""

    out: Pair

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        return positive_out(self, x, Shape.of(x.c, *self.out))

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        n = ins[0].numel
        return Cost(elementwise=n, work=((ADAPTIVE_POOL, n),))

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """Each input element receives its bin's gradient over the bin size: 1 per input."""
        return BackwardCost(elementwise=ins[0].numel)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Nothing for a 1x1 output: torch computes it as ``mean`` (its backward needs only
        sizes); ``_adaptive_avg_pool2d`` keeps its input otherwise."""
        return Saved() if all(o == 1 for o in out.spatial) else Saved(inputs=(0,))

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        """Bin ``i`` averages ``[floor(i n / o), ceil((i + 1) n / o))``."""
        n, o = ins[0].spatial[axis], out.spatial[axis]
        lo, hi = span
        return (((lo * n) // o, -((-(hi + 1) * n) // o) - 1),)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        if all(o == 1 for o in out.spatial):
            return RF.whole()

        def through(i: int, a: AxisRF) -> AxisRF:
            n, o = ins[0].spatial[i], out.spatial[i]
            # bin j spans ceil((t + n) / o) inputs, t = j*n mod o: widest at t = o - gcd(n, o)
            widest = -(-(o - math.gcd(n, o) + n) // o)
            return AxisRF(
                size=a.size + (widest - 1) * a.jump,
                jump=a.jump * Fraction(n, o),
                start=a.start + Fraction(math.ceil(n / o) - 1, 2) * a.jump,  # bin 0 is [0, ceil(n/o))
            )

        return fields_in[0].map_axes(through)

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.AdaptiveAvgPool2d(self.out)

    EXAMPLES = [((Shape.of(4, 13, 13),), dict(out=6)), ((Shape.of(4, 7, 7),), dict(out=7))]


@register("gap")
@dataclass(frozen=True, kw_only=True)
class GlobalAvgPool(AdaptiveAvgPool):
    """Global average pooling to ``Cx1x1``: every output sees the whole input."""

    out: Pair = (1, 1)

    EXAMPLES = [((Shape.of(8, 7, 7),), {})]


@register("mean")
@dataclass(frozen=True, kw_only=True)
class SpatialMean(GlobalAvgPool):
    """``x.mean((2, 3), keepdim=True)``: global average pooling written as a reduction (timm's
    SE modules). Same shape, work and field as ``gap``, but fvcore does not count ``aten::mean``."""

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=ins[0].numel)  # an aten mean: no adaptive-pool work for fvcore

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import SpatialMean as Module

        return Module()

    EXAMPLES = [((Shape.of(8, 7, 7),), {})]

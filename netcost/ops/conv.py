"""Convolutions: ``conv`` (grouped, depthwise, dilated, per-axis) and ``conv_transpose``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF, AxisRF, window_span
from netcost.core.shape import Shape, window_out
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import (
    Count,
    Formula,
    Offsets,
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
from netcost.units import grouped, si_unit


def _check_groups(op, x: Shape, out: int) -> None:
    if op.groups < 1 or x.c % op.groups or out % op.groups:
        raise ShapeError(
            f"{op.kind} groups={op.groups} must divide both input channels ({x.c}) and output channels ({out})"
        )


def _formula(op, dims: tuple[object, ...], weights: int, per_unit: int, grid: tuple[int, int]) -> Formula:
    """``dims`` are the weight tensor's factors as the slides write them (``out x in x kh x kw``)."""
    bias = f" (+{op.out})" if op.bias else ""
    params = weights + (op.out if op.bias else 0)
    macs = weights * grid[0] * grid[1]
    return Formula(
        params=f"{' x '.join(str(d) for d in dims)}{bias} = {grouped(params)}",
        flops=f"2 x {op.out} x {grid[0]} x {grid[1]} x {per_unit} = {si_unit(2 * macs, 'FLOPs')}",
    )


def _backward(op, macs: int, out: Shape, needs_grad: tuple[bool, ...], trainable: bool, padded: int) -> BackwardCost:
    """dgrad (a transposed convolution of the output gradient with the weights) and wgrad
    (a convolution of the input with the output gradient) each take the forward's MACs:
    every weight meets every output position once, and a grouped conv does 1/groups of a
    dense one's work in all three. The bias gradient is a sum over the output: one add per
    output element. ``padded``: elements of the padded copy an asymmetric padding makes
    (its gradient is allocated, then cropped)."""
    return BackwardCost(
        dgrad_macs=macs if needs_grad[0] else 0,
        wgrad_macs=macs if trainable else 0,
        elementwise=out.numel if op.bias and trainable else 0,
        transient=padded if needs_grad[0] else 0,
    )


def _per_group(n: int, groups: int) -> str:
    return f"{n}/{groups}" if groups > 1 else str(n)


@register("conv")
@dataclass(frozen=True, kw_only=True)
class Conv(Op):
    """2-D convolution; ``groups == in_channels`` is depthwise (MobileNet)."""

    out: Count
    k: Pair
    stride: Pair = (1, 1)
    pad: Padding = (0, 0, 0, 0)
    dilation: Pair = (1, 1)
    groups: Count = 1
    bias: bool = True

    def pads(self, x: Shape):
        return resolve_pads(self.pad, x, self.k, self.stride, self.dilation)

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        _check_groups(self, x, self.out)
        pads = self.pads(x)
        hw = (window_out(n, self.k[i], self.stride[i], pads[i], self.dilation[i]) for i, n in enumerate(x.spatial))
        return positive_out(self, x, Shape.of(self.out, *hw))

    def weights(self, x: Shape) -> int:
        return self.out * (x.c // self.groups) * self.k[0] * self.k[1]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        weights = self.weights(ins[0])
        bias = self.out if self.bias else 0
        return Cost(
            params=weights + bias,
            macs=weights * out.h * out.w,
            elementwise=out.numel if self.bias else 0,
            bias=bias,
        )

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        pads = self.pads(ins[0])
        return (window_span(span, self.k[axis], self.stride[axis], pads[axis][0], self.dilation[axis]),)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        pads = self.pads(ins[0])
        return fields_in[0].map_axes(lambda i, a: a.through(self.k[i], self.stride[i], pads[i][0], self.dilation[i]))

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        x = ins[0]
        per_output = (x.c // self.groups) * self.k[0] * self.k[1]
        dims = (self.out, _per_group(x.c, self.groups), *self.k)
        return _formula(self, dims, self.weights(x), per_output, (out.h, out.w))

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        pads = self.pads(ins[0])
        padded = padded_numel(ins[0], pads) if is_asymmetric(pads) else 0
        return _backward(self, self.weights(ins[0]) * out.h * out.w, out, needs_grad, trainable, padded)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Its input, always (also when frozen, or when the input needs no gradient: torch's
        convolution keeps input and weight for either gradient). With asymmetric padding the
        input it keeps is the padded copy, private to the layer."""
        pads = self.pads(ins[0])
        if is_asymmetric(pads):
            return Saved(temps=padded_numel(ins[0], pads))
        return Saved(inputs=(0,))

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        from netcost.counted.modules import with_padding

        x = ins[0]
        return with_padding(
            lambda p: nn.Conv2d(x.c, self.out, self.k, self.stride, p, self.dilation, self.groups, self.bias),
            self.pads(x),
        )

    EXAMPLES = [
        ((Shape.of(3, 32, 32),), dict(out=8, k=3, pad=1)),
        ((Shape.of(16, 33, 33),), dict(out=16, k=3, stride=2, groups=16)),
        ((Shape.of(8, 32, 32),), dict(out=8, k=3, pad=2, dilation=2)),
        ((Shape.of(6, 17, 20),), dict(out=4, k=[1, 7], pad=[0, 3], groups=2, bias=False)),
        ((Shape.of(4, 15, 15),), dict(out=4, k=3, stride=2, pad="same")),
    ]


@register("conv_transpose")
@dataclass(frozen=True, kw_only=True)
class ConvTranspose(Op):
    """Transposed convolution. Its MACs are counted on the *input* grid: every input
    pixel is multiplied by the whole kernel once (counting on the output grid
    over-counts by stride^2, a common bug)."""

    out: Count
    k: Pair
    stride: Pair = (1, 1)
    pad: Offsets = (0, 0)
    output_pad: Offsets = (0, 0)
    dilation: Pair = (1, 1)
    groups: Count = 1
    bias: bool = True

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        _check_groups(self, x, self.out)
        hw = (
            (n - 1) * self.stride[i] - 2 * self.pad[i] + self.dilation[i] * (self.k[i] - 1) + self.output_pad[i] + 1
            for i, n in enumerate(x.spatial)
        )
        return positive_out(self, x, Shape.of(self.out, *hw))

    def weights(self, x: Shape) -> int:
        return x.c * (self.out // self.groups) * self.k[0] * self.k[1]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        x = ins[0]
        bias = self.out if self.bias else 0
        return Cost(
            params=self.weights(x) + bias,
            macs=self.weights(x) * x.h * x.w,
            elementwise=out.numel if self.bias else 0,
            bias=bias,
        )

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        """Output ``o`` reads input ``i`` when ``o = i*s - p + j*d`` for a tap ``j < k``."""
        s, p, d, k = self.stride[axis], self.pad[axis], self.dilation[axis], self.k[axis]
        lo, hi = span
        return ((-((-(lo + p - d * (k - 1))) // s), (hi + p) // s),)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        def through(i: int, a: AxisRF) -> AxisRF:
            k_eff = self.dilation[i] * (self.k[i] - 1) + 1
            taps = math.ceil(k_eff / self.stride[i])
            shift = (self.pad[i] - (k_eff - 1) / 2) / self.stride[i]
            return a.resampled(self.stride[i], taps, shift)

        return fields_in[0].map_axes(through)

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        x = ins[0]
        per_input = (self.out // self.groups) * self.k[0] * self.k[1]
        dims = (x.c, _per_group(self.out, self.groups), *self.k)
        return _formula(self, dims, self.weights(x), per_input, (x.h, x.w))

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        x = ins[0]
        return _backward(self, self.weights(x) * x.h * x.w, out, needs_grad, trainable, 0)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved(inputs=(0,))

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.ConvTranspose2d(
            ins[0].c, self.out, self.k, self.stride, self.pad, self.output_pad, self.groups, self.bias, self.dilation
        )

    EXAMPLES = [
        ((Shape.of(8, 16, 16),), dict(out=4, k=2, stride=2)),
        ((Shape.of(6, 7, 9),), dict(out=6, k=3, stride=2, pad=1, output_pad=1, groups=3)),
    ]

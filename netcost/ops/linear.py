"""Fully connected layers."""

from __future__ import annotations

from dataclasses import dataclass

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.ops import register
from netcost.ops.base import Count, Formula, Op, Shapes, need_layout
from netcost.units import grouped, si_unit


@register("linear")
@dataclass(frozen=True, kw_only=True)
class Linear(Op):
    """``y = W x + b`` over a flat vector (every output sees every input: a global field), or
    over the channels (last dim) of tokens ``LxC`` and of a channels-last map ``HxWxC``, at
    every position (the field is unchanged)."""

    out: Count
    bias: bool = True
    layouts = ("F", "LC", "HWC")

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        if x.layout == "F":
            return Shape.of(self.out)
        return Shape((*x.dims[:-1], self.out), x.layout)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        n_in, positions = _fan_in(ins[0])
        bias = self.out if self.bias else 0
        return Cost(
            params=n_in * self.out + bias,
            macs=positions * n_in * self.out,
            elementwise=positions * bias,
            bias=bias,
        )

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return RF.whole() if ins[0].layout == "F" else fields_in[0]

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        n_in, positions = _fan_in(ins[0])
        bias = f" (+{self.out})" if self.bias else ""
        params = n_in * self.out + (self.out if self.bias else 0)
        at = f" x {positions}" if positions > 1 else ""
        return Formula(
            params=f"{self.out} x {n_in}{bias} = {grouped(params)}",
            flops=f"2 x {self.out} x {n_in}{at} = {si_unit(2 * n_in * self.out * positions, 'FLOPs')}",
        )

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """dgrad ``grad @ W`` and wgrad ``grad^T @ x``: ``in x out`` MACs each; the bias
        gradient sums the output gradient (one add per output)."""
        n_in, positions = _fan_in(ins[0])
        macs = positions * n_in * self.out
        return BackwardCost(
            dgrad_macs=macs if needs_grad[0] else 0,
            wgrad_macs=macs if trainable else 0,
            elementwise=positions * self.out if self.bias and trainable else 0,
        )

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """``addmm`` keeps its input only for the weight gradient: a frozen linear keeps none."""
        return Saved(inputs=(0,) if trainable else ())

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.Linear(_fan_in(ins[0])[0], self.out, self.bias)

    EXAMPLES = [
        ((Shape.of(64),), dict(out=10)),
        ((Shape.of(33),), dict(out=7, bias=False)),
        ((Shape.tokens(5, 12),), dict(out=16)),  # tokens: per token
        ((Shape.channels_last(3, 4, 8),), dict(out=6)),  # a channels-last map: per position
    ]


def _fan_in(x: Shape) -> tuple[int, int]:
    """(inputs of one output, positions the layer is applied at)."""
    if x.layout == "F":
        return x.numel, 1
    return x.c, x.numel // x.c

"""Fully connected layers."""

from __future__ import annotations

from dataclasses import dataclass

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Formula, Op, Shapes
from netcost.units import grouped, si_unit


@register("linear")
@dataclass(frozen=True, kw_only=True)
class Linear(Op):
    """``y = W x + b`` over a flat vector; every output sees every input (global field)."""

    out: Count
    bias: bool = True

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        if x.rank != 1:
            raise ShapeError(f"linear needs a flat input, got {x}", hint=None)
        return Shape.of(self.out)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        n_in = ins[0].numel
        bias = self.out if self.bias else 0
        return Cost(params=n_in * self.out + bias, macs=n_in * self.out, elementwise=bias, bias=bias)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return RF.whole()

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        n_in = ins[0].numel
        bias = f" (+{self.out})" if self.bias else ""
        params = n_in * self.out + (self.out if self.bias else 0)
        return Formula(
            params=f"{self.out} x {n_in}{bias} = {grouped(params)}",
            flops=f"2 x {self.out} x {n_in} = {si_unit(2 * n_in * self.out, 'FLOPs')}",
        )

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """dgrad ``grad @ W`` and wgrad ``grad^T @ x``: ``in x out`` MACs each; the bias
        gradient sums the output gradient (one add per output)."""
        macs = ins[0].numel * self.out
        return BackwardCost(
            dgrad_macs=macs if needs_grad[0] else 0,
            wgrad_macs=macs if trainable else 0,
            elementwise=self.out if self.bias and trainable else 0,
        )

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """``addmm`` keeps its input only for the weight gradient: a frozen linear keeps none."""
        return Saved(inputs=(0,) if trainable else ())

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.Linear(ins[0].numel, self.out, self.bias)

    EXAMPLES = [((Shape.of(64),), dict(out=10)), ((Shape.of(33),), dict(out=7, bias=False))]

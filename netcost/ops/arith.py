"""Arithmetic with a constant: ``scale`` (``x * factor``), Inception-ResNet's scaled
residual ``out * scale + x``."""

from __future__ import annotations

from dataclasses import dataclass

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.shape import Shape
from netcost.ops import register
from netcost.ops.base import Op, Real, Shapes


@register("scale")
@dataclass(frozen=True, kw_only=True)
class Scale(Op):
    """``x * factor`` by a constant: one multiply per element, no parameters.

    fvcore and FlopCounterMode count it as 0 (``aten::mul`` by a number is no matmul); the
    receptive field is the input's."""

    factor: Real

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=out.numel)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """The input's gradient is the output's times the factor: one multiply per element."""
        return BackwardCost(elementwise=out.numel if needs_grad[0] else 0)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Nothing: the factor is a constant (``mul.Scalar`` keeps no tensor)."""
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Scale

        return Scale(self.factor)

    EXAMPLES = [((Shape.of(8, 5, 5),), dict(factor=0.17)), ((Shape.of(6),), dict(factor=-2))]

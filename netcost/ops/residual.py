"""What residual branches of transformers and ConvNeXt carry: layer scale and drop path."""

from __future__ import annotations

from dataclasses import dataclass

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.shape import Shape
from netcost.ops import register
from netcost.ops.base import Op, Probability, Shapes, need_layout

ANY_WITH_CHANNELS = ("CHW", "HWC", "LC")


@register("layer_scale")
@dataclass(frozen=True, kw_only=True)
class LayerScale(Op):
    """``gamma * x`` with a learnable ``gamma`` per channel (CaiT, ConvNeXt's ``layer_scale``,
    a ``(C, 1, 1)`` parameter on a channels-first map): ``C`` params, one multiply per element."""

    one_tensor = True
    layouts = ANY_WITH_CHANNELS

    def shape(self, ins: Shapes) -> Shape:
        need_layout(self, ins[0], self.layouts)
        return ins[0]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(params=out.c, elementwise=out.numel)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """``grad * gamma`` for the input; ``sum(grad * x)`` over the positions for ``gamma``."""
        return BackwardCost(elementwise=(out.numel if needs_grad[0] else 0) + (2 * out.numel if trainable else 0))

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved(inputs=(0,) if trainable else ())

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import LayerScale as Module

        return Module(out.c, channels_first=out.is_map)

    EXAMPLES = [
        ((Shape.of(8, 4, 4),), {}),
        ((Shape.tokens(5, 12),), {}),
        ((Shape.channels_last(3, 3, 6),), {}),
    ]


@register("drop_path")
@dataclass(frozen=True, kw_only=True)
class DropPath(Op):
    """Stochastic depth (torchvision's ``StochasticDepth(p, "row")``): in training a sample's
    whole branch is dropped with probability ``p``; at inference the identity, zero cost."""

    p: Probability = 0.0
    is_view = True

    def is_view_in_training(self) -> bool:
        return self.p == 0

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        if self.p == 0:
            return BackwardCost(alias=True)
        return BackwardCost(elementwise=out.numel)  # grad * noise

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """The per-sample noise (one element per sample), in the activation dtype."""
        return Saved() if self.p == 0 else Saved(temps=1)

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import StochasticDepth

        return StochasticDepth(self.p)

    EXAMPLES = [((Shape.of(8, 4, 4),), dict(p=0.1)), ((Shape.tokens(5, 12),), dict(p=0.2))]

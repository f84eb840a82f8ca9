"""Token sequences: maps to tokens and back, channels-last permutes, the class token, the
position embedding, selecting and averaging tokens, and the embedding of token ids.

A token tensor is ``LxC`` (core.shape's layout ``LC``). Made from a map (``to_tokens``),
each token keeps the field of its map position; the first attention over all tokens makes
every later unit global (netcost.core.rf).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Op, Shapes, need_layout
from netcost.spec.fields import ANY_INT

MapLayout = Literal["CHW", "HWC"]
Index = Annotated[int, ANY_INT]  # a position, negative from the end


@register("to_tokens")
@dataclass(frozen=True, kw_only=True)
class ToTokens(Op):
    """A map to tokens ``[H*W, C]``, row by row: ViT's ``x.reshape(n, c, h * w).permute(0, 2, 1)``
    (a view); from a channels-last map, ``x.reshape(n, h * w, c)``."""

    is_view = True
    layouts = ("CHW", "HWC")

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        return Shape.tokens(x.h * x.w, x.c)

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import ToTokens as Module

        return Module(channels_first=ins[0].is_map)

    EXAMPLES = [((Shape.of(8, 4, 4),), {}), ((Shape.channels_last(3, 5, 6),), {})]


@register("to_map")
@dataclass(frozen=True, kw_only=True)
class ToMap(Op):
    """Tokens ``[H*W, C]`` back to an ``h x w`` map (channels first or last), row by row."""

    h: Count
    w: Count
    layout: MapLayout = "CHW"
    layouts = ("LC",)

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        length, c = x.dims
        if self.h * self.w != length:
            raise ShapeError(f"to_map {self.h}x{self.w} needs {self.h * self.w} tokens, got {length}")
        return Shape.of(c, self.h, self.w) if self.layout == "CHW" else Shape.channels_last(self.h, self.w, c)

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import ToMap as Module

        return Module(self.h, self.w, channels_first=self.layout == "CHW")

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return BackwardCost(alias=self.layout == "HWC")

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    EXAMPLES = [((Shape.tokens(12, 8),), dict(h=3, w=4)), ((Shape.tokens(12, 8),), dict(h=4, w=3, layout="HWC"))]


@register("permute")
@dataclass(frozen=True, kw_only=True)
class Permute(Op):
    """A map to channels-last ``HxWxC`` or back (torchvision's ``Permute([0, 2, 3, 1])`` in
    ConvNeXt); a view, no arithmetic."""

    layout: MapLayout
    is_view = True
    layouts = ("CHW", "HWC")

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        if self.layout == "CHW":
            return Shape.of(x.c, x.h, x.w)
        return Shape.channels_last(x.h, x.w, x.c)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return BackwardCost(alias=True)

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Permute as Module

        order = _order(ins[0].layout, out.layout)
        return Module([0, *(1 + i for i in order)])

    EXAMPLES = [((Shape.of(8, 4, 5),), dict(layout="HWC")), ((Shape.channels_last(4, 5, 8),), dict(layout="CHW"))]


def _order(source: str, target: str) -> list[int]:
    """Which source axis each target axis is (``CHW`` -> ``HWC``: 1, 2, 0)."""
    return [source.index(role) for role in target]


@register("class_token")
@dataclass(frozen=True, kw_only=True)
class ClassToken(Op):
    """A learnable token put in front of the sequence (ViT's ``class_token``): ``C`` params;
    a copy (``torch.cat``), no arithmetic."""

    one_tensor = True
    layouts = ("LC",)

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        return Shape.tokens(x.dims[0] + 1, x.c)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(params=ins[0].c)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """The input's gradient is a slice of the output's; the token's sums it over the batch."""
        return BackwardCost(elementwise=ins[0].c if trainable else 0, alias=True)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import ClassToken as Module

        return Module(ins[0].c)

    EXAMPLES = [((Shape.tokens(9, 16),), {})]


@register("pos_embedding")
@dataclass(frozen=True, kw_only=True)
class PosEmbedding(Op):
    """A learnable ``LxC`` position embedding added to the tokens (ViT's ``pos_embedding``):
    ``L*C`` params and ``L*C`` adds."""

    one_tensor = True
    layouts = ("LC",)

    def shape(self, ins: Shapes) -> Shape:
        need_layout(self, ins[0], self.layouts)
        return ins[0]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(params=out.numel, elementwise=out.numel)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """The input receives the output's gradient; the embedding's sums it over the batch."""
        return BackwardCost(elementwise=out.numel if trainable else 0, alias=True)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import PosEmbedding as Module

        return Module(*out.dims)

    EXAMPLES = [((Shape.tokens(10, 16),), {})]


@register("select_token")
@dataclass(frozen=True, kw_only=True)
class SelectToken(Op):
    """One token as a flat vector (ViT's ``x[:, 0]``, the class token): a view."""

    index: Index = 0
    is_view = True
    layouts = ("LC",)

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        if not -x.dims[0] <= self.index < x.dims[0]:
            raise ShapeError(f"select_token index {self.index} is outside the {x.dims[0]} tokens")
        return Shape.of(x.c)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """A new zero gradient of the input's size with the token's copied in (``select_backward``)."""
        return BackwardCost()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import SelectToken as Module

        return Module(self.index)

    EXAMPLES = [((Shape.tokens(5, 8),), {}), ((Shape.tokens(5, 8),), dict(index=-1))]


@register("mean_tokens")
@dataclass(frozen=True, kw_only=True)
class MeanTokens(Op):
    """The mean over the tokens (or over the positions of a channels-last map), a flat ``C``
    vector: one operation per input element (the adds, then the divide), as ``gap``."""

    layouts = ("LC", "HWC")

    def shape(self, ins: Shapes) -> Shape:
        need_layout(self, ins[0], self.layouts)
        return Shape.of(ins[0].c)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=ins[0].numel)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return RF.whole()

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return BackwardCost(elementwise=ins[0].numel)  # the gradient spread over the tokens, divided

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import MeanTokens as Module

        return Module(ins[0].rank)

    EXAMPLES = [((Shape.tokens(6, 8),), {}), ((Shape.channels_last(3, 4, 8),), {})]


@register("embedding")
@dataclass(frozen=True, kw_only=True)
class Embedding(Op):
    """A lookup of token ids ``L`` (the input layout ``L``: integers) in a ``vocab x dim``
    table: ``vocab * dim`` params, no arithmetic."""

    vocab: Count
    dim: Count
    layouts = ("L",)

    def shape(self, ins: Shapes) -> Shape:
        need_layout(self, ins[0], self.layouts)
        return Shape.tokens(ins[0].dims[0], self.dim)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(params=self.vocab * self.dim)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """The table's gradient: the output's gradient scatter-added into its rows (ids need none)."""
        return BackwardCost(elementwise=out.numel if trainable else 0)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved(indices=ins[0].numel if trainable else 0)

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.Embedding(self.vocab, self.dim)

    EXAMPLES = [((Shape((7,), "L"),), dict(vocab=50, dim=16))]

"""Swin's windowed attention on a channels-last map, and its patch merging.

``window_attention`` (torchvision's ``ShiftedWindowAttention``): the map is padded to a
multiple of the window, cyclically shifted by ``shift`` (torchvision sets the shift of an
axis to 0 where one window covers it), cut into ``window x window`` windows of
``N = window²`` tokens, and each window runs multi-head self-attention with a learnable
relative position bias (a ``(2·window − 1)² x heads`` table, indexed by a buffer of
``N²`` positions). Per sample, with ``P`` the padded positions and ``nW = P / N``:

- MACs: the qkv projection ``P·C·3C``, Q·Kᵀ and A·V ``nW·N²·C`` each, the output
  projection ``P·C·C``: explicit matmuls that FlopCounterMode and fvcore both count (not
  ``Cost.attention``);
- elementwise: the bias adds (``4C`` per position), scaling Q (``P·C``), the position
  bias (1 per score, ``heads·nW·N²`` scores), the shift's mask (1 per score), softmax (3).

Receptive field: a unit sees its window (a ``window x window`` kernel's growth, an upper
bound: shifted windows of consecutive blocks overlap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Op, Shapes, need_layout
from netcost.spec.fields import NON_NEGATIVE

SOFTMAX_PER_SCORE = 3
Shift = Annotated[int, NON_NEGATIVE]


@dataclass(frozen=True)
class _Windows:
    padded: tuple[int, int]  # the map padded to multiples of the window
    shifted: bool  # some axis keeps its shift
    count: int  # windows nW
    tokens: int  # per window, N

    @property
    def positions(self) -> int:
        return self.padded[0] * self.padded[1]


@register("window_attention")
@dataclass(frozen=True, kw_only=True)
class WindowAttention(Op):
    """Swin's (shifted) window multi-head self-attention with relative position bias, on a
    channels-last map (torchvision's ``ShiftedWindowAttention``; its qkv and proj linears)."""

    heads: Count
    window: Count = 7
    shift: Shift = 0
    bias: bool = True
    layouts = ("HWC",)

    def windows(self, x: Shape) -> _Windows:
        w = self.window
        padded = (math.ceil(x.h / w) * w, math.ceil(x.w / w) * w)
        shifted = self.shift > 0 and any(w < n for n in padded)
        return _Windows(padded, shifted, (padded[0] // w) * (padded[1] // w), w * w)

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        if x.c % self.heads:
            raise ShapeError(f"window_attention heads={self.heads} must divide the {x.c} channels")
        return x

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        x, win = ins[0], self.windows(ins[0])
        c, p = x.c, win.positions
        scores = self.heads * win.count * win.tokens * win.tokens
        elementwise = (4 * c * p if self.bias else 0) + p * c + scores * (1 + win.shifted + SOFTMAX_PER_SCORE)
        return Cost(
            params=4 * c * c + (4 * c if self.bias else 0) + (2 * self.window - 1) ** 2 * self.heads,
            buffers=win.tokens * win.tokens,
            macs=4 * p * c * c + 2 * win.count * win.tokens * win.tokens * c,
            elementwise=elementwise,
            bias=4 * c if self.bias else 0,
        )

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return fields_in[0].map_axes(lambda i, a: a.through(self.window, 1, (self.window - 1) // 2))

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """The linears' input and weight gradients; both operands' of Q·Kᵀ and A·V."""
        x, win = ins[0], self.windows(ins[0])
        proj = 4 * win.positions * x.c * x.c
        products = 2 * win.count * win.tokens * win.tokens * x.c
        scores = self.heads * win.count * win.tokens * win.tokens
        return BackwardCost(
            dgrad_macs=(proj if any(needs_grad) else 0) + 2 * products,
            wgrad_macs=proj if trainable else 0,
            elementwise=4 * scores + (scores + 4 * x.c * win.positions if trainable else 0),
        )

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Its input, the projected q, k, v, the scores' softmax and the attention output."""
        x, win = ins[0], self.windows(ins[0])
        scores = self.heads * win.count * win.tokens * win.tokens
        return Saved(inputs=(0,), temps=4 * win.positions * x.c + scores)

    def param_tensors(self, ins: Shapes, out: Shape) -> tuple[int, ...]:
        c = ins[0].c
        table = (2 * self.window - 1) ** 2 * self.heads
        bias = self.bias
        return (table, 3 * c * c, *((3 * c,) if bias else ()), c * c, *((c,) if bias else ()))

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import WindowAttention as Module

        return Module(ins[0].c, self.window, self.shift, self.heads, self.bias)

    EXAMPLES = [
        ((Shape.channels_last(8, 8, 16),), dict(heads=2, window=4)),
        ((Shape.channels_last(8, 8, 16),), dict(heads=2, window=4, shift=2)),  # shifted
        ((Shape.channels_last(7, 9, 8),), dict(heads=2, window=4, shift=2, bias=False)),  # padded
        ((Shape.channels_last(4, 4, 8),), dict(heads=4, window=7, shift=3)),  # one window: no shift
    ]


@register("patch_merge")
@dataclass(frozen=True, kw_only=True)
class PatchMerge(Op):
    """Swin's patch merging, its data movement: each 2x2 neighbourhood of a channels-last map
    concatenated, ``HxWxC -> (H/2)x(W/2)x4C`` (odd sizes padded); torchvision's
    ``PatchMerging`` follows with ``layernorm`` (4C) and ``linear`` (2C, no bias)."""

    layouts = ("HWC",)

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_layout(self, x, self.layouts)
        return Shape.channels_last(math.ceil(x.h / 2), math.ceil(x.w / 2), 4 * x.c)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return fields_in[0].map_axes(lambda i, a: a.through(2, 2, 0))

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return BackwardCost()

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import PatchMerge as Module

        return Module()

    EXAMPLES = [((Shape.channels_last(8, 8, 4),), {}), ((Shape.channels_last(7, 5, 3),), {})]

"""LeNet-5's own layers (LeCun et al. 1998, "Gradient-based learning applied to document
recognition"): ``sparse_conv`` (C3's partial connection table), ``subsample`` (S2/S4:
trainable average pooling) and ``rbf`` (the Euclidean RBF output units, fixed centres).

``sparse_conv``'s ``table`` lists, for every output map, the input maps it reads. The spec
language has no list-of-lists field type, so the table is a string, parsed here:

- output maps separated by ``|``, input indices by spaces or commas:
  ``"0 1 2 | 1 2 3 | 0 1 2 3 4 5"``;
- or a YAML list of lists, ``[[0, 1, 2], [1, 2, 3], [0, 1, 2, 3, 4, 5]]``, which the
  spec loader passes on as its text (``netcost schema`` knows the field as a string only,
  so an editor validating against it prefers the first form).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cached_property

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF, window_span
from netcost.core.shape import Shape, window_out
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Formula, Op, Padding, Pair, Shapes, _compact, need_map, positive_out, resolve_pads
from netcost.ops.pool import WindowPool
from netcost.units import grouped, si_unit


def parse_table(text: str) -> tuple[tuple[int, ...], ...]:
    """``"0 1 2 | 1,2,3"`` or ``"[[0, 1, 2], [1, 2, 3]]"`` -> ``((0, 1, 2), (1, 2, 3))``."""
    text = text.strip()
    if text.startswith("["):
        try:
            rows = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"table {text!r} is not a list of lists of input indices") from None
        if not isinstance(rows, list) or not all(isinstance(r, (list, tuple)) for r in rows):
            raise ValueError(f"table {text!r} is not a list of lists of input indices")
    else:
        rows = [re.split(r"[\s,]+", part.strip()) if part.strip() else [] for part in text.split("|")]
    table = []
    for i, row in enumerate(rows):
        try:
            maps = tuple(_index(v) for v in row)
        except ValueError:
            raise ValueError(f"table: output map {i} lists {list(row)}, expected input indices >= 0") from None
        if not maps:
            raise ValueError(f"table: output map {i} reads no input map")
        if len(set(maps)) != len(maps):
            raise ValueError(f"table: output map {i} lists an input map twice: {list(maps)}")
        table.append(maps)
    return tuple(table)


def _index(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(value)
    n = int(value)  # a str that is not an integer raises ValueError
    if n < 0:
        raise ValueError(value)
    return n


@register("sparse_conv")
@dataclass(frozen=True, kw_only=True)
class SparseConv(Op):
    """Convolution whose output map ``o`` reads only the input maps ``table[o]`` (LeNet-5's
    C3): ``sum(len(table[o])) * kh * kw`` weights (+ ``out`` biases)."""

    out: Count
    k: Pair
    table: str
    stride: Pair = (1, 1)
    pad: Padding = (0, 0, 0, 0)
    bias: bool = True

    def __post_init__(self):
        if len(self.maps) != self.out:
            raise ValueError(f"table lists {len(self.maps)} output maps, expected out={self.out}")

    @cached_property
    def maps(self) -> tuple[tuple[int, ...], ...]:
        """The parsed table: per output map, the input maps it reads."""
        return parse_table(self.table)

    @property
    def links(self) -> int:
        """Input-map / output-map pairs that are connected (each a ``kh x kw`` kernel)."""
        return sum(len(m) for m in self.maps)

    def pads(self, x: Shape):
        return resolve_pads(self.pad, x, self.k, self.stride, (1, 1))

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        highest = max(max(m) for m in self.maps)
        if highest >= x.c:
            raise ShapeError(f"sparse_conv table reads input map {highest}, but the input has {x.c} channels")
        pads = self.pads(x)
        hw = (window_out(n, self.k[i], self.stride[i], pads[i]) for i, n in enumerate(x.spatial))
        return positive_out(self, x, Shape.of(self.out, *hw))

    def weights(self) -> int:
        return self.links * self.k[0] * self.k[1]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        bias = self.out if self.bias else 0
        return Cost(
            params=self.weights() + bias,
            macs=self.weights() * out.h * out.w,
            elementwise=out.numel if self.bias else 0,
            bias=bias,
        )

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Built as one small conv per output map over its gathered input maps: autograd keeps
        each gathered input (``links`` maps) and the int64 gather indices."""
        x = ins[0]
        return Saved(temps=self.links * x.h * x.w, fixed_bytes=8 * self.links)

    def param_tensors(self, ins: Shapes, out: Shape) -> tuple[int, ...]:
        """A weight (and a bias) per output map, in map order."""
        kh, kw = self.k
        return tuple(size for m in self.maps for size in ((len(m) * kh * kw, 1) if self.bias else (len(m) * kh * kw,)))

    def rf_back(self, axis: int, span, ins: Shapes, out: Shape):
        return (window_span(span, self.k[axis], self.stride[axis], self.pads(ins[0])[axis][0]),)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        pads = self.pads(ins[0])
        return fields_in[0].map_axes(lambda i, a: a.through(self.k[i], self.stride[i], pads[i][0]))

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        kh, kw = self.k
        bias = f" (+{self.out})" if self.bias else ""
        params = self.weights() + (self.out if self.bias else 0)
        macs = self.weights() * out.h * out.w
        return Formula(
            params=f"{self.links} links x {kh} x {kw}{bias} = {grouped(params)}",
            flops=f"2 x {self.links} x {kh} x {kw} x {out.h} x {out.w} = {si_unit(2 * macs, 'FLOPs')}",
        )

    def describe(self) -> str:
        """``5x5 60 links``: the table itself is too long for a table cell."""
        parts = [f"{self.k[0]}x{self.k[1]}", f"{self.links} links"]
        if self.stride != (1, 1):
            parts.append(f"/{_compact(self.stride)}")
        if self.pad != (0, 0, 0, 0):
            parts.append(f"p{_compact(self.pad)}")
        if not self.bias:
            parts.append("no-bias")
        return " ".join(parts)

    def build(self, ins: Shapes, out: Shape):
        """One ``Conv2d(len(table[o]), 1)`` per output map over its gathered inputs, concatenated."""
        import torch
        from torch import nn

        maps, pads = self.maps, self.pads(ins[0])
        k, stride, bias = self.k, self.stride, self.bias

        class SparseConv2d(nn.Module):
            def __init__(self):
                super().__init__()
                self.convs = nn.ModuleList(nn.Conv2d(len(m), 1, k, stride=stride, bias=bias) for m in maps)
                self.maps = [list(m) for m in maps]  # plain lists: no buffers beyond cost().buffers
                self.padding = (pads[1][0], pads[1][1], pads[0][0], pads[0][1])  # F.pad order: w, then h

            def forward(self, x):
                x = nn.functional.pad(x, self.padding)
                return torch.cat([conv(x[:, m]) for conv, m in zip(self.convs, self.maps, strict=True)], dim=1)

        return SparseConv2d()

    EXAMPLES = [
        ((Shape.of(6, 14, 14),), dict(out=3, k=5, table="0 1 2 | 3 4 5 | 0 1 2 3 4 5")),
        ((Shape.of(4, 9, 9),), dict(out=2, k=3, stride=2, pad=1, table="[[0, 2], [1, 3]]", bias=False)),
    ]


@register("subsample")
@dataclass(frozen=True, kw_only=True)
class Subsample(WindowPool):
    """LeNet-5's S2/S4: each ``k`` window averaged, times a trainable coefficient, plus a
    trainable bias, per channel (``2C`` params). The paper sums the four inputs; that is the
    average with the coefficient scaled by 4. Per output element: ``kh*kw`` operations for the
    window (adds and the scaling) and one bias add."""

    k: Pair = (2, 2)

    def __post_init__(self):
        if self.dilation != (1, 1):
            raise ValueError("subsample has no dilation")

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(params=2 * out.c, elementwise=(self.k[0] * self.k[1] + 1) * out.numel, bias=out.c)

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        return Formula(params=f"2 x {out.c} (coefficient, bias) = {grouped(2 * out.c)}", flops="0 (no MACs)")

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """The pooled map, kept for the coefficient's gradient (and the input, by avg_pool2d)."""
        return Saved(inputs=(0,), temps=out.numel if trainable else 0)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        window = self.k[0] * self.k[1]
        return BackwardCost(elementwise=(window + 1) * out.numel + (2 * out.numel if trainable else 0))

    def build(self, ins: Shapes, out: Shape):
        import torch
        from torch import nn

        c, k, stride, pads, ceil_mode = out.c, self.k, self.strides, self.pads(ins[0]), self.ceil_mode

        class Subsample2d(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = nn.Parameter(torch.ones(c))
                self.bias = nn.Parameter(torch.zeros(c))

            def forward(self, x):
                if all(before == after for before, after in pads):  # torch pads symmetrically
                    x = nn.functional.avg_pool2d(x, k, stride, (pads[0][0], pads[1][0]), ceil_mode)
                else:
                    x = nn.functional.pad(x, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
                    x = nn.functional.avg_pool2d(x, k, stride, ceil_mode=ceil_mode)
                return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

        return Subsample2d()

    EXAMPLES = [((Shape.of(6, 28, 28),), {}), ((Shape.of(4, 9, 9),), dict(k=3, stride=2))]


@register("rbf")
@dataclass(frozen=True, kw_only=True)
class RBF(Op):
    """Euclidean RBF units (LeNet-5's output): ``y_i = sum_j (x_j - c_ij)^2`` over a flat
    input. The ``out x in`` centres are fixed, not trained (the paper sets them by hand to
    +-1 bitmaps): buffers, not params. One MAC per ``(x - c)^2`` term (``in * out``), plus
    the subtractions as elementwise operations (``in * out``)."""

    out: Count

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        if x.rank != 1:
            raise ShapeError(f"rbf needs a flat input, got {x}")
        return Shape.of(self.out)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        terms = ins[0].numel * self.out
        return Cost(buffers=terms, macs=terms, elementwise=terms)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return RF.whole()

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        n_in = ins[0].numel
        return Formula(
            params=f"0 trainable ({self.out} x {n_in} = {grouped(self.out * n_in)} fixed centres)",
            flops=f"2 x {self.out} x {n_in} = {si_unit(2 * self.out * n_in, 'FLOPs')}",
        )

    def build(self, ins: Shapes, out: Shape):
        import torch
        from torch import nn

        n_in, n_out = ins[0].numel, self.out

        class EuclideanRBF(nn.Module):
            def __init__(self):
                super().__init__()
                # placeholder +-1 centres; the paper's are stylised 7x12 bitmaps of the classes
                self.register_buffer("centres", torch.randint(0, 2, (n_out, n_in)).float() * 2 - 1)

            def forward(self, x):
                # sum_j (x_j - c_ij)^2 = |x|^2 - 2 x.c_i + |c_i|^2: the in x out products are one
                # matmul, which torch's FlopCounterMode (2 per MAC) and fvcore (1) both count
                cross = nn.functional.linear(x, self.centres)
                return (x * x).sum(-1, keepdim=True) - 2 * cross + (self.centres * self.centres).sum(-1)

        return EuclideanRBF()

    EXAMPLES = [((Shape.of(84),), dict(out=10))]

"""Generic tensor ops of any rank, for graphs that come from real models (torch capture,
ONNX) rather than from a spec's architecture vocabulary: ``reshape``, ``permute_dims``,
``matmul`` and ``opaque`` (an op netcost has no formula for, with its cost given).

Dimensions are per sample (the batch excluded, as everywhere in the Graph); axes count
from 0 over them. A layout is given, or the rank's default (netcost.core.shape).

``permute_dims`` is a view, as ``torch.permute`` is; with ``contiguous: true`` it is the
permuted copy ``.permute(...).contiguous()`` makes (an allocation, no arithmetic), so the
memory model sees what torch allocates. ``reshape`` is a view: torch copies only when the
input is not contiguous, which a graph lowers to ``permute_dims`` with ``contiguous``
first. Softmax over any axis is act.py's ``softmax`` (its ``axis`` field; 3 per element).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF, merge
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Op, Shapes
from netcost.spec.fields import INTS, NON_NEGATIVE, POSITIVE

Dims = Annotated[tuple[int, ...], INTS, POSITIVE]  # per-sample dimensions, each >= 1
Axes = Annotated[tuple[int, ...], INTS, NON_NEGATIVE]  # a permutation of 0..rank-1
Amount = Annotated[int, NON_NEGATIVE]
Layout = Literal["", "CHW", "HWC", "LC", "F", "L"]
Effect = Literal["elementwise", "reshape", "global"]


def shape_of(dims: tuple[int, ...], layout: str, op: Op) -> Shape:
    """``Shape(dims, layout)``, a located ShapeError when the layout does not fit."""
    try:
        return Shape(tuple(dims), layout)
    except ValueError as exc:
        raise ShapeError(f"{op.kind}: {exc}") from None


def _keeps_grid(out: Shape) -> bool:
    """Whether units of ``out`` still sit on positions (a map or tokens), so fields are kept."""
    return out.layout in ("CHW", "HWC", "LC")


@register("reshape")
@dataclass(frozen=True, kw_only=True)
class Reshape(Op):
    """The same elements in new dimensions ``dims`` (any rank; ``torch.reshape``), a view.

    Units keep their field but, unless the result is a map or tokens of the same grid,
    leave the grid (as after ``flatten``)."""

    dims: Dims
    layout: Layout = ""
    is_view = True

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        if math.prod(self.dims) != x.numel:
            raise ShapeError(
                f"reshape to {'x'.join(map(str, self.dims))} needs {math.prod(self.dims):,} elements, "
                f"the input {x.describe()} has {x.numel:,}"
            )
        return shape_of(self.dims, self.layout, self)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        same_grid = _keeps_grid(out) and _keeps_grid(ins[0]) and out.spatial == ins[0].spatial
        return fields_in[0] if same_grid or out == ins[0] else fields_in[0].flattened()

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return BackwardCost(alias=True)  # the input's gradient is a view of the output's

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Reshape as Module

        return Module(self.dims)

    EXAMPLES = [
        ((Shape.of(8, 4, 4),), dict(dims=[2, 4, 16])),
        ((Shape.of(8, 4, 4),), dict(dims=[8, 16], layout="")),
        ((Shape.tokens(16, 6),), dict(dims=[6, 4, 4], layout="HWC")),
    ]


@register("permute_dims")
@dataclass(frozen=True, kw_only=True)
class PermuteDims(Op):
    """Dimensions reordered: output axis ``i`` is input axis ``dims[i]`` (``torch.permute``;
    a transpose swaps two). A view, or with ``contiguous`` the permuted copy. No arithmetic;
    units keep their fields (no data moves between positions)."""

    dims: Axes
    layout: Layout = ""
    contiguous: bool = False

    @property
    def is_view(self) -> bool:  # type: ignore[override]
        return not self.contiguous

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        if sorted(self.dims) != list(range(x.rank)):
            raise ShapeError(
                f"permute_dims {list(self.dims)} is no permutation of the {x.rank} axes of {x.describe()}",
                hint=f"give each of 0..{x.rank - 1} once (the batch is not counted)",
            )
        return shape_of(tuple(x.dims[i] for i in self.dims), self.layout, self)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return fields_in[0] if _keeps_grid(out) else fields_in[0].flattened()

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """The gradient permuted back: a view (the copy's gradient is one too)."""
        return BackwardCost(alias=True)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        return Saved()

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import PermuteDims as Module

        return Module(self.dims, self.contiguous)

    EXAMPLES = [
        ((Shape.of(8, 4, 5),), dict(dims=[1, 2, 0], layout="HWC")),
        ((Shape((3, 7, 5, 2)),), dict(dims=[0, 2, 1, 3])),
        ((Shape.tokens(6, 4),), dict(dims=[1, 0], contiguous=True)),
    ]


@register("matmul")
@dataclass(frozen=True, kw_only=True)
class MatMul(Op):
    """``a @ b`` of two activations (``torch.matmul``): ``[..., n, k] @ [..., k, m] ->
    [..., n, m]``, leading dimensions broadcast. MACs = output elements x ``k`` (attention's
    ``q @ kᵀ`` and ``a @ v`` are counted so, as every counter counts bmm). Every output
    mixes positions of both operands: the field is global."""

    layout: Layout = ""
    arity = (2, 2)

    def _check(self, ins: Shapes) -> tuple[tuple[int, ...], int]:
        a, b = ins
        if a.rank < 2 or b.rank < 2:
            raise ShapeError(f"matmul takes operands of rank 2 or more, got {a.describe()} and {b.describe()}")
        if a.dims[-1] != b.dims[-2]:
            raise ShapeError(f"matmul of {a} and {b}: {a.dims[-1]} columns against {b.dims[-2]} rows")
        lead = []
        for i in range(1, max(a.rank, b.rank) - 1):
            da = a.dims[-2 - i] if i + 2 <= a.rank else 1
            db = b.dims[-2 - i] if i + 2 <= b.rank else 1
            if da != db and 1 not in (da, db):
                raise ShapeError(f"matmul of {a} and {b}: leading dimensions {da} and {db} do not broadcast")
            lead.append(max(da, db))
        return (*reversed(lead), a.dims[-2], b.dims[-1]), a.dims[-1]

    def shape(self, ins: Shapes) -> Shape:
        dims, _ = self._check(ins)
        return shape_of(dims, self.layout, self)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        _, k = self._check(ins)
        return Cost(macs=out.numel * k)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return RF.whole()

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """``grad @ bᵀ`` and ``aᵀ @ grad``: the forward's MACs for each operand that needs one."""
        macs = self.cost(ins, out).macs
        return BackwardCost(dgrad_macs=macs * sum(needs_grad))

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Each operand, for the other's gradient (torch keeps both whatever needs a gradient)."""
        return Saved(inputs=(0, 1))

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import MatMul as Module

        return Module()

    EXAMPLES = [
        ((Shape((4, 6, 8)), Shape((4, 8, 6))), {}),  # q @ kᵀ of 4 heads
        ((Shape((4, 6, 6)), Shape((4, 6, 8))), {}),  # a @ v
        ((Shape.tokens(5, 7), Shape.tokens(7, 3)), dict(layout="LC")),
    ]


@register("opaque")
@dataclass(frozen=True, kw_only=True)
class Opaque(Op):
    """An op netcost has no formula for, carried with what is known of it: ``source_op``
    names it (``aten.cumsum``, ``onnx.TopK``), ``out`` is its output, ``macs``, ``elementwise``
    (per sample), ``params`` and ``buffers`` its cost as the counting rules give it (of the
    MACs, ``attention`` are scaled-dot-product attention's Q·Kᵀ and A·V, which some counters
    miss: netcost.core.conventions), and
    ``effect`` what it does to receptive fields: ``elementwise`` keeps them (the largest of
    its inputs'), ``reshape`` leaves the grid (as flatten), ``global`` mixes every position.

    ``known: false``: nothing counts it (no rule); its cost is unknown, not 0, and a report
    of a graph holding it is marked partial, naming it (netcost.analysis.coverage). ``view``:
    its output aliases its first input's storage (a slice, a select)."""

    source_op: str
    out: Dims
    layout: Layout = ""
    macs: Amount = 0
    elementwise: Amount = 0
    params: Amount = 0
    buffers: Amount = 0
    attention: Amount = 0
    effect: Effect = "elementwise"
    known: bool = True
    view: bool = False
    arity = (1, None)

    @property
    def is_view(self) -> bool:  # type: ignore[override]
        return self.view

    def shape(self, ins: Shapes) -> Shape:
        return shape_of(self.out, self.layout, self)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(
            params=self.params,
            buffers=self.buffers,
            macs=self.macs,
            elementwise=self.elementwise,
            attention=min(self.attention, self.macs),
        )

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        if self.effect == "global":
            return RF.whole()
        field = merge(fields_in) if len(fields_in) > 1 else fields_in[0]
        return field.flattened() if self.effect == "reshape" else field

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """No rule of its own: the forward's work again (Op's default), a view's gradient a view."""
        if self.view:
            return BackwardCost(alias=True)
        return super().backward(ins, out, needs_grad, trainable)

    def describe(self) -> str:
        return self.source_op + ("" if self.known else " (unknown cost)")

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Opaque as Module

        return Module(self.out, self.params, self.buffers, self.macs)

    EXAMPLES = [
        ((Shape.of(4, 5, 5),), dict(source_op="aten.cumsum", out=[4, 5, 5], elementwise=100)),
        ((Shape.tokens(6, 8),), dict(source_op="aten.sort", out=[6, 8], effect="global", elementwise=96)),
        ((Shape.of(4, 5, 5),), dict(source_op="aten.slice", out=[4, 5, 2], view=True, effect="reshape")),
        ((Shape.of(4, 5, 5), Shape.of(4, 5, 5)), dict(source_op="aten.lerp", out=[4, 5, 5], macs=100, params=3)),
        ((Shape.of(9),), dict(source_op="onnx.TopK", out=[3], known=False, effect="global")),
    ]

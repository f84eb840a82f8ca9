"""A layer whose parameters another layer already holds: the second call of a shared
module, a functional op reading a weight that a module owns (tied embeddings). The op
computes and saves what it always does; its parameters and buffers are the ones given (0
for a shared call), so a graph's totals count each torch tensor once, as torch does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netcost.core.cost import Cost
from netcost.core.shape import Shape
from netcost.ops.base import Op, Shapes


@dataclass(frozen=True, kw_only=True)
class Reused(Op):
    """``op`` with ``params`` and ``buffers`` of its own (``tensors``: their sizes, in torch's
    order); every other rule is ``op``'s. Not a spec op: capture makes it."""

    op: Op
    params: int = 0
    buffers: int = 0
    tensors: tuple[int, ...] = ()

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.op.kind

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.op.family

    @property
    def is_view(self) -> bool:  # type: ignore[override]
        return self.op.is_view

    @property
    def one_tensor(self) -> bool:  # type: ignore[override]
        return self.op.one_tensor

    def __getattr__(self, name: str) -> Any:  # the op's own fields (stride, scale, vocab, …)
        if name == "op":
            raise AttributeError(name)
        return getattr(self.op, name)

    def shape(self, ins: Shapes) -> Shape:
        return self.op.shape(ins)

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        own = self.op.cost(ins, out)
        return Cost(
            self.params,
            self.buffers,
            own.macs,
            own.elementwise,
            own.bias,
            own.attention,
            own.mha_projections,
            own.work,
        )

    def rf(self, fields_in, ins, out):
        return self.op.rf(fields_in, ins, out)

    def rf_back(self, axis, span, ins, out):
        return self.op.rf_back(axis, span, ins, out)

    def formula(self, ins, out):
        return self.op.formula(ins, out)

    def backward(self, ins, out, needs_grad, trainable):
        return self.op.backward(ins, out, needs_grad, trainable)

    def saved(self, ins, out, needs_grad, trainable):
        return self.op.saved(ins, out, needs_grad, trainable)

    def param_tensors(self, ins, out) -> tuple[int, ...]:
        return self.tensors

    def is_view_in_training(self) -> bool:
        return self.op.is_view_in_training()

    def describe(self) -> str:
        text = self.op.describe()
        return f"{text} (shared)".strip() if not self.params else text

    def build(self, ins, out):
        return self.op.build(ins, out)

"""Activations, as ONE table: each row is an op kind, its torch module and its fields.

Every activation counts one elementwise operation per output element: a count of
operations, not of transcendental-function cost. Softmax counts three (exp, sum,
divide); it runs over the channels, or over ``axis`` (a per-sample axis, negative from
the end: attention scores' last axis in a captured graph). Over any axis but the channels
it mixes positions: its units' fields are global.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Annotated

from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Op, Real, Shapes
from netcost.spec.fields import Domain

Axis = Annotated[int, Domain(-16, 15)] | None  # a per-sample axis (rank 16 at most); negative counts from the end


@dataclass(frozen=True, kw_only=True)
class Activation(Op):
    """An element-wise function; the torch module is ``torch.nn.<torch_name>``."""

    torch_name = ""
    per_element = 1

    def shape(self, ins: Shapes) -> Shape:
        axis = getattr(self, "axis", None)
        if axis is not None and not -ins[0].rank <= axis < ins[0].rank:
            raise ShapeError(f"{self.kind} axis {axis} is outside the {ins[0].rank} axes of {ins[0].describe()}")
        return ins[0]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=self.per_element * out.numel)

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        """Per element: the input's field; a softmax over an axis other than the channels
        (of a layout that has them) mixes the positions along it."""
        axis = getattr(self, "axis", None)
        if axis is None or ("C" in out.layout and axis % out.rank == out.channels_axis):
            return fields_in[0]
        return RF.whole()

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return BackwardCost(elementwise=BACKWARD_PER_ELEMENT[self.kind] * out.numel)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """The output where torch's derivative is written with the result (relu, sigmoid,
        tanh, softmax), the input otherwise (relu6 is hardtanh, leaky_relu, hardswish,
        hardsigmoid, silu, gelu) — as ``torch.autograd.graph.saved_tensors_hooks`` sees them."""
        return Saved(output=True) if self.kind in SAVES_OUTPUT else Saved(inputs=(0,))

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        module = getattr(nn, self.torch_name)
        if self.torch_name == "LeakyReLU":
            return module(self.slope)
        if self.torch_name == "Softmax":
            axis = ins[0].channels_axis if self.axis is None else self.axis % ins[0].rank
            return module(dim=1 + axis)  # over the channels (whatever the layout), or the axis given
        return module()

    EXAMPLES = [
        ((Shape.of(4, 5, 5),), {}),
        ((Shape.of(7),), {}),
        ((Shape.tokens(5, 6),), {}),
        ((Shape.channels_last(3, 3, 4),), {}),
    ]


# kind: (torch.nn class, elementwise ops per element, extra fields as (name, type, default))
TABLE: dict[str, tuple[str, int, tuple[tuple[str, object, object], ...]]] = {
    "relu": ("ReLU", 1, ()),
    "relu6": ("ReLU6", 1, ()),
    "leaky_relu": ("LeakyReLU", 1, (("slope", Real, 0.01),)),
    "sigmoid": ("Sigmoid", 1, ()),
    "tanh": ("Tanh", 1, ()),
    "hardswish": ("Hardswish", 1, ()),
    "hardsigmoid": ("Hardsigmoid", 1, ()),
    "silu": ("SiLU", 1, ()),
    "swish": ("SiLU", 1, ()),
    "gelu": ("GELU", 1, ()),
    "softmax": ("Softmax", 3, (("axis", Axis, None),)),  # over the channels (dim 1 of NCHW, the last of tokens)
}


# torch's derivatives.yaml: these backwards read ``result``; the others read ``self``
SAVES_OUTPUT = frozenset({"relu", "sigmoid", "tanh", "softmax"})

# Backward operations per element: the derivative formula times the incoming gradient.
BACKWARD_PER_ELEMENT = {
    "relu": 1,  # grad where y > 0
    "relu6": 1,  # grad where 0 < x < 6
    "leaky_relu": 1,  # grad * (1 or slope)
    "sigmoid": 3,  # grad * y * (1 - y)
    "tanh": 3,  # grad * (1 - y^2)
    "hardswish": 3,  # grad * (2x + 3) / 6 in the ramp
    "hardsigmoid": 1,  # grad / 6 in the ramp
    "silu": 5,  # grad * s * (1 + x * (1 - s)), s = sigmoid(x) recomputed
    "swish": 5,
    "gelu": 6,  # grad * (Phi(x) + x * phi(x)), both recomputed
    "softmax": 4,  # y * (grad - sum(grad * y))
}


def _make(kind: str, torch_name: str, per_element: int, extra) -> type[Activation]:
    cls = make_dataclass(
        torch_name + ("_" + kind if kind != torch_name.lower() else ""),
        [(name, typ, field(default=default)) for name, typ, default in extra],
        bases=(Activation,),
        frozen=True,
        kw_only=True,
        namespace={"torch_name": torch_name, "per_element": per_element, "__doc__": f"torch.nn.{torch_name}"},
    )
    cls.__module__ = __name__
    return register(kind)(cls)


for _kind, (_torch_name, _per_element, _extra) in TABLE.items():
    _made = _make(_kind, _torch_name, _per_element, _extra)
    if _kind == "softmax":  # over an axis: attention scores of any rank, tokens along the sequence
        _made.EXAMPLES = [
            *Activation.EXAMPLES,
            ((Shape((4, 6, 6)),), dict(axis=-1)),
            ((Shape.tokens(5, 6),), dict(axis=0)),
        ]

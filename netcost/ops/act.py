"""Activations, as ONE table: each row is an op kind, its torch module and its fields.

Every activation counts one elementwise operation per output element: a count of
operations, not of transcendental-function cost. Softmax counts three (exp, sum,
divide).
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass

from netcost.core.cost import Cost
from netcost.core.shape import Shape
from netcost.ops import register
from netcost.ops.base import Op, Shapes


@dataclass(frozen=True, kw_only=True)
class Activation(Op):
    """An element-wise function; the torch module is ``torch.nn.<torch_name>``."""

    torch_name = ""
    per_element = 1

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=self.per_element * out.numel)

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        module = getattr(nn, self.torch_name)
        if self.torch_name == "LeakyReLU":
            return module(self.slope)
        if self.torch_name == "Softmax":
            return module(dim=1)
        return module()

    EXAMPLES = [((Shape.of(4, 5, 5),), {}), ((Shape.of(7),), {})]


# kind: (torch.nn class, elementwise ops per element, extra fields as (name, type, default))
TABLE: dict[str, tuple[str, int, tuple[tuple[str, type, object], ...]]] = {
    "relu": ("ReLU", 1, ()),
    "relu6": ("ReLU6", 1, ()),
    "leaky_relu": ("LeakyReLU", 1, (("slope", float, 0.01),)),
    "sigmoid": ("Sigmoid", 1, ()),
    "tanh": ("Tanh", 1, ()),
    "hardswish": ("Hardswish", 1, ()),
    "hardsigmoid": ("Hardsigmoid", 1, ()),
    "silu": ("SiLU", 1, ()),
    "swish": ("SiLU", 1, ()),
    "gelu": ("GELU", 1, ()),
    "softmax": ("Softmax", 3, ()),  # over channels (dim 1 of NCHW)
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
    _make(_kind, _torch_name, _per_element, _extra)

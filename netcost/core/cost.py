"""What one layer costs, in integers, and the named FLOP conventions.

``macs`` are multiply-accumulates of conv, transposed conv, linear and matmul, bias
excluded. ``elementwise`` is every other arithmetic operation (bias adds, norms,
activations, pooling, merges) per the table in the README. FLOPs are never stored:
they are derived under a named :class:`Convention`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum


@dataclass(frozen=True)
class Cost:
    params: int = 0  # learnable elements
    buffers: int = 0  # non-learnable state torch holds (running stats, num_batches_tracked)
    macs: int = 0
    elementwise: int = 0
    bias: int = 0  # output elements that receive a bias add (pycls counts one per channel)

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, batch: int) -> Cost:
        """Work scales with the batch; parameters and buffers do not."""
        return Cost(self.params, self.buffers, self.macs * batch, self.elementwise * batch, self.bias * batch)


class Convention(str, Enum):
    """How a tool turns work into one "FLOPs" figure. Each reproduces that tool's total."""

    NETCOST = "netcost"  # FLOPs = 2 x MACs; elementwise work shown apart
    FLOPCOUNTER = "flopcounter"  # torch.utils.flop_counter.FlopCounterMode: 2 per MAC, conv/linear/matmul only
    FVCORE = "fvcore"  # fvcore FlopCountAnalysis: 1 per MAC, plus its own norm/pool/upsample counts
    PYCLS = "pycls"  # pycls complexity(): MACs + one add per output channel of a layer with bias

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Convention.NETCOST: "flops = 2 x MACs (conv/linear/matmul, bias excluded); elementwise work counted apart",
    Convention.FLOPCOUNTER: "torch FlopCounterMode: 2 per MAC of conv/linear/matmul; nothing else",
    Convention.FVCORE: "fvcore FlopCountAnalysis: 1 per MAC, plus fvcore's batchnorm/groupnorm/layernorm, "
    "adaptive-pool and upsample counts; max pool, activations and adds are not counted",
    Convention.PYCLS: "pycls complexity: MACs plus one add per output channel of each layer with a bias",
}

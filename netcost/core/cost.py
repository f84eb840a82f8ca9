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
    # Parts of ``macs`` that some counters miss (netcost.core.conventions says which):
    attention: int = 0  # Q·Kᵀ and A·V computed by scaled_dot_product_attention
    mha_projections: int = 0  # nn.MultiheadAttention's in/out projections (its fused fast path)

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, batch: int) -> Cost:
        """Work scales with the batch; parameters and buffers do not."""
        return Cost(
            self.params,
            self.buffers,
            self.macs * batch,
            self.elementwise * batch,
            self.bias * batch,
            self.attention * batch,
            self.mha_projections * batch,
        )


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


@dataclass(frozen=True)
class BackwardCost:
    """The backward pass of one layer, per sample (scale with :meth:`scaled`).

    ``dgrad_macs`` compute the gradient of the input (none for the first layer: the input
    needs no gradient), ``wgrad_macs`` the gradient of the weights (none for a frozen
    layer); FLOPs are 2 x MACs, as in the forward. ``elementwise`` is the rest of the
    backward arithmetic (bias gradients, activation derivatives, norm statistics, pooling
    scatters), counted apart.

    The last two fields describe what the backward allocates, for the training-memory
    model: ``alias`` means the input gradients are views of the output gradient (add,
    concat, flatten: nothing new is allocated for them); ``transient`` counts per-sample
    elements the backward allocates and frees beside the input gradients it returns.
    """

    dgrad_macs: int = 0
    wgrad_macs: int = 0
    elementwise: int = 0
    alias: bool = False
    transient: int = 0

    @property
    def macs(self) -> int:
        return self.dgrad_macs + self.wgrad_macs

    def scaled(self, batch: int) -> BackwardCost:
        return BackwardCost(
            self.dgrad_macs * batch,
            self.wgrad_macs * batch,
            self.elementwise * batch,
            self.alias,
            self.transient * batch,
        )


@dataclass(frozen=True)
class Saved:
    """What autograd keeps of one layer for its backward, per sample, as torch 2.x does it
    (measured with ``torch.autograd.graph.saved_tensors_hooks``; parameters and buffers,
    which autograd also keeps, are not activations and are not listed).

    ``inputs`` and ``output`` name graph tensors: two layers that keep the same tensor (a
    conv keeps its input, the ReLU before it keeps that same tensor as its output) share
    one storage, counted once. The other fields are tensors private to the layer:

    - ``temps``: elements in the activation dtype (a padded copy of the input, LRN's
      intermediates);
    - ``indices``: int64 elements, 8 bytes whatever the activation dtype (max pool);
    - ``mask``: dropout's mask elements: bool (1 byte) on CUDA, the activation dtype on CPU
      (torch's fused ``native_dropout`` runs on CUDA only);
    - ``stats``: per-sample statistics in the accumulation dtype (fp32; fp64 for fp64):
      layer/group norm's mean and rstd;
    - ``channel_stats``: statistics per batch, not per sample (batchnorm's mean and invstd);
    - ``fixed_bytes``: bytes per batch whatever the dtype (index tensors of a gather).
    """

    inputs: tuple[int, ...] = ()
    output: bool = False
    temps: int = 0
    indices: int = 0
    mask: int = 0
    stats: int = 0
    channel_stats: int = 0
    fixed_bytes: int = 0

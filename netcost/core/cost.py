"""What one layer costs, in integers.

``macs`` are multiply-accumulates of conv, transposed conv, linear, matmul and attention,
bias excluded. ``elementwise`` is every other arithmetic operation (bias adds, norms,
activations, pooling, merges) per the table in the README. FLOPs are never stored: they
are derived under a named convention (netcost.core.conventions), which prices this record.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


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
    # Elements of work some tool prices its own way, as (kind, elements) pairs; the kinds
    # are netcost.core.conventions.WORK_KINDS (a norm's statistics, an adaptive pool, ...).
    work: tuple[tuple[str, int], ...] = ()

    def __add__(self, other: Cost) -> Cost:
        sums = [getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "work"]
        merged: dict[str, int] = dict(self.work)
        for kind, n in other.work:
            merged[kind] = merged.get(kind, 0) + n
        return Cost(*sums, work=tuple(merged.items()))

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
            tuple((kind, n * batch) for kind, n in self.work),
        )


@dataclass(frozen=True)
class BackwardStage:
    """One moment inside a layer's backward where the live memory may peak (an aten op of
    a layer that is several autograd nodes, such as nn.MultiheadAttention), relative to the
    layer's start: its output gradient and what it saved are live until the stage that
    frees them.

    ``transient``: elements in the activation dtype live beside them (gradients in flight);
    ``out_of_place``: more elements live only when autograd accumulates gradients out of
    place (under a dispatch mode: the sum is a new tensor); ``params``: the parameter
    gradient elements made by then (not scaled by the batch).
    """

    transient: int = 0
    params: int = 0
    frees_grad: bool = False
    frees_saved: bool = False
    out_of_place: int = 0

    def scaled(self, batch: int) -> BackwardStage:
        return replace(self, transient=self.transient * batch, out_of_place=self.out_of_place * batch)


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

    ``stages``, where given, are the moments inside the backward the training-memory model
    checks before its usual one (:class:`BackwardStage`).

    ``attention`` is the part of ``dgrad_macs`` that scaled-dot-product attention's own
    backward kernel does (the gradients through Q·Kᵀ and A·V), the part some counters
    price their own way (netcost.core.conventions: :meth:`Convention.backward_missed`).
    """

    dgrad_macs: int = 0
    wgrad_macs: int = 0
    elementwise: int = 0
    alias: bool = False
    transient: int = 0
    attention: int = 0
    stages: tuple[BackwardStage, ...] = ()

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
            self.attention * batch,
            tuple(stage.scaled(batch) for stage in self.stages),
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

    ``batch_copies``: those of ``inputs`` kept as a contiguous copy private to the layer,
    instead of the tensor itself, when the batch is over 1 (nn.MultiheadAttention turns a
    batch-first input sequence-first, no longer contiguous then, and its in-projection's
    reshape copies it).
    """

    inputs: tuple[int, ...] = ()
    output: bool = False
    temps: int = 0
    indices: int = 0
    mask: int = 0
    stats: int = 0
    channel_stats: int = 0
    fixed_bytes: int = 0
    batch_copies: tuple[int, ...] = ()

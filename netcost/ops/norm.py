"""Normalization: batchnorm, layernorm, groupnorm and AlexNet's local response norm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from netcost.core.conventions import BN_FOLDED
from netcost.core.conventions import NORM_AFFINE as NORM_AFFINE_WORK
from netcost.core.conventions import NORM_STATS as NORM_STATS_WORK
from netcost.core.cost import BackwardCost, Cost, Saved
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Op, Real, Shapes, need_layout, need_map

# Elementwise operations per element (see the README's table).
BN_INFERENCE = 2  # running stats and affine folded into one scale and one shift
NORM_STATS = 4  # mean, subtract, variance, divide
NORM_AFFINE = 1  # + scale-and-shift counted as one more (as fvcore does: 5 with affine, 4 without)
# Backward, per element: the two reductions every norm's backward needs, sum(dy) and
# sum(dy * xhat) with xhat = (x - mean) * invstd recomputed (5); then the input gradient
# invstd * gamma * (dy - mean(dy) - xhat * mean(dy * xhat)) (4 more).
NORM_BACKWARD_REDUCE = 5
NORM_BACKWARD_INPUT = 4


def _norm_backward(out: Shape, needs_grad: tuple[bool, ...]) -> BackwardCost:
    return BackwardCost(elementwise=(NORM_BACKWARD_REDUCE + (NORM_BACKWARD_INPUT if needs_grad[0] else 0)) * out.numel)


@register("bn")
@dataclass(frozen=True, kw_only=True)
class BatchNorm(Op):
    """BatchNorm2d at inference: ``2C`` learnable, ``2C + 1`` buffers (running stats and
    ``num_batches_tracked``)."""

    affine: bool = True
    track_running_stats: bool = True
    layouts = ("CHW", "F")

    def shape(self, ins: Shapes) -> Shape:
        need_layout(self, ins[0], self.layouts)
        return ins[0]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        c = ins[0].c
        n = out.numel
        # without running statistics torch normalises with the batch's, even in eval
        stats = BN_FOLDED if self.track_running_stats else NORM_STATS_WORK
        return Cost(
            params=2 * c if self.affine else 0,
            buffers=2 * c + 1 if self.track_running_stats else 0,
            elementwise=BN_INFERENCE * n,
            work=((stats, n), (NORM_AFFINE_WORK, n)) if self.affine else ((stats, n),),
        )

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        x = ins[0]
        cls = nn.BatchNorm2d if x.is_map else nn.BatchNorm1d
        return cls(x.c, affine=self.affine, track_running_stats=self.track_running_stats)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return _norm_backward(out, needs_grad)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """In training: its input and the batch's per-channel mean and invstd (fp32)."""
        return Saved(inputs=(0,), channel_stats=2 * ins[0].c)

    def param_tensors(self, ins: Shapes, out: Shape) -> tuple[int, ...]:
        return (ins[0].c, ins[0].c) if self.affine else ()

    EXAMPLES = [((Shape.of(8, 6, 6),), {}), ((Shape.of(5, 3, 3),), dict(affine=False))]


@dataclass(frozen=True, kw_only=True)
class _StatsNorm(Op):
    """A norm that computes statistics at inference (layernorm, groupnorm): 4 operations per
    element, 5 with the affine transform; fvcore counts exactly that."""

    affine: bool = True

    def elementwise(self, out: Shape) -> int:
        return (NORM_STATS + (NORM_AFFINE if self.affine else 0)) * out.numel

    def work(self, out: Shape) -> tuple[tuple[str, int], ...]:
        n = out.numel
        return ((NORM_STATS_WORK, n), (NORM_AFFINE_WORK, n)) if self.affine else ((NORM_STATS_WORK, n),)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        return _norm_backward(out, needs_grad)

    def groups_of_stats(self, x: Shape) -> int:
        return 1

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Its input and the per-sample (per-group) mean and rstd, fp32."""
        return Saved(inputs=(0,), stats=2 * self.groups_of_stats(ins[0]))


@register("layernorm")
@dataclass(frozen=True, kw_only=True)
class LayerNorm(_StatsNorm):
    """LayerNorm over all of a sample's dimensions (``nn.LayerNorm(x.shape)``, affine per
    element) or over the channels at each position (``over: channels``: ``nn.LayerNorm(C)``
    on tokens and channels-last maps, torchvision's ``LayerNorm2d`` on a channels-first map;
    affine per channel). ``auto``: the channels of tokens and channels-last maps, else all."""

    over: Literal["auto", "all", "channels"] = "auto"

    def per_channel(self, x: Shape) -> bool:
        return self.over == "channels" or (self.over == "auto" and x.layout in ("LC", "HWC"))

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(params=sum(self.param_tensors(ins, out)), elementwise=self.elementwise(out), work=self.work(out))

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        from netcost.counted.modules import LayerNorm2d

        x = ins[0]
        if not self.per_channel(x):
            return nn.LayerNorm(list(x.dims), elementwise_affine=self.affine)
        return (LayerNorm2d if x.is_map else nn.LayerNorm)(x.c, elementwise_affine=self.affine)

    def groups_of_stats(self, x: Shape) -> int:
        return x.numel // x.c if self.per_channel(x) else 1

    def param_tensors(self, ins: Shapes, out: Shape) -> tuple[int, ...]:
        if not self.affine:
            return ()
        n = out.c if self.per_channel(out) else out.numel
        return (n, n)

    EXAMPLES = [
        ((Shape.of(4, 3, 3),), {}),
        ((Shape.of(12),), dict(affine=False)),
        ((Shape.tokens(5, 8),), {}),  # over the channels of each token
        ((Shape.of(8, 3, 3),), dict(over="channels")),  # ConvNeXt's LayerNorm2d
        ((Shape.channels_last(3, 3, 8),), {}),
    ]


@register("groupnorm")
@dataclass(frozen=True, kw_only=True)
class GroupNorm(_StatsNorm):
    """GroupNorm with ``groups`` dividing the channels; affine per channel."""

    groups: Count

    def shape(self, ins: Shapes) -> Shape:
        (x,) = ins
        need_map(self, x)
        if self.groups < 1 or x.c % self.groups:
            raise ShapeError(f"groupnorm groups={self.groups} must divide the {x.c} channels")
        return x

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(params=2 * out.c if self.affine else 0, elementwise=self.elementwise(out), work=self.work(out))

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.GroupNorm(self.groups, ins[0].c, affine=self.affine)

    def groups_of_stats(self, x: Shape) -> int:
        return self.groups

    def param_tensors(self, ins: Shapes, out: Shape) -> tuple[int, ...]:
        return (out.c, out.c) if self.affine else ()

    EXAMPLES = [((Shape.of(8, 4, 4),), dict(groups=4))]


@register("lrn")
@dataclass(frozen=True, kw_only=True)
class LocalResponseNorm(Op):
    """AlexNet's LRN across ``size`` adjacent channels: per element ``size`` square-adds,
    then scale, power and divide (``size + 3``)."""

    size: Count = 5
    alpha: Real = 1e-4
    beta: Real = 0.75
    k: Real = 1.0

    def shape(self, ins: Shapes) -> Shape:
        need_map(self, ins[0])
        return ins[0]

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        return Cost(elementwise=(self.size + 3) * out.numel)

    def build(self, ins: Shapes, out: Shape):
        from torch import nn

        return nn.LocalResponseNorm(self.size, self.alpha, self.beta, self.k)

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """torch runs LRN as square, pad, avg_pool3d, scale, power, divide; their backwards:
        about ``size + 10`` operations per element. The division's backward is the widest
        moment: besides the input's gradient, three map-sized tensors (``x / d``, ``/ d``
        again, the negated product) are alive at once (measured)."""
        return BackwardCost(elementwise=(self.size + 10) * out.numel, transient=3 * out.numel)

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Its input, the zero-padded squares (``C + size - 1`` channels) avg_pool3d keeps, and
        two map-sized intermediates (pow's base, the divisor)."""
        x = ins[0]
        return Saved(inputs=(0,), temps=(x.c + self.size - 1) * x.h * x.w + 2 * out.numel)

    EXAMPLES = [((Shape.of(8, 5, 5),), dict(size=5, k=2.0))]

"""Small torch modules for graph ops that torch.nn has no module for (merges, crop) and
for padding that nn layers cannot express (asymmetric, "same" with stride)."""

from __future__ import annotations

import torch
from torch import nn


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mul(nn.Module):
    """Element-wise product; a ``Cx1x1`` gate broadcasts over the map (SE)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


def center_crop(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]


class Concat(nn.Module):
    """Channel concatenation; with ``crop`` larger inputs are centre-cropped to the smallest."""

    def __init__(self, crop: bool = False):
        super().__init__()
        self.crop = crop

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        if self.crop and xs[0].dim() == 4:
            h, w = min(x.shape[-2] for x in xs), min(x.shape[-1] for x in xs)
            xs = tuple(center_crop(x, h, w) for x in xs)
        return torch.cat(xs, dim=1)

    def extra_repr(self) -> str:
        return f"crop={self.crop}"


class ChannelSplit(nn.Module):
    """Part ``index`` of the channels: ``x.chunk(parts, 1)`` or ``torch.split(x, sizes, 1)``."""

    def __init__(self, index: int, parts: int | None = None, sizes: tuple[int, ...] | None = None):
        super().__init__()
        self.index, self.parts, self.sizes = index, parts, sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sizes is not None:
            return torch.split(x, list(self.sizes), dim=1)[self.index]
        return x.chunk(self.parts, dim=1)[self.index]

    def extra_repr(self) -> str:
        whole = f"parts={self.parts}" if self.sizes is None else f"sizes={list(self.sizes)}"
        return f"{whole}, index={self.index}"


class ChannelShuffle(nn.Module):
    """torchvision's ``channel_shuffle``: view, transpose, contiguous, view (no arithmetic;
    the counters see only views and a copy, as in torchvision's ShuffleNetV2)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, self.groups, c // self.groups, h, w)
        return torch.transpose(x, 1, 2).contiguous().view(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Crop(nn.Module):
    def __init__(self, h: int, w: int):
        super().__init__()
        self.h, self.w = h, w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return center_crop(x, self.h, self.w)


def with_padding(make, pads: tuple[tuple[int, int], ...], fill: float = 0.0) -> nn.Module:
    """``make(padding)`` builds the layer; symmetric padding goes to the layer itself,
    asymmetric padding to a ConstantPad2d in front (``fill`` = -inf for max pooling)."""
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return make((top, left))
    return nn.Sequential(nn.ConstantPad2d((left, right, top, bottom), fill), make((0, 0)))


class SpatialMean(nn.Module):
    """``x.mean((2, 3), keepdim=True)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)

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


class Scale(nn.Module):
    """``x * factor`` by a constant (Inception-ResNet's scaled residual branch)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


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


# -- tokens (netcost/ops/tokens.py, attention.py, residual.py) -----------------------------------


class ToTokens(nn.Module):
    """A map to tokens ``[N, H*W, C]``: ViT's ``x.reshape(n, c, h * w).permute(0, 2, 1)``."""

    def __init__(self, channels_first: bool = True):
        super().__init__()
        self.channels_first = channels_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_first:
            return x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        return x.reshape(x.shape[0], -1, x.shape[-1])


class ToMap(nn.Module):
    def __init__(self, h: int, w: int, channels_first: bool = True):
        super().__init__()
        self.h, self.w, self.channels_first = h, w, channels_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_first:
            return x.permute(0, 2, 1).reshape(x.shape[0], x.shape[2], self.h, self.w)
        return x.reshape(x.shape[0], self.h, self.w, x.shape[2])


class Permute(nn.Module):
    """torchvision's ``ops.misc.Permute``."""

    def __init__(self, dims: list[int]):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class LearnedTensor(nn.Module):
    """A layer that is one learnable tensor, named by ``TENSOR`` (class token, position
    embedding, layer scale). Compiled (netcost.counted.compile), the tensor is registered on
    the parent under the layer's own name, as torchvision registers it (``class_token``,
    ``encoder.pos_embedding``, ``block.layer_scale``), so that ``state_dict()`` keys are
    torchvision's; the module itself runs the layer and is held beside the tree."""

    TENSOR = "weight"

    @property
    def tensor(self) -> nn.Parameter:
        return self._parameters[self.TENSOR]


class ClassToken(LearnedTensor):
    """ViT's class token: a learnable ``(1, 1, C)`` token put in front."""

    TENSOR = "token"

    def __init__(self, channels: int):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class PosEmbedding(LearnedTensor):
    """ViT's learnable position embedding ``(1, L, C)``, added."""

    TENSOR = "embedding"

    def __init__(self, length: int, channels: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(1, length, channels).normal_(std=0.02))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding


class SelectToken(nn.Module):
    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]


class MeanTokens(nn.Module):
    """The mean over every axis between the batch and the channels (tokens, or H and W)."""

    def __init__(self, rank: int):
        super().__init__()
        self.dims = tuple(range(1, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(self.dims)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a channels-first map (torchvision's ConvNeXt
    ``LayerNorm2d``): permute, ``F.layer_norm``, permute back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LayerScale(LearnedTensor):
    """``gamma * x``, ``gamma`` per channel: ``(C, 1, 1)`` on a channels-first map (ConvNeXt)."""

    TENSOR = "scale"

    def __init__(self, channels: int, channels_first: bool = True):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels, 1, 1) if channels_first else (channels,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x


class StochasticDepth(nn.Module):
    """torchvision's ``StochasticDepth(p, "row")``: the identity at inference."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        noise = x.new_empty([x.shape[0]] + [1] * (x.ndim - 1)).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise


class Attention(nn.MultiheadAttention):
    """``nn.MultiheadAttention(batch_first=True)`` called as torchvision's ViT calls it
    (``need_weights=False``): self-attention on one input, cross-attention on two."""

    def __init__(self, embed: int, heads: int, kv_channels: int, bias: bool = True, causal: bool = False):
        super().__init__(embed, heads, bias=bias, kdim=kv_channels, vdim=kv_channels, batch_first=True)
        self.causal = causal

    def forward(self, x: torch.Tensor, kv: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        kv = x if kv is None else kv
        mask = None
        if self.causal:
            mask = torch.ones(x.shape[1], kv.shape[1], dtype=torch.bool, device=x.device).triu(1)
        return super().forward(x, kv, kv, need_weights=False, attn_mask=mask, is_causal=self.causal)[0]


class PatchMerge(nn.Module):
    """torchvision's ``_patch_merging_pad``: pad to even sizes, then the four 2x2 neighbours
    concatenated over the channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3:-1]
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        parts = (x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :])
        return torch.cat(parts, -1)


class WindowAttention(nn.Module):
    """torchvision's ``ShiftedWindowAttention`` (Swin V1): the same parameters, buffer and
    computation (``shifted_window_attention``), inference only (no dropout)."""

    def __init__(self, dim: int, window: int, shift: int, heads: int, bias: bool = True):
        super().__init__()
        self.window, self.shift, self.heads = window, shift, heads
        self.qkv = nn.Linear(dim, dim * 3, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous() + (window - 1)
        relative[:, :, 0] *= 2 * window - 1
        self.register_buffer("relative_position_index", relative.sum(-1).flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws, n = self.window, self.window * self.window
        x = nn.functional.pad(x, (0, 0, 0, (ws - w % ws) % ws, 0, (ws - h % ws) % ws))
        _, ph, pw, _ = x.shape
        shift = [0 if ws >= ph else self.shift, 0 if ws >= pw else self.shift]
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = (ph // ws) * (pw // ws)
        x = x.view(b, ph // ws, ws, pw // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b * windows, n, c)
        q, k, v = self.qkv(x).reshape(x.size(0), n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // self.heads) ** -0.5).matmul(k.transpose(-2, -1))
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if sum(shift) > 0:
            attn = attn.view(b, windows, self.heads, n, n) + self._mask(x, ph, pw, shift).unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        x = attn.softmax(dim=-1).matmul(v).transpose(1, 2).reshape(x.size(0), n, c)
        x = self.proj(x)
        x = x.view(b, ph // ws, pw // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()

    def _mask(self, x: torch.Tensor, ph: int, pw: int, shift: list[int]) -> torch.Tensor:
        """-100 between tokens of a window that came from different regions before the shift."""
        ws = self.window
        mask = x.new_zeros((ph, pw))
        count = 0
        for hs in ((0, -ws), (-ws, -shift[0]), (-shift[0], None)):
            for wsl in ((0, -ws), (-ws, -shift[1]), (-shift[1], None)):
                mask[hs[0] : hs[1], wsl[0] : wsl[1]] = count
                count += 1
        mask = mask.view(ph // ws, ws, pw // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
        mask = mask.unsqueeze(1) - mask.unsqueeze(2)
        return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


# -- generic tensor ops (netcost/ops/tensor.py) ---------------------------------------------------


class Reshape(nn.Module):
    """``x.reshape(n, *dims)``: the per-sample dimensions ``dims``."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.dims)

    def extra_repr(self) -> str:
        return f"dims={list(self.dims)}"


class PermuteDims(nn.Module):
    """``x.permute(0, *(1 + d for d in dims))``, made contiguous (a copy) with ``contiguous``."""

    def __init__(self, dims: tuple[int, ...], contiguous: bool = False):
        super().__init__()
        self.dims, self.contiguous = tuple(dims), contiguous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, *(1 + d for d in self.dims))
        return y.contiguous() if self.contiguous else y

    def extra_repr(self) -> str:
        return f"dims={list(self.dims)}, contiguous={self.contiguous}"


class MatMul(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class Opaque(nn.Module):
    """A stand-in for an op netcost has no formula for (netcost.ops.tensor's ``opaque``): it
    holds ``params`` parameter and ``buffers`` buffer elements, does ``macs`` MACs per sample
    as one matmul (so that counters see them) and returns zeros of the output's shape."""

    def __init__(self, out: tuple[int, ...], params: int = 0, buffers: int = 0, macs: int = 0):
        super().__init__()
        self.out, self.macs = tuple(out), macs
        if params:
            self.weight = nn.Parameter(torch.zeros(params))
        if buffers:
            self.register_buffer("state", torch.zeros(buffers))
        self.rows = next((d for d in range(int(macs**0.5), 0, -1) if macs % d == 0), 1) if macs else 0

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        x = xs[0]
        if self.macs:
            rows, cols = self.rows, self.macs // self.rows
            torch.mm(x.new_zeros(x.shape[0], rows), x.new_zeros(rows, cols))
        return x.new_zeros(x.shape[0], *self.out)

    def extra_repr(self) -> str:
        return f"out={list(self.out)}, macs={self.macs}"

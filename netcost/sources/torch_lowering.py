"""Lowering torch calls onto netcost ops: ONE table per kind of call.

:data:`MODULES` maps a module class (torch.nn layers and netcost's own compiled helpers,
netcost.counted.modules) to a function reading the op's fields off the module;
:data:`FUNCTIONS` maps functional calls (``torch.add``, ``F.relu``, ``x.permute``, ``x @ y``)
the same way. A lowering gets the call (:class:`Call`: the module or function, its
arguments as values, the per-sample shapes of its activation inputs) and returns the op, or
None when this call has no netcost op (the caller makes it ``opaque``, its cost from the
counting rules). The layouts come from the ops' own shape rules: ``to_tokens`` makes
tokens, ``permute`` a channels-last map.

Modules in :data:`MODULES` are leaves of the trace (one node each); every other module is
traced through. Recurrent layers stop the capture: the Graph has no recurrent op (they
are counted op by op instead, netcost.counted.torchcount).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from netcost.core.shape import Shape
from netcost.counted import modules as helpers
from netcost.ops import get
from netcost.ops.base import Op


class Unlowerable(Exception):
    """This module cannot be captured at all (a recurrent layer): the reason."""


@dataclass
class Call:
    """What a lowering reads: the module (None for a function), the arguments as values
    (fake tensors, Python values), the activation inputs' per-sample shapes, and the
    output's per-sample dims."""

    module: nn.Module | None
    target: Any
    args: tuple
    kwargs: dict
    ins: tuple[Shape, ...]
    out: tuple[int, ...]
    extra: dict = field(default_factory=dict)

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        if name in self.kwargs:
            return self.kwargs[name]
        return self.args[index] if len(self.args) > index else default


def op(kind: str, **fields: Any) -> Op:
    return get(kind)(**fields)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _pads(padding: Any) -> tuple[int, int, int, int] | str:
    if isinstance(padding, str):
        return padding
    ph, pw = _pair(padding)
    return (ph, ph, pw, pw)


# --- modules ---------------------------------------------------------------------------


def _conv(m: nn.Conv2d, call: Call, pads=None) -> Op:
    return op(
        "conv",
        out=m.out_channels,
        k=_pair(m.kernel_size),
        stride=_pair(m.stride),
        pad=pads or _pads(m.padding),
        dilation=_pair(m.dilation),
        groups=m.groups,
        bias=m.bias is not None,
    )


def _conv_transpose(m: nn.ConvTranspose2d, call: Call) -> Op:
    return op(
        "conv_transpose",
        out=m.out_channels,
        k=_pair(m.kernel_size),
        stride=_pair(m.stride),
        pad=_pair(m.padding),
        output_pad=_pair(m.output_padding),
        dilation=_pair(m.dilation),
        groups=m.groups,
        bias=m.bias is not None,
    )


def _maxpool(m: nn.MaxPool2d, call: Call, pads=None) -> Op:
    stride = m.stride if m.stride is not None else m.kernel_size
    return op(
        "maxpool",
        k=_pair(m.kernel_size),
        stride=_pair(stride),
        pad=pads or _pads(m.padding),
        dilation=_pair(m.dilation),
        ceil_mode=m.ceil_mode,
    )


def _avgpool(m: nn.AvgPool2d, call: Call, pads=None) -> Op:
    stride = m.stride if m.stride is not None else m.kernel_size
    return op(
        "avgpool",
        k=_pair(m.kernel_size),
        stride=_pair(stride),
        pad=pads or _pads(m.padding),
        ceil_mode=m.ceil_mode,
        count_include_pad=m.count_include_pad,
    )


def _padded(m: nn.Sequential, call: Call) -> Op | None:
    """``Sequential(ConstantPad2d, layer)``: what netcost compiles for padding torch layers
    cannot express (asymmetric, or "same" with a stride), lowered as one padded layer."""
    pad, layer = m[0], m[1]
    left, right, top, bottom = pad.padding
    pads = (top, bottom, left, right)
    lower = {nn.Conv2d: _conv, nn.MaxPool2d: _maxpool, nn.AvgPool2d: _avgpool}[type(layer)]
    return lower(layer, call, pads)


def is_padded_layer(m: nn.Module) -> bool:
    return (
        type(m) is nn.Sequential
        and len(m) == 2
        and type(m[0]) is nn.ConstantPad2d
        and type(m[1]) in (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
        and _pair(m[1].padding) == (0, 0)
    )


def _adaptive_avgpool(m: nn.AdaptiveAvgPool2d, call: Call) -> Op:
    out = _pair(m.output_size if None not in _as_tuple(m.output_size) else call.out[-2:])
    return op("gap") if out == (1, 1) else op("adaptive_avgpool", out=out)


def _as_tuple(v: Any) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _layernorm(m: nn.LayerNorm, call: Call) -> Op | None:
    x = call.ins[0]
    affine = m.elementwise_affine
    if isinstance(m, helpers.LayerNorm2d):
        return op("layernorm", affine=affine, over="channels")
    shape = tuple(m.normalized_shape)
    if shape == x.dims and x.layout not in ("LC", "HWC"):
        return op("layernorm", affine=affine, over="all")
    if shape == (x.dims[-1],) and x.layout in ("LC", "HWC"):
        return op("layernorm", affine=affine, over="channels")
    return None


def _softmax(m: Any, call: Call, dim: int | None = None) -> Op | None:
    dim = m.dim if m is not None else dim
    if dim is None:
        return None
    return op("softmax", axis=dim - 1 if dim >= 0 else dim)


def _attention(m: nn.MultiheadAttention, call: Call) -> Op:
    """``nn.MultiheadAttention`` (batch first): self-attention when key and value are the
    query, else cross-attention on (query, key = value). A mask (``attn_mask`` or
    ``is_causal``) is counted as the causal mask: one add per score."""
    if not m.batch_first:
        raise Unlowerable("nn.MultiheadAttention with batch_first=False: its tensors are sequence-first")
    if isinstance(m, helpers.Attention):
        return op("attention", heads=m.num_heads, bias=m.in_proj_bias is not None, causal=m.causal)
    masked = call.arg(5, "attn_mask") is not None or bool(call.kwargs.get("is_causal", False))
    return op("attention", heads=m.num_heads, bias=m.in_proj_bias is not None, causal=masked)


def _upsample(m: nn.Upsample, call: Call) -> Op | None:
    x = call.ins[0]
    if len(call.out) != 3 or m.mode not in ("nearest", "bilinear"):
        return None
    oh, ow = call.out[1:]
    if oh % x.h or ow % x.w:
        return None
    return op("upsample", scale=(oh // x.h, ow // x.w), mode=m.mode)


def _flatten(m: nn.Flatten, call: Call) -> Op:
    if m.start_dim == 1 and m.end_dim == -1:
        return op("flatten")
    return op("reshape", dims=call.out)


def _recurrent(m: nn.Module, call: Call) -> Op:
    raise Unlowerable(f"nn.{type(m).__name__} is a recurrent layer, which netcost's Graph has no op for")


def _permute_helper(m: helpers.Permute, call: Call) -> Op:
    dims = list(m.dims)
    if dims == [0, 2, 3, 1]:
        return op("permute", layout="HWC")
    if dims == [0, 3, 1, 2]:
        return op("permute", layout="CHW")
    return op("permute_dims", dims=tuple(d - 1 for d in dims[1:]))


def _closure(fn: Callable) -> dict[str, Any]:
    code = fn.__code__
    return {name: cell.cell_contents for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=True)}


def _sparse_conv(m: nn.Module, call: Call) -> Op:
    """LeNet-5's C3 as netcost.ops.lenet compiles it (one small conv per output map)."""
    conv = m.convs[0]
    left, right, top, bottom = m.padding
    return op(
        "sparse_conv",
        out=len(m.maps),
        k=_pair(conv.kernel_size),
        stride=_pair(conv.stride),
        pad=(top, bottom, left, right),
        table=" | ".join(" ".join(str(i) for i in maps) for maps in m.maps),
        bias=conv.bias is not None,
    )


def _subsample(m: nn.Module, call: Call) -> Op:
    env = _closure(type(m).forward)
    (t, b), (left, right) = env["pads"]
    return op(
        "subsample", k=_pair(env["k"]), stride=_pair(env["stride"]), pad=(t, b, left, right), ceil_mode=env["ceil_mode"]
    )


# module class -> lowering (exact class: a subclass may compute something else)
MODULES: dict[type, Callable[[Any, Call], Op | None]] = {
    nn.Conv2d: _conv,
    nn.ConvTranspose2d: _conv_transpose,
    nn.Linear: lambda m, call: op("linear", out=m.out_features, bias=m.bias is not None),
    nn.BatchNorm1d: lambda m, call: op("bn", affine=m.affine, track_running_stats=m.track_running_stats),
    nn.BatchNorm2d: lambda m, call: op("bn", affine=m.affine, track_running_stats=m.track_running_stats),
    nn.LayerNorm: _layernorm,
    helpers.LayerNorm2d: _layernorm,
    nn.GroupNorm: lambda m, call: op("groupnorm", groups=m.num_groups, affine=m.affine),
    nn.LocalResponseNorm: lambda m, call: op("lrn", size=m.size, alpha=m.alpha, beta=m.beta, k=float(m.k)),
    nn.ReLU: lambda m, call: op("relu"),
    nn.ReLU6: lambda m, call: op("relu6"),
    nn.LeakyReLU: lambda m, call: op("leaky_relu", slope=m.negative_slope),
    nn.Sigmoid: lambda m, call: op("sigmoid"),
    nn.Tanh: lambda m, call: op("tanh"),
    nn.Hardswish: lambda m, call: op("hardswish"),
    nn.Hardsigmoid: lambda m, call: op("hardsigmoid"),
    nn.SiLU: lambda m, call: op("silu"),
    nn.GELU: lambda m, call: op("gelu") if m.approximate == "none" else None,
    nn.Softmax: _softmax,
    nn.MaxPool2d: _maxpool,
    nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool2d: _adaptive_avgpool,
    nn.Upsample: _upsample,
    nn.Flatten: _flatten,
    nn.Identity: lambda m, call: op("identity"),
    nn.Dropout: lambda m, call: op("dropout", p=m.p),
    nn.Dropout1d: lambda m, call: op("dropout", p=m.p),
    nn.Dropout2d: lambda m, call: op("dropout", p=m.p),
    nn.Embedding: lambda m, call: op("embedding", vocab=m.num_embeddings, dim=m.embedding_dim),
    nn.MultiheadAttention: _attention,
    **{cls: _recurrent for cls in (nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell)},
    # netcost's compiled helpers (netcost.counted.modules), back onto the op that built them
    helpers.Add: lambda m, call: op("add"),
    helpers.Mul: lambda m, call: op("mul"),
    helpers.Scale: lambda m, call: op("scale", factor=m.factor),
    helpers.Concat: lambda m, call: op("concat", crop=m.crop),
    helpers.ChannelSplit: lambda m, call: op("split", index=m.index, parts=m.parts, sizes=m.sizes),
    helpers.ChannelShuffle: lambda m, call: op("channel_shuffle", groups=m.groups),
    helpers.Crop: lambda m, call: op("crop", h=m.h, w=m.w),
    helpers.SpatialMean: lambda m, call: op("mean"),
    helpers.ToTokens: lambda m, call: op("to_tokens"),
    helpers.ToMap: lambda m, call: op("to_map", h=m.h, w=m.w, layout="CHW" if m.channels_first else "HWC"),
    helpers.Permute: _permute_helper,
    helpers.ClassToken: lambda m, call: op("class_token"),
    helpers.PosEmbedding: lambda m, call: op("pos_embedding"),
    helpers.SelectToken: lambda m, call: op("select_token", index=m.index),
    helpers.MeanTokens: lambda m, call: op("mean_tokens"),
    helpers.LayerScale: lambda m, call: op("layer_scale"),
    helpers.StochasticDepth: lambda m, call: op("drop_path", p=m.p),
    helpers.Attention: _attention,
    helpers.PatchMerge: lambda m, call: op("patch_merge"),
    helpers.WindowAttention: lambda m, call: op(
        "window_attention", heads=m.heads, window=m.window, shift=m.shift, bias=m.qkv.bias is not None
    ),
    helpers.Reshape: lambda m, call: op("reshape", dims=m.dims),
    helpers.PermuteDims: lambda m, call: op("permute_dims", dims=m.dims, contiguous=m.contiguous),
    helpers.MatMul: lambda m, call: op("matmul"),
}
# LeNet-5's layers are classes local to their op's builder (netcost.ops.lenet): by name
LOCAL_MODULES: dict[str, Callable[[Any, Call], Op | None]] = {
    "SparseConv.build.<locals>.SparseConv2d": _sparse_conv,
    "Subsample.build.<locals>.Subsample2d": _subsample,
    "RBF.build.<locals>.EuclideanRBF": lambda m, call: op("rbf", out=m.centres.shape[0]),
}


def module_lowering(m: nn.Module) -> Callable[[Any, Call], Op | None] | None:
    """The lowering of a module that is one node, or None (traced through)."""
    cls = type(m)
    lower = MODULES.get(cls) or LOCAL_MODULES.get(cls.__qualname__) or NAMED_MODULES.get((cls.__module__, cls.__name__))
    if lower is None and is_padded_layer(m):
        return _padded
    return lower


# --- functions -------------------------------------------------------------------------


def _two_activations(kind: str) -> Callable[[Call], Op | None]:
    """add / mul of two activations; tokens plus a learned ``[1, L, C]`` tensor is a position
    embedding (ViT's ``x + self.pos_embedding``); any other constant operand: opaque."""

    def lower(call: Call) -> Op | None:
        if len(call.ins) == 2 and call.extra.get("constants", 0) == 0:
            return op(kind)
        (x, *rest), consts = call.ins, call.extra.get("const_shapes", [])
        if kind == "add" and not rest and x.is_tokens and consts in ([(1, *x.dims)], [x.dims]):
            return op("pos_embedding")
        numbers = [a for a in call.args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        if kind == "mul" and not rest and not consts and len(numbers) == 1:  # x * 0.17: a constant factor
            return op("scale", factor=float(numbers[0]))
        return None

    return lower


def _getitem(call: Call) -> Op | None:
    """``x[:, i]`` of tokens: one token as a flat vector (ViT's class token, ``x[:, 0]``)."""
    x, index = call.ins[0], call.arg(1, "index")
    if not (x.is_tokens and isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None)):
        return None
    position = index[1]
    return op("select_token", index=position) if isinstance(position, int) and 0 <= position < x.dims[0] else None


def _activation(kind: str) -> Callable[[Call], Op | None]:
    return lambda call: op(kind)


def _f_softmax(call: Call) -> Op | None:
    dim = call.arg(1, "dim")
    return _softmax(None, call, dim) if isinstance(dim, int) else None


def _f_gelu(call: Call) -> Op | None:
    return op("gelu") if call.kwargs.get("approximate", "none") == "none" else None


def _cat(call: Call) -> Op | None:
    """Maps along the channels: ``concat``; a learned ``[1, 1, C]`` token in front of tokens
    (ViT's class token): ``class_token``."""
    dim = call.arg(1, "dim", 0)
    consts = call.extra.get("const_shapes", [])
    x = call.ins[0]
    if len(call.ins) == 1 and x.is_tokens and dim in (1, -2) and [c[-2:] for c in consts] == [(1, x.c)]:
        return op("class_token") if call.out == (x.dims[0] + 1, x.c) else None
    if call.extra.get("constants", 0) or len(call.ins) < 2 or not all(x.is_map for x in call.ins) or dim not in (1, -3):
        return None
    return op("concat")


def _flatten_fn(call: Call) -> Op | None:
    x = call.ins[0]
    if len(call.out) == 1:
        return op("flatten")
    return op("reshape", dims=call.out) if call.out != x.dims else None


def _reshape(call: Call) -> Op | None:
    x = call.ins[0]
    if tuple(call.out) == x.dims:
        return None  # the caller aliases a no-op
    if len(call.out) == 1:
        return op("flatten")
    return op("reshape", dims=call.out)


def _permute_fn(call: Call) -> Op | None:
    """x.permute / torch.permute / x.transpose / x.mT with the batch kept first."""
    dims = call.extra.get("perm")
    if dims is None:
        return None
    if dims == tuple(range(len(dims))):
        return None
    x = call.ins[0]
    if x.layout == "CHW" and dims == (1, 2, 0):
        return op("permute", layout="HWC")
    if x.layout == "HWC" and dims == (2, 0, 1):
        return op("permute", layout="CHW")
    return op("permute_dims", dims=dims)


def _matmul(call: Call) -> Op | None:
    if len(call.ins) != 2 or call.extra.get("constants", 0):
        return None
    return op("matmul")


def _dropout(call: Call) -> Op | None:
    p = call.arg(1, "p", 0.5)
    return op("dropout", p=float(p))


def _adaptive_avg_pool2d(call: Call) -> Op | None:
    size = call.arg(1, "output_size")
    return op("gap") if _as_tuple(size) == (1, 1) else op("adaptive_avgpool", out=_pair(size))


def _f_layer_norm(call: Call) -> Op | None:
    """F.layer_norm over the channels of tokens or a channels-last map, or over a whole sample."""
    x = call.ins[0]
    shape = tuple(call.arg(1, "normalized_shape"))
    weight, bias = call.arg(2, "weight"), call.arg(3, "bias")
    if (weight is None) != (bias is None):
        return None
    affine = weight is not None
    if shape == (x.dims[-1],) and x.layout in ("LC", "HWC"):
        return op("layernorm", affine=affine, over="channels")
    if shape == x.dims and x.layout not in ("LC", "HWC"):
        return op("layernorm", affine=affine, over="all")
    return None


def _f_batch_norm(call: Call) -> Op | None:
    """F.batch_norm at inference, on its running statistics (timm's BatchNormAct2d)."""
    x = call.ins[0]
    running, weight = call.arg(1, "running_mean"), call.arg(3, "weight")
    if bool(call.arg(5, "training", False)) or running is None or not (x.is_map or x.layout == "F"):
        return None
    return op("bn", affine=weight is not None, track_running_stats=True)


def _mean(call: Call) -> Op | None:
    """``x.mean((2, 3), keepdim=True)`` of a map: the spatial mean (SE's squeeze)."""
    dims, keep = call.arg(1, "dim"), call.arg(2, "keepdim", False)
    axes = tuple(d % 4 for d in dims) if isinstance(dims, (tuple, list)) else None
    return op("mean") if call.ins[0].is_map and keep and axes in ((2, 3), (3, 2)) else None


def _interpolate(call: Call) -> Op | None:
    """F.interpolate by whole factors, nearest or bilinear (align_corners False: as the
    upsample op builds it), is ``upsample``; other resamplings are opaque."""
    mode = call.arg(3, "mode", "nearest")
    x = call.ins[0]
    if mode not in ("nearest", "bilinear") or not x.is_map or len(call.out) != 3:
        return None
    if mode == "bilinear" and call.arg(4, "align_corners") not in (None, False):
        return None
    oh, ow = call.out[1:]
    if oh % x.h or ow % x.w:
        return None
    return op("upsample", scale=(oh // x.h, ow // x.w), mode=mode)


def _linear_fn(call: Call) -> Op | None:
    weight = call.arg(1, "weight")
    bias = call.arg(2, "bias")
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        return None
    return op("linear", out=weight.shape[0], bias=bias is not None)


def _conv2d_fn(call: Call) -> Op | None:
    weight = call.arg(1, "weight")
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        return None
    padding = call.arg(4, "padding", 0)
    return op(
        "conv",
        out=weight.shape[0],
        k=(weight.shape[2], weight.shape[3]),
        stride=_pair(call.arg(3, "stride", 1)),
        pad=_pads(padding),
        dilation=_pair(call.arg(5, "dilation", 1)),
        groups=int(call.arg(6, "groups", 1)),
        bias=call.arg(2, "bias") is not None,
    )


def _pool_fn(kind: str) -> Callable[[Call], Op | None]:
    def lower(call: Call) -> Op | None:
        k = call.arg(1, "kernel_size")
        stride = call.arg(2, "stride") or k
        padding = call.arg(3, "padding", 0)
        fields: dict[str, Any] = dict(k=_pair(k), stride=_pair(stride), pad=_pads(padding))
        if kind == "maxpool":
            fields.update(dilation=_pair(call.arg(4, "dilation", 1)), ceil_mode=bool(call.arg(5, "ceil_mode", False)))
        else:
            fields.update(ceil_mode=bool(call.arg(4, "ceil_mode", False)))
            fields.update(count_include_pad=bool(call.arg(5, "count_include_pad", True)))
        return op(kind, **fields)

    return lower


_ACTIVATIONS = {
    "relu": "relu",
    "relu6": "relu6",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid",
    "silu": "silu",
}

# (function or method name) -> lowering. Methods are keyed by name (``"permute"``).
FUNCTIONS: dict[Any, Callable[[Call], Op | None]] = {
    operator.add: _two_activations("add"),
    operator.iadd: _two_activations("add"),
    torch.add: _two_activations("add"),
    "add": _two_activations("add"),
    operator.mul: _two_activations("mul"),
    operator.imul: _two_activations("mul"),
    torch.mul: _two_activations("mul"),
    "mul": _two_activations("mul"),
    torch.cat: _cat,
    torch.concat: _cat,
    torch.flatten: _flatten_fn,
    "flatten": _flatten_fn,
    "view": _reshape,
    "reshape": _reshape,
    torch.reshape: _reshape,
    "permute": _permute_fn,
    torch.permute: _permute_fn,
    "transpose": _permute_fn,
    torch.transpose: _permute_fn,
    operator.matmul: _matmul,
    torch.matmul: _matmul,
    torch.bmm: _matmul,
    "matmul": _matmul,
    "bmm": _matmul,
    F.softmax: _f_softmax,
    torch.softmax: _f_softmax,
    "softmax": _f_softmax,
    F.gelu: _f_gelu,
    F.leaky_relu: lambda call: op("leaky_relu", slope=float(call.arg(1, "negative_slope", 0.01))),
    F.dropout: _dropout,
    F.adaptive_avg_pool2d: _adaptive_avg_pool2d,
    F.linear: _linear_fn,
    F.interpolate: _interpolate,
    F.layer_norm: _f_layer_norm,
    operator.getitem: _getitem,
    F.batch_norm: _f_batch_norm,
    "mean": _mean,
    torch.mean: _mean,
    F.conv2d: _conv2d_fn,
    F.max_pool2d: _pool_fn("maxpool"),
    F.avg_pool2d: _pool_fn("avgpool"),
    **{getattr(F, name): _activation(kind) for name, kind in _ACTIVATIONS.items()},
    **{getattr(torch, name): _activation(kind) for name, kind in _ACTIVATIONS.items() if hasattr(torch, name)},
    **{name: _activation(kind) for name, kind in _ACTIVATIONS.items()},
}

# calls that return their input (or a view of it with the same shape): no node of their own
ALIASES = frozenset({"contiguous", "detach", "float", "to", "type_as", "requires_grad_"})


def _shifted_window_attention(m: nn.Module, call: Call) -> Op | None:
    """torchvision's ShiftedWindowAttention (Swin V1), whose computation netcost's
    window_attention op models (netcost.counted.modules.WindowAttention is its copy)."""
    window, shift = tuple(m.window_size), tuple(m.shift_size)
    if len(set(window)) != 1 or len(set(shift)) != 1 or type(m).__name__ != "ShiftedWindowAttention":
        return None
    return op("window_attention", heads=m.num_heads, window=window[0], shift=shift[0], bias=m.qkv.bias is not None)


# classes and functions of other libraries, by (module, name): no import of the library
NAMED_MODULES: dict[tuple[str, str], Callable[[Any, Call], Op | None]] = {
    ("torchvision.models.swin_transformer", "ShiftedWindowAttention"): _shifted_window_attention,
}
NAMED_FUNCTIONS: dict[tuple[str, str], Callable[[Call], Op | None]] = {
    ("torchvision.models.swin_transformer", "_patch_merging_pad"): lambda call: op("patch_merge"),
}


def function_lowering(target: Any) -> Callable[[Call], Op | None] | None:
    try:
        lower = FUNCTIONS.get(target)
    except TypeError:  # an unhashable target
        return None
    if lower is None and callable(target):
        lower = NAMED_FUNCTIONS.get((getattr(target, "__module__", ""), getattr(target, "__name__", "")))
    return lower


def function_name(target: Any) -> str:
    """``add`` for operator.add/iadd and torch.add, ``relu`` for F.relu, a method's name."""
    if isinstance(target, str):
        return target.strip("_")
    name = getattr(target, "__name__", type(target).__name__)
    return {"iadd": "add", "imul": "mul", "getitem": "getitem", "truediv": "div", "floordiv": "div"}.get(name, name)

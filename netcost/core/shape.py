"""Tensor shapes (batch excluded), their layouts, and the output-size rule of sliding windows.

A shape's ``layout`` names the role of each dimension, one letter each:

- ``C`` channels (features of one position), ``H`` and ``W`` the spatial axes,
- ``L`` tokens (positions of a sequence), ``F`` the features of a flat vector.

The layouts netcost knows: ``CHW`` (a feature map, channels first: the default of rank 3),
``F`` (a flat vector: the default of rank 1), ``LC`` (a token sequence: the default of
rank 2), ``HWC`` (a channels-last map, as ConvNeXt and Swin compute), ``L`` (token ids, the
integer input of an embedding). Other ranks have no default and no roles (``""``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from operator import mul

DEFAULT_LAYOUT = {1: "F", 2: "LC", 3: "CHW"}
LAYOUTS = {
    "CHW": "a feature map, channels first",
    "HWC": "a feature map, channels last",
    "LC": "a token sequence (tokens x channels)",
    "F": "a flat input",
    "L": "token ids (integers)",
}


@dataclass(frozen=True)
class Shape:
    """Dimensions of one sample and their roles: ``(C, H, W)`` for feature maps, ``(F,)``
    after flatten, ``(L, C)`` for tokens (see the module docstring)."""

    dims: tuple[int, ...]
    layout: str = ""

    def __post_init__(self) -> None:
        if not self.layout:
            layout = DEFAULT_LAYOUT.get(len(self.dims), "")
            if layout:
                object.__setattr__(self, "layout", layout)
        elif self.layout not in LAYOUTS or len(self.layout) != len(self.dims):
            known = ", ".join(f"{k} ({v})" for k, v in LAYOUTS.items())
            raise ValueError(f"layout {self.layout!r} does not fit {len(self.dims)} dimensions (layouts: {known})")

    @classmethod
    def of(cls, *dims: int) -> Shape:
        return cls(tuple(int(d) for d in dims))

    @classmethod
    def tokens(cls, length: int, channels: int) -> Shape:
        return cls((int(length), int(channels)), "LC")

    @classmethod
    def channels_last(cls, h: int, w: int, c: int) -> Shape:
        return cls((int(h), int(w), int(c)), "HWC")

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def is_map(self) -> bool:
        """A channels-first ``CxHxW`` map (what conv, pooling and batchnorm take)."""
        return self.layout == "CHW"

    @property
    def is_tokens(self) -> bool:
        return self.layout == "LC"

    @property
    def channels_axis(self) -> int:
        """Index of the channels (the last dim of tokens and channels-last maps; the first
        of a map or a flat vector)."""
        i = self.layout.find("C")
        return i if i >= 0 else 0

    @property
    def c(self) -> int:
        return self.dims[self.channels_axis]

    @property
    def h(self) -> int:
        return self.dims[0 if self.layout == "HWC" else 1]

    @property
    def w(self) -> int:
        return self.dims[1 if self.layout == "HWC" else 2]

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.dims[:2] if self.layout == "HWC" else self.dims[1:]

    @property
    def numel(self) -> int:
        return reduce(mul, self.dims, 1)

    def describe(self) -> str:
        """``197x768 (LC)``: the dimensions with their layout, for messages."""
        return f"{self} ({self.layout})" if self.layout else f"{self} (rank {self.rank})"

    def __str__(self) -> str:
        return "x".join(str(d) for d in self.dims)


def window_out(n: int, k: int, s: int, pad: tuple[int, int], d: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a sliding window, exactly as torch defines it.

    ``floor((n + p0 + p1 - d(k-1) - 1) / s) + 1``; with ``ceil_mode`` the division
    rounds up, but a window that would start inside the right padding is dropped
    (torch's rule for pooling).
    """
    span = n + pad[0] + pad[1] - d * (k - 1) - 1
    if span < 0:
        return span // s + 1  # <= 0: the caller reports the bad geometry
    if not ceil_mode:
        return span // s + 1
    out = math.ceil(span / s) + 1
    if (out - 1) * s >= n + pad[0]:
        out -= 1
    return out


def same_padding(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow-style "same" padding: output = ceil(n / s); the odd pixel goes after."""
    total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2

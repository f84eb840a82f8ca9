"""Tensor shapes (batch excluded) and the output-size rule of sliding windows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from operator import mul


@dataclass(frozen=True)
class Shape:
    """Dimensions of one sample: ``(C, H, W)`` for feature maps, ``(F,)`` after flatten."""

    dims: tuple[int, ...]

    @classmethod
    def of(cls, *dims: int) -> Shape:
        return cls(tuple(int(d) for d in dims))

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def is_map(self) -> bool:
        return self.rank == 3

    @property
    def c(self) -> int:
        return self.dims[0]

    @property
    def h(self) -> int:
        return self.dims[1]

    @property
    def w(self) -> int:
        return self.dims[2]

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.dims[1:]

    @property
    def numel(self) -> int:
        return reduce(mul, self.dims, 1)

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

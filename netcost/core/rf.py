"""Receptive fields per axis: size, jump (effective stride) and start (centre offset).

For a window of kernel ``k``, stride ``s``, leading padding ``p`` and dilation ``d``
(``k_eff = d(k-1) + 1``), in input-pixel units::

    size  += (k_eff - 1) * jump
    start += ((k_eff - 1) / 2 - p) * jump
    jump  *= s

``start`` is the input coordinate of the centre of the first output unit's field.
Fields are never clipped to the input: resnet18's last stage sees 435 pixels of a
224-pixel image. A unit whose value depends on every input position (after global
pooling, a linear layer over a flattened map, an SE gate) is *global*.

Tokens and channels-last maps: changing the layout (``permute``, ``to_tokens``,
``to_map``) moves no data between positions, so a token made from a map position keeps
that position's field (ViT's patch tokens: the patch, 16 /16); per-position ops (linear,
layernorm, layer scale, GELU over the channels) keep it too. Attention over all tokens
mixes every position: every unit after it is global (as after global pooling); the
class token and the position embedding add no input positions. Window attention (Swin)
grows the field by its window, as a ``window x window`` kernel would (an upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction


@dataclass(frozen=True)
class AxisRF:
    size: Fraction = Fraction(1)
    jump: Fraction = Fraction(1)
    start: Fraction = Fraction(0)

    def through(self, k: int, s: int = 1, pad: int = 0, d: int = 1) -> AxisRF:
        k_eff = d * (k - 1) + 1
        return AxisRF(
            size=self.size + (k_eff - 1) * self.jump,
            start=self.start + (Fraction(k_eff - 1, 2) - pad) * self.jump,
            jump=self.jump * s,
        )

    def resampled(self, factor: int | Fraction, taps: int = 1, shift: Fraction | float = 0) -> AxisRF:
        """Through an up-sampling by ``factor`` (transposed conv, upsample): each output
        reads ``taps`` neighbouring inputs; the first output's centre sits ``shift`` input
        pixels from the first input's."""
        return AxisRF(
            size=self.size + (taps - 1) * self.jump,
            start=self.start + Fraction(shift).limit_denominator(10**6) * self.jump,
            jump=self.jump / factor,
        )


@dataclass(frozen=True)
class RF:
    """The receptive field of one tensor: per axis (h, w), or global."""

    axes: tuple[AxisRF, ...] = (AxisRF(), AxisRF())
    is_global: bool = False
    spatial: bool = True  # False after flatten: units are no longer laid out on a grid

    @classmethod
    def identity(cls) -> RF:
        return cls()

    @classmethod
    def whole(cls) -> RF:
        return cls(is_global=True, spatial=False)

    def map_axes(self, fn) -> RF:
        if self.is_global:
            return self
        return replace(self, axes=tuple(fn(i, a) for i, a in enumerate(self.axes)))

    def flattened(self) -> RF:
        return replace(self, spatial=False)

    @property
    def size(self) -> tuple[int, int] | None:
        return None if self.is_global else tuple(_num(a.size) for a in self.axes)

    @property
    def jump(self) -> tuple[float, float] | None:
        return None if self.is_global else tuple(_num(a.jump) for a in self.axes)

    @property
    def start(self) -> tuple[float, float] | None:
        return None if self.is_global else tuple(_num(a.start) for a in self.axes)


Span = tuple[int, int]  # inclusive [lo, hi] of positions along one axis


def window_span(span: Span, k: int, s: int = 1, pad: int = 0, d: int = 1) -> Span:
    """Input positions read by outputs ``span`` of a sliding window (conv, pooling)."""
    lo, hi = span
    return lo * s - pad, hi * s - pad + d * (k - 1)


def merge(fields: tuple[RF, ...]) -> RF:
    """Branches merge by the largest field per axis; any global input makes the output global."""
    if any(f.is_global for f in fields):
        return RF.whole()
    axes = tuple(max((f.axes[i] for f in fields), key=lambda a: a.size) for i in range(2))
    return RF(axes=axes, spatial=all(f.spatial for f in fields))


def _num(x: Fraction) -> int | float:
    return int(x) if x.denominator == 1 else float(x)

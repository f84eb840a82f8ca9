"""Parsing and formatting of counts and byte sizes: the only place numbers become text.

Counts use SI prefixes (K = 10^3, M, G, T); bytes use binary prefixes (KiB = 2^10,
MiB, GiB). ``parse_quantity`` accepts either family on any metric, so ``300M`` is
3e8 and ``1GiB`` is 2^30 whatever it measures.
"""

from __future__ import annotations

import re

SI = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
BINARY = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_quantity(text: str) -> int:
    """``'1.5G'`` -> 1_500_000_000, ``'12e6'`` -> 12_000_000, ``'24GiB'`` -> 24 * 2**30.

    Raises ValueError with a message that lists the accepted suffixes.
    """
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"cannot read {text!r} as a number (e.g. 12M, 1.5G, 2e9, 24GiB)")
    number, suffix = match.groups()
    scale = SI.get(suffix.upper() if len(suffix) <= 1 else suffix) or BINARY.get(suffix)
    if scale is None and suffix.upper().endswith("B") and suffix[:-1].upper() in SI:
        scale = SI[suffix[:-1].upper()]  # "300MB" means 3e8 bytes
    if scale is None:
        accepted = ", ".join([*(k for k in SI if k), *BINARY])
        raise ValueError(f"unknown unit {suffix!r} in {text!r}; accepted: {accepted}")
    value = float(number) * scale
    if value != int(value) and value < 1e15:
        raise ValueError(f"{text!r} is not a whole number")
    return round(value)


def si(n: float | int | None, digits: int = 3) -> str:
    """A count with an SI prefix and ``digits`` significant figures: 211 M, 1.81 G, 512."""
    if n is None:
        return "-"
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    n = abs(n)
    for prefix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            return f"{sign}{_sig(n / scale, digits)} {prefix}"
    return f"{sign}{_sig(n, digits)}"


def binary(n: float | int | None, digits: int = 3) -> str:
    """A byte count with a binary prefix: 3.06 MiB, 512 B."""
    if n is None:
        return "-"
    for prefix, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{_sig(n / scale, digits)} {prefix}"
    return f"{int(n)} B"


def grouped(n: int | None) -> str:
    """An exact integer with thousands separators: 11,689,512."""
    return "-" if n is None else f"{n:,}"


def _sig(x: float, digits: int) -> str:
    if x >= 10 ** (digits - 1):
        return f"{x:.0f}"
    text = f"{x:.{digits}g}"
    return text

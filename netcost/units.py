"""Parsing and formatting of counts and byte sizes: the only place numbers become text.

Counts use SI prefixes (K = 10^3, M, G, T); bytes use binary prefixes (KiB = 2^10,
MiB, GiB). ``parse_quantity`` accepts either family on any metric, so ``300M`` is
3e8 and ``1GiB`` is 2^30 whatever it measures.

The grammar of a quantity (budgets, ``--max-*``, ``max-*`` in ``[tool.netcost]``)::

    quantity := number [suffix]          spaces around either are ignored
    number   := digits ["." digits] [("e" | "E") ["+" | "-"] digits]   (or "." digits)
    suffix   := SI [ "B" ] | SI "iB"     SI = K | M | G | T | P, any case

``K``/``KB`` = 10^3, ``M``/``MB`` = 10^6, ... ; ``KiB`` = 2^10, ``MiB`` = 2^20, ... Suffixes
are case-insensitive (``2gb`` = ``2GB``, ``2gib`` = ``2GiB``). The arithmetic is exact
decimal (``4.1G`` = 4,100,000,000), the value must be a whole number, at most 10^30;
signs, NaN and infinity are refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext

SI = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
BINARY = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}
MAX_QUANTITY = 10**30
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z]*)\s*$")
_PERCENT = re.compile(rf"^\s*({_NUMBER})\s*(%?)\s*$")
_SUFFIXES = "K, M, G, T, P (10^3..), KB, MB, GB, ... (the same), KiB, MiB, GiB, TiB, PiB (2^10..)"


def _scale(suffix: str) -> int | None:
    key = suffix.upper()
    if key in SI:
        return SI[key]
    if len(key) == 2 and key.endswith("B") and key[0] in SI and key[0]:
        return SI[key[0]]
    if len(key) == 3 and key.endswith("IB") and key[0] in SI and key[0]:
        return BINARY[f"{key[0]}iB"]
    return None


def parse_quantity(text: object) -> int:
    """``'1.5G'`` -> 1_500_000_000, ``'12e6'`` -> 12_000_000, ``'24GiB'`` -> 24 * 2**30.

    An int is taken as it is (a TOML ``max-params = 50000000``). Raises ValueError with a
    message that says what is accepted.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if not 0 <= text <= MAX_QUANTITY:
            raise ValueError(f"{text} is out of range (0 to 1e30)")
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected a quantity such as 12M, 1.5G, 2e9 or 24GiB, got {type(text).__name__} {text!r}")
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"cannot read {text!r} as a quantity (e.g. 12M, 1.5G, 2e9, 24GiB; no sign, NaN or inf)")
    number, suffix = match.groups()
    scale = _scale(suffix)
    if scale is None:
        hint = " (B alone is ambiguous: write G for 10^9 or GiB for 2^30)" if suffix.upper() == "B" else ""
        raise ValueError(f"unknown unit {suffix!r} in {text!r}{hint}; accepted: {_SUFFIXES}")
    with localcontext() as exact:
        exact.prec = 80  # enough digits for any number up to 1e30 with its fraction: no rounding
        value = _decimal(number, text) * scale
    if value > MAX_QUANTITY:
        raise ValueError(f"{text!r} is out of range (at most 1e30)")
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number ({value.normalize():f})")
    return int(value)


def parse_percent(text: object) -> float:
    """``'5%'``, ``'0.5'`` or ``5`` -> the percentage as a float (5.0, 0.5, 5.0);
    non-negative and finite."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = Decimal(str(text)) if text == text and abs(text) != float("inf") else None
        if value is None or value < 0:
            raise ValueError(f"expected a percentage such as 5% or 0.5, got {text!r}")
        return float(value)
    if not isinstance(text, str) or not (match := _PERCENT.match(text)):
        raise ValueError(f"expected a percentage such as 5% or 0.5 (no sign, NaN or inf), got {text!r}")
    value = _decimal(match.group(1), text)
    if value > 10**9:
        raise ValueError(f"{text!r} is out of range")
    return float(value)


def _decimal(number: str, text: str) -> Decimal:
    try:
        return Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regex admits only decimal numbers
        raise ValueError(f"cannot read {text!r} as a number") from None


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


def si_unit(n: float | int | None, unit: str, digits: int = 3) -> str:
    """A quantity with its unit, one space between number and prefixed unit: 211 MFLOP/s,
    512 FLOP/s, 0 FLOP/s; ``-`` for none."""
    if n is None:
        return "-"
    text = si(n, digits)
    return f"{text}{unit}" if text[-1].isalpha() else f"{text} {unit}"


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

"""Access to the seeds' printed figures (tests/golden/seed_tables.json) and the check
that a printed figure is a rounding of an exact value.

Slides round in one column and truncate in the next (see tests/golden/SEEDS_NOTES.md), so
a printed figure "reproduces" a value when rounding *or* truncating the value to the
printed precision gives the printed digits.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cache

from tests.conftest import GOLDEN

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@cache
def entries() -> dict[str, dict]:
    data = json.loads((GOLDEN / "seed_tables.json").read_text())
    return {e["id"]: e for e in data["entries"]}


def table(name: str) -> list[dict]:
    return [e for e in entries().values() if e["table"] == name]


def reproduces(entry: dict, value: int | float) -> bool:
    """True when rounding or truncating ``value`` at the printed figure's precision and unit
    gives the printed digits."""
    text = _NUMBER.search(entry["printed"]).group().replace(",", "")
    mantissa = Decimal(text)
    scale = Decimal(entry["printed_value"]) / mantissa
    places = Decimal(1).scaleb(mantissa.as_tuple().exponent)
    scaled = Decimal(value) / scale
    return any(scaled.quantize(places, rounding=r) == mantissa for r in (ROUND_HALF_UP, ROUND_DOWN))


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12)

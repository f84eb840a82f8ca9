"""Values given on the command line (``--set name=value``), read by the safe evaluator."""

from __future__ import annotations

import re
from typing import Any

from netcost.spec import expr

_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")  # a bare word: a string value (torchvision, A-LRN)
_YAML_BOOLS = {"true": True, "false": False, "True": True, "False": False}


def parse(raw: str) -> Any:
    """The value of ``raw``: ``0.75``, ``true``, ``[3, 4, 6, 3]``, ``2 * 64``, ``'text'`` or a
    bare word (a string). Raises ValueError with the evaluator's message otherwise."""
    text = raw.strip()
    if text in _YAML_BOOLS:
        return _YAML_BOOLS[text]
    if not text:
        raise ValueError("the value is empty")
    try:
        value = expr.evaluate(text, {})
    except expr.ExprError as exc:
        if _WORD.match(text):
            return text
        at = f" at column {exc.col + 1}" if exc.col is not None else ""
        raise ValueError(f"cannot read the value{at}: {exc.message}") from None
    return _plain(value)


def _plain(value: Any) -> Any:
    """Tuples as lists; anything but numbers, booleans, strings and lists refused."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"the value must be a number, true/false, a string or a list, got {value!r}")
    return value

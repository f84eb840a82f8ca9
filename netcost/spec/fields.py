"""Coercion of spec values into op fields, driven by the op dataclass's annotations.

A string given for a numeric field is an expression over the spec's variables; a
string given for a choice field (``mode: bilinear``) is taken literally when it is
one of the choices, and evaluated otherwise (so a block can pass ``mode: mode``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal

Evaluate = Callable[[str], Any]


class FieldError(ValueError):
    """A value does not fit its field; the caller adds the location."""


@cache
def op_fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """``name -> (annotation, required)`` for the dataclass fields of an op class."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {
        f.name: (hints[f.name], f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
    }


def describe_type(annotation: Any) -> str:
    """Human text of what a field accepts (for errors and ``netcost ops``)."""
    kind = _marker(annotation)
    if kind == "pair":
        return "int or [h, w]"
    if kind == "padding":
        return "int, [h, w], [top, bottom, left, right], 'same' or 'valid'"
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(c) for c in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def coerce(annotation: Any, value: Any, evaluate: Evaluate) -> Any:
    """Turn a YAML value into the field's Python value, or raise :class:`FieldError`."""
    kind = _marker(annotation)
    if kind == "pair":
        return _pair(value, evaluate)
    if kind == "padding":
        return _padding(value, evaluate)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        (inner,) = [a for a in options if a is not type(None)]
        return coerce(inner, value, evaluate)
    if origin is Literal:
        return _choice(typing.get_args(annotation), value, evaluate)
    if annotation is int:
        return to_int(_scalar(value, evaluate))
    if annotation is float:
        return to_float(_scalar(value, evaluate))
    if annotation is bool:
        return to_bool(_scalar(value, evaluate))
    if annotation is str:
        return value if isinstance(value, str) else str(value)
    raise FieldError(f"unsupported field type {annotation!r}")  # pragma: no cover - a bug in an op


def _marker(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is Annotated:
        return annotation.__metadata__[0]
    return None


def _scalar(value: Any, evaluate: Evaluate) -> Any:
    return evaluate(value) if isinstance(value, str) else value


def to_int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise FieldError(f"expected an integer, got {_show(x)}")
    if isinstance(x, float) and not x.is_integer():
        raise FieldError(f"expected an integer, got {x} (use int(), round() or make_divisible())")
    return int(x)


def to_float(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise FieldError(f"expected a number, got {_show(x)}")
    return float(x)


def to_bool(x: Any) -> bool:
    if not isinstance(x, bool):
        raise FieldError(f"expected true or false, got {_show(x)}")
    return x


def _ints(value: Any, evaluate: Evaluate, lengths: tuple[int, ...], what: str) -> tuple[int, ...]:
    value = _scalar(value, evaluate)
    if isinstance(value, (list, tuple)):
        if len(value) not in lengths:
            raise FieldError(f"expected {what}, got a list of {len(value)}")
        return tuple(to_int(_scalar(v, evaluate)) for v in value)
    return (to_int(value),)


def _pair(value: Any, evaluate: Evaluate) -> tuple[int, int]:
    items = _ints(value, evaluate, (2,), "an int or [h, w]")
    return (items[0], items[0]) if len(items) == 1 else items


def _padding(value: Any, evaluate: Evaluate) -> tuple[int, int, int, int] | str:
    if value in ("same", "valid"):
        return value
    items = _ints(value, evaluate, (2, 4), "an int, [h, w] or [top, bottom, left, right]")
    if any(p < 0 for p in items):
        raise FieldError(f"padding must not be negative, got {list(items)}")
    if len(items) == 1:
        return items * 4
    if len(items) == 2:
        return (items[0], items[0], items[1], items[1])
    return items


def _choice(choices: tuple[str, ...], value: Any, evaluate: Evaluate) -> str:
    if value in choices:
        return value
    if isinstance(value, str) and value.isidentifier():
        with contextlib.suppress(FieldError):  # not a variable either: report the choices
            value = evaluate(value)
    if value in choices:
        return value
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise FieldError(f"expected one of {', '.join(repr(c) for c in choices)}, got {_show(value)}{hint}")


def _show(x: Any) -> str:
    return f"{type(x).__name__} {x!r}"

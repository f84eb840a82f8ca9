"""Coercion of spec values into op fields, driven by the op dataclass's annotations.

A string given for a numeric field is an expression over the spec's variables; a
string given for a choice field (``mode: bilinear``) is taken literally when it is
one of the choices, and evaluated otherwise (so a block can pass ``mode: mode``).

Annotations carry their *domain* as ``Annotated`` metadata (``Annotated[int, POSITIVE]``,
``Annotated[tuple[int, int], PAIR, POSITIVE]``): :func:`coerce` refuses a value outside it,
so no shape rule ever sees a zero stride or a negative channel count, whether the value was
written literally or computed by an expression. The same :class:`Domain` drives the JSON
Schema, ``netcost ops`` and the typed spec variables (:mod:`netcost.spec.variables`). Every
integer, with or without a declared domain, is at most :data:`MAX_INT` in size, and every
number is finite.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

Evaluate = Callable[[str], Any]

MAX_INT = 2**31 - 1  # any integer field (a size, a count, a stride) fits torch's int32 sizes
PAIR, PADDING = "pair", "padding"  # shape markers: an int or [h, w]; see netcost.ops.base
INTS = "ints"  # a list of integers of any length (channel split sizes); a lone int is a list of one
MAX_ITEMS = 4096  # entries in one INTS list


@dataclass(frozen=True)
class Domain:
    """The allowed values of a number: ``low`` (inclusive, or exclusive with ``open_low``)
    up to ``high`` (inclusive). One place for validation, the schema, docs and sampling."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    def check(self, value: Any) -> None:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            raise FieldError(f"must be {self.text()}, got {show_value(value)}")
        if self.high is not None and value > self.high:
            raise FieldError(f"must be {self.text()}, got {show_value(value)}")

    def text(self) -> str:
        if self.low is not None and self.high is not None and not self.open_low and self.high != MAX_INT:
            return f"between {_num(self.low)} and {_num(self.high)}"
        low = "" if self.low is None else f"{'>' if self.open_low else '>='} {_num(self.low)}"
        high = "" if self.high is None or self.high == MAX_INT else f"<= {_num(self.high)}"
        return " and ".join(p for p in (low, high) if p) or "any value"

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.low is not None:
            out["exclusiveMinimum" if self.open_low else "minimum"] = self.low
        if self.high is not None:
            out["maximum"] = self.high
        return out


POSITIVE = Domain(1, MAX_INT)  # sizes, channels, kernels, strides, dilations, groups, scales
NON_NEGATIVE = Domain(0, MAX_INT)  # paddings
POSITIVE_REAL = Domain(0, open_low=True)
UNIT_INTERVAL = Domain(0, 1)  # probabilities
ANY_INT = Domain(-MAX_INT, MAX_INT)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


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
    kind, domain = _marker(annotation), domain_of(annotation)
    bound = f" {domain.text()}" if domain and domain.text() != "any value" and domain is not ANY_INT else ""
    if kind == PAIR:
        return f"int or [h, w]{', each' if bound else ''}{bound}"
    if kind == PADDING:
        return "int >= 0, [h, w], [top, bottom, left, right], 'same' or 'valid'"
    if kind == INTS:
        return f"list of ints{', each' if bound else ''}{bound}"
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return describe_type(typing.get_args(annotation)[0]) + bound
    if origin is Literal:
        return " | ".join(repr(c) for c in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def coerce(annotation: Any, value: Any, evaluate: Evaluate) -> Any:
    """Turn a YAML value into the field's Python value, or raise :class:`FieldError`."""
    kind, domain = _marker(annotation), domain_of(annotation)
    if kind == PAIR:
        return _pair(value, evaluate, domain or ANY_INT)
    if kind == PADDING:
        return _padding(value, evaluate)
    if kind == INTS:
        return _int_list(value, evaluate, domain or ANY_INT)
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        result = coerce(typing.get_args(annotation)[0], value, evaluate)
        if domain is not None:
            domain.check(result)
        return result
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


@cache
def _marker(annotation: Any) -> str | None:
    """The shape marker (PAIR, PADDING) of an annotation, if any."""
    if typing.get_origin(annotation) is Annotated:
        return next((m for m in annotation.__metadata__ if isinstance(m, str)), None)
    return None


@cache
def domain_of(annotation: Any) -> Domain | None:
    """The declared :class:`Domain` of an annotation (also inside ``X | None``), if any."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return next((m for m in annotation.__metadata__ if isinstance(m, Domain)), None)
    if origin in (typing.Union, types.UnionType):
        return next((d for a in typing.get_args(annotation) if (d := domain_of(a))), None)
    return None


def _scalar(value: Any, evaluate: Evaluate) -> Any:
    return evaluate(value) if isinstance(value, str) else value


def to_int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise FieldError(f"expected an integer, got {_show(x)}")
    if isinstance(x, float) and not math.isfinite(x):
        raise FieldError(f"expected an integer, got {x}")
    if isinstance(x, float) and not x.is_integer():
        raise FieldError(f"expected an integer, got {x} (use int(), round() or make_divisible())")
    if abs(x) > MAX_INT:
        raise FieldError(f"integer {show_value(x)} is too large (limit {MAX_INT:,})")
    return int(x)


def to_float(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise FieldError(f"expected a number, got {_show(x)}")
    try:
        out = float(x)
    except OverflowError:
        raise FieldError(f"number {show_value(x)} is too large") from None
    if not math.isfinite(out):
        raise FieldError(f"expected a finite number, got {out}")
    return out


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


def _pair(value: Any, evaluate: Evaluate, domain: Domain) -> tuple[int, int]:
    items = _ints(value, evaluate, (2,), "an int or [h, w]")
    for item in items:
        domain.check(item)
    return (items[0], items[0]) if len(items) == 1 else items


def _int_list(value: Any, evaluate: Evaluate, domain: Domain) -> tuple[int, ...]:
    value = _scalar(value, evaluate)
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise FieldError("expected a non-empty list of integers, got []")
    if len(items) > MAX_ITEMS:
        raise FieldError(f"a list of {len(items):,} integers is too long (limit {MAX_ITEMS:,})")
    out = tuple(to_int(_scalar(v, evaluate)) for v in items)
    for item in out:
        domain.check(item)
    return out


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
    if isinstance(value, str) and value in choices:
        return value
    if isinstance(value, str) and value.isidentifier():
        with contextlib.suppress(FieldError):  # not a variable either: report the choices
            value = evaluate(value)
    if isinstance(value, str) and value in choices:
        return value
    raise FieldError(
        f"expected one of {', '.join(repr(c) for c in choices)}, got {_show(value)}{did_you_mean(value, choices)}"
    )


def did_you_mean(value: Any, choices) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1) if isinstance(value, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def show_value(x: Any) -> str:
    """``repr`` of a value, short: a huge integer is shown by its size (str() of an int over
    4300 digits raises), a long text cut."""
    if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 200:
        return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
    if isinstance(x, (list, tuple, dict)) and len(x) > 20:
        return f"<a {type(x).__name__} of {len(x)} items>"
    try:
        text = repr(x)
    except ValueError:  # a huge integer somewhere inside
        return f"<a {type(x).__name__}>"
    return text if len(text) <= 200 else text[:200] + "..."


def _show(x: Any) -> str:
    return f"{type(x).__name__} {show_value(x)}"

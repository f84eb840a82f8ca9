"""Op fields as spec values: which differ from their defaults, and how each is written
(literally in a layer, or as an expression where a block argument or stage passes it)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import keyword
import re
import types
import typing
from typing import Any

from netcost.ops.base import Op
from netcost.spec.expr import FUNCTIONS
from netcost.spec.fields import INTS, PADDING, PAIR, FieldError, coerce, op_fields

ABSENT = object()  # a block instance without this layer (an optional branch left out)


class Expr(str):
    """Text written as a quoted expression (a stage's ``"2 if index == 0 else 1"``)."""


def marker(annotation: Any) -> str | None:
    """The shape marker (PAIR, PADDING, INTS) of a field, also inside ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return next((m for m in annotation.__metadata__ if isinstance(m, str)), None)
    if origin in (typing.Union, types.UnionType):
        return next((m for a in typing.get_args(annotation) if (m := marker(a))), None)
    return None


def field_values(op: Op) -> dict[str, Any]:
    """Every field of an op: name -> value (as the dataclass holds it)."""
    return {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}


def is_default(op_cls: type, name: str, value: Any) -> bool:
    """Whether ``value`` is what the field gets when the spec leaves it out."""
    f = next(f for f in dataclasses.fields(op_cls) if f.name == name)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return False
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    with contextlib.suppress(FieldError):  # a default the field would not take as written
        default = coerce(op_fields(op_cls)[name][0], default, _no_expressions)
    return default == value


def _no_expressions(text: str) -> Any:
    raise FieldError(f"not an expression here: {text!r}")


def literal(annotation: Any, value: Any) -> Any:
    """The YAML value of a field written in a layer: ``k: 3`` for (3, 3), ``pad: [0, 3]``."""
    kind = marker(annotation)
    if kind == PAIR and isinstance(value, tuple):
        return value[0] if value[0] == value[1] else list(value)
    if kind == PADDING and isinstance(value, tuple):
        top, bottom, left, right = value
        if top == bottom == left == right:
            return top
        return [top, left] if (top, left) == (bottom, right) else list(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def settable(annotation: Any, values: list[Any]) -> bool:
    """Whether a field taking these values (in different block instances) can be a block
    argument: the field reads an expression (a plain text field does not; neither a padding
    given as a word, nor an optional field that is None in some)."""
    origin = typing.get_origin(annotation)
    if annotation is str or (origin is typing.Annotated and typing.get_args(annotation)[0] is str):
        return False
    if any(v is None for v in values):
        return False
    return not (marker(annotation) in (PADDING, INTS, PAIR) and any(isinstance(v, str) for v in values))


def expression(value: Any) -> str:
    """Python-like expression text of a value (the spec's expression language reads it)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(expression(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "None"
    return repr(value)


def argument(value: Any, annotation: Any = None) -> Any:
    """A block argument's value as written at a use or as a default (evaluated: text is an
    expression); ``annotation``: the field it is passed to, for the short form of a pair."""
    if isinstance(value, str):
        return Expr(repr(value))
    if isinstance(value, tuple):
        short = literal(annotation, value) if annotation is not None else value
        return short if not isinstance(short, (tuple, list)) else [argument(v) for v in short]
    return value


# names a block argument cannot have: the stage's variable, the shape variables, the words
# a block use or a stage reads itself (name, when; block, n, var, names), the functions
RESERVED = frozenset(
    {"index", "in_channels", "in_h", "in_w", "in_tokens", "required", "name", "when", "block", "n", "var", "names"}
    | set(FUNCTIONS)
)


def fresh_name(base: str, taken: set[str], reserved: frozenset[str] = RESERVED) -> str:
    """An identifier from ``base``: not in ``taken`` (which it joins), not a keyword, nor in
    ``reserved`` (by default, what a block argument cannot be called)."""
    name = re.sub(r"\W", "_", base)
    if not name or name[0].isdigit():
        name = f"arg_{name}"
    candidate, n = name, 1
    while candidate in taken or candidate in reserved or keyword.iskeyword(candidate):
        n += 1
        candidate = f"{name}{n}"
    taken.add(candidate)
    return candidate


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_YAML_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}


def scalar(value: Any) -> str:
    """One YAML scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:  # YAML 1.1 wants 1.0e-05, not 1e-05
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    text = str(value)
    if not isinstance(value, Expr) and _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)

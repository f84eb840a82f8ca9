"""Typed spec variables: the one place that says what each ``vars`` entry accepts.

A variable is written ``name: default`` (its type is that of the default's value) or as a
declaration ``name: {default, type, choices, min, max, description}``. ``--set`` and the
API's ``overrides`` are checked against it, as is the default itself; a design-space
sampler draws from the same :class:`Variable` (``choices``, or ``domain`` for numbers).

Types: ``int``, ``float`` (an int is accepted too), ``bool``, ``str`` and ``list``. A
``str`` variable without ``choices`` accepts any text; with ``choices`` only those (a
near miss gets a did-you-mean). A ``list`` default of plain numbers (or strings) also fixes
its items' type. Every integer fits in 64 bits and every number is finite, so a value can
always be shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from netcost.spec.fields import Domain, FieldError, did_you_mean, show_value
from netcost.spec.load import LocDict

TYPES = ("int", "float", "bool", "str", "list")
DECLARATION_KEYS = {"default", "type", "choices", "min", "max", "description"}
MAX_BITS = 64


@dataclass(frozen=True)
class Variable:
    """One settable variable: its default (YAML, may be an expression) and its domain."""

    name: str
    default: Any
    type: str | None = None  # None: the type of the default's value
    choices: tuple[Any, ...] | None = None
    domain: Domain | None = None  # min/max of a number
    items: str | None = None  # the type of a list's items, when known
    description: str = ""

    def typed(self, default_value: Any) -> Variable:
        """This variable with its type inferred from the evaluated default when not declared."""
        if self.type is not None and (self.type != "list" or self.items is not None):
            return self
        kind = self.type or type_of(default_value)
        items = self.items
        if kind == "list" and items is None and isinstance(default_value, (list, tuple)) and default_value:
            kinds = {type_of(v) for v in default_value}
            items = kinds.pop() if len(kinds) == 1 and kinds <= {"int", "float", "bool", "str"} else None
        return Variable(self.name, self.default, kind, self.choices, self.domain, items, self.description)

    def check(self, value: Any) -> Any:
        """``value`` if it is in this variable's domain (a tuple becomes a list); else FieldError."""
        value = _bounded(value)
        if self.type is not None:
            value = _of_type(self.type, value)
        if self.items is not None:
            value = [_of_type(self.items, v) for v in value]
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise FieldError(f"expected one of {allowed}, got {show_value(value)}{did_you_mean(value, self.choices)}")
        if self.domain is not None:
            if type_of(value) not in ("int", "float"):
                raise FieldError(f"expected a number, got {type(value).__name__} {show_value(value)}")
            self.domain.check(value)
        return value

    def allowed(self) -> str:
        """What the variable accepts, as text (for --help, errors and docs)."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        bound = f" {self.domain.text()}" if self.domain else ""
        items = f" of {self.items}" if self.items else ""
        return f"{self.type or 'any value'}{items}{bound}"


def declare(name: str, raw: Any) -> Variable:
    """A :class:`Variable` from its ``vars`` entry; raises FieldError on a bad declaration."""
    if not isinstance(raw, LocDict):
        return Variable(name, raw)
    unknown = [k for k in raw if k not in DECLARATION_KEYS]
    if unknown:
        keys = ", ".join(sorted(DECLARATION_KEYS))
        raise FieldError(f"unknown key {unknown[0]!r} in the declaration of {name!r} (keys: {keys})")
    if "default" not in raw:
        raise FieldError(f"variable {name!r} declares no `default`")
    kind = raw.get("type")
    if kind is not None and kind not in TYPES:
        raise FieldError(f"`type` of {name!r} is one of {', '.join(TYPES)}, got {show_value(kind)}")
    choices = raw.get("choices")
    if choices is not None:
        if not isinstance(choices, list) or not choices:
            raise FieldError(f"`choices` of {name!r} is a non-empty list")
        choices = tuple(_bounded(c) for c in choices)
        kind = kind or type_of(choices[0])
    low, high = raw.get("min"), raw.get("max")
    for key, bound in (("min", low), ("max", high)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
            raise FieldError(f"`{key}` of {name!r} is a number, got {show_value(bound)}")
    domain = Domain(low, high) if low is not None or high is not None else None
    if domain is not None and kind not in (None, "int", "float"):
        raise FieldError(f"`min`/`max` of {name!r} apply to numbers, not to a {kind}")
    return Variable(name, raw["default"], kind, choices, domain, None, str(raw.get("description", "")))


def is_literal_choice(var: Variable, raw: Any) -> bool:
    """A default written as one of the choices is that value, not an expression
    (``default: pycls`` rather than ``default: "'pycls'"``)."""
    return var.choices is not None and isinstance(raw, str) and raw in var.choices


def type_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    return None


def _of_type(kind: str, value: Any) -> Any:
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and type_of(value) == "int":
        return value
    if kind == "int" and type_of(value) == "float" and value.is_integer():
        return int(value)
    if kind == "float" and type_of(value) in ("int", "float"):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "list" and isinstance(value, list):
        return value
    what = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string", "list": "a list"}
    raise FieldError(f"expected {what[kind]}, got {type(value).__name__} {show_value(value)}")


def _bounded(value: Any, depth: int = 0) -> Any:
    """The value as variables hold it (tuples as lists), refusing what cannot be shown."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_BITS:
            raise FieldError(f"integer {show_value(value)} is too large (a variable holds at most {MAX_BITS} bits)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(f"expected a finite number, got {value}")
        return value
    if isinstance(value, (list, tuple)) and depth < 20:
        return [_bounded(v, depth + 1) for v in value]
    raise FieldError(f"a variable holds a number, true/false, a string or a list, got {show_value(value)}")

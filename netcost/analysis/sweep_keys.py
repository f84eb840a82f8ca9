"""What a block call's result depends on, for the sweep's memo (netcost.analysis.sweep_totals):
the names its text may read (a safe over-approximation: every word of an expression), and
values frozen into dictionary keys."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from netcost.spec import expr
from netcost.spec.schema import Spec

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NOT_EXPRESSIONS = ("naming",)  # keys whose values are words, not expressions


def names_in(value: Any) -> set[str]:
    """The identifiers a YAML value may read (an over-approximation: every word of its text)."""
    return set(IDENT.findall(value)) if isinstance(value, str) else set()


def words_in(value: Any) -> set[str]:
    """:func:`names_in` of every string in a YAML value (lists and mappings walked)."""
    if isinstance(value, dict):
        return set().union(set(), *(words_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(set(), *(words_in(v) for v in value))
    return names_in(value)


def block_reads(spec: Spec, key: str, seen: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every name a block's arguments and layers may read, through the blocks it calls."""
    out: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and k in spec.blocks and k not in seen and k != key:
                    out.update(block_reads(spec, k, (*seen, key)))
                if k not in NOT_EXPRESSIONS:
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            if value in spec.blocks and value not in seen and value != key:
                out.update(block_reads(spec, value, (*seen, key)))
            out.update(names_in(value))

    bdef = spec.blocks[key]
    walk(bdef.args)
    walk(bdef.layers)
    return tuple(sorted(out))


MISSING = object()


def lookup(env: Mapping[str, Any], name: str) -> Any:
    try:
        return env[name]
    except KeyError:
        return MISSING


@functools.lru_cache(maxsize=65536)
def free_names(text: str) -> tuple[str, ...]:
    return tuple(sorted(expr.names_used(text)))


def frozen(value: Any) -> Any:
    """``value`` as a dictionary key that keeps apart what compares equal but is not the same
    value: 1, 1.0 and True; a list and a tuple stay equal (expressions treat them alike)."""
    kind = type(value)
    if kind is int or kind is str:  # no other kind's key equals an int or a str
        return value
    if isinstance(value, (list, tuple)):
        return ("list", tuple(frozen(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, frozen(v)) for k, v in value.items())))
    if value is MISSING:
        return value
    return (kind.__name__, value)

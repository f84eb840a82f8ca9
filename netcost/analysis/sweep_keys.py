"""What a block call's result depends on, for the sweep's memo (netcost.analysis.sweep_totals):
the names its text may read (a safe over-approximation: every word of an expression), and
values frozen into dictionary keys."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from netcost.spec import expr
from netcost.spec.expand import SHAPE_VARS
from netcost.spec.schema import Spec

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NOT_EXPRESSIONS = ("naming",)  # keys whose values are words, not expressions


def names_in(value: Any) -> set[str]:
    """The identifiers a YAML value may read (an over-approximation: every word of its text)."""
    return set(IDENT.findall(value)) if isinstance(value, str) else set()


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


def bindable_names(spec: Spec) -> frozenset[str]:
    """The spec's variables, every block's arguments, every loop variable, the shape names."""
    names = {*spec.vars, *spec.let, *SHAPE_VARS, "index"}
    for bdef in spec.blocks.values():
        names.update(k for k in bdef.args if isinstance(k, str))

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("var"), str):
                names.add(value["var"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(spec.layers)
    for bdef in spec.blocks.values():
        walk(bdef.layers)
    return frozenset(names)


def frozen(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    if value is MISSING:
        return value
    return (type(value).__name__, value)  # 1 and 1.0 and True stay apart

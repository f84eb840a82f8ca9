"""A JSON Schema for spec files, generated from the op registry (for editors)."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from netcost import ops
from netcost.core.shape import LAYOUTS
from netcost.spec.fields import INTS, PADDING, PAIR, _marker, domain_of, op_fields
from netcost.spec.schema import BLOCK_KEYS, TOP_LEVEL
from netcost.spec.space import KINDS
from netcost.spec.variables import TYPES

SIZES = {"type": "array", "items": {"type": ["integer", "string"]}, "minItems": 1, "maxItems": 3}
EXPR = {"type": "string", "description": "an expression over the spec's variables"}
STRUCTURES = {
    "parallel": {
        "merge": {"anyOf": [{"enum": ["add", "concat", "mul", "attention"]}, {"type": "object", "maxProperties": 1}]},
        "branches": {"type": "array"},
    },
    "stage": {"block": {"type": "string"}, "n": {"anyOf": [{"type": "integer", "minimum": 1}, EXPR]}},
    "repeat": {"n": {"anyOf": [{"type": "integer", "minimum": 0}, EXPR]}, "layers": {"$ref": "#/$defs/layers"}},
    "seq": {"layers": {"$ref": "#/$defs/layers"}, "naming": {"enum": ["kind", "index"]}},
}
VARIABLE = {
    "type": "object",
    "description": "a typed variable (netcost.spec.variables)",
    "required": ["default"],
    "additionalProperties": False,
    "properties": {
        "default": {"description": "its value: a literal, an expression, or one of the choices"},
        "type": {"enum": list(TYPES)},
        "choices": {"type": "array", "minItems": 1},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "description": {"type": "string"},
    },
}
DISTRIBUTION = {
    "anyOf": [
        {"type": ["number", "boolean", "string", "array"], "description": "a fixed value"},
        {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {kind: {"type": "array"} for kind in KINDS} | {"step": {"type": "number"}},
        },
    ]
}
SPACE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "extends": {"type": "string", "description": "a space above this one"},
        "vars": {"type": "object", "additionalProperties": DISTRIBUTION},
        "where": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    },
}
COMMON = {"name": {"type": ["string", "integer"]}, "when": {"type": ["boolean", "string"]}}


def _field(annotation: Any) -> dict[str, Any]:
    kind, domain = _marker(annotation), domain_of(annotation)
    bounds = domain.schema() if domain else {}
    integer = {"anyOf": [{"type": "integer", **bounds}, EXPR]}
    if kind == PAIR:
        return {"anyOf": [*integer["anyOf"], {"type": "array", "items": integer, "minItems": 2, "maxItems": 2}]}
    if kind == INTS:
        return {"anyOf": [*integer["anyOf"], {"type": "array", "items": integer, "minItems": 1}]}
    if kind == PADDING:
        integer = {"anyOf": [{"type": "integer", "minimum": 0}, EXPR]}
        return {"anyOf": [*integer["anyOf"], {"enum": ["same", "valid"]}, {"type": "array", "items": integer}]}
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base = typing.get_args(annotation)[0]
        simple = {int: "integer", float: "number"}
        return {"anyOf": [{"type": simple.get(base, "number"), **bounds}, EXPR]}
    if origin is Literal:
        return {"anyOf": [{"enum": list(typing.get_args(annotation))}, EXPR]}
    if origin is not None and type(None) in typing.get_args(annotation):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return {"anyOf": [{"type": "null"}, _field(inner)]}
    simple = {int: "integer", float: "number", bool: "boolean", str: "string"}
    kind = simple.get(annotation, "string")
    return {"type": "string"} if kind == "string" else {"type": [kind, "string"]}  # a value or an expression


def spec_schema() -> dict[str, Any]:
    layer_kinds = {}
    for kind, cls in sorted(ops.REGISTRY.items()):
        fields = op_fields(cls)
        layer_kinds[kind] = {
            "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else kind,
            "type": ["object", "null"],
            "properties": {**{name: _field(t) for name, (t, _) in fields.items()}, **COMMON},
            "required": [name for name, (_, required) in fields.items() if required],
            "additionalProperties": False,
        }
    for kind, props in STRUCTURES.items():
        layer_kinds[kind] = {"type": "object", "properties": {**props, **COMMON}}
    item = {
        "anyOf": [
            {"type": "string", "description": "an op or block without arguments"},
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "properties": layer_kinds,
                "additionalProperties": {"type": ["object", "null"], "description": "a block of this spec"},
            },
        ]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "netcost spec",
        "type": "object",
        "anyOf": [{"required": ["input", "layers"]}, {"required": ["extends"]}],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "reference": {"type": "string", "description": "module:callable of a reference implementation"},
            "notes": {},
            "input": {
                "anyOf": [
                    SIZES,
                    {
                        "type": "object",
                        "required": ["shape"],
                        "additionalProperties": False,
                        "properties": {"shape": SIZES, "layout": {"enum": list(LAYOUTS)}},
                    },
                ]
            },
            "vars": {
                "type": "object",
                "description": "settable variables (--set name=value): a default, or a declaration",
                "additionalProperties": {"anyOf": [{"type": ["number", "boolean", "string", "array"]}, VARIABLE]},
            },
            "let": {"type": "object", "description": "values derived from vars (not settable)"},
            "space": {
                "type": "object",
                "description": "design spaces for `netcost sweep --sample` (netcost.spec.space)",
                "additionalProperties": SPACE,
            },
            "extends": {"type": "string", "description": "a bundled spec name or a path to build on"},
            "blocks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["layers"],
                    "properties": {key: {} for key in sorted(BLOCK_KEYS)} | {"layers": {"$ref": "#/$defs/layers"}},
                    "additionalProperties": False,
                },
            },
            "layers": {"$ref": "#/$defs/layers"},
        },
        "$defs": {"layers": {"type": "array", "items": item}},
        "x-top-level-keys": sorted(TOP_LEVEL),
    }

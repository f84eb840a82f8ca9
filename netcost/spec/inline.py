"""Inline specs for quick comparisons: registered ops written ``op(args)``, chained with
``>``, e.g. ``"conv(64,k=3) > relu > conv(64,k=3)"`` or ``"dwsep(128,k=3)"``.

Positional arguments fill the op's required fields in order (``conv(64, 3)`` is out=64,
k=3); ``p``, ``s``, ``d``, ``g`` abbreviate pad, stride, dilation, groups. Odd kernels are
padded to keep the size ("same", symmetric) unless ``p=`` says otherwise. ``dwsep(out, k)``
is a depthwise conv followed by a pointwise one. Input channels come from ``--input``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from netcost import ops
from netcost.errors import SpecError
from netcost.spec.fields import op_fields
from netcost.spec.load import load_yaml
from netcost.spec.schema import Spec, parse_spec

ALIASES = {"p": "pad", "s": "stride", "d": "dilation", "g": "groups"}
MACROS = ("dwsep",)
_ITEM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def is_inline(text: str) -> bool:
    return "(" in text or ">" in text


def parse_inline(text: str, input_shape: tuple[int, ...] | None) -> Spec:
    layers: list[Any] = []
    for part in _split(text, ">"):
        match = _ITEM.match(part)
        if not match:
            raise SpecError(f"cannot read {part.strip()!r} in inline spec {text!r}: write op(args) > op(args)")
        kind, raw_args = match.group(1), match.group(2)
        positional, named = _arguments(raw_args or "", text)
        layers += _expand(kind, positional, named, text)
    shape = list(input_shape or (3, 224, 224))
    if len(shape) == 2:
        shape = [3, *shape]
    data = load_yaml(yaml.safe_dump({"name": text, "input": shape, "layers": layers}), f"<inline {text!r}>")
    return parse_spec(data, f"<inline {text!r}>", text)


def _expand(kind: str, positional: list[Any], named: dict[str, Any], text: str) -> list[Any]:
    if kind == "dwsep":
        args = _bind(("out", "k"), positional, named, kind, text)
        depthwise = {k: v for k, v in args.items() if k != "out"}
        bias = depthwise.pop("bias", True)
        depthwise.update(out="in_channels", groups="in_channels", bias=bias)
        pointwise = {"conv": {"out": args["out"], "k": 1, "bias": bias}}
        return [*_expand("conv", [], depthwise, text), pointwise]
    if kind not in ops.REGISTRY:
        hint = ops.did_you_mean(kind, [*ops.REGISTRY, *MACROS])
        raise SpecError(f"unknown op {kind!r} in inline spec {text!r}", hint=hint)
    required = [name for name, (_, req) in op_fields(ops.REGISTRY[kind]).items() if req]
    args = _bind(tuple(required), positional, named, kind, text)
    if "k" in args and "pad" not in args and kind in ("conv", "maxpool", "avgpool"):
        args["pad"] = _same(args["k"], args.get("dilation", 1))
    return [{kind: args} if args else kind]


def _same(k: Any, d: Any) -> Any:
    """Symmetric padding that keeps the size of odd kernels (stride 1)."""
    ks = k if isinstance(k, list) else [k, k]
    ds = d if isinstance(d, list) else [d, d]
    if all(isinstance(v, int) for v in (*ks, *ds)):
        return [di * (ki - 1) // 2 for ki, di in zip(ks, ds, strict=True)]
    return 0


def _bind(names: tuple[str, ...], positional: list[Any], named: dict[str, Any], kind: str, text: str) -> dict:
    if len(positional) > len(names):
        raise SpecError(f"{kind}() takes {len(names)} positional arguments ({', '.join(names)}) in {text!r}")
    args = dict(zip(names, positional, strict=False))
    for key, value in named.items():
        key = ALIASES.get(key, key)
        if key in args:
            raise SpecError(f"{kind}(): {key} given twice in {text!r}")
        args[key] = value
    return args


def _arguments(raw: str, text: str) -> tuple[list[Any], dict[str, Any]]:
    positional, named = [], {}
    for piece in _split(raw, ","):
        if not piece.strip():
            continue
        key, sep, value = piece.partition("=")
        if sep and key.strip().isidentifier():
            named[key.strip()] = _value(value, text)
        elif named:
            raise SpecError(f"positional argument after keyword arguments in {text!r}")
        else:
            positional.append(_value(piece, text))
    return positional, named


def _value(raw: str, text: str) -> Any:
    try:
        value = yaml.safe_load(raw.strip())
    except yaml.YAMLError:
        raise SpecError(f"cannot read value {raw.strip()!r} in {text!r}") from None
    return value


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets and parentheses."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts

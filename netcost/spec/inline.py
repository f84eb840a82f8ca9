"""Inline specs for quick comparisons: registered ops written ``op(args)``, chained with
``>``, e.g. ``"conv(64,k=3) > relu > conv(64,k=3)"`` or ``"dwsep(128,k=3)"``.

Positional arguments fill the op's required fields in order (``conv(64, 3)`` is out=64,
k=3); ``p``, ``s``, ``d``, ``g`` abbreviate pad, stride, dilation, groups. Odd kernels are
padded to keep the size ("same", symmetric) unless ``p=`` says otherwise. The built-in
blocks (netcost.spec.builtin) are written the same way: ``dwsep(out, k)`` is a depthwise
conv followed by a pointwise one. Input channels come from ``--input``.

Each value keeps its column in the text (line 1), so an error in it reads
``<inline 'conv(64,k=0)'>:1:11``; a keyword given twice or a required argument missing is
an error.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from netcost import ops
from netcost.errors import Location, SpecError
from netcost.spec import builtin
from netcost.spec.fields import op_fields
from netcost.spec.load import LocDict, LocList
from netcost.spec.schema import REQUIRED, Spec, parse_spec

ALIASES = {"p": "pad", "s": "stride", "d": "dilation", "g": "groups"}
_ITEM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)

Piece = tuple[str, int]  # text and its 0-based offset in the inline spec


def is_inline(text: str) -> bool:
    return "(" in text or ">" in text


def parse_inline(text: str, input_shape: tuple[int, ...] | None) -> Spec:
    source = f"<inline {text!r}>"
    layers = _located_list([], source, 1)
    for part, offset in _split(text, ">", 0):
        match = _ITEM.match(part)
        if not match:
            raise SpecError(
                f"cannot read {part.strip()!r}: write op(args) > op(args)", _at(source, offset + _lead(part))
            )
        kind, raw_args = match.group(1), match.group(2)
        args_offset = offset + match.start(2) if raw_args is not None else offset
        positional, named = _arguments(raw_args or "", args_offset, source)
        for layer in _expand(kind, positional, named, source, offset + match.start(1)):
            layers.append(layer)
            layers.marks.append((1, offset + match.start(1) + 1))
    shape = list(input_shape or (3, 224, 224))
    if len(shape) == 2:
        shape = [3, *shape]
    data = LocDict(name=text, input=_located_list(shape, source, 1), layers=layers)
    data.mark, data.source = (1, 1), source
    data.marks = dict.fromkeys(data, (1, 1))
    data.key_marks = dict(data.marks)
    return parse_spec(data, source, text)


def _expand(kind: str, positional: list, named: dict, source: str, offset: int) -> list[Any]:
    blocks = builtin.blocks()
    if kind in blocks and kind not in ops.REGISTRY:
        args = blocks[kind].args
        required = tuple(name for name, default in args.items() if default == REQUIRED)
        bound = _bind(tuple(args), positional, named, kind, source, offset, required)
        return [_layer(kind, bound, source, offset)]
    if kind not in ops.REGISTRY:
        hint = ops.did_you_mean(kind, [*ops.REGISTRY, *blocks])
        raise SpecError(f"unknown op {kind!r}", _at(source, offset), hint=hint)
    fields = op_fields(ops.REGISTRY[kind])
    required = tuple(name for name, (_, req) in fields.items() if req)
    args = _bind(required, positional, named, kind, source, offset, optional=tuple(fields))
    if "k" in args and "pad" not in args and kind in ("conv", "maxpool", "avgpool"):
        args["pad"] = (_same(args["k"][0], args.get("dilation", (1, 0))[0]), args["k"][1])
    return [_layer(kind, args, source, offset) if args else kind]


def _layer(kind: str, args: dict[str, tuple[Any, int]], source: str, offset: int) -> LocDict:
    inner = LocDict({k: v for k, (v, _) in args.items()})
    inner.mark, inner.source = (1, offset + 1), source
    inner.marks = {k: (1, col + 1) for k, (_, col) in args.items()}
    inner.key_marks = dict(inner.marks)
    outer = LocDict({kind: inner})
    outer.mark, outer.source, outer.marks, outer.key_marks = (1, offset + 1), source, {kind: (1, offset + 1)}, {}
    return outer


def _located_list(items: list, source: str, col: int) -> LocList:
    out = LocList(items)
    out.mark, out.marks, out.source = (1, col), [(1, col)] * len(items), source
    return out


def _same(k: Any, d: Any) -> Any:
    """Symmetric padding that keeps the size of odd kernels (stride 1); 0 when the kernel is
    not a plain int or pair (the field check then says what is wrong with it)."""
    ks = k if isinstance(k, list) else [k, k]
    ds = d if isinstance(d, list) else [d, d]
    if len(ks) == len(ds) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in (*ks, *ds)):
        return [di * (ki - 1) // 2 for ki, di in zip(ks, ds, strict=True)]
    return 0


def _bind(
    names: tuple[str, ...],
    positional: list,
    named: dict,
    kind: str,
    source: str,
    offset: int,
    required=None,
    optional: tuple[str, ...] = (),
) -> dict:
    """Positional values take ``names`` in order; ``required`` (default: all of ``names``)
    must be given; ``optional`` names the rest, which can be given by name."""
    if len(positional) > len(names):
        extra = positional[len(names)][1]
        takes = f"{len(names)} positional argument{'s' if len(names) != 1 else ''}"
        by_name = [n for n in optional if n not in names]
        hint = None
        if by_name:
            value = positional[len(names)][0]
            hint = f"name it: {kind}({by_name[0]}={value}); by name it takes {', '.join(by_name)}"
        raise SpecError(f"{kind}() takes {takes} ({', '.join(names) or 'none'})", _at(source, extra), hint=hint)
    args = dict(zip(names, positional, strict=False))
    for key, (value, col, key_col) in named.items():
        if key in args:
            raise SpecError(f"{kind}(): `{key}` is given twice", _at(source, key_col))
        args[key] = (value, col)
    missing = [n for n in (names if required is None else required) if n not in args]
    if missing:
        needs = ", ".join(f"`{n}`" for n in missing)
        raise SpecError(f"{kind}() is missing {needs} (positional: {', '.join(names)})", _at(source, offset))
    return args


def _arguments(raw: str, offset: int, source: str) -> tuple[list, dict]:
    positional, named = [], {}
    for piece, start in _split(raw, ",", offset):
        if not piece.strip():
            continue
        key, sep, value = piece.partition("=")
        if sep and key.strip().isidentifier():
            name = ALIASES.get(key.strip(), key.strip())
            key_col = start + _lead(piece)
            if name in named:
                raise SpecError(f"keyword argument `{name}` is given twice", _at(source, key_col))
            value_col = start + len(key) + 1 + _lead(value)
            named[name] = (_value(value, source, value_col), value_col, key_col)
        elif named:
            raise SpecError("positional argument after keyword arguments", _at(source, start + _lead(piece)))
        else:
            col = start + _lead(piece)
            positional.append((_value(piece, source, col), col))
    return positional, named


def _value(raw: str, source: str, col: int) -> Any:
    try:
        return yaml.safe_load(raw.strip())
    except yaml.YAMLError:
        raise SpecError(f"cannot read value {raw.strip()!r}", _at(source, col)) from None


def _at(source: str, offset: int) -> Location:
    return Location(source, 1, offset + 1)


def _lead(text: str) -> int:
    return len(text) - len(text.lstrip())


def _split(text: str, sep: str, offset: int) -> list[Piece]:
    """Split on ``sep`` outside brackets and parentheses, keeping each part's offset."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append((text[start:i], offset + start))
            start = i + 1
    parts.append((text[start:], offset + start))
    return parts

"""The top level of a spec file, validated into typed values with locations.

Layer lists stay as loaded YAML (:class:`LocList`) until expansion, because their
values are expressions that need the variables and the incoming shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netcost.core.shape import DEFAULT_LAYOUT, LAYOUTS
from netcost.errors import Location, SpecError
from netcost.ops import did_you_mean
from netcost.spec.fields import FieldError
from netcost.spec.load import LocDict, LocList
from netcost.spec.space import Space, parse_spaces
from netcost.spec.variables import Variable, declare

REQUIRED = "required"  # a block argument written `out: required` has no default
TOP_LEVEL = {"name", "description", "reference", "extends", "input", "vars", "let", "blocks", "layers", "notes"}
TOP_LEVEL |= {"space"}  # design spaces (netcost.spec.space)
BLOCK_KEYS = {"args", "layers", "description", "naming"}


@dataclass(frozen=True)
class BlockDef:
    """A template: ``args`` (name -> default YAML value, or REQUIRED) and its layers."""

    name: str
    args: LocDict
    layers: LocList
    location: Location
    naming: str = "kind"  # how unnamed layers inside are named: kind (conv1) or index (0, 1)


@dataclass
class Spec:
    name: str
    file: str
    input: LocList
    layers: LocList
    input_layout: str = ""  # "" = the default of the input's rank (netcost.core.shape)
    vars: LocDict = field(default_factory=LocDict)  # settable with --set
    let: LocDict = field(default_factory=LocDict)  # derived from vars, not settable
    blocks: dict[str, BlockDef] = field(default_factory=dict)
    reference: str | None = None
    description: str = ""
    raw: LocDict = field(default_factory=LocDict)
    variables: dict[str, Variable] = field(default_factory=dict)  # the typed view of `vars`
    spaces: dict[str, Space] = field(default_factory=dict)  # design spaces to sample (netcost.spec.space)

    def where(self, container: Any, key: Any, path: str, at_key: bool = False) -> Location:
        return where(self.file, container, key, path, at_key)


def where(file: str, container: Any, key: Any, path: str, at_key: bool = False) -> Location:
    """Location of ``container[key]`` (of the key itself with ``at_key``; of the container
    when key is None)."""
    mark = None
    if key is not None and isinstance(container, LocDict):
        mark = (getattr(container, "key_marks", {}) if at_key else container.marks).get(key)
    elif key is not None and isinstance(container, LocList) and isinstance(key, int) and key < len(container.marks):
        mark = container.marks[key]
    if mark is None:
        mark = getattr(container, "mark", None)
    line, col = mark if mark else (None, None)
    source = getattr(container, "key_sources", {}).get(key) if key is not None else None
    return Location(source or getattr(container, "source", None) or file, line, col, path)


def parse_spec(data: Any, file: str, default_name: str) -> Spec:
    if not isinstance(data, LocDict):
        raise SpecError("a spec is a YAML mapping with at least `input` and `layers`", Location(file, 1, 1))
    unknown_keys(data, TOP_LEVEL, file, "", "top-level key")
    for key in ("input", "layers"):
        if key not in data:
            raise SpecError(f"missing `{key}`", where(file, data, None, ""), hint=_HINTS[key])
    layers = expect(data, "layers", LocList, file, "", "a list of layers")
    inputs, layout = _input(data, file)
    variables = expect(data, "vars", LocDict, file, "", "a mapping name: value", default=LocDict())
    derived = expect(data, "let", LocDict, file, "", "a mapping name: expression", default=LocDict())
    for name in derived:
        if name in variables:
            raise SpecError(f"{name!r} is both in `vars` and in `let`", where(file, derived, name, f"let.{name}", True))
    blocks_raw = expect(data, "blocks", LocDict, file, "", "a mapping name: {args, layers}", default=LocDict())
    from netcost.spec.builtin import blocks as builtin_blocks

    own = {name: block_def(name, body, blocks_raw, file) for name, body in blocks_raw.items()}
    blocks = {**builtin_blocks(), **own}  # a spec's own block of a built-in's name wins
    typed = {}
    for name, raw in variables.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(
                f"variable name {name!r} is not an identifier", where(file, variables, name, f"vars.{name}")
            )
        try:
            typed[name] = declare(name, raw)
        except FieldError as exc:
            raise SpecError(str(exc), where(file, variables, name, f"vars.{name}")) from None
    for key in ("name", "description", "reference"):
        if key in data and not isinstance(data[key], str):
            got = f"{type(data[key]).__name__} {data[key]!r}"
            raise SpecError(f"`{key}` must be text, got {got}", where(file, data, key, key))
    reference = data.get("reference")
    if reference is not None and not _REFERENCE.match(reference):
        raise SpecError(
            f"`reference` must name a torch model as package.module:callable, got {reference!r}",
            where(file, data, "reference", "reference"),
            hint="e.g. `reference: torchvision.models:resnet18`",
        )
    spaces = parse_spaces(data.get("space"), typed, file, derived)
    return Spec(
        name=str(data.get("name", default_name)),
        file=file,
        input=inputs,
        input_layout=layout,
        layers=layers,
        vars=variables,
        let=derived,
        blocks=blocks,
        reference=reference,
        description=str(data.get("description", "")),
        raw=data,
        variables=typed,
        spaces=spaces,
    )


def _input(data: LocDict, file: str) -> tuple[LocList, str]:
    """``input: [C, H, W]`` (or ``[F]``, ``[L, C]``), or ``input: {shape: [...], layout: ...}``
    for a layout other than its rank's default (``HWC``, or token ids ``L``)."""
    raw, at = data["input"], where(file, data, "input", "input")
    layout = ""
    if isinstance(raw, LocDict):
        unknown_keys(raw, {"shape", "layout"}, file, "input", "input key")
        if "shape" not in raw:
            raise SpecError("`input` needs `shape`: a list of sizes", at, hint=_HINTS["input"])
        layout = raw.get("layout", "")
        if not isinstance(layout, str) or (layout and layout not in LAYOUTS):
            known = ", ".join(f"{k} ({v})" for k, v in LAYOUTS.items())
            raise SpecError(f"unknown input layout {layout!r}", where(file, raw, "layout", "input.layout"), hint=known)
        data, key, at = raw, "shape", where(file, raw, "shape", "input.shape")
    else:
        key = "input"
    inputs = expect(data, key, LocList, file, "" if key == "input" else "input", "a list of sizes, e.g. [C, H, W]")
    rank = len(inputs)
    if (layout and len(layout) != rank) or (not layout and rank not in DEFAULT_LAYOUT):
        wanted = f"layout {layout} has {len(layout)}" if layout else "a shape has 1 (F), 2 (L, C) or 3 (C, H, W)"
        raise SpecError(f"`input` has {rank} entries: {wanted}", at, hint=_HINTS["input"])
    return inputs, layout


_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

_HINTS = {
    "input": "write the input shape of one sample, e.g. `input: [3, 224, 224]`, tokens `input: [197, 768]`, "
    "or a layout: `input: {shape: [56, 56, 96], layout: HWC}`",
    "layers": "list the layers, e.g. `layers: [conv: {out: 64, k: 3}, relu]`",
}


def block_def(name: Any, body: Any, blocks: LocDict, file: str) -> BlockDef:
    path = f"blocks.{name}"
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(f"block name {name!r} is not an identifier", where(file, blocks, name, path))
    if not isinstance(body, LocDict):
        raise SpecError("a block is a mapping with `args` and `layers`", where(file, blocks, name, path))
    unknown_keys(body, BLOCK_KEYS, file, path, "block key")
    if "layers" not in body:
        raise SpecError("a block needs `layers`", where(file, blocks, name, path))
    args = expect(body, "args", LocDict, file, path, "a mapping arg: default (or `required`)", default=LocDict())
    layers = expect(body, "layers", LocList, file, path, "a list of layers")
    naming = body.get("naming", "kind")
    if naming not in ("kind", "index"):
        raise SpecError(f"`naming` is 'kind' or 'index', got {naming!r}", where(file, body, "naming", f"{path}.naming"))
    return BlockDef(name, args, layers, where(file, blocks, name, path), naming)


def expect(data: LocDict, key: str, kind: type, file: str, path: str, what: str, default: Any = None) -> Any:
    if key not in data or (data[key] is None and default is not None):
        return default
    value = data[key]
    if not isinstance(value, kind):
        raise SpecError(f"`{key}` must be {what}, got {type(value).__name__}", where(file, data, key, _join(path, key)))
    return value


def unknown_keys(data: Mapping, allowed: set[str], file: str, path: str, what: str) -> None:
    for key in data:
        if key not in allowed:
            raise SpecError(
                f"unknown {what} {key!r}",
                where(file, data, key, _join(path, str(key)), at_key=True),
                hint=did_you_mean(key, allowed) or f"expected one of: {', '.join(sorted(allowed))}",
            )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


MERGED = ("vars", "let", "blocks")  # merged key by key with the parent's; other keys replace
OWN = ("name", "description", "reference", "notes")  # what a spec is, never inherited


def extend(data: LocDict, parent: LocDict) -> LocDict:
    """``data`` on top of the spec it ``extends``: ``vars``, ``let`` and ``blocks`` are merged
    (the child's entries win, new ones come last); ``input`` and ``layers`` are inherited
    unless given; ``name``, ``description``, ``reference`` and ``notes`` are the child's own."""
    out = _copy(parent)
    for key in OWN:
        out.pop(key, None)
    for key, value in data.items():
        if key == "extends":
            continue
        if key in MERGED and isinstance(value, LocDict) and isinstance(parent.get(key), LocDict):
            merged = _copy(parent[key])
            merged.key_sources = {name: parent[key].key_sources.get(name, parent[key].source) for name in merged}
            for name, item in value.items():
                inherited = merged.get(name)
                if key == "vars" and isinstance(inherited, LocDict) and not isinstance(item, LocDict):
                    item = _with_default(inherited, item, value.marks.get(name), value.source)
                merged[name] = item
                merged.marks[name] = value.marks.get(name)
                merged.key_marks[name] = value.key_marks.get(name)
                merged.key_sources.pop(name, None)
            merged.source = value.source  # the child's entries point at it; inherited ones at their file
            out[key] = merged
        else:
            out[key] = value
        out.marks[key], out.key_marks[key] = data.marks.get(key), data.key_marks.get(key)
    out.source = data.source
    return out


def _with_default(declaration: LocDict, default: Any, mark: Any, source: str | None) -> LocDict:
    """A parent's variable declaration with the child's plain value as its default: the type
    and choices stay (``rounding: "'torchvision'"`` over ``rounding: {default, choices}``)."""
    out = _copy(declaration)
    out.key_sources = {key: declaration.key_sources.get(key, declaration.source) for key in out}
    out["default"], out.marks["default"], out.source = default, mark, source
    out.key_sources.pop("default", None)
    return out


def _copy(d: LocDict) -> LocDict:
    out = LocDict(d)
    out.mark, out.marks, out.key_marks, out.source = d.mark, dict(d.marks), dict(d.key_marks), d.source
    out.key_sources = dict(d.key_sources)
    return out

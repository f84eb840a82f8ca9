"""Templates: the entries of several scopes laid over each other (anti-unification). Where
the scopes have the same layers in the same order with the same names, a field whose values
differ becomes a slot (one value per instance), and a branch some instances have and others
leave empty becomes optional. A template of one instance is the entries themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netcost.spec.export.tree import Entry, OpEntry, ParEntry, SeqEntry, StageEntry, UseEntry
from netcost.spec.export.values import ABSENT, field_values, settable
from netcost.spec.fields import op_fields


@dataclass
class TOp:
    kind: str
    cls: type
    local: str
    fields: dict[str, list[Any]]  # field -> value per instance (ABSENT where left out)
    present: list[bool]
    args: dict[str, str] = field(default_factory=dict)  # field -> the block argument passing it


@dataclass
class TBranch:
    entries: list[T]
    present: list[bool]  # per instance (False also where the whole parallel is absent)
    arg: str | None = None  # the block argument that says whether it is there


@dataclass
class TPar:
    merge: TOp
    branches: list[TBranch]


@dataclass
class TSeq:
    local: str
    naming: str
    entries: list[T]


@dataclass
class TUse:
    """A use of a block inside a template: its arguments' values per instance."""

    block: str
    local: str
    values: dict[str, list[Any]]  # block argument -> value per instance (ABSENT where left out)
    present: list[bool]
    args: dict[str, str] = field(default_factory=dict)  # block argument -> the enclosing block's argument


T = TOp | TPar | TSeq | TUse | StageEntry


def unify(instances: list[list[Entry] | None]) -> list[T] | None:
    """One template of several entry lists (None: an instance without them), or None when
    they differ in more than field values and optional branches."""
    present = [e for e in instances if e is not None]
    if not present or any(len(e) != len(present[0]) for e in present):
        return None
    out: list[T] = []
    for k in range(len(present[0])):
        t = _unify_entry([None if e is None else e[k] for e in instances])
        if t is None:
            return None
        out.append(t)
    return out


def _unify_entry(entries: list[Entry | None]) -> T | None:
    present = [e for e in entries if e is not None]
    first = present[0]
    if any(type(e) is not type(first) for e in present):
        return None
    if isinstance(first, StageEntry):
        return first if len(entries) == 1 else None
    if any(e.local != first.local for e in present):  # type: ignore[union-attr]
        return None
    if isinstance(first, UseEntry):
        if any(e.block != first.block for e in present):  # type: ignore[union-attr]
            return None
        values = {
            arg: [e.values.get(arg, default) if e is not None else ABSENT for e in entries]  # type: ignore[union-attr]
            for arg, default in first.defaults.items()
        }
        return TUse(first.block, first.local, values, [e is not None for e in entries])
    if isinstance(first, OpEntry):
        return _unify_op([e.node.op if e is not None else None for e in entries], first.local)  # type: ignore[union-attr]
    if isinstance(first, SeqEntry):
        if any(e.naming != first.naming for e in present):  # type: ignore[union-attr]
            return None
        inner = unify([e.entries if e is not None else None for e in entries])  # type: ignore[union-attr]
        return None if inner is None else TSeq(first.local, first.naming, inner)
    assert isinstance(first, ParEntry)
    merge = _unify_op([e.merge.op if e is not None else None for e in entries], first.local)  # type: ignore[union-attr]
    if merge is None or any(len(e.branches) != len(first.branches) for e in present):  # type: ignore[union-attr]
        return None
    branches = []
    for j in range(len(first.branches)):
        lists = [e.branches[j] if e is not None else None for e in entries]  # type: ignore[union-attr]
        has = [bool(b) for b in lists if b is not None]
        shown = [b if b else None for b in lists]  # an empty branch: absent
        inner = unify(shown) if any(has) else []
        if inner is None:
            return None
        branches.append(TBranch(inner, [bool(b) for b in lists]))
    return TPar(merge, branches)


def _unify_op(ops: list[Any], local: str) -> TOp | None:
    present = [op for op in ops if op is not None]
    cls = type(present[0])
    if any(type(op) is not cls for op in present):
        return None
    values = [field_values(op) if op is not None else None for op in ops]
    annotations = op_fields(cls)
    fields = {}
    for name in annotations:
        column = [v[name] if v is not None else ABSENT for v in values]
        shown = [v for v in column if v is not ABSENT]
        if len({value_key(v) for v in shown}) > 1 and not settable(annotations[name][0], shown):
            return None
        fields[name] = column
    return TOp(cls.kind, cls, local, fields, [op is not None for op in ops])


def value_key(value: Any) -> Any:
    """Values compared as the spec writes them (1 and 1.0 and True are different)."""
    return (type(value).__name__, value)


def varies(column: list[Any]) -> bool:
    return len({value_key(v) for v in column if v is not ABSENT}) > 1


def nodes_in(template: list[T]) -> list[T]:
    """Every TOp and TPar, depth first, in writing order."""
    out: list[T] = []
    for t in template:
        if isinstance(t, (TOp, TUse)):
            out.append(t)
        elif isinstance(t, TSeq):
            out.extend(nodes_in(t.entries))
        elif isinstance(t, TPar):
            out.append(t)
            for b in t.branches:
                out.extend(nodes_in(b.entries))
    return out


def text_key(entries: list[Entry]) -> Any:
    """A hashable value equal for entry lists that would be written the same."""
    out = []
    for e in entries:
        if isinstance(e, OpEntry):
            out.append(("op", e.local, e.node.op))
        elif isinstance(e, ParEntry):
            out.append(("par", e.local, e.merge.op, tuple(text_key(b) for b in e.branches)))
        elif isinstance(e, SeqEntry):
            out.append(("seq", e.local, e.naming, text_key(e.entries)))
        elif isinstance(e, UseEntry):
            out.append(("use", e.block, e.local, tuple((k, _hashable(v)) for k, v in e.values.items())))
        else:
            out.append(("stage", id(e)))
    return tuple(out)


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, (list, tuple)) else value_key(value)

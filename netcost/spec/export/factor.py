"""Repeated structure factored into blocks: scopes whose layers are the same up to field
values (and branches some leave empty) become uses of one block, with an argument for each
field that differs; consecutive uses named ``stem0, stem1, ...`` become a ``stage``.

Scopes are grouped from the outside in: a scope that matches no other is opened and its own
scopes are tried (a scope holding only scopes, ``layer1`` of a ResNet, is opened at once:
its children are the blocks). A block is not made of blocks: once a scope is a block's use,
what is inside is written in the block's body.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from netcost import ops
from netcost.spec.builtin import blocks as builtin_blocks
from netcost.spec.export.template import T, TOp, TPar, TSeq, TUse, nodes_in, text_key, unify, value_key, varies
from netcost.spec.export.tree import Entry, OpEntry, ParEntry, SeqEntry, StageEntry, UseEntry
from netcost.spec.export.values import ABSENT, Expr, argument, expression, fresh_name
from netcost.spec.fields import op_fields

MIN_LAYERS = 2  # a block of one layer saves nothing
STRUCTURES = ("parallel", "stage", "repeat", "seq")


@dataclass
class Block:
    name: str
    naming: str
    members: list[SeqEntry]
    template: list[T]
    args: dict[str, Any] = field(default_factory=dict)  # name -> default
    annotations: dict[str, Any] = field(default_factory=dict)  # name -> the field it is passed to
    values: list[dict[str, Any]] = field(default_factory=list)  # per member: arg -> value (non-default)


def factor(entries: list[Entry], leaves: bool = False) -> tuple[list[Entry], dict[str, Block]]:
    """The entries with repeated scopes replaced by block uses and stages, and the blocks.
    ``leaves``: first make blocks of the innermost scopes (layers only: Inception's
    conv-bn-relu), which the larger blocks then use."""
    blocks: dict[str, Block] = {}
    taken: set[str] = set()
    if leaves:
        entries = _make_blocks(entries, _clusters(_leaves(entries)), blocks, taken)
    entries = _make_blocks(entries, _clusters(_candidates(entries)), blocks, taken)
    return _stages(entries, blocks), blocks


def _make_blocks(entries: list[Entry], clusters, blocks: dict[str, Block], taken: set[str]) -> list[Entry]:
    uses: dict[int, UseEntry] = {}
    for members, template in clusters:
        block = Block(_block_name(members, taken), members[0].naming, members, template)
        _arguments(block, blocks)
        blocks[block.name] = block
        for member, values in zip(members, block.values, strict=True):
            uses[id(member)] = UseEntry(block.name, member.local, values, block.args, member.nodes)
    return _replace(entries, uses)


# -- finding the blocks ---------------------------------------------------------------------
@dataclass
class _Cluster:
    """Scopes that lay over each other; ``distinct`` holds one of each different text (a
    stage of a thousand equal blocks is tried as one)."""

    members: list[SeqEntry]
    distinct: dict[Any, SeqEntry]

    def join(self, seq: SeqEntry, key: Any) -> bool:
        if self.members[0].naming != seq.naming:
            return False
        if key not in self.distinct:
            if unify([*(m.entries for m in self.distinct.values()), seq.entries]) is None:
                return False
            self.distinct[key] = seq
        self.members.append(seq)
        return True


def _clusters(frontier: list[SeqEntry]) -> list[tuple[list[SeqEntry], list[T]]]:
    kept: list[_Cluster] = []
    while frontier:
        level: list[_Cluster] = []
        for seq in frontier:
            key = text_key(seq.entries)
            if not any(cluster.join(seq, key) for cluster in (*kept, *level)):
                level.append(_Cluster([seq], {key: seq}))
        frontier = []
        for cluster in level:
            if len(cluster.members) >= 2 and cluster.members[0].nodes >= MIN_LAYERS:
                kept.append(cluster)
            else:
                for m in cluster.members:
                    frontier.extend(_candidates(m.entries))
    out = []
    for cluster in kept:
        template = unify([m.entries for m in cluster.members])
        assert template is not None  # its distinct texts lay over each other
        out.append((cluster.members, template))
    return out


def _candidates(entries: list[Entry]) -> list[SeqEntry]:
    out: list[SeqEntry] = []
    for e in entries:
        if isinstance(e, SeqEntry):
            if len(e.entries) >= 2 and all(isinstance(c, SeqEntry) for c in e.entries):
                out.extend(_candidates(e.entries))  # a scope of scopes: its children are the blocks
            else:
                out.append(e)
        elif isinstance(e, ParEntry):
            for branch in e.branches:
                out.extend(_candidates(branch))
    return out


def _leaves(entries: list[Entry]) -> list[SeqEntry]:
    """Every scope that holds layers only, wherever it is."""
    out: list[SeqEntry] = []
    for e in entries:
        if isinstance(e, SeqEntry):
            if all(isinstance(c, OpEntry) for c in e.entries):
                out.append(e)
            else:
                out.extend(_leaves(e.entries))
        elif isinstance(e, ParEntry):
            for branch in e.branches:
                out.extend(_leaves(branch))
    return out


def _block_name(members: list[SeqEntry], taken: set[str]) -> str:
    stem = re.sub(r"[\d_]+$", "", _common_prefix([m.local for m in members]))
    kinds = [e.node.op.kind for e in members[0].entries if isinstance(e, OpEntry)]
    if not stem and len(kinds) == len(members[0].entries):  # layers only: conv_bn_relu, conv_block
        stem = "_".join(kinds) if len(kinds) <= 3 else f"{kinds[0]}_block"
    if not stem:
        parents = [m.path.rsplit(".", 2)[-2] if m.path.count(".") else "" for m in members]
        stem = re.sub(r"[\d_]+$", "", _common_prefix(parents))
        stem = f"{stem}_block" if stem else "block"
    # a block's name is looked up before an op's: never an op kind, a structure or a built-in block
    return fresh_name(stem, taken, frozenset({*ops.REGISTRY, *STRUCTURES, *builtin_blocks()}))


# -- arguments --------------------------------------------------------------------------------
def _arguments(block: Block, blocks: dict[str, Block]) -> None:
    """One argument per field that differs between the uses (fields that differ together
    share one), and one per optional branch; defaults are each one's most common value."""
    args = _Arguments()
    found = nodes_in(block.template)
    for t in found:
        if isinstance(t, TUse):  # a block used inside: its arguments that differ are passed on
            hints = blocks[t.block].annotations
            for arg, column in t.values.items():
                if varies(column):
                    t.args[arg] = args.assign(column, args.base(t.local, arg), "field", hints.get(arg))
            continue
        op = t.merge if isinstance(t, TPar) else t
        assert isinstance(op, TOp)
        fields = op_fields(op.cls)
        for fname, column in op.fields.items():
            if varies(column):
                op.args[fname] = args.assign(column, args.base(op.local, fname), "field", fields[fname][0])
    for t in found:  # then one argument per optional branch
        if isinstance(t, TPar):
            for j, branch in enumerate(t.branches):
                pairs = zip(branch.present, t.merge.present, strict=True)
                column = [here if there else ABSENT for here, there in pairs]
                if varies(column):
                    branch.arg = args.assign(column, _branch_name(branch) or f"branch{j + 1}", "branch")
    args.finish(block)


class _Arguments:
    def __init__(self) -> None:
        self.columns: list[list[Any]] = []
        self.names: list[str] = []
        self.kinds: list[str] = []
        self.taken: set[str] = set()
        self.annotations: dict[str, Any] = {}

    def base(self, local: str, name: str) -> str:
        """``out``, or ``conv3_out`` when ``out`` is another field's argument already."""
        return f"{local}_{name}" if name in self.taken and local.isidentifier() else name

    def assign(self, column: list[Any], base: str, kind: str, annotation: Any = None) -> str:
        """The argument for ``column`` (per instance values): one that agrees wherever both
        have a value, or a new one."""
        for i, existing in enumerate(self.columns):
            if self.kinds[i] == kind and _compatible(existing, column):
                self.columns[i] = [a if a is not ABSENT else b for a, b in zip(existing, column, strict=True)]
                return self.names[i]
        self.columns.append(list(column))
        self.kinds.append(kind)
        self.names.append(fresh_name(base, self.taken))
        if annotation is not None:
            self.annotations[self.names[-1]] = annotation
        return self.names[-1]

    def finish(self, block: Block) -> None:
        block.annotations = self.annotations
        block.args = {}
        for name, column in zip(self.names, self.columns, strict=True):
            top = Counter(value_key(v) for v in column if v is not ABSENT).most_common(1)[0][0]
            block.args[name] = next(v for v in column if v is not ABSENT and value_key(v) == top)
        block.values = [
            {
                name: column[i]
                for name, column in zip(self.names, self.columns, strict=True)
                if column[i] is not ABSENT and value_key(column[i]) != value_key(block.args[name])
            }
            for i in range(len(block.members))
        ]


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def _branch_name(branch) -> str | None:
    if len(branch.entries) == 1 and isinstance(branch.entries[0], TSeq):
        return branch.entries[0].local
    return None


def _compatible(a: list[Any], b: list[Any]) -> bool:
    return all(x is ABSENT or y is ABSENT or value_key(x) == value_key(y) for x, y in zip(a, b, strict=True))


# -- uses and stages --------------------------------------------------------------------------
def _replace(entries: list[Entry], uses: dict[int, UseEntry]) -> list[Entry]:
    out: list[Entry] = []
    for e in entries:
        if id(e) in uses:
            out.append(uses[id(e)])
        elif isinstance(e, SeqEntry):
            out.append(SeqEntry(e.local, _replace(e.entries, uses), e.naming, e.nodes, e.path))
        elif isinstance(e, ParEntry):
            out.append(ParEntry([_replace(b, uses) for b in e.branches], e.merge, e.local))
        else:
            out.append(e)
    return out


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _stages(entries: list[Entry], blocks: dict[str, Block]) -> list[Entry]:
    """Runs of uses of one block, named ``stem{i + start}``, as stages; a scope that is
    nothing but one stage becomes a named stage."""
    out: list[Entry] = []
    i = 0
    while i < len(entries):
        e = entries[i]
        if isinstance(e, SeqEntry):
            inner = _stages(e.entries, blocks)
            if len(inner) == 1 and isinstance(inner[0], StageEntry) and inner[0].local is None:
                stage = inner[0]
                names = None if stage.names == "{index}" else stage.names
                out.append(StageEntry(stage.block, e.local, stage.n, names, stage.values))
            else:
                out.append(SeqEntry(e.local, inner, e.naming, e.nodes, e.path))
            i += 1
            continue
        if isinstance(e, ParEntry):
            out.append(ParEntry([_stages(b, blocks) for b in e.branches], e.merge, e.local))
            i += 1
            continue
        run = _run(entries, i)
        stage = _stage(run, blocks) if len(run) >= 2 else None
        if stage is None:
            out.append(e)
            i += 1
        else:
            out.append(stage)
            i += len(run)
    return out


def _run(entries: list[Entry], start: int) -> list[UseEntry]:
    """The uses of one block from ``start`` on whose names count up by one."""
    first = entries[start]
    if not isinstance(first, UseEntry) or not (m := _NUMBERED.match(first.local)):
        return []
    stem, number = m.group(1), int(m.group(2))
    if str(number) != m.group(2):  # "01": not a counted name
        return []
    run = [first]
    for e in entries[start + 1 :]:
        if not isinstance(e, UseEntry) or e.block != first.block or e.local != f"{stem}{number + len(run)}":
            break
        run.append(e)
    return run


def _stage(run: list[UseEntry], blocks: dict[str, Block]) -> StageEntry | None:
    block = blocks[run[0].block]
    stem, start = _NUMBERED.match(run[0].local).groups()  # type: ignore[union-attr]
    values: dict[str, Any] = {}
    for arg, default in block.args.items():
        column = [u.values.get(arg, default) for u in run]
        first, rest = column[0], column[1:]
        if arg == "stride":  # a stage passes its stride to the first block only
            if any(value_key(v) != value_key(default) for v in rest):
                return None
            if value_key(first) != value_key(default):
                values[arg] = argument(first, block.annotations.get(arg))
            continue
        if all(value_key(v) == value_key(first) for v in rest):
            if value_key(first) != value_key(default):
                values[arg] = argument(first, block.annotations.get(arg))
        elif all(value_key(v) == value_key(rest[0]) for v in rest):
            if isinstance(first, bool) and isinstance(rest[0], bool):
                values[arg] = Expr("index == 0" if first else "index > 0")
            else:
                values[arg] = Expr(f"{expression(first)} if index == 0 else {expression(rest[0])}")
        else:
            values[arg] = Expr(f"[{', '.join(expression(v) for v in column)}][index]")
    offset = int(start)
    names = f"{stem}{{index}}" if offset == 0 else f"{stem}{{index + {offset}}}"
    return StageEntry(block.name, None, len(run), names, values)

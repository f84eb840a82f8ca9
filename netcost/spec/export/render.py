"""Templates written as spec layers. Names are written only where the expander would not
give them by itself: each instance of a template replays the expander's own naming
(netcost.spec.expand), so a layer is left unnamed only when every instance would be named
as the graph is."""

from __future__ import annotations

from typing import Any

from netcost.spec.expand import Scope, _Names
from netcost.spec.export.factor import Block
from netcost.spec.export.template import T, TBranch, TOp, TPar, TSeq, TUse, value_key
from netcost.spec.export.tree import StageEntry, not_writable
from netcost.spec.export.values import argument, is_default, literal
from netcost.spec.export.writer import Flow, LayerList
from netcost.spec.fields import FieldError, op_fields


class Namer:
    """The expander's naming of one instance, replayed."""

    def __init__(self) -> None:
        self.names = _Names()

    def auto(self, scope: Scope, base: str) -> str:
        """The name the expander would give an unnamed layer of kind ``base`` next."""
        used = self.names.used[scope.prefix]
        key = (scope.prefix, "" if scope.naming == "index" else base)
        n = self.names.counters[key]
        while True:
            n += 1
            local = str(n - 1) if scope.naming == "index" else f"{base}{n}"
            if local not in used:
                return local

    def take(self, scope: Scope, explicit: str | None, base: str) -> str:
        try:
            return self.names.take(scope, explicit, base)
        except FieldError as exc:
            raise not_writable(str(exc)) from None


Context = list[tuple[Namer, Scope] | None]  # per instance; None where it has no such layers


def _live(ctx: Context) -> list[tuple[Namer, Scope]]:
    return [c for c in ctx if c is not None]


def _name(ctx: Context, local: str, base: str) -> bool:
    """Take ``local`` in every instance; True when it must be written (not the automatic name)."""
    live = _live(ctx)
    written = any(namer.auto(scope, base) != local for namer, scope in live)
    for namer, scope in live:
        namer.take(scope, local if written else None, base)
    return written


def layers(template: list[T], ctx: Context, blocks: dict[str, Block]) -> LayerList:
    out = LayerList()
    for t in template:
        if isinstance(t, TOp):
            out.append(_op(t, ctx))
        elif isinstance(t, TPar):
            out.append(_parallel(t, ctx, blocks))
        elif isinstance(t, TSeq):
            out.append({"seq": _scope_body(t, ctx, blocks)})
        elif isinstance(t, TUse):
            out.append(_use(t, ctx, blocks))
        else:
            out.append(_stage(t, ctx))
    return out


def _op(t: TOp, ctx: Context) -> Any:
    args = Flow()
    if _name(ctx, t.local, t.kind):
        args["name"] = t.local
    args.update(_fields(t))
    return {t.kind: args} if args else t.kind


def _fields(t: TOp) -> Flow:
    out = Flow()
    annotations = op_fields(t.cls)
    for fname, column in t.fields.items():
        if fname in t.args:
            out[fname] = t.args[fname]
            continue
        value = next(v for v, here in zip(column, t.present, strict=True) if here)
        if not is_default(t.cls, fname, value):
            out[fname] = literal(annotations[fname][0], value)
    return out


def _parallel(t: TPar, ctx: Context, blocks: dict[str, Block]) -> dict:
    branches = LayerList()
    for branch in t.branches:
        sub: Context = [c if c is not None and branch.present[i] else None for i, c in enumerate(ctx)]
        branches.append(_branch(branch, sub, blocks))
    merge = t.merge
    if _name(ctx, merge.local, merge.kind):
        raise not_writable(
            f"a merge named {merge.local!r} (the spec language names merges by kind and count, e.g. add1)"
        )
    fields = _fields(merge)
    return {"parallel": {"merge": Flow({merge.kind: fields}) if fields else merge.kind, "branches": branches}}


def _branch(branch: TBranch, ctx: Context, blocks: dict[str, Block]) -> Any:
    entries = branch.entries
    if len(entries) == 1 and isinstance(entries[0], TSeq):
        body = _scope_body(entries[0], ctx, blocks)
    else:
        body = {"layers": layers(entries, ctx, blocks)}
    if branch.arg is not None:  # left out (the identity) where the argument is false
        body_layers = body.pop("layers")
        body.update({"when": branch.arg, "else": [], "layers": body_layers})
    if set(body) == {"layers"}:
        return body["layers"]
    return body


def _scope_body(t: TSeq, ctx: Context, blocks: dict[str, Block]) -> dict:
    inner: Context = []
    for c in ctx:
        if c is None:
            inner.append(None)
            continue
        namer, scope = c
        prefix = namer.take(scope, t.local, "")
        inner.append((namer, Scope(prefix, scope.vars, t.naming, scope.blocks)))
    body: dict[str, Any] = {"name": t.local}
    if t.naming == "index":
        body["naming"] = "index"
    body["layers"] = layers(t.entries, inner, blocks)
    return body


def _use(t: TUse, ctx: Context, blocks: dict[str, Block]) -> Any:
    args = Flow()
    if _name(ctx, t.local, t.block):
        args["name"] = t.local
    block = blocks[t.block]
    for arg, column in t.values.items():
        if arg in t.args:
            args[arg] = t.args[arg]
            continue
        value = next(v for v, here in zip(column, t.present, strict=True) if here)
        if value_key(value) != value_key(block.args[arg]):
            args[arg] = argument(value, block.annotations.get(arg))
    return {t.block: args} if args else t.block


def _stage(t: StageEntry, ctx: Context) -> dict:
    (namer, scope), *_ = _live(ctx)
    body = Flow()
    if t.local is not None:
        body["name"] = t.local
        prefix = namer.take(scope, t.local, "")
        scope = Scope(prefix, scope.vars, "index", scope.blocks)
    body["block"] = t.block
    body["n"] = t.n
    if t.names is not None:
        body["names"] = t.names
    for i in range(t.n):
        local = t.names.replace("{index}", str(i)) if t.names else None
        if t.names and "{index + " in t.names:
            stem, offset = t.names.split("{index + ")
            local = f"{stem}{i + int(offset.rstrip('}'))}"
        namer.take(scope, local, t.block)
    body.update(t.values)
    return {"stage": body}

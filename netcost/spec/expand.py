"""Expansion of a spec into a :class:`Graph`: templates, stages, repeats and parallel
branches become named nodes, and shapes are inferred on the way (expressions may read
the incoming shape as ``in_channels``, ``in_h``, ``in_w``; of tokens, ``in_tokens``).

Layer items are ``op``, ``op: {args}``, ``block: {args}`` or one of the structures:

- ``parallel: {merge: add|concat|mul (or {concat: {crop: true}}), branches: [...]}``
  runs each branch on the same input and merges them. An empty branch is the identity;
  a branch whose ``when`` is false takes its ``else`` layers (``else: []`` is the
  identity) or, without ``else``, is left out; one branch left means no merge;
- ``stage: {block, n, stride, var, names, ...args}`` repeats a block ``n`` times (the
  variable ``var``, default ``index``, = 0..n-1 inside), ``stride`` applying to the first
  block only; a named stage names its blocks ``0 .. n-1`` (or by the ``names``
  template, e.g. ``denselayer{index + 1}``), an unnamed one in the enclosing scope;
- ``repeat: {n, layers, var}`` inlines layers ``n`` times;
- ``seq: {name, layers, naming: kind|index}`` groups layers under a name.

Every item may carry ``name`` (its node or scope name; ``{expression}`` parts are
evaluated, e.g. ``block{s + 1}``) and ``when`` (skip if false).
Unnamed layers are named by kind within their scope (``conv1``, ``conv2``, ``relu1``).

``repeat: {n: 0}`` inlines nothing (the identity: a depth variable may be 0); a stage has at
least one block (its stride applies to the first). Limits: a graph has at most
:data:`MAX_NODES` layers and an expansion runs at most :data:`MAX_NODES` stage/repeat
iterations; both are checked before a loop starts and again after its first iteration
(which tells how many layers each one adds), so an oversized spec fails in milliseconds.
"""

from __future__ import annotations

import re
from collections import ChainMap, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from netcost import ops
from netcost.core.shape import DEFAULT_LAYOUT, Shape
from netcost.errors import Location, ShapeError, SpecError
from netcost.graph import INPUT, Graph
from netcost.memo import by_identity
from netcost.options import OneSize
from netcost.spec import expr, setvalue
from netcost.spec.fields import Domain, FieldError, coerce, describe_type, op_fields, show_value, to_bool, to_int
from netcost.spec.load import LocDict, LocList
from netcost.spec.schema import REQUIRED, Spec, unknown_keys
from netcost.spec.variables import Variable, declare, is_literal_choice

MAX_NODES = 1_000_000  # layers in one graph, and stage/repeat iterations in one expansion
MAX_DEPTH = 64  # lists of layers inside one another (structures and blocks), far from Python's stack limit
_LIMIT = f"netcost's limit is {MAX_NODES:,} (see netcost.spec.expand.MAX_NODES)"

STRUCTURES = ("parallel", "stage", "repeat", "seq")
RESERVED = ("name", "when")
SHAPE_VARS = ("in_channels", "in_h", "in_w", "in_tokens")


class Tensor(NamedTuple):  # (named tuples: expansion makes hundreds of thousands of these)
    name: str
    shape: Shape


class Scope(NamedTuple):
    prefix: str
    vars: Mapping[str, Any]
    naming: str = "kind"  # unnamed children: "kind" -> conv1, relu1; "index" -> 0, 1, 2
    blocks: tuple[str, ...] = ()  # templates being expanded, for cycle detection

    def path(self, local: str) -> str:
        return f"{self.prefix}.{local}" if self.prefix else local


@dataclass
class _Names:
    used: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    counters: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def take(self, scope: Scope, explicit: Any, base: str) -> str:
        used = self.used[scope.prefix]
        if explicit is not None:
            if isinstance(explicit, bool) or not isinstance(explicit, (str, int)):
                raise FieldError(f"a name is text or a number, got {type(explicit).__name__} {show_value(explicit)}")
            local = str(explicit)
            if not local or "." in local or local == INPUT:
                raise FieldError(f"name {local!r} is not allowed (no dots, not empty, not 'input')")
            if local in used:
                raise FieldError(f"duplicate layer name {scope.path(local)!r}")
        else:
            key = (scope.prefix, "" if scope.naming == "index" else base)
            while True:
                self.counters[key] += 1
                n = self.counters[key]
                local = str(n - 1) if scope.naming == "index" else f"{base}{n}"
                if local not in used:
                    break
        used.add(local)
        return scope.path(local)


def expand(spec: Spec, overrides: Mapping[str, Any] | None = None, input_shape: tuple[int, ...] | None = None) -> Graph:
    """Evaluate the spec's variables (with ``--set`` overrides) and expand it into a Graph."""
    variables = _variables(spec, dict(overrides or {}))
    shape = _input_shape(spec, variables, input_shape)
    graph = Graph(
        spec.name,
        shape,
        vars=variables,
        reference=spec.reference,
        description=spec.description,
        settable=tuple(spec.vars),
    )
    _Expander(spec, graph).layers(spec.layers, "layers", Scope("", variables), Tensor(INPUT, shape))
    if not graph.nodes:
        raise SpecError("the spec has no layers", spec.where(spec.raw, "layers", "layers"))
    return graph


def _variables(spec: Spec, overrides: dict[str, Any]) -> dict[str, Any]:
    """``vars`` in order (each may use the earlier ones; ``--set`` replaces a value, checked
    against the variable's type and domain), then the derived ``let`` entries, which
    ``--set`` cannot touch."""
    return _derived(spec, _settable(spec, overrides))


def _settable(spec: Spec, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's ``vars`` with the ``--set`` overrides (the first part of :func:`_variables`)."""
    for name in overrides:
        if name in spec.let:
            raise SpecError(
                f"--set {name}: {name!r} is derived from other variables (`let`), not settable",
                spec.where(spec.let, name, f"let.{name}", at_key=True),
            )
        if name not in spec.vars:
            declared = ", ".join(spec.vars) or "none"
            raise SpecError(
                f"--set {name}: the spec declares no variable {name!r} (declared: {declared})",
                spec.where(spec.raw, "vars", "vars", at_key=True) if "vars" in spec.raw else Location(spec.file, 1, 1),
                hint=ops.did_you_mean(name, spec.vars),
            )
    values: dict[str, Any] = {}
    for name, raw in spec.vars.items():
        var = spec.variables.get(name) or declare(name, raw)
        default, table, key = (var.default, raw, "default") if isinstance(raw, LocDict) else (raw, spec.vars, name)
        try:
            if name in overrides:
                typed = _typed(var, _default(var, default, values))
                try:
                    values[name] = _checked(typed, _override(overrides[name], typed))
                except FieldError as exc:
                    allowed = "" if typed.choices else f" ({name} is {typed.allowed()})"
                    raise FieldError(f"--set {name}: {exc}{allowed}") from None
            else:
                value = _default(var, default, values)
                _checked(var, value)  # (the type a default implies is its own: only the declared one can fail)
                values[name] = value
        except (SpecError, FieldError) as exc:
            raise _locate(exc, spec.where(table, key, f"vars.{name}")) from None
    return values


_TYPED: dict[tuple[int, type], tuple[Variable, Variable]] = {}  # (id(variable), type of its default) -> typed
_CHECKED: dict[tuple[int, type, Any], tuple[Variable, Any]] = {}  # (id(variable), type, value) -> checked


def _typed(var: Variable, default: Any) -> Variable:
    """``var.typed(default)``, made once per variable and type of a plain default (a sweep
    checks many values of the same variable)."""
    if isinstance(default, (list, tuple)):
        return var.typed(default)
    return by_identity(_TYPED, (id(var), type(default)), var, var.typed, default, limit=10_000)


def _checked(var: Variable, value: Any) -> Any:
    """``var.check(value)``, remembered for a plain value (a sweep checks the same values of
    the same variables again and again); errors are raised afresh each time."""
    kind = type(value)
    if (kind is not int and kind is not float and kind is not str and kind is not bool) or value == 0.0:
        return var.check(value)  # (0.0 is also -0.0 as a key)
    return by_identity(_CHECKED, (id(var), kind, value), var, var.check, value, limit=100_000)


def _derived(spec: Spec, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (the settable variables) with the spec's ``let`` entries after them, in a new dict."""
    values = dict(values)
    evaluate = _evaluator(values)
    for name, raw in spec.let.items():
        try:
            values[name] = _value(raw, evaluate)
        except (SpecError, FieldError) as exc:
            raise _locate(exc, spec.where(spec.let, name, f"let.{name}")) from None
    return values


def _override(value: Any, var: Variable) -> Any:
    """An override as given; text for a variable that is not a string is read as on the
    command line (the API's ``overrides={"classes": "10"}`` as ``--set classes=10``)."""
    if isinstance(value, str) and var.type not in (None, "str"):
        try:
            return setvalue.parse(value)
        except ValueError as exc:
            raise FieldError(str(exc)) from None
    return value


def _default(var: Variable, raw: Any, earlier: Mapping[str, Any]) -> Any:
    kind = type(raw)
    if kind is int or kind is float or kind is bool or raw is None:
        return raw  # a number as written (what _value gives it)
    if is_literal_choice(var, raw):
        return raw
    if var.choices is not None and isinstance(raw, str) and raw.isidentifier() and raw not in earlier:
        return var.check(raw)  # a bare word that is not a choice: say so, not "unknown variable"
    return _value(raw, _evaluator(earlier))


TOKEN_LAYOUTS = ("L", "LC")  # where one --input size is the sequence length


def _input_shape(spec: Spec, variables: dict[str, Any], override: tuple[int, ...] | None) -> Shape:
    at = spec.where(spec.raw, "input", "input")
    with _located(at):
        dims = [to_int(_value(v, _evaluator(variables))) for v in spec.input]
    layout = spec.input_layout or DEFAULT_LAYOUT[len(dims)]
    if isinstance(override, OneSize) and layout in TOKEN_LAYOUTS:  # one size: the sequence length
        override = (override.size, *dims[1:])
    if override and layout != "CHW" and len(override) != len(dims):
        raise SpecError(
            f"--input {'x'.join(map(str, override))}: this spec's input is {'x'.join(map(str, dims))} ({layout})",
            at,
            hint=f"give every size of the {layout} input, e.g. --input {'x'.join(map(str, dims))}",
        )
    if override:
        dims = list(override) if len(override) == len(dims) else [*dims[: len(dims) - len(override)], *override]
    if any(d < 1 for d in dims):
        raise SpecError(f"input shape {'x'.join(map(str, dims))} has a dimension below 1", at)
    return Shape(tuple(dims), layout if len(dims) == len(layout) else "")


def shape_vars(shape: Shape) -> dict[str, int]:
    """What expressions read of the incoming tensor: ``in_channels`` always, ``in_h`` and
    ``in_w`` of a map (either layout), ``in_tokens`` of tokens."""
    if shape.layout == "HWC":
        return {"in_channels": shape.c, "in_h": shape.h, "in_w": shape.w}
    if shape.layout == "LC":
        return {"in_channels": shape.c, "in_tokens": shape.dims[0]}
    return dict(zip(SHAPE_VARS[:3], shape.dims, strict=False))


def _evaluator(env: Mapping[str, Any]):
    def evaluate(text: str) -> Any:
        try:
            return expr.evaluate(text, env)
        except expr.ExprError as exc:
            hint = ""
            if text.count("(") > text.count(")") or text.count("[") > text.count("]"):
                hint = " (a comma ends a value inside a YAML {...} mapping: quote the expression)"
            raise FieldError(f"in expression {text!r}: {exc}{hint}") from None

    return evaluate


def _value(raw: Any, evaluate) -> Any:
    """A YAML value with every string evaluated as an expression (lists element-wise)."""
    if isinstance(raw, str):
        return evaluate(raw)
    if isinstance(raw, list):
        return [_value(v, evaluate) for v in raw]
    if isinstance(raw, dict):
        raise FieldError("a mapping is not a value here")
    return raw


class _located:
    """Give errors raised inside a location and, when known, the layer's name. ``at`` is a
    Location or a function that makes one: locations are built only when an error is
    raised (expansion enters tens of thousands of these and almost never raises)."""

    __slots__ = ("at", "layer")

    def __init__(self, at: Location | Callable[[], Location], layer: str | None = None):
        self.at, self.layer = at, layer

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or not isinstance(exc, (SpecError, FieldError)):
            return False
        located = _locate(exc, self.at, self.layer)
        if located is exc:
            return False
        raise located from None


def _locate(exc: SpecError | FieldError, at: Location | Callable[[], Location], layer: str | None = None) -> SpecError:
    """``exc``, raised at ``at`` (inside ``layer``), as a located SpecError: a SpecError that
    has no location yet gets this one; a FieldError becomes a SpecError here. The loops of
    expansion catch and call this rather than enter a :class:`_located` per item."""
    prefix = f"{layer}: " if layer else ""
    if isinstance(exc, SpecError):
        if exc.location is None:
            exc.location = at() if callable(at) else at
            exc.message = prefix + exc.message
        return exc
    return SpecError(prefix + str(exc), at() if callable(at) else at)


@dataclass(frozen=True, eq=False)
class StageCall:
    """One expansion of a ``stage``: what each of its block calls is made from."""

    block: str
    first: LocDict  # the arguments of block 0 (with the stage's stride)
    rest: LocDict  # of blocks 1..n-1 (without it)
    names: Any  # the ``names`` template, or None
    var: str  # the index variable
    path: str
    at: Location
    scope: Scope  # where the blocks are named
    args: LocDict  # the stage's own arguments, as written


class _Expander:
    def __init__(self, spec: Spec, graph: Graph):
        self.spec = spec
        self.graph = graph
        self.names = _Names()
        self.iterations = 0  # stage/repeat iterations so far (bounded by MAX_NODES)
        self.depth = 0  # lists of layers being expanded, one inside the other

    def count(self, args: LocDict, path: str, scope: Scope, x: Tensor, low: int, at: Location) -> int:
        """The evaluated ``n`` of a stage or repeat: an integer >= ``low``."""
        if "n" not in args:
            raise SpecError(f"`{path.rsplit('.', 1)[-1]}` needs `n`: how many times (an integer >= {low})", at)
        try:
            n = to_int(_value(args.get("n"), self.evaluator(scope, x)))
            try:
                Domain(low).check(n)
            except FieldError as exc:
                raise FieldError(f"`n` {exc}") from None
        except (SpecError, FieldError) as exc:
            raise _locate(exc, self.at(args, "n", f"{path}.n")) from None
        return n

    def loop(self, n: int, at: Location, x: Tensor, body) -> Tensor:
        """``x = body(i, x)`` for i in 0..n-1, within the limits: the iterations are counted
        before the loop, and the layers the first iteration added tell what the rest will."""
        self.iterations += n
        if self.iterations > MAX_NODES:
            raise SpecError(f"the expansion would run {self.iterations:,} stage/repeat iterations: {_LIMIT}", at)
        if n == 0:
            return x
        before = self.layer_count()
        x = body(0, x)
        layers = self.layer_count() + (n - 1) * (self.layer_count() - before)
        if layers > MAX_NODES:
            raise SpecError(f"the expansion would make {layers:,} layers: {_LIMIT}", at)
        for i in range(1, n):
            x = body(i, x)
        return x

    def take_name(self, scope: Scope, name: Any, base: str, at: Location) -> str:
        """``names.take``, its error located at ``at``."""
        try:
            return self.names.take(scope, name, base)
        except FieldError as exc:
            raise _locate(exc, at) from None

    def name_arg(self, args: LocDict, key: str, path: str, default: Any, what: str) -> Any:
        """A value that names something (a block, a loop variable): a plain identifier."""
        value = args.get(key, default)
        if not isinstance(value, str) or not value.isidentifier():
            at = self.at(args, key, f"{path}.{key}")
            raise SpecError(f"`{key}` must be {what}, got {type(value).__name__} {show_value(value)}", at)
        return value

    # -- helpers ---------------------------------------------------------------------------
    def at(self, container: Any, key: Any, path: str) -> Location:
        return self.spec.where(container, key, path)

    def at_or(self, container: Any, key: Any, path: str, fallback: Location) -> Location:
        """Where ``container[key]`` is, or ``fallback`` (the item) when it is not written."""
        if isinstance(container, (LocDict, LocList)) and key in container:
            return self.at(container, key, path)
        return fallback

    def evaluator(self, scope: Scope, x: Tensor):
        return _evaluator(ChainMap(shape_vars(x.shape), scope.vars))

    def split(self, item: Any, at: Location) -> tuple[str, LocDict]:
        """``relu`` -> ("relu", {}); ``conv: {out: 8}`` -> ("conv", {...})."""
        if isinstance(item, str):
            return item, _empty(at)
        if isinstance(item, LocDict) and len(item) == 1:
            ((key, args),) = item.items()
            if args is None:
                return str(key), _empty(at)
            if isinstance(args, LocDict):
                return str(key), args
            raise SpecError(f"the arguments of `{key}` must be a mapping, got {type(args).__name__}", at)
        raise SpecError(
            "a layer is an op name (`relu`) or a one-key mapping (`conv: {out: 64, k: 3}`)",
            at,
            hint="put `name:` and `when:` inside the arguments mapping" if isinstance(item, LocDict) else None,
        )

    # -- layers ----------------------------------------------------------------------------
    def layers(self, items: Any, path: str, scope: Scope, x: Tensor, at: Location | None = None) -> Tensor:
        """Expand a list of layers; ``at``: where the list was given (for an error)."""
        if not isinstance(items, LocList):
            where = at or Location(self.spec.file, path=path)
            raise SpecError(f"`layers` must be a list of layers, got {type(items).__name__}", where)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SpecError(
                f"layers nest more than {MAX_DEPTH} levels deep (blocks within blocks)", self.at(items, None, path)
            )
        for i, item in enumerate(items):
            here = f"{path}[{i}]"
            x = self.item(item, here, self.at(items, i, here), scope, x)
        self.depth -= 1
        return x

    def parse(self, item: Any, path: str, at: Location) -> tuple[str, LocDict, LocDict]:
        """(kind, arguments, arguments without `name` and `when`) of a layer item."""
        key, args = self.split(item, at)
        return key, args, _without(args, *RESERVED)

    def item(self, item: Any, path: str, at: Location, scope: Scope, x: Tensor) -> Tensor:
        key, args, rest = self.parse(item, path, at)
        path = f"{path}.{key}"
        if "when" in args:
            try:
                if not to_bool(_value(args["when"], self.evaluator(scope, x))):
                    return x
            except (SpecError, FieldError) as exc:
                raise _locate(exc, self.at(args, "when", f"{path}.when")) from None
        name = args.get("name")
        if isinstance(name, str) and "{" in name:
            try:
                name = _template(name, self.evaluator(scope, x))
            except (SpecError, FieldError) as exc:
                raise _locate(exc, self.at(args, "name", f"{path}.name")) from None
        if key in STRUCTURES:
            return getattr(self, key)(rest, name, path, at, scope, x)
        if key in self.spec.blocks:
            return self.block(key, rest, name, path, at, scope, x, {})
        return self.op(key, rest, name, path, at, scope, x)

    def op(self, kind: str, args: LocDict, name: Any, path: str, at: Location, scope: Scope, x: Tensor) -> Tensor:
        if kind not in ops.REGISTRY:
            choices = [*ops.REGISTRY, *self.spec.blocks, *STRUCTURES]
            raise SpecError(f"unknown op or block {kind!r}", at, hint=ops.did_you_mean(kind, choices))
        if ops.REGISTRY[kind].arity[0] > 1:  # merges only (attention takes one input or two)
            raise SpecError(f"`{kind}` merges branches: use it as `parallel: {{merge: {kind}, branches: [...]}}`", at)
        full_name = self.take_name(scope, name, kind, at)
        op = self.make_op(kind, args, full_name, path, at, self.evaluator(scope, x))
        return self.node(full_name, op, (x,), at)

    def make_op(self, kind: str, args: LocDict, full_name: str, path: str, at: Location, evaluate) -> ops.Op:
        """An op instance from YAML arguments, each coerced to its field's type."""
        cls = ops.REGISTRY[kind]
        fields = op_fields(cls)
        kwargs = {}
        for key, raw in args.items():
            if key not in fields:
                field_at = self.spec.where(args, key, f"{path}.{key}", at_key=True)
                expected = ", ".join(f"{f} ({describe_type(t)})" for f, (t, _) in fields.items()) or "none"
                hint = ops.did_you_mean(key, fields) or f"`{kind}` takes: {expected}"
                raise SpecError(f"{full_name}: unknown argument {key!r} for `{kind}`", field_at, hint=hint)
            try:
                kwargs[key] = coerce(fields[key][0], raw, evaluate)
            except FieldError as exc:
                raise _locate(FieldError(f"`{key}` {exc}"), self.at(args, key, f"{path}.{key}"), full_name) from None
            except SpecError as exc:
                raise _locate(exc, self.at(args, key, f"{path}.{key}"), full_name) from None
        missing = [f for f, (_, required) in fields.items() if required and f not in kwargs]
        if missing:
            needs = ", ".join(f"`{f}` ({describe_type(fields[f][0])})" for f in missing)
            raise SpecError(f"{full_name}: `{kind}` is missing {needs}", at)
        with _located(at, full_name):
            try:
                return cls(**kwargs)
            except ValueError as exc:
                raise FieldError(str(exc)) from None

    def node(self, name: str, op: ops.Op, ins: tuple[Tensor, ...], at: Location) -> Tensor:
        in_shapes = tuple(t.shape for t in ins)
        try:
            shape = op.shape(in_shapes)
        except ShapeError as exc:
            raise ShapeError(f"{name}: {exc.message}", at, exc.hint) from None
        self.room(at)
        self.graph.add_layer(name, op, tuple(t.name for t in ins), in_shapes, shape, at)
        return Tensor(name, shape)

    def layer_count(self) -> int:
        """Layers expanded so far (what the limits count)."""
        return len(self.graph.nodes)

    def room(self, at: Location) -> None:
        """Refuse a layer beyond the graph's limit."""
        if self.layer_count() >= MAX_NODES:
            raise SpecError(f"the graph would have more than {MAX_NODES:,} layers: {_LIMIT}", at)

    # -- structures ------------------------------------------------------------------------
    def scope_for(self, scope: Scope, name: Any, at: Location, naming: str = "kind", **extra_vars) -> Scope:
        if name is None:
            return scope
        prefix = self.take_name(scope, name, "", at)
        variables = ChainMap(extra_vars, scope.vars) if extra_vars else scope.vars
        return Scope(prefix, variables, naming, scope.blocks)

    def parallel(self, args: LocDict, name: Any, path: str, at: Location, scope: Scope, x: Tensor) -> Tensor:
        unknown_keys(args, {"merge", "branches"}, self.spec.file, path, "parallel key")
        merge, merge_args = self.split(args.get("merge", "add"), self.at(args, "merge", f"{path}.merge"))
        if ops.REGISTRY.get(merge) is None or not _merges(ops.REGISTRY[merge]):
            merges = [k for k, c in ops.REGISTRY.items() if _merges(c)]
            raise SpecError(
                f"merge {merge!r} is not a merge op (one of {', '.join(merges)})", self.at(args, "merge", path)
            )
        branches = args.get("branches")
        if not isinstance(branches, LocList) or not branches:
            raise SpecError("`parallel` needs `branches`: a non-empty list", self.at(args, "branches", path))
        inner = self.scope_for(scope, name, at)
        outs = []
        for j, branch in enumerate(branches):
            b_path = f"{path}.branches[{j}]"
            b_at = self.at(branches, j, b_path)
            layers, b_name, when, otherwise, naming = self.branch(branch, b_path, b_at)
            if when is not None:
                try:
                    taken = to_bool(_value(when, self.evaluator(inner, x)))
                except (SpecError, FieldError) as exc:
                    raise _locate(exc, b_at) from None
                if not taken:
                    if otherwise is None:
                        continue
                    layers, b_name = otherwise, None
            b_scope = self.scope_for(inner, b_name, b_at, naming)
            outs.append(self.layers(layers, f"{b_path}.layers", b_scope, x, self.at_or(branch, "layers", b_path, b_at)))
        if not outs:
            raise SpecError("every branch of this `parallel` was left out by its `when`", at)
        if len(outs) == 1:
            return outs[0]
        merge_name = self.take_name(inner, None, merge, at)
        op = self.make_op(merge, merge_args, merge_name, f"{path}.merge", at, self.evaluator(inner, x))
        return self.node(merge_name, op, tuple(outs), at)

    def branch(self, branch: Any, path: str, at: Location) -> tuple[LocList, Any, Any, Any, str]:
        """(layers, name, when, else-layers, naming) of one branch."""
        if branch is None:
            return LocList(), None, None, None, "kind"
        if isinstance(branch, LocList):
            return branch, None, None, None, "kind"
        if isinstance(branch, LocDict):
            unknown_keys(branch, {"name", "when", "layers", "else", "naming"}, self.spec.file, path, "branch key")
            otherwise = branch.get("else")
            if "else" in branch and otherwise is None:
                otherwise = LocList()
            naming = _naming(branch, self.spec, path)
            return branch.get("layers") or LocList(), branch.get("name"), branch.get("when"), otherwise, naming
        raise SpecError("a branch is a list of layers or a mapping {name, when, layers, else, naming}", at)

    def stage(self, args: LocDict, name: Any, path: str, at: Location, scope: Scope, x: Tensor) -> Tensor:
        block = args.get("block")
        if not isinstance(block, str) or block not in self.spec.blocks:
            hint = ops.did_you_mean(block, self.spec.blocks) if isinstance(block, str) else None
            hint = hint or f"blocks: {', '.join(self.spec.blocks) or 'none'}"
            where = self.at(args, "block", f"{path}.block") if "block" in args else at
            raise SpecError(
                f"`stage` needs `block`: a block name of this spec, got {show_value(block)}", where, hint=hint
            )
        var = self.name_arg(args, "var", path, "index", "a variable name")
        n = self.count(args, path, scope, x, 1, at)
        first, rest = self.stage_args(args)
        # a named stage numbers its blocks 0..n-1 under its name (layer1.0, layer1.1); an
        # unnamed one names them in the enclosing scope (features.1, features.2, ...)
        inner = self.scope_for(scope, name, at, naming="index")
        call = StageCall(block, first, rest, args.get("names"), var, path, at, inner, args)
        return self.loop(n, at, x, lambda i, x: self.stage_block(call, i, x))

    def stage_args(self, args: LocDict) -> tuple[LocDict, LocDict]:
        """The arguments of a stage's block 0, and of its blocks 1..n-1 (no stride)."""
        first = _without(args, "block", "n", "var", "names")
        return first, _without(first, "stride")

    def stage_block(self, call: StageCall, i: int, x: Tensor) -> Tensor:
        """Block ``i`` of a stage, on ``x``."""
        these = call.first if i == 0 else call.rest
        child = self.stage_name(call, i)
        return self.block(call.block, these, child, f"{call.path}[{i}]", call.at, call.scope, x, {call.var: i})

    def stage_name(self, call: StageCall, i: int) -> str | None:
        """The name of block ``i`` by the stage's ``names`` template (None: numbered)."""
        if call.names is None:
            return None
        with _located(lambda: self.at(call.args, "names", f"{call.path}.names")):
            return _template(str(call.names), _evaluator(ChainMap({call.var: i}, call.scope.vars)))

    def repeat(self, args: LocDict, name: Any, path: str, at: Location, scope: Scope, x: Tensor) -> Tensor:
        unknown_keys(args, {"n", "layers", "var"}, self.spec.file, path, "repeat key")
        var = self.name_arg(args, "var", path, "index", "a variable name")
        n = self.count(args, path, scope, x, 0, at)
        inner = self.scope_for(scope, name, at)

        def one(i: int, x: Tensor) -> Tensor:
            body = Scope(inner.prefix, ChainMap({var: i}, inner.vars), inner.naming, inner.blocks)
            return self.layers(args.get("layers"), f"{path}.layers", body, x, self.at_or(args, "layers", path, at))

        return self.loop(n, at, x, one)

    def seq(self, args: LocDict, name: Any, path: str, at: Location, scope: Scope, x: Tensor) -> Tensor:
        unknown_keys(args, {"layers", "naming"}, self.spec.file, path, "seq key")
        naming = _naming(args, self.spec, path)
        inner = self.scope_for(scope, name, at, naming=naming)
        if inner is scope:
            inner = Scope(scope.prefix, scope.vars, naming, scope.blocks)
        return self.layers(args.get("layers"), f"{path}.layers", inner, x, self.at_or(args, "layers", path, at))

    def block(
        self,
        key: str,
        args: LocDict,
        name: Any,
        path: str,
        at: Location,
        scope: Scope,
        x: Tensor,
        extra: dict[str, Any],
    ) -> Tensor:
        values = self.block_values(key, args, path, at, scope, x, extra)
        return self.block_body(key, values, name, at, scope, x)

    def block_values(
        self, key: str, args: LocDict, path: str, at: Location, scope: Scope, x: Tensor, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A block call's arguments, evaluated (given ones in the caller's scope, defaults in
        the block's), with ``extra`` (a stage's index variable)."""
        return self.block_defaults(key, self.given_values(key, args, path, scope, x, extra), at, x)

    def given_values(
        self, key: str, args: LocDict, path: str, scope: Scope, x: Tensor, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """``extra`` and the arguments a block call gives, evaluated in the caller's scope."""
        bdef = self.spec.blocks[key]
        if key in scope.blocks:
            cycle = " -> ".join([*scope.blocks[scope.blocks.index(key) :], key])
            raise SpecError(f"template cycle: {cycle}", bdef.location)
        caller = self.caller(scope, x, extra)
        values: dict[str, Any] = dict(extra)
        for arg, raw in args.items():
            if arg not in bdef.args:
                hint = ops.did_you_mean(arg, bdef.args) or f"`{key}` takes: {', '.join(bdef.args) or 'nothing'}"
                raise SpecError(
                    f"unknown argument {arg!r} for block `{key}`", self.at(args, arg, f"{path}.{arg}"), hint=hint
                )
            try:
                values[arg] = _value(raw, caller)
            except (SpecError, FieldError) as exc:
                raise _locate(exc, self.at(args, arg, f"{path}.{arg}")) from None
        return values

    def caller(self, scope: Scope, x: Tensor, extra: dict[str, Any]):
        """The evaluator of a block call's given arguments: the caller's scope and ``extra``."""
        return self.evaluator(Scope(scope.prefix, ChainMap(extra, scope.vars)), x)

    def block_defaults(self, key: str, values: dict[str, Any], at: Location, x: Tensor) -> dict[str, Any]:
        """``values`` with the block's defaults for the arguments not given (each may read the
        incoming shape, the arguments before it and the spec's variables)."""
        bdef = self.spec.blocks[key]
        incoming = shape_vars(x.shape)
        env: dict[str, Any] | None = None  # the incoming shape over the arguments over the spec's variables
        for arg, default in bdef.args.items():
            if arg in values:
                continue
            if default == REQUIRED:
                raise SpecError(f"block `{key}` needs argument `{arg}`", at)
            if env is None:
                env = {**self.graph.vars, **values, **incoming}
            try:
                values[arg] = _value(default, _evaluator(env))
            except (SpecError, FieldError) as exc:
                raise _locate(exc, self.at(bdef.args, arg, f"blocks.{key}.args.{arg}")) from None
            if arg not in incoming:
                env[arg] = values[arg]
        return values

    def block_body(self, key: str, values: dict[str, Any], name: Any, at: Location, scope: Scope, x: Tensor) -> Tensor:
        """The block's layers, named under the block's name in ``scope``, on ``x``."""
        bdef = self.spec.blocks[key]
        prefix = self.take_name(scope, name, key, at)
        inner = Scope(prefix, ChainMap(values, self.graph.vars), bdef.naming, (*scope.blocks, key))
        try:
            return self.layers(bdef.layers, f"blocks.{key}.layers", inner, x)
        except SpecError as exc:  # the innermost block says where it was used (its arguments)
            if exc.hint is None and exc.location is not None and exc.location.path.startswith("blocks."):
                exc.hint = f"in block `{key}` used at {at}"
            raise


def _merges(cls: type[ops.Op]) -> bool:
    """Whether an op can join branches (it takes two inputs or more)."""
    return cls.arity[1] is None or cls.arity[1] >= 2


_FIELD = re.compile(r"\{([^{}]+)\}")


def _template(text: str, evaluate) -> str:
    """``"block{s + 1}-{index}"`` -> ``"block2-0"``: each ``{expression}`` evaluated."""
    return _FIELD.sub(lambda m: str(evaluate(m.group(1))), text)


def _naming(args: LocDict, spec: Spec, path: str) -> str:
    naming = args.get("naming", "kind")
    if naming not in ("kind", "index"):
        raise SpecError(f"`naming` is 'kind' or 'index', got {naming!r}", spec.where(args, "naming", f"{path}.naming"))
    return naming


def _empty(at: Location) -> LocDict:
    """No arguments, marked at the item, so that whatever is missing is located there."""
    out = LocDict()
    out.mark, out.source = ((at.line, at.col) if at.line is not None else None), at.file
    return out


def _without(args: LocDict, *keys: str) -> LocDict:
    out = LocDict((k, v) for k, v in args.items() if k not in keys)
    out.mark, out.marks, out.key_marks = args.mark, args.marks, args.key_marks
    out.source, out.key_sources = args.source, args.key_sources
    return out

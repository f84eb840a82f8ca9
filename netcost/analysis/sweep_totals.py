"""The totals of ``analyze`` without building the graph: the path a sweep takes.

A spec's structures are sealed: a block call reads only the tensor it is given and only
its output is read after it (expansion has no references across layers). So a block call
is summarised once per (block, arguments, input shape, the spec variables it reads) and
the summary reused wherever the same call recurs, in one model (a stage repeating the
same block on the same shape) and across the models of a sweep:

- parameters, MACs, FLOPs, elementwise work and activation bytes add up;
- the largest inputs + output of one op is a maximum;
- the liveness peak: while a sealed run executes, the storages alive from outside are
  constant except its input's, which dies inside it or lives on. The summary keeps the
  run's own peak both ways (input alive throughout, or only until its last use inside);
  the enclosing pass adds what is alive around the run, exactly as the per-layer pass of
  :mod:`netcost.analysis.memory` counts it step by step.

Rows equal :func:`netcost.analysis.analyze_graph`'s totals (tests/sweep/test_rows.py);
the receptive field and the per-counter gaps, which are not costs, are left out.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netcost.analysis.sweep_keys import MISSING, bindable_names, block_reads, free_names, frozen, lookup, names_in
from netcost.core.conventions import Convention
from netcost.core.shape import Shape
from netcost.graph import INPUT, Node
from netcost.options import DTYPE_BYTES
from netcost.spec import expr
from netcost.spec.expand import (
    Scope,
    Tensor,
    _evaluator,
    _Expander,
    _input_shape,
    _variables,
    shape_vars,
)
from netcost.spec.load import LocDict, LocList
from netcost.spec.schema import Spec

# the scalar totals of analyze, in its order (netcost.analysis.counts)
TOTAL_KEYS = (
    "params",
    "buffers",
    "param_bytes",
    "macs",
    "flops",
    "elementwise_flops",
    "attention_macs",
    "mha_projection_macs",
    "activation_bytes",
    "peak_activation_bytes",
    "max_op_io_bytes",
)
_SUMS = ("params", "buffers", "macs", "elementwise_flops", "flops", "attention_macs", "mha_projection_macs")
_ZERO = (0,) * (len(_SUMS) + 1)  # + activation elements


@dataclass(frozen=True)
class Summary:
    """What the totals need of one sealed run of layers (sizes in elements)."""

    sums: tuple[int, ...]  # _SUMS, then the activation elements of every layer output
    max_io: int
    peak_lives: int  # the run's peak with its input alive throughout (read again later)
    peak_dies: int  # ... with its input freed after its last use inside the run
    shape: Shape  # of the output
    out_alias: bool  # the output shares the input's storage (a run of views)
    out_storage: int  # elements of the output's storage


@dataclass
class Step:
    """One layer, or one summarised run, of a recording."""

    name: str
    inputs: tuple[str, ...]
    size: int  # elements of the output
    alias: bool  # the output shares its (first) input's storage
    storage: int  # elements of the output's storage when it owns one
    sums: tuple[int, ...]
    summary: Summary | None = None


@dataclass
class Recording:
    """The stand-in for a Graph while a sweep expands a spec: steps, not nodes."""

    vars: dict[str, Any]
    engine: TotalsEngine
    nodes: list[Step] = field(default_factory=list)
    storage: dict[str, int] = field(default_factory=dict)  # tensor -> elements of its storage
    output: str = INPUT

    def add(self, node: Node) -> None:
        size = node.shape.numel
        view = node.op.is_view
        storage = self.storage_of(node.inputs[0]) if view else size
        sums = (*self.engine.cost(node), size)
        self.append(Step(node.name, node.inputs, size, view, storage, sums))

    def append(self, step: Step) -> None:
        self.nodes.append(step)
        self.storage[step.name] = step.storage
        self.output = step.name

    def storage_of(self, name: str) -> int:
        return self.storage[name]


def run_pass(steps: list[Step], entry: str, entry_size: int, entry_storage: int, exit: str, keep_entry: bool):
    """(sums, max io, peak) of ``steps`` on the tensor ``entry``; ``exit`` is read after them,
    ``entry`` too where ``keep_entry``. The liveness rule is netcost.analysis.memory's."""
    size = {entry: entry_size}
    owner = {entry: entry}
    owner_size = {entry: entry_storage}
    born = {entry: -1}
    last = {entry: -1}
    sums = list(_ZERO)
    io = 0
    for j, step in enumerate(steps):
        size[step.name] = step.size
        if step.alias:
            owner[step.name] = owner[step.inputs[0]]
        else:
            owner[step.name] = step.name
            owner_size[step.name] = step.storage
            born[step.name] = j
        last[step.name] = j
        for name in step.inputs:
            last[name] = j
        sums = [a + b for a, b in zip(sums, step.sums, strict=True)]
        if step.summary is not None:
            io = max(io, step.summary.max_io)
        elif not step.alias:
            io = max(io, sum(size[i] for i in step.inputs) + step.size)
    n = len(steps)
    last[exit] = n
    if keep_entry:
        last[entry] = n
    end: dict[str, int] = {}
    for tensor, at in last.items():
        o = owner[tensor]
        end[o] = max(end.get(o, -1), at)
    change = [0] * (n + 2)
    for o, b in born.items():
        change[b + 1] += owner_size[o]
        if end[o] + 2 <= n + 1:
            change[end[o] + 2] -= owner_size[o]
    live, peak = change[0], 0
    for j, step in enumerate(steps):
        live += change[j + 1]
        here = live
        s = step.summary
        if s is not None:  # the run's own steps: what is alive around it, plus its own peak
            source = owner[step.inputs[0]]
            inner = s.peak_lives if end[source] > j else s.peak_dies
            here = live - owner_size[source] - (0 if s.out_alias else step.storage) + inner
        peak = max(peak, here)
    return tuple(sums), io, peak, owner


class TotalsEngine:
    """Totals of one spec at one batch, dtype and convention, over many variable settings;
    costs and block summaries are kept between them."""

    def __init__(self, spec: Spec, batch: int = 1, dtype: str = "fp32", convention: Convention = Convention.NETCOST):
        self.spec, self.batch, self.dtype, self.convention = spec, batch, dtype, convention
        self.unit = DTYPE_BYTES[dtype] * batch
        self.costs: dict[Any, tuple[int, ...]] = {}
        self.summaries: dict[Any, Summary | None] = {}
        self.values: dict[Any, Any] = {}  # (expression, the values it reads) -> its scalar value
        self.used: dict[Any, tuple[str, ...]] = {}  # (block, its raw arguments) -> the names they may read
        self.arguments: dict[Any, dict[str, Any]] = {}  # a block call's evaluated arguments (cached_values)
        self.reads = {name: block_reads(spec, name) for name in spec.blocks}
        self.bindable = bindable_names(spec)  # every name a scope may hold

    def argument_reads(self, key: str, raw: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the names a block call's written arguments may read in the caller's scope, the
        spec variables its defaults may read): every word of their text that names something."""
        bdef = self.spec.blocks[key]
        given = set().union(*(names_in(v) for _, v in raw)) & self.bindable
        defaults = set().union(*(names_in(v) for v in bdef.args.values())) - set(bdef.args)
        return tuple(sorted(given)), tuple(sorted(defaults & (set(self.spec.vars) | set(self.spec.let))))

    def cost(self, node: Node) -> tuple[int, ...]:
        try:
            key = (node.op, node.in_shapes)
            hit = self.costs.get(key)
        except TypeError:  # an op with an unhashable field
            key, hit = None, None
        if hit is None:
            c = node.op.cost(node.in_shapes, node.shape).scaled(self.batch)
            hit = (c.params, c.buffers, c.macs, c.elementwise, self.convention.flops(c), c.attention, c.mha_projections)
            if key is not None:
                self.costs[key] = hit
        return hit

    def totals(
        self,
        overrides: Mapping[str, Any] | None = None,
        input_shape: tuple[int, ...] | None = None,
        variables: dict[str, Any] | None = None,
    ) -> dict[str, int]:
        """analyze's scalar totals for these ``--set`` overrides and input (``variables``: the
        spec's variables for these overrides, when already evaluated)."""
        spec = self.spec
        if variables is None:
            variables = _variables(spec, dict(overrides or {}))
        shape = _input_shape(spec, variables, input_shape)
        rec = Recording(variables, self)
        rec.storage[INPUT] = shape.numel
        _MemoExpander(spec, rec, self).layers(spec.layers, "layers", Scope("", variables), Tensor(INPUT, shape))
        if not rec.nodes:
            from netcost.spec.expand import expand

            expand(spec, overrides, input_shape)  # raises the spec's own error
        sums, io, peak, _ = run_pass(rec.nodes, INPUT, shape.numel, shape.numel, rec.output, False)
        params, buffers, macs, elementwise, flops, attention, projections, acts = sums
        return {
            "params": params,
            "buffers": buffers,
            "param_bytes": params * DTYPE_BYTES[self.dtype],
            "macs": macs,
            "flops": flops,
            "elementwise_flops": elementwise,
            "attention_macs": attention,
            "mha_projection_macs": projections,
            "activation_bytes": acts * self.unit,
            "peak_activation_bytes": peak * self.unit,
            "max_op_io_bytes": io * self.unit,
        }


class _MemoExpander(_Expander):
    """The spec's expander, recording steps, with each block call summarised once."""

    def __init__(self, spec: Spec, recording: Recording, engine: TotalsEngine):
        super().__init__(spec, recording)  # type: ignore[arg-type]: a Recording stands in for the Graph
        self.engine = engine

    def block(self, key, args, name, path, at, scope, x, extra):
        values = self.cached_values(key, args, path, at, scope, x, extra)
        rec: Recording = self.graph  # type: ignore[assignment]
        reads = self.engine.reads[key]
        visible = {**rec.vars, **values}
        try:
            read = tuple((n, frozen(visible[n])) for n in reads if n in visible)
            ident = (key, x.shape, rec.storage_of(x.name), read)
            summary = self.engine.summaries.get(ident, False)
        except TypeError:
            ident, summary = None, False
        if summary is False:
            sub = Recording(rec.vars, self.engine, storage={x.name: rec.storage_of(x.name)})
            self.graph = sub
            try:
                y = self.block_body(key, values, name, at, scope, x)
            finally:
                self.graph = rec
            summary = _summarise(sub, x, rec.storage_of(x.name), y)
            if ident is not None:
                self.engine.summaries[ident] = summary
        else:
            self.names.take(scope, name, key)  # the name, as the expansion takes it
        if summary is None:  # the block added nothing
            return x
        out = f"{scope.path(str(name) if name is not None else key)}\0{len(rec.nodes)}"
        storage = rec.storage_of(x.name) if summary.out_alias else summary.out_storage
        rec.append(Step(out, (x.name,), summary.shape.numel, summary.out_alias, storage, summary.sums, summary))
        return Tensor(out, summary.shape)

    def evaluator(self, scope: Scope, x: Tensor):
        """The expander's evaluator, remembering each expression's scalar value by the values
        of the names it reads (an expression is a pure function of them)."""
        env = ChainMap(shape_vars(x.shape), scope.vars)
        slow = _evaluator(env)
        memo = self.engine.values

        def evaluate(text: str) -> Any:
            try:
                key = (text, *(frozen(lookup(env, n)) for n in free_names(text)))
                hit = memo.get(key, MISSING)
            except (TypeError, expr.ExprError):
                return slow(text)
            if hit is MISSING:
                hit = slow(text)
                if hit is None or isinstance(hit, (bool, int, float, str)):
                    memo[key] = hit
            return hit

        return evaluate

    def cached_values(self, key, args, path, at, scope, x, extra) -> dict[str, Any]:
        """The evaluated arguments of a block call, remembered by what they are computed from:
        the arguments as written, the input shape, and the values of every name they and the
        block's defaults may read (in the caller's scope and among the spec's variables)."""
        try:
            raw = tuple((k, v) for k, v in args.items() if not isinstance(v, (LocDict, LocList)))
            if len(raw) != len(args):
                raise TypeError
            names = self.engine.used.get((key, raw))
            if names is None:
                names = self.engine.used[key, raw] = self.engine.argument_reads(key, raw)
            given, defaults = names
            caller = ChainMap(extra, scope.vars)
            here = tuple(frozen(caller.get(n, MISSING)) for n in given)
            spec_vars = tuple(frozen(self.graph.vars.get(n, MISSING)) for n in defaults)
            ident = (key, raw, x.shape, here, spec_vars)
            hit = self.engine.arguments.get(ident)
        except TypeError:
            return self.block_values(key, args, path, at, scope, x, extra)
        if hit is not None:
            return {**hit, **extra}
        values = self.block_values(key, args, path, at, scope, x, extra)
        self.engine.arguments[ident] = values
        return dict(values)


def _summarise(sub: Recording, x: Tensor, x_storage: int, y: Tensor) -> Summary | None:
    if not sub.nodes:
        return None
    size = x.shape.numel
    sums, io, lives, owner = run_pass(sub.nodes, x.name, size, x_storage, y.name, True)
    _, _, dies, _ = run_pass(sub.nodes, x.name, size, x_storage, y.name, False)
    alias = owner[y.name] == x.name
    out_storage = x_storage if alias else sub.storage_of(owner[y.name])
    return Summary(sums, io, lives, dies, y.shape, alias, out_storage)

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

import keyword
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netcost.analysis.sweep_keys import (
    MISSING,
    block_reads,
    free_names,
    frozen,
    words_in,
)
from netcost.core.conventions import Convention
from netcost.core.shape import Shape
from netcost.errors import Location, SpecError
from netcost.graph import INPUT
from netcost.memo import by_identity
from netcost.options import DTYPE_BYTES
from netcost.spec import expr
from netcost.spec.expand import (
    _FIELD,
    MAX_NODES,
    SHAPE_VARS,
    Scope,
    StageCall,
    Tensor,
    _evaluator,
    _Expander,
    _input_shape,
    _variables,
    shape_vars,
)
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
PLACES = 100_000  # remembered locations at most
_KEYWORDS = frozenset(keyword.kwlist)  # words that are not names (True, None, and, ...)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the totals need of one sealed run of layers (sizes in elements)."""

    sums: tuple[int, ...]  # _SUMS, then the activation elements of every layer output
    max_io: int
    peak_lives: int  # the run's peak with its input alive throughout (read again later)
    peak_dies: int  # ... with its input freed after its last use inside the run
    shape: Shape  # of the output
    out_alias: bool  # the output shares the input's storage (a run of views)
    out_storage: int  # elements of the output's storage
    layers: int = 0  # the layers it stands for, and the stage/repeat iterations it ran (the limits)
    iterations: int = 0


@dataclass(slots=True)
class Step:
    """One layer, or one summarised run, of a recording."""

    name: str
    inputs: tuple[str, ...]
    size: int  # elements of the output
    alias: bool  # the output shares its (first) input's storage
    storage: int  # elements of the output's storage when it owns one
    sums: tuple[int, ...]
    summary: Summary | None = None
    io: int = 0  # its inputs + output (a layer's that is no view), or the largest of its run's layers


@dataclass
class Recording:
    """The stand-in for a Graph while a sweep expands a spec: steps, not nodes."""

    vars: dict[str, Any]
    engine: TotalsEngine
    nodes: list[Step] = field(default_factory=list)
    storage: dict[str, int] = field(default_factory=dict)  # tensor -> elements of its storage
    output: str = INPUT

    def add_layer(self, name, op, inputs, in_shapes, shape, at) -> None:
        size = shape.numel
        view = op.is_view
        storage = self.storage_of(inputs[0]) if view else size
        sums = (*self.engine.cost(op, in_shapes, shape), size)
        io = 0 if view else sum(s.numel for s in in_shapes) + size
        self.append(Step(name, inputs, size, view, storage, sums, io=io))

    def append(self, step: Step) -> None:
        self.nodes.append(step)
        self.storage[step.name] = step.storage
        self.output = step.name

    def storage_of(self, name: str) -> int:
        return self.storage[name]


def run_pass(steps: list[Step], entry: str, entry_storage: int, exit: str, keeps: tuple[bool, ...]):
    """(sums, max io, peaks, owners) of ``steps`` on the tensor ``entry``; ``exit`` is read
    after them, and ``entry`` too for each true one of ``keeps`` (a peak for each). The
    liveness rule is netcost.analysis.memory's."""
    owner = {entry: entry}
    owner_size = {entry: entry_storage}
    born = {entry: -1}
    end = {entry: -1}  # each storage's last use (steps run in order: the latest use is the last)
    for j, step in enumerate(steps):
        for tensor in step.inputs:
            end[owner[tensor]] = j
        name = step.name
        if step.alias:
            owner[name] = o = owner[step.inputs[0]]
        else:
            owner[name] = o = name
            owner_size[name] = step.storage
            born[name] = j
        end[o] = j
    sums = tuple(map(sum, zip(*[step.sums for step in steps], strict=True))) if steps else _ZERO
    io = max([step.io for step in steps], default=0)
    n = len(steps)
    end[owner[exit]] = n
    peaks = []
    for keep in keeps:
        if keep:
            end = {**end, entry: n}
        peaks.append(_peak(steps, owner, owner_size, born, end))
    return sums, io, tuple(peaks), owner


def _peak(steps: list[Step], owner: dict, owner_size: dict, born: dict, end: dict) -> int:
    n = len(steps)
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
    return peak


class TotalsEngine:
    """Totals of one spec at one batch, dtype and convention, over many variable settings;
    costs and block summaries are kept between them."""

    def __init__(self, spec: Spec, batch: int = 1, dtype: str = "fp32", convention: Convention = Convention.NETCOST):
        self.spec, self.batch, self.dtype, self.convention = spec, batch, dtype, convention
        self.unit = DTYPE_BYTES[dtype] * batch
        self.costs: dict[Any, tuple[int, ...]] = {}
        self.values: dict[Any, Any] = {}  # (expression, the values it reads) -> its scalar value
        # a block call's key -> (its evaluated arguments, its summaries by the storage of its input)
        self.arguments: dict[Any, tuple[dict[str, Any], dict[int, Summary | None]]] = {}
        self.reads = {name: block_reads(spec, name) for name in spec.blocks}
        self.read_sets = {name: frozenset(names) for name, names in self.reads.items()}
        self.ops: dict[Any, tuple[Shape, bool, tuple[int, ...]]] = {}  # an op layer -> (shape, is a view, sums)
        self.op_words: dict[Any, tuple[tuple[str, ...], bool, Any]] = {}  # (kind, id(an op's arguments in the
        # spec)) -> (the names they may read, whether one is the input's shape, the arguments)
        self.made: dict[Any, Any] = {}  # an op layer's arguments and the values they read -> its op
        self.places: dict[Any, tuple[Any, Location]] = {}  # (id(a list of the spec), index, path) -> (it, where)
        self.parsed: dict[Any, tuple[Any, tuple]] = {}  # (id(a layer item), path) -> (it, its parts)
        self.stage_args: dict[int, tuple[Any, tuple]] = {}  # id(a stage's arguments) -> (them, its blocks')
        self.templates: dict[Any, str] = {}  # (a stage's names template, the values it reads) -> the name
        self._spec_reads: dict[Any, tuple[str, ...]] = {}
        self._shape_vars: dict[int, tuple[Shape, dict[str, int]]] = {}
        self._input_reads = tuple(sorted(words_in(list(spec.input))))
        self._inputs: dict[Any, Shape] = {}
        self._template_reads: dict[str, tuple[str, ...] | None] = {}
        self._index_unread: dict[Any, bool] = {}

    def input_shape(self, variables: dict[str, Any], override: tuple[int, ...] | None) -> Shape:
        """The model's input shape, remembered by ``override`` and the values of the names the
        spec's ``input`` reads."""
        try:
            key = (override, tuple([frozen(variables.get(n, MISSING)) for n in self._input_reads]))
            hit = self._inputs.get(key)
        except TypeError:
            return _input_shape(self.spec, variables, override)
        if hit is None:
            hit = self._inputs[key] = _input_shape(self.spec, variables, override)
        return hit

    def shape_vars(self, shape: Shape) -> dict[str, int]:
        """``shape_vars(shape)`` (never written to), remembered per shape object: a Shape's hash
        is a Python call, an id's is not (a bounded memo; its entries keep their shapes)."""
        hit = self._shape_vars.get(id(shape))  # by_identity, inline: the hottest lookups (a call costs about 1%)
        if hit is None or hit[0] is not shape:
            if len(self._shape_vars) > PLACES:
                self._shape_vars.clear()
            hit = self._shape_vars[id(shape)] = (shape, shape_vars(shape))
        return hit[1]

    def spec_reads(self, key: str, bound: tuple[str, ...]) -> tuple[str, ...]:
        """The spec variables a block's arguments and layers may read (not those its arguments
        or the ``bound`` names, a stage's index variable, hide)."""
        hit = self._spec_reads.get((key, bound))
        if hit is None:
            hidden = {*self.spec.blocks[key].args, *bound}
            variables = {*self.spec.vars, *self.spec.let}
            hit = tuple(n for n in self.reads[key] if n in variables and n not in hidden)
            self._spec_reads[key, bound] = hit
        return hit

    def template_reads(self, text: str) -> tuple[str, ...] | None:
        """The names a ``{expression}`` template reads (None where one does not parse)."""
        if text not in self._template_reads:
            try:
                names = set().union(*(expr.names_used(f) for f in _FIELD.findall(text)))
                self._template_reads[text] = tuple(sorted(names))
            except expr.ExprError:
                self._template_reads[text] = None
        return self._template_reads[text]

    def index_unread(self, call: StageCall) -> bool:
        """Whether a stage's block calls 1, 2, ... never read its index variable: neither the
        arguments written in the stage nor the block (its defaults and layers)."""
        try:
            key = (call.block, call.var, tuple(call.rest.items()))
            hit = self._index_unread.get(key)
        except TypeError:
            key, hit = None, None
        if hit is None:
            hit = call.var not in self.read_sets[call.block] and call.var not in words_in(dict(call.rest))
            if key is not None:
                self._index_unread[key] = hit
        return hit

    def cost(self, op, in_shapes: tuple[Shape, ...], shape: Shape) -> tuple[int, ...]:
        try:
            key = (op, in_shapes)
            hit = self.costs.get(key)
        except TypeError:  # an op with an unhashable field
            key, hit = None, None
        if hit is None:
            c = op.cost(in_shapes, shape)
            if self.batch != 1:
                c = c.scaled(self.batch)
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
        shape = self.input_shape(variables, input_shape)
        rec = Recording(variables, self)
        rec.storage[INPUT] = shape.numel
        try:
            _MemoExpander(spec, rec, self).layers(spec.layers, "layers", Scope("", variables), Tensor(INPUT, shape))
        except _OverLimit:
            rec.nodes.clear()
        if not rec.nodes:  # no layers, or past the limits: the spec's own expansion raises its error
            from netcost.spec.expand import expand

            expand(spec, overrides, input_shape)
            raise SpecError(
                f"the expansion goes past {MAX_NODES:,} layers or iterations", spec.where(spec.raw, "layers", "layers")
            )
        sums, io, (peak,), _ = run_pass(rec.nodes, INPUT, shape.numel, rec.output, (False,))
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
        self.frozen: dict[int, tuple[Any, Any]] = {}  # id(value) -> (value, frozen(value)), this model's
        self.repeats: dict[StageCall, _Repeat] = {}  # a stage's blocks 1, 2, ... that are one summary
        self.name_keys: dict[StageCall, Any] = {}  # a stage's names template and the values it reads
        self.flats: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}  # id(scope vars) -> (them, flat)
        self.op_key: Any = None  # the op layer being made (make_op)
        self.local: dict[Any, Any] = {}  # values of expressions that read this model's lists (remembering)
        self.kept: list[Any] = []  # ... and those lists
        self.expanded = 0  # layers expanded so far, each summary's own included (the limits count them)

    def layer_count(self) -> int:
        return self.expanded

    def room(self, at):
        super().room(at)
        self.expanded += 1

    def reused(self, summary: Summary) -> None:
        """Count a reused summary's layers and iterations as its expansion counted them; past
        the limits, the spec's own expansion says which (:meth:`TotalsEngine.totals`)."""
        self.expanded += summary.layers
        self.iterations += summary.iterations
        if self.expanded > MAX_NODES or self.iterations > MAX_NODES:
            raise _OverLimit

    def at(self, container, key, path):
        """Where ``container[key]`` is: the same places of the spec are asked again and again
        (a bounded memo: its entries keep their containers)."""
        places = self.engine.places  # by_identity, inline (as shape_vars)
        try:
            hit = places.get((id(container), key, path))
        except TypeError:  # an unhashable key
            return super().at(container, key, path)
        if hit is None or hit[0] is not container:
            if len(places) > PLACES:
                places.clear()
            hit = places[id(container), key, path] = (container, super().at(container, key, path))
        return hit[1]

    def parse(self, item, path, at):
        """The parts of a layer item, once per item of the spec (the arguments are never written to)."""
        parsed = self.engine.parsed  # by_identity, inline (as shape_vars)
        hit = parsed.get((id(item), path))
        if hit is None or hit[0] is not item:
            hit = parsed[id(item), path] = (item, super().parse(item, path, at))
        return hit[1]

    def stage_args(self, args):
        """A stage's block arguments, once per stage of the spec (its parsed item's arguments)."""
        return by_identity(self.engine.stage_args, id(args), args, super().stage_args, args)

    def freeze(self, value: Any) -> Any:
        """``frozen(value)``, once per list or mapping of this model (the same list is read
        by many block calls: the spec's `let` lists)."""
        kind = type(value)
        if kind is int or kind is str:
            return value  # as frozen() has it
        if kind is float:
            return ("float", value)
        if isinstance(value, (list, dict)):
            return by_identity(self.frozen, id(value), value, frozen, value)
        return frozen(value)

    def flat(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """A scope's variables as one dict (scopes nest ChainMaps; a lookup through them is
        slow): made once per scope of this model."""
        if type(variables) is dict:
            return variables
        hit = self.flats.get(id(variables))  # by_identity, inline (as shape_vars)
        if hit is None or hit[0] is not variables:
            out: dict[str, Any] = {}
            if isinstance(variables, ChainMap):
                for part in reversed(variables.maps):
                    out.update(self.flat(part))
            else:
                out.update(variables)
            hit = self.flats[id(variables)] = (variables, out)
        return hit[1]

    def block(self, key, args, name, path, at, scope, x, extra):
        rec: Recording = self.graph  # type: ignore[assignment]
        storage = rec.storage_of(x.name)
        values, known = self.cached_values(key, args, path, at, scope, x, extra)
        summary: Summary | bool | None = False
        if known is not None:  # the values, and so the body, are a function of the call's key
            summary = known.get(storage, False)
        if summary is False:
            sub = Recording(rec.vars, self.engine, storage={x.name: storage})
            self.graph = sub
            layers, iterations = self.expanded, self.iterations
            try:
                y = self.block_body(key, values, name, at, scope, x)
            finally:
                self.graph = rec
            summary = _summarise(sub, x, storage, y, self.expanded - layers, self.iterations - iterations)
            if known is not None:
                known[storage] = summary
        else:
            self.take_name(scope, name, key, at)  # the name, as block_body takes it
            if summary is not None:
                self.reused(summary)
        if summary is None:  # the block added nothing
            return x
        out = f"{scope.path(str(name) if name is not None else key)}\0{len(rec.nodes)}"
        out_storage = storage if summary.out_alias else summary.out_storage
        numel, alias = summary.shape.numel, summary.out_alias
        rec.append(Step(out, (x.name,), numel, alias, out_storage, summary.sums, summary, summary.max_io))
        return Tensor(out, summary.shape)

    def op(self, kind, args, name, path, at, scope, x):
        """An op layer; its output shape and costs remembered by its arguments as written, the
        input shape and the values of the names they read."""
        engine, rec = self.engine, self.graph
        try:
            words = engine.op_words.get((kind, id(args)))
            if words is None:  # (the entry keeps the spec's arguments, and so their id, alive)
                names = words_in(dict(args))
                words = (tuple(sorted(names)), bool(names & set(SHAPE_VARS)), args)
                engine.op_words[kind, id(args)] = words
            env = self.flat(scope.vars)
            read = [env.get(n, MISSING) for n in words[0]]
            if any(isinstance(v, (list, dict)) for v in read):
                raise TypeError  # a model's own lists: remembering them is no use
            values = tuple([self.freeze(v) for v in read])
            key = (kind, id(args), x.shape, values)
            hit = engine.ops.get(key)
        except TypeError:
            return super().op(kind, args, name, path, at, scope, x)
        if hit is None:
            before = len(rec.nodes)
            self.op_key = (kind, id(args), x.shape if words[1] else None, values)  # for make_op
            try:
                y = super().op(kind, args, name, path, at, scope, x)
            finally:
                self.op_key = None
            if len(rec.nodes) == before + 1:
                step = rec.nodes[-1]
                engine.ops[key] = (y.shape, step.alias, step.sums)
            return y
        shape, alias, sums = hit
        full_name = self.take_name(scope, name, kind, at)
        self.room(at)
        size = sums[-1]
        storage, io = (rec.storage_of(x.name), 0) if alias else (size, x.shape.numel + size)
        rec.append(Step(full_name, (x.name,), size, alias, storage, sums, io=io))
        return Tensor(full_name, shape)

    def make_op(self, kind, args, full_name, path, at, evaluate):
        """The op of an op layer, remembered by what :meth:`op` found its arguments read (the
        input shape only where they read it): the same op recurs on other inputs."""
        key, self.op_key = self.op_key, None
        if key is None:
            return super().make_op(kind, args, full_name, path, at, evaluate)
        made = self.engine.made.get(key)
        if made is None:
            made = self.engine.made[key] = super().make_op(kind, args, full_name, path, at, evaluate)
        return made

    def stage_block(self, call: StageCall, i: int, x: Tensor) -> Tensor:
        """Block ``i`` of a stage. Blocks 1, 2, ... are called with the same arguments; where
        the block does not read the index variable and the input is the same (shape and
        storage) as block 1's, each is block 1's summary again: only its name is taken."""
        rec: Recording = self.graph  # type: ignore[assignment]
        repeat = self.repeats.get(call) if i >= 2 else None
        if repeat is not None and repeat.follows(rec, x):
            name = self.take_name(call.scope, self.stage_name(call, i), call.block, call.at)
            self.reused(repeat.step.summary)
            return repeat.extend(rec, name)
        before = len(rec.nodes)
        y = super().stage_block(call, i, x)
        if i == 1 and len(rec.nodes) == before + 1 and self.engine.index_unread(call):
            step = rec.nodes[-1]
            if step.summary is not None and step.inputs == (x.name,):
                self.repeats[call] = _Repeat(step, x, rec.storage_of(x.name))
        return y

    def stage_name(self, call: StageCall, i: int) -> str | None:
        """The template's name for block ``i``, remembered by the values of the names it
        reads: all but the index are the stage's, looked up once per stage."""
        if call.names is None:
            return None
        known = self.name_keys.get(call)
        if known is None:
            known = self.name_keys[call] = self._name_key(call)
        if known is False:
            return super().stage_name(call, i)
        text, reads_index, values = known
        key = (text, values, i if reads_index else None)
        hit = self.engine.templates.get(key)
        if hit is None:
            hit = self.engine.templates[key] = super().stage_name(call, i)
        return hit

    def _name_key(self, call: StageCall):
        """(template, whether it reads the index, the values of the other names it reads),
        or False where they cannot be a key."""
        text = str(call.names)
        reads = self.engine.template_reads(text)
        if reads is None:
            return False
        env = self.flat(call.scope.vars)
        try:
            values = tuple(self.freeze(env.get(n, MISSING)) for n in reads if n != call.var)
            hash(values)
        except TypeError:
            return False
        return text, call.var in reads, values

    def evaluator(self, scope: Scope, x: Tensor):
        """The expander's evaluator, remembering values (:class:`_Remembering`)."""
        return _Remembering(self, {**self.flat(scope.vars), **self.engine.shape_vars(x.shape)})

    def caller(self, scope: Scope, x: Tensor, extra: dict[str, Any]):
        return _Remembering(self, {**self.flat(scope.vars), **extra, **self.engine.shape_vars(x.shape)})

    def cached_values(self, key, args, path, at, scope, x, extra) -> tuple[dict[str, Any], dict | None]:
        """The evaluated arguments of a block call, its defaults remembered by what they are
        computed from: the input shape, and the values of the given arguments, the index
        variable and the spec's variables that the block may read. Returns (values, the
        summaries of calls with that key by their input's storage; None where no key can be
        made); the values are shared between calls, never written to."""
        engine = self.engine
        given = self.given_values(key, args, path, scope, x, extra)
        freeze, reads = self.freeze, engine.read_sets[key]
        try:
            here = tuple([(n, freeze(v)) for n, v in given.items() if n in reads])
            spec_vars = tuple([freeze(self.graph.vars[n]) for n in engine.spec_reads(key, tuple(extra))])
            ident = (key, x.shape, here, spec_vars)
            hit = engine.arguments.get(ident)
        except TypeError:
            return self.block_defaults(key, given, at, x), None
        if hit is None:
            hit = engine.arguments[ident] = (self.block_defaults(key, given, at, x), {})
        return hit


class _Remembering:
    """An evaluator over ``env`` that remembers each expression's scalar value by the values
    of the names it reads (an expression is a pure function of them): in the engine, across
    models; where it reads the model's own lists (`let` widths), by their identity in this
    model. (An object, not a closure: expansion makes one per layer and uses few.)"""

    __slots__ = ("env", "expander")

    def __init__(self, expander: _MemoExpander, env: dict[str, Any]):
        self.expander, self.env = expander, env

    def __call__(self, text: str) -> Any:
        env, expander = self.env, self.expander
        if text in env and text.isidentifier() and text not in _KEYWORDS:
            return env[text]  # a variable's name: its value
        try:
            names = free_names(text)
            parts: list[Any] = [text]
            lists: list[Any] = []
            for n in names:
                v = env.get(n, MISSING)
                if isinstance(v, (list, dict)):
                    lists.append(v)
                    parts.append(("id", id(v)))
                else:
                    parts.append(expander.freeze(v))
            key = tuple(parts)
            memo = expander.local if lists else expander.engine.values
            hit = memo.get(key, MISSING)
        except (TypeError, expr.ExprError):
            return _evaluator(env)(text)
        if hit is MISSING:
            hit = _evaluator(env)(text)
            if hit is None or isinstance(hit, (bool, int, float, str)):
                memo[key] = hit
                if lists:  # (kept, so that their ids stay theirs while this model is expanded)
                    expander.kept.append(lists)
        return hit


@dataclass
class _Repeat:
    """A stage's blocks 1, 2, ... that are one summary: the last one's step."""

    step: Step
    entry: Tensor  # block 1's input
    storage: int  # ... and its storage

    def follows(self, rec: Recording, x: Tensor) -> bool:
        """Whether ``x`` is the last block's output and so the next block's input is the same as block 1's."""
        return (
            rec.nodes[-1] is self.step
            and x.name == self.step.name
            and x.shape == self.entry.shape
            and rec.storage_of(x.name) == self.storage
        )

    def extend(self, rec: Recording, name: str) -> Tensor:
        """One more block, ``name``d: a step of the same summary on the last one's output."""
        last = self.step
        out = f"{name}\0{len(rec.nodes)}"
        self.step = Step(out, (last.name,), last.size, last.alias, last.storage, last.sums, last.summary, last.io)
        rec.append(self.step)
        return Tensor(out, self.entry.shape)


class _OverLimit(Exception):
    """The expansion went past MAX_NODES layers or iterations (reused summaries included)."""


def _summarise(sub: Recording, x: Tensor, x_storage: int, y: Tensor, layers: int, iterations: int) -> Summary | None:
    if not sub.nodes:
        return None
    sums, io, (dies, lives), owner = run_pass(sub.nodes, x.name, x_storage, y.name, (False, True))
    alias = owner[y.name] == x.name
    out_storage = x_storage if alias else sub.storage_of(owner[y.name])
    return Summary(sums, io, lives, dies, y.shape, alias, out_storage, layers, iterations)

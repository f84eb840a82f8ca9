"""A torch model captured into netcost's Graph, the one every analysis runs on.

:func:`capture` traces the model symbolically (netcost.sources.torch_trace: torch.fx with
every value computed on fake or meta tensors, so nothing real is allocated and the model is
left as it was), then lowers each call onto the netcost op that owns its formula
(netcost.sources.torch_lowering). A call with no netcost op becomes ``opaque``, its cost
from the counting rules (netcost.counted.aten_rules), its effect on receptive fields stated:
the same shape keeps the fields (elementwise), the same elements in another shape leaves
the grid (reshape), anything else mixes every position (global). An op the counting rules
do not know is ``opaque`` with ``known: false``: the report is partial, never a silent 0.

Names: a module call is its module path (``layer1.0.conv1``; a shared module's later calls
``path_1``, ``path_2``); a functional op is its parent module's path plus the op
(``layer1.0.add``). Shapes are per sample, the batch (the first dimension of the input)
removed; layouts come from the ops' shape rules (``CHW`` maps, ``LC`` tokens after
``to_tokens``, ``HWC`` after a channels-last permute), else the rank's default.

What cannot be captured raises :class:`CaptureError` with the reason (data-dependent
control flow, a recurrent layer, several input tensors, a batch that is not the first
dimension); the caller falls back to counting op by op (netcost.counted.torchcount).
"""

from __future__ import annotations

import builtins
import contextlib
import operator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.utils._pytree import tree_leaves

from netcost.core.shape import Shape
from netcost.errors import NetcostError, ShapeError, SpecError
from netcost.graph import INPUT, Graph, Node
from netcost.ops.base import Op
from netcost.sources.reused import Reused
from netcost.sources.torch_lowering import (
    ALIASES,
    Call,
    Unlowerable,
    function_lowering,
    function_name,
    module_lowering,
    op,
)
from netcost.sources.torch_trace import NodeWork, TraceStop, ValueTracer, fake_inputs, new_mode


@dataclass
class CapturedGraph(Graph):
    """A Graph captured from a torch model; ``calls`` gives each layer's enclosing module
    calls, outermost first (``layer1@1`` for a module's second call): Python holds a
    module's arguments until its call returns, which a measured peak sees
    (netcost.counted.verify_torch)."""

    calls: dict[str, tuple[str, ...]] = field(default_factory=dict)


class CaptureError(NetcostError):
    """The model could not be captured into a Graph; ``reason`` says why."""

    def __init__(self, reason: str, hint: str | None = None):
        super().__init__(f"could not capture the model: {reason}", hint=hint)
        self.reason = reason


def capture(model: nn.Module, args: tuple, kwargs: dict | None = None, *, name: str) -> CapturedGraph:
    """The Graph of ``model(*args, **kwargs)``: one tensor input, batch first."""
    kwargs = dict(kwargs or {})
    tensors = [x for x in tree_leaves((args, kwargs)) if isinstance(x, torch.Tensor)]
    if len(tensors) != 1:
        raise CaptureError(
            f"the model is called with {len(tensors)} tensors; netcost's Graph takes one input tensor",
            hint="models with several inputs (input_ids and attention_mask) are counted op by op",
        )
    if tensors[0].dim() < 2:
        raise CaptureError(f"the input has shape {list(tensors[0].shape)}; a batch dimension comes first")
    batch = tensors[0].shape[0]
    training = next((name or type(model).__name__ for name, m in model.named_modules() if m.training), None)
    if training is not None:
        raise CaptureError(
            f"{training} is in train mode; the capture lowers layers as they run at inference",
            hint="call model.eval() first (train-mode batch norm and dropout are counted op by op)",
        )
    state = [*model.parameters(), *model.buffers()]
    on_meta = all(t.device.type == "meta" for t in state)
    device = state[0].device if state else torch.device("meta")
    held = {id(m): path for path, m in getattr(model, "_held", {}).items()}  # compiled learned tensors
    tracer = ValueTracer(lambda m, path: module_lowering(m) is not None, held)
    tracer.batch = batch
    mode = None if on_meta else new_mode()
    if mode is None:
        args, kwargs = _on_meta(args), _on_meta(kwargs)
    else:
        args, kwargs = fake_inputs(mode, args, kwargs, device)
    with mode or contextlib.nullcontext(), torch.no_grad():
        try:
            traced = tracer.trace_values(model, tuple(args), kwargs)
        except TraceStop as exc:
            raise CaptureError(exc.reason) from None
        except Exception as exc:  # torch.fx refusing a construct, or the model's own code failing
            raise CaptureError(f"torch.fx could not trace it: {type(exc).__name__}: {_line(exc)}") from None
        return _Lowering(name, batch, tracer).run(traced)


def _on_meta(values: Any) -> Any:
    from torch.utils._pytree import tree_map

    return tree_map(
        lambda x: torch.empty(tuple(x.shape), dtype=x.dtype, device="meta") if isinstance(x, torch.Tensor) else x,
        values,
    )


def _line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


# --- what each fx value is to the Graph ------------------------------------------------


@dataclass(frozen=True)
class _Act:
    """An activation: a Graph tensor (a node's output, or the input)."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class _Const:
    """A tensor made only from the model's own tensors (or constants): no node; the
    parameters and buffers it reads are counted by the op that uses it."""

    params: frozenset[int] = frozenset()
    buffers: frozenset[int] = frozenset()


@dataclass
class _Multi:
    """A tuple of tensors from a call on activations (split, chunk, a module's outputs): a
    node per element, made when an element is used."""

    node: fx.Node
    first: _Act | None = None  # a module's element 0: the module's own node
    elements: dict[int, _Act] = field(default_factory=dict)
    record: NodeWork | None = None  # what the call did by the counting rules, once asked


class _Lowering:
    def __init__(self, name: str, batch: int, tracer: ValueTracer):
        self.batch = batch
        self.tracer = tracer
        self.graph: CapturedGraph | None = None
        self.name = name
        self.refs: dict[fx.Node, Any] = {}
        self.claimed: set[int] = set()
        self.names: dict[str, int] = {}
        self.params = {id(p): p for p in tracer.root.parameters(recurse=True)}
        for m in tracer.modules.values():
            self.params.update({id(p): p for p in m.parameters()})
        self.buffers = {id(b): b for b in tracer.root.buffers(recurse=True)}
        for m in tracer.modules.values():
            self.buffers.update({id(b): b for b in m.buffers()})

    # --- the walk ------------------------------------------------------------------------

    def run(self, traced: fx.Graph) -> Graph:
        output = None
        for node in traced.nodes:
            if node.op == "placeholder":
                self._placeholder(node)
            elif node.op == "get_attr":
                self._get_attr(node)
            elif node.op == "output":
                output = self._find_act(node.args[0])
            else:
                self.refs[node] = self._call(node)
        if self.graph is None:
            raise CaptureError("the model has no tensor input")
        if output is None or output.name == INPUT:
            raise CaptureError("the model's output is not computed from its input")
        if not self.graph.nodes:
            raise CaptureError("the model has no layers")
        self.graph.output = output.name
        return self.graph

    def _placeholder(self, node: fx.Node) -> None:
        value = node.meta.get("value")
        if not isinstance(value, torch.Tensor):
            return
        dims = tuple(value.shape[1:])
        integer = not (value.dtype.is_floating_point or value.dtype.is_complex)
        shape = Shape(dims, "L") if integer and len(dims) == 1 else Shape(dims)
        self.graph = CapturedGraph(self.name, shape)
        self.refs[node] = _Act(INPUT, shape)

    def _get_attr(self, node: fx.Node) -> None:
        value = node.meta.get("value")
        key = id(value)
        if key in self.params:
            self.refs[node] = _Const(params=frozenset({key}))
        elif key in self.buffers:
            self.refs[node] = _Const(buffers=frozenset({key}))
        else:
            self.refs[node] = _Const()

    def _find_act(self, arg: Any) -> _Act | None:
        for item in _nodes_in(arg):
            ref = self.refs.get(item)
            if isinstance(ref, _Multi):
                ref = self._element(ref, 0)
            if isinstance(ref, _Act):
                return ref
        return None

    def _inputs(self, node: fx.Node) -> tuple[list[_Act], list[_Const]]:
        acts, consts = [], []
        for item in _nodes_in((node.args, node.kwargs)):
            ref = self.refs.get(item)
            if isinstance(ref, _Multi):
                values = item.meta.get("value") or ()
                acts.extend(a for i in range(len(values)) if (a := self._element(ref, i)) is not None)
            elif isinstance(ref, _Act):
                acts.append(ref)
            elif isinstance(ref, _Const):
                consts.append(ref)
        return acts, consts

    def _call(self, node: fx.Node) -> Any:
        value = node.meta.get("value")
        if (
            node.op == "call_function"
            and node.target is operator.getitem
            and isinstance(self.refs.get(node.args[0]), _Multi)
        ):
            index = node.args[1]
            return self._element(self.refs[node.args[0]], index) if isinstance(index, int) else None
        field_index = _named_field(node)
        if field_index is not None and isinstance(self.refs.get(node.args[0]), _Multi):
            return self._element(self.refs[node.args[0]], field_index)  # ``.values`` of torch.sort's result
        acts, consts = self._inputs(node)
        if not acts:  # made of the model's tensors and constants alone
            if not isinstance(value, torch.Tensor):
                return None
            return _Const(
                frozenset().union(*(c.params for c in consts)), frozenset().union(*(c.buffers for c in consts))
            )
        if isinstance(value, (tuple, list)) and node.op != "call_module":
            return _Multi(node)
        if node.op == "call_module":
            return self._module(node, acts, value)
        if not isinstance(value, torch.Tensor):
            return None
        alias = self._alias(node, acts, value)
        if alias is not None:
            return alias
        return self._function(node, acts, consts, value)

    # --- modules -------------------------------------------------------------------------

    def _module(self, node: fx.Node, acts: list[_Act], value: Any) -> Any:
        module = self.tracer.modules[node.target]
        first = value if isinstance(value, torch.Tensor) else _first_tensor(value)
        if first is None:
            return None
        out = self._dims(first, node)
        lower = module_lowering(module)
        if isinstance(module, nn.MultiheadAttention):  # (x, x, x): self-attention on x
            acts = list({a.name: a for a in acts}.values())
        call = Call(module, node.target, _values(node.args), _values(node.kwargs), tuple(a.shape for a in acts), out)
        try:
            built = lower(module, call) if lower else None
        except Unlowerable as exc:
            raise CaptureError(f"{exc} ({node.target})", hint="it is counted op by op instead") from None
        params = self._claim(set(map(id, module.parameters())))
        buffers = self._claim(set(map(id, module.buffers())), buffers=True)
        act = self._add(str(node.target), built, acts, out, node, params, buffers, module_path=True)
        if isinstance(value, (tuple, list)):
            return _Multi(node, first=act)
        return act

    # --- functions -----------------------------------------------------------------------

    def _alias(self, node: fx.Node, acts: list[_Act], value: torch.Tensor) -> _Act | None:
        """A call that returns its input unchanged (``.contiguous()`` of a contiguous tensor,
        ``.float()`` of a float one, a reshape to the same shape): no node of its own."""
        if len(acts) != 1 or tuple(value.shape[1:]) != acts[0].shape.dims:
            return None
        source = _value_of_act(node, acts[0], self.refs)
        if value is source:  # the input itself (torchvision's stochastic_depth in eval, x.to(x.dtype))
            return acts[0]
        name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
        same = source is not None and value.dtype == source.dtype
        if name == "contiguous" and same and source.is_contiguous():
            return acts[0]
        if name in ALIASES - {"contiguous"} and same:
            return acts[0]
        if name in ("view", "reshape", "flatten", "squeeze", "unsqueeze", "expand_as") and same:
            return acts[0]
        return None

    def _function(self, node: fx.Node, acts: list[_Act], consts: list[_Const], value: torch.Tensor) -> _Act:
        out = self._dims(value, node)
        target = node.target
        lower = function_lowering(target)
        extra = {"constants": len(consts), "const_shapes": self._const_shapes(node)}
        if node.target in ("permute", "transpose") or getattr(target, "__name__", "") in ("permute", "transpose"):
            extra["perm"] = self._permutation(node, value)
        call = Call(None, target, _values(node.args), _values(node.kwargs), tuple(a.shape for a in acts), out, extra)
        built = None
        if lower is not None:
            try:
                built = lower(call)
            except (ShapeError, SpecError, ValueError, TypeError, KeyError, IndexError):
                built = None
        parent = node.meta.get("netcost_parent", "")
        params = self._claim(set().union(*(c.params for c in consts)) if consts else set())
        read = set().union(*(c.buffers for c in consts)) if consts else set()
        if built is not None and built.kind == "bn":  # F.batch_norm: its module's step counter too
            counter = getattr(self.tracer.modules.get(parent), "num_batches_tracked", None)
            read |= {id(counter)} if isinstance(counter, torch.Tensor) else set()
        buffers = self._claim(read, buffers=True)
        attribute = target is builtins.getattr and isinstance(node.args[1], str)
        base = node.args[1] if attribute else function_name(target)  # ``x.mT``: ``mT``
        return self._add(f"{parent}.{base}" if parent else base, built, acts, out, node, params, buffers)

    def _const_shapes(self, node: fx.Node) -> list[tuple[int, ...]]:
        """Shapes of the model tensors (parameters, buffers and what is made of them) a call reads."""
        shapes = []
        for item in _nodes_in((node.args, node.kwargs)):
            value = item.meta.get("value")
            if isinstance(self.refs.get(item), _Const) and isinstance(value, torch.Tensor):
                shapes.append(tuple(value.shape))
        return shapes

    def _permutation(self, node: fx.Node, value: torch.Tensor) -> tuple[int, ...] | None:
        """The per-sample permutation of a permute/transpose that keeps the batch first."""
        args = _values(node.args)
        rank = value.dim()
        if node.target == "transpose" or getattr(node.target, "__name__", "") == "transpose":
            a, b = (args[1], args[2]) if len(args) >= 3 else (node.kwargs["dim0"], node.kwargs["dim1"])
            order = list(range(rank))
            order[a % rank], order[b % rank] = order[b % rank], order[a % rank]
        else:
            dims = args[1:] if len(args) > 2 or not isinstance(args[1], (tuple, list)) else args[1]
            if "dims" in node.kwargs:
                dims = node.kwargs["dims"]
            order = [d % rank for d in dims]
        if order[0] != 0:
            return None
        return tuple(d - 1 for d in order[1:])

    # --- nodes ---------------------------------------------------------------------------

    def _dims(self, value: torch.Tensor, node: fx.Node) -> tuple[int, ...]:
        if value.dim() == 0 or value.shape[0] != self.batch:
            raise CaptureError(
                f"{_where(node)} makes a tensor of shape {list(value.shape)}, whose first dimension is not "
                f"the batch ({self.batch}); netcost's Graph keeps the batch first"
            )
        return tuple(int(d) for d in value.shape[1:])

    def _claim(self, ids: set[int], buffers: bool = False) -> tuple[int, ...]:
        """Sizes of the tensors among ``ids`` not counted yet (counted from now on)."""
        new = [i for i in ids if i not in self.claimed]
        self.claimed.update(new)
        table = self.buffers if buffers else self.params
        return tuple(table[i].numel() for i in new if i in table)

    def _add(
        self,
        name: str,
        built: Op | None,
        acts: list[_Act],
        out: tuple[int, ...],
        node: fx.Node,
        params: tuple[int, ...],
        buffers: tuple[int, ...],
        module_path: bool = False,
    ) -> _Act:
        ins = tuple(a.shape for a in acts)
        shape = None
        if built is not None and _fits(built, ins):
            try:
                shape = built.shape(ins)
            except (ShapeError, ValueError):
                shape = None
            if shape is not None and shape.dims != out:
                shape = None
        if shape is None:
            built = _opaque(node, self.tracer.work_of(node), ins, out, self.batch)
            shape = built.shape(ins)
        cost = built.cost(ins, shape)
        if cost.params != sum(params) or cost.buffers != sum(buffers):
            tensors = params if cost.params != sum(params) else built.param_tensors(ins, shape)
            built = Reused(op=built, params=sum(params), buffers=sum(buffers), tensors=tuple(tensors))
        unique = self._unique(name)
        self.graph.add(Node(unique, built, tuple(a.name for a in acts), ins, shape))
        self.graph.calls[unique] = _calls(node)
        return _Act(unique, shape)

    def _unique(self, name: str) -> str:
        count = self.names.get(name, 0)
        self.names[name] = count + 1
        unique = name if count == 0 else f"{name}_{count}"
        while unique in self.graph:  # a module path that a functional op's name took already
            count += 1
            self.names[name] = count + 1
            unique = f"{name}_{count}"
        return unique

    def _element(self, multi: _Multi, index: int) -> _Act | None:
        """Element ``index`` of a tuple result: a module's first output is its node; a
        channel split of a map is ``split``; an element of a call that only views its input
        (``chunk``, ``unbind``) an opaque view of it; an element of any other call (``sort``,
        ``topk``) an opaque output of it, counted by the counting rules (its work on the first
        element used, unknown when one of its aten ops has no rule)."""
        if index in multi.elements:
            return multi.elements[index]
        if multi.first is not None and index == 0:
            return multi.first
        node = multi.node
        value = node.meta["value"][index]
        if not isinstance(value, torch.Tensor):  # nn.MultiheadAttention's weights when not asked for: None
            return None
        acts, _ = self._inputs(node)
        source = acts[:1]
        out = self._dims(value, node)
        built = None
        name = function_name(node.target)
        if multi.first is None and source and source[0].shape.is_map and _split_dim(node) in (1, -3):
            sizes = tuple(int(t.shape[1]) for t in node.meta["value"])
            built = op("split", sizes=sizes, index=index)
        record = None
        if multi.first is None:
            if multi.record is None:
                multi.record = self.tracer.work_of(node)
            record = multi.record
        if built is None and record is not None and (record.unsupported or not record.views_only):
            counted = record if not multi.elements else _without_work(record)
            built = _opaque(node, counted, tuple(a.shape for a in source), out, self.batch)
        if built is None:
            known = multi.first is None
            x = source[0].shape
            built = op(
                "opaque",
                source_op=f"aten.{name}" if known else f"{node.target}[{index}]",
                out=out,
                layout=x.layout if len(out) == x.rank else "",
                view=known,
                known=known,
                effect="elementwise" if known and len(out) == x.rank else "reshape",
            )
        parent = node.meta.get("netcost_parent", "")
        own = f"{parent}.{name}" if parent else name  # a function's element: its parent's path plus the op
        unique = self._unique(f"{node.target}.{index}" if node.op == "call_module" else own)
        shape = built.shape(tuple(a.shape for a in source))
        self.graph.add(Node(unique, built, tuple(a.name for a in source), tuple(a.shape for a in source), shape))
        self.graph.calls[unique] = _calls(node)
        multi.elements[index] = _Act(unique, shape)
        return multi.elements[index]


def _calls(node: fx.Node) -> tuple[str, ...]:
    return tuple(node.meta.get("nn_module_stack", {}))


def _opaque(node: fx.Node, record: NodeWork, ins: tuple[Shape, ...], out: tuple[int, ...], batch: int) -> Op:
    """A call netcost has no op for, with its cost from the counting rules."""
    work = record.work
    x = ins[0]
    if out == x.dims:
        effect = "elementwise"
    elif _numel(out) == x.numel:
        effect = "reshape"
    else:
        effect = "global"
    layout = x.layout if len(out) == x.rank else ""  # a channels-last map stays one (Swin's patch merging)
    known = not record.unsupported
    source = next(iter(record.unsupported), None) if not known else _source_op(node, record)
    return op(
        "opaque",
        source_op=source,
        out=out or (1,),
        layout=layout,
        macs=work.macs // batch,
        elementwise=work.elementwise // batch,
        attention=work.attention // batch,
        effect=effect,
        known=known,
        view=bool(record.ops) and record.views_only and effect != "global",
    )


def _without_work(record: NodeWork) -> NodeWork:
    """A call's record with its work taken off (counted on the first of its elements used)."""
    return NodeWork(unsupported=dict(record.unsupported), ops=list(record.ops), views_only=record.views_only)


def _named_field(node: fx.Node) -> int | None:
    """The index of ``result.values`` in a named tuple (torch.return_types.sort), or None."""
    if node.op != "call_function" or node.target is not builtins.getattr or not isinstance(node.args[1], str):
        return None
    result = _values(node.args[0])
    element = getattr(result, node.args[1], None) if isinstance(result, tuple) else None
    return next((i for i, item in enumerate(result) if item is element), None) if element is not None else None


def _source_op(node: fx.Node, record: NodeWork) -> str:
    worked = [o for o in dict.fromkeys(record.ops)]
    if len(worked) == 1:
        return worked[0]
    if node.op == "call_module":
        return f"module {node.target}"
    return f"torch.{function_name(node.target)}"


def _fits(built: Op, ins: tuple[Shape, ...]) -> bool:
    low, high = built.arity
    return len(ins) >= low and (high is None or len(ins) <= high)


def _numel(dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _split_dim(node: fx.Node) -> Any:
    name = function_name(node.target)
    if name not in ("split", "chunk", "tensor_split", "split_with_sizes"):
        return None
    return node.kwargs.get("dim", node.args[2] if len(node.args) > 2 else 0)


def _nodes_in(arg: Any):
    """The fx nodes in an argument structure, in order."""
    if isinstance(arg, fx.Node):
        yield arg
    elif isinstance(arg, (tuple, list)):
        for item in arg:
            yield from _nodes_in(item)
    elif isinstance(arg, dict):
        for item in arg.values():
            yield from _nodes_in(item)


def _values(arg: Any) -> Any:
    if isinstance(arg, fx.Node):
        return arg.meta.get("value")
    if isinstance(arg, tuple):
        return tuple(_values(a) for a in arg)
    if isinstance(arg, list):
        return [_values(a) for a in arg]
    if isinstance(arg, dict):
        return {k: _values(v) for k, v in arg.items()}
    return arg


def _value_of_act(node: fx.Node, act: _Act, refs: dict) -> torch.Tensor | None:
    for item in _nodes_in((node.args, node.kwargs)):
        if refs.get(item) is act:
            value = item.meta.get("value")
            return value if isinstance(value, torch.Tensor) else None
    return None


def _first_tensor(value: Any) -> torch.Tensor | None:
    return next((t for t in tree_leaves(value) if isinstance(t, torch.Tensor)), None)


def _where(node: fx.Node) -> str:
    parent = node.meta.get("netcost_parent", "")
    what = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
    return f"{what} in {parent}" if parent and node.op != "call_module" else str(what)

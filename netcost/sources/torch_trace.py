"""Symbolic tracing of a torch model with every value known: torch.fx's tracer, each node's
value computed as it is recorded, on fake tensors (torch._subclasses.FakeTensorMode).

Why torch.fx and not torch.export: fx keeps the module calls — a leaf module is one node,
named by its path, and lowering it onto the netcost op that owns its formula reads its
configuration (kernel, stride, groups) off the module itself — and it traces a
torchvision-sized model in tens of milliseconds, where torch.export takes seconds and
hands back aten ops, from which the layers must be guessed again. fx alone cannot follow
Python control flow on tensor properties; here every proxy carries its fake value, so
shapes, ``dim()``, ``dtype`` and ``device`` are concrete (``if x.dim() == 3`` takes the real
branch, ``n, c, h, w = x.shape`` unpacks ints). Only control flow on tensor *data* is left
unknowable: it raises :class:`TraceStop` (``if x.sum() > 0``, ``.item()``, ``.tolist()``).

Fake tensors hold no storage: a model whose parameters live on CPU (or meta) is traced
without allocating its activations, and without changing it (no attribute is set on it,
no hook left, its training flags and parameters untouched).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map

from netcost.counted import modules as helpers
from netcost.counted.aten_rules import ADAPTIVE_AVG, Work
from netcost.counted.torchcount import bind, op_kind

# tensor properties read concretely off the fake value (no graph node)
CONCRETE_ATTRS = frozenset(
    [
        "shape",
        "ndim",
        "dtype",
        "device",
        "is_nested",
        "is_cuda",
        "is_sparse",
        "is_meta",
        "is_quantized",
        "is_mkldnn",
        "layout",
        "requires_grad",
        "is_leaf",
        "names",
        "itemsize",
    ]
)
CONCRETE_METHODS = frozenset(
    [
        "size",
        "dim",
        "numel",
        "nelement",
        "stride",
        "is_contiguous",
        "get_device",
        "element_size",
        "is_floating_point",
        "is_complex",
        "is_signed",
        "ndimension",
        "has_names",
    ]
)


class TraceStop(Exception):
    """Tracing cannot go on: ``reason`` says why (data-dependent control flow, …)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class NodeWork:
    """What one recorded call did, by the counting rules (netcost.counted.aten_rules), for the
    whole batch: its work, the ops with no rule, the aten ops it ran and whether every one
    was a view."""

    work: Work = field(default_factory=Work)
    unsupported: dict[str, int] = field(default_factory=dict)
    ops: list[str] = field(default_factory=list)
    views_only: bool = True


class _Counting(TorchDispatchMode):
    """Counts each aten op a recorded call dispatches, as netcost.counted.torchcount does."""

    def __init__(self, batch: int, adaptive: bool):
        super().__init__()
        self.batch, self.adaptive_pooling = batch, int(adaptive)
        self.record = NodeWork()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name, rule, view = op_kind(func)
        record = self.record
        record.ops.append(f"{func.namespace}.{name}")
        record.views_only = record.views_only and view
        if rule is None:
            label = str(func.overloadpacket)
            record.unsupported[label] = record.unsupported.get(label, 0) + 1
            return out
        first = (
            out
            if isinstance(out, torch.Tensor)
            else next((t for t in tree_leaves(out) if isinstance(t, torch.Tensor)), None)
        )
        record.work += rule(bind(func, args, kwargs), first, self)
        return out


class _Proxy(fx.Proxy):
    """A proxy that knows its value: shapes and other properties are plain Python values."""

    def _value(self) -> Any:
        return self.node.meta.get("value")

    def __getattr__(self, k: str) -> Any:
        value = self.node.meta.get("value")
        if isinstance(value, torch.Tensor) and (k in CONCRETE_ATTRS or k in CONCRETE_METHODS):
            return getattr(value, k)
        return super().__getattr__(k)

    def __len__(self) -> int:
        value = self._value()
        if isinstance(value, torch.Tensor):
            return value.shape[0] if value.dim() else 0
        return len(value)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


class ValueTracer(fx.Tracer):
    """fx.Tracer that computes every node's value on fake tensors as it records it.

    ``leaf(module, path)`` says which modules are one node (the lowering registry);
    ``held`` gives paths of modules called but not registered in the module tree
    (netcost's compiled learned-tensor layers)."""

    def __init__(self, leaf, held: dict[int, str]):
        super().__init__(autowrap_modules=(), param_shapes_constant=True)
        self._leaf = leaf
        self._held = held
        self._executing = 0  # > 0 while a leaf's value is computed: module calls run plainly
        self.parent: list[str] = [""]
        self.constants: dict[str, Any] = {}
        self.modules: dict[str, nn.Module] = {}
        self._params: dict[int, str] = {}
        self._buffers: dict[int, str] = {}
        self.inputs: dict[str, Any] = {}
        self.batch = 1

    # --- bookkeeping ---------------------------------------------------------------------

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _Proxy(node, self)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return self._leaf(m, module_qualified_name)

    def path_of_module(self, mod: nn.Module) -> str:
        held = self._held.get(id(mod))
        return held if held is not None else super().path_of_module(mod)

    def call_module(self, m: nn.Module, forward, args: tuple, kwargs: dict) -> Any:
        if self._executing:
            return forward(*args, **kwargs)
        path = self.path_of_module(m)
        self.modules[path] = m
        if self.is_leaf_module(m, path):
            return super().call_module(m, forward, args, kwargs)
        self.parent.append(path)
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.parent.pop()

    def create_arg(self, a: Any) -> Any:
        if isinstance(a, torch.Tensor):
            name = self._params.get(id(a)) or self._buffers.get(id(a))
            if name is None:  # a tensor made outside the model: held here, not set on the model
                name = f"_netcost_constant_{len(self.constants)}"
                self.constants[name] = a
            node = self.create_node("get_attr", name, (), {})
            node.meta["value"] = a
            return node
        return super().create_arg(a)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
        name = self._params.get(id(attr_val)) if isinstance(attr_val, nn.Parameter) and not self._executing else None
        if name is None:
            return attr_val
        if name not in parameter_proxy_cache:
            parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
        return parameter_proxy_cache[name]

    # --- values --------------------------------------------------------------------------

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        node = proxy.node
        node.meta["netcost_parent"] = self.parent[-1]
        node.meta["value"] = self._compute(kind, target, args, kwargs, node)
        return proxy

    def _compute(self, kind: str, target: Any, args: tuple, kwargs: dict, node: fx.Node) -> Any:
        if kind == "placeholder":
            return self._placeholder_value(node)
        a, kw = tree_map(_value_of, args), tree_map(_value_of, kwargs)
        self._executing += 1
        try:
            if kind == "get_attr":
                return self.constants[target] if target in self.constants else _attr(self.root, target)
            return self._run(kind, target, a, kw)
        except TraceStop:
            raise
        except Exception as exc:
            raise TraceStop(f"{_what(kind, target)} could not run on shapes alone: {_first_line(exc)}") from exc
        finally:
            self._executing -= 1

    def _run(self, kind: str, target: Any, a: tuple, kw: dict, shortcut: bool = True) -> Any:
        if kind == "call_function":
            return target(*a, **kw)
        if kind == "call_method":
            return getattr(a[0], target)(*a[1:], **kw)
        module = self.modules[target]
        value = _shortcut(module, a, kw) if shortcut else None
        return module(*a, **kw) if value is None else value

    def work_of(self, node: fx.Node) -> NodeWork:
        """What a recorded call does by the counting rules, the call run again on its values
        (asked only of the calls that have no netcost op: most calls are never re-run)."""
        counting = _Counting(self.batch, getattr(node.target, "__name__", node.target) in ADAPTIVE_AVG)
        a, kw = tree_map(_value_of, node.args), tree_map(_value_of, node.kwargs)
        with counting:
            self._run(node.op, node.target, a, kw, shortcut=False)
        return counting.record

    def _placeholder_value(self, node: fx.Node) -> Any:
        """An input's value; fx names the placeholder of a concrete argument ``name_<n>``."""
        target = str(node.target)
        if target in self.inputs:
            return self.inputs[target]
        base, _, count = target.rpartition("_")
        return self.inputs.get(base) if count.isdigit() else None

    def to_bool(self, obj: fx.Proxy) -> bool:
        value = obj.node.meta.get("value")
        if isinstance(value, torch.Tensor):
            raise TraceStop(
                f"data-dependent control flow: a branch on the value of a tensor ({_origin(obj.node)}) "
                "cannot be followed without real data"
            )
        return bool(value)

    def iter(self, obj: fx.Proxy) -> Iterator:
        return iter(obj)

    def trace_values(self, root: nn.Module, args: tuple, kwargs: dict) -> fx.Graph:
        """Trace ``root.forward(*args, **kwargs)``; tensors among them become fake inputs."""
        self._params = {id(p): n for n, p in root.named_parameters(remove_duplicate=False)}
        self._buffers = {id(b): n for n, b in root.named_buffers(remove_duplicate=False)}
        signature = inspect.signature(type(root).forward)
        bound = signature.bind(root, *args, **kwargs)
        concrete = {}
        for pname, param in list(signature.parameters.items())[1:]:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TraceStop(f"forward takes *{pname}: netcost traces forwards with named arguments only")
            if pname in bound.arguments and isinstance(bound.arguments[pname], torch.Tensor):
                self.inputs[pname] = bound.arguments[pname]
            else:
                concrete[pname] = bound.arguments.get(pname, param.default)
        self.inputs.update(concrete)  # fx checks each one against its placeholder's value
        return self.trace(root, concrete_args=concrete or None)


# modules whose output is like their one input (at inference)
SAME_SHAPE = frozenset(
    {nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, helpers.LayerNorm2d, helpers.WindowAttention}
)


def _shortcut(module: nn.Module, a: tuple, kw: dict) -> Any:
    """The output of a module whose shape is known without running it, or None. Running
    these on meta tensors takes most of a trace (batch norm's meta kernel is a Python
    decomposition; nn.MultiheadAttention's forward is a long Python function): an inference
    batch norm, a layer norm, netcost's window attention return a tensor like their input;
    batch-first attention ``[N, L, E]`` and, when
    asked for, its weights ``[N, L, S]`` (averaged over the heads) or ``[N, heads, L, S]``."""
    cls = type(module)
    one = len(a) == 1 and not kw and isinstance(a[0], torch.Tensor)
    if one and cls in SAME_SHAPE and not module.training and getattr(module, "running_mean", 0) is not None:
        return torch.empty_like(a[0])
    if cls is helpers.Attention and len(a) in (1, 2) and not kw and a[0].dim() == 3:
        return a[0].new_empty((a[0].shape[0], a[0].shape[1], module.embed_dim))
    if cls is nn.MultiheadAttention and module.batch_first and not module.training and len(a) == 3:
        q, k = a[0], a[1]
        if not all(isinstance(t, torch.Tensor) and t.dim() == 3 for t in a):
            return None
        out = q.new_empty((q.shape[0], q.shape[1], module.embed_dim))
        if not kw.get("need_weights", True):
            return out, None
        heads = () if kw.get("average_attn_weights", True) else (module.num_heads,)
        return out, q.new_empty((q.shape[0], *heads, q.shape[1], k.shape[1]))
    return None


def _first_tensor(value: Any) -> torch.Tensor | None:
    return next((t for t in tree_leaves(value) if isinstance(t, torch.Tensor)), None)


def _attr(root: nn.Module, target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _value_of(x: Any) -> Any:
    if isinstance(x, fx.Proxy):
        return x.node.meta.get("value")
    if isinstance(x, fx.Node):
        return x.meta.get("value")
    return x


def _what(kind: str, target: Any) -> str:
    if kind == "call_module":
        return f"module {target}"
    if kind == "call_method":
        return f".{target}()"
    return getattr(target, "__name__", str(target))


def _origin(node: fx.Node) -> str:
    parent = node.meta.get("netcost_parent") or "the model's forward"
    return f"{_what(node.op, node.target)} in {parent}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def fake_inputs(mode: FakeTensorMode, args: tuple, kwargs: dict, device: torch.device) -> tuple[tuple, dict]:
    """The tensors of ``args``/``kwargs`` as fake tensors of the same shape and dtype on the
    model's ``device`` (no storage); other values as they are."""

    def fake(x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        with mode:
            return torch.empty(tuple(x.shape), dtype=x.dtype, device=device)

    return tree_map(fake, args), tree_map(fake, kwargs)


def new_mode() -> FakeTensorMode:
    return FakeTensorMode(allow_non_fake_inputs=True)

"""`netcost verify` on a torch model: its captured Graph's analytic numbers against the
model itself, module by module.

Each module that a layer of the Graph belongs to (a module call's own path; a functional
op's parent module) gets a row: its parameters and buffers against torch's, the output
shape of a module layer against what a forward hook sees, and its FLOPs under fvcore's and
FlopCounterMode's conventions against those tools run on the model (under ``no_grad``, each
module's figure covering its submodules, as both tools report it). A counter's known blind
spots (SDPA's CPU flash kernel, nn.MultiheadAttention's fast path:
netcost.core.conventions) are explained in the cell, not counted as mismatches. Then the
peak of live activation memory against a real forward pass followed by the storage
tracker (netcost.counted.memory) on ``device``. Receptive fields are not measured here
(they are checked on compiled specs, netcost.counted.receptive).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_map

from netcost.analysis import analyze_graph
from netcost.analysis.memory import live_bytes, peak_of
from netcost.core.conventions import Convention
from netcost.core.cost import Cost
from netcost.counted.device import check_device
from netcost.counted.memory import StorageTracker
from netcost.counted.verify import VerifyReport, cell, temporaries, tool_cell, tool_total, total_check
from netcost.graph import INPUT, Graph
from netcost.options import DTYPE_BYTES

ROOT = ""


def verify_module(
    model: nn.Module, args: tuple, kwargs: dict | None, graph: Graph, *, device: str = "cpu"
) -> VerifyReport:
    """The captured ``graph`` of ``model(*args, **kwargs)`` checked against the model run on
    ``device`` (a model on meta is copied there, uninitialised: counts do not depend on
    values). The report has :class:`~netcost.counted.verify.VerifyReport`'s shape."""
    device = check_device(device)
    kwargs = dict(kwargs or {})
    model = _on_device(model, device)
    args, kwargs = _real_inputs(args, kwargs, device, graph)
    batch = next(t for t in _tensors((args, kwargs))).shape[0]
    paths = {name for name, _ in model.named_modules()}
    stacks = _stacks(graph, paths)
    costs = {node.name: node.op.cost(node.in_shapes, node.shape).scaled(batch) for node in graph.nodes}
    notes: list[str] = []
    flopcounter, fc_total, shapes = _flopcounter(model, args, kwargs, graph, paths)
    fvcore, fv_total = _fvcore(model, args, kwargs, notes)
    rows = []
    analytic = analyze_graph(graph, batch)
    by_row = {r["name"]: r for r in analytic.rows}
    for owner in dict.fromkeys(p for stack in stacks.values() for p in stack):
        whole = sum((costs[n] for n, stack in stacks.items() if owner in stack), Cost())
        module = model.get_submodule(owner)
        leaf = owner in by_row  # the module's own layer (its first call)
        seen = shapes.get(owner, (None, None))
        row = {
            "name": owner,
            "op": graph[owner].op.kind if leaf else "module",
            "params": cell(whole.params, sum(p.numel() for p in module.parameters())),
            "buffers": cell(whole.buffers, sum(b.numel() for b in module.buffers())),
            "shape": cell(by_row[owner]["output_shape"], seen[0]) if leaf else cell(None, None),
            "bytes": cell(by_row[owner]["activation_bytes"], seen[1]) if leaf else cell(None, None),
            "flopcounter": tool_cell(Convention.FLOPCOUNTER, whole, device, flopcounter.get(owner, 0)),
            "fvcore": tool_cell(Convention.FVCORE, whole, device, None if fvcore is None else fvcore.get(owner, 0)),
        }
        rows.append(row)
    whole = sum(costs.values(), Cost())
    totals = [
        total_check("params", analytic.totals["params"], sum(p.numel() for p in model.parameters())),
        total_check("buffers", analytic.totals["buffers"], sum(b.numel() for b in model.buffers())),
        tool_total(Convention.FLOPCOUNTER, whole, device, fc_total),
    ]
    if fv_total is not None:
        totals.append(tool_total(Convention.FVCORE, whole, device, fv_total))
    if analytic.meta.get("partial"):
        notes.append(f"partial: no counting rule for {', '.join(analytic.meta['unsupported_ops'])}")
    report = VerifyReport(graph.name, device, [batch, *graph.input_shape.dims], rows, totals, notes=notes)
    report.memory = _memory(model, args, kwargs, graph, batch, device, paths)
    notes.append("receptive fields are not measured on a torch model (they are on compiled specs)")
    return report


def _stacks(graph: Graph, paths: set[str]) -> dict[str, tuple[str, ...]]:
    """Each layer's enclosing module calls as module paths (the counters give every module on
    the call stack the work done inside it): the capture's ``graph.calls``, or for a graph
    without them the layer's own module and its parent."""
    calls = getattr(graph, "calls", None)
    if calls:
        return {n.name: tuple(dict.fromkeys(c.partition("@")[0] for c in calls.get(n.name, ()))) for n in graph.nodes}
    return {n.name: (owner,) if (owner := _owner(n.name, paths)) else () for n in graph.nodes}


def _owner(name: str, paths: set[str]) -> str:
    """The module a layer belongs to: its own path (a shared module's later call ``path_2``),
    else its parent's (a functional op ``parent.add``), else the root."""
    if name in paths:
        return name
    base, _, suffix = name.rpartition("_")
    if suffix.isdigit() and base in paths:
        return base
    parent = name.rpartition(".")[0]
    while parent and parent not in paths:
        parent = parent.rpartition(".")[0]
    return parent


def _on_device(model: nn.Module, device: str) -> nn.Module:
    state = [*model.parameters(), *model.buffers()]
    if all(t.device == torch.device(device) for t in state):
        return model
    if any(t.device.type == "meta" for t in state):
        return copy.deepcopy(model).to_empty(device=device).eval()
    return copy.deepcopy(model).to(device).eval()


def _real_inputs(args: tuple, kwargs: dict, device: str, graph: Graph) -> tuple[tuple, dict]:
    vocab = min((n.op.vocab for n in graph.nodes if n.op.kind == "embedding"), default=1)

    def real(x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        if x.dtype.is_floating_point or x.dtype.is_complex:
            return torch.randn(tuple(x.shape), dtype=x.dtype, device=device)
        if x.dtype == torch.bool:
            return torch.ones(tuple(x.shape), dtype=torch.bool, device=device)
        return torch.randint(0, vocab, tuple(x.shape), dtype=x.dtype, device=device)

    return tree_map(real, tuple(args)), tree_map(real, kwargs)


def _tensors(values: Any):
    from torch.utils._pytree import tree_leaves

    return (t for t in tree_leaves(values) if isinstance(t, torch.Tensor))


def _flopcounter(model, args, kwargs, graph: Graph, paths: set[str]):
    """FlopCounterMode per module (its own figure covers its submodules) and the output
    shapes of the layers' modules, from one no_grad forward."""
    from torch.utils.flop_counter import FlopCounterMode

    shapes: dict[str, tuple[list[int], int]] = {}
    handles = []
    modules = dict(model.named_modules())
    for node in graph.nodes:
        if node.name in paths and node.name != ROOT:

            def hook(module, inputs, out, name=node.name):
                first = out if isinstance(out, torch.Tensor) else next(_tensors(out), None)
                if first is not None:
                    shapes.setdefault(name, (list(first.shape), first.numel() * first.element_size()))

            handles.append(modules[node.name].register_forward_hook(hook))
    mode = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), mode:
            model(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    root = type(model).__name__ + "."
    by_module = mode.get_flop_counts().items()
    counts = {name[len(root) :]: int(sum(ops.values())) for name, ops in by_module if name.startswith(root)}
    return counts, int(mode.get_total_flops()), shapes


def _fvcore(model, args, kwargs, notes: list[str]):
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        notes.append("fvcore is not installed: its column is skipped (pip install fvcore)")
        return None, None
    if kwargs:
        notes.append("fvcore takes positional inputs only: its column is skipped")
        return None, None
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(model, tuple(args)).unsupported_ops_warnings(False)
            analysis = analysis.uncalled_modules_warnings(False)
            return {k: int(v) for k, v in analysis.by_module().items()}, int(analysis.total())
    except Exception as exc:  # fvcore's jit trace refuses some models: say so, check the rest
        first = (str(exc).strip().splitlines() or [""])[0]
        notes.append(f"fvcore could not count the model ({type(exc).__name__}: {first}): its column is skipped")
        return None, None


def _memory(model, args, kwargs, graph: Graph, batch: int, device: str, paths: set[str]) -> dict[str, Any]:
    """The measured peak of one forward pass against the analytic liveness peak with the
    input alive throughout (the caller holds it, as here)."""
    known = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    width = DTYPE_BYTES["fp32"]
    liveness = analyze_graph(graph, batch).totals["peak_activation_bytes"]
    input_bytes = sum(t.numel() * t.element_size() for t in _tensors((args, kwargs)))
    analytic = _peak_input_held(graph, width, batch, input_bytes)
    tracker = StorageTracker(known)
    handles = []
    for name, module in model.named_modules():
        if name in paths and name in graph:

            def enter(module, inputs, name=name):
                tracker.where = name

            handles.append(module.register_forward_pre_hook(enter))
    try:
        with torch.no_grad(), tracker:
            out = model(*args, **kwargs)
            del out
    finally:
        for handle in handles:
            handle.remove()
    measured = tracker.peak + input_bytes  # the input was made before: the tracker did not see it
    at = tracker.peak_at
    reason = temporaries(graph[at].op) if at is not None and at in graph and at != INPUT else None
    if measured == analytic:
        ok, why = True, "equal"
    elif measured > analytic and reason:
        ok, why = True, f"at {at}, {reason}"
    else:
        ok, why = False, "unexplained difference"
    return {
        "analytic_bytes": analytic,
        "liveness_peak_bytes": liveness,  # the analysis's figure: each tensor freed after its last reader
        "measured_bytes": measured,
        "measured_at": at,
        "device_peak_bytes": None,
        "ok": ok,
        "explanation": why,
    }


def _peak_input_held(graph: Graph, width: int, batch: int, input_bytes: int) -> int:
    """netcost.analysis.memory's liveness peak as a torch model's Python keeps tensors: the
    input alive to the end (the caller holds it), and a module call's arguments alive until
    the call returns (its caller's frame holds them; ``graph.calls``, from the capture). The
    input at its own element size (token ids are int64 whatever the model's dtype)."""
    unit = width * batch
    size = {INPUT: input_bytes, **{n.name: n.shape.numel * unit for n in graph.nodes}}
    storage, created = {INPUT: INPUT}, {INPUT: -1}
    for i, node in enumerate(graph.nodes):
        storage[node.name] = storage[node.inputs[0]] if node.op.is_view else node.name
        created.setdefault(storage[node.name], i)
    end: dict[str, int] = {INPUT: len(graph.nodes)}
    for tensor, last in graph.last_use().items():
        owner = storage[tensor]
        end[owner] = max(end.get(owner, -1), last)
    calls = getattr(graph, "calls", {})
    call_end = {c: i for i, node in enumerate(graph.nodes) for c in calls.get(node.name, ())}
    for node in graph.nodes:
        mine = calls.get(node.name, ())
        for tensor in node.inputs:
            theirs = set(calls.get(tensor, ()))
            for call in mine:  # calls this layer is inside and the tensor came from outside
                if call not in theirs:
                    owner = storage[tensor]
                    end[owner] = max(end[owner], call_end[call])
    peak, _ = peak_of(graph, live_bytes(graph, {s: (born, end[s], size[s]) for s, born in created.items()}))
    return peak

"""Counting the compiled module with torch itself, fvcore and FlopCounterMode, keyed by
node name, plus what each forward hook saw (shape, bytes)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import nn

from netcost.graph import Graph


@dataclass
class Counted:
    params: dict[str, int]
    buffers: dict[str, int]
    shapes: dict[str, list[int]]
    output_bytes: dict[str, int]
    fvcore: dict[str, int] | None
    fvcore_total: int | None
    fvcore_skipped: dict[str, dict[str, int]]  # node -> aten op -> times fvcore could not count it
    flopcounter: dict[str, int]
    flopcounter_total: int
    notes: list[str] = field(default_factory=list)


def observe(model: nn.Module, graph: Graph, x: torch.Tensor, run=None):
    """``run()`` (default: one forward pass) with forward hooks recording the output shape
    and bytes of every node module; returns (run's result, (shapes, bytes))."""
    shapes, sizes, handles = {}, {}, []
    for node in graph.nodes:

        def hook(module, args, out, name=node.name):
            shapes[name] = list(out.shape)
            sizes[name] = out.numel() * out.element_size()

        handles.append(model.get_submodule(node.name).register_forward_hook(hook))
    try:
        with torch.no_grad():
            result = run() if run else model(x)
    finally:
        for h in handles:
            h.remove()
    return result, (shapes, sizes)


def count(model: nn.Module, graph: Graph, x: torch.Tensor) -> Counted:
    modules = {node.name: model.get_submodule(node.name) for node in graph.nodes}
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in modules.items()}
    buffers = {name: sum(b.numel() for b in m.buffers()) for name, m in modules.items()}
    fv, fv_total, skipped, notes = _fvcore(model, graph, x)
    (fc, fc_total), (shapes, sizes) = observe(model, graph, x, lambda: _flopcounter(model, graph, x))
    return Counted(params, buffers, shapes, sizes, fv, fv_total, skipped, fc, fc_total, notes)


def _fvcore(model, graph, x):
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        return None, None, {}, ["fvcore is not installed: its column is skipped (pip install fvcore)"]
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad():
        analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        by_module = analysis.by_module()
        # a one-tensor layer (compile: its tensor is its parent's) is no module fvcore sees: its
        # cat, add or mul goes to the parent, and is free under fvcore's rules anyway
        traced = [n.name for n in graph.nodes if n.name in by_module]
        skipped = {}
        for name in traced:
            ops = analysis.unsupported_ops(name)
            if ops:
                skipped[name] = dict(ops)
        counts = {n.name: int(by_module.get(n.name, 0)) for n in graph.nodes}
        return counts, int(analysis.total()), skipped, []


def _flopcounter(model, graph, x):
    from torch.utils.flop_counter import FlopCounterMode

    mode = FlopCounterMode(display=False)
    with torch.no_grad(), mode:
        model(x)
    root = type(model).__name__ + "."
    counts = {
        name[len(root) :]: int(sum(ops.values()))
        for name, ops in mode.get_flop_counts().items()
        if name.startswith(root)
    }
    return {n.name: counts.get(n.name, 0) for n in graph.nodes}, int(mode.get_total_flops())

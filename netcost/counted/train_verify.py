"""`netcost verify --train`: the training-cost model against one real training step.

The spec compiles into a torch module (``netcost.counted.compile.build``) put in train
mode, with the layers the analysis freezes frozen, and the real ``torch.optim`` optimizer
over its trainable parameters. The gradient sent back is a random tensor of the output's
shape (the model, not a loss, is measured). Checks:

1. **optimizer state**: the bytes of the state tensors after a step (``optimizer.state``,
   unique storages) equal the analytic state bytes exactly;
2. **gradients**: the bytes of the parameters' ``.grad`` equal the analytic ones exactly;
3. **backward FLOPs**, in total against ``FlopCounterMode`` (its count after
   ``backward()`` minus its count after the forward), per layer with FlopCounterMode's own
   formulas attributed through the running autograd node (:class:`BackwardFlops`). Exact,
   except that FlopCounterMode (torch 2.13/2.14) counts the weight gradient of a grouped
   convolution ``groups`` times over: it sizes the wgrad convolution as a dense one. Where
   the counted figure is exactly ``analytic + (groups - 1) x wgrad`` the row says so and
   passes: the analytic figure is the right one and is not changed to agree;
4. **saved activations**: the unique storages autograd holds at the end of the forward
   (``torch.autograd.graph.saved_tensors_hooks``; parameters and buffers excluded) equal
   the analytic bytes exactly, per layer and in total;
5. **peak training memory** of a steady-state step (the second: the optimizer's state
   exists, gradients were set to None) against a measured peak: a ``TorchDispatchMode``
   follows every storage the step allocates until it is freed (a weakref finaliser on the
   storage itself, so tensors autograd keeps are followed until the backward frees them);
   parameters, buffers and the optimizer's state are added as they stand. Tolerance zero
   against the analytic model run with out-of-place gradient accumulation — torch's
   autograd refuses to accumulate gradients in place while any dispatch mode is active,
   so the measurement itself adds that one tensor; the reported analytic peak is the
   in-place one. Beside it the allocator-level peak of a third, unobserved step is
   reported (the CPU profiler's memory events; ``torch.cuda.max_memory_allocated`` on
   CUDA): it includes kernel workspaces (oneDNN/cuDNN scratch, im2col buffers) that are
   not tensors and that the model does not count.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from netcost.analysis.training import (
    OPTIMIZERS,
    _Widths,
    is_frozen,
    layer_facts,
    resolve_optimizer,
    simulate_step,
    train_report,
)
from netcost.core.conventions import Convention
from netcost.counted.compile import build
from netcost.counted.device import check_device
from netcost.counted.memory import StorageTracker
from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.options import TrainOptions
from netcost.report.views import ResultViews

GROUPED_WGRAD_NOTE = "FlopCounterMode over-counts grouped wgrad by groups"
ATTENTION_BACKWARD_NOTES = {
    "cpu": "FlopCounterMode counts 0 for the CPU flash attention backward",
    "cuda": "FlopCounterMode's SDPA backward formula adds the recomputed Q·Kᵀ",
}


@dataclass
class TrainVerifyReport(ResultViews):
    TABLE: ClassVar[str] = "checks"
    TITLE: ClassVar[str] = "netcost verify --train"

    model: str
    device: str
    input: list[int]
    optimizer: str
    checks: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    analytic: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[str]:
        bad = [c["check"] for c in self.checks if not c["ok"]]
        bad += [f"{r['name']}: {k}" for r in self.rows for k in ("backward_flops", "saved") if r[k]["ok"] is False]
        return bad

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def check(self, name: str) -> dict[str, Any]:
        return next(c for c in self.checks if c["check"] == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "model": self.model,
            "device": self.device,
            "input": self.input,
            "optimizer": self.optimizer,
            "passed": self.passed,
            "mismatches": self.mismatches,
            "checks": self.checks,
            "layers": self.rows,
            "train": self.analytic,
            "notes": self.notes,
        }


def _storages(tensors) -> dict[int, int]:
    return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}


def make_optimizer(model: torch.nn.Module, optimizer: str, momentum: float, foreach: bool | None):
    spec = resolve_optimizer(optimizer, momentum)
    params = [p for p in model.parameters() if p.requires_grad]
    return getattr(torch.optim, spec.torch_class)(params, foreach=foreach, **spec.torch_kwargs)


def verify_train(
    graph: Graph,
    *,
    train: TrainOptions | None = None,
    batch: int = 2,
    device: str = "cpu",
    memory: bool = True,
) -> TrainVerifyReport:
    """One real training step of the compiled ``graph`` against :func:`train_report`, with
    the optimizer and options ``train`` gives (default: plain SGD). ``train.amp`` runs the
    forward under ``torch.autocast`` (fp16 on CUDA, bf16 on CPU: 2 bytes either way; the
    analysis follows CUDA's op lists, which agree with CPU's on conv, linear, norms but
    batchnorm, activations, pooling and merges). ``train.device`` is ignored: the step's
    device is ``device``."""
    train_options = TrainOptions() if train is None else train
    device = check_device(device)
    torch.manual_seed(0)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    optimizer, momentum, frozen, amp = (
        train_options.optimizer,
        train_options.momentum,
        train_options.freeze,
        train_options.amp,
    )
    use_foreach = kind == "cuda" if train_options.foreach is None else train_options.foreach
    modelled = replace(train_options, device=kind, foreach=use_foreach)
    report = train_report(graph, batch=batch, train=modelled, convention=Convention.FLOPCOUNTER)
    train = report.train
    if not train["trainable_params"]:
        raise NetcostError("verify --train: every layer is frozen, there is no training step to run")
    model = build(graph).to(device).train()
    for node in graph.nodes:
        if is_frozen(node.name, frozen):
            for p in model.get_submodule(node.name).parameters():
                p.requires_grad_(False)
    opt = make_optimizer(model, optimizer, momentum, use_foreach)
    shape = (batch, *graph.input_shape.dims)
    fixed = _storages([*model.parameters(), *model.buffers()])

    # step 1: FLOPs, saved tensors, gradients, optimizer state
    autocast = _autocast(device, amp)
    flops_total, flops_per_layer, saved = _first_step(model, graph, shape, device, fixed, autocast)
    grad_bytes = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    opt.step()
    state = _storages(t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor))
    opt.zero_grad(set_to_none=True)

    checks = [
        _check("optimizer state bytes", train["optimizer_state_bytes"], sum(state.values())),
        _check("gradient bytes", train["grad_bytes"], grad_bytes),
    ]
    layers = layer_facts(graph, batch, train["frozen"])
    rows, flop_check = _flop_rows(graph, report, layers, kind, flops_total, flops_per_layer, saved)
    checks.append(flop_check)
    checks.append(_check("saved activation bytes", train["saved_activation_bytes"], saved["total"]))
    notes = []
    if memory:
        checks.append(_peak_check(model, graph, opt, shape, device, fixed, state, report, use_foreach, autocast))
        notes.append(
            "peak: measured under a TorchDispatchMode, which makes autograd accumulate gradients out of "
            "place; compared with the analytic model under the same rule (the reported analytic peak is "
            "torch's in-place accumulation)"
        )
    if any(r["backward_flops"].get("note") == GROUPED_WGRAD_NOTE for r in rows):
        notes.append(
            "FlopCounterMode sizes the weight-gradient convolution of a grouped conv as a dense one and "
            "counts groups x the real work; the analytic figure counts the real work"
        )
    if any(r["backward_flops"].get("note") == ATTENTION_BACKWARD_NOTES[kind] for r in rows):
        notes.append(
            "FlopCounterMode (torch 2.13/2.14) has no formula for "
            "_scaled_dot_product_flash_attention_for_cpu_backward and counts 0 for the Q·Kᵀ and A·V "
            "gradients; the analytic figure counts them"
            if kind == "cpu"
            else "FlopCounterMode's formula for the SDPA backward counts the recomputed scores Q·Kᵀ "
            "on top of the four gradient products; the analytic figure counts the gradients"
        )
    return TrainVerifyReport(graph.name, device, list(shape), train["optimizer"], checks, rows, train, notes)


def _check(name: str, analytic: int, measured: int, **extra) -> dict[str, Any]:
    return {"check": name, "analytic": analytic, "measured": measured, "ok": analytic == measured, **extra}


class BackwardFlops(TorchDispatchMode):
    """FlopCounterMode's own formulas (``torch.utils.flop_counter.flop_registry``) applied to
    every aten operator of the backward, attributed to the layer that created the running
    autograd node (``torch._C._current_autograd_node()``): exact per-layer attribution,
    where FlopCounterMode's module tracker keeps a module "in backward" until its input's
    accumulated gradient is complete and so also counts a parallel branch in it."""

    def __init__(self, owner: dict[Any, str]):
        super().__init__()
        from torch.utils.flop_counter import flop_registry

        self.registry = flop_registry
        self.owner = owner
        self.counts: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        formula = self.registry.get(func._overloadpacket)
        if formula is not None:
            name = self.owner.get(torch._C._current_autograd_node(), "?")
            self.counts[name] = self.counts.get(name, 0) + formula(*args, **(kwargs or {}), out_val=out)
        return out


def _label(out: torch.Tensor, stop: set, name: str, owner: dict[Any, str]) -> None:
    """Every autograd node between a layer's inputs and its output belongs to that layer."""
    stack = [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in stop or fn in owner:
            continue
        owner[fn] = name
        stack.extend(next_fn for next_fn, _ in fn.next_functions)


def _autocast(device: str, amp: bool):
    kind = torch.device(device).type
    dtype = torch.float16 if kind == "cuda" else torch.bfloat16
    return lambda: torch.autocast(kind, dtype=dtype, enabled=amp)


def _first_step(model, graph: Graph, shape, device, fixed: dict[int, int], autocast):
    """One forward + backward: FlopCounterMode's totals, the backward FLOPs per layer,
    and the saved tensors of the forward attributed to the layer whose output they are
    (or, for a tensor private to a layer, the layer that made it)."""
    from torch.utils.flop_counter import FlopCounterMode

    outputs: dict[int, str] = {}  # live storage -> node whose output it is
    current: dict[str, Any] = {"node": None, "stop": set()}
    owner: dict[Any, str] = {}  # autograd node -> layer
    handles = []

    def forget(ptr: int, name: str) -> None:
        if outputs.get(ptr) == name:
            del outputs[ptr]

    for node in graph.nodes:
        module = model.get_submodule(node.name)

        def pre(module, args, name=node.name):
            current["node"] = name
            current["stop"] = {a.grad_fn for a in args if isinstance(a, torch.Tensor)}

        def post(module, args, out, name=node.name):
            storage = out.untyped_storage()
            ptr = storage.data_ptr()
            if all(not isinstance(a, torch.Tensor) or a.untyped_storage().data_ptr() != ptr for a in args):
                outputs[ptr] = name
                weakref.finalize(storage, forget, ptr, name)
            _label(out, current["stop"], name, owner)

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    kept: dict[int, tuple[int, str | None]] = {}  # storage -> (bytes, layer that kept it)

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in fixed and storage.nbytes():
            kept.setdefault(ptr, (storage.nbytes(), current["node"]))
        return t

    x = torch.randn(shape, device=device)
    input_ptr = x.untyped_storage().data_ptr()
    mode = FlopCounterMode(display=False)
    per_layer_flops = BackwardFlops(owner)
    try:
        with mode:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast():
                out = model(x)
            forward = mode.get_total_flops()
            per_layer: dict[str, int] = {}  # resolved now: the backward frees these storages
            for ptr, (nbytes, keeper) in kept.items():
                name = "input" if ptr == input_ptr else outputs.get(ptr, keeper)
                per_layer[name] = per_layer.get(name, 0) + nbytes
            grad = torch.randn_like(out)
            with per_layer_flops:
                out.backward(grad)
            backward = mode.get_total_flops() - forward
    finally:
        for h in handles:
            h.remove()
    saved = {"total": sum(n for n, _ in kept.values()), "per_layer": per_layer}
    return backward, per_layer_flops.counts, saved


def _flop_rows(graph: Graph, report, layers, kind: str, total: int, counts: dict[str, int], saved):
    rows = []
    analytic_total = over = 0
    flopcounter = Convention.FLOPCOUNTER
    for node, row, layer in zip(graph.nodes, report.rows, layers, strict=True):
        counted = counts.get(node.name, 0)
        analytic = row["backward_flops"]
        analytic_total += analytic
        cell = {"analytic": analytic, "counted": counted, "ok": analytic == counted}
        groups = getattr(node.op, "groups", 1)
        missed = flopcounter.per_mac * flopcounter.backward_missed(layer.backward, kind) if layer.needs_grad else 0
        if not cell["ok"] and node.op.kind in ("conv", "conv_transpose") and groups > 1:
            extra = (groups - 1) * row["wgrad_flops"]
            if counted == analytic + extra:
                cell.update(ok=True, note=GROUPED_WGRAD_NOTE, overcount=extra)
                over += extra
        elif not cell["ok"] and missed and counted == analytic - missed:
            cell.update(ok=True, note=ATTENTION_BACKWARD_NOTES[kind], missed=missed)
            over -= missed
        measured_saved = saved["per_layer"].get(node.name, 0)
        rows.append(
            {
                "name": node.name,
                "op": node.op.kind,
                "dgrad_flops": row["dgrad_flops"],
                "wgrad_flops": row["wgrad_flops"],
                "backward_flops": cell,
                "saved": {
                    "analytic": row["saved_activation_bytes"],
                    "measured": measured_saved,
                    "ok": row["saved_activation_bytes"] == measured_saved,
                },
            }
        )
    check = _check("backward FLOPs (FlopCounterMode)", analytic_total, total)
    if not check["ok"] and total == analytic_total + over:
        notes = {r["backward_flops"]["note"] for r in rows if r["backward_flops"].get("note")}
        check.update(ok=True, note=f"{'; '.join(sorted(notes))}: {over:+,} counted")
    unattributed = counts.get("?", 0)
    if unattributed:
        check.update(ok=False, note=f"{unattributed:,} backward FLOPs ran outside any layer")
    return rows, check


def _peak_check(model, graph, opt, shape, device, fixed, state, report, foreach, autocast) -> dict[str, Any]:
    train = report.train
    base = sum(fixed.values()) + sum(state.values())
    known = set(fixed) | set(state)
    tracker = StorageTracker(known)
    handles = []
    for node in graph.nodes:

        def pre(module, args, name=node.name):
            tracker.where = f"forward {name}"

        handles.append(model.get_submodule(node.name).register_forward_pre_hook(pre))
    try:
        with tracker:
            _step(model, opt, shape, device, autocast, tracker)
    finally:
        for h in handles:
            h.remove()
    measured = base + tracker.peak

    # the analytic model under the measurement's own rule (out-of-place accumulation)
    layers = layer_facts(graph, shape[0], train["frozen"])
    widths = _Widths(graph, "fp32", train["amp"])
    base_items = {
        "parameters": train["param_bytes"],
        "buffers": train["buffer_bytes"],
        "optimizer state": train["optimizer_state_bytes"],
    }
    kind = "cuda" if device.startswith("cuda") else "cpu"
    comparable = simulate_step(
        graph, layers, widths, shape[0], base_items, OPTIMIZERS[train["optimizer"]], foreach, kind, True
    )
    allocator = _allocator_peak(model, opt, shape, device, autocast)
    check = _check("peak training memory", comparable.bytes, measured)
    check.update(
        analytic_in_place=train["peak_train_bytes"],
        analytic_at=f"{comparable.phase} {comparable.node or ''}".strip(),
        measured_at=tracker.peak_at,
        allocator_peak_bytes=None if allocator is None else base + allocator,
        tolerance="0 bytes",
    )
    return check


def _step(model, opt, shape, device, autocast, tracker=None) -> None:
    x = [torch.randn(shape, device=device)]
    with autocast():
        out = model(x)
    grad = torch.randn_like(out)
    if tracker is not None:
        tracker.where = "backward"
    out.backward(grad)
    del out, grad
    if tracker is not None:
        tracker.where = "optimizer step"
    opt.step()
    opt.zero_grad(set_to_none=True)


def _allocator_peak(model, opt, shape, device, autocast) -> int | None:
    """Peak bytes the allocator handed out during one unobserved step, above what existed
    before it (the CPU profiler's memory events; CUDA's allocator statistics)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        _step(model, opt, shape, device, autocast)
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile

    from netcost.usercode import stderr_silenced

    try:
        with stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            _step(model, opt, shape, device, autocast)
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except Exception:  # pragma: no cover - profiler unavailable
        return None
    current = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak

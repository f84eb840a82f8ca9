"""Counting a real torch model: no spec, the model itself is run and counted.

Parameters and buffers come from torch. MACs, FLOPs and elementwise work come from our own
``TorchDispatchMode``, which sees every aten op the forward pass runs — functional calls
(``F.conv2d``, ``x + y``, ``x += 1``, ``q @ k.T``) as well as module calls — and counts it
by the rules of :mod:`netcost.counted.aten_rules` (the README's table, at the aten level). Ops with no rule are
listed in ``meta["unsupported_ops"]`` and the report is marked ``partial``; they are never
silently counted as zero.

Work is attributed to the innermost module running, found with forward pre/post hooks that
exist only for the duration of the count. A leaf module gives one row (summed over its
calls, with ``calls``); work done functionally in a parent's ``forward`` gives a row named
after that parent. Every op lands in exactly one row, so totals are the sum of the rows.

By default a ``package.module:callable`` is built on the ``meta`` device: shapes only, no
memory, so a model too large for this machine can still be counted. What cannot run on
meta (data-dependent ops such as ``.item()``) is counted on CPU instead, with a note.
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map

from netcost import __version__
from netcost.analysis.counts import DTYPE_BYTES
from netcost.core.conventions import Convention, gap_notes, tool_gaps
from netcost.counted.aten_rules import (
    ADAPTIVE_AVG,
    ALIASING,
    NOTHING,
    ZERO_COST,
    Rule,
    Work,
    no_arithmetic,
    numel,
    rule_for,
)
from netcost.counted.device import check_device
from netcost.counted.memory import StorageTracker
from netcost.errors import NetcostError, UserCodeError
from netcost.options import CountOptions, TorchInput
from netcost.report.model import SUMMED, Report
from netcost.text import one_line
from netcost.usercode import FACTORY, FORWARD, describe, load_callable, ordinary, user_code

ROOT = "(root)"  # the row name of work done in the top-level module's own forward
MODES = {  # the mode a model is counted in, as the report's notes say it
    "eval": "mode: eval (model.eval(): BatchNorm on its running statistics, dropout off)",
    "train": "mode: train (model.train() under no_grad: BatchNorm on the batch's statistics, dropout on)",
}
PATH_NOTE = "counted along the path of the example input (data-dependent control flow may take others)"
FORWARD_HINT = "--input gives one sample's shape (e.g. 3x224x224); the model must take one tensor"


def _free(a, out, run) -> Work:
    """The rule of an op that does no arithmetic."""
    return NOTHING


def _bind(func, args: tuple, kwargs: dict) -> dict[str, Any]:
    """An op's arguments by schema name, defaults filled in."""
    bound = {}
    for i, arg in enumerate(func._schema.arguments):
        if i < len(args) and not arg.kwarg_only:
            bound[arg.name] = args[i]
        elif arg.name in kwargs:
            bound[arg.name] = kwargs[arg.name]
        elif arg.has_default_value():
            bound[arg.name] = arg.default_value
    return bound


def _tensors(value: Any, found: list | None = None) -> list[torch.Tensor]:
    """The tensors in an op's arguments or outputs (tensors in tuples, lists and dicts), in
    order: what pytree's leaves would give, without its cost on every op."""
    found = [] if found is None else found
    if isinstance(value, torch.Tensor):
        found.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, torch.Tensor):
                found.append(item)
            elif isinstance(item, (tuple, list, dict)):
                _tensors(item, found)
    elif isinstance(value, dict):
        _tensors(tuple(value.values()), found)
    return found


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    tensors = _tensors(value)
    return tensors[0] if tensors else None


def op_kind(func) -> tuple[str, Rule | None, bool]:
    """(name, rule or None if unsupported, is a view) of an aten (or other) op: the counting
    rules' verdict on it, shared with the capture (netcost.sources.torch_capture)."""
    name = func._schema.name.partition("::")[2]
    aten = func.namespace == "aten"
    view = func.is_view or name in ALIASING
    if aten and (name in ZERO_COST or (name.endswith("_") and name[:-1] in ZERO_COST)):
        rule = _free
    else:
        rule = rule_for(name) if aten else None
        if rule is None and no_arithmetic(func):
            rule = _free
            view = view or not aten  # a marker or handle: no activation of its own
    return name, rule, view


def bind(func, args: tuple, kwargs: dict) -> dict[str, Any]:
    """An op's arguments by schema name, defaults filled in (what a rule reads)."""
    return _bind(func, args, kwargs)


# --- one counting run ------------------------------------------------------------------


@dataclass
class _Slot:
    """What one module did over the run: its own calls, or the functional work in its forward."""

    name: str
    module: nn.Module
    work: Work = field(default_factory=Work)
    calls: int = 0
    leaf_calls: int = 0  # calls during which no submodule ran: the module is one layer
    first_call: int | None = None  # order of its first call
    first_op: int | None = None  # order of its first functional op (work done beside its submodules)
    output_shape: list[int] | None = None
    activation_bytes: int = 0
    ops: dict[str, None] = field(default_factory=dict)  # functional ops that did work, in order
    unsupported: Counter = field(default_factory=Counter)

    def owns_tensors(self) -> bool:
        return any(t is not None for t in (*self.module._parameters.values(), *self.module._buffers.values()))


@dataclass
class _Frame:
    """One call under way. Until it ends we do not know whether a submodule runs inside it;
    if none does, the call is one layer (its output is its activation, its inputs and output
    its op io); otherwise the functional ops in its own forward are, each."""

    slot: _Slot
    in_bytes: int
    child_ran: bool = False
    first_op: int | None = None
    op_bytes: int = 0
    io: int = 0
    ops: dict[str, None] = field(default_factory=dict)


class _Run:
    def __init__(self, model: nn.Module, batch: int, width: int, tracker: StorageTracker | None):
        self.batch, self.width, self.tracker = batch, width, tracker
        self.slots = {id(m): _Slot(name or ROOT, m) for name, m in model.named_modules()}
        self.root = self.slots[id(model)]
        self.outside = _Frame(self.root, 0, child_ran=True)  # ops before the root's hooks ran
        self.stack: list[_Frame] = []
        self.clock = 0
        self.unsupported: Counter = Counter()
        self.weights = {id(t) for t in (*model.parameters(), *model.buffers())}
        self._pinned: list[torch.Tensor] = []  # views of weights, kept alive so their ids stay theirs
        self.max_io, self.max_io_at = 0, None
        self.adaptive_pooling = 0  # > 0 inside F.adaptive_avg_pool*d (seen by _Functions)
        self._kinds: dict[Any, tuple[str, Rule | None, bool]] = {}

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def frame(self) -> _Frame:
        return self.stack[-1] if self.stack else self.outside

    def _bytes(self, values: Any) -> int:
        """Bytes at the report's dtype of the distinct non-weight tensors in ``values``."""
        seen = {id(t): t for t in _tensors(values) if id(t) not in self.weights}
        return sum(t.numel() for t in seen.values()) * self.width

    def _io(self, slot: _Slot, nbytes: int) -> None:
        if nbytes > self.max_io:
            self.max_io, self.max_io_at = nbytes, slot.name

    # forward hooks
    def enter(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        slot = self.slots[id(module)]
        slot.calls += 1
        if slot.first_call is None:
            slot.first_call = self.tick()
        self.frame().child_ran = True
        self.stack.append(_Frame(slot, self._bytes((args, kwargs))))
        if self.tracker is not None:
            self.tracker.where = slot.name

    def leave(self, module: nn.Module, output: Any) -> None:
        if not self.stack or self.stack[-1].slot.module is not module:
            return
        frame = self.stack.pop()
        slot = frame.slot
        first = _first_tensor(output)
        if first is not None:
            slot.output_shape = list(first.shape)
        slot.ops.update(frame.ops)
        if frame.child_ran:
            self._commit(frame)
        else:
            out_bytes = self._bytes(output)
            slot.leaf_calls += 1
            slot.activation_bytes += out_bytes
            self._io(slot, frame.in_bytes + out_bytes)
        if self.tracker is not None:
            self.tracker.where = self.frame().slot.name

    def _commit(self, frame: _Frame) -> None:
        slot = frame.slot
        if frame.first_op is not None and slot.first_op is None:
            slot.first_op = frame.first_op
        slot.activation_bytes += frame.op_bytes
        self._io(slot, frame.io)

    def finish(self) -> None:
        self.outside.slot.ops.update(self.outside.ops)
        self._commit(self.outside)
        self._pinned.clear()

    # every aten op
    def _kind(self, func) -> tuple[str, Rule | None, bool]:
        """(name, rule or None if unsupported, is a view) of an op, found once per op."""
        kind = self._kinds[func] = op_kind(func)
        return kind

    def op(self, func, args: tuple, kwargs: dict, out: Any) -> None:
        frame = self.frame()
        name, rule, view = self._kinds.get(func) or self._kind(func)
        first = out if isinstance(out, torch.Tensor) else _first_tensor(out)
        if rule is _free:
            work = NOTHING
        elif rule is not None:
            work = rule(_bind(func, args, kwargs), first, self)
        else:
            label = str(func.overloadpacket)
            self.unsupported[label] += 1
            frame.slot.unsupported[label] += 1
            return
        if work is not NOTHING:
            frame.slot.work += work
        if view and any(id(t) in self.weights for t in _tensors(args)):
            self.weights.add(id(out))  # a weight's transpose (linear) is a weight, not an activation
            self._pinned.append(out)
        if view:
            return
        if frame.first_op is None:
            frame.first_op = self.tick()
        if work is not NOTHING:
            frame.ops[name] = None
        out_bytes = numel(first) * self.width
        frame.op_bytes += out_bytes
        frame.io = max(frame.io, self._bytes((args, kwargs)) + out_bytes)


class _Counter(TorchDispatchMode):
    def __init__(self, run: _Run):
        super().__init__()
        self.run = run

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.run.op(func, args, kwargs, out)
        return out


class _Functions(TorchFunctionMode):
    """Notes when an op runs inside ``F.adaptive_avg_pool*d``, for fvcore's convention."""

    def __init__(self, run: _Run):
        super().__init__()
        self.run = run

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", None) not in ADAPTIVE_AVG:
            return func(*args, **(kwargs or {}))
        self.run.adaptive_pooling += 1
        try:
            return func(*args, **(kwargs or {}))
        finally:
            self.run.adaptive_pooling -= 1


@contextlib.contextmanager
def _instrumented(model: nn.Module, run: _Run, mode: str):
    """``mode`` (eval or train) and forward hooks for the duration of the count; afterwards
    every module's training flag and buffers (train mode updates BatchNorm's running
    statistics) are as they were and no hook remains."""
    training = [(m, m.training) for m in model.modules()]
    saved = [(b, b.clone()) for b in model.buffers() if b.device.type != "meta"] if mode == "train" else []
    handles = []
    try:
        for slot in run.slots.values():
            m = slot.module
            handles.append(m.register_forward_pre_hook(_pre(run), prepend=True, with_kwargs=True))
            handles.append(m.register_forward_hook(_post(run), always_call=True))
        model.train(mode == "train")
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
        for handle in handles:
            handle.remove()
        for m, mode in training:
            m.training = mode


def _pre(run: _Run):
    def hook(module, args, kwargs):
        run.enter(module, args, kwargs)

    return hook


def _post(run: _Run):
    def hook(module, args, output):
        run.leave(module, output)

    return hook


# --- running the model -----------------------------------------------------------------


@dataclass
class _Result:
    run: _Run
    device: str
    peak: int | None
    peak_at: str | None
    input_dtype: torch.dtype
    run_width: int  # bytes per element of the model's floating tensors as run
    input_shape: list[int]  # the first input's shape, batch included


def _model_device(model: nn.Module) -> torch.device:
    tensor = next(iter((*model.parameters(), *model.buffers())), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _float_dtype(model: nn.Module) -> torch.dtype:
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _input_dtype(model: nn.Module) -> torch.dtype:
    """int64 token ids for a model that starts with an embedding, else the weights' float type."""
    first_leaf = next((m for m in model.modules() if not any(True for _ in m.children())), None)
    if isinstance(first_leaf, (nn.Embedding, nn.EmbeddingBag)):
        return torch.int64
    return _float_dtype(model)


def _make_input(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An input of ``shape``: integers and booleans are zeros (a valid id for any
    embedding; ``False``, nothing masked), floats the same seeded noise every time."""
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype, device=device)
    if device.type == "meta":
        return torch.empty(shape, dtype=dtype, device=device)
    gen = torch.Generator(device=device).manual_seed(0)  # the same input every time
    return torch.randn(shape, dtype=dtype, generator=gen, device=device)


@dataclass(frozen=True)
class _Example:
    """Inputs the factory returned with the model (``(model, args)`` or ``(model, args,
    kwargs)``): used as given, batch dimension included."""

    args: tuple
    kwargs: dict


def _inputs(model: nn.Module, inputs, batch: int, device: torch.device) -> tuple[tuple, dict, torch.dtype]:
    """The forward's arguments: ``inputs`` (TorchInputs, the batch prepended to each) or
    an :class:`_Example`'s tensors (moved to the model's device)."""
    if isinstance(inputs, _Example):
        moved = tree_map(lambda v: v.to(device) if isinstance(v, torch.Tensor) else v, (inputs.args, inputs.kwargs))
        first = _first_tensor(moved)
        return moved[0], moved[1], first.dtype if first is not None else _float_dtype(model)
    args, kwargs, dtypes = [], {}, []
    for item in inputs:
        dtype = getattr(torch, item.dtype) if item.dtype else _input_dtype(model)
        tensor = _make_input((batch, *item.shape), dtype, device)
        dtypes.append(dtype)
        if item.name:
            kwargs[item.name] = tensor
        else:
            args.append(tensor)
    return tuple(args), kwargs, dtypes[0]


def _described(inputs, batch: int) -> str:
    if isinstance(inputs, _Example):
        shapes = [list(t.shape) for t in tree_leaves((inputs.args, inputs.kwargs)) if isinstance(t, torch.Tensor)]
        return f"the forward pass on the factory's example inputs {shapes}"
    shown = ", ".join(
        f"{i.name + '=' if i.name else ''}{[batch, *i.shape]}{' ' + i.dtype if i.dtype else ''}" for i in inputs
    )
    return f"the forward pass on {'an input' if len(inputs) == 1 else 'inputs'} of shape {shown}"


def _run(model: nn.Module, inputs, batch: int, width: int, label: str, *, mode: str) -> _Result:
    """Count one forward pass of ``model`` (the user's code: run inside the boundary)."""
    device = _model_device(model)
    tracker = None
    if device.type != "meta":  # real storages: the peak of live activations can be measured
        known = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
        tracker = StorageTracker(known)
    run = _Run(model, batch, width, tracker)
    try:
        with _instrumented(model, run, mode), torch.no_grad(), tracker or contextlib.nullcontext():
            args, kwargs, dtype = _inputs(model, inputs, batch, device)
            first = _first_tensor((args, kwargs))
            first_shape = list(first.shape) if first is not None else []
            del first
            detail = _described(inputs, batch)
            with user_code(label, FORWARD, detail, FORWARD_HINT), _Functions(run), _Counter(run):
                out = model(*args, **kwargs)
            del out, args, kwargs
    finally:
        run.finish()
    run_width = torch.empty((), dtype=_float_dtype(model)).element_size()
    peak = peak_at = None
    if tracker is not None:
        peak, peak_at = tracker.peak * width // run_width, tracker.peak_at
    return _Result(run, str(device), peak, peak_at, dtype, run_width, first_shape)


def construct(reference: str, device: str) -> tuple[nn.Module, _Example | None]:
    """``reference()`` built under ``torch.device(device)``, as user code: the model, and
    the example inputs where the factory returned ``(model, args[, kwargs])``."""
    factory = load_callable(reference)
    with user_code(reference, FACTORY, f"{one_line(reference)}() on {device}"), torch.device(device):
        made = factory()
    example = None
    if isinstance(made, tuple) and made and isinstance(made[0], nn.Module):
        if (
            len(made) not in (2, 3)
            or not isinstance(made[1], (tuple, list))
            or (len(made) == 3 and not isinstance(made[2], dict))
        ):
            raise NetcostError(
                f"{one_line(reference)}() returned a tuple that is not (model, args) or (model, args, kwargs)",
                hint="args: a tuple of the forward's positional inputs; kwargs: a dict of its keyword inputs",
            )
        made, example = made[0], _Example(tuple(made[1]), dict(made[2]) if len(made) == 3 else {})
    if not isinstance(made, nn.Module):
        raise NetcostError(f"{one_line(reference)}() returned {type(made).__name__}, not a torch.nn.Module")
    return made, example


NEEDS_INPUT_HINT = (
    "give one sample's shape: --input 3x224x224, --input 128:int64, "
    "--input input_ids=128:int64 (repeat for several), or return (model, args) from the factory"
)


def forward_args(
    model: nn.Module, inputs: Sequence[TorchInput], example: _Example | None, batch: int, label: str
) -> tuple[tuple, dict, int]:
    """``model``'s forward arguments on its device: ``inputs`` (each one sample, ``batch``
    prepended), else the factory's ``example`` inputs as given (their batch: the first
    dimension); neither is an error, never a guessed input."""
    if inputs:
        args, kwargs, _ = _inputs(model, tuple(inputs), batch, _model_device(model))
        return args, kwargs, batch
    if example is None:
        raise NetcostError(f"{one_line(label)} needs an input: netcost does not guess one", hint=NEEDS_INPUT_HINT)
    args, kwargs, _ = _inputs(model, example, batch, _model_device(model))
    return args, kwargs, _example_batch(example)


def _example_batch(example: _Example) -> int:
    first = _first_tensor((example.args, example.kwargs))
    return int(first.shape[0]) if first is not None and first.dim() else 1


def _build_and_run(
    reference: str, inputs, batch, width, device: str, notes: list[str], *, mode: str
) -> tuple[_Result, int]:
    model, example = construct(reference, device)
    if inputs is None:
        if example is None:
            raise NetcostError(
                f"{one_line(reference)} needs an input: netcost does not guess one", hint=NEEDS_INPUT_HINT
            )
        inputs, batch = example, _example_batch(example)
        notes.append(f"inputs: the factory's example inputs, used as given (batch {batch}, their first dimension)")
    return _run(model, inputs, batch, width, reference, mode=mode), batch


def _count_reference(
    reference: str, inputs, batch, width, device: str, notes: list[str], *, mode: str
) -> tuple[_Result, int]:
    """Count ``reference()``; ``inputs`` None: the factory's own example inputs. On meta,
    what cannot run there is counted on CPU instead (with a note)."""
    if device == "meta":
        try:
            return _build_and_run(reference, inputs, batch, width, "meta", notes, mode=mode)
        except UserCodeError as exc:  # data-dependent ops (.item(), .tolist()) need real storage
            if not ordinary(exc):  # an exit or an interrupt: no second try
                raise
            step = "building it" if exc.stage == FACTORY else "the forward pass"
            notes.append(f"{step} on the meta device failed ({describe(exc.original)}); counted on CPU instead")
            device = "cpu"
    return _build_and_run(reference, inputs, batch, width, device, notes, mode=mode)


def _count_module(model: nn.Module, inputs, batch, width, notes: list[str], *, mode: str) -> _Result:
    label = type(model).__name__
    if _model_device(model).type != "meta":
        return _run(model, inputs, batch, width, label, mode=mode)
    try:
        return _run(model, inputs, batch, width, label, mode=mode)
    except UserCodeError as exc:
        if not ordinary(exc):
            raise
        notes.append(
            f"the forward pass on the meta device failed ({describe(exc.original)}); "
            "counted an uninitialised CPU copy instead"
        )
    return _run(copy.deepcopy(model).to_empty(device="cpu"), inputs, batch, width, label, mode=mode)


# --- the report ------------------------------------------------------------------------


def _ordered(run: _Run) -> list[_Slot]:
    """Rows in execution order: modules called as one layer, modules with functional work
    of their own, then the top-level module's own work (``(root)``: the functional ops of
    its forward, wherever they ran), then modules never called that hold parameters or
    buffers (so that the rows add up to the totals)."""
    called, uncalled = [], []
    for slot in run.slots.values():
        did = slot.first_op is not None or not slot.work.is_nothing() or slot.unsupported
        if slot.calls == 0 and slot.owns_tensors():
            uncalled.append(slot)
        elif slot.calls and (slot.leaf_calls or did or slot.owns_tensors()):
            called.append(slot)

    def order(slot: _Slot) -> int:
        return slot.first_call if slot.leaf_calls or slot.first_op is None else slot.first_op

    root = [slot for slot in called if slot is run.root]
    return sorted((slot for slot in called if slot is not run.root), key=order) + root + uncalled


def _owned(slot: _Slot, tensors, seen: dict[int, str], notes: list[str], kind: str) -> int:
    total = 0
    for t in tensors:
        if t is None:
            continue
        if id(t) in seen:
            notes.append(f"{slot.name}: shares {t.numel():,} {kind} elements with {seen[id(t)]} (counted once there)")
            continue
        seen[id(t)] = slot.name
        total += t.numel()
    return total


def _rows(run: _Run, convention: Convention, notes: list[str]) -> list[dict[str, Any]]:
    rows, seen_params, seen_buffers = [], {}, {}
    for slot in _ordered(run):
        m = slot.module
        ops = "forward: " + ", ".join(slot.ops) if slot.ops else ""
        if slot.calls and not slot.leaf_calls:  # a parent: what its own forward computed
            args = ops or "forward"
        elif type(m).__module__.startswith("torch.nn."):
            args = m.extra_repr()
        else:  # a layer of the user's own: its settings, else the ops it ran
            args = m.extra_repr() or ops
        rows.append(
            {
                "name": slot.name,
                "op": type(m).__name__,
                "args": args,
                "output_shape": slot.output_shape,
                "output_layout": None,  # a torch tensor does not say which dims are channels
                "params": _owned(slot, m._parameters.values(), seen_params, notes, "parameter"),
                "buffers": _owned(slot, m._buffers.values(), seen_buffers, notes, "buffer"),
                "macs": slot.work.macs,
                "flops": slot.work.flops(convention),
                "elementwise_flops": slot.work.elementwise,
                "attention_macs": slot.work.attention,
                "mha_projection_macs": slot.work.mha_projections,
                "rf_size": None,
                "rf_jump": None,
                "rf_start": None,
                "rf_global": False,
                "activation_bytes": slot.activation_bytes,
                "calls": slot.calls,
            }
        )
    return rows


def _notes(result: _Result, width: int, dtype: str) -> list[str]:
    notes = []
    if not result.input_dtype.is_floating_point:
        kind = str(result.input_dtype).removeprefix("torch.")
        notes.append(f"input: {kind} zeros (valid token ids for any embedding)")
    if result.peak is None:
        notes.append(
            "peak activation memory is measured on real storages, not on the meta device: "
            "use --device cpu (device='cpu')"
        )
    elif width != result.run_width:
        notes.append(f"peak activation memory measured on {8 * result.run_width}-bit storages, scaled to {dtype}")
    for slot in result.run.slots.values():
        if slot.unsupported:
            ops = ", ".join(f"{op} x{n}" for op, n in sorted(slot.unsupported.items()))
            notes.append(f"not counted at {slot.name}: {ops}")
    return notes


def count_model(
    model: nn.Module | str,
    input_shape: Sequence[int] | None = None,
    *,
    inputs: Sequence[TorchInput | str] | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention | str = Convention.NETCOST,
    device: str = "meta",
    mode: str = "eval",
) -> Report:
    """The counted Report of a torch model: an ``nn.Module`` (counted on its own device,
    left exactly as it was) or a ``package.module:callable`` built with no arguments (on
    ``device``, by default ``meta``: shapes only, nothing allocated).

    ``input_shape``: one sample of the one positional input (the batch is prepended);
    ``inputs`` instead: the forward's inputs (TorchInputs or text such as ``'128:int64'``,
    ``'attention_mask=128:int64'``), each one sample. Neither: the example inputs the
    factory returned with the model, used as given. ``mode``: ``eval`` (BatchNorm on its
    running statistics, dropout off) or ``train`` (BatchNorm on the batch's statistics,
    dropout on; still no gradients). The keywords are those of
    :class:`netcost.options.CountOptions`."""
    if inputs is None and input_shape is not None:
        inputs = (TorchInput(None, tuple(input_shape)),)
    options = CountOptions(
        inputs=inputs or (), batch=batch, dtype=dtype, convention=convention, device=device, mode=mode
    )
    return count(model, options)


def count(model: nn.Module | str, options: CountOptions) -> Report:
    """:func:`count_model` with its options as one record (model sources call this)."""
    convention, dtype, mode, batch = options.convention, options.dtype, options.mode, options.batch
    width, notes = DTYPE_BYTES[dtype], [MODES[mode], PATH_NOTE]
    given = options.inputs or None
    if isinstance(model, str):
        device = check_device(options.device, "device", meta=True)
        result, batch = _count_reference(model, given, batch, width, device, notes, mode=mode)
    else:
        if given is None:
            raise NetcostError(
                f"counting {type(model).__name__}: an nn.Module needs its inputs",
                hint="inputs=['3x224x224'] (one sample each; the batch is prepended)",
            )
        result = _count_module(model, given, batch, width, notes, mode=mode)
    run = result.run
    rows = _rows(run, convention, notes)
    notes += _notes(result, width, dtype)
    summed = {key: sum(r[key] for r in rows) for key in SUMMED}
    whole = Work()
    for slot in run.slots.values():
        whole += slot.work
    whole = whole.as_cost()
    notes += gap_notes(whole)
    totals = {
        "params": summed["params"],
        "buffers": summed["buffers"],
        "param_bytes": summed["params"] * width,
        "macs": summed["macs"],
        "flops": summed["flops"],
        "elementwise_flops": summed["elementwise_flops"],
        "attention_macs": summed["attention_macs"],
        "mha_projection_macs": summed["mha_projection_macs"],
        "counter_gaps": tool_gaps(whole),
        "activation_bytes": summed["activation_bytes"],
        "peak_activation_bytes": result.peak,
        "max_op_io_bytes": run.max_io,
        "receptive_field": None,
    }
    return Report(
        model=model if isinstance(model, str) else type(model).__name__,
        convention=convention.value,
        input=result.input_shape,
        vars={},
        dtype=dtype,
        rows=rows,
        totals=totals,
        meta={
            "netcost_version": __version__,
            "convention_description": convention.description,
            "reference": model if isinstance(model, str) else None,
            "source": "counted",
            "device": result.device,
            "mode": mode,
            "peak_at": result.peak_at,
            "max_op_io_at": run.max_io_at,
            "unsupported_ops": dict(sorted(run.unsupported.items())),
            "partial": bool(run.unsupported),
            "notes": notes,
        },
    )

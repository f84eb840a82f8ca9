"""Training cost of one step: backward FLOPs per layer and training memory, itemised.

**FLOPs.** Each layer's backward is its own rule (``Op.backward``), not a factor of the
forward: the input gradient (dgrad) and the weight gradient (wgrad) of a conv or linear
layer each take the forward's MACs — divided by ``groups`` like the forward, since every
weight still meets every output position once. The first layer has no dgrad (the network
input needs no gradient), a frozen layer no wgrad, and a layer nothing trainable feeds
and that trains nothing has no backward at all. FLOPs are 2 x MACs (1 x under the fvcore
and pycls conventions, whose unit is the MAC); the elementwise backward work (bias
gradients, activation derivatives, norm reductions, pooling scatters) is counted apart.
A training step is forward + backward.

**Memory, itemised**, for a step in steady state: the optimizer's state exists (created at
the first step) and the gradients were set to None after the previous step (torch's
``zero_grad()`` default).

- parameters and buffers (batchnorm running statistics; ``num_batches_tracked`` is int64);
- gradients: one per trainable parameter, in the parameters' dtype;
- optimizer state: :data:`OPTIMIZER_STATE` parameter-sized buffers per trainable
  parameter, plus the 0-d fp32 ``step`` tensor torch keeps per parameter tensor for
  AdaGrad, RMSProp, Adam and AdamW (SGD keeps none);
- saved activations: what autograd keeps for the backward, op by op (``Op.saved``, as
  ``torch.autograd.graph.saved_tensors_hooks`` sees it in torch 2.x): a conv keeps its
  input, ReLU its output, batchnorm its input and two fp32 statistics per channel, max
  pool its input and int64 indices, add and concat nothing. A tensor two layers keep (the
  ReLU's output that the next conv reads) is counted once.

**Peak.** The step is simulated in execution order, allocation by allocation, at the
granularity of torch operators:

1. forward: every output is allocated; a tensor is freed after its last reader unless a
   backward keeps it, then after the last backward that reads it;
2. backward, in reverse execution order, from a seed gradient of the output's size (held
   with the output until the backward ends, as a loss or a caller holds them): each
   layer allocates its input gradients (views of the output gradient for add, concat and
   flatten), its parameter gradients (kept until the step) and any transient of its own
   (``BackwardCost.transient``); then frees its output gradient and what it kept. A
   tensor read by several layers accumulates its gradients in place, as torch's autograd
   does when one of the two is not referenced elsewhere (out of place otherwise, or under
   any ``TorchDispatchMode``: ``accumulate_out_of_place``);
3. the optimizer step: gradients and state, plus its temporaries. torch's default on CPU
   is a loop over the parameters (Adam keeps the previous parameter's denominator while
   computing the next one's square root and quotient: ``max(prev + 2 x size)``); on CUDA
   the ``foreach`` implementation, whose temporaries span every parameter at once (one
   copy for Adam, AdamW, RMSProp; two for AdaGrad; none for SGD).

The peak is the largest live total, with parameters, buffers and optimizer state
included. Not modelled: kernel workspaces (cuDNN/oneDNN scratch, im2col buffers) and the
allocator's block rounding, and the loss (a few bytes per sample for a cross-entropy).

**AMP** (``amp=True``, CUDA ``torch.autocast`` semantics): parameters, gradients and
optimizer state stay fp32 — the parameters *are* the master weights, autocast keeps no
persistent half copy. It casts per op: conv and linear run in half precision, so their
outputs (and everything downstream that does not promote) are 2-byte activations; softmax,
layer/group norm and LRN run in fp32 (autocast's fp32 list). The half copies it makes of
each conv/linear weight live through the forward (autocast's cast cache) and the conv
(and a linear whose input needs a gradient) keeps its copy until its backward: they are
counted as saved tensors (``amp_weight_copies``), as is the half copy of an fp32 input a
conv or linear casts. The layer computes the half copy's gradient; the cast's backward
then makes the fp32 parameter gradient, after the layer has freed what it kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch

from netcost.analysis.counts import DTYPE_BYTES, analyze_graph, collector_paused
from netcost.core.conventions import Convention
from netcost.core.cost import BackwardCost, Saved
from netcost.graph import INPUT, Graph, Node
from netcost.options import TrainOptions
from netcost.report.model import Report


@dataclass(frozen=True)
class Optimizer:
    """An optimizer as torch.optim implements it: its state and its step's temporaries."""

    name: str
    buffers: int  # parameter-sized state tensors per trainable parameter
    step_counter: bool  # a 0-d fp32 ``step`` tensor per parameter tensor
    loop_temps: tuple[int, int]  # for-loop step: live copies of (previous, current) parameter at its peak
    foreach_temps: int  # foreach step: copies of all trainable parameters alive at once
    torch_class: str
    torch_kwargs: dict = field(default_factory=dict)


# Parameter-sized state buffers per trainable parameter. The seeds' optimizer chapter
# (/work/shared/seeds/000_*.txt §1, the same text in 001_*.txt) writes each update rule:
#   SGD        000:43-56  (001:32-50)   theta -= lr * grad: no state
#   momentum   000:98-106 (001:95-103)  velocity v: one buffer (torch: momentum_buffer)
#   Nesterov   000:119-123 (001:116-121) the same v: one buffer
#   AdaGrad    000:157-164 (001:155-160) running sum of squares s: one (torch: sum)
#   RMSProp    000:179-185 (001:175-182) moving average s: one (torch: square_avg), two
#              with momentum (momentum_buffer; torch's extension), two when centered (grad_avg)
#   Adam       000:196-214 (001:193-214) moments g and s: two (exp_avg, exp_avg_sq)
#   AdamW      000:242-248 (001:240-244) the same two; the decay is applied to theta
#   AMSGrad    not in the seeds: Adam(amsgrad=True) adds max_exp_avg_sq: three
OPTIMIZER_STATE = {
    "sgd": 0,
    "momentum": 1,
    "nesterov": 1,
    "adagrad": 1,
    "rmsprop": 1,
    "rmsprop_momentum": 2,
    "rmsprop_centered": 2,
    "adam": 2,
    "adamw": 2,
    "amsgrad": 3,
}

OPTIMIZERS = {
    "sgd": Optimizer("sgd", 0, False, (0, 0), 0, "SGD", {"lr": 0.1}),
    "momentum": Optimizer("momentum", 1, False, (0, 0), 0, "SGD", {"lr": 0.1, "momentum": 0.9}),
    "nesterov": Optimizer("nesterov", 1, False, (0, 1), 0, "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "adagrad": Optimizer("adagrad", 1, True, (1, 1), 2, "Adagrad", {}),
    "rmsprop": Optimizer("rmsprop", 1, True, (1, 1), 1, "RMSprop", {}),
    "rmsprop_momentum": Optimizer("rmsprop_momentum", 2, True, (1, 1), 1, "RMSprop", {"momentum": 0.9}),
    "rmsprop_centered": Optimizer("rmsprop_centered", 2, True, (1, 1), 1, "RMSprop", {"centered": True}),
    "adam": Optimizer("adam", 2, True, (1, 2), 1, "Adam", {}),
    "adamw": Optimizer("adamw", 2, True, (1, 2), 1, "AdamW", {}),
    "amsgrad": Optimizer("amsgrad", 3, True, (1, 2), 1, "Adam", {"amsgrad": True}),
}
assert {k: o.buffers for k, o in OPTIMIZERS.items()} == OPTIMIZER_STATE

STEP_COUNTER_BYTES = 4  # torch keeps ``step`` as a 0-d float32 tensor (float64 only if that is torch's default dtype)
INDEX_BYTES = 8  # int64
STATS_BYTES = 4  # norm statistics are kept in the accumulation dtype: fp32 (fp64 for fp64)

# autocast (CUDA): ops that run in half precision, and ops it runs in fp32
AMP_HALF_OPS = frozenset({"conv", "conv_transpose", "linear"})
AMP_FP32_OPS = frozenset({"softmax", "layernorm", "groupnorm", "lrn"})

TRAIN_COLUMNS = (
    "backward_flops",
    "dgrad_flops",
    "wgrad_flops",
    "backward_elementwise_flops",
    "saved_activation_bytes",
)


def resolve_optimizer(name: str, momentum: float = 0.0) -> Optimizer:
    """``sgd`` with ``momentum > 0`` is momentum SGD, ``rmsprop`` with momentum keeps a
    second buffer; ``momentum``/``nesterov`` default to 0.9."""
    key = name.lower().replace("-", "_")
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    opt = OPTIMIZERS[key]
    if momentum < 0:
        raise ValueError("momentum must be >= 0")
    if key == "sgd" and momentum:
        opt = OPTIMIZERS["momentum"]
    elif key == "rmsprop" and momentum:
        opt = OPTIMIZERS["rmsprop_momentum"]
    if momentum and "momentum" in opt.torch_kwargs:
        opt = Optimizer(**{**opt.__dict__, "torch_kwargs": {**opt.torch_kwargs, "momentum": momentum}})
    return opt


def is_frozen(name: str, patterns: Iterable[str]) -> bool:
    """``fnmatch`` on the layer name; a pattern naming a group freezes all of it
    (``layer1`` freezes ``layer1.0.conv1``)."""
    for pattern in patterns:
        group = pattern.rstrip(".*")
        if fnmatch(name, pattern) or (group and name.startswith(group + ".")):
            return True
    return False


@dataclass
class LayerTrain:
    """One layer's training facts (batch included)."""

    node: Node
    trainable: bool  # has parameters and they are not frozen
    needs_grad: bool  # its output needs a gradient: its backward runs
    backward: BackwardCost
    saved: Saved | None
    params: int
    param_tensors: tuple[int, ...]


@dataclass(frozen=True)
class Peak:
    bytes: int
    phase: str  # forward | backward | optimizer step
    node: str | None
    breakdown: dict[str, int]


def check_frozen(graph: Graph, patterns: Iterable[str]) -> None:
    """Every --freeze pattern must name some layer: a typo would silently freeze nothing."""
    from netcost.errors import NetcostError
    from netcost.ops import did_you_mean
    from netcost.text import printable

    names = [node.name for node in graph.nodes]
    for pattern in patterns:
        if not any(is_frozen(name, (pattern,)) for name in names):
            hint = did_you_mean(pattern, names) or "layer names are those of `netcost analyze` (globs allowed)"
            raise NetcostError(f"--freeze {printable(pattern)!r} matches no layer of {graph.name}", hint=hint)


def layer_facts(graph: Graph, batch: int, frozen: Sequence[str] = ()) -> list[LayerTrain]:
    check_frozen(graph, frozen)
    rg = {INPUT: False}
    layers = []
    for node in graph.nodes:
        cost = node.op.cost(node.in_shapes, node.shape)
        trainable = cost.params > 0 and not is_frozen(node.name, frozen)
        needs = tuple(rg[i] for i in node.inputs)
        rg[node.name] = trainable or any(needs)
        if rg[node.name]:
            backward = node.op.backward(node.in_shapes, node.shape, needs, trainable).scaled(batch)
            saved = node.op.saved(node.in_shapes, node.shape, needs, trainable)
        else:
            backward, saved = BackwardCost(), None
        layers.append(
            LayerTrain(
                node,
                trainable,
                rg[node.name],
                backward,
                saved,
                cost.params,
                node.op.param_tensors(node.in_shapes, node.shape),
            )
        )
    return layers


class _Widths:
    """Bytes per element of every graph tensor (and of each layer's private tensors)."""

    def __init__(self, graph: Graph, dtype: str, amp: bool):
        base = DTYPE_BYTES[dtype]
        self.amp = amp
        self.param = base
        self.stats = 8 if base == 8 else STATS_BYTES
        self.tensor = {INPUT: base}
        for node in graph.nodes:
            kind = node.op.kind
            if amp and kind in AMP_HALF_OPS:
                width = 2
            elif amp and kind in AMP_FP32_OPS:
                width = 4
            else:  # type promotion: the widest input
                width = max(self.tensor[i] for i in node.inputs)
            self.tensor[node.name] = width

    def compute_input(self, node: Node, i: int) -> int:
        """Width the op computes its input ``i`` in (autocast casts it first)."""
        if self.amp and node.op.kind in AMP_HALF_OPS:
            return 2
        if self.amp and node.op.kind in AMP_FP32_OPS:
            return 4
        return self.tensor[node.inputs[i]]


def _private_bytes(layer: LayerTrain, widths: _Widths, batch: int, device: str) -> tuple[int, int]:
    """(bytes of the tensors private to a layer that its backward keeps, bytes of the AMP
    half weight copy it keeps)."""
    saved, node = layer.saved, layer.node
    if saved is None:
        return 0, 0
    width = widths.compute_input(node, 0)
    mask_width = 1 if device == "cuda" else width
    per_sample = (
        saved.temps * width + saved.indices * INDEX_BYTES + saved.mask * mask_width + saved.stats * widths.stats
    )
    # an input autocast casts is kept as the cast copy, private to the layer; so is one a
    # batch over 1 makes torch copy (Saved.batch_copies)
    copied = _cast_inputs(layer, widths) + _batch_copies(layer, widths, batch)
    per_sample += sum(node.in_shapes[i].numel * widths.compute_input(node, i) for i in copied)
    private = per_sample * batch + saved.channel_stats * widths.stats + saved.fixed_bytes
    # AMP: a conv keeps its half weight copy always; mm keeps it only for the input's gradient
    half = widths.amp and node.op.kind in AMP_HALF_OPS and layer.param_tensors
    keeps_weight = node.op.kind != "linear" or layer.backward.dgrad_macs > 0
    copies = layer.param_tensors[0] * 2 if half and keeps_weight else 0
    return private, copies


def _cast_inputs(layer: LayerTrain, widths: _Widths) -> tuple[int, ...]:
    node = layer.node
    return tuple(i for i in layer.saved.inputs if widths.compute_input(node, i) != widths.tensor[node.inputs[i]])


def _batch_copies(layer: LayerTrain, widths: _Widths, batch: int) -> tuple[int, ...]:
    """Inputs kept as a copy at this batch (Saved.batch_copies), not already a cast copy."""
    if batch == 1:
        return ()
    cast = _cast_inputs(layer, widths)
    return tuple(i for i in layer.saved.batch_copies if i not in cast)


def _kept_inputs(layer: LayerTrain, widths: _Widths, batch: int) -> tuple[int, ...]:
    """Inputs kept as the graph tensor itself (not a cast copy, nor a batch's copy)."""
    saved, node = layer.saved, layer.node
    if saved is None:
        return ()
    copies = _batch_copies(layer, widths, batch)
    return tuple(
        i for i in saved.inputs if widths.compute_input(node, i) == widths.tensor[node.inputs[i]] and i not in copies
    )


class _Live:
    """Live storages by key; the peak with its breakdown by category (key[0]).

    The per-category totals are kept as storages come and go, so a new peak costs the
    number of categories, not the number of live storages. A breakdown lists the
    categories in the order of their oldest live storage (the order a scan of the live
    storages would meet them)."""

    def __init__(self, base: dict[str, int]):
        self.base = base
        self.size: dict[tuple, int] = {}
        self.refs: dict[tuple, int] = {}
        self.current = sum(base.values())
        self.peak = Peak(self.current, "forward", None, dict(base))
        self._bytes: dict[str, int] = {}  # category -> live bytes
        self._count: dict[str, int] = {}  # category -> live storages
        self._births: dict[str, list[tuple[int, tuple]]] = {}  # category -> heap of (birth, key), lazily pruned
        self._born: dict[tuple, int] = {}  # live key -> its birth number
        self._clock = 0

    def alloc(self, key: tuple, nbytes: int, refs: int = 1) -> tuple:
        if key in self.size:
            self.refs[key] += refs
            return key
        self.size[key], self.refs[key] = nbytes, refs
        self.current += nbytes
        category = key[0]
        self._bytes[category] = self._bytes.get(category, 0) + nbytes
        self._count[category] = self._count.get(category, 0) + 1
        self._clock += 1
        self._born[key] = self._clock
        heapq.heappush(self._births.setdefault(category, []), (self._clock, key))
        return key

    def release(self, key: tuple, refs: int = 1) -> None:
        if key not in self.size:
            return
        self.refs[key] -= refs
        if self.refs[key] <= 0:
            nbytes = self.size.pop(key)
            self.current -= nbytes
            del self.refs[key]
            del self._born[key]
            self._bytes[key[0]] -= nbytes
            self._count[key[0]] -= 1

    def check(self, phase: str, node: str | None) -> None:
        if self.current > self.peak.bytes:
            self.peak = Peak(self.current, phase, node, self.breakdown())

    def breakdown(self) -> dict[str, int]:
        breakdown = dict(self.base)
        for category in sorted((c for c, n in self._count.items() if n), key=self._oldest):
            breakdown[category] = breakdown.get(category, 0) + self._bytes[category]
        return breakdown

    def _oldest(self, category: str) -> int:
        heap = self._births[category]
        while self._born.get(heap[0][1]) != heap[0][0]:  # freed (or freed and born again later)
            heapq.heappop(heap)
        return heap[0][0]


def simulate_step(
    graph: Graph,
    layers: list[LayerTrain],
    widths: _Widths,
    batch: int,
    base: dict[str, int],
    optimizer: Optimizer,
    foreach: bool,
    device: str,
    accumulate_out_of_place: bool = False,
) -> Peak:
    """The live-memory peak of one training step (see the module docstring)."""
    sim = _StepSimulation(graph, layers, widths, batch, device, base)
    sim.forward()
    sim.backward(accumulate_out_of_place)
    sim.optimizer_step(optimizer, foreach)
    return sim.live.peak


class _StepSimulation:
    def __init__(self, graph: Graph, layers: list[LayerTrain], widths: _Widths, batch: int, device: str, base):
        self.graph, self.layers, self.widths, self.batch = graph, layers, widths, batch
        self.needs_grad = {INPUT: False} | {layer.node.name: layer.needs_grad for layer in layers}
        self.owner = {INPUT: INPUT}
        for node in graph.nodes:
            self.owner[node.name] = self.owner[node.inputs[0]] if node.op.is_view_in_training() else node.name
        self.size = {INPUT: graph.input_shape.numel * batch * widths.tensor[INPUT]}
        self.size.update({n.name: n.shape.numel * batch * widths.tensor[n.name] for n in graph.nodes})
        self.keepers: dict[str, set[int]] = {}  # storage -> the layers whose backward reads it
        self.private: dict[int, int] = {}  # layer -> bytes of the tensors only it keeps
        self.batch_copy: dict[int, int] = {}  # layer -> bytes of its inputs' copies (Saved.batch_copies)
        self.cache: dict[int, int] = {}  # AMP: half copies of weights (and biases) the layers do not keep
        for i, layer in enumerate(layers):
            if layer.saved is None:
                continue
            node = layer.node
            kept = [node.inputs[j] for j in _kept_inputs(layer, widths, batch)]
            kept += [node.name] if layer.saved.output else []
            for tensor in kept:
                self.keepers.setdefault(self.owner[tensor], set()).add(i)
            private, copies = _private_bytes(layer, widths, batch, device)
            # a batch's input copy is kept by the layer's first node and freed with it, last
            batch_copy = sum(
                node.in_shapes[j].numel * batch * widths.compute_input(node, j)
                for j in _batch_copies(layer, widths, batch)
            )
            self.private[i] = private + copies - batch_copy
            self.batch_copy[i] = batch_copy
            if widths.amp and node.op.kind in AMP_HALF_OPS and layer.param_tensors:
                self.cache[i] = sum(layer.param_tensors) * 2 - copies
        self.kept_by: dict[int, list[str]] = {}  # layer -> the storages its backward reads
        for tensor, users in self.keepers.items():
            for i in users:
                self.kept_by.setdefault(i, []).append(tensor)
        self.end: dict[str, int] = {}  # storage -> its last forward reader
        for tensor, last in graph.last_use().items():
            self.end[self.owner[tensor]] = max(self.end.get(self.owner[tensor], -1), last)
        self.held = self.owner[graph.output]  # the caller holds the output through the backward
        self.live = _Live(base)

    def forward(self) -> None:
        live = self.live
        live.alloc(("activations", INPUT), self.size[INPUT])
        for i, node in enumerate(self.graph.nodes):
            if self.owner[node.name] == node.name:
                live.alloc(("activations", node.name), self.size[node.name])
            if self.private.get(i):
                live.alloc(("activations", "private", i), self.private[i])
            if self.batch_copy.get(i):
                live.alloc(("activations", "batch copy", i), self.batch_copy[i])
            if self.cache.get(i):
                live.alloc(("activations", "autocast cache", i), self.cache[i])
            live.check("forward", node.name)
            for tensor in {self.owner[t] for t in (*node.inputs, node.name)}:
                if self.end.get(tensor) == i and tensor not in self.keepers and tensor != self.held:
                    live.release(("activations", tensor))
        for i in self.cache:  # autocast's cast cache ends with the forward; the copies a layer keeps stay
            live.release(("activations", "autocast cache", i))

    def backward(self, out_of_place: bool) -> None:
        live, graph = self.live, self.graph
        self.buffer: dict[str, tuple] = {}  # tensor -> its (accumulating) gradient
        if self.layers[-1].needs_grad:  # the loss's gradient, held by the caller like the output
            self.buffer[graph.output] = live.alloc(("gradients", "seed"), self.size[graph.output], refs=2)
        live.check("backward", None)
        self.pending = {tensor: len(users) for tensor, users in self.keepers.items()}
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            g = self.buffer.pop(layer.node.name, None)
            if layer.needs_grad and g is not None:
                self._layer_backward(i, layer, g, out_of_place)
        for key in list(live.size):  # the output and its gradient; what layers never reached kept
            if key[0] != "parameter gradients":
                live.release(key, live.refs[key])

    def _layer_backward(self, i: int, layer: LayerTrain, g: tuple, out_of_place: bool) -> None:
        live, node, widths = self.live, layer.node, self.widths
        half = widths.amp and node.op.kind in AMP_HALF_OPS and layer.trainable
        g_freed = False if half else self._stages(i, layer, g, out_of_place)
        new = []
        for j, tensor in enumerate(node.inputs):
            if not self.needs_grad[tensor]:
                continue
            if layer.backward.alias:
                new.append((tensor, live.alloc(g, 0)))
            else:
                nbytes = node.in_shapes[j].numel * self.batch * widths.tensor[tensor]
                new.append((tensor, live.alloc(("gradients", "input of", i, j), nbytes)))
        # AMP: the layer computes the gradient of its half weight copy; the cast's own backward
        # node makes the fp32 gradient after the layer has released what it kept
        if half:
            for k, n in enumerate(layer.param_tensors):
                live.alloc(("gradients", "half weights", i, k), n * 2)
        elif layer.trainable:
            made = max((stage.params for stage in layer.backward.stages), default=0)
            live.alloc(("parameter gradients", i), (layer.params - made) * widths.param)
        live.alloc(("transient", i), layer.backward.transient * widths.tensor[node.name])  # scaled by the batch
        live.check("backward", node.name)
        live.release(("transient", i))
        if not g_freed:
            live.release(g)
        for tensor in self.kept_by.get(i, ()):
            self.pending[tensor] -= 1
            if self.pending[tensor] == 0 and tensor != self.held:
                live.release(("activations", tensor))
        live.release(("activations", "private", i))
        live.release(("activations", "batch copy", i))
        if half:  # one cast-back per parameter tensor, weight first
            for k, n in enumerate(layer.param_tensors):
                live.alloc(("parameter gradients", i, k), n * widths.param)
                live.check("backward", node.name)
                live.release(("gradients", "half weights", i, k))
        for tensor, key in new:
            self._accumulate(i, tensor, key, out_of_place)

    def _stages(self, i: int, layer: LayerTrain, g: tuple, out_of_place: bool) -> bool:
        """The moments inside the layer's backward (``BackwardCost.stages``), each checked;
        the parameter gradients they made stay. Whether they freed the output gradient."""
        live, width, freed, made = self.live, self.widths.tensor[layer.node.name], False, 0
        for k, stage in enumerate(layer.backward.stages):
            if stage.frees_grad and not freed:
                live.release(g)
                freed = True
            if stage.frees_saved:
                live.release(("activations", "private", i))
            if layer.trainable and stage.params > made:
                live.alloc(("parameter gradients", i, k), (stage.params - made) * self.widths.param)
                made = stage.params
            extra = stage.transient + (stage.out_of_place if out_of_place else 0)
            live.alloc(("transient", i, k), extra * width)
            live.check("backward", layer.node.name)
            live.release(("transient", i, k))
        return freed

    def _accumulate(self, i: int, tensor: str, key: tuple, out_of_place: bool) -> None:
        """torch's InputBuffer: in place into whichever of the two nothing else references;
        out of place when both are referenced elsewhere (or under a dispatch mode)."""
        live = self.live
        old = self.buffer.get(tensor)
        if old is None:
            self.buffer[tensor] = key
        elif out_of_place or (live.refs[old] > 1 and live.refs[key] > 1):
            total = live.alloc(("gradients", "sum", i, tensor), live.size[key])
            live.check("backward", self.layers[i].node.name)
            live.release(old)
            live.release(key)
            self.buffer[tensor] = total
        elif live.refs[old] == 1:
            live.release(key)
        else:
            live.release(old)
            self.buffer[tensor] = key

    def optimizer_step(self, optimizer: Optimizer, foreach: bool) -> None:
        order = _parameter_order(self.graph, self.layers)
        if foreach:
            temps = optimizer.foreach_temps * sum(order)
        else:
            prev_k, cur_k = optimizer.loop_temps
            largest = max((cur_k * s + (prev_k * order[k - 1] if k else 0) for k, s in enumerate(order)), default=0)
            temps = largest if cur_k else 0
        self.live.alloc(("transient", "optimizer"), temps * self.widths.param)
        self.live.check("optimizer step", None)


def _parameter_order(graph: Graph, layers: list[LayerTrain]) -> list[int]:
    """Trainable parameter tensor sizes in ``model.parameters()`` order: the compiled
    module's tree, whose groups appear in the order of their first layer; a module's own
    tensors first (a one-tensor layer's, registered on its parent), then its children."""
    tree: dict = {}
    for layer in layers:
        branch = tree
        for part in layer.node.name.split("."):
            branch = branch.setdefault(part, {})
        branch[None] = layer
    order: list[int] = []

    def walk(branch: dict) -> None:
        layer = branch.get(None)
        if layer is not None and layer.trainable:
            order.extend(layer.param_tensors)
        children = [child for key, child in branch.items() if key is not None]
        for child in children:  # parameters of the module itself
            if _one_tensor(child) and child[None].trainable:
                order.extend(child[None].param_tensors)
        for child in children:
            if not _one_tensor(child):
                walk(child)

    walk(tree)
    return order


def _one_tensor(branch: dict) -> bool:
    return len(branch) == 1 and None in branch and branch[None].node.op.one_tensor


def train_report(
    graph: Graph,
    *,
    batch: int = 1,
    dtype: str = "fp32",
    train: TrainOptions | None = None,
    convention: Convention = Convention.NETCOST,
    formulas: bool = False,
) -> Report:
    """The analytic Report with training columns per layer and ``report.train`` totals, for
    one training step as ``train`` says (default: plain SGD, CUDA's behaviour).

    ``train.device`` picks torch's implementation where it differs by device: dropout's
    mask (bool on CUDA, the activation dtype on CPU) and the optimizer's default
    (``foreach`` on CUDA, a loop on CPU; ``train.foreach`` overrides it)."""
    train = TrainOptions() if train is None else train
    if train.amp and dtype != "fp32":
        raise ValueError("--amp keeps fp32 parameters (the master weights): use it with dtype fp32")
    with collector_paused():
        return _train_report(graph, batch, dtype, train, Convention(convention), formulas)


def _train_report(
    graph: Graph, batch: int, dtype: str, train: TrainOptions, convention: Convention, formulas: bool
) -> Report:
    optimizer, momentum, amp, frozen = train.optimizer, train.momentum, train.amp, train.freeze
    device, foreach = train.device, train.foreach
    opt = resolve_optimizer(optimizer, momentum)
    report = analyze_graph(graph, batch, dtype, convention, formulas)
    layers = layer_facts(graph, batch, frozen)
    widths = _Widths(graph, dtype, amp)
    per_mac = convention.per_mac

    owner = {INPUT: INPUT}
    for node in graph.nodes:
        owner[node.name] = owner[node.inputs[0]] if node.op.is_view_in_training() else node.name
    kept_storages: set[str] = set()
    private_total = copies_total = 0
    rows = {row["name"]: row for row in report.rows}
    for layer in layers:
        node = layer.node
        if layer.saved is not None:
            kept = [node.inputs[j] for j in _kept_inputs(layer, widths, batch)]
            kept += [node.name] if layer.saved.output else []
            kept_storages.update(owner[t] for t in kept)
        row = rows[node.name]
        b = layer.backward
        row["dgrad_flops"] = per_mac * b.dgrad_macs
        row["wgrad_flops"] = per_mac * b.wgrad_macs
        row["backward_flops"] = row["dgrad_flops"] + row["wgrad_flops"]
        row["backward_elementwise_flops"] = b.elementwise
        row["trainable"] = layer.trainable
    for layer in layers:
        private, copies = _private_bytes(layer, widths, batch, "cuda" if device.startswith("cuda") else "cpu")
        private_total += private
        copies_total += copies
        name = layer.node.name
        mine = layer.node.shape.numel * batch * widths.tensor[name] if name in kept_storages else 0
        rows[name]["saved_activation_bytes"] = mine + private + copies
    input_kept = graph.input_shape.numel * batch * widths.tensor[INPUT] if INPUT in kept_storages else 0
    tensors_total = input_kept + sum(
        graph[s].shape.numel * batch * widths.tensor[s] for s in kept_storages if s != INPUT
    )
    saved_total = tensors_total + private_total + copies_total

    params = sum(layer.params for layer in layers)
    trainable = sum(layer.params for layer in layers if layer.trainable)
    tensors = sum(len(layer.param_tensors) for layer in layers if layer.trainable)
    param_bytes = params * widths.param
    buffer_bytes = sum(_buffer_bytes(node, widths.param) for node in graph.nodes)
    state_buffers = opt.buffers * trainable * widths.param
    counters = STEP_COUNTER_BYTES * tensors if opt.step_counter else 0
    base = {"parameters": param_bytes, "buffers": buffer_bytes, "optimizer state": state_buffers + counters}
    use_foreach = device.startswith("cuda") if foreach is None else foreach
    mask_device = "cuda" if device.startswith("cuda") else "cpu"
    peak = simulate_step(graph, layers, widths, batch, base, opt, use_foreach, mask_device)

    forward_flops = report.totals["flops"]
    backward_flops = sum(r["backward_flops"] for r in report.rows)
    report.train = {
        "optimizer": opt.name,
        "momentum": opt.torch_kwargs.get("momentum", 0.0),
        "amp": amp,
        "device": mask_device,
        "foreach": use_foreach,
        "frozen": list(frozen),
        "trainable_params": trainable,
        "forward_flops": forward_flops,
        "backward_flops": backward_flops,
        "dgrad_flops": sum(r["dgrad_flops"] for r in report.rows),
        "wgrad_flops": sum(r["wgrad_flops"] for r in report.rows),
        "step_flops": forward_flops + backward_flops,
        "backward_elementwise_flops": sum(r["backward_elementwise_flops"] for r in report.rows),
        "param_bytes": param_bytes,
        "buffer_bytes": buffer_bytes,
        "grad_bytes": trainable * widths.param,
        "optimizer_state_bytes": state_buffers + counters,
        "saved_activation_bytes": saved_total,
        "peak_train_bytes": peak.bytes,
        "memory": {
            "parameters": param_bytes,
            "buffers": buffer_bytes,
            "gradients": trainable * widths.param,
            "optimizer_state": {"buffers": state_buffers, "step_counters": counters},
            "saved_activations": {
                "tensors": tensors_total,
                "private": private_total,
                "amp_weight_copies": copies_total,
            },
            "peak": {"bytes": peak.bytes, "phase": peak.phase, "at": peak.node, "breakdown": peak.breakdown},
        },
    }
    return report


def _buffer_bytes(node: Node, width: int) -> int:
    buffers = node.op.cost(node.in_shapes, node.shape).buffers
    if node.op.kind == "bn" and getattr(node.op, "track_running_stats", False):
        return (buffers - 1) * width + INDEX_BYTES  # num_batches_tracked is an int64
    return buffers * width

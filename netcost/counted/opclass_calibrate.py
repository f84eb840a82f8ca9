"""Microbenchmarks per op class: what this machine achieves on each kind of layer, at a few
sizes, fitted into the record netcost.analysis.predict prices layers with.

Every case is a netcost layer (an inline spec; its last layer is timed), built with the
layer's own torch builder and timed with torch.utils.benchmark under inference mode, so
a calibrated class costs what the compiled model's layers cost. Timing hygiene: one
warm-up call per case, then ``rounds`` rounds that each time every case once
(interleaved, so a slow spell of the machine spreads over all classes instead of biasing
one), each case's time the fastest round's median (noise from other processes only adds
time) and the spread between rounds recorded; fixed threads; the load average before and
after recorded. On CUDA, torch.utils.benchmark synchronises around each measurement and
the cudnn autotuner's setting (``torch.backends.cudnn.benchmark``) is recorded as found.
"""

from __future__ import annotations

import datetime
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from netcost.analysis.latency_record import (
    ClassFit,
    OpClassCalibration,
    busy,
    cache_file,
    doubts,
    host,
    load_average,
    matching,
    read_cache,
    warn,
    write_cache,
)
from netcost.analysis.predict import OP_CLASSES, layer_work
from netcost.counted.calibrate import device_name
from netcost.counted.device import check_device, check_dtype
from netcost.counted.in_network import network_fit, time_references
from netcost.counted.timing import DTYPES
from netcost.errors import NetcostError
from netcost.graph import Node


@dataclass(frozen=True)
class Case:
    """One microbenchmark: an inline spec whose last layer is timed, at an input (C, H, W)."""

    spec: str
    input: tuple[int, ...]
    op_class: str


def _cases(op_class: str, spec: str, inputs: Sequence[tuple[int, ...]]) -> list[Case]:
    return [Case(spec, tuple(x), op_class) for x in inputs]


# The first case of each class is tiny: its time is the per-call overhead. The others span
# the sizes of the zoo's layers at 224x224, batch 1 (stems, stages, heads).
FULL_CASES: tuple[Case, ...] = (
    *_cases("pointwise", "conv(8,k=1,bias=false)", [(8, 4, 4)]),
    *_cases("pointwise", "conv(96,k=1,bias=false)", [(16, 112, 112)]),
    *_cases("pointwise", "conv(16,k=1,bias=false)", [(32, 112, 112)]),
    *_cases("pointwise", "conv(24,k=1,bias=false)", [(144, 56, 56)]),
    *_cases("pointwise", "conv(256,k=1,bias=false)", [(64, 56, 56)]),
    *_cases("pointwise", "conv(128,k=1,bias=false)", [(512, 28, 28)]),
    *_cases("pointwise", "conv(256,k=1,bias=false)", [(1024, 14, 14)]),
    *_cases("pointwise", "conv(160,k=1,bias=false)", [(960, 7, 7)]),
    *_cases("pointwise", "conv(2048,k=1,bias=false)", [(512, 7, 7)]),
    *_cases("pointwise", "conv(1280,k=1,bias=false)", [(320, 7, 7)]),
    *_cases("conv3x3", "conv(8,k=3,bias=false)", [(8, 4, 4)]),
    *_cases("conv3x3", "conv(32,k=3,s=2,bias=false)", [(3, 224, 224)]),
    *_cases("conv3x3", "conv(64,k=3,bias=false)", [(64, 56, 56)]),
    *_cases("conv3x3", "conv(128,k=3,bias=false)", [(128, 56, 56), (128, 28, 28)]),
    *_cases("conv3x3", "conv(256,k=3,bias=false)", [(256, 14, 14)]),
    *_cases("conv3x3", "conv(512,k=3,bias=false)", [(512, 7, 7), (512, 14, 14)]),
    *_cases("conv3x3", "conv(128,k=3,s=2,bias=false)", [(64, 56, 56)]),
    *_cases("conv3x3", "conv(64,k=3,bias=true)", [(64, 112, 112)]),
    *_cases("conv_large", "conv(8,k=5,bias=false)", [(8, 8, 8)]),
    *_cases("conv_large", "conv(64,k=7,s=2,p=3,bias=false)", [(3, 224, 224)]),
    *_cases("conv_large", "conv(64,k=11,s=4,p=2)", [(3, 224, 224)]),
    *_cases("conv_large", "conv(192,k=5,p=2)", [(64, 27, 27)]),
    *_cases("conv_large", "conv(64,k=5,bias=false)", [(48, 35, 35)]),
    *_cases("conv_large", "conv(192,k=[1,7],bias=false)", [(160, 17, 17)]),
    *_cases("depthwise", "conv(8,k=3,g=8,bias=false)", [(8, 4, 4)]),
    *_cases("depthwise", "conv(32,k=3,g=32,bias=false)", [(32, 112, 112)]),
    *_cases("depthwise", "conv(96,k=3,s=2,g=96,bias=false)", [(96, 112, 112)]),
    *_cases("depthwise", "conv(144,k=3,g=144,bias=false)", [(144, 56, 56)]),
    *_cases("depthwise", "conv(384,k=3,g=384,bias=false)", [(384, 14, 14)]),
    *_cases("depthwise", "conv(960,k=3,g=960,bias=false)", [(960, 7, 7)]),
    *_cases("depthwise", "conv(240,k=5,g=240,bias=false)", [(240, 28, 28)]),
    *_cases("depthwise", "conv(1152,k=5,g=1152,bias=false)", [(1152, 7, 7)]),
    *_cases("grouped", "conv(8,k=3,g=2,bias=false)", [(8, 4, 4)]),
    *_cases("grouped", "conv(128,k=3,g=32,bias=false)", [(128, 56, 56)]),
    *_cases("grouped", "conv(256,k=3,g=32,bias=false)", [(256, 28, 28)]),
    *_cases("grouped", "conv(1024,k=3,g=32,bias=false)", [(1024, 7, 7)]),
    *_cases("grouped", "conv(224,k=3,g=14,bias=false)", [(224, 14, 14)]),
    *_cases("grouped", "conv(48,k=3,g=6,bias=false)", [(48, 56, 56)]),
    *_cases("matvec", "flatten > linear(8)", [(8, 1, 1)]),
    *_cases("matvec", "flatten > linear(1000)", [(512, 1, 1), (2048, 1, 1)]),
    *_cases("matvec", "flatten > linear(4096)", [(4096, 1, 1), (9216, 1, 1)]),
    *_cases("linear", "to_tokens > linear(8)", [(8, 4, 4)]),
    *_cases("linear", "to_tokens > linear(256)", [(64, 28, 28)]),
    *_cases("linear", "to_tokens > linear(768)", [(768, 14, 14)]),
    *_cases("linear", "to_tokens > linear(3072)", [(768, 14, 14)]),
    *_cases("linear", "permute(layout=HWC) > linear(384)", [(96, 56, 56)]),
    *_cases("linear", "permute(layout=HWC) > linear(1536)", [(384, 14, 14)]),
    *_cases("attention", "to_tokens > attention(heads=1)", [(8, 2, 2)]),
    *_cases("attention", "to_tokens > attention(heads=12)", [(768, 14, 14)]),
    *_cases("attention", "to_tokens > attention(heads=6)", [(384, 14, 14)]),
    *_cases("attention", "permute(layout=HWC) > window_attention(heads=3)", [(96, 56, 56)]),
    *_cases("attention", "permute(layout=HWC) > window_attention(heads=24)", [(768, 7, 7)]),
    *_cases("elementwise", "relu()", [(8, 4, 4), (64, 112, 112), (64, 56, 56), (256, 56, 56), (512, 7, 7)]),
    *_cases("elementwise", "hardswish()", [(96, 112, 112)]),
    *_cases("elementwise", "silu()", [(240, 28, 28)]),
    *_cases("elementwise", "to_tokens > gelu()", [(3072, 14, 14)]),
    *_cases("pool", "maxpool(k=3,s=2,p=1)", [(8, 8, 8), (64, 112, 112), (24, 112, 112)]),
    *_cases("pool", "maxpool(k=3,s=1,p=1)", [(192, 28, 28)]),
    *_cases("pool", "maxpool(k=2,s=2)", [(128, 112, 112)]),
    *_cases("pool", "avgpool(k=2,s=2)", [(256, 28, 28)]),
    *_cases("global_pool", "gap()", [(8, 4, 4), (512, 7, 7), (2048, 7, 7), (96, 56, 56), (1280, 7, 7)]),
    *_cases("norm", "bn()", [(8, 4, 4), (64, 112, 112), (64, 56, 56), (256, 56, 56), (512, 7, 7), (2048, 7, 7)]),
    *_cases("norm", "to_tokens > layernorm", [(768, 14, 14), (96, 56, 56)]),
    *_cases("view", "identity()", [(8, 4, 4)]),
    *_cases("view", "flatten()", [(512, 7, 7)]),
)
# Two inputs of one shape (merges): inline specs take one input, so these are built apart.
FULL_MERGES: tuple[Case, ...] = (
    Case("add", (8, 4, 4), "elementwise"),
    Case("add", (64, 56, 56), "elementwise"),
    Case("add", (256, 56, 56), "elementwise"),
    Case("add", (512, 7, 7), "elementwise"),
    Case("concat", (128, 28, 28), "elementwise"),
)
REFERENCE_RUN_TIME = 0.3  # seconds of whole-model timing per reference network and round
STEP_LAYERS = 32  # identity layers in the compiled chain that prices the module's own loop


def case_node(case: Case) -> Node:
    """The timed layer of a case, with its input shapes (a merge takes two equal inputs)."""
    from netcost.api import load_graph
    from netcost.core.shape import Shape
    from netcost.ops import get

    if case.spec in ("add", "concat", "mul"):
        x = Shape.of(*case.input)
        op = get(case.spec)()
        return Node(f"{case.spec}1", op, ("a", "b"), (x, x), op.shape((x, x)))
    return load_graph(case.spec, input_shape=case.input).nodes[-1]


@dataclass(frozen=True)
class Measured:
    case: Case
    flops: int
    bytes_moved: int
    seconds: float  # the fastest round's median
    spread: float  # (slowest - fastest) / median of the rounds


def _prepare(node: Node, dev: torch.device, torch_dtype, channels_last: bool):
    module = node.op.build(node.in_shapes, node.shape).to(dev).eval().to(torch_dtype)
    xs = [torch.randn((1, *s.dims), device=dev).to(torch_dtype) for s in node.in_shapes]
    if channels_last and all(x.dim() == 4 for x in xs):
        module = module.to(memory_format=torch.channels_last)
        xs = [x.contiguous(memory_format=torch.channels_last) for x in xs]
    return module, xs


def _timer(module, xs, min_run_time: float) -> float:
    from torch.utils import benchmark

    timer = benchmark.Timer("m(*xs)", globals={"m": module, "xs": xs}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def run_cases(
    cases: Sequence[Case], device: str, dtype: str, channels_last: bool, min_run_time: float, rounds: int
) -> list[Measured]:
    """Each case's time over ``rounds`` interleaved rounds (one warm-up call each first)."""
    dev, torch_dtype = torch.device(device), DTYPES[dtype]
    nodes = [case_node(c) for c in cases]
    prepared = [_prepare(n, dev, torch_dtype, channels_last) for n in nodes]
    samples: list[list[float]] = [[] for _ in cases]
    with torch.inference_mode():
        for module, xs in prepared:
            module(*xs)
        for _ in range(rounds):
            for i, (module, xs) in enumerate(prepared):
                samples[i].append(_timer(module, xs, min_run_time))
    out = []
    for case, node, times in zip(cases, nodes, samples, strict=True):
        flops, moved = layer_work(node, 1, dtype)
        best = min(times)  # another process's work only ever adds time
        out.append(Measured(case, flops, moved, best, (max(times) - best) / statistics.median(times)))
    return out


def step_overhead(device: str, dtype: str, min_run_time: float, view_overhead: float) -> float:
    """Seconds the compiled module spends per layer around the layer's call (its own loop):
    a chain of identity layers, per layer, less an identity's own call."""
    from netcost.api import load_graph
    from netcost.counted.compile import build

    graph = load_graph(" > ".join(["identity()"] * STEP_LAYERS), input_shape=(8, 4, 4))
    model = build(graph).to(torch.device(device)).eval()
    x = torch.randn(1, 8, 4, 4, device=device).to(DTYPES[dtype])
    with torch.inference_mode():
        model(x)
        per_layer = _timer(model, [x], min_run_time) / STEP_LAYERS
    return max(per_layer - view_overhead, 0.0)


def fit(measured: Sequence[Measured]) -> tuple[dict[str, ClassFit], float]:
    """(a ClassFit per class, the best elementwise bandwidth). A class's first case is its
    overhead (its tiny work is not subtracted); every other case is a point of achieved
    throughput after the overhead."""
    by_class: dict[str, list[Measured]] = {}
    for m in measured:
        by_class.setdefault(m.case.op_class, []).append(m)
    fits = {}
    for cls, ms in by_class.items():
        basis = OP_CLASSES[cls][1]
        overhead = min(m.seconds for m in ms)  # the tiny first case, unless noise slowed it past a bigger one
        points: dict[float, list[float]] = {}
        for m in ms[1:] if len(ms) > 1 else ms:
            work = m.flops if basis == "flops" else m.bytes_moved
            if work <= 0:
                continue
            net = max(m.seconds - overhead, 0.1 * m.seconds)  # noise never makes work free
            points.setdefault(float(work), []).append(work / net)
        pts = tuple(sorted((w, statistics.median(r)) for w, r in points.items()))
        fits[cls] = ClassFit(basis, overhead, pts or ((1.0, 1.0),))
    elementwise = fits.get("elementwise")
    bandwidth = max(r for _, r in elementwise.points) if elementwise else 1e9
    return fits, bandwidth


def measure(
    device: str = "cpu",
    dtype: str = "fp32",
    channels_last: bool = False,
    min_run_time: float = 0.05,
    rounds: int = 3,
    cases: Sequence[Case] | None = None,
    merges: Sequence[Case] | None = None,
    in_network: bool = True,
    reference_run_time: float = REFERENCE_RUN_TIME,
) -> OpClassCalibration:
    """Run the microbenchmarks (every class of the full table, ~30 s on a 2-core CPU) and
    fit; then (``in_network``) time the reference networks for what a network adds per layer."""
    device, dtype = check_device(device), check_dtype(dtype)
    if rounds < 1 or min_run_time <= 0:
        raise NetcostError("a calibration needs at least one round of positive length")
    start, before = time.perf_counter(), load_average()
    cpus = os.cpu_count() or 0
    if busy(before, cpus):
        warn(f"the machine is busy (load {before:g} on {cpus} CPUs): the calibration will be slow; measure when idle")
    chosen = list(FULL_CASES if cases is None else cases) + list(FULL_MERGES if merges is None else merges)
    measured = run_cases(chosen, device, dtype, channels_last, min_run_time, rounds)
    classes, bandwidth = fit(measured)
    missing = [c for c in OP_CLASSES if c not in classes]
    if missing:
        raise NetcostError(f"the calibration cases leave op classes unmeasured: {', '.join(missing)}")
    steps = step_overhead(device, dtype, min_run_time, classes["view"].overhead_s)
    dev = torch.device(device)
    record = OpClassCalibration(
        host=host(),
        device_type=dev.type,
        device=device_name(dev),
        dtype=dtype,
        threads=torch.get_num_threads(),
        channels_last=channels_last,
        classes=classes,
        step_overhead_s=steps,
        bandwidth_bytes_per_s=bandwidth,
        cpus=cpus,
        torch_version=torch.__version__,
        cudnn_benchmark=bool(torch.backends.cudnn.benchmark) if dev.type == "cuda" else None,
    )
    spread = statistics.median(m.spread for m in measured)
    notes = [f"{len(measured)} cases x {rounds} rounds; median spread between rounds {100 * spread:.0f}%"]
    if in_network:  # what a network adds to its layers alone
        timings = time_references(record, device, dtype, channels_last, reference_run_time, rounds)
        network = network_fit(timings, bare_step_s=steps)
        record = replace(
            record, step_overhead_s=network.step_s, network_factor=network.factor, disturbed=network.disturbed
        )
        per = ", ".join(f"{t.name} {t.whole_s * 1e3:.2f} ms against {t.alone_s * 1e3:.2f} alone" for t in timings)
        notes.append(
            f"in a network: layers x {network.factor:.2f} + {network.step_s * 1e6:.1f} us each "
            f"(bare loop {steps * 1e6:.1f}), from the reference networks: {per}"
        )
    after = load_average()
    return replace(
        record,
        measured_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        load_average=max((v for v in (before, after) if v is not None), default=None),
        seconds=round(time.perf_counter() - start, 2),
        notes=tuple(notes),
    )


def calibration(
    device: str = "cpu",
    dtype: str = "fp32",
    channels_last: bool = False,
    recalibrate: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[OpClassCalibration, bool]:
    """(this machine's op-class calibration for the setting, whether it came from the cache).
    A missing, unreadable or invalid entry is measured (said on stderr) and cached."""
    device, dtype = check_device(device), check_dtype(dtype)
    path = cache_file()
    entries, problem = read_cache(path)
    if problem:
        warn(f"the op-class calibration cache {path} is not valid ({problem}); measuring again")
    dev = torch.device(device)
    found, invalid = matching(
        entries, device_type=dev.type, dtype=dtype, channels_last=channels_last, threads=torch.get_num_threads()
    )
    found = [r for r in found if r.device == device_name(dev)]
    if found and not recalibrate:
        for doubt in doubts(found[0]):
            warn(f"the cached op-class calibration ({found[0].measured_at}) may be off: {doubt}; --recalibrate")
        return found[0], True
    if invalid and not recalibrate:
        warn(f"the op-class calibration cache {path} holds {invalid} invalid entr(ies) for this machine")
    if progress:
        progress("calibrating the op classes")
    else:
        warn(f"measuring this machine per op class ({device}, {dtype}); cached in {path}")
    record = measure(device, dtype, channels_last)
    for doubt in doubts(record):
        warn(f"this calibration may be slow: {doubt}; measure again on an idle machine (--recalibrate)")
    if record.disturbed:  # not kept: the next prediction measures again
        warn("the op-class calibration is not cached: its microbenchmarks were disturbed")
        return record, False
    entries[record.key] = record.to_dict()
    failure = write_cache(path, entries)
    if failure:
        warn(f"could not write the op-class calibration cache {path} ({failure}); the measurement is not kept")
    return record, False

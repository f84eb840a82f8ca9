"""Timing the compiled module: whole-model latency with torch.utils.benchmark, and
per-layer latency with synchronised forward hooks.

CPU timings use wall-clock around each call; CUDA timings synchronise the device around
each measured region (whole model: torch.utils.benchmark does it; per layer: CUDA events
recorded in pre/post hooks, read after one synchronize per pass), so queued kernels are
never mistaken for finished ones.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64}


MIN_BLOCKS = 3  # timed blocks an interquartile range needs to mean anything


@dataclass(frozen=True)
class Timing:
    median_s: float
    iqr_s: float | None  # None with fewer than MIN_BLOCKS timed blocks
    runs: int
    blocks: int = 1  # torch.utils.benchmark's measurements (each the mean of some runs)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prepare(model: nn.Module, shape: tuple[int, ...], device: str, dtype: str, amp: bool, channels_last: bool):
    """(model, input, context factory): the model on the device, cast to ``dtype`` unless
    ``amp`` (then it stays fp32 and autocast runs the ops in ``dtype``)."""
    dev = torch.device(device)
    torch_dtype = DTYPES[dtype]
    model = model.to(dev).eval()
    if not amp:
        model = model.to(torch_dtype)
    x = torch.randn(shape, device=dev, dtype=torch.float32 if amp else torch_dtype)
    if channels_last and x.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def context():
        return torch.autocast(dev.type, dtype=torch_dtype) if amp else nullcontext()

    return model, x, context


def time_model(model: nn.Module, x: torch.Tensor, context: Callable, min_run_time: float = 1.0) -> Timing:
    """Median and IQR of the forward pass (torch.utils.benchmark: warm-up, then blocks of runs
    until ``min_run_time`` seconds are spent; it synchronises CUDA itself)."""
    from torch.utils import benchmark

    def forward():
        with torch.inference_mode(), context():
            model(x)

    for _ in range(3):  # warm-up: allocator, kernel selection, caches
        forward()
    timer = benchmark.Timer(stmt="forward()", globals={"forward": forward}, num_threads=torch.get_num_threads())
    m = timer.blocked_autorange(min_run_time=min_run_time)
    blocks = len(m.times)
    return Timing(m.median, m.iqr if blocks >= MIN_BLOCKS else None, blocks * m.number_per_run, blocks)


def time_layers(
    model: nn.Module, names: list[str], x: torch.Tensor, context: Callable, repeats: int = 10
) -> tuple[dict[str, float], float]:
    """(median seconds per layer, median seconds of the same hooked passes as a whole)."""
    device = x.device
    samples: dict[str, list[float]] = {n: [] for n in names}
    totals: list[float] = []
    cuda = device.type == "cuda"
    marks: dict[str, list] = {}

    def before(name):
        def hook(module, args):
            if cuda:
                event = torch.cuda.Event(enable_timing=True)
                event.record()
                marks[name] = [event]
            else:
                marks[name] = [time.perf_counter()]

        return hook

    def after(name):
        def hook(module, args, out):
            if cuda:
                event = torch.cuda.Event(enable_timing=True)
                event.record()
                marks[name].append(event)
            else:
                marks[name].append(time.perf_counter())

        return hook

    handles = []
    for name in names:
        module = model.get_submodule(name)
        handles += [module.register_forward_pre_hook(before(name)), module.register_forward_hook(after(name))]
    try:
        with torch.inference_mode(), context():
            for i in range(repeats + 2):
                synchronize(device)
                start = time.perf_counter()
                model(x)
                synchronize(device)
                total = time.perf_counter() - start
                if i < 2:  # warm-up passes
                    continue
                totals.append(total)
                for name, (a, b) in marks.items():
                    samples[name].append(a.elapsed_time(b) / 1000 if cuda else b - a)
    finally:
        for h in handles:
            h.remove()
    return {n: statistics.median(v) for n, v in samples.items() if v}, statistics.median(totals)

"""Measured activation memory of a forward pass.

A TorchDispatchMode sees every tensor each aten op returns. Storages are followed by data
pointer with a reference count of the tensors (views included) that use them; a weakref
finaliser on each tensor notices when it dies. Parameters and buffers existed before and
are left out; the input is counted until the network drops it. The peak of the live total
is the measured figure to compare with the analytic liveness peak. On CUDA,
``torch.cuda.max_memory_allocated`` is reported beside it (allocator-level: it includes
workspaces and rounding to allocation blocks).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


@dataclass(frozen=True)
class MeasuredMemory:
    peak_bytes: int  # largest live total of activation storages
    peak_at: str | None  # the node running when the peak was reached
    device_peak_bytes: int | None  # torch.cuda.max_memory_allocated during the pass (CUDA only)


class StorageTracker(TorchDispatchMode):
    def __init__(self, known: set[int]):
        super().__init__()
        self.known = known  # storages that pre-exist (parameters, buffers)
        self.live: dict[int, list[int]] = {}  # data_ptr -> [nbytes, tensors using it]
        self.current = 0
        self.peak = 0
        self.node: str | None = None  # set by forward pre-hooks
        self.peak_at: str | None = None

    def track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr, nbytes = storage.data_ptr(), storage.nbytes()
        if nbytes == 0 or ptr in self.known:
            return
        entry = self.live.get(ptr)
        if entry is None:
            entry = self.live[ptr] = [nbytes, 0]
            self.current += nbytes
            if self.current > self.peak:
                self.peak, self.peak_at = self.current, self.node
        entry[1] += 1
        weakref.finalize(t, self._release, ptr)

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.track(leaf)
        return out


def measure_peak(
    model: torch.nn.Module, nodes: list[str], shape: tuple[int, ...], dtype=torch.float32, device="cpu"
) -> MeasuredMemory:
    """Peak live activation bytes of one inference forward pass on a fresh random input."""
    known = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    tracker = StorageTracker(known)

    def enter(name):
        def hook(module, args):
            tracker.node = name

        return hook

    handles = [model.get_submodule(n).register_forward_pre_hook(enter(n)) for n in nodes]
    try:
        with torch.no_grad(), tracker:
            x = [torch.randn(shape, dtype=dtype, device=device)]
            out = model(x)  # the model pops the input and drops it after its last reader
            del out
    finally:
        for h in handles:
            h.remove()
    device_peak = None
    if cuda:
        torch.cuda.synchronize(device)
        device_peak = torch.cuda.max_memory_allocated(device) - base
    return MeasuredMemory(tracker.peak, tracker.peak_at, device_peak)

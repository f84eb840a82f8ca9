"""Measured activation memory of a forward pass.

A TorchDispatchMode sees every tensor each aten op returns; each storage is followed from
allocation until a weakref finaliser on the storage itself notices it is freed. Parameters
and buffers existed before and are left out; the input is counted until the network drops it. The peak of the live total
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
    """Live bytes of every storage aten operators return, from allocation until the storage
    itself is freed (a weakref finaliser on the untyped storage, so views share their base's
    bytes and a tensor autograd keeps for the backward is followed until the backward frees
    it). Storages in ``known`` pre-exist (parameters, buffers, optimizer state)."""

    def __init__(self, known: set[int]):
        super().__init__()
        self.known = known
        self.live: dict[int, int] = {}  # data_ptr -> bytes
        self.current = 0
        self.peak = 0
        self.where: str | None = None  # what is running: set by the caller (forward pre-hooks)
        self.peak_at: str | None = None

    def track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr, nbytes = storage.data_ptr(), storage.nbytes()
        if nbytes == 0 or ptr in self.known or ptr in self.live:
            return
        self.live[ptr] = nbytes
        self.current += nbytes
        if self.current > self.peak:
            self.peak, self.peak_at = self.current, self.where
        weakref.finalize(storage, self._release, ptr)

    def _release(self, ptr: int) -> None:
        nbytes = self.live.pop(ptr, None)
        if nbytes is not None:
            self.current -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.track(leaf)
        return out


def measure_peak(
    model: torch.nn.Module,
    nodes: list[str],
    shape: tuple[int, ...],
    dtype=torch.float32,
    device="cpu",
    make_input=None,
) -> MeasuredMemory:
    """Peak live activation bytes of one inference forward pass on a fresh random input
    (``make_input()`` when given: token ids)."""
    known = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    tracker = StorageTracker(known)

    def enter(name):
        def hook(module, args):
            tracker.where = name

        return hook

    handles = [model.get_submodule(n).register_forward_pre_hook(enter(n)) for n in nodes]
    try:
        with torch.no_grad(), tracker:
            x = [make_input() if make_input else torch.randn(shape, dtype=dtype, device=device)]
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

"""Devices and dtypes, validated once, up front, before any work: every entry point of the
torch side (verify, verify --train, profile, calibrate, counting) calls these first, so a
``--device tpu``, a ``cuda`` without CUDA, a ``cuda:7`` that does not exist or a
``--dtype bogus`` is a NetcostError (exit 2) naming the accepted values, never a traceback
from deep inside torch, and never after minutes of measuring."""

from __future__ import annotations

import re
from collections.abc import Iterable

from netcost.errors import NetcostError
from netcost.text import one_line

_DEVICE = re.compile(r"(cpu|cuda|meta)(?::(\d+))?")
# the dtypes that timing and calibration run at (torch dtype names in netcost.counted.timing)
RUN_DTYPES = ("fp32", "fp16", "bf16", "fp64")


def accepted_devices(meta: bool = False) -> str:
    return "cpu, cuda, cuda:N" + (" or meta" if meta else "")


def check_device(device: object, option: str = "--device", meta: bool = False) -> str:
    """``device`` normalised (``cpu``, ``cuda``, ``cuda:N``; ``meta`` where ``meta``),
    or a NetcostError saying what is accepted and what this machine has."""
    text = device.strip().lower() if isinstance(device, str) else None
    match = _DEVICE.fullmatch(text) if text else None
    kind = match.group(1) if match else None
    if kind is None or (kind == "meta" and not meta) or (kind != "cuda" and match.group(2) is not None):
        raise NetcostError(
            f"{option} {one_line(device)!r}: not a device netcost can run on; one of {accepted_devices(meta)}"
        )
    if kind != "cuda":
        return kind
    import torch

    if not torch.cuda.is_available():
        raise NetcostError(f"{option} {text}: no CUDA device is available here", hint="use --device cpu")
    count = torch.cuda.device_count()
    index = match.group(2)
    if index is not None and int(index) >= count:
        have = "cuda:0" if count == 1 else f"cuda:0 .. cuda:{count - 1}"
        raise NetcostError(f"{option} {text}: no such CUDA device; this machine has {count} ({have})")
    return text if index is None else f"cuda:{int(index)}"


def check_dtype(dtype: object, option: str = "--dtype", accepted: Iterable[str] = RUN_DTYPES) -> str:
    accepted = tuple(accepted)
    if not isinstance(dtype, str) or dtype not in accepted:
        raise NetcostError(f"{option} {one_line(dtype)!r}: unknown dtype; one of {', '.join(accepted)}")
    return dtype


def check_dtypes(dtypes: Iterable[object], option: str = "--dtype", accepted: Iterable[str] = RUN_DTYPES) -> list[str]:
    if isinstance(dtypes, str):
        dtypes = [d.strip() for d in dtypes.split(",")]
    checked = [check_dtype(d, option, accepted) for d in dtypes]
    if not checked:
        raise NetcostError(f"{option}: give at least one dtype; one of {', '.join(tuple(accepted))}")
    return checked

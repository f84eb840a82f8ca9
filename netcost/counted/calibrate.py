"""This machine's roofline: peak FLOP/s (a large matmul) and memory bandwidth (a large copy)
for a device and dtype, cached per machine in the user cache directory
(``$NETCOST_CACHE_DIR``, else ``$XDG_CACHE_HOME/netcost``, else ``~/.cache/netcost``)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from netcost.counted.timing import DTYPES, synchronize


@dataclass(frozen=True)
class Roofline:
    device: str
    dtype: str
    threads: int
    peak_flop_per_s: float  # 2*n^3 / time of an n x n matmul
    bandwidth_bytes_per_s: float  # 2 x size / time of a copy (read + write)
    matmul_n: int
    copy_bytes: int

    def predict(self, flops: float, bytes_moved: float) -> float:
        """Roofline time: whichever takes longer, the arithmetic or the memory traffic."""
        return max(flops / self.peak_flop_per_s, bytes_moved / self.bandwidth_bytes_per_s)


def cache_file() -> Path:
    root = os.environ.get("NETCOST_CACHE_DIR")
    if root:
        return Path(root) / "calibration.json"
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "netcost" / "calibration.json"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _key(device: torch.device, dtype: str) -> str:
    return f"{platform.node()}|{device_name(device)}|{dtype}|threads={torch.get_num_threads()}"


def measure(device: str = "cpu", dtype: str = "fp32", matmul_n: int = 2048, copy_mib: int = 256) -> Roofline:
    from torch.utils import benchmark

    dev, torch_dtype = torch.device(device), DTYPES[dtype]
    a = torch.randn(matmul_n, matmul_n, device=dev).to(torch_dtype)
    b = torch.randn(matmul_n, matmul_n, device=dev).to(torch_dtype)
    mm = benchmark.Timer("torch.mm(a, b)", globals={"torch": torch, "a": a, "b": b}).blocked_autorange(min_run_time=1)
    src = torch.empty(copy_mib * 2**20 // a.element_size(), device=dev, dtype=torch_dtype).fill_(1)
    dst = torch.empty_like(src)
    copy = benchmark.Timer("dst.copy_(src)", globals={"src": src, "dst": dst}).blocked_autorange(min_run_time=1)
    synchronize(dev)
    nbytes = src.numel() * src.element_size()
    return Roofline(
        device=device_name(dev),
        dtype=dtype,
        threads=torch.get_num_threads(),
        peak_flop_per_s=2 * matmul_n**3 / mm.median,
        bandwidth_bytes_per_s=2 * nbytes / copy.median,
        matmul_n=matmul_n,
        copy_bytes=nbytes,
    )


def roofline(device: str = "cpu", dtype: str = "fp32", recalibrate: bool = False) -> tuple[Roofline, bool]:
    """(the roofline, whether it came from the cache)."""
    path, key = cache_file(), _key(torch.device(device), dtype)
    cached = {}
    if path.exists():
        try:
            cached = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            cached = {}
    if key in cached and not recalibrate:
        return Roofline(**cached[key]), True
    result = measure(device, dtype)
    cached[key] = asdict(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cached, indent=2))
    return result, False

"""This machine's roofline: peak FLOP/s (a large matmul) and memory bandwidth (a large copy)
for a device and dtype, cached per machine in the user cache directory
(``$NETCOST_CACHE_DIR``, else ``$XDG_CACHE_HOME/netcost``, else ``~/.cache/netcost``)."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from netcost.analysis.latency_record import measurement_doubts
from netcost.counted.device import RUN_DTYPES, check_device, check_dtype
from netcost.counted.timing import DTYPES, synchronize
from netcost.files import read_cache_entries, write_atomic
from netcost.text import one_line


@dataclass(frozen=True)
class Roofline:
    device: str
    dtype: str
    threads: int
    peak_flop_per_s: float  # 2*n^3 / time of an n x n matmul
    bandwidth_bytes_per_s: float  # 2 x size / time of a copy (read + write)
    matmul_n: int
    copy_bytes: int
    measured_at: str = ""  # UTC date and time of the measurement (ISO 8601)
    load_average: float | None = None  # the machine's 1-minute load average then (None: unknown)
    cpus: int = 0  # logical CPUs of the machine (0: unknown)

    def predict(self, flops: float, bytes_moved: float) -> float:
        """Roofline time: whichever takes longer, the arithmetic or the memory traffic."""
        return max(flops / self.peak_flop_per_s, bytes_moved / self.bandwidth_bytes_per_s)


def cache_file() -> Path:
    from netcost.files import cache_path

    return cache_path("calibration.json")


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

    device, dtype = check_device(device), check_dtype(dtype)
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
        measured_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        load_average=load_average(),
        cpus=os.cpu_count() or 0,
    )


def load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def doubts(entry: Roofline, now: datetime.datetime | None = None) -> list[str]:
    """Why a calibration may not describe this machine now: its age, the load it ran under."""
    return measurement_doubts(entry.measured_at, entry.load_average, entry.cpus, now)


def roofline(device: str = "cpu", dtype: str = "fp32", recalibrate: bool = False) -> tuple[Roofline, bool]:
    """(the roofline, whether it came from the cache). A cache that cannot be read or does
    not hold a valid entry is measured again (said on stderr); one that cannot be written
    is warned about on stderr, and the measurement is still returned."""
    device, dtype = check_device(device), check_dtype(dtype)
    path, key = cache_file(), _key(torch.device(device), dtype)
    entries, problem = read_cache(path)
    if problem:
        _warn(f"the calibration cache {path} is not valid ({problem}); measuring again")
    if key in entries and not recalibrate:
        entry = from_entry(entries[key])
        if entry is not None:
            for doubt in doubts(entry):
                _warn(
                    f"the cached calibration ({entry.measured_at}) may be off: {doubt}; `--recalibrate` measures again"
                )
            return entry, True
        _warn(f"the calibration cache {path} holds an invalid entry for this machine; measuring again")
    result = measure(device, dtype)
    for doubt in doubts(result):
        _warn(f"this calibration may be low: {doubt}; measure again on an idle machine (`--recalibrate`)")
    entries[key] = asdict(result)
    write_cache(path, entries)
    return result, False


# --- the cache file -----------------------------------------------------------------------
# {"schema_version": 2, "entries": {"<host>|<device>|<dtype>|threads=<n>": {Roofline fields}}}

SCHEMA_VERSION = 3  # 3: the date, load average and CPU count of each measurement
_POSITIVE_INTS = ("threads", "matmul_n", "copy_bytes")
_POSITIVE_FIGURES = ("peak_flop_per_s", "bandwidth_bytes_per_s")


def read_cache(path: Path) -> tuple[dict[str, Any], str | None]:
    """(the cache's entries, as stored; what is wrong with the file, if anything)."""
    return read_cache_entries(path, SCHEMA_VERSION, "calibration cache")


def from_entry(entry: Any) -> Roofline | None:
    """The Roofline in a stored entry, or None when any field is missing, of the wrong type,
    or not a positive finite figure."""
    names = {f.name for f in fields(Roofline)}
    if not isinstance(entry, dict) or set(entry) != names:
        return None
    if not all(isinstance(entry[k], str) for k in ("device", "dtype")) or entry["dtype"] not in RUN_DTYPES:
        return None
    for k in _POSITIVE_INTS:
        if type(entry[k]) is not int or entry[k] <= 0:
            return None
    for k in _POSITIVE_FIGURES:
        v = entry[k]
        if type(v) not in (int, float) or not math.isfinite(v) or v <= 0:
            return None
    load = entry["load_average"]
    if not isinstance(entry["measured_at"], str) or type(entry["cpus"]) is not int or entry["cpus"] < 0:
        return None
    if load is not None and (type(load) not in (int, float) or not math.isfinite(load) or load < 0):
        return None
    return Roofline(**entry)


def write_cache(path: Path, entries: dict[str, Any]) -> bool:
    """Write the cache (whole, then renamed into place); on failure warn and go on."""
    text = json.dumps({"schema_version": SCHEMA_VERSION, "entries": entries}, indent=2)
    try:
        write_atomic(path, text)
    except OSError as exc:
        _warn(f"could not write the calibration cache {path} ({exc.strerror or exc}); the measurement is not kept")
        return False
    return True


def _warn(message: str) -> None:
    sys.stderr.write(f"netcost: {one_line(message)}\n")
    sys.stderr.flush()

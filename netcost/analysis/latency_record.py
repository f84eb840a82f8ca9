"""The per-op-class latency calibration of one machine, as a record, and its JSON cache.

No torch here: ``netcost predict`` reads a cached calibration and predicts without
importing torch. The microbenchmarks that measure one live in
netcost.counted.opclass_calibrate.

Each op class (netcost.analysis.predict.OP_CLASSES) is fitted as ``overhead_s`` (the time
of a call that does next to no work) plus its work divided by the throughput achieved at
that amount of work: ``points`` are (work, work per second) pairs measured at a few sizes,
interpolated linearly in log-log space and clamped at the ends. Work is FLOPs for the
compute classes (convolutions, linear, attention, window pooling) and bytes moved for the
rest. What a network adds to its layers alone (cold weights, the previous layer's output,
the framework between layers) is a factor on every layer, ``network_factor``, and a cost
per layer, ``step_overhead_s``, both fitted on the calibration's reference networks
(netcost.counted.reference_networks).
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netcost.files import read_cache_entries, write_atomic

SCHEMA_VERSION = 2  # 2: the step measured on reference networks; window/global pooling, matvec apart
BASES = ("flops", "bytes")
STALE_DAYS = 90  # older than this: warned about
BUSY = 0.5  # 1-minute load per CPU above which a machine is busy


@dataclass(frozen=True)
class ClassFit:
    """One op class: per-call overhead plus work over the throughput achieved at that size."""

    basis: str  # "flops" or "bytes": what the throughput is of
    overhead_s: float
    points: tuple[tuple[float, float], ...]  # (work, work per second), increasing work

    def rate(self, work: float) -> float:
        """Achieved work per second at ``work``: log-log interpolation, clamped at the ends."""
        pts = self.points
        if work <= pts[0][0]:
            return pts[0][1]
        if work >= pts[-1][0]:
            return pts[-1][1]
        for (w0, r0), (w1, r1) in itertools.pairwise(pts):
            if w0 <= work <= w1:
                if w1 == w0:
                    return max(r0, r1)
                t = (math.log(work) - math.log(w0)) / (math.log(w1) - math.log(w0))
                return math.exp(math.log(r0) + t * (math.log(r1) - math.log(r0)))
        return pts[-1][1]  # pragma: no cover - points are sorted

    def terms(self, flops: float, bytes_moved: float, bandwidth: float) -> tuple[float, float]:
        """(compute seconds, memory seconds), overhead excluded. A compute class is also
        bounded by the machine's bandwidth; a bandwidth class is priced by its bytes alone."""
        if self.basis == "bytes":
            return 0.0, bytes_moved / self.rate(bytes_moved) if bytes_moved else 0.0
        compute = flops / self.rate(flops) if flops else 0.0
        return compute, bytes_moved / bandwidth if bandwidth else 0.0


@dataclass(frozen=True)
class OpClassCalibration:
    """What one machine achieves per op class at one device, dtype, thread count and memory format."""

    host: str
    device_type: str  # cpu or cuda
    device: str  # the CPU model or the GPU's name
    dtype: str
    threads: int
    channels_last: bool
    classes: dict[str, ClassFit]
    step_overhead_s: float  # per layer: the module's loop and the framework (the reference networks)
    bandwidth_bytes_per_s: float  # the best elementwise throughput: bounds every layer's traffic
    network_factor: float = 1.0  # on every layer's time alone, inside a network (the reference networks)
    disturbed: bool = False  # a reference network ran far faster than its layers alone: not to be trusted
    measured_at: str = ""  # UTC, ISO 8601
    load_average: float | None = None  # the 1-minute load average before measuring
    cpus: int = 0
    torch_version: str = ""
    cudnn_benchmark: bool | None = None  # torch.backends.cudnn.benchmark while measuring (CUDA)
    seconds: float = 0.0  # how long the calibration took
    notes: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        layout = "channels_last" if self.channels_last else "contiguous"
        return f"{self.host}|{self.device_type}|{self.device}|{self.dtype}|threads={self.threads}|{layout}"

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["classes"] = {k: {**asdict(v), "points": [list(p) for p in v.points]} for k, v in self.classes.items()}
        doc["notes"] = list(self.notes)
        return doc


def doubts(record: OpClassCalibration, now: datetime.datetime | None = None) -> list[str]:
    """Why a calibration may not describe this machine now: its age, the load it ran under,
    its reference networks' disagreement."""
    found = measurement_doubts(record.measured_at, record.load_average, record.cpus, now)
    if record.disturbed:
        found.append("its microbenchmarks disagree with its reference networks (the machine was busy)")
    return found


def measurement_doubts(
    measured_at: str, load_average: float | None, cpus: int, now: datetime.datetime | None = None
) -> list[str]:
    """Why any measurement of this machine (a roofline, an op-class calibration) may be off:
    its age (a UTC ISO 8601 time) and the load it was taken under."""
    found = []
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        taken = datetime.datetime.fromisoformat(measured_at)
    except ValueError:
        taken = None
    if taken is not None and taken.tzinfo is not None and (now - taken).days > STALE_DAYS:
        found.append(f"it is {(now - taken).days} days old")
    if busy(load_average, cpus):
        found.append(f"it was measured under load ({load_average:g} on {cpus} CPUs)")
    return found


def busy(load: float | None, cpus: int) -> bool:
    return load is not None and cpus > 0 and load > BUSY * cpus


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def host() -> str:
    return platform.node()


# --- the cache file ------------------------------------------------------------------------
# {"schema_version": 1, "entries": {"<key>": {OpClassCalibration.to_dict()}}}


def cache_file() -> Path:
    """Beside the roofline's cache (netcost.counted.calibrate.cache_file), in the same folder."""
    from netcost.files import cache_path

    return cache_path("opclass_calibration.json")


def read_cache(path: Path) -> tuple[dict[str, Any], str | None]:
    """(the cache's entries, as stored; what is wrong with the file, if anything)."""
    return read_cache_entries(path, SCHEMA_VERSION, "op-class calibration cache")


def write_cache(path: Path, entries: dict[str, Any]) -> str | None:
    """Write the cache whole; the reason it could not be written, or None."""
    text = json.dumps({"schema_version": SCHEMA_VERSION, "entries": entries}, indent=1)
    try:
        write_atomic(path, text)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _positive(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v) and v > 0


def _non_negative(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v) and v >= 0


def fit_from(doc: Any) -> ClassFit | None:
    if not isinstance(doc, dict) or set(doc) != {"basis", "overhead_s", "points"}:
        return None
    points = doc["points"]
    if doc["basis"] not in BASES or not _non_negative(doc["overhead_s"]) or not isinstance(points, list) or not points:
        return None
    if not all(isinstance(p, list) and len(p) == 2 and all(_positive(v) for v in p) for p in points):
        return None
    works = [p[0] for p in points]
    if works != sorted(works):
        return None
    pts = tuple((float(w), float(r)) for w, r in points)
    return ClassFit(doc["basis"], float(doc["overhead_s"]), pts)


_TEXT = ("host", "device_type", "device", "dtype", "measured_at", "torch_version")


def from_dict(doc: Any) -> OpClassCalibration | None:
    """The record in a stored entry, or None when anything is missing, mistyped or out of range."""
    names = set(OpClassCalibration.__dataclass_fields__)
    if not isinstance(doc, dict) or set(doc) != names:
        return None
    if not all(isinstance(doc[k], str) for k in _TEXT) or doc["device_type"] not in ("cpu", "cuda"):
        return None
    if type(doc["threads"]) is not int or doc["threads"] < 1 or type(doc["cpus"]) is not int or doc["cpus"] < 0:
        return None
    if type(doc["channels_last"]) is not bool or doc["cudnn_benchmark"] not in (None, True, False):
        return None
    if type(doc["disturbed"]) is not bool:
        return None
    if not _non_negative(doc["step_overhead_s"]) or not _positive(doc["bandwidth_bytes_per_s"]):
        return None
    if not _positive(doc["network_factor"]) or doc["network_factor"] < 1:
        return None
    load = doc["load_average"]
    if not _non_negative(doc["seconds"]) or (load is not None and not _non_negative(load)):
        return None
    notes, classes = doc["notes"], doc["classes"]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes) or not isinstance(classes, dict):
        return None
    fits = {name: fit_from(v) for name, v in classes.items()}
    if not fits or any(f is None for f in fits.values()) or not all(isinstance(k, str) for k in fits):
        return None
    values = {k: doc[k] for k in names}
    values.update(
        classes=fits,
        notes=tuple(notes),
        step_overhead_s=float(doc["step_overhead_s"]),
        network_factor=float(doc["network_factor"]),
        bandwidth_bytes_per_s=float(doc["bandwidth_bytes_per_s"]),
        seconds=float(doc["seconds"]),
    )
    return OpClassCalibration(**values)


def matching(
    entries: dict[str, Any], *, device_type: str, dtype: str, channels_last: bool, threads: int | None
) -> tuple[list[OpClassCalibration], int]:
    """(the valid cached records of this host for the setting, newest first; how many
    entries of this host could not be read)."""
    found, invalid = [], 0
    here = host()
    for key, doc in entries.items():
        if not key.startswith(f"{here}|"):
            continue
        record = from_dict(doc)
        if record is None or record.key != key:
            invalid += 1
            continue
        if (record.device_type, record.dtype, record.channels_last) != (device_type, dtype, channels_last):
            continue
        if threads is not None and record.threads != threads:
            continue
        found.append(record)
    found.sort(key=lambda r: r.measured_at, reverse=True)
    return found, invalid


def warn(message: str) -> None:
    """A diagnostic on stderr, one line."""
    import sys

    from netcost.text import one_line

    sys.stderr.write(f"netcost: {one_line(message)}\n")
    sys.stderr.flush()

"""Reading ``--profile FILE.json``, a document written by ``netcost profile --format json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netcost.errors import NetcostError

HINT = "write it with: netcost profile MODEL --per-layer --format json > FILE.json"


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_profile(doc: Any, where: str) -> dict[str, Any]:
    """The document when it has a profile's shape (runs; layers and a roofline if timed per
    layer); a NetcostError naming what is wrong otherwise."""

    def bad(what: str) -> NetcostError:
        return NetcostError(f"{where}: not a netcost profile document: {what}", hint=HINT)

    if not isinstance(doc, dict):
        raise bad(f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("schema_version") != 1:
        raise bad(f"schema_version {doc.get('schema_version')!r}, expected 1")
    runs = doc.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise bad("'runs' must be a list of objects")
    keys = ("batch", "dtype", "amp", "channels_last", "median_s", "iqr_s", "throughput", "achieved_flop_per_s")
    for i, run in enumerate(runs):
        missing = [k for k in keys if k not in run]
        if missing:
            raise bad(f"runs[{i}] lacks {', '.join(missing)}")
    layers = doc.get("layers")
    if layers is not None and (not isinstance(layers, list) or not all(isinstance(r, dict) for r in layers)):
        raise bad("'layers' must be a list of objects")
    roofline = doc.get("roofline")
    if roofline is not None and (
        not isinstance(roofline, dict)
        or not all(_number(roofline.get(k)) for k in ("peak_flop_per_s", "bandwidth_bytes_per_s"))
    ):
        raise bad("'roofline' needs numbers peak_flop_per_s and bandwidth_bytes_per_s")
    return doc


def load_profile(path: str | Path) -> dict[str, Any]:
    where = f"--profile {path}"
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NetcostError(f"{where}: cannot read it: {exc}", hint=HINT) from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise NetcostError(f"{where}: not JSON: {exc}", hint=HINT) from None
    return check_profile(doc, where)

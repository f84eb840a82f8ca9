"""`netcost zoo`: the bundled specs with their headline numbers.

The numbers come from the layers' costs alone (no receptive-field or memory pass) and are
cached per spec file in the user cache directory (``$NETCOST_CACHE_DIR``, else
``$XDG_CACHE_HOME/netcost``, else ``~/.cache/netcost``). An entry is keyed by the file's
bytes, netcost's version and a digest of netcost's own source (an edited formula in a
checkout invalidates it too); a spec that may ``extends:`` another is keyed by every
bundled file. A cache that cannot be read, is corrupt or cannot be written is ignored.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from netcost.report.render import Format, json_document, outside, plain_grid
from netcost.units import grouped, si

CACHE_SCHEMA = 1
ROW_TYPES = {
    "name": str,
    "params": int,
    "macs": int,
    "input": list,
    "vars": list,
    "reference": (str, type(None)),
    "description": str,
}


def zoo_rows(cache: bool = True) -> list[dict[str, Any]]:
    from netcost.zoo import bundled

    specs = bundled()
    path, keys = _cache_and_keys(specs) if cache else (None, {})
    cached = _read_cache(path) if path else {}
    rows, fresh = [], {}
    for name, spec_path in specs.items():
        entry = cached.get(name)
        row = entry["row"] if entry and entry.get("key") == keys.get(name) else None
        if row is None:
            row = spec_row(name, spec_path)
        rows.append(row)
        fresh[name] = {"key": keys.get(name), "row": row}
    if path and fresh != cached:
        _write_cache(path, fresh)
    return rows


def _cache_and_keys(specs: dict[str, Path]) -> tuple[Path | None, dict[str, str]]:
    """The cache file and each spec's key; (None, {}) where they cannot be had (no home
    directory, an unreadable file): the zoo is then computed without a cache."""
    try:
        return cache_file(), _keys({name: path.read_bytes() for name, path in specs.items()})
    except (OSError, RuntimeError, KeyError):
        return None, {}


def spec_row(name: str, path: Path) -> dict[str, Any]:
    """One model's row: params and MACs of one sample, from the layers' costs alone."""
    from netcost.analysis.counts import cost_totals
    from netcost.api import load_graph, load_spec

    spec = load_spec(path)
    graph = load_graph(spec)
    totals = cost_totals(graph)
    return {
        "name": name,
        "params": totals["params"],
        "macs": totals["macs"],
        "input": list(graph.input_shape.dims),
        "vars": sorted(spec.vars),
        "reference": spec.reference,
        "description": spec.description,
    }


def cache_file() -> Path:
    from netcost.files import cache_path

    return cache_path("zoo.json")


def _keys(contents: dict[str, bytes]) -> dict[str, str]:
    from netcost import __version__

    base = hashlib.sha256(f"{CACHE_SCHEMA}:{__version__}:{_source_digest()}".encode())
    everything = base.copy()
    for name in sorted(contents):
        everything.update(name.encode() + b"\0" + hashlib.sha256(contents[name]).digest())
    keys = {}
    for name, data in contents.items():
        h = (everything if b"extends" in data else base).copy()
        h.update(data)
        keys[name] = h.hexdigest()
    return keys


def _source_digest() -> str:
    """A digest of netcost's Python sources (sizes and bytes)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    """The valid entries of the cache file; nothing when it is missing, unreadable or corrupt."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("schema") != CACHE_SCHEMA or not isinstance(doc.get("entries"), dict):
        return {}
    return {name: entry for name, entry in doc["entries"].items() if _valid(name, entry)}


def _valid(name: str, entry: Any) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        return False
    row = entry.get("row")
    if not isinstance(row, dict) or set(row) != set(ROW_TYPES) or row["name"] != name:
        return False
    if not all(isinstance(row[k], t) for k, t in ROW_TYPES.items()):
        return False
    numbers_ok = all(type(row[k]) is int and row[k] >= 0 for k in ("params", "macs"))
    return numbers_ok and all(type(d) is int for d in row["input"]) and all(isinstance(v, str) for v in row["vars"])


def _write_cache(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write atomically (a temporary file renamed); give up quietly where that fails."""
    import contextlib

    from netcost.files import write_atomic

    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps({"schema": CACHE_SCHEMA, "entries": entries}))


def render_zoo(rows: list[dict[str, Any]], format: Format) -> None:
    if format is Format.json:
        sys.stdout.write(json_document({"schema_version": 1, "models": rows}))
        return
    header = ["model", "params", "MACs", "input", "variables", "reference"]
    cells = [
        [
            outside(r["name"]),
            grouped(r["params"]),
            si(r["macs"]),
            "x".join(map(str, r["input"])),
            outside(" ".join(r["vars"])),
            outside(r["reference"] or ""),
        ]
        for r in rows
    ]
    if format is Format.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["model", "params", "macs", "input", "vars", "reference"])
        for r in rows:
            writer.writerow(
                [
                    outside(r["name"]),
                    r["params"],
                    r["macs"],
                    "x".join(map(str, r["input"])),
                    outside(" ".join(r["vars"])),
                    outside(r["reference"] or ""),
                ]
            )
        return
    if format is Format.markdown:
        sys.stdout.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
        sys.stdout.writelines("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |\n" for row in cells)
        return
    if not sys.stdout.isatty():
        lines = plain_grid(header, cells, [i not in (1, 2) for i in range(len(header))])
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    from netcost.report.render import stdout_console

    table = Table(box=None, header_style="bold")
    for i, h in enumerate(header):
        table.add_column(h, justify="right" if i in (1, 2) else "left")
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    stdout_console().print(table)

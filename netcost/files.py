"""Netcost's files: where its caches live, written whole (a reader never sees half a file,
and a failed write leaves the old one) and read back checked."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_path(name: str) -> Path:
    """Where the cache file ``name`` lives: ``$NETCOST_CACHE_DIR``, else the platform's user
    cache folder for netcost (platformdirs: ``$XDG_CACHE_HOME/netcost`` or ``~/.cache/netcost``
    on Linux, ``~/Library/Caches/netcost`` on macOS, ``%LOCALAPPDATA%\\netcost\\Cache`` on Windows)."""
    root = os.environ.get("NETCOST_CACHE_DIR")
    if root:
        return Path(root) / name
    import platformdirs

    return Path(platformdirs.user_cache_dir("netcost", appauthor=False)) / name


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a temporary file beside ``path``, then rename it into place.
    Raises OSError (nothing half-written remains)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_cache_entries(path: Path, schema_version: int, what: str) -> tuple[dict[str, Any], str | None]:
    """(the entries of a ``{"schema_version", "entries"}`` JSON cache, as stored; what is
    wrong with the file, if anything). A missing file is an empty cache; anything else that
    is not a ``what`` of this schema is a problem (the caller measures again)."""
    try:
        if not path.exists():
            return {}, None
        raw = path.read_bytes()
    except OSError as exc:
        return {}, f"cannot read it: {exc.strerror or exc}"
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return {}, "not UTF-8 text"
    except (json.JSONDecodeError, RecursionError):
        return {}, "not JSON"
    if not isinstance(doc, dict) or doc.get("schema_version") != schema_version:
        return {}, f"not a schema-{schema_version} {what}"
    entries = doc.get("entries")
    if not isinstance(entries, dict) or not all(isinstance(k, str) for k in entries):
        return {}, "its entries are not a mapping"
    return dict(entries), None

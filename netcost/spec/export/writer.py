"""A small YAML writer in the bundled specs' style: block mappings and lists for structure,
one line per layer (``- conv: {out: 64, k: 3}``), flow lists of numbers."""

from __future__ import annotations

from typing import Any

from netcost.spec.export.values import scalar


class Flow(dict):
    """A mapping written on one line: ``{out: 64, k: 3}``."""


def inline(value: Any) -> str | None:
    """The one-line form of ``value``, or None when it takes lines of its own."""
    if isinstance(value, Flow):
        return "{" + ", ".join(f"{scalar(k)}: {inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        parts = [inline(v) for v in value]
        if all(p is not None for p in parts) and all(not isinstance(v, dict) or isinstance(v, Flow) for v in value):
            return "[" + ", ".join(parts) + "]"  # type: ignore[arg-type]
        return None
    if isinstance(value, dict):
        return "{}" if not value else None
    return scalar(value)


def lines(value: Any, indent: int = 0) -> list[str]:
    """Block-style lines of a mapping or list."""
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            text = inline(item) if not _is_layer_list(item) else None
            if text is not None:
                out.append(f"{pad}{scalar(key)}: {text}")
            else:
                out.append(f"{pad}{scalar(key)}:")
                out.extend(lines(item, indent + 2))
        return out
    for item in value:
        text = inline(item) if not _is_layer_list(item) else None
        if text is not None:
            out.append(f"{pad}- {text}")
            continue
        inner = lines(item, indent + 2)
        out.append(f"{pad}- {inner[0][indent + 2 :]}")
        out.extend(inner[1:])
    return out


def _is_layer_list(value: Any) -> bool:
    """A non-empty list of layers is written one layer a line, even when each is short."""
    return isinstance(value, LayerList) and len(value) > 0


class LayerList(list):
    """A list of layers (or of branches)."""

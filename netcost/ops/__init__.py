"""The op registry. ``@register("conv")`` on an Op dataclass is its only listing.

Every module in this package is imported here, so a new op family file registers
itself without touching this file.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from netcost.errors import SpecError
from netcost.ops.base import Op

REGISTRY: dict[str, type[Op]] = {}


def register(kind: str, family: str | None = None):
    """Class decorator: make ``cls`` the op named ``kind``. Registering a name twice raises."""

    def wrap(cls: type[Op]) -> type[Op]:
        if kind in REGISTRY:
            raise RuntimeError(f"op {kind!r} is registered twice ({REGISTRY[kind].__name__}, {cls.__name__})")
        cls.kind = kind
        cls.family = family or cls.__module__.rsplit(".", 1)[-1]
        REGISTRY[kind] = cls
        return cls

    return wrap


def get(kind: str) -> type[Op]:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise SpecError(f"unknown op {kind!r}", hint=did_you_mean(kind, REGISTRY)) from None


def did_you_mean(name: str, choices) -> str | None:
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None


def _import_families() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_import_families()

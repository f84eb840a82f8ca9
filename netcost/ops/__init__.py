"""The op registry. ``@register("conv")`` on an Op dataclass is its only listing.

Op families are imported on demand: building their dataclasses costs tens of milliseconds
at start-up, and most models need a few families. :data:`FAMILIES` says which module
defines each kind (a test checks it against what the modules register); looking up a
kind imports its module. A kind missing from the table, and listing the registry, import
every module in this package, so a new family file still registers itself without
touching this file (add its kinds to the table to keep it lazy).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Iterator, MutableMapping

from netcost.errors import SpecError
from netcost.ops.base import Op

# module (in this package) -> the kinds it registers
FAMILIES: dict[str, tuple[str, ...]] = {
    "act": (
        "relu",
        "relu6",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "hardswish",
        "hardsigmoid",
        "silu",
        "swish",
        "gelu",
        "softmax",
    ),
    "arith": ("scale",),
    "attention": ("attention",),
    "channels": ("split", "channel_shuffle"),
    "conv": ("conv", "conv_transpose"),
    "lenet": ("sparse_conv", "subsample", "rbf"),
    "linear": ("linear",),
    "merge": ("add", "concat", "mul"),
    "norm": ("bn", "layernorm", "groupnorm", "lrn"),
    "pool": ("maxpool", "avgpool", "adaptive_avgpool", "gap", "mean"),
    "resample": ("upsample",),
    "reshape": ("flatten", "identity", "dropout", "crop"),
    "residual": ("layer_scale", "drop_path"),
    "tensor": ("reshape", "permute_dims", "matmul", "opaque"),
    "tokens": (
        "to_tokens",
        "to_map",
        "permute",
        "class_token",
        "pos_embedding",
        "select_token",
        "mean_tokens",
        "embedding",
    ),
    "window": ("window_attention", "patch_merge"),
}
KIND_MODULE = {kind: module for module, kinds in FAMILIES.items() for kind in kinds}


class Registry(MutableMapping):
    """kind -> Op class, importing the family that defines a kind when it is first asked for."""

    def __init__(self) -> None:
        self._ops: dict[str, type[Op]] = {}
        self._complete = False

    def add(self, kind: str, cls: type[Op]) -> None:
        if kind in self._ops:
            raise RuntimeError(f"op {kind!r} is registered twice ({self._ops[kind].__name__}, {cls.__name__})")
        self._ops[kind] = cls

    def _find(self, kind: str) -> type[Op] | None:
        cls = self._ops.get(kind)
        if cls is None and not self._complete:
            module = KIND_MODULE.get(kind)
            if module is not None:
                importlib.import_module(f"{__name__}.{module}")
            cls = self._ops.get(kind)
            if cls is None:  # not in the table: a family file the table does not list yet
                self.load_all()
                cls = self._ops.get(kind)
        return cls

    def load_all(self) -> None:
        if self._complete:
            return
        for name in _family_modules():
            importlib.import_module(name)
        self._complete = True

    def __getitem__(self, kind: str) -> type[Op]:
        cls = self._find(kind)
        if cls is None:
            raise KeyError(kind)
        return cls

    def __contains__(self, kind: object) -> bool:
        return self._find(kind) is not None  # type: ignore[arg-type]

    def __setitem__(self, kind: str, cls: type[Op]) -> None:
        self._ops[kind] = cls

    def __delitem__(self, kind: str) -> None:
        del self._ops[kind]

    def __iter__(self) -> Iterator[str]:
        """Every kind: family modules alphabetically, each in its own order (whichever
        family was looked up first)."""
        self.load_all()
        rank = {name: i for i, name in enumerate(_family_modules())}
        return iter(sorted(self._ops, key=lambda kind: rank.get(self._ops[kind].__module__, len(rank))))

    def __len__(self) -> int:
        self.load_all()
        return len(self._ops)

    def loaded(self) -> dict[str, type[Op]]:
        """The kinds registered so far, importing nothing."""
        return dict(self._ops)


def _family_modules() -> list[str]:
    return [f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__) if info.name != "base"]


REGISTRY = Registry()


def register(kind: str, family: str | None = None):
    """Class decorator: make ``cls`` the op named ``kind``. Registering a name twice raises."""

    def wrap(cls: type[Op]) -> type[Op]:
        REGISTRY.add(kind, cls)
        cls.kind = kind
        cls.family = family or cls.__module__.rsplit(".", 1)[-1]
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

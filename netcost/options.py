"""The options of an analysis, as typed, validated records shared by the Python API, the
CLI and ``[tool.netcost]``: one place checks each value's domain, so every entry point
refuses the same bad values with the same message (exit 2 at the CLI)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netcost.core.conventions import Convention
from netcost.errors import NetcostError

# bytes per element of each --dtype (the analytic path and the budgets use these)
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp64": 8}
OPTIMIZER_NAMES = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "rmsprop_momentum",
    "rmsprop_centered",
    "adam",
    "adamw",
    "amsgrad",
)
TRAIN_DEVICES = ("cuda", "cpu")
MAX_BATCH = 2**31


class OptionError(NetcostError):
    """An option's value is outside its domain (the CLI exits 2)."""


class OneSize(tuple):
    """An input given as one size ``s``: ``(s, s)``, square, for an image; the sequence
    length where a spec's input is tokens (layout ``L`` or ``LC``: netcost.spec.expand)."""

    @property
    def size(self) -> int:
        return self[0]


def parse_shape(value: Any, what: str = "input_shape") -> tuple[int, ...] | None:
    """One sample's input: ``(3, 160, 160)``, ``[160, 160]``, ``160`` or the text
    ``'3x160x160'`` / ``'160x160'`` / ``'160'`` (a single size: :class:`OneSize`)."""
    if value is None or isinstance(value, OneSize):
        return value
    if isinstance(value, str):
        parts = value.strip().lower().replace("×", "x").split("x")
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            raise OptionError(f"{what}: {value!r} is not CxHxW, HxW or a single size (e.g. 3x224x224)") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        dims = (value,)
    elif isinstance(value, Sequence) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        dims = tuple(value)
    else:
        raise OptionError(f"{what}: expected a tuple of ints or text such as '3x224x224', got {_show(value)}")
    if not 1 <= len(dims) <= 3 or any(d < 1 or d > 2**31 for d in dims):
        raise OptionError(f"{what}: {value!r} is not CxHxW, HxW or a single size of positive integers")
    return OneSize(dims * 2) if len(dims) == 1 else dims


def check_int(value: Any, what: str, low: int = 1, high: int = MAX_BATCH) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{what}: expected an integer, got {_show(value)}")
    if not low <= value <= high:
        raise OptionError(f"{what}: {value} is out of range ({low} to {high})")
    return value


def check_choice(value: Any, choices: Sequence[str], what: str) -> str:
    value = getattr(value, "value", value)  # an Enum member
    if isinstance(value, str) and value in choices:
        return value
    if not isinstance(value, str):
        raise OptionError(f"{what}: expected one of {', '.join(choices)}, got {_show(value)}")
    from netcost.ops import did_you_mean
    from netcost.text import printable

    raise OptionError(
        f"unknown {what} {printable(value)!r}; expected one of {', '.join(choices)}", hint=did_you_mean(value, choices)
    )


def check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"{what}: expected true or false, got {_show(value)}")
    return value


def check_number(value: Any, what: str, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptionError(f"{what}: expected a finite number, got {_show(value)}")
    if value < low:
        raise OptionError(f"{what}: must be at least {low:g}, got {value!r}")
    return float(value)


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """One training step to cost: which optimizer (and its momentum), mixed precision,
    frozen layers (names or globs), and the device whose torch behaviour is modelled."""

    optimizer: str = "sgd"
    momentum: float = 0.0
    amp: bool = False
    freeze: tuple[str, ...] = ()
    device: str = "cuda"
    foreach: bool | None = None

    def __post_init__(self) -> None:
        name = getattr(self.optimizer, "value", self.optimizer)
        name = name.lower().replace("-", "_") if isinstance(name, str) else name
        object.__setattr__(self, "optimizer", check_choice(name, OPTIMIZER_NAMES, "optimizer"))
        object.__setattr__(self, "momentum", check_number(self.momentum, "momentum"))
        check_bool(self.amp, "amp")
        freeze = (self.freeze,) if isinstance(self.freeze, str) else self.freeze
        if not isinstance(freeze, Sequence) or not all(isinstance(p, str) for p in freeze):
            raise OptionError(f"freeze: expected layer names or globs, got {_show(self.freeze)}")
        object.__setattr__(self, "freeze", tuple(freeze))
        check_choice(self.device, TRAIN_DEVICES, "train-device")
        if self.foreach is not None:
            check_bool(self.foreach, "foreach")


@dataclass(frozen=True, kw_only=True)
class AnalyzeOptions:
    """How to analyse a model: its input, variable overrides, batch, dtype, the FLOP
    convention, and (``train``) the training step to cost."""

    input_shape: tuple[int, ...] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    batch: int = 1
    dtype: str = "fp32"
    convention: Convention = Convention.NETCOST
    train: TrainOptions | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", parse_shape(self.input_shape))
        overrides = {} if self.overrides is None else self.overrides
        if not isinstance(overrides, Mapping) or not all(isinstance(k, str) for k in overrides):
            raise OptionError(f"overrides: expected a mapping of variable names to values, got {_show(overrides)}")
        object.__setattr__(self, "overrides", dict(overrides))
        check_int(self.batch, "batch")
        check_choice(self.dtype, tuple(DTYPE_BYTES), "dtype")
        convention = check_choice(self.convention, tuple(c.value for c in Convention), "convention")
        object.__setattr__(self, "convention", Convention(convention))
        if self.train is not None and not isinstance(self.train, TrainOptions):
            raise OptionError(f"train: expected TrainOptions, got {_show(self.train)}")
        if self.train is not None and self.train.amp and self.dtype != "fp32":
            raise OptionError("--amp keeps fp32 parameters (the master weights): use it with dtype fp32")

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
# where a torch model is built and run (--device; distinct from --train-device)
MODEL_DEVICES = ("meta", "cpu", "cuda")
# the element types a torch model's input may be given in (``128:int64``), torch's names
INPUT_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float64": "float64",
    "fp64": "float64",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
    "bool": "bool",
}
MAX_INPUT_RANK = 8
INPUT_SYNTAX = "SHAPE[:DTYPE] or NAME=SHAPE[:DTYPE], e.g. 50x128, 128:int64, attention_mask=128:int64"
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


@dataclass(frozen=True)
class TorchInput:
    """One input of a torch model: one sample's ``shape`` (any rank; the batch is
    prepended), its element type (torch's name; None: the model's float type, or int64
    token ids where the model starts with an embedding), and ``name`` where it binds a
    keyword argument of ``forward`` (None: the next positional one)."""

    name: str | None
    shape: tuple[int, ...]
    dtype: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and not (isinstance(self.name, str) and self.name.isidentifier()):
            raise OptionError(f"input name {_show(self.name)} is not a Python identifier")
        if not isinstance(self.shape, Sequence) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in self.shape
        ):
            raise OptionError(f"input shape: expected a tuple of ints, got {_show(self.shape)}")
        if len(self.shape) > MAX_INPUT_RANK or any(d < 1 or d > MAX_BATCH for d in self.shape):
            raise OptionError(f"input shape {tuple(self.shape)}: up to {MAX_INPUT_RANK} positive sizes")
        object.__setattr__(self, "shape", tuple(self.shape))
        if self.dtype is not None:
            dtype = INPUT_DTYPES.get(self.dtype) if isinstance(self.dtype, str) else None
            if dtype is None:
                raise OptionError(
                    f"input dtype {_show(self.dtype)} is not one of {', '.join(sorted(set(INPUT_DTYPES.values())))}"
                )
            object.__setattr__(self, "dtype", dtype)

    def __str__(self) -> str:
        text = "x".join(map(str, self.shape)) + (f":{self.dtype}" if self.dtype else "")
        return f"{self.name}={text}" if self.name else text


def parse_torch_input(value: Any, what: str = "--input") -> TorchInput:
    """``'50x128'``, ``'128:int64'``, ``'attention_mask=128:int64'``, a TorchInput, or a
    tuple of ints (a positional input of that shape)."""
    if isinstance(value, TorchInput):
        return value
    if not isinstance(value, str):
        if isinstance(value, (int, Sequence)) and not isinstance(value, bool):
            return TorchInput(None, (value,) if isinstance(value, int) else tuple(value))
        raise OptionError(f"{what}: expected text such as '128:int64' or a TorchInput, got {_show(value)}")
    from netcost.text import printable

    text = value.strip()
    shown = printable(value)
    name, sep, rest = text.partition("=")
    if not sep:
        name, rest = None, text
    elif not name.strip().isidentifier():
        raise OptionError(f"{what} {shown!r}: {name.strip()!r} is not an argument name", hint=INPUT_SYNTAX)
    shape_text, sep, dtype = rest.partition(":")
    if sep and not dtype.strip():
        raise OptionError(f"{what} {shown!r}: nothing after ':' (a dtype such as int64)", hint=INPUT_SYNTAX)
    parts = shape_text.strip().lower().replace("×", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        wrong = shape_text.strip()
        raise OptionError(
            f"{what} {shown!r}: {wrong!r} is not CxHxW, HxW or a size (a spec), nor a shape of sizes (a torch model)",
            hint=INPUT_SYNTAX,
        ) from None
    try:
        return TorchInput(name.strip() if name else None, shape, dtype.strip().lower() if sep else None)
    except OptionError as exc:
        raise OptionError(f"{what} {shown!r}: {exc.message}", hint=INPUT_SYNTAX) from None


def parse_torch_inputs(values: Any, what: str = "--input") -> tuple[TorchInput, ...]:
    """Several inputs (one text or TorchInput, or a list of them); a keyword named twice,
    or a positional one after a keyword, is an error."""
    if values is None:
        return ()
    if isinstance(values, (str, TorchInput)):
        values = [values]
    if not isinstance(values, Sequence):
        raise OptionError(f"{what}: expected a list of inputs, got {_show(values)}")
    inputs = tuple(parse_torch_input(v, what) for v in values)
    names = [i.name for i in inputs if i.name]
    for i, item in enumerate(inputs):
        if item.name is None and any(earlier.name for earlier in inputs[:i]):
            raise OptionError(f"{what} {item}: a positional input after a keyword one", hint=INPUT_SYNTAX)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise OptionError(f"{what}: {', '.join(twice)} given twice")
    return inputs


def counting_modes() -> tuple[str, ...]:
    """The modes a torch model can be counted in (``--mode``; netcost.counted.torchcount.MODES
    says what each means): eval (the default) and train."""
    return ("eval", "train")


def spec_shape(options: AnalyzeOptions) -> tuple[int, ...] | None:
    """The input a spec takes from the options: ``input_shape``, else the one ``--input``
    read the spec's way (CxHxW, HxW or one size); names, dtypes and several inputs are
    for torch models."""
    if options.input_shape is not None or not options.inputs:
        return options.input_shape
    if len(options.inputs) > 1 or options.inputs[0].name or options.inputs[0].dtype:
        given = " ".join(f"--input {i}" for i in options.inputs)
        raise OptionError(
            f"{given}: a spec takes one --input, CxHxW, HxW or a size",
            hint="several inputs, NAME= and :DTYPE are for torch models (package.module:callable)",
        )
    return parse_shape(options.inputs[0].shape, "--input")


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
    inputs: tuple[TorchInput, ...] = ()  # a torch model's inputs (the CLI's --input, literal)
    device: str | None = None  # where a torch model is built and run (None: meta)
    mode: str = "eval"  # a torch model's mode while counted

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", parse_shape(self.input_shape))
        object.__setattr__(self, "inputs", parse_torch_inputs(self.inputs))
        if self.device is not None:
            check_model_device(self.device)
        check_choice(self.mode, counting_modes(), "mode")
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

    def count_options(self, inputs: tuple[TorchInput, ...]) -> CountOptions:
        """The options a torch model is counted with (``inputs``: its forward's inputs)."""
        return CountOptions(
            inputs=inputs,
            batch=self.batch,
            dtype=self.dtype,
            convention=self.convention,
            device=self.device or "meta",
            mode=self.mode,
        )


def check_model_device(device: Any) -> str:
    """``meta``, ``cpu``, ``cuda`` or ``cuda:N`` (whether this machine has it is checked
    where the model is built: netcost.counted.device)."""
    base = device.split(":")[0] if isinstance(device, str) else device
    check_choice(base, MODEL_DEVICES, "device")
    return device


@dataclass(frozen=True, kw_only=True)
class CountOptions:
    """How a torch model is counted: its forward's ``inputs`` (each one sample; empty: the
    example inputs its factory returns), the ``batch`` prepended to them, the ``dtype`` its
    memory is reported in, the FLOP ``convention``, the ``device`` it is built and run on
    (meta: shapes only, nothing allocated; cpu measures peak memory) and its ``mode``."""

    inputs: tuple[TorchInput, ...] = ()
    batch: int = 1
    dtype: str = "fp32"
    convention: Convention = Convention.NETCOST
    device: str = "meta"
    mode: str = "eval"

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", parse_torch_inputs(self.inputs, "inputs"))
        check_int(self.batch, "batch")
        check_choice(self.dtype, tuple(DTYPE_BYTES), "dtype")
        convention = check_choice(self.convention, tuple(c.value for c in Convention), "convention")
        object.__setattr__(self, "convention", Convention(convention))
        check_model_device(self.device)
        check_choice(self.mode, counting_modes(), "mode")


@dataclass(frozen=True, kw_only=True)
class ProfileOptions:
    """How a model is timed: the batch sizes and dtypes (every pair is one run), the
    device, autocast (``amp``: fp32 weights, ops in the dtype), channels-last memory
    format, per-layer timing (with a roofline), torch's thread count (None: torch's
    default), the seconds of timed runs per setting, and whether to measure the roofline
    again rather than read the cache."""

    batches: tuple[int, ...] = (1,)
    dtypes: tuple[str, ...] = ("fp32",)
    device: str = "cpu"
    amp: bool = False
    channels_last: bool = False
    per_layer: bool = False
    threads: int | None = None
    min_run_time: float = 1.0
    recalibrate: bool = False

    def __post_init__(self) -> None:
        batches = (self.batches,) if isinstance(self.batches, int) else self.batches
        if not isinstance(batches, Sequence) or not batches:
            raise OptionError(f"batches: expected a list of batch sizes, got {_show(self.batches)}")
        object.__setattr__(self, "batches", tuple(check_int(b, "batch") for b in batches))
        from netcost.counted.device import check_dtypes  # torch-free: names only

        if not isinstance(self.dtypes, (str, Sequence)):
            raise OptionError(f"dtypes: expected a list of dtypes, got {_show(self.dtypes)}")
        object.__setattr__(self, "dtypes", tuple(check_dtypes(self.dtypes)))
        if not isinstance(self.device, str):
            raise OptionError(f"device: expected cpu or cuda (cuda:N), got {_show(self.device)}")
        for flag in ("amp", "channels_last", "per_layer", "recalibrate"):
            check_bool(getattr(self, flag), flag)
        if self.threads is not None:
            check_int(self.threads, "threads", 1, 1024)
        object.__setattr__(self, "min_run_time", check_number(self.min_run_time, "min_run_time", 0.01))

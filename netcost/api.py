"""The library entry points; the CLI calls these and only renders.

Every function takes the model first (a bundled name, a spec path, an inline spec, a
``package.module:callable`` where it applies, a parsed Spec or a Graph), its variable
overrides second, and everything else by keyword. Values are checked here, at the
boundary (:mod:`netcost.options`): a bad one raises :class:`netcost.errors.NetcostError`
with what was expected, never a bare TypeError from deep inside."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netcost.core.conventions import Convention
from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.options import (
    AnalyzeOptions,
    OneSize,
    OptionError,
    TorchInput,
    TrainOptions,
    check_bool,
    check_int,
    parse_torch_inputs,
    spec_shape,
)
from netcost.report.model import Report
from netcost.spec.expand import expand
from netcost.spec.schema import Spec, parse_spec
from netcost.zoo import exists, resolve


def is_callable_path(model: str) -> bool:
    """``package.module:callable`` (a torch model to count) rather than a spec."""
    head, sep, tail = model.partition(":")
    return bool(sep) and head.replace(".", "").replace("_", "").isalnum() and tail.replace(".", "").isidentifier()


def load_spec(model: str | Path, input_shape: tuple[int, ...] | None = None) -> Spec:
    """Parse a bundled spec name, a YAML path or an inline spec (``conv(64,k=3) > relu``)."""
    from netcost.spec.extends import load_extended
    from netcost.spec.inline import is_inline, parse_inline

    if isinstance(model, str) and is_inline(model) and not exists(model):
        return parse_inline(model, input_shape)
    path = resolve(str(model))
    return parse_spec(load_extended(path), str(path), path.stem)


def load_extended(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """The spec's YAML with its ``extends:`` chain applied (see netcost.spec.extends)."""
    from netcost.spec.extends import load_extended as load

    return load(path, seen)


def load_graph(
    model: str | Path | Spec,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | str | None = None,
) -> Graph:
    """The typed Graph a spec expands to (variables overridden, input replaced)."""
    options = AnalyzeOptions(input_shape=input_shape, overrides=overrides)
    spec = model if isinstance(model, Spec) else load_spec(_model_text(model), options.input_shape)
    return expand(spec, options.overrides, options.input_shape)


def _model_text(model: Any) -> str | Path:
    if not isinstance(model, (str, Path)):
        raise OptionError(f"model: expected a name, a path, a Spec or a Graph, got {type(model).__name__} {model!r}")
    return model


def _graph(model: Any, options: AnalyzeOptions, command: str | None = None) -> Graph:
    """The Graph of a spec; a ``command`` that needs one says so for a torch model."""
    if options.device is not None:
        raise OptionError(
            f"--device {options.device}: a spec is analysed from its formulas, on no device",
            hint="--device says where a torch model (package.module:callable) is built and run; "
            "verify and profile have their own --device, --train-device models a training step's device",
        )
    if isinstance(model, Graph):
        return model
    if command is not None and _is_torch_model(model):
        raise NetcostError(
            f"{command} checks a spec's formulas against the module it compiles to; {model} is a torch "
            "model without a spec",
            hint="`netcost analyze` counts it and `netcost profile` times it",
        )
    return load_graph(model, options.overrides, spec_shape(options))


def _is_torch_model(model: Any) -> bool:
    return isinstance(model, str) and is_callable_path(model) and not exists(model)


def analyze(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention | str = Convention.NETCOST,
    train: TrainOptions | bool | None = None,
    formulas: bool = False,
    inputs: list[TorchInput | str] | None = None,
    device: str | None = None,
    mode: str = "eval",
) -> Report:
    """The cost Report of a model (per layer and totals): analytic for a spec, counted for a
    ``package.module:callable`` torch model.

    For a torch model: ``inputs``, the forward's inputs, each one sample (the batch is
    prepended): TorchInputs or text, ``["128:int64"]``, ``["input_ids=128:int64",
    "attention_mask=128:int64"]``, ``["50x128"]`` (a shape of any rank; ``:DTYPE`` one of
    float32, float16, bfloat16, float64, int64, int32, bool; ``NAME=`` a keyword
    argument). None: the example inputs the factory returns, ``(model, args[, kwargs])``,
    used as given. ``device``: where it is built and run, meta (default: nothing
    allocated), cpu (measures peak memory) or cuda; ``mode``: eval.

    ``overrides``: the spec's variables, ``{"width": 0.5, "depths": [3, 4, 6, 3]}``;
    ``input_shape``: one sample, ``(3, 160, 160)`` or ``"3x160x160"``; ``batch``: totals
    cover the whole batch; ``dtype``: fp32, fp16, bf16, int8, fp64; ``convention``: how
    FLOPs are counted (netcost, flopcounter, fvcore, pycls); ``train``: a TrainOptions (or
    True for plain SGD) adds the cost of one training step (``report.train``);
    ``formulas``: each layer's formula with its numbers."""
    options = _options(
        input_shape=input_shape,
        overrides=overrides,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train,
        inputs=inputs,
        device=device,
        mode=mode,
    )
    return analyze_options(model, options, formulas=check_bool(formulas, "formulas"))


def _options(*, train: TrainOptions | bool | None, inputs, **given: Any) -> AnalyzeOptions:
    """The keywords of analyze and check as one validated record (``train=True``: plain SGD)."""
    if train is True:
        train = TrainOptions()
    elif train is False:
        train = None
    return AnalyzeOptions(train=train, inputs=inputs or (), **given)


def analyze_options(model: str | Path | Spec | Graph, options: AnalyzeOptions, *, formulas: bool = False) -> Report:
    """:func:`analyze` with its options as one record (the CLI and the gate call this)."""
    from netcost.analysis import analyze_graph

    if _is_torch_model(model):
        if options.train is not None:
            raise NetcostError("--train needs a spec: a torch model given as module:callable is only counted forward")
        return count_callable(model, options)
    graph = _graph(model, options)
    if options.train is None:
        return analyze_graph(graph, options.batch, options.dtype, options.convention, formulas)
    from netcost.analysis.training import train_report

    t = options.train
    return train_report(
        graph,
        options.batch,
        options.dtype,
        t.optimizer,
        t.momentum,
        t.amp,
        t.freeze,
        options.convention,
        t.device,
        t.foreach,
        formulas,
    )


def analyze_train(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    optimizer: str = "sgd",
    momentum: float = 0.0,
    amp: bool = False,
    frozen: tuple[str, ...] = (),
    convention: Convention | str = Convention.NETCOST,
    device: str = "cuda",
    foreach: bool | None = None,
    formulas: bool = False,
) -> Report:
    """The Report with training columns per layer and ``report.train`` (backward FLOPs,
    gradients, optimizer state, saved activations, the step's peak): analytic, no torch."""
    train = TrainOptions(optimizer=optimizer, momentum=momentum, amp=amp, freeze=frozen, device=device, foreach=foreach)
    return analyze(
        model,
        overrides,
        input_shape=input_shape,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train,
        formulas=formulas,
    )


def check(
    models: str | list[str] | tuple[str, ...] | None = None,
    *,
    budgets: Mapping[str, int | str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention | str = Convention.NETCOST,
    train: TrainOptions | bool | None = None,
    allow_partial: bool = False,
    baseline: str | Path | None = None,
    max_increase: float | str | None = None,
    write_baseline: str | Path | None = None,
    config: str | Path | None = None,
    inputs: list[TorchInput | str] | None = None,
    device: str | None = None,
    mode: str = "eval",
):
    """The budget gate: a CheckResult (``.passed``, ``.rows``, ``.to_dict()``).

    ``budgets``: metric -> limit (``{"macs": "2G", "params": 12_000_000}``; the metrics are
    the analyze totals, and ``train_memory_bytes`` & co. for a training step). With no
    ``models``, the models, budgets and baseline of ``[tool.netcost]`` in ``config`` (a
    pyproject.toml) are checked, ``budgets`` overriding theirs. ``baseline``: a saved
    analyze/compare/check JSON; a total may grow by at most ``max_increase`` percent.
    ``write_baseline``: write the totals there afterwards (atomically), as a baseline.
    ``inputs``, ``device``, ``mode``: a torch model's inputs, device and mode, as in
    :func:`analyze`."""
    from netcost.budget import Target
    from netcost.budget import check as gate

    check_bool(allow_partial, "allow_partial")
    budgets = dict(budgets or {})
    options = _options(  # checked even where [tool.netcost] gives each model its own
        input_shape=input_shape,
        overrides=overrides,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train,
        inputs=inputs,
        device=device,
        mode=mode,
    )
    if models:
        names = [models] if isinstance(models, str) else list(models)
        targets = [Target(model=m, budgets=budgets, options=options, allow_partial=allow_partial) for m in names]
    else:
        from dataclasses import replace

        from netcost.config import load_config

        declared = load_config(config or "pyproject.toml")
        targets = [
            replace(t, budgets={**t.budgets, **budgets}, allow_partial=t.allow_partial or allow_partial)
            for t in declared.targets
        ]
        baseline = baseline or declared.baseline
        max_increase = declared.max_increase if max_increase is None else max_increase
    return gate(targets, baseline=baseline, max_increase=max_increase, write_baseline=write_baseline)


def count_callable(model: str, options: AnalyzeOptions) -> Report:
    """Count a torch model given as ``package.module:callable`` (no spec: torch counts it)."""
    if options.overrides:
        raise NetcostError(f"--set applies to specs; {model} is a torch model (it takes no variables)")
    _need_torch(f"counting {model}")
    from netcost.counted.torchcount import count_model

    return count_model(
        model,
        None,
        options.batch,
        options.dtype,
        options.convention,
        options.device or "meta",
        inputs=torch_inputs(options) or None,
        mode=options.mode,
    )


def torch_inputs(options: AnalyzeOptions) -> tuple[TorchInput, ...]:
    """A torch model's inputs: ``inputs``, else ``input_shape`` taken literally (one
    positional input of that shape; a single size is a 1-D input)."""
    if options.inputs:
        return options.inputs
    shape = options.input_shape
    if shape is None:
        return ()
    return (TorchInput(None, (shape.size,) if isinstance(shape, OneSize) else tuple(shape)),)


def _need_torch(feature: str) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise NetcostError(f"{feature} needs torch: pip install torch 'netcost[torch]'")


def build(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
):
    """The spec as a real ``torch.nn.Module`` (eval mode); submodule paths are the layer names."""
    _need_torch("build")
    from netcost.counted.compile import build as compile_graph

    return compile_graph(_graph(model, AnalyzeOptions(input_shape=input_shape, overrides=overrides)))


def verify(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    device: str = "cpu",
    fields: bool = True,
    memory: bool = True,
    against: str | None = None,
):
    """Analytic against counted, layer by layer (a VerifyReport; ``.passed``, ``.to_dict()``).
    ``fields``: measure receptive fields by gradient; ``memory``: the peak activation
    memory; ``against``: also compare with a reference ``package.module:callable``."""
    options = AnalyzeOptions(input_shape=input_shape, overrides=overrides, batch=batch)
    check_bool(fields, "fields")
    check_bool(memory, "memory")
    _need_torch("verify")
    from netcost.counted.verify import verify_graph

    return verify_graph(_graph(model, options, "verify"), options.batch, device, fields, memory, against)


def profile(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    batches: tuple[int, ...] | list[int] = (1,),
    dtypes: tuple[str, ...] | list[str] = ("fp32",),
    device: str = "cpu",
    amp: bool = False,
    channels_last: bool = False,
    per_layer: bool = False,
    threads: int | None = None,
    min_run_time: float = 1.0,
    recalibrate: bool = False,
    progress=None,
    inputs: list[TorchInput | str] | None = None,
    predict: bool = False,
):
    """Measured latency next to the analytic work (a ProfileReport; ``.to_dict()``).
    ``inputs``: a torch model's input, one sample, as in :func:`analyze` (profile times
    one positional floating-point input). ``predict`` (with ``per_layer``): each layer's
    time predicted per op class beside the measured one (the op-class calibration of
    :func:`opclass_calibration`, measured first when none is cached)."""
    options = AnalyzeOptions(input_shape=input_shape, overrides=overrides, inputs=parse_torch_inputs(inputs))
    for b in batches:
        check_int(b, "batch")
    if threads is not None:
        check_int(threads, "threads", 1, 1024)
    _need_torch("profile")
    import torch

    from netcost.counted.calibrate import roofline
    from netcost.counted.device import check_device, check_dtypes
    from netcost.counted.profile import profile_graph, profile_module

    device = check_device(device)
    dtypes = check_dtypes(dtypes)
    if threads:
        torch.set_num_threads(threads)
    check_bool(predict, "predict")
    if predict and not per_layer:
        raise OptionError("predict compares predicted with measured layer times: it needs per_layer")
    rl = roofline(device, dtypes[0], recalibrate)[0] if per_layer else None
    calibration = None
    if predict and not _is_torch_model(model):
        calibration = opclass_calibration(
            device, dtypes[0], threads=torch.get_num_threads(), channels_last=channels_last, recalibrate=recalibrate
        )
    if _is_torch_model(model):
        if options.overrides:
            raise NetcostError(f"--set applies to specs; {model} is a torch model (it takes no variables)")
        shape = _profiled_shape(model, torch_inputs(options))
        return profile_module(model, shape, batches, dtypes, device, amp, channels_last, min_run_time, progress)
    return profile_graph(
        _graph(model, options),
        batches,
        dtypes,
        device,
        amp,
        channels_last,
        per_layer,
        min_run_time,
        roofline=rl,
        progress=progress,
        calibration=calibration,
    )


def _profiled_shape(model: str, inputs: tuple[TorchInput, ...]) -> tuple[int, ...]:
    if not inputs:
        raise OptionError(f"{model} needs an input: netcost does not guess one", hint="e.g. --input 3x224x224")
    if len(inputs) > 1 or inputs[0].name or inputs[0].dtype not in (None, "float32"):
        raise OptionError(
            f"profile times a torch model on one positional float input; got {' '.join(map(str, inputs))}",
            hint="`netcost analyze` counts a model with several, named or integer inputs",
        )
    return inputs[0].shape


def calibrate(device: str = "cpu", dtype: str = "fp32", recalibrate: bool = False):
    """(Roofline, cached?) of this machine: peak FLOP/s and memory bandwidth."""
    _need_torch("calibrate")
    from netcost.counted.calibrate import roofline

    return roofline(device, dtype, recalibrate)


def verify_train(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 2,
    train: TrainOptions | None = None,
    device: str = "cpu",
    memory: bool = True,
):
    """The training-cost model against one real training step (a TrainVerifyReport;
    ``.passed``, ``.to_dict()``). ``train``: the optimizer and its options (default SGD)."""
    options = AnalyzeOptions(input_shape=input_shape, overrides=overrides, batch=batch, train=train or TrainOptions())
    check_bool(memory, "memory")
    _need_torch("verify --train")
    from netcost.counted.train_verify import verify_train as run

    t = options.train
    return run(
        _graph(model, options, "verify --train"),
        t.optimizer,
        options.batch,
        t.momentum,
        device,
        t.freeze,
        t.foreach,
        memory,
        t.amp,
    )


def predict(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    inputs: list[TorchInput | str] | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    device: str = "cpu",
    threads: int | None = None,
    channels_last: bool = False,
    recalibrate: bool = False,
    calibration=None,
    progress=None,
):
    """Latency per layer and of the whole model, predicted from the graph and this machine's
    per-op-class calibration (a Prediction; ``.total_s``, ``.to_dict()``).

    A cached calibration of this host for ``device``/``dtype``/``threads``/``channels_last``
    is used without importing torch; without one (or with ``recalibrate``) it is measured
    (torch, ~30 s) and cached. ``calibration``: an OpClassCalibration to use instead."""
    from netcost.analysis.predict import predict_graph

    options = AnalyzeOptions(
        input_shape=input_shape, overrides=overrides, batch=batch, inputs=parse_torch_inputs(inputs)
    )
    check_bool(channels_last, "channels_last")
    check_bool(recalibrate, "recalibrate")
    if threads is not None:
        check_int(threads, "threads", 1, 1024)
    if _is_torch_model(model):
        raise NetcostError(
            f"predict prices the layers of a spec; {model} is a torch model without one",
            hint="`netcost profile` times a torch model; `netcost analyze` counts it",
        )
    graph = _graph(model, options)
    if calibration is None:
        calibration = opclass_calibration(
            device, dtype, threads=threads, channels_last=channels_last, recalibrate=recalibrate, progress=progress
        )
    return predict_graph(graph, calibration, options.batch)


def opclass_calibration(
    device: str = "cpu",
    dtype: str = "fp32",
    *,
    threads: int | None = None,
    channels_last: bool = False,
    recalibrate: bool = False,
    progress=None,
):
    """This machine's per-op-class calibration (an OpClassCalibration): the cached one when
    there is one (read without torch), else measured and cached."""
    from netcost.analysis.latency_record import cache_file, doubts, matching, read_cache, warn
    from netcost.counted.device import RUN_DTYPES, check_dtype

    device_type = _device_type(device)
    dtype = check_dtype(dtype, accepted=RUN_DTYPES)
    if not recalibrate:
        entries, _ = read_cache(cache_file())
        found, _ = matching(entries, device_type=device_type, dtype=dtype, channels_last=channels_last, threads=threads)
        if found:
            for doubt in doubts(found[0]):
                if (found[0].key, doubt) not in _DOUBTS_SAID:
                    _DOUBTS_SAID.add((found[0].key, doubt))
                    warn(f"the cached op-class calibration ({found[0].measured_at}) may be off: {doubt}; --recalibrate")
            return found[0]
    _need_torch("measuring the op-class calibration")
    import torch

    from netcost.counted.opclass_calibrate import calibration

    if threads:
        torch.set_num_threads(threads)
    return calibration(device, dtype, channels_last, recalibrate, progress)[0]


_DOUBTS_SAID: set[tuple[str, str]] = set()  # said once per process (compare predicts several models)


def _device_type(device: Any) -> str:
    """cpu or cuda, from ``cpu``, ``cuda`` or ``cuda:N``, without torch (a calibration is per kind)."""
    import re

    text = device.strip().lower() if isinstance(device, str) else ""
    match = re.fullmatch(r"(cpu|cuda)(?::\d+)?", text)
    if not match or (match.group(1) == "cpu" and text != "cpu"):
        raise OptionError(f"--device {device!r}: one of cpu, cuda, cuda:N")
    return match.group(1)

"""The library entry points; the CLI calls these and only renders.

Every function takes the model first — a bundled name, a spec path, an inline spec, a
``package.module:callable``, a ``torch.nn.Module``, a parsed Spec or a Graph, resolved
once into its source (:func:`netcost.sources.resolve.source_of`) — its variable overrides
second, and everything else by keyword, or as one option record (``options=``: an
:class:`~netcost.options.AnalyzeOptions`, :class:`~netcost.options.ProfileOptions`).
Values are checked at the boundary (:mod:`netcost.options`): a bad one raises
:class:`netcost.errors.NetcostError` with what was expected, never a bare TypeError from
deep inside."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from netcost.core.conventions import Convention
from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.options import (
    AnalyzeOptions,
    OptionError,
    ProfileOptions,
    TorchInput,
    TrainOptions,
    check_bool,
    check_int,
    check_number,
    parse_torch_inputs,
)
from netcost.report.model import Report
from netcost.sources.base import ModelSource, NoGraph
from netcost.sources.resolve import source_of
from netcost.sources.spec import load_spec
from netcost.sources.torch_model import TorchSource, need_torch
from netcost.spec.schema import Spec

__all__ = ["load_spec"]


def load_extended(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """The spec's YAML with its ``extends:`` chain applied (see netcost.spec.extends)."""
    from netcost.spec.extends import load_extended as load

    return load(path, seen)


def load_graph(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | str | None = None,
) -> Graph:
    """The typed Graph a model expands to (a spec's variables overridden, its input replaced)."""
    return source_of(model).graph(AnalyzeOptions(input_shape=input_shape, overrides=overrides))


def _graph_for(source: ModelSource, options: AnalyzeOptions, command: str) -> Graph:
    """The source's Graph for ``command``, which needs one (a torch model that cannot be
    captured has none: the message says why)."""
    try:
        return source.graph(options)
    except NoGraph as exc:
        raise NoGraph(f"{command} needs the model's graph: {exc.message}", hint=exc.hint) from None


def _one_way(options: Any, given: dict[str, Any], defaults: dict[str, Any]) -> None:
    """``options=`` and the keywords it replaces are not both given."""
    if options is None:
        return
    both = sorted(k for k, v in given.items() if v != defaults[k])
    if both:
        raise OptionError(f"options= and {', '.join(both)}=: give the options one way (the record or its keywords)")


ANALYZE_DEFAULTS: dict[str, Any] = {
    "overrides": None,
    "input_shape": None,
    "batch": 1,
    "dtype": "fp32",
    "convention": Convention.NETCOST,
    "train": None,
    "inputs": None,
    "device": None,
    "mode": "eval",
}


def analyze(
    model: Any,
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
    options: AnalyzeOptions | None = None,
) -> Report:
    """The cost Report of a model (per layer and totals): analytic for a spec, counted for a
    torch model (``package.module:callable`` or an ``nn.Module``).

    For a torch model: ``inputs``, the forward's inputs, each one sample (the batch is
    prepended): TorchInputs or text, ``["128:int64"]``, ``["input_ids=128:int64",
    "attention_mask=128:int64"]``, ``["50x128"]`` (a shape of any rank; ``:DTYPE`` one of
    float32, float16, bfloat16, float64, int64, int32, bool; ``NAME=`` a keyword
    argument). None: the example inputs the factory returns, ``(model, args[, kwargs])``,
    used as given. ``device``: where it is built and run, meta (default: nothing
    allocated), cpu (measures peak memory) or cuda; ``mode``: eval or train.

    ``overrides``: the spec's variables, ``{"width": 0.5, "depths": [3, 4, 6, 3]}``;
    ``input_shape``: one sample, ``(3, 160, 160)`` or ``"3x160x160"``; ``batch``: totals
    cover the whole batch; ``dtype``: fp32, fp16, bf16, int8, fp64; ``convention``: how
    FLOPs are counted (netcost, flopcounter, fvcore, pycls); ``train``: a TrainOptions (or
    True for plain SGD) adds the cost of one training step (``report.train``);
    ``formulas``: each layer's formula with its numbers. ``options``: all of these but
    ``formulas`` as one :class:`~netcost.options.AnalyzeOptions` instead."""
    given = dict(
        overrides=overrides,
        input_shape=input_shape,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train,
        inputs=inputs,
        device=device,
        mode=mode,
    )
    _one_way(options, given, ANALYZE_DEFAULTS)
    return analyze_options(model, options or _options(**given), formulas=check_bool(formulas, "formulas"))


def _options(*, train: TrainOptions | bool | None, inputs, **given: Any) -> AnalyzeOptions:
    """The keywords of analyze and check as one validated record (``train=True``: plain SGD)."""
    if train is True:
        train = TrainOptions()
    elif train is False:
        train = None
    return AnalyzeOptions(train=train, inputs=inputs or (), **given)


def analyze_options(model: Any, options: AnalyzeOptions, *, formulas: bool = False) -> Report:
    """:func:`analyze` with its options as one record (the CLI and the gate call this)."""
    if not isinstance(options, AnalyzeOptions):
        raise OptionError(f"options: expected AnalyzeOptions, got {type(options).__name__}")
    return source_of(model).report(options, formulas=formulas)


def analyze_train(
    model: Any,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    train: TrainOptions | None = None,
    convention: Convention | str = Convention.NETCOST,
    formulas: bool = False,
) -> Report:
    """The Report with training columns per layer and ``report.train`` (backward FLOPs,
    gradients, optimizer state, saved activations, the step's peak) for the training step
    ``train`` describes (default: plain SGD): analytic, no torch."""
    return analyze(
        model,
        overrides,
        input_shape=input_shape,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train or TrainOptions(),
        formulas=formulas,
    )


def check(
    models: Any = None,
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
    options: AnalyzeOptions | None = None,
    **max_budgets: int | str,
):
    """The budget gate: a CheckResult (``.passed``, ``.rows``, ``.to_dict()``).

    ``budgets``: metric -> limit (``{"macs": "2G", "params": 12_000_000}``), or as keywords
    (``max_macs="2G"``); the metrics are the analyze totals, and ``train_memory_bytes`` &
    co. for a training step. ``models``: one model or a list (any model source). With no
    ``models``, the models, budgets and baseline of ``[tool.netcost]`` in ``config`` (a
    pyproject.toml) are checked, ``budgets`` overriding theirs. ``baseline``: a saved
    analyze/compare/check JSON; a total may grow by at most ``max_increase`` percent.
    ``write_baseline``: write the totals there afterwards (atomically), as a baseline. The
    analysis keywords (or ``options``) are :func:`analyze`'s."""
    from netcost.budget import Target
    from netcost.budget import check as gate

    check_bool(allow_partial, "allow_partial")
    budgets = dict(budgets or {})
    for key, limit in max_budgets.items():
        if not key.startswith("max_"):
            raise OptionError(f"check() got an unexpected keyword {key!r}", hint="budgets are max_<metric>=LIMIT")
        budgets[key.removeprefix("max_")] = limit
    given = dict(
        overrides=overrides,
        input_shape=input_shape,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train,
        inputs=inputs,
        device=device,
        mode=mode,
    )
    _one_way(options, given, ANALYZE_DEFAULTS)
    options = options or _options(**given)  # checked even where [tool.netcost] gives each model its own
    if models is not None and not (isinstance(models, (list, tuple)) and not models):
        names = list(models) if isinstance(models, (list, tuple)) else [models]
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


def report(
    models: str | Path | Spec | Graph | Report | list | tuple,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention | str = Convention.NETCOST,
    train: TrainOptions | bool | None = None,
    inputs: list[TorchInput | str] | None = None,
    device: str | None = None,
    mode: str = "eval",
    profile: str | Path | Mapping[str, Any] | None = None,
    output: str | Path | None = None,
) -> str:
    """The HTML report of one or more models (each a model as :func:`analyze` takes it, or
    a Report already made), as one self-contained page: totals, charts, the layer table,
    the comparison of several, and the roofline of ``profile`` (a ``netcost profile
    --format json`` file or its parsed document). Written to ``output`` when given (whole,
    atomically); the page's text is returned either way. The other keywords are
    :func:`analyze`'s, applied to every model."""
    given = list(models) if isinstance(models, (list, tuple)) else [models]
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
    return report_options(given, options, profile=profile, output=output)


def report_options(
    models: list,
    options: AnalyzeOptions,
    *,
    profile: str | Path | Mapping[str, Any] | None = None,
    output: str | Path | None = None,
) -> str:
    """:func:`report` with its analyze options as one record (the CLI calls this)."""
    from netcost.report.html.page import page
    from netcost.report.html.profile_file import check_profile, load_profile

    if not models:
        raise OptionError("models: give at least one model")
    if profile is None:  # a bad file fails before any model is analysed
        measured = None
    elif isinstance(profile, Mapping):
        measured = check_profile(dict(profile), "profile")
    else:
        measured = load_profile(profile)
    reports = [m if isinstance(m, Report) else analyze_options(m, options, formulas=True) for m in models]
    text = page(reports, measured)
    if output is not None:
        from netcost.files import write_atomic

        try:
            write_atomic(output, text)
        except OSError as exc:
            raise NetcostError(f"-o {output}: cannot write the report: {exc}") from None
    return text


def compare(models: Any, *, depth: int | None = None, **keywords: Any):
    """Models side by side (a Comparison dict: every total with its ratio to the first
    model). ``models``: two or more of any model source; the keywords are :func:`analyze`'s
    (one set for every model); ``depth``: also the per-block rows folded to that depth."""
    from netcost.comparison import Comparison, comparison

    if isinstance(models, (str, Path)) or len(models) < 2:
        raise OptionError("compare: give at least two models")
    if keywords.get("formulas"):
        raise OptionError("compare: formulas= belongs to analyze")
    options = keywords.pop("options", None)
    given = {**ANALYZE_DEFAULTS, **keywords}
    unknown = sorted(set(keywords) - set(ANALYZE_DEFAULTS))
    if unknown:
        raise OptionError(f"compare() got unexpected keywords {', '.join(unknown)}")
    _one_way(options, given, ANALYZE_DEFAULTS)
    options = options or _options(**given)
    return Comparison(comparison([analyze_options(m, options) for m in models], depth))


def count_model(model: Any, input_shape=None, **keywords: Any) -> Report:
    """The counted Report of a torch model (an ``nn.Module`` or ``package.module:callable``);
    see :func:`netcost.counted.torchcount.count_model` for the keywords."""
    need_torch("count_model")
    from netcost.counted.torchcount import count_model as count

    return count(model, input_shape, **keywords)


def build(
    model: Any,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
):
    """The spec as a real ``torch.nn.Module`` (eval mode); submodule paths are the layer names."""
    need_torch("build")
    from netcost.counted.compile import build as compile_graph

    options = AnalyzeOptions(input_shape=input_shape, overrides=overrides)
    return compile_graph(_graph_for(source_of(model), options, "build"))


def export(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    inputs: list[TorchInput | str] | None = None,
) -> str:
    """The model as YAML text of a spec that expands to the same Graph (names, ops, fields,
    shapes), repeated structure written as blocks and stages; ``overrides`` and the input
    are written as their resolved values (see netcost.spec.export)."""
    from netcost.spec.export import export_spec

    options = AnalyzeOptions(input_shape=input_shape, inputs=inputs or (), overrides=overrides)
    source = source_of(model)
    graph = _graph_for(source, options, "export")
    return export_spec(graph, source=_export_source(source, options))


def _export_source(source: ModelSource, options: AnalyzeOptions) -> str | None:
    """What the header says the spec was exported from: the model, its overrides and input."""
    from netcost.options import spec_shape
    from netcost.sources.spec import GraphSource, SpecSource

    if isinstance(source, GraphSource):
        return None
    if not isinstance(source, SpecSource):  # a torch model, captured
        return " ".join([source.label, *(f"--input {i}" for i in options.inputs)])
    model = source.model
    what = model.file if isinstance(model, Spec) else str(model)
    given = [f"--set {k}={v!r}" for k, v in options.overrides.items()]
    shape = spec_shape(options)
    if shape is not None:
        given.append(f"--input {'x'.join(map(str, shape)) if isinstance(shape, tuple) else shape.size}")
    return " ".join([what, *given])


def verify(
    model: Any,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    inputs: list[TorchInput | str] | None = None,
    batch: int = 1,
    device: str = "cpu",
    fields: bool = True,
    memory: bool = True,
    against: str | None = None,
):
    """Analytic against counted, layer by layer (a VerifyReport; ``.passed``, ``.to_dict()``).
    ``fields``: measure receptive fields by gradient; ``memory``: the peak activation
    memory; ``against``: also compare with a reference ``package.module:callable``. A torch
    model (``inputs`` as :func:`analyze` takes them): its captured graph against the model
    itself, per module (FlopCounterMode, fvcore and a real run's peak memory)."""
    options = AnalyzeOptions(input_shape=input_shape, overrides=overrides, batch=batch, inputs=inputs or ())
    check_bool(fields, "fields")
    check_bool(memory, "memory")
    need_torch("verify")
    from netcost.counted.verify import verify_graph

    source = source_of(model)
    if isinstance(source, TorchSource):  # its captured graph against the model itself
        if against is not None:
            raise OptionError("--against compares a spec's module with a reference; a torch model is its own")
        return source.verify(options, device=device)
    graph = _graph_for(source, options, "verify")
    return verify_graph(graph, batch=options.batch, device=device, fields=fields, memory=memory, against=against)


PROFILE_DEFAULTS: dict[str, Any] = {
    "batches": (1,),
    "dtypes": ("fp32",),
    "device": "cpu",
    "amp": False,
    "channels_last": False,
    "per_layer": False,
    "threads": None,
    "min_run_time": 1.0,
    "recalibrate": False,
}


def profile(
    model: Any,
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
    options: ProfileOptions | None = None,
    predict: bool = False,
):
    """Measured latency next to the analytic work (a ProfileReport; ``.to_dict()``).
    The timing keywords (or ``options``, a :class:`~netcost.options.ProfileOptions`) say
    what is timed; ``inputs``: a torch model's input, one sample, as in :func:`analyze`
    (profile times one positional floating-point input). ``predict`` (with ``per_layer``):
    each layer's time predicted per op class beside the measured one (the op-class
    calibration of :func:`opclass_calibration`, measured first when none is cached)."""
    given = dict(
        batches=tuple(batches),
        dtypes=tuple(dtypes),
        device=device,
        amp=amp,
        channels_last=channels_last,
        per_layer=per_layer,
        threads=threads,
        min_run_time=min_run_time,
        recalibrate=recalibrate,
    )
    _one_way(options, given, PROFILE_DEFAULTS)
    timing = options or ProfileOptions(**given)
    analysis = AnalyzeOptions(input_shape=input_shape, overrides=overrides, inputs=parse_torch_inputs(inputs))
    need_torch("profile")
    import torch

    from netcost.counted.calibrate import roofline
    from netcost.counted.device import check_device
    from netcost.counted.profile import profile_graph, profile_module

    timing = replace(timing, device=check_device(timing.device))
    if timing.threads:
        torch.set_num_threads(timing.threads)
    check_bool(predict, "predict")
    if predict and not timing.per_layer:
        raise OptionError("predict compares predicted with measured layer times: it needs per_layer")
    source = source_of(model)
    if isinstance(source, TorchSource) and isinstance(source.model, str):
        source.refuse_variables(analysis)
        shape = _profiled_shape(source.label, source.inputs(analysis))
        return profile_module(source.model, shape, timing, progress=progress)
    graph = _graph_for(source, analysis, "profile")
    rl = roofline(timing.device, timing.dtypes[0], timing.recalibrate)[0] if timing.per_layer else None
    calibration = None
    if predict:
        calibration = opclass_calibration(
            timing.device,
            timing.dtypes[0],
            threads=torch.get_num_threads(),
            channels_last=timing.channels_last,
            recalibrate=timing.recalibrate,
        )
    return profile_graph(graph, timing, roofline=rl, progress=progress, calibration=calibration)


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
    need_torch("calibrate")
    from netcost.counted.calibrate import roofline

    return roofline(device, dtype, recalibrate)


def verify_train(
    model: Any,
    overrides: Mapping[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | str | None = None,
    inputs: list[TorchInput | str] | None = None,
    batch: int = 2,
    train: TrainOptions | None = None,
    device: str = "cpu",
    memory: bool = True,
):
    """The training-cost model against one real training step (a TrainVerifyReport;
    ``.passed``, ``.to_dict()``). ``train``: the optimizer and its options (default SGD)."""
    options = AnalyzeOptions(
        input_shape=input_shape, overrides=overrides, batch=batch, train=train or TrainOptions(), inputs=inputs or ()
    )
    check_bool(memory, "memory")
    need_torch("verify --train")
    from netcost.counted.train_verify import verify_train as run

    source = source_of(model)
    if isinstance(source, TorchSource):
        raise NetcostError(
            f"verify --train runs a spec's compiled module; {source.label} is a torch model",
            hint="`netcost analyze MODEL --train` gives its training cost from the captured graph",
        )
    graph = _graph_for(source, options, "verify --train")
    return run(graph, train=options.train, batch=options.batch, device=device, memory=memory)


def sweep(
    model: str | Path | Spec,
    overrides: Mapping[str, Any] | None = None,
    *,
    grid: Mapping[str, Any] | None = None,
    sample: int | None = None,
    seed: int = 0,
    space: str | None = None,
    where: str | None = None,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention | str = Convention.NETCOST,
    train: TrainOptions | bool | None = None,
    jobs: int = 1,
    frame: bool = True,
    progress=None,
):
    """Many models of one spec: a pandas DataFrame, one row per model (the varied variables,
    then the totals under analyze's keys; ``df.attrs``: model, kind, space, seed, drawn).

    ``grid``: variable -> values, their cartesian product (``{"width": [0.5, 1.0],
    "input": ["3x160x160", "3x224x224"]}``: ``input`` varies the input size); or ``sample``
    models drawn from the spec's design space ``space`` (its first by default) with
    ``seed``. ``overrides``: values every model takes. ``where``: keep the rows where this
    expression over their columns holds (``"macs <= 400e6"``). ``jobs``: worker processes
    (the same rows). ``frame=False``: the SweepResult (``.rows``, ``.to_dict()``, ``.df``)."""
    from netcost.analysis.sweep import run_grid, run_sample

    options = _options(
        input_shape=input_shape,
        overrides=overrides,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train,
        inputs=None,
    )
    check_int(jobs, "jobs", 1, 1024)
    spec = _sweep_spec(model, options)
    if (grid is None) == (sample is None):
        raise OptionError("sweep takes a grid or a sample (one of them)", hint="--grid VAR=a,b,c or --sample N")
    if grid is not None:
        if not isinstance(grid, Mapping):
            raise OptionError(f"grid: expected a mapping variable -> values, got {type(grid).__name__}")
        values = {k: list(v) if isinstance(v, (list, tuple, range)) else [v] for k, v in grid.items()}
        result = run_grid(spec, options, values, where, jobs, progress)
    else:
        check_int(sample, "sample", 1, 100_000_000)
        check_int(seed, "seed", 0, 2**63)
        result = run_sample(spec, options, sample, seed, space, where, jobs, progress)
    if not check_bool(frame, "frame"):
        return result
    df = result.df
    df.attrs.update({k: v for k, v in result.to_dict().items() if k not in ("rows", "columns")})
    return df


def _sweep_spec(model: Any, options: AnalyzeOptions) -> Spec:
    from netcost.options import spec_shape
    from netcost.sources.spec import SpecSource

    source = source_of(model)
    if not isinstance(source, SpecSource):
        raise NetcostError(
            f"sweep varies a spec's variables: {source.label} is a {source.kind} model",
            hint="give a spec (a bundled name, a YAML path, an inline spec, a Spec)",
        )
    return source.spec(spec_shape(options))


def fit(
    model: str | Path | Spec,
    vary: str | list[str] | tuple[str, ...],
    overrides: Mapping[str, Any] | None = None,
    *,
    budgets: Mapping[str, int | str],
    low: float | None = None,
    high: float | None = None,
    tol: float = 1e-4,
    input_shape: tuple[int, ...] | str | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention | str = Convention.NETCOST,
    train: TrainOptions | bool | None = None,
):
    """The largest value of a numeric variable whose model fits ``budgets`` (a FitResult:
    ``.value``, ``.variables``, ``.row``, ``.to_dict()``), by bisection over totals that
    grow with it. ``vary``: a variable (``"width"``), or several tied to one scale x
    (``["width=1.1**x", "depth=1.2**x"]``); ``low``/``high``: the range searched (default:
    galloping out from the variable's default); ``budgets``: as :func:`check`'s."""
    from netcost.analysis.fit import fit as search

    options = _options(
        input_shape=input_shape,
        overrides=overrides,
        batch=batch,
        dtype=dtype,
        convention=convention,
        train=train,
        inputs=None,
    )
    for name, bound in (("low", low), ("high", high)):
        if bound is not None:
            check_number(bound, name, float("-inf"))
    check_number(tol, "tol", 0.0)
    ties = [vary] if isinstance(vary, str) else list(vary)
    return search(_sweep_spec(model, options), options, ties, budgets, low=low, high=high, tol=tol)


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
    graph = _graph_for(source_of(model), options, "predict")
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
    need_torch("measuring the op-class calibration")
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

"""The `netcost` command line: each command parses, calls the library, renders.

The exit-code contract, kept in one place (:func:`run`):

- 0: everything asked for was measured, and within budget (or no budget was asked);
- 1: only a measured failure: a budget exceeded, a total grown past --max-increase, a
  verify mismatch;
- 2: every error: bad arguments, a bad spec, config or baseline, I/O, and anything the
  user's own code does (an exception or ``sys.exit`` in a torch model's module, factory
  or forward); an unexpected error inside netcost too (NETCOST_DEBUG=1 shows its
  traceback);
- 130: interrupted (Ctrl-C).

Errors print as plain text on stderr, outside text escaped (netcost.text.printable).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Annotated

import typer

from netcost import __version__
from netcost.cli_options import (
    AmpOpt,
    BatchOpt,
    ConventionOpt,
    DepthOpt,
    DeviceOpt,
    DtypeOpt,
    FreezeOpt,
    InputOpt,
    InputsOpt,
    ModelArg,
    ModeOpt,
    MomentumOpt,
    Optimizer,
    OptimizerOpt,
    SetOpt,
    SpecArg,
    TrainDeviceOpt,
    TrainOpt,
    format_option,
    parse_input,
    parse_inputs,
    parse_sets,
)
from netcost.completion import COMPLETE_VAR, answer, complete_model
from netcost.core.conventions import Convention
from netcost.errors import ExitCode, NetcostError
from netcost.options import TrainOptions

APP_SETTINGS = {
    "name": "netcost",
    "help": "What a neural network costs: parameters, MACs/FLOPs, receptive field, memory.",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_show_locals": False,
    "rich_markup_mode": "rich",
}
app = typer.Typer(**APP_SETTINGS)

# the formats each command can write (one it cannot is neither offered nor accepted)
TABLES = ("table", "json", "csv", "markdown")
AnalyzeFormat = format_option("AnalyzeFormat", TABLES)
CompareFormat = format_option("CompareFormat", TABLES)
VerifyFormat = format_option("VerifyFormat", TABLES)
ProfileFormat = format_option("ProfileFormat", TABLES)
ZooFormat = format_option("ZooFormat", TABLES)
CalibrateFormat = format_option("CalibrateFormat", TABLES)
CheckFormatOpt = format_option("CheckFormat", ("table", "json", "junit", "markdown"))

# (parameter, annotation with its option): the --train options, declared once
TRAINING_OPTIONS = {
    "train": (TrainOpt, False),
    "optimizer": (OptimizerOpt, Optimizer.sgd),
    "momentum": (MomentumOpt, 0.0),
    "amp": (AmpOpt, False),
    "freeze": (FreezeOpt, None),
    "train_device": (TrainDeviceOpt, "cuda"),
}


def with_training_options(command, device: bool = True):
    """Give ``command`` the --train options; it receives them as one ``training`` argument,
    a TrainOptions, or None without --train. (``device=False``: a command with its own
    --device, such as verify.)"""
    signature = inspect.signature(command, eval_str=True)
    names = [n for n in TRAINING_OPTIONS if device or n != "train_device"]
    options = [
        inspect.Parameter(
            n, inspect.Parameter.KEYWORD_ONLY, default=TRAINING_OPTIONS[n][1], annotation=TRAINING_OPTIONS[n][0]
        )
        for n in names
    ]
    params = [p for p in signature.parameters.values() if p.name != "training"]
    tail = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    head = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {n: kwargs.pop(n) for n in names}
        return command(*args, training=training_options(**values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*head, *options, *tail])
    return wrapper


def training_options(
    train: bool, optimizer, momentum: float, amp: bool, freeze, train_device: str = "cuda"
) -> TrainOptions | None:
    """The TrainOptions the --train options ask for: None without --train, unless another
    training option was given (it implies --train, so it is never silently ignored)."""
    given = (getattr(optimizer, "value", optimizer), momentum, amp, tuple(freeze or ()), train_device)
    if not train and given == ("sgd", 0.0, False, (), "cuda"):
        return None
    return TrainOptions(
        optimizer=getattr(optimizer, "value", optimizer),
        momentum=momentum,
        amp=amp,
        freeze=tuple(freeze or ()),
        device=train_device,
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"netcost {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """What a neural network costs: parameters, MACs/FLOPs, receptive field, memory."""


def _options(
    input: list[str] | None,
    batch: int,
    set_,
    dtype: str,
    convention,
    training: TrainOptions | None,
    device: str | None = None,
    mode: str = "eval",
):
    """The AnalyzeOptions of the shared options (bad values: exit 2 naming the option)."""
    from netcost.options import AnalyzeOptions

    return AnalyzeOptions(
        inputs=parse_inputs(input),
        overrides=parse_sets(set_),
        batch=batch,
        dtype=dtype,
        convention=getattr(convention, "value", convention),
        train=training,
        device=device,
        mode=mode,
    )


def _report(model: str, options, formulas: bool = False):
    from netcost.api import analyze_options

    return analyze_options(model, options, formulas=formulas)


@app.command()
@with_training_options
def analyze(
    model: ModelArg,
    input: InputsOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    format: AnalyzeFormat = "table",
    convention: ConventionOpt = Convention.NETCOST,
    depth: DepthOpt = None,
    formulas: Annotated[bool, typer.Option("--formulas", help="Show each layer's formula with its numbers.")] = False,
    device: DeviceOpt = None,
    mode: ModeOpt = "eval",
    training: TrainOptions | None = None,
) -> None:
    """Per-layer costs and totals of a model, computed from its spec (no torch).

    With --train: backward FLOPs per layer and the memory of one training step, itemised
    (parameters, gradients, optimizer state, saved activations, the step's peak).
    """
    report = _report(model, _options(input, batch, set_, dtype, convention, training, device, mode), formulas)
    if depth:
        report = report.folded(depth)
    render(report, format, formulas)


def render(report, format, formulas: bool = False) -> None:
    from netcost.report import render as r

    format = _format(format)
    if format is r.Format.table:
        r.print_table(report, formulas)
    else:
        sys.stdout.write(r.RENDERERS[format](report, formulas))


def _format(format):
    from netcost.report.render import Format

    return Format(getattr(format, "value", format))


@app.command()
@functools.partial(with_training_options, device=False)
def verify(
    model: ModelArg,
    input: InputsOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda (cuda:N).")] = "cpu",
    against: Annotated[
        str | None, typer.Option("--against", help="Also compare with a reference: package.module:callable.")
    ] = None,
    fields: Annotated[bool, typer.Option("--fields/--no-fields", help="Measure receptive fields by gradient.")] = True,
    memory: Annotated[bool, typer.Option("--memory/--no-memory", help="Measure the peak activation memory.")] = True,
    format: VerifyFormat = "table",
    training: TrainOptions | None = None,
) -> None:
    """Analytic numbers against the compiled torch module, layer by layer; exit 1 on any mismatch.

    A torch model (package.module:callable): its captured graph against the model itself, per
    module (FlopCounterMode, fvcore, a real run's peak memory).

    With --train: one real training step with the torch.optim optimizer, checked against the
    analytic optimizer state, gradients, backward FLOPs, saved activations and peak memory.
    """
    from netcost.report.verify_render import render_train_verify, render_verify

    inputs, sets = parse_inputs(input), parse_sets(set_)
    if training is not None:
        from netcost.api import verify_train

        report = verify_train(model, sets, inputs=inputs, batch=batch, train=training, device=device, memory=memory)
    else:
        from netcost.api import verify as run_verify

        report = run_verify(
            model, sets, inputs=inputs, batch=batch, device=device, fields=fields, memory=memory, against=against
        )
    (render_verify if training is None else render_train_verify)(report.to_dict(), _format(format))
    raise typer.Exit(ExitCode.OK if report.passed else ExitCode.FAILED)


@app.command()
@with_training_options
def compare(
    models: Annotated[
        list[str],
        typer.Argument(
            metavar="MODEL",
            help="Two or more: bundled names, spec files, package.module:callable, or inline specs "
            "such as 'conv(64,k=5)' and 'conv(64,k=3) > relu > conv(64,k=3)'.",
            autocompletion=complete_model,
        ),
    ],
    input: InputsOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    convention: ConventionOpt = Convention.NETCOST,
    depth: DepthOpt = None,
    format: CompareFormat = "table",
    device: DeviceOpt = None,
    mode: ModeOpt = "eval",
    training: TrainOptions | None = None,
) -> None:
    """Models side by side: every total with its ratio to the first model."""
    from netcost.comparison import comparison
    from netcost.report.compare_render import render_compare

    if len(models) < 2:
        raise typer.BadParameter("give at least two models to compare", param_hint="MODEL...")
    options = _options(input, batch, set_, dtype, convention, training, device, mode)
    reports = [_report(m, options) for m in models]
    doc = comparison(reports, depth)
    render_compare(doc, _format(format))
    if depth and _format(format).value == "table":
        for report in reports:
            render(report.folded(depth), "table")


@app.command("report")
@with_training_options
def report_page(
    models: Annotated[
        list[str],
        typer.Argument(
            metavar="MODEL",
            help="One or more: bundled names, spec files, package.module:callable, or inline specs.",
            autocompletion=complete_model,
        ),
    ],
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="Where to write the HTML page.")],
    input: InputsOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    convention: ConventionOpt = Convention.NETCOST,
    profile: Annotated[
        str | None,
        typer.Option("--profile", metavar="FILE.json", help="Add the roofline of `netcost profile --format json`."),
    ] = None,
    device: DeviceOpt = None,
    mode: ModeOpt = "eval",
    training: TrainOptions | None = None,
) -> None:
    """One self-contained HTML page: totals, charts, the layer table; several models compared.

    Charts: MACs and params per layer, the activation memory alive over the execution order
    (its peak marked), the receptive field by layer, with --train the training memory, with
    --profile the roofline. Nothing on the page is loaded from the network.
    """
    from netcost.api import report_options
    from netcost.text import one_line

    options = _options(input, batch, set_, dtype, convention, training, device, mode)
    report_options(models, options, profile=profile, output=output)
    print(f"netcost: wrote {one_line(output)}", file=sys.stderr)


def check(
    models: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODEL",
            help="Models to check: bundled names, spec files, inline specs or package.module:callable; "
            "none: read \\[tool.netcost] in pyproject.toml.",
            autocompletion=complete_model,
        ),
    ] = None,
    input: InputsOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    convention: ConventionOpt = Convention.NETCOST,
    device: DeviceOpt = None,
    mode: ModeOpt = "eval",
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Let partially counted totals pass (torch models).")
    ] = False,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="A saved analyze/compare/check JSON to compare growth with.")
    ] = None,
    max_increase: Annotated[
        str | None, typer.Option("--max-increase", help="With --baseline: largest allowed growth, e.g. 5%.")
    ] = None,
    write_baseline: Annotated[
        str | None,
        typer.Option(
            "--write-baseline",
            metavar="FILE",
            help="Write the totals to FILE as a baseline, after checking (may be the --baseline file).",
        ),
    ] = None,
    config: Annotated[str, typer.Option("--config", help="Where to read \\[tool.netcost] (a pyproject.toml).")] = (
        "pyproject.toml"
    ),
    format: CheckFormatOpt = "table",
    training: TrainOptions | None = None,
    **budgets: str | None,
) -> None:
    """Budget gate for CI: exit 1 when any total exceeds its budget (or grew past --max-increase).

    Budgets take K/M/G/T (powers of 1000) or KiB/MiB/GiB (powers of 1024), any case: --max-macs 2G.
    Exit 0: all within budget; 1: a budget exceeded; 2: an error (nothing was checked).
    """
    from netcost.api import check as gate
    from netcost.report.check_render import CheckFormat, render_check

    limits = {option.removeprefix("max_"): text for option, text in budgets.items() if text is not None}
    outcome = gate(
        models or None,
        budgets=limits,
        overrides=parse_sets(set_),
        inputs=parse_inputs(input),
        batch=batch,
        dtype=dtype,
        convention=convention.value,
        device=device,
        mode=mode,
        train=training,
        allow_partial=allow_partial,
        baseline=baseline,
        max_increase=max_increase,
        write_baseline=write_baseline,
        config=config,
    )
    render_check(outcome.to_dict(), CheckFormat(getattr(format, "value", format)))
    if outcome.baseline_written is not None:
        from netcost.text import one_line

        n = len(outcome.totals)
        note = f"baseline written to {outcome.baseline_written} ({n} model{'s' if n != 1 else ''})"
        print(f"netcost: {one_line(note)}", file=sys.stderr)
    raise typer.Exit(ExitCode.OK if outcome.passed else ExitCode.FAILED)


def _with_budget_options(command):
    """One --max-<metric> option per total of the analyze JSON (params, macs, flops, ...) and
    of its training cost (train-memory-bytes, ...)."""
    from netcost.budget import BUDGET_METRICS

    signature = inspect.signature(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for metric in BUDGET_METRICS:
        flag = "--max-" + metric.replace("_", "-")
        option = typer.Option(flag, help=f"Budget on {metric} (e.g. 12M, 1.5G, 24GiB).", show_default=False)
        params.append(
            inspect.Parameter(
                f"max_{metric}", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, option]
            )
        )
    command.__signature__ = signature.replace(parameters=params)
    return command


app.command("check")(_with_budget_options(with_training_options(check)))

SweepFormat = format_option("SweepFormat", ("table", "csv", "json", "markdown"))
FitFormat = format_option("FitFormat", ("table", "json"))


def parse_grid(items: list[str] | None) -> dict[str, list]:
    """``--grid`` values: commas separate them (``width=0.5,1.0,1.4``, ``rounding=pycls,torchvision``);
    ``range(12, 29, 4)`` gives its items; a list value is written in brackets
    (``depths=[2,2,2,2],[3,4,6,3]``; one list alone: ``depths=[3,4,6,3]``); ``input=160,224``
    or ``input=3x160x160,3x224x224`` varies the input size."""
    from netcost.spec import expr, setvalue

    grid: dict[str, list] = {}
    for item in items or []:
        name, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not name.isidentifier():
            raise typer.BadParameter(f"{item!r} is not VAR=a,b,c (e.g. --grid width=0.5,1.0)", param_hint="--grid")
        if name in grid:
            raise typer.BadParameter(f"{name} is given twice", param_hint="--grid")
        if name == "input":
            grid[name] = [v.strip() for v in raw.split(",") if v.strip()]
            continue
        try:
            value = expr.evaluate(raw, {})
        except expr.ExprError:  # bare words: rounding=pycls,torchvision
            value = tuple(raw.split(","))
        try:
            if isinstance(value, tuple):
                grid[name] = [setvalue.parse(v) if isinstance(v, str) else setvalue.parse(repr(v)) for v in value]
            elif isinstance(value, list) and not raw.startswith("["):  # range(...)
                grid[name] = list(value)
            else:
                grid[name] = [setvalue.parse(raw)]
        except ValueError as exc:
            raise typer.BadParameter(f"{item!r}: {exc}", param_hint="--grid") from None
    return grid


@contextmanager
def _counting(format) -> Iterator:
    """A progress bar over a sweep's models on a terminal's stderr; silent otherwise."""
    if format.value != "table" or os.environ.get("CI") or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True
    ) as bar:
        task = bar.add_task("models")
        yield lambda done, total: bar.update(task, completed=done, total=total)


@app.command()
@with_training_options
def sweep(
    model: SpecArg,
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", "-g", metavar="VAR=a,b,c", help="Values of a variable (repeatable: every combination)."),
    ] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", "-n", min=1, help="Draw N models from the spec's design space.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed of --sample.")] = 0,
    space: Annotated[
        str | None, typer.Option("--space", help="Which of the spec's design spaces (default: its first).")
    ] = None,
    where: Annotated[
        str | None, typer.Option("--where", metavar="EXPR", help="Keep rows where EXPR holds: 'macs <= 400e6'.")
    ] = None,
    input: InputOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    convention: ConventionOpt = Convention.NETCOST,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes (the same rows).")] = 1,
    plot: Annotated[
        str | None, typer.Option("--plot", metavar="FILE", help="Write a plot (PNG/SVG; needs matplotlib).")
    ] = None,
    format: SweepFormat = "table",
    training: TrainOptions | None = None,
) -> None:
    """Many models of one spec, one row each: a --grid of variable values or a --sample of its design space.

    Each row holds the varied variables and the totals of `analyze` with those values (--set).
    """
    from netcost.api import sweep as run
    from netcost.report.sweep_render import render_sweep

    fmt = _format(format)
    with _counting(fmt) as progress:
        result = run(
            model,
            parse_sets(set_),
            grid=parse_grid(grid) if grid else None,
            sample=sample,
            seed=seed,
            space=space,
            where=where,
            input_shape=parse_input(input),
            batch=batch,
            dtype=dtype,
            convention=convention.value,
            train=training,
            jobs=jobs,
            frame=False,
            progress=progress,
        )
    doc = result.to_dict()
    if plot:
        from netcost.report.sweep_plot import plot_sweep

        plot_sweep(doc, plot)
    render_sweep(doc, fmt)


def fit(
    model: SpecArg,
    vary: Annotated[
        list[str],
        typer.Option("--vary", metavar="VAR[=EXPR]", help="The variable to grow, or VAR=EXPR of x (repeatable: tied)."),
    ],
    range_: Annotated[
        str | None, typer.Option("--range", metavar="LOW:HIGH", help="Search between LOW and HIGH.")
    ] = None,
    tol: Annotated[float, typer.Option("--tol", min=0.0, help="Relative precision of a non-integer value.")] = 1e-4,
    input: InputOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    convention: ConventionOpt = Convention.NETCOST,
    format: FitFormat = "table",
    training: TrainOptions | None = None,
    **budgets: str | None,
) -> None:
    """The largest value of a variable whose model fits the budgets (--max-macs 300M, ...), by bisection.

    Exit 0: found; 1: not even the smallest value fits; 2: an error.
    """
    from netcost.api import fit as search
    from netcost.report.sweep_render import render_fit

    low, high = _range(range_)
    limits = {option.removeprefix("max_"): text for option, text in budgets.items() if text is not None}
    from netcost.errors import BudgetExceeded

    try:
        result = _fit_search(
            search, model, vary, set_, limits, low, high, tol, input, batch, dtype, convention, training
        )
    except BudgetExceeded as exc:  # nothing in the range fits: the budget's verdict, exit 1
        _error(str(exc))
        raise typer.Exit(ExitCode.FAILED) from None
    render_fit(result.to_dict(), _format(format))


def _fit_search(search, model, vary, set_, limits, low, high, tol, input, batch, dtype, convention, training):
    return search(
        model,
        vary,
        parse_sets(set_),
        budgets=limits,
        low=low,
        high=high,
        tol=tol,
        input_shape=parse_input(input),
        batch=batch,
        dtype=dtype,
        convention=convention.value,
        train=training,
    )


def _range(text: str | None) -> tuple[float | None, float | None]:
    if text is None:
        return None, None
    low, _sep, high = text.partition(":")
    try:
        return _number(low), _number(high)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not LOW:HIGH (e.g. 0.25:2)", param_hint="--range") from None


def _number(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


app.command("fit")(_with_budget_options(with_training_options(fit)))


@app.command()
def profile(
    model: ModelArg,
    input: InputsOpt = None,
    batch: Annotated[str, typer.Option("--batch", "-b", help="Batch sizes, comma-separated: 1,8,32.")] = "1",
    set_: SetOpt = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda (cuda:N).")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, fp16, bf16 (comma-separated for several).")] = "fp32",
    amp: Annotated[bool, typer.Option("--amp", help="Keep fp32 weights; run ops under autocast in --dtype.")] = False,
    channels_last: Annotated[bool, typer.Option("--channels-last", help="NHWC memory format.")] = False,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Time every layer; roofline per layer.")] = False,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="torch.set_num_threads (CPU).")] = None,
    min_time: Annotated[float, typer.Option("--min-time", min=0.01, help="Seconds of timed runs per setting.")] = 1.0,
    plot: Annotated[
        str | None, typer.Option("--plot", help="Write a roofline plot (PNG/SVG; needs matplotlib).")
    ] = None,
    recalibrate: Annotated[bool, typer.Option("--recalibrate", help="Measure the roofline again.")] = False,
    format: ProfileFormat = "table",
) -> None:
    """Real latency on CPU/GPU, achieved FLOP/s, and (with --per-layer) a roofline per layer."""
    from netcost.report.profile_render import plot_roofline, render_profile

    batches = _int_list(batch, "--batch")
    dtypes = [d.strip() for d in dtype.split(",") if d.strip()]
    if plot:
        _check_plot_path(plot, per_layer)
    from netcost.api import profile as run_profile

    with _progress(_format(format)) as progress:
        report = run_profile(
            model,
            parse_sets(set_),
            inputs=parse_inputs(input),
            batches=batches,
            dtypes=dtypes,
            device=device,
            amp=amp,
            channels_last=channels_last,
            per_layer=per_layer,
            threads=threads,
            min_run_time=min_time,
            recalibrate=recalibrate,
            progress=progress,
        )
    doc = report.to_dict()
    render_profile(doc, _format(format))
    if plot:
        try:
            plot_roofline(doc, plot)
        except (OSError, ValueError) as exc:
            raise NetcostError(f"--plot {plot}: cannot write the plot: {exc}") from None


@app.command()
def export(
    model: ModelArg,
    output: Annotated[
        str | None, typer.Option("--output", "-o", metavar="FILE", help="Write the spec to FILE (default: stdout).")
    ] = None,
    input: InputsOpt = None,
    set_: SetOpt = None,
) -> None:
    """Write a model as a readable YAML spec that analyses identically.

    Layer names are kept; repeated structure becomes blocks and stages; --set and --input are
    written as their resolved values. Edit the spec, then `netcost compare` it with the original.
    """
    from netcost.api import export as run_export

    text = run_export(model, parse_sets(set_), inputs=parse_inputs(input))
    if output is None:
        sys.stdout.write(text)
        return
    from netcost.files import write_atomic

    try:
        write_atomic(output, text)
    except OSError as exc:
        raise NetcostError(f"-o {output}: cannot write the spec: {exc.strerror or exc}") from None


@app.command()
def calibrate(
    device: Annotated[str, typer.Option("--device", help="cpu or cuda (cuda:N).")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, fp16, bf16.")] = "fp32",
    recalibrate: Annotated[bool, typer.Option("--recalibrate", help="Ignore the cached result.")] = False,
    format: CalibrateFormat = "table",
) -> None:
    """Measure this machine's peak FLOP/s (a large matmul) and memory bandwidth (a large copy)."""
    import dataclasses

    from netcost.api import calibrate as run_calibrate
    from netcost.report.profile_render import render_calibration

    result, cached = run_calibrate(device, dtype, recalibrate)
    render_calibration({**dataclasses.asdict(result), "cached": cached}, _format(format))


PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def _check_plot_path(plot: str, per_layer: bool) -> None:
    """Refuse a plot that could not be written before anything is measured."""
    from pathlib import Path

    if not per_layer:
        raise typer.BadParameter("--plot needs --per-layer", param_hint="--plot")
    path = Path(plot)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise typer.BadParameter(f"{plot!r}: write the plot as one of {', '.join(PLOT_SUFFIXES)}", param_hint="--plot")
    if not path.parent.is_dir():
        raise typer.BadParameter(f"{plot!r}: no directory {str(path.parent)!r}", param_hint="--plot")


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of integers", param_hint=option) from None
    if not values or any(v < 1 or v > 2**31 for v in values):
        raise typer.BadParameter(f"{text!r}: give positive integers", param_hint=option)
    return values


@contextmanager
def _progress(format) -> Iterator:
    """A progress line on a terminal's stderr; silent in CI, pipes and machine formats."""
    if format.value != "table" or os.environ.get("CI") or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("profiling")
        yield lambda text: bar.update(task, description=f"profiling: {text}")


@app.command()
def zoo(format: ZooFormat = "table") -> None:
    """List the bundled specs with their headline params and MACs."""
    from netcost.report.zoo import render_zoo, zoo_rows

    render_zoo(zoo_rows(), _format(format))


@app.command()
def ops(kind: Annotated[str | None, typer.Argument(help="One op to describe in full.")] = None) -> None:
    """List the registered ops with their fields (the spec vocabulary)."""
    from netcost.report.ops_doc import print_ops

    print_ops(kind)


@app.command()
def schema() -> None:
    """Print a JSON Schema for spec files (for editor validation)."""
    import json

    from netcost.spec.jsonschema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command()
def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the shell completion script (commands, options, bundled model names).

    bash: eval "$(netcost completion bash)" in ~/.bashrc; zsh: eval "$(netcost completion zsh)"
    in ~/.zshrc; fish: netcost completion fish > ~/.config/fish/completions/netcost.fish
    """
    from netcost.completion import script

    sys.stdout.write(script(command(None), shell.value))


# --- the boundary: everything becomes an exit code here ---------------------------------


@functools.cache
def command(name: str | None = None):
    """The click command of the app, with plain (pydantic-free) coercion installed.

    With ``name`` (the subcommand a command line asks for), a group holding only that
    command: the same parsing, help and errors, without building the other eight (typer
    introspects every signature when it builds a command)."""
    from netcost.cli_coercion import install

    target = app
    infos = [c for c in app.registered_commands if (c.name or c.callback.__name__.replace("_", "-")) == name]
    if infos:
        target = typer.Typer(**APP_SETTINGS)
        target.registered_callback = app.registered_callback
        target.registered_commands = infos
    cmd = typer.main.get_command(target)
    install(cmd)
    return cmd


def _error(text: str) -> None:
    from netcost.text import printable

    sys.stdout.flush()
    sys.stderr.write(f"Error: {printable(text)}\n")
    sys.stderr.flush()


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]) and return its exit code."""
    from typer.exceptions import Abort, Exit, TyperException

    args = list(sys.argv[1:] if argv is None else argv)
    instruction = os.environ.get(COMPLETE_VAR)
    if instruction:  # the shell asks for completions (see netcost.completion)
        return answer(command(None), instruction)
    try:
        asked = args[0] if args and not args[0].startswith("-") else None
        result = command(asked).main(args=args, prog_name="netcost", standalone_mode=False)
    except NetcostError as exc:
        _error(str(exc))
        return ExitCode.USAGE
    except TyperException as exc:  # click's usage errors: plain text, exit 2
        sys.stdout.flush()
        exc.show()
        return ExitCode.USAGE
    except Exit as exc:
        result = exc.exit_code
    except (KeyboardInterrupt, Abort):
        sys.stderr.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return ExitCode.USAGE
    except SystemExit as exc:
        if isinstance(exc.__context__, BrokenPipeError):  # click's answer to a closed stdout
            _quiet_stdout()
            return ExitCode.USAGE
        # user code is contained where it runs (netcost.usercode); this is a leak past it
        _error(f"something called sys.exit({exc.code!r}) while netcost ran; nothing was checked")
        return ExitCode.USAGE
    except RecursionError:
        _error("the input nests too deeply to analyse")
        return ExitCode.USAGE
    except MemoryError:
        _error("out of memory: the model or its input is too large to analyse here")
        return ExitCode.USAGE
    except Exception as exc:
        if os.environ.get("NETCOST_DEBUG"):
            raise
        _error(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in netcost; NETCOST_DEBUG=1 shows the traceback (please report it)"
        )
        return ExitCode.USAGE
    code = result if isinstance(result, int) else 0
    if code == 130:  # typer turns Ctrl-C into an exit code of 130
        sys.stderr.write("\ninterrupted\n")
    return _exit_code(code)


def _exit_code(code: object) -> int:
    """Only 0, 1 (a measured failure), 2 and 130 leave netcost."""
    return code if code in (0, 1, 2, 130) else ExitCode.USAGE


def _quiet_stdout() -> None:
    """stdout's reader went away (``| head``): stop writing without a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":  # pragma: no cover
    main()

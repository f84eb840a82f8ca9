"""The `netcost` command line: each command parses, calls the library, renders.

Errors from the library (NetcostError) print as one paragraph on stderr with their exit
code (2 for a bad spec or usage, 1 for a failed budget or check); anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer

from netcost import __version__
from netcost.cli_options import (
    AmpOpt,
    BatchOpt,
    ConventionOpt,
    DepthOpt,
    DtypeOpt,
    FormatOpt,
    FreezeOpt,
    InputOpt,
    ModelArg,
    MomentumOpt,
    Optimizer,
    OptimizerOpt,
    SetOpt,
    TrainDeviceOpt,
    TrainOpt,
    parse_input,
    parse_sets,
)
from netcost.core.cost import Convention
from netcost.errors import NetcostError
from netcost.report.check_render import CheckFormat
from netcost.report.render import Format
from netcost.units import parse_quantity

app = typer.Typer(
    name="netcost",
    help="What a neural network costs: parameters, MACs/FLOPs, receptive field, memory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


@dataclass(frozen=True)
class TrainingArgs:
    """The --train options, shared by analyze, compare, check and verify."""

    train: bool = False
    optimizer: Optimizer = Optimizer.sgd
    momentum: float = 0.0
    amp: bool = False
    freeze: list[str] | None = None
    device: str = "cuda"


TRAINING_DEFAULTS = TrainingArgs()
# (parameter, annotation with its option) in TrainingArgs' field order
TRAINING_OPTIONS = {
    "train": TrainOpt,
    "optimizer": OptimizerOpt,
    "momentum": MomentumOpt,
    "amp": AmpOpt,
    "freeze": FreezeOpt,
    "train_device": TrainDeviceOpt,
}


def with_training_options(command, device: bool = True):
    """Give ``command`` the --train options; it receives them as one ``training`` argument.
    (``device=False``: a command with its own --device, such as verify.)"""
    signature = inspect.signature(command, eval_str=True)
    names = [n for n in TRAINING_OPTIONS if device or n != "train_device"]
    field = {"train_device": "device"}  # option name -> TrainingArgs field
    options = [
        inspect.Parameter(
            n,
            inspect.Parameter.KEYWORD_ONLY,
            default=getattr(TRAINING_DEFAULTS, field.get(n, n)),
            annotation=TRAINING_OPTIONS[n],
        )
        for n in names
    ]
    params = [p for p in signature.parameters.values() if p.name != "training"]
    tail = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    head = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {field.get(n, n): kwargs.pop(n) for n in names}
        return command(*args, training=TrainingArgs(**values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*head, *options, *tail])
    return wrapper


@contextmanager
def reported_errors() -> Iterator[None]:
    """Render NetcostError as `Error: file:line:col: message` and exit with its code."""
    try:
        yield
    except NetcostError as exc:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]Error:[/bold red] {escape(str(exc))}")
        raise typer.Exit(int(exc.exit_code)) from None


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


@app.command()
@with_training_options
def analyze(
    model: ModelArg,
    input: InputOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    format: FormatOpt = Format.table,
    convention: ConventionOpt = Convention.NETCOST,
    depth: DepthOpt = None,
    formulas: Annotated[bool, typer.Option("--formulas", help="Show each layer's formula with its numbers.")] = False,
    training: TrainingArgs = TRAINING_DEFAULTS,
) -> None:
    """Per-layer costs and totals of a model, computed from its spec (no torch).

    With --train: backward FLOPs per layer and the memory of one training step, itemised
    (parameters, gradients, optimizer state, saved activations, the step's peak).
    """
    from netcost.analysis import DTYPE_BYTES

    if dtype not in DTYPE_BYTES:
        raise typer.BadParameter(f"unknown dtype {dtype!r}; one of {', '.join(DTYPE_BYTES)}", param_hint="--dtype")
    with reported_errors():
        report = _report(model, parse_sets(set_), parse_input(input), batch, dtype, convention, training, formulas)
    if depth:
        report = report.folded(depth)
    render(report, format, formulas)


def _report(model, overrides, shape, batch, dtype, convention, training: TrainingArgs, formulas: bool = False):
    """The analyze Report of one model, with training cost when asked."""
    from netcost.api import analyze, analyze_train, is_callable_path

    if is_callable_path(model):
        overrides = None
        if training.train:
            raise NetcostError("--train needs a spec: a torch model given as module:callable is only counted forward")
    if not training.train:
        return analyze(model, overrides, shape, batch, dtype, convention, formulas)
    if training.device not in ("cuda", "cpu"):
        raise typer.BadParameter("cuda or cpu", param_hint="--train-device")
    return analyze_train(
        model,
        overrides,
        shape,
        batch,
        dtype,
        training.optimizer.value,
        training.momentum,
        training.amp,
        tuple(training.freeze or ()),
        convention,
        training.device,
        None,
        formulas,
    )


def render(report, format: Format, formulas: bool = False) -> None:
    from netcost.report import render as r

    if format is Format.table:
        r.print_table(report, formulas)
    else:
        sys.stdout.write(r.RENDERERS[format](report, formulas))


@app.command()
@functools.partial(with_training_options, device=False)
def verify(
    model: ModelArg,
    input: InputOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda (cuda:N).")] = "cpu",
    against: Annotated[
        str | None, typer.Option("--against", help="Also compare with a reference: package.module:callable.")
    ] = None,
    fields: Annotated[bool, typer.Option("--fields/--no-fields", help="Measure receptive fields by gradient.")] = True,
    memory: Annotated[bool, typer.Option("--memory/--no-memory", help="Measure the peak activation memory.")] = True,
    format: FormatOpt = Format.table,
    training: TrainingArgs = TRAINING_DEFAULTS,
) -> None:
    """Analytic numbers against the compiled torch module, layer by layer; exit 1 on any mismatch.

    With --train: one real training step with the torch.optim optimizer, checked against the
    analytic optimizer state, gradients, backward FLOPs, saved activations and peak memory.
    """
    from netcost.report.verify_render import render_train_verify, render_verify

    with reported_errors():
        if training.train:
            from netcost.api import verify_train

            report = verify_train(
                model,
                parse_sets(set_),
                parse_input(input),
                batch,
                training.optimizer.value,
                training.momentum,
                device,
                tuple(training.freeze or ()),
                None,
                memory,
                training.amp,
            )
        else:
            from netcost.api import verify as run

            report = run(model, parse_sets(set_), parse_input(input), batch, device, fields, memory, against)
    (render_train_verify if training.train else render_verify)(report.to_dict(), format)
    raise typer.Exit(0 if report.passed else 1)


@app.command()
@with_training_options
def compare(
    models: Annotated[
        list[str],
        typer.Argument(
            metavar="MODEL...",
            help="Two or more: bundled names, spec files, package.module:callable, or inline specs "
            "such as 'conv(64,k=5)' and 'conv(64,k=3) > relu > conv(64,k=3)'.",
        ),
    ],
    input: InputOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    convention: ConventionOpt = Convention.NETCOST,
    depth: DepthOpt = None,
    format: FormatOpt = Format.table,
    training: TrainingArgs = TRAINING_DEFAULTS,
) -> None:
    """Models side by side: every total with its ratio to the first model."""
    from netcost.compare import comparison
    from netcost.report.compare_render import render_compare

    if len(models) < 2:
        raise typer.BadParameter("give at least two models to compare", param_hint="MODEL...")
    shape, sets = parse_input(input), parse_sets(set_)
    with reported_errors():
        reports = [_report(m, sets, shape, batch, dtype, convention, training) for m in models]
    doc = comparison(reports, depth)
    render_compare(doc, format)
    if depth and format is Format.table:
        for report in reports:
            render(report.folded(depth), format)


def check(
    models: Annotated[
        list[str] | None,
        typer.Argument(metavar="MODEL", help="Models to check; none: read [tool.netcost] in pyproject.toml."),
    ] = None,
    input: InputOpt = None,
    batch: BatchOpt = 1,
    set_: SetOpt = None,
    dtype: DtypeOpt = "fp32",
    convention: ConventionOpt = Convention.NETCOST,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Let partially counted totals pass (torch models).")
    ] = False,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="A saved analyze/compare/check JSON to compare growth with.")
    ] = None,
    max_increase: Annotated[
        str | None, typer.Option("--max-increase", help="With --baseline: largest allowed growth, e.g. 5%.")
    ] = None,
    config: Annotated[str, typer.Option("--config", help="Where to read [tool.netcost].")] = "pyproject.toml",
    format: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = CheckFormat.table,
    training: TrainingArgs = TRAINING_DEFAULTS,
    **budgets: str | None,
) -> None:
    """Budget gate for CI: exit 1 when any total exceeds its budget (or grew past --max-increase).

    Budgets take K/M/G/T (powers of 1000) or KiB/MiB/GiB (powers of 1024): --max-macs 2G.
    """
    from netcost.budget import CheckResult, Target, check_baseline, check_report, load_baseline
    from netcost.config import load_config, parse_percent
    from netcost.report.check_render import render_check

    limits = {}
    for option, text in budgets.items():
        if text is not None:
            try:
                limits[option.removeprefix("max_")] = parse_quantity(text)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--" + option.replace("_", "-")) from None
    with reported_errors():
        if models:
            targets = [
                Target(m, limits, parse_input(input), parse_sets(set_), batch, dtype, convention.value, allow_partial)
                for m in models
            ]
            base_path, increase = baseline, None
        else:
            targets, base_path, increase = load_config(config)
            base_path = baseline or base_path
            for t in targets:
                t.budgets.update(limits)
                t.allow_partial = t.allow_partial or allow_partial
        if max_increase is not None:
            increase = parse_percent(max_increase)
        base = load_baseline(base_path) if base_path else {}
        if base and increase is None:
            raise typer.BadParameter("--baseline needs --max-increase (e.g. 5%)", param_hint="--max-increase")
        results = []
        for t in targets:
            report = _analyze_target(t)
            results += check_report(t, report)
            before = base.get(t.model) or base.get(report.model)
            if before is not None:
                results += check_baseline(t, report, before, increase)
            elif base:
                results.append(
                    {
                        "model": t.model,
                        "metric": "baseline",
                        "budget": 0,
                        "actual": 0,
                        "headroom_pct": 0.0,
                        "passed": True,
                        "note": "not in the baseline: nothing to compare",
                    }
                )
        if not results:
            raise typer.BadParameter("no budgets given: add --max-params, --max-macs, ... or --baseline")
    outcome = CheckResult(results)
    render_check(outcome.to_dict(), format)
    raise typer.Exit(0 if outcome.passed else 1)


def _analyze_target(target):
    training = TrainingArgs(
        target.needs_training,
        Optimizer(target.optimizer),
        target.momentum,
        target.amp,
        list(target.freeze),
        target.train_device,
    )
    return _report(
        target.model,
        target.overrides,
        target.input,
        target.batch,
        target.dtype,
        Convention(target.convention),
        training,
    )


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


@app.command()
def profile(
    model: ModelArg,
    input: InputOpt = None,
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
    format: FormatOpt = Format.table,
) -> None:
    """Real latency on CPU/GPU, achieved FLOP/s, and (with --per-layer) a roofline per layer."""
    from netcost.report.profile_render import plot_roofline, render_profile

    batches = _int_list(batch, "--batch")
    dtypes = [d.strip() for d in dtype.split(",") if d.strip()]
    with reported_errors():
        from netcost.api import profile as run

        with _progress(format) as progress:
            report = run(
                model,
                parse_sets(set_),
                parse_input(input),
                batches,
                dtypes,
                device,
                amp,
                channels_last,
                per_layer,
                threads,
                min_time,
                recalibrate,
                progress,
            )
    doc = report.to_dict()
    render_profile(doc, format)
    if plot:
        if not doc.get("roofline"):
            raise typer.BadParameter("--plot needs --per-layer", param_hint="--plot")
        plot_roofline(doc, plot)


@app.command()
def calibrate(
    device: Annotated[str, typer.Option("--device", help="cpu or cuda (cuda:N).")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, fp16, bf16.")] = "fp32",
    recalibrate: Annotated[bool, typer.Option("--recalibrate", help="Ignore the cached result.")] = False,
    format: FormatOpt = Format.table,
) -> None:
    """Measure this machine's peak FLOP/s (a large matmul) and memory bandwidth (a large copy)."""
    import dataclasses
    import json

    with reported_errors():
        from netcost.api import calibrate as run

        result, cached = run(device, dtype, recalibrate)
    doc = {**dataclasses.asdict(result), "cached": cached}
    if format is Format.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    from netcost.units import si

    typer.echo(
        f"{result.device} ({result.threads} threads, {dtype}): peak {si(result.peak_flop_per_s)}FLOP/s "
        f"({result.matmul_n}x{result.matmul_n} matmul), bandwidth {si(result.bandwidth_bytes_per_s)}B/s "
        f"(copy of {result.copy_bytes // 2**20} MiB)" + (" [cached; --recalibrate to measure again]" if cached else "")
    )


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of integers", param_hint=option) from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter(f"{text!r}: give positive integers", param_hint=option)
    return values


@contextmanager
def _progress(format: Format):
    """A progress line on a terminal's stderr; silent in CI, pipes and machine formats."""
    import os

    if format is not Format.table or os.environ.get("CI") or not sys.stderr.isatty():
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
def zoo(format: FormatOpt = Format.table) -> None:
    """List the bundled specs with their headline params and MACs."""
    from netcost.report.zoo import render_zoo, zoo_rows

    with reported_errors():
        rows = zoo_rows()
    render_zoo(rows, format)


@app.command()
def ops(kind: Annotated[str | None, typer.Argument(help="One op to describe in full.")] = None) -> None:
    """List the registered ops with their fields (the spec vocabulary)."""
    from netcost.report.ops_doc import print_ops

    with reported_errors():
        print_ops(kind)


@app.command()
def schema() -> None:
    """Print a JSON Schema for spec files (for editor validation)."""
    import json

    from netcost.spec.jsonschema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

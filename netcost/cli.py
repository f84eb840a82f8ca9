"""The `netcost` command line: each command parses, calls the library, renders.

Errors from the library (NetcostError) print as one paragraph on stderr with their exit
code (2 for a bad spec or usage, 1 for a failed budget or check); anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from netcost import __version__
from netcost.cli_options import (
    BatchOpt,
    ConventionOpt,
    DepthOpt,
    DtypeOpt,
    FormatOpt,
    InputOpt,
    ModelArg,
    SetOpt,
    parse_input,
    parse_sets,
)
from netcost.core.cost import Convention
from netcost.errors import NetcostError
from netcost.report.render import Format

app = typer.Typer(
    name="netcost",
    help="What a neural network costs: parameters, MACs/FLOPs, receptive field, memory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


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
) -> None:
    """Per-layer costs and totals of a model, computed from its spec (no torch)."""
    from netcost.analysis import DTYPE_BYTES
    from netcost.api import analyze as run

    if dtype not in DTYPE_BYTES:
        raise typer.BadParameter(f"unknown dtype {dtype!r}; one of {', '.join(DTYPE_BYTES)}", param_hint="--dtype")
    with reported_errors():
        report = run(model, parse_sets(set_), parse_input(input), batch, dtype, convention, formulas)
    if depth:
        report = report.folded(depth)
    render(report, format, formulas)


def render(report, format: Format, formulas: bool = False) -> None:
    from netcost.report import render as r

    if format is Format.table:
        r.print_table(report, formulas)
    else:
        sys.stdout.write(r.RENDERERS[format](report, formulas))


@app.command()
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
) -> None:
    """Analytic numbers against the compiled torch module, layer by layer; exit 1 on any mismatch."""
    from netcost.report.verify_render import render_verify

    with reported_errors():
        from netcost.api import verify as run

        report = run(model, parse_sets(set_), parse_input(input), batch, device, fields, memory, against)
    render_verify(report.to_dict(), format)
    raise typer.Exit(0 if report.passed else 1)


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

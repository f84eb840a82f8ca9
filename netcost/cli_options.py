"""Arguments and options shared by several commands, and their parsers."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from netcost.completion import complete_model
from netcost.core.conventions import Convention
from netcost.errors import NetcostError
from netcost.options import INPUT_SYNTAX, OPTIMIZER_NAMES, TorchInput, counting_modes, parse_shape, parse_torch_inputs


def parse_input(text: str | None) -> tuple[int, ...] | None:
    """``3x160x160`` (C x H x W), ``160x160`` (H x W) or ``160`` (square)."""
    try:
        return parse_shape(text, "--input")
    except NetcostError as exc:
        raise typer.BadParameter(exc.message.removeprefix("--input: "), param_hint="--input") from None


def parse_inputs(texts: list[str] | None) -> tuple[TorchInput, ...]:
    """Every ``--input`` as given (a spec reads one its own way: netcost.options.spec_shape)."""
    try:
        return parse_torch_inputs(list(texts or ()))
    except NetcostError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise typer.BadParameter(exc.message.removeprefix("--input ") + hint, param_hint="--input") from None


def format_option(name: str, formats: tuple[str, ...]):
    """A --format/-f option offering exactly ``formats`` (an Enum named ``name``)."""
    choices = Enum(name, {f: f for f in formats}, type=str)
    return Annotated[choices, typer.Option("--format", "-f", help="Output format.")]


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``width=0.75`` -> {"width": 0.75}; ``depths=[3,4,6,3]`` -> a list. Each value is read by
    the spec's safe expression evaluator (numbers, lists, quoted strings, arithmetic over
    literals; ``true``/``false`` as YAML writes them); a bare word that is not an
    expression (``rounding=torchvision``) is that string. The spec checks each value
    against its variable's declared type and domain."""
    from netcost.spec import setvalue

    values: dict[str, Any] = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise typer.BadParameter(f"{item!r} is not name=value (e.g. --set width=0.75)")
        try:
            values[name.strip()] = setvalue.parse(raw)
        except ValueError as exc:
            raise typer.BadParameter(f"{item!r}: {exc}") from None
    return values


ModelArg = Annotated[
    str,
    typer.Argument(
        metavar="MODEL",
        help="A bundled spec name (see `netcost zoo`), a path to a YAML spec, an inline spec such as "
        "'conv(64,k=3) > relu', or a torch model as package.module:callable.",
        autocompletion=complete_model,
    ),
]
SpecArg = Annotated[
    str,
    typer.Argument(
        metavar="MODEL",
        help="A spec: a bundled name (see `netcost zoo`), a path to a YAML spec, or an inline spec such as "
        "'conv(64,k=3) > relu' (its variables are what is varied; a torch model has none).",
        autocompletion=complete_model,
    ),
]
InputOpt = Annotated[
    str | None, typer.Option("--input", "-i", help="Input of one sample: CxHxW, HxW or a size (e.g. 3x160x160).")
]
InputsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        "-i",
        help="A spec: one sample's CxHxW, HxW or size (e.g. 3x160x160). A torch model: each input of its "
        f"forward, one sample, literal, the batch prepended: {INPUT_SYNTAX} (repeatable).",
    ),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="Where a torch model is built and run: meta (default; nothing allocated), cpu (also measures "
        "peak memory) or cuda. Not --train-device, which models a training step's device.",
    ),
]
ModeOpt = Annotated[
    str,
    typer.Option("--mode", help=f"A torch model's mode while counted: {', '.join(counting_modes())}."),
]
BatchOpt = Annotated[int, typer.Option("--batch", "-b", min=1, help="Batch size; totals cover the whole batch.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Override a spec variable: name=value (repeatable).")
]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Bytes per element: fp32, fp16, bf16, int8, fp64.")]
ConventionOpt = Annotated[
    Convention,
    typer.Option("--convention", "-c", help="How FLOPs are counted (see README): netcost, flopcounter, fvcore, pycls."),
]
DepthOpt = Annotated[
    int | None, typer.Option("--depth", "-d", min=1, help="Fold layers into blocks of this name depth (1: stages).")
]


Optimizer = Enum("Optimizer", {name: name for name in OPTIMIZER_NAMES}, type=str)


TrainOpt = Annotated[bool, typer.Option("--train", help="Add training cost: backward FLOPs, memory of one step.")]
OptimizerOpt = Annotated[
    Optimizer, typer.Option("--optimizer", help="Optimizer whose state is counted (implies --train).")
]
MomentumOpt = Annotated[
    float,
    typer.Option("--momentum", min=0.0, help="With sgd or rmsprop: > 0 adds the momentum buffer (implies --train)."),
]
AmpOpt = Annotated[bool, typer.Option("--amp", help="Mixed precision (autocast): fp32 weights, half activations.")]
FreezeOpt = Annotated[
    list[str] | None, typer.Option("--freeze", help="Layers that do not train: a name or glob (repeatable).")
]
TrainDeviceOpt = Annotated[
    str,
    typer.Option(
        "--train-device",
        help="With --train: the device whose autograd/optimizer behaviour is modelled, cuda or cpu "
        "(nothing runs there; --device says where a torch model runs).",
    ),
]

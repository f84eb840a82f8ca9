"""Arguments and options shared by several commands, and their parsers."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from netcost.core.cost import Convention
from netcost.report.render import Format


def parse_input(text: str | None) -> tuple[int, ...] | None:
    """``3x160x160`` (C x H x W), ``160x160`` (H x W) or ``160`` (square)."""
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not CxHxW, HxW or a single size (e.g. 3x224x224)") from None
    if not 1 <= len(dims) <= 3 or any(d < 1 for d in dims):
        raise typer.BadParameter(f"{text!r} is not CxHxW, HxW or a single size (e.g. 3x224x224)")
    return dims * 2 if len(dims) == 1 else dims


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
    str, typer.Argument(metavar="MODEL", help="A bundled spec name (see `netcost zoo`) or a path to a YAML spec.")
]
InputOpt = Annotated[
    str | None, typer.Option("--input", "-i", help="Input of one sample: CxHxW, HxW or a size (e.g. 3x160x160).")
]
BatchOpt = Annotated[int, typer.Option("--batch", "-b", min=1, help="Batch size; totals cover the whole batch.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Override a spec variable: name=value (repeatable).")
]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Bytes per element: fp32, fp16, bf16, int8, fp64.")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ConventionOpt = Annotated[
    Convention,
    typer.Option("--convention", "-c", help="How FLOPs are counted (see README): netcost, flopcounter, fvcore, pycls."),
]
DepthOpt = Annotated[
    int | None, typer.Option("--depth", "-d", min=1, help="Fold layers into blocks of this name depth (1: stages).")
]


class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    nesterov = "nesterov"
    adagrad = "adagrad"
    rmsprop = "rmsprop"
    rmsprop_momentum = "rmsprop_momentum"
    rmsprop_centered = "rmsprop_centered"
    adam = "adam"
    adamw = "adamw"
    amsgrad = "amsgrad"


TrainOpt = Annotated[bool, typer.Option("--train", help="Add training cost: backward FLOPs, memory of one step.")]
OptimizerOpt = Annotated[Optimizer, typer.Option("--optimizer", help="Optimizer whose state is counted (--train).")]
MomentumOpt = Annotated[
    float, typer.Option("--momentum", min=0.0, help="With sgd or rmsprop: > 0 adds the momentum buffer.")
]
AmpOpt = Annotated[bool, typer.Option("--amp", help="Mixed precision (autocast): fp32 weights, half activations.")]
FreezeOpt = Annotated[
    list[str] | None, typer.Option("--freeze", help="Layers that do not train: a name or glob (repeatable).")
]
TrainDeviceOpt = Annotated[
    str, typer.Option("--train-device", help="Device whose autograd/optimizer behaviour is modelled: cuda or cpu.")
]

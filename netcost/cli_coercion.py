"""Plain coercion of command-line values, so that a run never builds pydantic adapters.

typer (0.29 and later) coerces every parameter through a pydantic ``TypeAdapter`` built at
parse time: importing pydantic and building the adapters is about half of netcost's
start-up. netcost's parameters are all of a few simple kinds (text, integers and numbers
with a lower bound, choices from an Enum, lists of text, flags), so each gets a small
coercer of the same meaning here. Any other kind keeps typer's own coercion. Where typer's
internals are not as expected, nothing is replaced and typer's coercion runs as before
(correct, only slower).

:func:`install` also gives each parameter a plain placeholder in ``--help``: typer shows
its Python type (``<bool>`` on a flag, ``<list[str]>``, ``<str>``); netcost shows nothing
for a flag, the choices for an Enum, and the parameter's name otherwise (``--input INPUT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import typer

try:  # typer >= 0.29: runtime coercion objects on each parameter
    from typer._coercion import RuntimeParam
except ImportError:  # pragma: no cover - an older typer coerces through click types
    RuntimeParam = None  # type: ignore[assignment,misc]


def _fail(param, ctx, message: str):
    raise typer.BadParameter(message, ctx=ctx, param=param)


def _scalar(annotation: Any, info: Any, value: Any, param, ctx) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        if isinstance(value, annotation):
            return value
        choices = [m.value for m in annotation]
        if value in choices:
            return annotation(value)
        _fail(param, ctx, f"{value!r} is not one of {', '.join(repr(c) for c in choices)}.")
    if annotation is str:
        return value if isinstance(value, str) else str(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        _fail(param, ctx, f"{value!r} is not true or false.")
    number = annotation in (int, float)
    if not number:  # pragma: no cover - only kinds accepted by supports()
        raise TypeError(annotation)
    if isinstance(value, str):
        try:
            value = annotation(value)
        except ValueError:
            _fail(param, ctx, f"{value!r} is not {'an integer' if annotation is int else 'a number'}.")
    if annotation is float and value != value:  # NaN
        _fail(param, ctx, "NaN is not a number here.")
    if info.min is not None and value < info.min:
        _fail(param, ctx, f"{value} is smaller than the minimum {info.min}.")
    if info.max is not None and value > info.max:
        _fail(param, ctx, f"{value} is larger than the maximum {info.max}.")
    return value


def _supports(annotation: Any, is_list: bool) -> bool:
    if is_list:
        args = getattr(annotation, "__args__", ())
        return len(args) == 1 and args[0] is str
    return annotation in (str, int, float, bool) or (isinstance(annotation, type) and issubclass(annotation, Enum))


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        """typer's coercion contract, without pydantic."""

        is_list: bool = False

        def _coerce_value(self, value: Any, param, ctx) -> Any:
            if self.is_list:
                items = value if isinstance(value, (list, tuple)) else [value]
                return [_scalar(str, self.parameter_info, v, param, ctx) for v in items]
            return _scalar(self.annotation, self.parameter_info, value, param, ctx)


def _help_option(command) -> tuple:
    """click adds --help when a context is made; make it now so it is coerced plainly too."""
    try:
        option = command.get_help_option(command.context_class(command))
    except Exception:  # pragma: no cover - another typer: leave --help to typer
        return ()
    return () if option is None else (option,)


def install(command) -> int:
    """Give every parameter of ``command`` (and its subcommands) a plain coercer where its
    kind allows; returns how many were replaced."""
    if RuntimeParam is None:  # pragma: no cover
        return 0
    replaced = 0
    for param in (*getattr(command, "params", ()), *_help_option(command)):
        _plain_metavar(param)
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or not hasattr(param, "_runtime_param") or descriptor.is_file:
            continue
        if not _supports(descriptor.annotation, descriptor.is_list):
            continue
        param._runtime_param = PlainRuntimeParam(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, is_list=descriptor.is_list
        )
        replaced += 1
    for sub in getattr(command, "commands", {}).values():
        replaced += install(sub)
    return replaced


def _plain_metavar(param) -> None:
    """The placeholder ``--help`` shows for ``param``, unless the command set one."""
    if param.param_type_name == "argument":  # its name is shown already: no type beside it
        param.display_type_rich = lambda ctx: None
        return
    if getattr(param, "metavar", "") is not None or param.name is None:
        return
    if getattr(param, "is_flag", False):
        param.metavar = ""
        return
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        param.metavar = "|".join(str(m.value) for m in annotation)
        return
    long = [opt for opt in param.opts if opt.startswith("--")]
    param.metavar = (long[0][2:] if long else param.name).strip("_").replace("-", "_").upper()

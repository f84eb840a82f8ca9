"""Specs as model sources: a bundled name, a YAML file, an inline spec, a parsed Spec, or
a Graph already expanded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from netcost.graph import Graph
from netcost.options import AnalyzeOptions, OptionError, spec_shape
from netcost.sources.base import ModelSource
from netcost.spec.schema import Spec


def load_spec(model: str | Path, input_shape: tuple[int, ...] | None = None) -> Spec:
    """Parse a bundled spec name, a YAML path or an inline spec (``conv(64,k=3) > relu``)."""
    from netcost.spec.extends import load_extended
    from netcost.spec.inline import is_inline, parse_inline
    from netcost.spec.schema import parse_spec
    from netcost.zoo import exists, resolve

    if isinstance(model, str) and is_inline(model) and not exists(model):
        return parse_inline(model, input_shape)
    path = resolve(str(model))
    return parse_spec(load_extended(path), str(path), path.stem)


def _refuse_device(options: AnalyzeOptions) -> None:
    if options.device is not None:
        raise OptionError(
            f"--device {options.device}: a spec is analysed from its formulas, on no device",
            hint="--device says where a torch model (package.module:callable) is built and run; "
            "verify and profile have their own --device, --train-device models a training step's device",
        )


@dataclass(frozen=True)
class SpecSource(ModelSource):
    """A spec: ``model`` is a bundled name, a path to a YAML file, an inline spec
    (``conv(64,k=3) > relu``) or a parsed Spec; expanded with the options' variables and
    input."""

    model: str | Path | Spec
    kind: ClassVar[str] = "spec"
    takes_variables: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return self.model.name if isinstance(self.model, Spec) else str(self.model)

    def spec(self, input_shape: tuple[int, ...] | None = None) -> Spec:
        return self.model if isinstance(self.model, Spec) else load_spec(self.model, input_shape)

    def graph(self, options: AnalyzeOptions) -> Graph:
        from netcost.spec.expand import expand

        _refuse_device(options)
        shape = spec_shape(options)
        return expand(self.spec(shape), options.overrides, shape)


@dataclass(frozen=True)
class GraphSource(ModelSource):
    """A Graph already expanded: analysed as it is (its variables are fixed)."""

    model: Graph
    kind: ClassVar[str] = "graph"

    @property
    def label(self) -> str:
        return self.model.name

    def graph(self, options: AnalyzeOptions) -> Graph:
        _refuse_device(options)
        if options.overrides:
            raise OptionError(
                f"overrides {', '.join(sorted(options.overrides))}: a Graph is already expanded",
                hint="pass the spec (a name, a path or a Spec) to set its variables",
            )
        if spec_shape(options) is not None:
            raise OptionError("input_shape: a Graph is already expanded for its input", hint="pass the spec instead")
        return self.model

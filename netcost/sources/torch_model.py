"""Torch models as a model source: a ``package.module:callable`` factory (built where
``--device`` says) or an ``nn.Module`` the caller holds (counted where it lives, left as
it was). Torch is imported only when the model is used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.options import AnalyzeOptions, OneSize, TorchInput
from netcost.sources.base import ModelSource, NoGraph


def is_callable_path(model: str) -> bool:
    """``package.module:callable`` (a torch model to count) rather than a spec."""
    head, sep, tail = model.partition(":")
    return bool(sep) and head.replace(".", "").replace("_", "").isalnum() and tail.replace(".", "").isidentifier()


def is_torch_module(value: Any) -> bool:
    """Whether ``value`` is a ``torch.nn.Module``, without importing torch."""
    return any(c.__name__ == "Module" and c.__module__ == "torch.nn.modules.module" for c in type(value).__mro__)


def need_torch(feature: str) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise NetcostError(f"{feature} needs torch: pip install torch 'netcost[torch]'")


@dataclass(frozen=True, eq=False)
class TorchSource(ModelSource):
    """A torch model: ``model`` is ``package.module:callable`` (a factory taking no
    arguments, returning the model or ``(model, args[, kwargs])`` with example inputs) or
    an ``nn.Module``."""

    model: Any
    kind: ClassVar[str] = "torch"

    @property
    def label(self) -> str:
        return self.model if isinstance(self.model, str) else type(self.model).__name__

    def inputs(self, options: AnalyzeOptions) -> tuple[TorchInput, ...]:
        """The forward's inputs the options give: ``inputs``, else ``input_shape`` taken
        literally (one positional input of that shape; a single size is a 1-D input)."""
        if options.inputs:
            return options.inputs
        shape = options.input_shape
        if shape is None:
            return ()
        return (TorchInput(None, (shape.size,) if isinstance(shape, OneSize) else tuple(shape)),)

    def graph(self, options: AnalyzeOptions) -> Graph:
        raise NoGraph(
            f"{self.label} is a torch model without a spec: this needs the spec's graph",
            hint="`netcost analyze` counts it and `netcost profile` times it",
        )

    def report(self, options: AnalyzeOptions, *, formulas: bool = False):
        """The counted Report (netcost.counted.torchcount): every aten op the forward runs."""
        self.refuse_variables(options)
        if options.train is not None:
            raise NetcostError(
                f"--train needs a spec: {self.label} is a torch model, counted forward only",
                hint="`netcost verify --train SPEC` checks a spec's training step against torch",
            )
        need_torch(f"counting {self.label}")
        from netcost.counted.torchcount import count

        return count(self.model, options.count_options(self.inputs(options)))

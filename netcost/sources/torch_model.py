"""Torch models as a model source: a ``package.module:callable`` factory (built where
``--device`` says) or an ``nn.Module`` the caller holds (counted where it lives, left as
it was). Torch is imported only when the model is used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.options import AnalyzeOptions, OneSize, TorchInput
from netcost.sources.base import ModelSource, NoGraph, graph_report


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
        """The model captured into the Graph (netcost.sources.torch_capture); NoGraph with
        the reason where it cannot be (several inputs, recurrent layers, data-dependent
        control flow, ``--mode train``)."""
        return self.captured(options)[0]

    def built(self, options: AnalyzeOptions, device: str | None = None) -> tuple[Any, tuple, dict, int]:
        """(the model, its forward's args and kwargs, the batch): a factory built on
        ``device`` (default: the options' device, else meta); a module as it is."""
        from netcost.counted.torchcount import construct, forward_args

        self.refuse_variables(options)
        need_torch(f"building {self.label}")
        if isinstance(self.model, str):
            model, example = construct(self.model, device or options.device or "meta")
        else:
            model, example = self.model, None
        args, kwargs, batch = forward_args(model, self.inputs(options), example, options.batch, self.label)
        return model, args, kwargs, batch

    def captured(self, options: AnalyzeOptions) -> tuple[Graph, int]:
        """(the captured Graph, the batch it was captured at: ``options.batch``, or the
        first dimension of the factory's example inputs)."""
        if options.mode != "eval":
            raise NoGraph(
                f"{self.label} in --mode {options.mode}: a graph holds the layers as they run at inference",
                hint="--mode train is counted op by op (batch statistics, dropout)",
            )
        model, args, kwargs, batch = self.built(options)
        return self._capture(model, args, kwargs), batch

    def _capture(self, model, args: tuple, kwargs: dict) -> Graph:
        import torch

        from netcost.sources.torch_capture import CaptureError, capture
        from netcost.usercode import FORWARD, user_code

        flags = [(m, m.training) for m in model.modules()]
        failed = None
        try:
            model.eval()
            with user_code(self.label, FORWARD, "capturing the forward pass"), torch.no_grad():
                try:
                    graph = capture(model, args, kwargs, name=self.label)
                except CaptureError as exc:  # not the user's failure: the Graph cannot hold it
                    failed = exc
        finally:
            for m, training in flags:
                m.training = training
        if failed is not None:
            raise NoGraph(f"{self.label}: {failed.message}", hint=failed.hint)
        return graph

    def verify(self, options: AnalyzeOptions, *, device: str = "cpu"):
        """The captured Graph's numbers against the model itself, per module: FlopCounterMode
        and fvcore (their known gaps explained) and a real run's peak memory on ``device``
        (netcost.counted.verify_torch)."""
        from netcost.counted.verify_torch import verify_module

        model, args, kwargs, _ = self.built(options)
        graph = self._capture(model, args, kwargs)
        return verify_module(model, args, kwargs, graph, device=device)

    def report(self, options: AnalyzeOptions, *, formulas: bool = False):
        """The captured Graph's analysis (every analysis a spec gets); where the model
        cannot be captured, its count op by op (netcost.counted.torchcount), which says so
        and which analyses that leaves out. ``--train`` needs the Graph."""
        from dataclasses import replace

        self.refuse_variables(options)
        need_torch(f"counting {self.label}")
        try:
            graph, batch = self.captured(options)
        except NoGraph as exc:
            if options.train is not None:
                raise NoGraph(f"--train needs a graph: {exc.message}", hint=exc.hint) from None
            return self._counted(options, exc)
        report = graph_report(graph, replace(options, batch=batch), formulas=formulas)
        report.meta.update(
            source="captured",
            reference=self.model if isinstance(self.model, str) else None,
            device=options.device or "meta",
            mode=options.mode,
        )
        report.meta.setdefault("notes", []).insert(0, CAPTURED_NOTE)
        return report

    def _counted(self, options: AnalyzeOptions, why: NoGraph):
        from netcost.counted.torchcount import count

        report = count(self.model, options.count_options(self.inputs(options)))
        reason = why.message.removeprefix(f"{self.label}: ")
        report.meta["notes"].append(f"{reason}; counted op by op instead: {NOT_CAPTURED}")
        report.meta["captured"] = False
        return report


CAPTURED_NOTE = (
    "captured into a graph (torch.fx on meta/fake tensors) and analysed like a spec: "
    "along the path of the example input"
)
NOT_CAPTURED = "no receptive field, --formulas or --train (they need a captured graph)"

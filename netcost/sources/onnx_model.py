"""ONNX files as a model source (``netcost analyze model.onnx``): the file lowered into a
Graph (netcost.sources.onnx_lower), so every analysis applies; no torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from netcost.graph import Graph
from netcost.options import AnalyzeOptions, OneSize, OptionError, TorchInput
from netcost.sources.base import ModelSource


@dataclass(frozen=True)
class OnnxSource(ModelSource):
    """An ``.onnx`` file; ``--input`` sizes its symbolic dims, ``--batch`` scales the analysis."""

    model: str | Path
    kind: ClassVar[str] = "onnx"

    @property
    def label(self) -> str:
        return str(self.model)

    def inputs(self, options: AnalyzeOptions) -> tuple[TorchInput, ...]:
        """``--input`` as given, else ``input_shape`` as one positional sample shape."""
        if options.inputs or options.input_shape is None:
            return options.inputs
        shape = options.input_shape
        return (TorchInput(None, (shape.size,) if isinstance(shape, OneSize) else tuple(shape)),)

    def graph(self, options: AnalyzeOptions) -> Graph:
        from netcost.sources.onnx_lower import onnx_graph

        self.refuse_variables(options)
        if options.device is not None:
            raise OptionError(
                f"--device {options.device}: an ONNX file is analysed from its graph, on no device",
                hint="--device says where a torch model (package.module:callable) is built and run",
            )
        return onnx_graph(self.model, inputs=self.inputs(options), batch=options.batch)

"""A model argument resolved once into its source (the one place that tells a bundled
name from a YAML path, an inline spec, a torch callable and an nn.Module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netcost.graph import Graph
from netcost.options import OptionError
from netcost.sources.base import ModelSource
from netcost.sources.onnx_lower import is_onnx_path
from netcost.sources.spec import GraphSource, SpecSource
from netcost.sources.torch_model import TorchSource, is_callable_path, is_torch_module
from netcost.spec.schema import Spec


def source_of(model: Any) -> ModelSource:
    """The source ``model`` names: a ModelSource as it is; a Graph; a Spec; an nn.Module;
    text or a Path: an ``.onnx`` file (an ONNX model), an existing file or a bundled name (a
    spec), ``package.module:callable`` (a torch model), else an inline spec (whose parser
    says what is wrong with it)."""
    from netcost.zoo import exists

    if isinstance(model, ModelSource):
        return model
    if isinstance(model, Graph):
        return GraphSource(model)
    if isinstance(model, Spec):
        return SpecSource(model)
    if is_torch_module(model):
        return TorchSource(model)
    if is_onnx_path(model):
        from netcost.sources.onnx_model import OnnxSource

        return OnnxSource(model)
    if isinstance(model, Path):
        return SpecSource(model)
    if isinstance(model, str):
        if is_callable_path(model) and not exists(model):
            return TorchSource(model)
        return SpecSource(model)
    raise OptionError(
        f"model: expected a name, a path, an inline spec, package.module:callable, a Spec, a Graph "
        f"or a torch.nn.Module, got {type(model).__name__} {model!r}"
    )

"""The library entry points; the CLI calls these and only renders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netcost.core.cost import Convention
from netcost.graph import Graph
from netcost.report.model import Report
from netcost.spec.expand import expand
from netcost.spec.load import load_file
from netcost.spec.schema import Spec, parse_spec
from netcost.zoo import resolve


def load_spec(model: str | Path) -> Spec:
    """Parse a bundled spec name or a YAML path into a validated :class:`Spec`."""
    path = resolve(str(model))
    return parse_spec(load_file(path), str(path), path.stem)


def load_graph(
    model: str | Path | Spec,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Graph:
    spec = model if isinstance(model, Spec) else load_spec(model)
    return expand(spec, overrides, input_shape)


def analyze(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention | str = Convention.NETCOST,
    formulas: bool = False,
) -> Report:
    """The analytic cost Report of a model (per layer and totals)."""
    from netcost.analysis import analyze_graph

    graph = model if isinstance(model, Graph) else load_graph(model, overrides, input_shape)
    return analyze_graph(graph, batch, dtype, Convention(convention), formulas)


def _need_torch(feature: str) -> None:
    import importlib.util

    from netcost.errors import NetcostError

    if importlib.util.find_spec("torch") is None:
        raise NetcostError(f"{feature} needs torch: pip install torch 'netcost[torch]'")


def build(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
):
    """The spec as a real ``torch.nn.Module`` (eval mode); submodule paths are the layer names."""
    _need_torch("build")
    from netcost.counted.compile import build as compile_graph

    graph = model if isinstance(model, Graph) else load_graph(model, overrides, input_shape)
    return compile_graph(graph)


def verify(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    batch: int = 1,
    device: str = "cpu",
    fields: bool = True,
    memory: bool = True,
    against: str | None = None,
):
    """Analytic against counted, layer by layer (a VerifyReport; ``.passed``, ``.to_dict()``)."""
    _need_torch("verify")
    from netcost.counted.verify import verify_graph

    graph = model if isinstance(model, Graph) else load_graph(model, overrides, input_shape)
    return verify_graph(graph, batch, device, fields, memory, against)

"""The library entry points; the CLI calls these and only renders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netcost.core.cost import Convention
from netcost.graph import Graph
from netcost.report.model import Report
from netcost.spec.expand import expand
from netcost.spec.schema import Spec, parse_spec
from netcost.zoo import resolve


def is_callable_path(model: str) -> bool:
    """``package.module:callable`` (a torch model to count) rather than a spec."""
    head, sep, tail = model.partition(":")
    return bool(sep) and head.replace(".", "").replace("_", "").isalnum() and tail.replace(".", "").isidentifier()


def load_spec(model: str | Path, input_shape: tuple[int, ...] | None = None) -> Spec:
    """Parse a bundled spec name, a YAML path or an inline spec (``conv(64,k=3) > relu``)."""
    from netcost.spec.extends import load_extended
    from netcost.spec.inline import is_inline, parse_inline
    from netcost.zoo import exists

    if isinstance(model, str) and is_inline(model) and not exists(model):
        return parse_inline(model, input_shape)
    path = resolve(str(model))
    return parse_spec(load_extended(path), str(path), path.stem)


def load_extended(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """The spec's YAML with its ``extends:`` chain applied (see netcost.spec.extends)."""
    from netcost.spec.extends import load_extended as load

    return load(path, seen)


def load_graph(
    model: str | Path | Spec,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Graph:
    spec = model if isinstance(model, Spec) else load_spec(model, input_shape)
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
    """The cost Report of a model (per layer and totals): analytic for a spec, counted for a
    ``package.module:callable`` torch model."""
    from netcost.analysis import analyze_graph

    if isinstance(model, str) and is_callable_path(model) and not Path(model).exists():
        return count_callable(model, overrides, input_shape, batch, dtype, convention)
    graph = model if isinstance(model, Graph) else load_graph(model, overrides, input_shape)
    return analyze_graph(graph, batch, dtype, Convention(convention), formulas)


def count_callable(
    model: str,
    overrides: Mapping[str, Any] | None,
    input_shape: tuple[int, ...] | None,
    batch: int,
    dtype: str,
    convention: Convention | str,
) -> Report:
    """Count a torch model given as ``package.module:callable`` (no spec: torch counts it)."""
    from netcost.errors import NetcostError

    if overrides:
        raise NetcostError(f"--set applies to specs; {model} is a torch model (it takes no variables)")
    _need_torch(f"counting {model}")
    from netcost.counted.torchcount import count_model

    shape = tuple(input_shape or (3, 224, 224))
    if len(shape) == 2:
        shape = (3, *shape)
    return count_model(model, shape, batch, dtype, Convention(convention))


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


def profile(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    batches: tuple[int, ...] | list[int] = (1,),
    dtypes: tuple[str, ...] | list[str] = ("fp32",),
    device: str = "cpu",
    amp: bool = False,
    channels_last: bool = False,
    per_layer: bool = False,
    threads: int | None = None,
    min_run_time: float = 1.0,
    recalibrate: bool = False,
    progress=None,
):
    """Measured latency next to the analytic work (a ProfileReport; ``.to_dict()``)."""
    _need_torch("profile")
    import torch

    from netcost.counted.calibrate import roofline
    from netcost.counted.profile import profile_graph, profile_module
    from netcost.counted.timing import DTYPES
    from netcost.errors import NetcostError

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise NetcostError("--device cuda: no CUDA device is available here")
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown:
        raise NetcostError(f"unknown dtype {unknown[0]!r}: one of {', '.join(DTYPES)}")
    if threads:
        torch.set_num_threads(threads)
    rl = roofline(device, dtypes[0], recalibrate)[0] if per_layer else None
    if isinstance(model, str) and is_callable_path(model) and not Path(model).exists():
        shape = tuple(input_shape or (3, 224, 224))
        return profile_module(model, shape, batches, dtypes, device, amp, channels_last, min_run_time, progress)
    graph = model if isinstance(model, Graph) else load_graph(model, overrides, input_shape)
    return profile_graph(
        graph, batches, dtypes, device, amp, channels_last, per_layer, min_run_time, roofline=rl, progress=progress
    )


def calibrate(device: str = "cpu", dtype: str = "fp32", recalibrate: bool = False):
    """(Roofline, cached?) of this machine: peak FLOP/s and memory bandwidth."""
    _need_torch("calibrate")
    from netcost.counted.calibrate import roofline

    return roofline(device, dtype, recalibrate)


def analyze_train(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    batch: int = 1,
    dtype: str = "fp32",
    optimizer: str = "sgd",
    momentum: float = 0.0,
    amp: bool = False,
    frozen: tuple[str, ...] = (),
    convention: Convention | str = Convention.NETCOST,
    device: str = "cuda",
    foreach: bool | None = None,
    formulas: bool = False,
) -> Report:
    """The Report with training columns per layer and ``report.train`` (backward FLOPs,
    gradients, optimizer state, saved activations, the step's peak): analytic, no torch."""
    from netcost.analysis.training import train_report

    graph = model if isinstance(model, Graph) else load_graph(model, overrides, input_shape)
    return train_report(
        graph, batch, dtype, optimizer, momentum, amp, tuple(frozen), Convention(convention), device, foreach, formulas
    )


def verify_train(
    model: str | Path | Spec | Graph,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    batch: int = 2,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    device: str = "cpu",
    frozen: tuple[str, ...] = (),
    foreach: bool | None = None,
    memory: bool = True,
    amp: bool = False,
):
    """The training-cost model against one real training step (a TrainVerifyReport;
    ``.passed``, ``.to_dict()``)."""
    _need_torch("verify --train")
    from netcost.counted.train_verify import verify_train as run

    graph = model if isinstance(model, Graph) else load_graph(model, overrides, input_shape)
    return run(graph, optimizer, batch, momentum, device, tuple(frozen), foreach, memory, amp)

"""Latency predicted from the Graph and a per-op-class calibration (no torch).

Each layer falls in one op class (:func:`op_class`); its time alone (as in a
microbenchmark) is

    overhead(class) + max(FLOPs / achieved FLOP/s(class, FLOPs), bytes / bandwidth)

for the compute classes (convolutions by kind, linear, attention, window pooling), and
``overhead(class) + bytes / achieved B/s(class, bytes)`` for the bandwidth-bound ones
(elementwise, global pooling, normalisation); a view costs its overhead alone. FLOPs are
2 x MACs plus the elementwise work; bytes moved are the inputs and the output at the batch,
plus the weights, at the dtype. A network runs slower than its layers alone (cold
weights, the previous layer's output, the module's loop and the framework between layers):
each layer's time alone is multiplied by the calibration's ``network_factor`` and the whole
model adds ``step_overhead_s`` per layer, both fitted on the calibration's reference
networks (netcost.counted.reference_networks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from netcost.analysis.latency_record import OpClassCalibration
from netcost.errors import NetcostError
from netcost.graph import Graph, Node
from netcost.options import DTYPE_BYTES
from netcost.report.views import ResultViews

# class -> (what it is, what its throughput is of)
OP_CLASSES: dict[str, tuple[str, str]] = {
    "pointwise": ("dense 1x1 convolution", "flops"),
    "conv3x3": ("dense convolution, kernels up to 3x3 (1x3, 3x1 too)", "flops"),
    "conv_large": ("dense convolution, larger kernels (5x5, 7x7, 1x7, 11x11)", "flops"),
    "depthwise": ("depthwise convolution (groups = input channels)", "flops"),
    "grouped": ("grouped convolution (1 < groups < input channels)", "flops"),
    "linear": ("linear layers on many rows (tokens, positions) and other matrix products", "flops"),
    "matvec": ("linear layers on a few rows (a head at batch 1): streaming the weights", "bytes"),
    "attention": ("multi-head attention with its projections (windowed too)", "flops"),
    "elementwise": ("activations, merges, scaling, resampling: bandwidth-bound", "bytes"),
    "pool": ("window pooling (max, average): priced by its window reads", "flops"),
    "global_pool": ("global and adaptive average pooling, means: bandwidth-bound", "bytes"),
    "norm": ("normalisation (batch, layer, group, LRN)", "bytes"),
    "view": ("views (flatten, identity, dropout in eval): the call alone", "bytes"),
}
CONV_KINDS = ("conv", "conv_transpose", "sparse_conv")
ATTENTION_KINDS = ("attention", "window_attention")
NORM_KINDS = ("bn", "layernorm", "groupnorm", "lrn")
POOL_KINDS = ("maxpool", "avgpool", "subsample")
GLOBAL_POOL_KINDS = ("adaptive_avgpool", "gap", "mean")
MATVEC_ROWS = 8  # a linear layer on at most this many rows (per sample) streams its weights


def op_class(node: Node) -> str:
    """The op class whose calibration prices this layer."""
    op = node.op
    if op.kind in CONV_KINDS:
        c_in = node.in_shapes[0].c
        groups = getattr(op, "groups", 1)
        if groups > 1:
            return "depthwise" if groups == c_in else "grouped"
        k = tuple(getattr(op, "k", (1, 1)))
        if k == (1, 1):
            return "pointwise"
        return "conv3x3" if max(k) <= 3 else "conv_large"
    if op.kind in ATTENTION_KINDS:
        return "attention"
    if op.kind in NORM_KINDS:
        return "norm"
    if op.kind in POOL_KINDS:
        return "pool"
    if op.kind in GLOBAL_POOL_KINDS:
        return "global_pool"
    if op.is_view:
        return "view"
    if op.kind == "linear" and node.in_shapes[0].numel // max(node.in_shapes[0].c, 1) <= MATVEC_ROWS:
        return "matvec"
    if op.cost(node.in_shapes, node.shape).macs:
        return "linear"
    return "elementwise"


def layer_work(node: Node, batch: int, dtype: str) -> tuple[int, int]:
    """(FLOPs: 2 x MACs + elementwise; bytes moved: inputs + output + weights) of one layer."""
    if node.op.is_view:
        return 0, 0
    cost = node.op.cost(node.in_shapes, node.shape)
    width = DTYPE_BYTES[dtype]
    flops = (2 * cost.macs + cost.elementwise) * batch
    moved = ((sum(s.numel for s in node.in_shapes) + node.shape.numel) * batch + cost.params) * width
    return flops, moved


@dataclass
class Prediction(ResultViews):
    TABLE: ClassVar[str] = "layers"
    TITLE: ClassVar[str] = "netcost predict"

    model: str
    batch: int
    dtype: str
    calibration: dict[str, Any]
    layers: list[dict[str, Any]]
    layer_sum_s: float
    step_overhead_s: float  # what the network adds to its layers alone, all layers together
    total_s: float
    notes: list[str] = field(default_factory=list)

    def by_class(self) -> dict[str, dict[str, float]]:
        """Predicted seconds and layers per op class."""
        out: dict[str, dict[str, float]] = {}
        for row in self.layers:
            acc = out.setdefault(row["op_class"], {"layers": 0, "predicted_s": 0.0, "flops": 0})
            acc["layers"] += 1
            acc["predicted_s"] += row["predicted_s"]
            acc["flops"] += row["flops"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "model": self.model,
            "batch": self.batch,
            "dtype": self.dtype,
            "calibration": self.calibration,
            "totals": {
                "predicted_s": self.total_s,
                "layer_sum_s": self.layer_sum_s,
                "step_overhead_s": self.step_overhead_s,
            },
            "by_class": self.by_class(),
            "layers": self.layers,
            "notes": self.notes,
        }


def predict_layer(node: Node, calibration: OpClassCalibration, batch: int, dtype: str) -> dict[str, Any]:
    cls = op_class(node)
    fit = calibration.classes.get(cls)
    if fit is None:
        raise NetcostError(
            f"the calibration of {calibration.device} has no op class {cls!r} (layer {node.name})",
            hint="`netcost predict --recalibrate` measures every class again",
        )
    flops, moved = layer_work(node, batch, dtype)
    compute, memory = (0.0, 0.0) if cls == "view" else fit.terms(flops, moved, calibration.bandwidth_bytes_per_s)
    work = max(compute, memory)
    bound = "overhead" if fit.overhead_s >= work else ("compute" if compute >= memory else "memory")
    alone = fit.overhead_s + work
    return {
        "name": node.name,
        "op": node.op.kind,
        "op_class": cls,
        "flops": flops,
        "bytes_moved": moved,
        "alone_s": alone,
        "predicted_s": alone * calibration.network_factor,
        "bound": bound,
    }


def calibration_summary(calibration: OpClassCalibration) -> dict[str, Any]:
    """What a prediction was made from (the machine and the setting), for the report."""
    return {
        "device": calibration.device,
        "device_type": calibration.device_type,
        "threads": calibration.threads,
        "dtype": calibration.dtype,
        "channels_last": calibration.channels_last,
        "measured_at": calibration.measured_at,
        "load_average": calibration.load_average,
        "network_factor": calibration.network_factor,
        "step_overhead_s": calibration.step_overhead_s,
        "cpus": calibration.cpus,
        "torch_version": calibration.torch_version,
        "cudnn_benchmark": calibration.cudnn_benchmark,
    }


def predict_graph(graph: Graph, calibration: OpClassCalibration, batch: int = 1) -> Prediction:
    """Every layer's predicted time and the whole model's, at ``batch`` in the calibration's dtype."""
    if type(batch) is not int or batch < 1:
        raise NetcostError(f"batch: expected a positive integer, got {batch!r}")
    dtype = calibration.dtype
    rows = [predict_layer(node, calibration, batch, dtype) for node in graph.nodes]
    layer_sum = sum(r["predicted_s"] for r in rows)
    steps = calibration.step_overhead_s * len(rows)
    total = layer_sum + steps
    for r in rows:
        r["share"] = r["predicted_s"] / layer_sum if layer_sum else None
    return Prediction(graph.name, batch, dtype, calibration_summary(calibration), rows, layer_sum, steps, total)

"""`netcost profile`: measured latency next to the analytic work, per model and per layer.

Achieved FLOP/s = analytic FLOPs (netcost convention: 2 x MACs, plus elementwise work
where stated) / measured median time. Per layer, the roofline predicts
``max(FLOPs / peak, bytes moved / bandwidth)`` with bytes moved = inputs + output +
weights at the dtype; how well it ranks and sizes the layers is reported as the Spearman
rank correlation and the median of measured / predicted.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from netcost.analysis import DTYPE_BYTES, analyze_graph
from netcost.counted.compile import build
from netcost.counted.device import check_device
from netcost.counted.timing import MIN_BLOCKS, prepare, time_layers, time_model
from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.options import ProfileOptions
from netcost.report.views import ResultViews
from netcost.text import one_line
from netcost.usercode import FACTORY, FORWARD, load_callable, user_code


@dataclass
class ProfileReport(ResultViews):
    TABLE: ClassVar[str] = "runs"
    TITLE: ClassVar[str] = "netcost profile"

    model: str
    device: str
    threads: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] | None = None
    roofline: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None  # the per-op-class model against the measurement
    summary: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "schema_version": 1,
            "model": self.model,
            "device": self.device,
            "threads": self.threads,
            "runs": self.runs,
        }
        if self.layers is not None:
            doc.update(layers=self.layers, roofline=self.roofline, summary=self.summary)
            if self.prediction is not None:
                doc["prediction"] = self.prediction
        doc["notes"] = self.notes
        return doc


def note_spread(report: ProfileReport) -> None:
    """Say where no spread could be measured (too few timed blocks for an IQR)."""
    for r in report.runs:
        if r["iqr_s"] is None:
            report.notes.append(
                f"batch {r['batch']} {r['dtype']}: no IQR from {r['timed_blocks']} timed block(s) "
                f"(it needs {MIN_BLOCKS}); a longer --min-time measures the spread"
            )


def conv_kind(node) -> str:
    op = node.op
    if op.kind != "conv":
        return op.kind
    c_in = node.in_shapes[0].c
    if op.groups == c_in and c_in > 1:
        return "depthwise conv"
    if op.k == (1, 1):
        return "pointwise conv"
    return "grouped conv" if op.groups > 1 else "standard conv"


def layer_work(graph: Graph, batch: int, dtype: str) -> dict[str, dict[str, int]]:
    """Analytic FLOPs and bytes moved (inputs + output + weights) of every layer."""
    width = DTYPE_BYTES[dtype]
    rows = {r["name"]: r for r in analyze_graph(graph, batch, dtype).rows}
    work = {}
    for node in graph.nodes:
        row = rows[node.name]
        moved = (sum(s.numel for s in node.in_shapes) * batch + node.shape.numel * batch + row["params"]) * width
        work[node.name] = {"flops": row["flops"], "elementwise_flops": row["elementwise_flops"], "bytes": moved}
    return work


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 3:
        return None

    def ranks(xs):
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        r = [0.0] * len(xs)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else None


def run_row(batch: int, dtype: str, amp: bool, channels_last: bool, timing, flops: int) -> dict[str, Any]:
    """One whole-model measurement: achieved FLOP/s = analytic FLOPs / median time."""
    return {
        "batch": batch,
        "dtype": dtype,
        "amp": amp,
        "channels_last": channels_last,
        "median_s": timing.median_s,
        "iqr_s": timing.iqr_s,
        "timed_runs": timing.runs,
        "timed_blocks": timing.blocks,
        "throughput": batch / timing.median_s,
        "achieved_flop_per_s": flops / timing.median_s,
        "flops": flops,
    }


def profile_graph(
    graph: Graph,
    options: ProfileOptions | None = None,
    *,
    roofline=None,
    layer_repeats: int = 10,
    progress: Callable[[str], None] | None = None,
    calibration=None,
) -> ProfileReport:
    """Time the module ``graph`` compiles to at each batch and dtype of ``options``; with
    ``options.per_layer`` every layer too, against ``roofline``'s prediction and, given
    ``calibration`` (an OpClassCalibration), the per-op-class prediction
    (netcost.analysis.predict), ranked and sized against it."""
    options = ProfileOptions() if options is None else options
    device, dtypes, batches = check_device(options.device), options.dtypes, options.batches
    amp, channels_last, min_run_time = options.amp, options.channels_last, options.min_run_time
    report = ProfileReport(graph.name, device, torch.get_num_threads())
    if device.startswith("cuda"):
        report.notes.append(f"cudnn autotuning (torch.backends.cudnn.benchmark): {torch.backends.cudnn.benchmark}")
    for dtype in dtypes:
        for batch in batches:
            if progress:
                progress(f"batch {batch} {dtype}")
            model, x, context = prepare(
                build(graph), (batch, *graph.input_shape.dims), device, dtype, amp, channels_last
            )
            peak = _reset_peak(x.device)
            timing = time_model(model, x, context, min_run_time)
            flops = analyze_graph(graph, batch, dtype).totals["flops"]
            report.runs.append(run_row(batch, dtype, amp, channels_last, timing, flops))
            if peak is not None:
                report.runs[-1]["device_peak_bytes"] = torch.cuda.max_memory_allocated(x.device) - peak
    if options.per_layer:
        batch, dtype = batches[0], dtypes[0]
        if progress:
            progress(f"per layer, batch {batch} {dtype}")
        model, x, context = prepare(build(graph), (batch, *graph.input_shape.dims), device, dtype, amp, channels_last)
        times, hooked_total = time_layers(model, [n.name for n in graph.nodes], x, context, layer_repeats)
        _per_layer(report, graph, batch, dtype, times, hooked_total, roofline)
        if calibration is not None:
            compare_prediction(report, graph, calibration, batch)
    note_spread(report)
    return report


def compare_prediction(report: ProfileReport, graph: Graph, calibration, batch: int) -> None:
    """Each layer's time predicted per op class beside the measured one; rank correlation and
    median measured/predicted over the layers, and the whole model's predicted against measured."""
    from netcost.analysis.predict import predict_graph

    if calibration.dtype != report.summary["dtype"]:
        ran = report.summary["dtype"]
        report.notes.append(f"no prediction: the calibration is of {calibration.dtype}, the layers ran in {ran}")
        return
    predicted = predict_graph(graph, calibration, batch)
    by_name = {r["name"]: r for r in predicted.layers}
    for row in report.layers:
        p = by_name[row["name"]]
        row["op_class"] = p["op_class"]
        row["class_predicted_s"] = p["predicted_s"]
    timed = [r for r in report.layers if r["time_s"] and r["class_predicted_s"]]
    ratios = [r["time_s"] / r["class_predicted_s"] for r in timed]
    whole = report.summary["whole_model_s"]
    report.prediction = {
        "calibration": predicted.calibration,
        "rank_correlation": spearman([r["class_predicted_s"] for r in timed], [r["time_s"] for r in timed]),
        "median_measured_over_predicted": statistics.median(ratios) if ratios else None,
        "layers_compared": len(timed),
        "whole_model_predicted_s": predicted.total_s,
        "whole_model_measured_s": whole,
        "whole_model_measured_over_predicted": whole / predicted.total_s if predicted.total_s else None,
    }


def _per_layer(report: ProfileReport, graph: Graph, batch: int, dtype: str, times, hooked_total, roofline) -> None:
    work = layer_work(graph, batch, dtype)
    total_flops = sum(w["flops"] for w in work.values()) or 1
    layer_sum = sum(times.values())
    rows = []
    for node in graph.nodes:
        w, t = work[node.name], times.get(node.name)
        row = {
            "name": node.name,
            "op": node.op.kind,
            "kind": conv_kind(node),
            "time_s": t,
            "time_share": t / layer_sum if t and layer_sum else None,
            "flops": w["flops"],
            "flops_share": w["flops"] / total_flops,
            "elementwise_flops": w["elementwise_flops"],
            "bytes_moved": w["bytes"],
            "arithmetic_intensity": w["flops"] / w["bytes"] if w["bytes"] else None,
            "achieved_flop_per_s": w["flops"] / t if t else None,
        }
        if roofline is not None:
            row["predicted_s"] = roofline.predict(w["flops"] + w["elementwise_flops"], w["bytes"])
        rows.append(row)
    report.layers = rows
    kinds: dict[str, list[float]] = {}
    for row in rows:
        if row["time_s"] and row["op"] == "conv":
            acc = kinds.setdefault(row["kind"], [0, 0.0])
            acc[0] += row["flops"]
            acc[1] += row["time_s"]
    whole = next(r["median_s"] for r in report.runs if r["batch"] == batch and r["dtype"] == dtype)
    report.summary = {
        "layer_time_sum_s": layer_sum,
        "hooked_pass_s": hooked_total,
        "whole_model_s": whole,
        "layer_sum_over_whole": layer_sum / whole if whole else None,
        "achieved_flop_per_s_by_kind": {k: f / t for k, (f, t) in kinds.items() if t},
        "batch": batch,
        "dtype": dtype,
    }
    if roofline is not None:
        timed = [r for r in rows if r["time_s"] and r["predicted_s"]]
        ratios = [r["time_s"] / r["predicted_s"] for r in timed]
        report.roofline = {
            "device": roofline.device,
            "peak_flop_per_s": roofline.peak_flop_per_s,
            "bandwidth_bytes_per_s": roofline.bandwidth_bytes_per_s,
            "rank_correlation": spearman([r["predicted_s"] for r in timed], [r["time_s"] for r in timed]),
            "median_measured_over_predicted": statistics.median(ratios) if ratios else None,
            "layers_compared": len(timed),
        }


def _reset_peak(device: torch.device) -> int | None:
    """On CUDA: reset the allocator's peak and return what is allocated now (the model and
    input), so the peak of the timed passes is read as the growth over it."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device)


def profile_module(
    target: str,
    shape: tuple[int, ...],
    options: ProfileOptions,
    *,
    progress: Callable[[str], None] | None = None,
) -> ProfileReport:
    """Whole-model timing of a ``package.module:callable`` torch model on one positional
    input of ``shape`` (one sample); its FLOPs are counted (netcost.counted.torchcount)."""
    from netcost.counted.torchcount import count_model

    device, dtypes, batches = check_device(options.device), options.dtypes, options.batches
    amp, channels_last, min_run_time = options.amp, options.channels_last, options.min_run_time
    factory = load_callable(target)
    shown = one_line(target)
    report = ProfileReport(target, device, torch.get_num_threads())
    for dtype in dtypes:
        for batch in batches:
            if progress:
                progress(f"batch {batch} {dtype}")
            with user_code(target, FACTORY, f"{shown}() on {device} at {dtype}"):
                model = factory()
            if not isinstance(model, torch.nn.Module):
                raise NetcostError(f"{shown}() returned {type(model).__name__}, not a torch.nn.Module")
            with user_code(target, FACTORY, f"moving it to {device} at {dtype}"):
                model, x, context = prepare(model, (batch, *shape), device, dtype, amp, channels_last)
            with user_code(target, FORWARD, f"timing the forward pass on an input of shape {[batch, *shape]}"):
                timing = time_model(model, x, context, min_run_time)
            counted = count_model(target, shape, batch=batch, dtype=dtype)
            flops = counted.totals["flops"]
            report.runs.append(run_row(batch, dtype, amp, channels_last, timing, flops))
            if counted.meta.get("partial"):
                report.notes.append(f"FLOPs partially counted: {sorted(counted.meta.get('unsupported_ops', {}))}")
    note_spread(report)
    report.notes.append("per-layer timing and the roofline need a spec (this model was counted, not analysed)")
    return report

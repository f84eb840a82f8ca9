"""`netcost verify`: the analytic numbers against the compiled module, layer by layer.

Each layer's params, buffers, output shape, output bytes and FLOPs under fvcore's and
FlopCounterMode's own conventions must be *equal* — the conventions are projections of the
same analytic counts, so agreement is exact or it is a bug. Ops a counter cannot count
(fvcore: add, mul, max pool, activations) are listed as such, not counted as mismatches.
Then receptive fields by gradient, the peak of live activation memory by tracking
storages, and optionally a reference implementation's parameter shapes and MACs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from netcost.analysis import analyze_graph
from netcost.core.conventions import Convention
from netcost.core.cost import Cost
from netcost.counted.compile import build, sample_input
from netcost.counted.count import count
from netcost.counted.device import check_device
from netcost.counted.memory import measure_peak
from netcost.counted.receptive import FieldCheck, checkpoints, measure
from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.report.views import ResultViews
from netcost.text import one_line
from netcost.usercode import FACTORY, FORWARD, load_callable, user_code

__all__ = [
    "VerifyReport",
    "cell",
    "compare_reference",
    "load_callable",
    "temporaries",
    "tool_cell",
    "tool_total",
    "total_check",
    "verify_graph",
]

# ops whose torch implementation allocates temporaries beside its output, so the measured
# peak may exceed the analytic one while such an op runs (the analytic model counts outputs)
TEMPORARIES = {
    "maxpool": "torch's max_pool2d also computes an int64 index tensor, then drops it",
    "lrn": "torch runs LocalResponseNorm as several ops whose temporaries coexist",
    "layernorm": "torch's layer_norm also returns per-sample mean and rstd",
    "groupnorm": "torch's group_norm also returns per-group mean and rstd",
    "softmax": "softmax may keep an intermediate of its input's size",
    "attention": "attention holds the projected q, k, v and the scores while it runs",
    "window_attention": "window attention holds the padded windows, q, k, v and the scores while it runs",
}
COLUMNS = ("params", "buffers", "shape", "bytes", "fvcore", "flopcounter")


@dataclass
class VerifyReport(ResultViews):
    TABLE: ClassVar[str] = "layers"
    TITLE: ClassVar[str] = "netcost verify"

    model: str
    device: str
    input: list[int]
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    fields: list[FieldCheck] = field(default_factory=list)
    memory: dict[str, Any] | None = None
    against: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[str]:
        bad = [f"{r['name']}: {c}" for r in self.rows for c in COLUMNS if r[c]["ok"] is False]
        bad += [f"total {t['check']}" for t in self.totals if not t["ok"]]
        bad += [f"receptive field of {f.node}" for f in self.fields if f.ok is False]
        if self.memory and self.memory["ok"] is False:
            bad.append("peak activation memory")
        if self.against and not self.against["ok"]:
            bad.append(f"against {self.against['reference']}")
        return bad

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "model": self.model,
            "device": self.device,
            "input": self.input,
            "passed": self.passed,
            "mismatches": self.mismatches,
            "totals": self.totals,
            "layers": self.rows,
            "receptive_fields": [
                {
                    "node": f.node,
                    "analytic": f.analytic,
                    "measured": f.measured,
                    "input": f.input_size,
                    "ok": f.ok,
                    **({"reads": f.reads} if f.reads is not None else {}),
                    **({"note": f.note} if f.note else {}),
                }
                for f in self.fields
            ],
            "memory": self.memory,
            "against": self.against,
            "notes": self.notes,
        }


def cell(analytic: Any, counted: Any, note: str | None = None) -> dict[str, Any]:
    ok = None if counted is None else analytic == counted
    return {"analytic": analytic, "counted": counted, "ok": ok, **({"note": note} if note else {})}


def verify_graph(
    graph: Graph,
    *,
    batch: int = 1,
    device: str = "cpu",
    fields: bool = True,
    memory: bool = True,
    against: str | None = None,
) -> VerifyReport:
    device = check_device(device)
    model = build(graph).to(device)
    shape = (batch, *graph.input_shape.dims)
    x = sample_input(graph, shape, device)
    counted = count(model, graph, x)
    reports = {c: analyze_graph(graph, batch, convention=c) for c in (Convention.FVCORE, Convention.FLOPCOUNTER)}
    fv_rows = {r["name"]: r for r in reports[Convention.FVCORE].rows}
    rows = []
    whole = Cost()
    for node in graph.nodes:
        a = fv_rows[node.name]
        cost = node.op.cost(node.in_shapes, node.shape).scaled(batch)
        whole += cost
        skipped = counted.fvcore_skipped.get(node.name)
        note = f"fvcore cannot count {', '.join(sorted(skipped))}" if skipped else None
        fv_counted = None if counted.fvcore is None else counted.fvcore[node.name]
        fvcore = tool_cell(Convention.FVCORE, cost, device, fv_counted, note)
        rows.append(
            {
                "name": node.name,
                "op": node.op.kind,
                "params": cell(a["params"], counted.params[node.name]),
                "buffers": cell(a["buffers"], counted.buffers[node.name]),
                "shape": cell(a["output_shape"], counted.shapes.get(node.name)),
                "bytes": cell(a["activation_bytes"], counted.output_bytes.get(node.name)),
                "fvcore": fvcore,
                "flopcounter": tool_cell(Convention.FLOPCOUNTER, cost, device, counted.flopcounter[node.name]),
            }
        )
    t_fv = reports[Convention.FVCORE].totals
    totals = [
        total_check("params", t_fv["params"], sum(p.numel() for p in model.parameters())),
        total_check("buffers", t_fv["buffers"], sum(b.numel() for b in model.buffers())),
        tool_total(Convention.FLOPCOUNTER, whole, device, counted.flopcounter_total),
    ]
    if counted.fvcore_total is not None:
        totals.append(tool_total(Convention.FVCORE, whole, device, counted.fvcore_total))
    report = VerifyReport(graph.name, device, list(shape), rows, totals, notes=list(counted.notes))
    if fields:
        report.fields = _fields(graph, report.notes)
    if memory:
        report.memory = _memory(model, graph, shape, device, t_fv["peak_activation_bytes"])
    if against:
        report.against = compare_reference(model, against, x, t_fv["params"], whole, device)
    return report


def _fields(graph: Graph, notes: list[str]) -> list[FieldCheck]:
    """The receptive-field checks; choosing where to check must not stop verify either."""
    try:
        where = checkpoints(graph)
    except Exception as exc:  # a check that cannot run is reported, never raised
        first = (str(exc).strip().splitlines() or [""])[0]
        notes.append(f"receptive fields not measured: {type(exc).__name__}: {first}")
        return []
    return [measure(graph, node) for node in where]


def total_check(check: str, analytic: int, counted: int) -> dict[str, Any]:
    return {"check": check, "analytic": analytic, "counted": counted, "ok": analytic == counted}


def tool_cell(convention: Convention, cost: Cost, device: str, counted: int | None, note: str | None = None):
    """A counter's figure for one layer: what the tool should report, blind spots included
    (verify runs it under no_grad); where that differs from the convention's true count,
    the true figure and why, so a known gap is explained, not reported as a mismatch."""
    expected = convention.tool_flops(cost, no_grad=True, device=device)
    checked = cell(expected, counted, note)
    true = convention.flops(cost)
    if true != expected:
        checked["true"] = true
        checked["note"] = "; ".join([*([note] if note else []), _gap(convention, true - expected)])
    return checked


def tool_total(convention: Convention, whole: Cost, device: str, counted: int) -> dict[str, Any]:
    total = total_check(f"{convention.value} FLOPs", convention.tool_flops(whole, no_grad=True, device=device), counted)
    true = convention.flops(whole)
    if true != total["analytic"]:
        total["true"] = true
        total["note"] = _gap(convention, true - total["analytic"])
    return total


def _gap(convention: Convention, flops: int) -> str:
    tool = "fvcore" if convention is Convention.FVCORE else "FlopCounterMode"
    return f"{tool} does not count {flops:,} FLOPs of attention (SDPA, nn.MultiheadAttention); netcost does"


def _memory(model, graph: Graph, shape, device, analytic: int) -> dict[str, Any]:
    make = (lambda: sample_input(graph, shape, device)) if graph.input_shape.layout == "L" else None
    measured = measure_peak(model, [n.name for n in graph.nodes], shape, device=device, make_input=make)
    at = measured.peak_at
    reason = temporaries(graph[at].op) if at is not None else None
    if measured.peak_bytes == analytic:
        ok, why = True, "equal"
    elif measured.peak_bytes > analytic and reason:
        ok, why = True, f"at {at}, {reason}"
    else:
        ok, why = False, "unexplained difference"
    return {
        "analytic_bytes": analytic,
        "measured_bytes": measured.peak_bytes,
        "measured_at": at,
        "device_peak_bytes": measured.device_peak_bytes,
        "ok": ok,
        "explanation": why,
    }


def temporaries(op) -> str | None:
    padding = getattr(op, "pad", None)
    if isinstance(padding, tuple) and len(padding) == 4 and (padding[0] != padding[1] or padding[2] != padding[3]):
        return "asymmetric padding makes a padded copy of the input"
    if padding == "same":
        return "'same' padding may make a padded copy of the input"
    return TEMPORARIES.get(op.kind)


def compare_reference(model, reference: str, x, params: int, whole: Cost, device: str = "cpu") -> dict[str, Any]:
    """Parameter tensors, total params and MACs of a reference implementation. The tensors
    agree when the named ones do (state_dict names and shapes: weights load by name), or,
    where the names differ, when the shapes do in order. MACs: the reference counted by
    FlopCounterMode under no_grad, against ``whole``'s MACs less what that tool is known to
    miss (nn.MultiheadAttention's fast path, CPU flash attention: ``macs.missed``)."""
    from torch.utils.flop_counter import FlopCounterMode

    factory = load_callable(reference)
    with user_code(reference, FACTORY, f"{one_line(reference)}()"):
        ref = factory()
    if not isinstance(ref, torch.nn.Module):
        raise NetcostError(f"--against {one_line(reference)}: it returned {type(ref).__name__}, not a torch.nn.Module")
    with user_code(reference, FACTORY, f"moving it to {x.device}"):
        ref.eval().to(x.device)
    ours = {n: tuple(p.shape) for n, p in model.named_parameters()}
    theirs = {n: tuple(p.shape) for n, p in ref.named_parameters()}
    shapes = list(ours.values()), list(theirs.values())
    first_diff = next((i for i, (a, b) in enumerate(zip(*shapes, strict=False)) if a != b), None)
    mode = FlopCounterMode(display=False)
    detail = f"the forward pass on an input of shape {list(x.shape)}"
    with user_code(reference, FORWARD, detail), torch.no_grad(), mode:
        ref(x)
    ref_macs = mode.get_total_flops() // 2
    flopcounter = Convention.FLOPCOUNTER
    missed = whole.macs - flopcounter.tool_flops(whole, no_grad=True, device=device) // flopcounter.per_mac
    ref_params = sum(p.numel() for p in ref.parameters())
    named = ours == theirs
    tensors_ok = named or (set(ours) != set(theirs) and shapes[0] == shapes[1])
    ok = tensors_ok and ref_params == params and ref_macs == whole.macs - missed
    return {
        "reference": reference,
        "ok": ok,
        "params": {"analytic": params, "reference": ref_params},
        "macs": {"analytic": whole.macs, "reference": int(ref_macs), "missed": missed},
        "param_tensors": {"analytic": len(ours), "reference": len(theirs)},
        "named_tensors": {
            "equal": named,
            "missing": [n for n in theirs if n not in ours][:5],
            "unexpected": [n for n in ours if n not in theirs][:5],
            "shape_differs": [n for n in theirs if n in ours and ours[n] != theirs[n]][:5],
        },
        "first_shape_difference": None
        if first_diff is None
        else {"index": first_diff, "analytic": shapes[0][first_diff], "reference": shapes[1][first_diff]},
    }

"""The analytic Report of a Graph: one row per layer, and totals."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from netcost import __version__
from netcost.analysis.coverage import coverage_meta
from netcost.analysis.memory import activation_memory
from netcost.analysis.receptive import final_field, receptive_fields
from netcost.core.conventions import Convention, gap_notes, tool_gaps
from netcost.core.cost import Cost
from netcost.graph import Graph
from netcost.options import DTYPE_BYTES
from netcost.report.model import Report


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector during a pass. The passes allocate many small acyclic
    objects (rows, dicts, tuples); on graphs of tens of thousands of nodes the collector's
    scans of them made the passes grow faster than linearly (50 K nodes: 1.8 s instead of
    1.0 s). Reference counting still frees everything; the collector resumes afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def analyze_graph(
    graph: Graph,
    batch: int = 1,
    dtype: str = "fp32",
    convention: Convention = Convention.NETCOST,
    formulas: bool = False,
) -> Report:
    with collector_paused():
        return _analyze_graph(graph, batch, dtype, convention, formulas)


def _analyze_graph(graph: Graph, batch: int, dtype: str, convention: Convention, formulas: bool) -> Report:
    if batch < 1:
        raise ValueError("batch must be at least 1")
    width = DTYPE_BYTES[dtype]
    fields = receptive_fields(graph)
    memory = activation_memory(graph, width, batch)
    rows = []
    params = buffers = macs = elementwise = flops_total = 0  # plain sums: Cost.__add__ is slow per node
    attention = projections = bias = 0
    work: dict[str, int] = {}
    for node in graph.nodes:
        cost = node.op.cost(node.in_shapes, node.shape).scaled(batch)
        flops = convention.flops(cost)
        params += cost.params
        buffers += cost.buffers
        macs += cost.macs
        elementwise += cost.elementwise
        flops_total += flops
        attention += cost.attention
        projections += cost.mha_projections
        bias += cost.bias
        for kind, n in cost.work:
            work[kind] = work.get(kind, 0) + n
        rf = fields[node.name]
        row = {
            "name": node.name,
            "op": node.op.kind,
            "args": node.op.describe(),
            "output_shape": [batch, *node.shape.dims],
            "output_layout": node.shape.layout,  # the dims' roles (netcost.core.shape): CHW, HWC, LC, F, L
            "params": cost.params,
            "buffers": cost.buffers,
            "macs": cost.macs,
            "flops": flops,
            "elementwise_flops": cost.elementwise,
            "attention_macs": cost.attention,
            "mha_projection_macs": cost.mha_projections,
            "rf_size": _pair(rf.size),
            "rf_jump": _pair(rf.jump),
            "rf_start": _pair(rf.start),
            "rf_global": rf.is_global,
            "activation_bytes": memory.per_node[node.name],
        }
        if formulas:
            f = node.op.formula(node.in_shapes, node.shape)
            row["formula_params"] = f.params if f else None
            row["formula_flops"] = f.flops if f else None
        rows.append(row)
    local = final_field(graph, fields)
    whole = Cost(params, buffers, macs, elementwise, bias, attention, projections, tuple(work.items()))
    totals = {
        "params": params,
        "buffers": buffers,
        "param_bytes": params * width,
        "macs": macs,
        "flops": flops_total,
        "elementwise_flops": elementwise,
        "attention_macs": attention,
        "mha_projection_macs": projections,
        "counter_gaps": tool_gaps(whole),
        "activation_bytes": sum(memory.per_node.values()),
        "peak_activation_bytes": memory.peak,
        "max_op_io_bytes": memory.max_op_io,
        "receptive_field": _pair(local.size) if local else None,
    }
    return Report(
        model=graph.name,
        convention=convention.value,
        input=[batch, *graph.input_shape.dims],
        vars={k: v for k, v in graph.vars.items() if k in graph.settable},
        dtype=dtype,
        rows=rows,
        totals=totals,
        meta={
            "netcost_version": __version__,
            "convention_description": convention.description,
            "reference": graph.reference,
            "peak_at": memory.peak_at,
            "max_op_io_at": memory.max_op_io_at,
            "live_bytes": memory.live,  # the liveness timeline, one entry per row
            "notes": gap_notes(whole),
            **coverage_meta(graph),
        },
    )


def _pair(value):
    return list(value) if value is not None else None


def cost_totals(graph: Graph) -> dict[str, int]:
    """Parameters, buffers, MACs and elementwise work of one sample, summed over the layers:
    the totals of :func:`analyze_graph` without its receptive-field and memory passes."""
    params = buffers = macs = elementwise = 0
    for node in graph.nodes:
        cost = node.op.cost(node.in_shapes, node.shape)
        params += cost.params
        buffers += cost.buffers
        macs += cost.macs
        elementwise += cost.elementwise
    return {"params": params, "buffers": buffers, "macs": macs, "elementwise_flops": elementwise}

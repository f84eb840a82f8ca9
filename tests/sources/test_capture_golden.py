"""Captured torchvision and timm models against the golden rows of the reference models
(tests/golden/reference.json: torch's parameter and buffer counts, FlopCounterMode's total,
the conv+linear MACs, fvcore's total). Needs torchvision (and timm for its rows); slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from netcost.analysis import analyze_graph  # noqa: E402
from netcost.core.conventions import Convention  # noqa: E402
from netcost.core.cost import Cost  # noqa: E402
from netcost.sources.torch_capture import capture  # noqa: E402

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "reference.json").read_text())["models"]
NAMES = sorted(k for k, v in GOLDEN.items() if v.get("library") in ("torchvision", "timm"))


def build(call: str):
    namespace = {"torchvision": torchvision}
    if call.startswith("timm."):
        namespace["timm"] = pytest.importorskip("timm")
    try:
        with torch.device("meta"):
            return eval(call, namespace).eval()  # the golden file's own constructor call
    except (NotImplementedError, RuntimeError):  # a constructor that reads values (regnet's widths)
        return eval(call, namespace).eval().to("meta")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_a_captured_reference_model_has_its_golden_figures(name):
    gold = GOLDEN[name]
    model = build(gold["call"])
    shape = gold["input"]
    graph = capture(model, (torch.empty(*shape, device="meta"),), {}, name=name)
    report = analyze_graph(graph, shape[0])
    totals = report.totals
    assert "partial" not in report.meta
    assert totals["params"] == gold["params"] and totals["buffers"] == gold["buffers"]
    assert totals["macs"] - totals["attention_macs"] == gold["conv_linear_macs"]
    cost = Cost(macs=totals["macs"], attention=totals["attention_macs"], mha_projections=totals["mha_projection_macs"])
    assert Convention.FLOPCOUNTER.tool_flops(cost, no_grad=True) == gold["flop_counter_total"]
    fvcore = analyze_graph(graph, shape[0], convention=Convention.FVCORE).totals["flops"]
    assert fvcore - totals["attention_macs"] == gold["fvcore"]["total"]

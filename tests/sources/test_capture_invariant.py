"""The invariant that proves the capture: ``netcost.build(spec)``, handed back as a torch
model and captured, analyses exactly like the spec — every row and total (params, buffers,
MACs, FLOPs under each convention, elementwise work, receptive field per layer, activation
and peak bytes, formulas) and every training figure. A few small specs in the default run,
the whole zoo in the slow step."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import netcost  # noqa: E402
from netcost.analysis import analyze_graph  # noqa: E402
from netcost.analysis.training import train_report  # noqa: E402
from netcost.core.conventions import Convention  # noqa: E402
from netcost.options import TrainOptions  # noqa: E402
from netcost.sources.torch_capture import capture  # noqa: E402
from netcost.zoo import bundled  # noqa: E402

FAST = ["lenet5", "alexnet", "resnet18", "mobilenet_v2", "vit_b_16"]
BATCH = 2
# the op's name and arguments are not figures: gap and adaptive_avgpool to 1x1 build the same module
NOT_FIGURES = {"op", "args"}


def captured(name: str):
    spec = netcost.load_graph(name)
    model = netcost.build(spec).to("meta")
    x = torch.empty(BATCH, *spec.input_shape.dims, device="meta")
    return spec, capture(model, (x,), {}, name=name)


def figures(report) -> tuple[dict, list[dict]]:
    rows = [{k: v for k, v in row.items() if k not in NOT_FIGURES} for row in report.rows]
    return report.totals, rows


def assert_same(spec, graph):
    for convention in (Convention.NETCOST, Convention.FVCORE, Convention.FLOPCOUNTER, Convention.PYCLS):
        want = analyze_graph(spec, BATCH, convention=convention, formulas=True)
        got = analyze_graph(graph, BATCH, convention=convention, formulas=True)
        assert figures(got) == figures(want), convention
        assert "partial" not in got.meta
    for optimizer in ("sgd", "adam"):
        want = train_report(spec, batch=BATCH, train=TrainOptions(optimizer=optimizer, device="cpu"))
        got = train_report(graph, batch=BATCH, train=TrainOptions(optimizer=optimizer, device="cpu"))
        assert got.train == want.train, optimizer
        assert figures(got) == figures(want)


@pytest.mark.parametrize("name", FAST)
def test_a_compiled_spec_captures_back_to_the_same_analysis(name):
    spec, graph = captured(name)
    assert [n.name for n in graph.nodes] == [n.name for n in spec.nodes]
    assert_same(spec, graph)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(bundled()) - set(FAST)))
def test_every_bundled_spec_captures_back_to_the_same_analysis(name):
    spec, graph = captured(name)
    assert [n.name for n in graph.nodes] == [n.name for n in spec.nodes]
    assert_same(spec, graph)


def test_a_real_cpu_model_captures_like_its_meta_copy():
    """Fake tensors on a model with real weights: the same graph as on meta, nothing allocated."""
    spec = netcost.load_graph("resnet18")
    model = netcost.build(spec)
    graph = capture(model, (torch.randn(BATCH, 3, 224, 224),), {}, name="resnet18")
    assert_same(spec, graph)

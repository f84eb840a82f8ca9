"""The generic tensor ops (netcost/ops/tensor.py) and softmax over an axis, with hand
counts; an opaque op of unknown cost makes the analysis partial and fails the gate."""

from __future__ import annotations

import pytest

import netcost
from netcost.analysis import analyze_graph
from netcost.core.conventions import Convention
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import get


def op(kind, **fields):
    return get(kind)(**fields)


def test_matmul_counts_output_elements_times_the_inner_dimension():
    q, kt = Shape((12, 197, 64)), Shape((12, 64, 197))  # ViT-B's q @ kᵀ: 12 heads, 197 tokens
    m = op("matmul")
    out = m.shape((q, kt))
    assert out.dims == (12, 197, 197)
    cost = m.cost((q, kt), out)
    assert cost.macs == 12 * 197 * 197 * 64 == 29_805_312
    assert Convention.FLOPCOUNTER.flops(cost) == 2 * 29_805_312  # bmm: 2 per MAC
    assert Convention.FVCORE.flops(cost) == 29_805_312
    assert m.rf((RF.identity(), RF.identity()), (q, kt), out).is_global
    back = m.backward((q, kt), out, (True, True), False)
    assert back.dgrad_macs == 2 * 29_805_312  # grad @ b.T and a.T @ grad


def test_matmul_broadcasts_leading_dimensions_and_refuses_a_mismatch():
    m = op("matmul")
    assert m.shape((Shape((4, 1, 5, 3)), Shape((6, 3, 2)))).dims == (4, 6, 5, 2)
    with pytest.raises(ShapeError, match="7 columns against 3 rows"):
        m.shape((Shape.tokens(5, 7), Shape.tokens(3, 2)))


def test_reshape_is_a_view_of_the_same_elements():
    r = op("reshape", dims=(2, 4, 16))
    x = Shape.of(8, 4, 4)
    assert r.shape((x,)).dims == (2, 4, 16) and r.is_view
    assert r.cost((x,), r.shape((x,))).elementwise == 0
    with pytest.raises(ShapeError, match="needs 120 elements"):
        op("reshape", dims=(2, 60)).shape((Shape.of(7, 4, 4),))


def test_permute_dims_view_or_copy():
    x = Shape.of(8, 4, 5)
    p = op("permute_dims", dims=(1, 2, 0), layout="HWC")
    assert p.shape((x,)) == Shape.channels_last(4, 5, 8) and p.is_view
    assert not op("permute_dims", dims=(1, 2, 0), contiguous=True).is_view
    with pytest.raises(ShapeError, match="no permutation"):
        op("permute_dims", dims=(0, 0, 1)).shape((x,))


def test_softmax_over_an_axis_counts_three_per_element_and_mixes_positions():
    scores = Shape((12, 197, 197))
    s = op("softmax", axis=-1)
    cost = s.cost((scores,), s.shape((scores,)))
    assert cost.elementwise == 3 * 12 * 197 * 197
    assert s.rf((RF.identity(),), (scores,), scores).is_global
    tokens = Shape.tokens(5, 6)
    over_channels = op("softmax", axis=-1)  # the channels of tokens: per position
    assert not over_channels.rf((RF.identity(),), (tokens,), tokens).is_global
    assert op("softmax").rf((RF.identity(),), (tokens,), tokens) == RF.identity()
    with pytest.raises(ShapeError, match="outside the 2 axes"):
        op("softmax", axis=2).shape((tokens,))


@pytest.mark.parametrize(("effect", "is_global", "spatial"), [("elementwise", False, True), ("reshape", False, False)])
def test_opaque_effect_on_fields(effect, is_global, spatial):
    x = Shape.of(4, 5, 5)
    o = op("opaque", source_op="aten.cumsum", out=(4, 5, 5), effect=effect)
    field = RF.identity().map_axes(lambda i, a: a.through(3))
    got = o.rf((field,), (x,), x)
    assert got.is_global is is_global and got.spatial is spatial and got.size == (3, 3)
    assert op("opaque", source_op="aten.sort", out=(4, 5, 5), effect="global").rf((field,), (x,), x).is_global


SPEC = """\
name: topk_net
input: [3, 8, 8]
layers:
  - conv: {out: 4, k: 3, pad: 1}
  - flatten
  - opaque: {source_op: onnx.TopK, out: [16], known: %s, effect: global}
  - linear: {out: 2}
"""


def test_an_unknown_opaque_op_makes_the_report_partial(tmp_path):
    path = tmp_path / "topk.yaml"
    path.write_text(SPEC % "false")
    report = netcost.analyze(str(path))
    assert report.meta["partial"] is True
    assert report.meta["unsupported_ops"] == {"onnx.TopK": 1}
    # conv 4*8*8 outputs x 27 MACs; linear 16 x 2
    assert report.totals["macs"] == 4 * 64 * 27 + 32
    trained = netcost.analyze(str(path), train=True)
    assert trained.meta["partial"] is True
    result = netcost.check(str(path), budgets={"macs": "1G"})
    assert not result.passed
    assert netcost.check(str(path), budgets={"macs": "1G"}, allow_partial=True).passed


def test_a_known_opaque_op_is_complete(tmp_path):
    path = tmp_path / "topk.yaml"
    path.write_text(SPEC % "true")
    report = netcost.analyze(str(path))
    assert "partial" not in report.meta
    assert netcost.check(str(path), budgets={"macs": "1G"}).passed


def test_opaque_output_must_fit_its_layout():
    with pytest.raises(ShapeError, match="does not fit"):
        op("opaque", source_op="x", out=(4, 5), layout="CHW").shape((Shape.of(20),))


def test_opaque_in_a_graph_counts_what_it_was_given():
    from netcost.graph import Graph, Node

    x = Shape.of(4, 5, 5)
    o = op("opaque", source_op="aten.lerp", out=(4, 5, 5), elementwise=300, macs=7)
    g = Graph("g", x)
    g.add(Node("lerp", o, ("input",), (x,), o.shape((x,))))
    report = analyze_graph(g, batch=2)
    assert report.totals["elementwise_flops"] == 600 and report.totals["macs"] == 14

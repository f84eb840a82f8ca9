"""The seeds' cost tables, reproduced by netcost.

For every printed figure: netcost's number equals the value recomputed independently from
the slide's definition (``exact`` in tests/golden/seed_tables.json), and the printed figure
is a rounding of it -- except the figures the notes mark inconsistent, which netcost must
*not* reproduce (they are listed in the README's "seeds' tables, checked").
"""

import pytest

from netcost.api import analyze
from tests.seeds import entries, reproduces, table

ALEXNET = "004 AlexNet per-layer (params and FLOPs)"


def alexnet_value(entry, rows, totals):
    key = "params" if entry["quantity"] == "params" else "flops"
    return totals[key] if entry["row"] == "Totals" else rows[entry["row"]][key]


@pytest.fixture(scope="module")
def alexnet():
    report = analyze("alexnet_slide")
    return {r["name"]: r for r in report.rows}, report.totals


@pytest.mark.parametrize("entry", table(ALEXNET), ids=lambda e: e["id"])
def test_alexnet_slide_table(entry, alexnet):
    value = alexnet_value(entry, *alexnet)
    assert value == entry["exact"]
    assert reproduces(entry, value) == entry["consistent"], entry["printed"]


def test_alexnet_slide_discrepancies_are_the_documented_ones():
    wrong = sorted(e["id"] for e in table(ALEXNET) if not e["consistent"])
    assert wrong == ["004.alexnet.conv4.params", "004.alexnet.fc6.params", "004.alexnet.total.params"]
    # 61M is the two-GPU network: grouped conv2/conv4/conv5
    grouped = analyze("alexnet_slide", {"groups": 2}).totals["params"]
    assert grouped == entries()["004.alexnet.total.params"]["exact_alt"]["grouped"]
    assert reproduces(entries()["004.alexnet.total.params"], grouped)


def test_alexnet_activation_sizes():
    rows = {r["name"]: r for r in analyze("alexnet_slide").rows}
    checked = 0
    for entry in table("004 AlexNet (1) layer table (activation size)"):
        row = rows.get(entry["row"].lower())
        if row and len(row["output_shape"]) == 4:
            h, w = row["output_shape"][2:]
            assert f"{h}x{w}" == entry["printed"], entry["row"]
            checked += 1
    assert checked == 8  # conv1-5 and the three pools; flatten and fc rows are 1x1


def test_conv_example():
    from netcost.core.shape import Shape
    from netcost.ops.conv import Conv

    op = Conv(out=16, k=(5, 5), pad=(2, 2, 2, 2))
    out = op.shape((Shape.of(8, 32, 32),))
    cost = op.cost((Shape.of(8, 32, 32),), out)
    e = entries()
    assert cost.params == e["004.conv_example.params"]["exact"]
    assert out.numel == e["004.conv_example.activations"]["exact"]
    assert 2 * cost.macs == e["004.conv_example.flops"]["exact"]
    assert reproduces(e["004.conv_example.flops"], 2 * cost.macs)


def test_mobilenet_v2_paper_figures():
    """The paper's 3.4M excludes batchnorm: netcost's conv+linear params reproduce it."""
    report = analyze("mobilenet_v2")
    weights = sum(r["params"] for r in report.rows if r["op"] in ("conv", "linear"))
    e = entries()
    assert weights == e["004.mobilenetv2.params"]["exact"] == 3_470_760
    assert reproduces(e["004.mobilenetv2.params"], weights)
    assert not reproduces(e["004.mobilenetv2.params"], report.totals["params"])  # 3.50M with BN
    assert report.totals["macs"] == e["004.mobilenetv2.macs"]["exact"]
    assert reproduces(e["004.mobilenetv2.macs"], report.totals["macs"])


def test_mobilenet_v2_stage_inputs():
    """The paper's table (seeds 004): each stage's input H^2 x C."""
    rows = analyze("mobilenet_v2").rows
    outputs = {r["name"]: r["output_shape"] for r in rows}
    stage_inputs = [
        "input",
        "features.0.2",
        "features.1.conv.2",
        "features.3.add1",
        "features.6.add1",
        "features.10.add1",
        "features.13.add1",
        "features.16.add1",
        "features.17.conv.3",
        "features.18.2",
        "avgpool",
    ]
    shapes = [[1, 3, 224, 224] if n == "input" else outputs[n] for n in stage_inputs]
    printed = [e for e in table("004 MobileNet-v2") if e["quantity"] == "activation_shape"]
    assert len(printed) == len(shapes)
    for entry, shape in zip(printed, shapes, strict=True):
        h, w, c = entry["exact"]
        assert shape[1:] == [c, h, w], entry["row"]

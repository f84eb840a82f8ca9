"""Every result the Python API returns has ``.to_json()``, ``.df`` and ``_repr_html_``
(netcost.report.views): one mechanism, checked on each."""

from __future__ import annotations

import importlib.util
import json

import pytest

import netcost

# conv(256,k=3) and dwsep(256,k=3) on 256x56x56 (inline odd kernels keep the size): per
# position 3*3*256*256 = 589,824 and 3*3*256 + 256*256 = 67,840 MACs, over 56*56 positions
CONV, DWSEP = 589_824 * 56 * 56, 67_840 * 56 * 56


def views(result):
    doc = json.loads(result.to_json())
    assert doc == json.loads(json.dumps(result.to_dict(), default=str))
    html = result._repr_html_()
    assert html.startswith("<") and "<script" not in html.replace("&lt;script", "")
    return doc, result.df


def test_compare():
    doc, df = views(netcost.compare(["conv(256,k=3)", "dwsep(256,k=3)"], input_shape="256x56x56"))
    assert list(df["macs"]) == [CONV, DWSEP]
    assert df["macs_ratio"].iloc[1] == pytest.approx(DWSEP / CONV)
    assert [m["model"] for m in doc["models"]] == ["conv(256,k=3)", "dwsep(256,k=3)"]


def test_check():
    result = netcost.check("resnet18", max_macs="1G", max_params="12M")
    _, df = views(result)
    assert list(df["metric"]) == ["macs", "params"] and list(df["passed"]) == [False, True]
    assert list(df["actual"]) == [1_814_073_344, 11_689_512]  # torchvision resnet18


def test_analyze():
    doc, df = views(netcost.analyze("resnet18"))
    assert doc["totals"]["params"] == 11_689_512 == df["params"].sum()


def test_sweep_and_fit():
    table = netcost.sweep("resnet18", grid={"classes": [10, 1000]}, frame=False)
    _, df = views(table)
    # only the head changes: 512 x classes weights + classes biases
    assert list(df["params"]) == [11_689_512 - 513_000 + 5_130, 11_689_512]
    fit = netcost.fit("resnet18", "classes", budgets={"params": 11_689_512}, low=1, high=5000)
    doc, df = views(fit)
    assert doc["value"] == 1000 and df["params"].iloc[0] == 11_689_512


def test_a_hostile_name_is_escaped_in_the_notebook():
    result = netcost.check("conv(8,k=3)", max_macs="1", input_shape="3x8x8")
    html = result._repr_html_()
    evil = netcost.report.views.records_html([{"name": "<script>alert(1)</script>"}], '"><img onerror=x>')
    assert "<script>" not in evil and "&lt;script&gt;" in evil and "<img" not in evil
    assert "conv(8,k=3)" in html


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_verify():
    """conv(8,k=3) on 3x8x8: 8*3*3*3 + 8 = 224 params, one layer, analytic = counted."""
    doc, df = views(netcost.verify("conv(8,k=3)", input_shape="3x8x8", fields=False))
    assert doc["passed"] and list(df["params.analytic"]) == [224] == list(df["params.counted"])

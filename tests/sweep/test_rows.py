"""Sweep rows equal single analyze runs with the same --set, and sampled RegNets equal timm's.

The fast totals path (netcost.analysis.sweep_totals: block summaries reused between models)
is checked against the per-layer analysis of the same settings; the sampled RegNets against
timm's models of the same configuration (tests/golden/sweep_regnets.json, made by
scripts/golden_sweep_regnets.py with timm and fvcore)."""

from __future__ import annotations

import json
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netcost
from netcost.analysis.sweep_totals import TOTAL_KEYS, TotalsEngine
from netcost.api import load_spec
from netcost.zoo import bundled
from tests.conftest import GOLDEN

REGNET_VARS = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio", "se_ratio")


@cache
def spec(name: str):
    return load_spec(name)


def analyzed(name: str, overrides: dict, **options) -> dict:
    totals = netcost.analyze(name, overrides, **options).totals
    return {k: totals[k] for k in TOTAL_KEYS}


SLOW_TO_ANALYZE = {"hourglass"}  # its receptive-field pass alone takes seconds


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_TO_ANALYZE else n for n in sorted(bundled())]
)
def test_every_bundled_spec_at_its_defaults(name):
    engine = TotalsEngine(spec(name), batch=2)
    first, again = engine.totals(), engine.totals()  # the second from the summaries
    assert first == again == analyzed(name, {}, batch=2)


@given(
    depth=st.integers(12, 28),
    w0=st.integers(1, 32).map(lambda k: 8 * k),
    wa=st.integers(80, 2560).map(lambda k: k / 10),
    wm=st.integers(2000, 3000).map(lambda k: k / 1000),
    group_width=st.sampled_from([8, 16, 24, 32, 48, 64]),
    se_ratio=st.sampled_from([0, 0.25]),
    rounding=st.sampled_from(["pycls", "torchvision"]),
)
def test_random_regnets_equal_analyze(depth, w0, wa, wm, group_width, se_ratio, rounding):
    point = dict(depth=depth, w0=w0, wa=wa, wm=wm, group_width=group_width, se_ratio=se_ratio, rounding=rounding)
    engine = _engine("regnet", 1, "fp32", "netcost")
    assert engine.totals(point) == analyzed("regnet", point)


@given(
    width=st.sampled_from([0.35, 0.5, 0.75, 1.0, 1.3, 1.4]),
    size=st.integers(32, 260),
    batch=st.integers(1, 4),
    dtype=st.sampled_from(["fp32", "fp16"]),
    convention=st.sampled_from(["netcost", "fvcore", "pycls", "flopcounter"]),
)
def test_random_mobilenets_equal_analyze(width, size, batch, dtype, convention):
    engine = _engine("mobilenet_v2", batch, dtype, convention)
    got = engine.totals({"width": width}, (3, size, size))
    want = analyzed("mobilenet_v2", {"width": width}, input_shape=(3, size, size), batch=batch, dtype=dtype)
    if convention != "netcost":
        want["flops"] = netcost.analyze(
            "mobilenet_v2", {"width": width}, input_shape=(3, size, size), batch=batch, convention=convention
        ).totals["flops"]
    assert got == want


@cache
def _engine(name, batch, dtype, convention):
    from netcost.core.conventions import Convention

    return TotalsEngine(spec(name), batch, dtype, Convention(convention))


@settings(max_examples=8)
@given(seed=st.integers(0, 2**32), space=st.sampled_from(["regnetx", "regnety"]))
def test_sampled_rows_equal_analyze(seed, space):
    df = netcost.sweep("regnet", sample=3, seed=seed, space=space)
    assert list(df.columns) == [*REGNET_VARS, *TOTAL_KEYS]
    for row in df.to_dict("records"):
        values = {k: row[k] for k in REGNET_VARS}
        assert {k: row[k] for k in TOTAL_KEYS} == analyzed("regnet", values)


@cache
def timm_regnets() -> list[dict]:
    return json.loads((GOLDEN / "sweep_regnets.json").read_text())["models"]


def test_sampled_regnets_equal_timms_models():
    """Twenty models netcost's sampler drew (ten RegNetX, ten RegNetY): params and conv +
    linear MACs as timm builds them and fvcore counts them."""
    models = timm_regnets()
    assert len(models) == 20 and {m["space"] for m in models} == {"regnetx", "regnety"}
    engine = TotalsEngine(spec("regnet"))
    for m in models:
        totals = engine.totals({k: m[k] for k in REGNET_VARS})
        assert (totals["params"], totals["macs"]) == (m["params"], m["conv_linear_macs"]), m


def test_the_same_draws_as_the_golden_configurations():
    """netcost's sampler still draws the configurations the golden file was made from."""
    df = netcost.sweep("regnet", sample=40, seed=16, space="regnetx", where="macs <= 4e9")
    drawn = [{k: r[k] for k in REGNET_VARS} for r in df.head(10).to_dict("records")]
    golden = [{k: m[k] for k in REGNET_VARS} for m in timm_regnets() if m["space"] == "regnetx"]
    assert drawn == golden


def test_jobs_give_the_same_rows():
    one = netcost.sweep("regnet", sample=60, seed=3, frame=False)
    two = netcost.sweep("regnet", sample=60, seed=3, jobs=2, frame=False)
    assert one.rows == two.rows and one.drawn == two.drawn


def test_grid_is_the_cartesian_product_in_order():
    df = netcost.sweep("mobilenet_v2", grid={"width": [0.5, 1.0], "input": ["3x160x160", 224]})
    assert df[["width", "input"]].values.tolist() == [
        [0.5, "3x160x160"],
        [0.5, "224x224"],
        [1.0, "3x160x160"],
        [1.0, "224x224"],
    ]
    # torchvision mobilenet_v2 (tests/golden/reference.json): 3,504,872 params, 300,774,272 MACs
    assert df.iloc[3][["params", "macs"]].tolist() == [3_504_872, 300_774_272]


def test_list_valued_variable_in_a_grid():
    df = netcost.sweep("resnet50", grid={"depths": [[3, 4, 6, 3], [3, 4, 23, 3]]})
    # torchvision resnet50 and resnet101: 25,557,032 and 44,549,160 parameters
    assert df["params"].tolist() == [25_557_032, 44_549_160]
    assert df["depths"].tolist() == [[3, 4, 6, 3], [3, 4, 23, 3]]


def test_train_rows_equal_analyze_train():
    df = netcost.sweep("mobilenet_v2", grid={"width": [0.5]}, train=netcost.TrainOptions(optimizer="adam"), batch=2)
    report = netcost.analyze("mobilenet_v2", {"width": 0.5}, train=netcost.TrainOptions(optimizer="adam"), batch=2)
    row = df.iloc[0].to_dict()
    assert row["peak_train_bytes"] == report.train["peak_train_bytes"]
    assert row["step_flops"] == report.train["step_flops"] and row["macs"] == report.totals["macs"]

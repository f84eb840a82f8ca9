"""Property: for any valid spec, analytic == compiled-and-counted, exactly.

Random specs chain convolutions (random kernel, stride, padding, dilation, groups, bias),
pools, residual adds with projection shortcuts, concatenations, SE-style gates and a linear
head. For each: params and buffers (torch), MACs (FlopCounterMode / 2), fvcore's total, and
every output shape must equal the analytic numbers.

CI runs a bounded number of examples; a larger run is one command away:
    HYPOTHESIS_PROFILE=thorough python -m pytest tests/counted/test_properties.py
"""

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

pytest.importorskip("torch")
pytest.importorskip("fvcore")

from netcost.api import load_graph
from netcost.counted.verify import verify_graph
from netcost.errors import ShapeError


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def conv(draw, channels: int, out: int | None = None) -> dict:
    out = out or draw(st.sampled_from([2, 4, 6, 8]))
    groups = draw(st.sampled_from([g for g in divisors(channels) if out % g == 0]))
    k = draw(st.sampled_from([1, 3, 5, [1, 3], [3, 1]]))
    dilation = draw(st.sampled_from([1, 1, 2]))
    pad = draw(st.sampled_from([0, 1, 2, "same", [1, 0], [0, 1, 1, 2]]))
    stride = draw(st.sampled_from([1, 1, 2])) if pad != "same" or dilation == 1 else 1
    return {
        "conv": {
            "out": out,
            "k": k,
            "stride": stride,
            "pad": pad,
            "dilation": dilation,
            "groups": groups,
            "bias": draw(st.booleans()),
        }
    }


@st.composite
def layer(draw, channels: int) -> tuple[dict, int]:
    """A layer and the channels it outputs."""
    kind = draw(st.sampled_from(["conv", "conv", "pool", "residual", "concat", "se", "act"]))
    if kind == "conv":
        item = draw(conv(channels))
        return item, item["conv"]["out"]
    if kind == "pool":
        op = draw(st.sampled_from(["maxpool", "avgpool"]))
        k = draw(st.sampled_from([2, 3]))
        return {
            op: {
                "k": k,
                "stride": draw(st.sampled_from([1, 2])),
                "pad": draw(st.sampled_from([0, 1])),
                "ceil_mode": draw(st.booleans()),
            }
        }, channels
    if kind == "act":
        return draw(st.sampled_from(["relu", "relu6", "silu", "sigmoid", "hardswish", "bn", "gelu", "tanh"])), channels
    if kind == "residual":
        out = draw(st.sampled_from([channels, 8]))
        stride = draw(st.sampled_from([1, 2]))
        body = [
            {"conv": {"out": out, "k": 3, "stride": stride, "pad": 1, "bias": False}},
            "bn",
            "relu",
            {"conv": {"out": out, "k": 3, "pad": 1}},
        ]
        shortcut = {
            "when": f"{stride} != 1 or in_channels != {out}",
            "else": [],
            "layers": [{"conv": {"out": out, "k": 1, "stride": stride, "bias": False}}, "bn"],
        }
        return {"parallel": {"merge": "add", "branches": [body, shortcut]}}, out
    if kind == "concat":
        a, b = draw(conv(channels)), draw(conv(channels))
        for branch in (a, b):
            branch["conv"].update(stride=1, pad="same", dilation=1)
        return {"parallel": {"merge": "concat", "branches": [[a], [b], []]}}, channels + a["conv"]["out"] + b["conv"][
            "out"
        ]
    hidden = max(1, channels // 2)
    gate = ["gap", {"conv": {"out": hidden, "k": 1}}, "relu", {"conv": {"out": channels, "k": 1}}, "sigmoid"]
    return {"parallel": {"merge": "mul", "branches": [[], gate]}}, channels


@st.composite
def specs(draw) -> str:
    channels = first = draw(st.integers(1, 6))
    size = [draw(st.integers(12, 40)), draw(st.integers(12, 40))]
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        item, channels = draw(layer(channels))
        layers.append(item)
    if draw(st.booleans()):
        layers += ["gap", "flatten", {"linear": {"out": draw(st.integers(1, 12)), "bias": draw(st.booleans())}}]
    return json.dumps({"input": [first, *size], "layers": layers})


@given(spec=specs(), batch=st.sampled_from([1, 2]))
def test_analytic_equals_counted(spec, batch, tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "random.yaml"
    path.write_text(spec)  # JSON is YAML
    try:
        graph = load_graph(path)
    except ShapeError:
        assume(False)  # e.g. a stride that shrinks the map to nothing: not a valid spec
    report = verify_graph(graph, batch=batch, fields=False, memory=True)
    assert report.passed, (spec, report.mismatches)

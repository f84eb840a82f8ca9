"""Bounded work: a huge tensor costs no time, an oversized expansion fails at once with the
documented limit, and expression magnitudes cannot reach a shape or a rendering."""

from __future__ import annotations

import json
import time

import pytest

from netcost.spec.expand import MAX_NODES

FAST = 5.0  # seconds: generous for a loaded CI machine; each case takes well under one


def timed(cli, *args):
    start = time.perf_counter()
    result = cli(*args)
    return result, time.perf_counter() - start


BLOCK = "blocks:\n  b:\n    layers: [conv: {out: 4, k: 3, pad: 1}, bn, relu, conv: {out: 4, k: 1}, bn, relu]\n"
TOO_BIG = {
    "repeat 100,000 x a block": "  - repeat: {n: 200000, layers: [b]}\n" + BLOCK,
    "stage n = 10**7": "  - stage: {block: b, n: 10000000}\n" + BLOCK,
    "nested repeats": "  - repeat: {n: 1000, layers: [repeat: {n: 1000, layers: [relu, relu]}]}\n",
    "repeats that make nothing": "  - repeat: {n: 3000000, layers: [relu: {when: false}]}\n",
}


@pytest.mark.parametrize("case", TOO_BIG)
def test_oversized_expansion_fails_fast(case, cli, spec_file):
    path = spec_file("input: [4, 8, 8]\nlayers:\n" + TOO_BIG[case])
    result, seconds = timed(cli, "analyze", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:3:" in result.stderr
    assert f"limit is {MAX_NODES:,}" in result.stderr
    assert seconds < FAST


def test_efficientnet_phi_100_fails_fast(cli):
    result, seconds = timed(cli, "analyze", "efficientnet_b0", "--set", "phi=100")
    assert result.exit_code == 2 and "limit is 1,000,000" in result.stderr
    assert "efficientnet_b0.yaml:" in result.stderr
    assert seconds < FAST


def rows(cli, path):
    result, seconds = timed(cli, "analyze", path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert seconds < FAST
    return json.loads(result.stdout)["layers"]


def test_huge_adaptive_pool_costs_no_time(cli, spec_file):
    path = spec_file("input: [3, 8, 8]\nlayers:\n  - adaptive_avgpool: {out: 100000000}\n")
    (row,) = rows(cli, path)
    assert row["output_shape"] == [1, 3, 100_000_000, 100_000_000]  # batch first
    assert row["rf_size"] == [1, 1]  # 8 inputs spread over 10**8 bins: each reads one


@pytest.mark.parametrize(("n", "o", "widest"), [(13, 6, 3), (7, 7, 1), (10, 4, 3), (5, 3, 3), (9, 3, 3), (8, 3, 4)])
def test_adaptive_pool_widest_bin(n, o, widest, cli, spec_file):
    """torch's bins [floor(i n / o), ceil((i + 1) n / o)); the widest, in closed form."""
    assert widest == max(-(-(i + 1) * n // o) - (i * n) // o for i in range(o))
    path = spec_file(f"input: [1, {n}, {n}]\nlayers:\n  - adaptive_avgpool: {{out: {o}}}\n")
    assert rows(cli, path)[0]["rf_size"] == [widest, widest]


def test_huge_upsampling_between_convs(cli, spec_file):
    """Three upsampled positions in a row read at most two inputs: the field is 3 + 1."""
    path = spec_file(
        "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3, pad: 1}\n  - upsample: {scale: 100000}\n"
        "  - conv: {out: 4, k: 3, pad: 1}\n"
    )
    assert rows(cli, path)[-1]["rf_size"] == [4, 4]


@pytest.mark.parametrize("scale", [3, 40, 97])
def test_upsampling_field_equals_every_position(scale):
    """The runs found by bisection give the same largest span as trying every position."""
    from netcost.analysis import receptive
    from netcost.api import load_graph

    graph = load_graph(f"conv(4,k=3) > upsample(scale={scale}) > conv(4,k=5,s=3) > conv(4,k=3)", input_shape=(3, 9, 9))
    fields = receptive.receptive_fields(graph)
    for index, node in enumerate(graph.nodes[2:], start=2):
        n = node.shape.h
        every = max(
            receptive._extent(receptive.unit_span(graph, node.name, (p, n // 2), index)[0])
            for p in range(max(0, n // 2 - scale), min(n, n // 2 + scale + 1))
        )
        assert fields[node.name].size[0] == every


def test_huge_expression_value_is_refused_and_printable(cli, spec_file):
    path = spec_file("input: [3, 8, 8]\nlayers:\n  - conv: {out: '10**5000', k: 3}\n")
    result = cli("analyze", path)
    assert result.exit_code == 2
    assert f"{path}:3:17" in result.stderr and "too large" in result.stderr


def test_huge_variable_is_refused(cli, spec_file):
    path = spec_file("input: [3, 8, 8]\nvars: {big: '10**5000'}\nlayers: [relu]\n")
    result = cli("analyze", path)
    assert result.exit_code == 2 and f"{path}:2:13" in result.stderr and "too large" in result.stderr

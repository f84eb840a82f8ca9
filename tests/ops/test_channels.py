"""Channel split and channel shuffle: shapes, free costs, located errors, and (with torch)
the same channels as torch.chunk / torch.split and torchvision's channel_shuffle."""

import pytest

from netcost.api import analyze, load_graph
from netcost.errors import ShapeError, SpecError

SPLIT_SPEC = """
input: [12, 4, 4]
layers:
  - split: {ARGS}
"""


def split(spec_file, args: str):
    return load_graph(spec_file(SPLIT_SPEC.replace("ARGS", args)))


def test_equal_parts_and_given_sizes(spec_file):
    assert str(split(spec_file, "parts: 3, index: 2").nodes[0].shape) == "4x4x4"
    assert str(split(spec_file, "sizes: [2, 10], index: 1").nodes[0].shape) == "10x4x4"
    assert (
        str(split(spec_file, "sizes: '[in_channels // 4, 3 * in_channels // 4]', index: 0").nodes[0].shape) == "3x4x4"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("parts: 5, index: 0", "split into 5 equal parts needs channels divisible by 5, got 12"),
        ("parts: 2, index: 2", "split index 2 is out of range: 2 parts (index 0..1)"),
        ("sizes: [4, 4], index: 0", "split sizes [4, 4] sum to 8, not the input's 12 channels"),
        ("sizes: [6, 6], index: 3", "split index 3 is out of range"),
    ],
)
def test_shape_errors_are_located(spec_file, args, message):
    with pytest.raises(ShapeError) as info:
        split(spec_file, args)
    assert message in info.value.message and info.value.location.line == 3
    assert info.value.message.startswith("split1: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("parts: 2, sizes: [6, 6], index: 0", "one of them"),
        ("index: 0", "one of them"),
        ("parts: 2", "missing `index`"),
        ("parts: 0, index: 0", "must be >= 1"),
        ("sizes: [6, 0, 6], index: 0", "must be >= 1"),
        ("sizes: [], index: 0", "non-empty list"),
        ("parts: 2, index: -1", "must be >= 0"),
    ],
)
def test_bad_arguments_are_located(spec_file, args, message):
    with pytest.raises(SpecError) as info:
        split(spec_file, args)
    assert message in info.value.message and info.value.location.line == 3, info.value


def test_shuffle_groups_must_divide(spec_file):
    path = spec_file("input: [6, 4, 4]\nlayers:\n  - channel_shuffle: {groups: 4}\n")
    with pytest.raises(ShapeError, match="groups=4 must divide the 6 channels") as info:
        load_graph(path)
    assert info.value.location.line == 3


def test_both_are_free_and_split_is_a_view(spec_file):
    path = spec_file(
        """
        input: [8, 4, 4]
        layers:
          - conv: {out: 8, k: 1}
          - parallel:
              merge: concat
              branches:
                - [split: {parts: 2, index: 0}]
                - [split: {parts: 2, index: 1}, conv: {out: 4, k: 1}]
          - channel_shuffle: {groups: 2}
        """
    )
    report = analyze(path)
    rows = {r["name"]: r for r in report.rows}
    for name in ("split1", "split2", "channel_shuffle1"):
        assert rows[name]["macs"] == rows[name]["elementwise_flops"] == rows[name]["params"] == 0
        assert rows[name]["rf_size"] == rows["conv1"]["rf_size"]  # channels only: the field is unchanged
    # the splits allocate nothing: at conv2 the conv1 output (8x4x4) and conv2's (4x4x4) are live
    graph = load_graph(path)
    assert [n.op.is_view for n in graph.nodes if n.op.kind in ("split", "channel_shuffle")] == [True, True, False]


def test_against_torch():
    torch = pytest.importorskip("torch")
    from netcost.api import load_graph as graph_of
    from netcost.counted.compile import build

    x = torch.arange(12.0).reshape(1, 12, 1, 1)
    spec = "split(parts=3, index=1)"
    model = build(graph_of(spec, input_shape=(12, 1, 1)))
    assert model(x).flatten().tolist() == [4.0, 5.0, 6.0, 7.0]  # x.chunk(3, dim=1)[1]
    model = build(graph_of("split(sizes=[5, 7], index=1)", input_shape=(12, 1, 1)))
    assert model(x).flatten().tolist() == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    model = build(graph_of("channel_shuffle(groups=3)", input_shape=(12, 1, 1)))
    # 3 groups of 4 channels, read column-wise: channel j of group g goes to position 3j + g
    assert model(x).flatten().tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]

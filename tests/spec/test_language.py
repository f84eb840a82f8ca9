"""The spec language's constructs, each on a small spec with hand-checked names and shapes."""

import pytest

from netcost.api import analyze, load_graph
from netcost.errors import SpecError


def names(path, **kw):
    return [n.name for n in load_graph(path, **kw).nodes]


def test_stage_names_var_and_nested_loops(spec_file):
    path = spec_file(
        """
        input: [4, 16, 16]
        vars:
          widths: [8, 16]
          depths: "[2, 1]"
        blocks:
          unit:
            args: {out: required, stride: 1}
            layers: [conv: {out: out, k: 3, stride: stride, pad: 1}]
        layers:
          - repeat:
              n: len(widths)
              var: s
              layers:
                - stage: {block: unit, n: "depths[s]", out: "widths[s]", stride: 2,
                          names: "block{s + 1}-{index}", name: "stage{s}"}
        """
    )
    graph = load_graph(path)
    assert [n.name for n in graph.nodes] == ["stage0.block1-0.conv1", "stage0.block1-1.conv1", "stage1.block2-0.conv1"]
    assert [str(n.shape) for n in graph.nodes] == ["8x8x8", "8x8x8", "16x4x4"]  # stride on first blocks only


def test_names_by_kind_index_and_explicit(spec_file):
    path = spec_file(
        """
        input: [3, 8, 8]
        layers:
          - conv: {out: 4, k: 1}
          - relu
          - conv: {name: proj, out: 4, k: 1}
          - relu
          - seq: {name: head, naming: index, layers: [gap, flatten, linear: {out: 2}]}
        """
    )
    assert names(path) == ["conv1", "relu1", "proj", "relu2", "head.0", "head.1", "head.2"]


def test_block_defaults_read_the_incoming_shape(spec_file):
    path = spec_file(
        """
        input: [6, 8, 8]
        blocks:
          expand:
            args: {t: 4, hidden: in_channels * t}
            layers: [conv: {out: hidden, k: 1}, conv: {out: in_channels // t, k: 1}]
        layers: [expand, expand: {t: 2}]
        """
    )
    shapes = [str(n.shape) for n in load_graph(path).nodes]
    assert shapes == ["24x8x8", "6x8x8", "12x8x8", "6x8x8"]


def test_when_else_and_single_branch(spec_file):
    path = spec_file(
        """
        input: [4, 8, 8]
        vars: {skip: true}
        layers:
          - parallel:
              merge: add
              branches:
                - [conv: {out: 4, k: 3, pad: 1}]
                - {when: skip, layers: []}
        """
    )
    assert names(path) == ["conv1", "add1"]
    assert names(path, overrides={"skip": False}) == ["conv1"]
    with pytest.raises(SpecError, match="expected true or false"):
        load_graph(path, overrides={"skip": 3})


def test_concat_crop_for_unet_skips(spec_file):
    path = spec_file(
        """
        input: [8, 64, 64]
        layers:
          - parallel:
              merge: {concat: {crop: true}}
              branches:
                - []
                - [maxpool: {k: 2}, conv: {out: 16, k: 3}, conv_transpose: {out: 8, k: 2, stride: 2}]
        """
    )
    graph = load_graph(path)
    assert str(graph.nodes[-1].shape) == "16x60x60"  # 64 cropped to the up-path's (32 - 2) * 2
    assert graph.nodes[-1].op.crop


def test_input_override_keeps_channels(spec_file):
    path = spec_file("input: [3, 32, 32]\nlayers: [conv: {out: 4, k: 3}]\n")
    assert analyze(path, input_shape=(16, 16)).input == [1, 3, 16, 16]
    assert analyze(path, input_shape=(1, 20, 20)).input == [1, 1, 20, 20]


def test_extends_and_let(spec_file):
    spec_file(
        """
        name: base
        reference: some.module:base
        input: [3, 16, 16]
        vars: {width: 8, depth: 2}
        let: {widths: "[width * 2 ** i for i in range(depth)]"}
        layers:
          - repeat: {n: depth, var: i, layers: [conv: {out: "widths[i]", k: 3, pad: 1}]}
        """,
        name="base.yaml",
    )
    child = spec_file("name: child\nextends: base.yaml\nvars: {depth: 3}\n", name="child.yaml")
    graph = load_graph(child)
    assert [str(n.shape) for n in graph.nodes] == ["8x16x16", "16x16x16", "32x16x16"]
    report = analyze(child)
    assert report.vars == {"width": 8, "depth": 3}  # let values are derived, not reported as settable
    assert report.meta["reference"] is None  # a reference names one model: never inherited
    with pytest.raises(SpecError, match="derived from other variables"):
        load_graph(child, overrides={"widths": [1]})


def test_extends_errors_point_at_the_right_file(spec_file):
    base = spec_file(
        "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3, groups: width}\nvars: {width: 1}\n", name="base.yaml"
    )
    child = spec_file("extends: base.yaml\nvars: {width: 3}\n", name="child.yaml")
    with pytest.raises(SpecError) as info:
        load_graph(child)
    assert info.value.location.file == str(base) and info.value.location.line == 3
    loop = spec_file("extends: loop.yaml\n", name="loop.yaml")
    with pytest.raises(SpecError, match="extends cycle"):
        load_graph(loop)
    with pytest.raises(SpecError, match="extends: unknown model 'resnet81'"):
        load_graph(spec_file("extends: resnet81\n", name="bad.yaml"))


def test_automatic_names_skip_explicit_ones(spec_file):
    path = spec_file("input: [3, 8, 8]\nlayers: [conv: {name: conv2, out: 4, k: 1}, conv: {out: 4, k: 1}, relu]\n")
    assert names(path) == ["conv2", "conv1", "relu1"]
    path = spec_file("input: [3, 8, 8]\nlayers: [conv: {out: 4, k: 1}, conv: {name: conv1, out: 4, k: 1}]\n")
    with pytest.raises(SpecError, match="duplicate layer name 'conv1'"):
        load_graph(path)


def test_an_unnamed_seq_is_no_scope(spec_file):
    """Its layers continue the enclosing numbering, with the seq's own naming (kind unless
    it says index); the README's "duplicate layer name" case, and the fix: name the group."""
    stem = "input: [3, 8, 8]\nlayers:\n  - seq:\n      name: features\n      naming: index\n      layers:\n"
    plain = spec_file(stem + "        - seq: {layers: [conv: {out: 4, k: 1}, relu]}\n        - conv: {out: 4, k: 1}\n")
    assert names(plain) == ["features.conv1", "features.relu1", "features.0"]
    index = stem + "        - seq: {naming: index, NAME layers: [conv: {out: 4, k: 1}, relu]}\n"
    index += "        - conv: {name: '1', out: 4, k: 1}\n"
    with pytest.raises(SpecError, match=r"duplicate layer name 'features\.1'"):
        load_graph(spec_file(index.replace("NAME", "")))
    assert names(spec_file(index.replace("NAME", "name: '0',"))) == ["features.0.0", "features.0.1", "features.1"]


def test_an_unnamed_block_is_a_scope_named_by_its_block(spec_file):
    path = spec_file(
        """
        input: [3, 8, 8]
        blocks:
          unit: {layers: [conv: {out: 4, k: 1}]}
        layers:
          - unit
          - unit
          - seq: {name: features, naming: index, layers: [relu, unit]}
        """
    )
    assert names(path) == ["unit1.conv1", "unit2.conv1", "features.0", "features.1.conv1"]


def test_computed_names_and_repeat_over_a_variable(spec_file):
    path = spec_file(
        """
        input: [3, 8, 8]
        vars: {widths: [4, 8, 16]}
        layers:
          - seq:
              name: features
              layers:
                - repeat:
                    n: len(widths)
                    var: s
                    layers: [conv: {name: "{2 * s + 1}", out: "widths[s]", k: 1}, relu: {name: "{2 * s + 2}"}]
          - repeat: {n: 2, layers: [conv: {name: "head{index}", out: 2, k: 1}]}
        """
    )
    graph = load_graph(path)
    assert [n.name for n in graph.nodes] == [f"features.{i}" for i in range(1, 7)] + ["head0", "head1"]
    assert [n.shape.c for n in graph.nodes[:6:2]] == [4, 8, 16]

"""netcost.spec.export: a Graph written back as a spec expands to the same Graph, and the
spec it writes is short where the network repeats itself.

The references are outside the exporter: the original spec's own expansion and analysis
(the graph the export must reproduce), the golden params of the torchvision/timm models
(tests/golden/reference.json), and hand counts written out below."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import netcost
from netcost.analysis import analyze_graph
from netcost.api import export, load_graph
from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.spec.expand import expand
from netcost.spec.export import export_spec
from netcost.spec.load import load_yaml
from netcost.spec.schema import parse_spec
from tests.reference import golden_key, reference

SPECS = Path(__file__).parents[2] / "specs"
ZOO = sorted(p.stem for p in SPECS.glob("*.yaml"))
# the default run: one of each kind of structure (residual stages, dense concat, Inception
# branches, inverted residuals, channel split, crop-concat skips, tokens with a class token
# and attention, windows, SE gates, LeNet's own ops); the whole zoo in the slow step
DEFAULT = (
    "resnet50",
    "densenet121",
    "inception_v3",
    "mobilenet_v2",
    "shufflenet_v2",
    "unet",
    "vit_b_16",
    "swin_t",
    "se_resnet50",
    "lenet5",
)
FIGURES = ("params", "buffers", "macs", "receptive_field", "activation_bytes", "peak_activation_bytes")


def reexpand(text: str) -> Graph:
    return expand(parse_spec(load_yaml(text, "<exported>"), "<exported>", "exported"))


def assert_same_graph(again: Graph, graph: Graph) -> None:
    assert again.input_shape == graph.input_shape
    assert [n.name for n in again.nodes] == [n.name for n in graph.nodes]
    for ours, theirs in zip(again.nodes, graph.nodes, strict=True):
        assert ours.op.kind == theirs.op.kind, ours.name
        assert dataclasses.asdict(ours.op) == dataclasses.asdict(theirs.op), ours.name
        assert ours.inputs == theirs.inputs and ours.shape == theirs.shape, ours.name
    before, after = analyze_graph(graph), analyze_graph(again)
    for figure in FIGURES:
        assert after.totals[figure] == before.totals[figure], figure
    assert after.rows == before.rows  # every layer's costs, field and memory


def round_trip(name: str) -> str:
    graph = load_graph(name)
    text = export_spec(graph, source=name)
    again = reexpand(text)
    assert_same_graph(again, graph)
    ref = _golden(name)
    if ref is not None and tuple(ref["input"][1:]) == graph.input_shape.dims:
        assert analyze_graph(again).totals["params"] == ref["params"]  # torchvision's / timm's count
    return text


def _golden(name: str) -> dict | None:
    graph = load_graph(name)
    if graph.reference is None:
        return None
    return reference().get(golden_key(graph.reference))


@pytest.mark.parametrize("name", DEFAULT)
def test_round_trip(name):
    round_trip(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n not in DEFAULT])
def test_round_trip_whole_zoo(name):
    round_trip(name)


def test_resnet50_is_written_as_stages():
    """torchvision's resnet50 is 16 bottlenecks in 4 stages. Written once, a bottleneck is
    about 20 lines (8 layers of the main path, the 2-layer downsample branch, the structure
    around them, its arguments); each stage is one line; the stem and head 7; header and
    metadata 6: about 40 lines, where the 175 layers flat would take 175. 60 leaves room
    for formatting, not for a second copy of the block."""
    text = round_trip("resnet50")
    assert len(text.splitlines()) <= 60
    layers = text.split("\nlayers:\n", 1)[1]
    assert layers.count("- stage: {name: layer") == 4
    for stage, n in (("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)):
        assert f"name: {stage}, " in layers and f"n: {n}," in layers.split(f"name: {stage}, ")[1].split("\n")[0]
    blocks = text.split("\nblocks:\n", 1)[1].split("\nlayers:\n")[0]
    assert blocks.count("args:") == 1  # one block: the bottleneck
    assert "when: downsample" in blocks  # the projection only where the shape changes


def test_header_and_key_order():
    text = export("resnet18")
    first, second = text.splitlines()[:2]
    assert first.startswith("# Exported from resnet18 by netcost ")
    assert second.startswith("# 69 layers")  # torchvision resnet18: 20 convs, 20 bns, 17 relus, ...
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == ["name", "description", "reference", "input", "blocks", "layers"]


def test_inline_spec():
    """``conv(64,k=3) > relu`` on the default 3x224x224 input: 64 x 3 x 3 x 3 weights + 64
    biases = 1,792 params; 1,728 x 224 x 224 = 86,704,128 MACs."""
    text = export("conv(64,k=3) > relu")
    again = reexpand(text)
    assert_same_graph(again, load_graph("conv(64,k=3) > relu"))
    totals = analyze_graph(again).totals
    assert (totals["params"], totals["macs"]) == (1_792, 86_704_128)
    assert "  - conv: {out: 64, k: 3, pad: 1}\n  - relu\n" in text


def test_overrides_are_written_as_their_values():
    """resnet18 with 10 classes at 160x160: torchvision's 11,689,512 params less the
    1000-class fc (512 x 1000 + 1000) plus a 10-class one (512 x 10 + 10) = 11,181,642."""
    text = export("resnet18", {"classes": 10}, input_shape=(3, 160, 160))
    assert "vars:" not in text and "classes" not in text.split("\nlayers:\n")[1].replace("--set", "")
    assert "--set classes=10 --input 3x160x160" in text.splitlines()[0]
    again = reexpand(text)
    assert_same_graph(again, load_graph("resnet18", {"classes": 10}, (3, 160, 160)))
    assert again.input_shape.dims == (3, 160, 160)
    assert analyze_graph(again).totals["params"] == 11_181_642


def test_a_layout_other_than_the_default_is_kept():
    graph = load_graph(SPECS / "swin_t.yaml")
    text = export(graph)
    assert_same_graph(reexpand(text), graph)


# -- what the language cannot write is refused, never written wrong -----------------------
def _chain(text: str) -> Graph:
    return load_graph(text, input_shape=(8, 16, 16))


def _rebuilt(graph: Graph, nodes) -> Graph:
    out = Graph(graph.name, graph.input_shape)
    for node in nodes:
        out.add(node)
    return out


def _merge(name: str, kind: str, inputs: tuple[str, ...], graph: Graph):
    from netcost import ops
    from netcost.graph import Node

    op = ops.REGISTRY[kind]()
    shapes = tuple(graph.shape_of(i) for i in inputs)
    return Node(name, op, inputs, shapes, op.shape(shapes))


def test_a_layer_read_outside_its_branch_is_refused():
    """a = conv(x); b = relu(a); c = conv(b); d = a + c; e = b + d: b feeds both the branch
    that ends in d and the merge e, which no nesting of `parallel` writes."""
    g = _chain("conv(8,k=3) > relu > conv(8,k=3)")
    a, b, c = g.nodes
    partial = _rebuilt(g, [a, b, c])
    d = _merge("add1", "add", (a.name, c.name), partial)
    partial.add(d)
    e = _merge("add2", "add", (b.name, d.name), partial)
    partial.add(e)
    with pytest.raises(NetcostError, match=r"'relu1' is read from outside the branch"):
        export_spec(partial)


def test_a_layer_that_leads_nowhere_is_refused():
    g = _chain("conv(8,k=3) > relu > conv(8,k=3)")
    a, b, c = g.nodes
    dead = dataclasses.replace(c, inputs=(a.name,), in_shapes=(a.shape,))
    graph = _rebuilt(g, [a, dead, dataclasses.replace(b, name="relu9")])
    with pytest.raises(NetcostError, match=r"'conv2' does not lead to the output"):
        export_spec(graph)


def test_a_merge_name_the_language_cannot_give_is_refused():
    g = _chain("conv(8,k=3) > relu")
    a, b = g.nodes
    graph = _rebuilt(g, [a, b])
    graph.add(_merge("join", "add", (a.name, b.name), graph))
    with pytest.raises(NetcostError, match=r"a merge named 'join'"):
        export_spec(graph)


def test_branches_run_out_of_order_are_refused():
    """cat(relu(a), conv(a)) with the conv computed first: a spec runs branches in order."""
    g = _chain("conv(8,k=3) > relu > conv(8,k=3)")
    a, b, c = g.nodes
    c = dataclasses.replace(c, inputs=(a.name,), in_shapes=(a.shape,))
    graph = _rebuilt(g, [a, c, b])
    graph.add(_merge("concat1", "concat", (b.name, c.name), graph))
    with pytest.raises(NetcostError, match=r"in an order the spec cannot state"):
        export_spec(graph)


def test_a_name_the_expander_would_rewrite_is_refused():
    """A layer named ``conv{1}`` would be expanded as the template ``conv1``: the check that
    expands the written text catches it instead of writing another graph."""
    g = _chain("conv(8,k=3) > relu")
    a, b = g.nodes
    graph = _rebuilt(g, [dataclasses.replace(a, name="c{1}"), dataclasses.replace(b, inputs=("c{1}",))])
    with pytest.raises(NetcostError, match=r"expands to another graph|does not expand"):
        export_spec(graph)


def test_a_torch_model_is_exported_from_its_captured_graph():
    """refnets:tiny (conv 3 -> 8 3x3 no bias: 216, BN(8): 16, linear 8 -> 5: 45 = 277 params)
    written back as a spec analyses like the model; an LSTM has no graph to write."""
    pytest.importorskip("torch")
    text = export("tests.counted.refnets:tiny", input_shape="3x16x16")
    spec = parse_spec(load_yaml(text), "<export>", "tiny")
    assert netcost.analyze(spec).totals["params"] == 277
    model = netcost.analyze("tests.counted.refnets:tiny", inputs=["3x16x16"])
    assert netcost.analyze(spec).totals == model.totals
    with pytest.raises(NetcostError, match=r"recurrent"):
        export("tests.counted.inputnets:lstm", inputs=["50x128"])


# -- what a block's arguments and a stage's expressions carry ------------------------------
VARIED = """
name: varied
input: [8, 16, 16]
blocks:
  unit:
    args: {out: 8, stride: 1, mode: "'nearest'", proj: false}
    layers:
      - parallel:
          merge: add
          branches:
            - - conv: {name: conv, out: out, k: 3, stride: stride, pad: 1}
              - upsample: {name: up, scale: stride, mode: mode}
            - name: proj
              when: proj
              else: []
              layers: [conv: {out: out, k: 1}]
      - relu
layers:
  - stage: {name: s, block: unit, n: 4, out: "[8, 16, 16, 16][index]", proj: "index < 2", stride: 2,
            mode: "'bilinear' if index == 0 else 'nearest'"}
  - seq: {name: a, layers: [conv: {out: 16, k: 3, pad: same}, relu]}
  - seq: {name: b, layers: [conv: {out: 16, k: 3, pad: 1}, relu]}
"""


def test_arguments_optional_branches_and_stage_expressions(spec_file):
    """Per block: a stride on the first only, a choice ('bilinear'), a projection branch on
    two of four, widths that change at index 1; `pad: same` and `pad: 1` cannot be one
    argument (a word is not an expression), so `a` and `b` are written apart."""
    graph = load_graph(spec_file(VARIED))
    text = export_spec(graph)
    assert_same_graph(reexpand(text), graph)
    layers = text.split("\nlayers:\n")[1]
    assert layers.count("- stage:") == 1 and "n: 4" in layers
    assert "when: proj" in text and "else: []" in text
    assert "'bilinear'" in layers and "pad: same" in layers
    # hand count: conv 8->8 (3x3: 576 + 8), 8->16 twice more (1,152 + 16; 16->16: 2,304 + 16
    # twice), the 1x1 projections of blocks 0 and 1 (64 + 8, 128 + 16), a and b (2,304 + 16 each)
    params = (576 + 8) + (1152 + 16) + 2 * (2304 + 16) + (64 + 8) + (128 + 16) + 2 * (2304 + 16)
    assert analyze_graph(reexpand(text)).totals["params"] == params


def test_a_long_stage_is_one_line(spec_file):
    """300 equal residual blocks: one block and one stage, whatever n is."""
    path = spec_file(
        """
        name: deep
        input: [8, 8, 8]
        blocks:
          b:
            layers:
              - parallel: {merge: add, branches: [[conv: {out: 8, k: 3, pad: 1}, relu], []]}
        layers:
          - stage: {name: body, block: b, n: 300}
        """
    )
    graph = load_graph(path)
    text = export_spec(graph)
    assert "- stage: {name: body, block: " in text and "n: 300}" in text
    assert len(text.splitlines()) < 20
    assert_same_graph(reexpand(text), graph)


def test_a_field_named_like_a_reserved_word_gets_another_argument_name(spec_file):
    """`split`'s `index` differs between two equal scopes: its argument cannot be called
    `index` (the stage's variable), so it is renamed; 16 -> 8 -> 4 channels, as written."""
    path = spec_file(
        """
        name: halves
        input: [16, 4, 4]
        layers:
          - seq: {name: a, layers: [split: {parts: 2, index: 0}, relu]}
          - seq: {name: b, layers: [split: {parts: 2, index: 1}, relu]}
        """
    )
    graph = load_graph(path)
    text = export_spec(graph)
    blocks = text.split("\nblocks:\n")[1].split("\nlayers:\n")[0]
    assert "index: index2" in blocks and "args: {index2: 0}" in blocks
    again = reexpand(text)
    assert_same_graph(again, graph)
    assert again.nodes[-1].shape.dims == (4, 4, 4)

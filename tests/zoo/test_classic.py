"""Classic chains: AlexNet and VGG-11/13/16/19 (torchvision), the VGG paper's configurations
A-LRN and C, and LeNet-5 (LeCun et al. 1998) with its own ops (netcost/ops/lenet.py).

Each torchvision spec's default matches its golden row in tests/test_models_golden.py; here:
variants (batch_norm, config), torchvision's module names and per-module params, the VGG
paper's Table 2 and hand-computed counts, every figure of the seeds' AlexNet/VGG tables
(tests/golden/seed_tables.json: netcost's number equals ``exact`` and
``reproduces(entry, value)`` equals ``consistent``, as in tests/test_seed_tables.py), and the
LeNet-5 paper's per-layer figures.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest

from netcost.api import analyze, load_graph
from netcost.core.shape import Shape
from netcost.errors import ShapeError, SpecError
from netcost.ops.lenet import RBF, SparseConv, Subsample, parse_table
from netcost.spec.load import load_file, load_yaml
from netcost.spec.schema import parse_spec
from netcost.zoo import bundled
from tests.reference import assert_matches, reference
from tests.seeds import entries, reproduces, table

TORCHVISION_VGG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}
VGG_SPECS = [*TORCHVISION_VGG, "vgg_a_lrn", "vgg_c"]
WEIGHT_OPS = ("conv", "linear", "sparse_conv")


def rows_of(name: str, overrides: dict | None = None, **kwargs) -> dict[str, dict]:
    return {r["name"]: r for r in analyze(name, overrides, **kwargs).rows}


def weight_layers(name: str, overrides: dict | None = None) -> int:
    return sum(1 for r in analyze(name, overrides).rows if r["op"] in WEIGHT_OPS)


def sig_figures(value: float, digits: int, rounding) -> Decimal:
    """``value`` kept to ``digits`` significant figures (650k from 659,272 truncated)."""
    d = Decimal(value)
    exponent = d.adjusted() - digits + 1
    return (d.scaleb(-exponent).quantize(Decimal(1), rounding=rounding)).scaleb(exponent)


def sig_reproduces(entry: dict, value: float, digits: int = 2) -> bool:
    return any(sig_figures(value, digits, r) == entry["printed_value"] for r in (ROUND_HALF_UP, ROUND_DOWN))


def load_graph_text(text: str):
    """A graph from spec text (small test networks)."""
    return load_graph(parse_spec(load_yaml(text), "<test>", "test"))


# -- AlexNet (torchvision) ----------------------------------------------------------------------


def test_alexnet_module_params_and_names():
    rows = rows_of("alexnet")
    ref = reference()["alexnet"]
    for module, params in ref["module_params"].items():
        assert sum(r["params"] for n, r in rows.items() if n == module or n.startswith(module + ".")) == params
    # torchvision's AlexNet: features.0/3/6/8/10 convs, pools at 2/5/12, classifier.1/4/6 linear
    convs = [n for n, r in rows.items() if r["op"] == "conv"]
    assert convs == ["features.0", "features.3", "features.6", "features.8", "features.10"]
    assert [n for n, r in rows.items() if r["op"] == "maxpool"] == ["features.2", "features.5", "features.12"]
    assert [n for n, r in rows.items() if r["op"] == "linear"] == ["classifier.1", "classifier.4", "classifier.6"]
    assert [n for n, r in rows.items() if r["op"] == "dropout"] == ["classifier.0", "classifier.3"]
    assert [rows[c]["output_shape"][1] for c in convs] == [64, 192, 384, 256, 256]
    assert rows["avgpool"]["output_shape"] == [1, 256, 6, 6]


def test_alexnet_classes_variant():
    rows = rows_of("alexnet", {"classes": 10})
    assert rows["classifier.6"]["params"] == 4096 * 10 + 10
    assert analyze("alexnet", {"classes": 10}).totals["params"] == 61_100_840 - 4_097_000 + 40_970


# -- VGG (torchvision): one body, the config and batch_norm as variables ------------------------

VARIANTS = [
    ("vgg11", {"batch_norm": True}, "vgg11_bn"),
    ("vgg16", {"batch_norm": True}, "vgg16_bn"),
    # any VGG file is any column of the paper's Table 1
    ("vgg16", {"config": "E"}, "vgg19"),
    ("vgg19", {"config": "B"}, "vgg13"),
    ("vgg_c", {"config": "A", "batch_norm": True}, "vgg11_bn"),
    ("vgg_a_lrn", {"config": "D", "batch_norm": True}, "vgg16_bn"),
]


@pytest.mark.parametrize(("name", "overrides", "key"), VARIANTS, ids=[f"{v[0]}->{v[2]}" for v in VARIANTS])
def test_vgg_variants_match_torchvision(name, overrides, key):
    assert_matches(name, overrides, key)


def test_vgg_specs_extend_one_body():
    """vgg16.yaml holds the network; the five others `extend` it and set only `config`."""
    configs = {}
    for name in VGG_SPECS:
        data = load_file(bundled()[name])
        if name != "vgg16":
            assert data["extends"] == "vgg16"
            assert set(data) <= {"name", "description", "reference", "extends", "vars"}
            assert set(data["vars"]) == {"config"}
        configs[name] = data["vars"]["config"]
    assert configs == {n: f"'{c}'" for n, c in {**TORCHVISION_VGG, "vgg_a_lrn": "A-LRN", "vgg_c": "C"}.items()}


# torchvision's module indices (printed from torchvision 0.29's models)
TV_CONVS = {
    "vgg11": [0, 3, 6, 8, 11, 13, 16, 18],
    "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
    "vgg11_bn": [0, 4, 8, 11, 15, 18, 22, 25],
    "vgg16_bn": [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40],
}
TV_POOLS = {
    "vgg11": [2, 5, 10, 15, 20],
    "vgg16": [4, 9, 16, 23, 30],
    "vgg11_bn": [3, 7, 14, 21, 28],
    "vgg16_bn": [6, 13, 23, 33, 43],
}


@pytest.mark.parametrize("key", TV_CONVS)
def test_vgg_names_are_torchvisions(key):
    name, overrides = key.removesuffix("_bn"), {"batch_norm": key.endswith("_bn")}
    rows = rows_of(name, overrides)
    assert [n for n, r in rows.items() if r["op"] == "conv"] == [f"features.{i}" for i in TV_CONVS[key]]
    assert [n for n, r in rows.items() if r["op"] == "maxpool"] == [f"features.{i}" for i in TV_POOLS[key]]
    if key.endswith("_bn"):
        assert [n for n, r in rows.items() if r["op"] == "bn"] == [f"features.{i + 1}" for i in TV_CONVS[key]]
    assert [n for n, r in rows.items() if r["op"] == "linear"] == ["classifier.0", "classifier.3", "classifier.6"]
    assert [n for n, r in rows.items() if r["op"] == "dropout"] == ["classifier.2", "classifier.5"]
    assert rows["avgpool"]["op"] == "adaptive_avgpool"


@pytest.mark.parametrize("key", ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg16_bn"])
def test_vgg_module_params(key):
    name, overrides = key.removesuffix("_bn"), {"batch_norm": key.endswith("_bn")}
    rows = analyze(name, overrides).rows
    for module, params in reference()[key]["module_params"].items():
        assert sum(r["params"] for r in rows if r["name"].split(".")[0] == module) == params, module


def test_vgg_unknown_config_is_a_spec_error():
    with pytest.raises(SpecError, match="kernels"):
        analyze("vgg16", {"config": "F"})


# -- the VGG paper's A-LRN and C (no reference implementation) -----------------------------------


def conv(cin: int, cout: int, k: int, hw: int) -> tuple[int, int]:
    """(params with bias, MACs) of a stride-1 'same' conv on an hw x hw map."""
    return cout * (cin * k * k + 1), cout * cin * k * k * hw * hw


def by_hand(stages: list[list[tuple[int, int, int]]]) -> tuple[int, int]:
    """Params and MACs of a VGG: stages of (cin, cout, k) convs at 224, 112, 56, 28, 14, then the
    three FC layers on 512x7x7."""
    params = macs = 0
    for s, convs in enumerate(stages):
        for cin, cout, k in convs:
            p, m = conv(cin, cout, k, 224 >> s)
            params, macs = params + p, macs + m
    for n_in, n_out in [(512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)]:
        params, macs = params + n_out * (n_in + 1), macs + n_in * n_out
    return params, macs


def test_vgg_c_by_hand():
    """C: D with the third conv of stages 3, 4 and 5 a 1x1 conv (conv1-256, conv1-512)."""
    stages = [
        [(3, 64, 3), (64, 64, 3)],
        [(64, 128, 3), (128, 128, 3)],
        [(128, 256, 3), (256, 256, 3), (256, 256, 1)],
        [(256, 512, 3), (512, 512, 3), (512, 512, 1)],
        [(512, 512, 3), (512, 512, 3), (512, 512, 1)],
    ]
    params, macs = by_hand(stages)
    assert (params, macs) == (133_638_952, 11_770_888_192)
    totals = analyze("vgg_c").totals
    assert (totals["params"], totals["macs"]) == (params, macs)
    rows = rows_of("vgg_c")
    ones = [n for n, r in rows.items() if r["op"] == "conv" and r["args"] == "1x1"]
    assert ones == ["features.14", "features.21", "features.28"]  # no padding, sizes kept
    assert [rows[n]["output_shape"][2] for n in ones] == [56, 28, 14]


def test_vgg_a_lrn_by_hand():
    """A-LRN: A (= torchvision's vgg11) with an LRN after the first layer: no weights, no MACs,
    (n + 3) elementwise operations per element of the 64x224x224 map."""
    stages = [
        [(3, 64, 3)],
        [(64, 128, 3)],
        [(128, 256, 3), (256, 256, 3)],
        [(256, 512, 3), (512, 512, 3)],
        [(512, 512, 3), (512, 512, 3)],
    ]
    params, macs = by_hand(stages)
    assert (params, macs) == (reference()["vgg11"]["params"], reference()["vgg11"]["conv_linear_macs"])
    lrn, plain = analyze("vgg_a_lrn"), analyze("vgg11")
    assert (lrn.totals["params"], lrn.totals["macs"]) == (params, macs)
    rows = {r["name"]: r for r in lrn.rows}
    assert rows["features.2"]["op"] == "lrn" and rows["features.2"]["output_shape"] == [1, 64, 224, 224]
    assert rows["features.2"]["elementwise_flops"] == (5 + 3) * 64 * 224 * 224
    assert lrn.totals["elementwise_flops"] - plain.totals["elementwise_flops"] == (5 + 3) * 64 * 224 * 224
    assert [r["op"] for r in lrn.rows].count("lrn") == 1


# VGG paper (Simonyan & Zisserman 2015), Table 2: "Number of parameters (in millions)",
# rounded to the nearest million (E's 143.67 prints 144, so not truncated)
PAPER_TABLE_2 = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}


@pytest.mark.parametrize("config", PAPER_TABLE_2)
def test_vgg_paper_table_2(config):
    params = analyze("vgg16", {"config": config}).totals["params"]
    assert Decimal(params).scaleb(-6).quantize(Decimal(1), rounding=ROUND_HALF_UP) == PAPER_TABLE_2[config]


# -- the seeds' VGG tables -----------------------------------------------------------------------

VGG16_TABLE = "004 VGG-16 per-layer (params and FLOPs)"
# the slide's rows -> vgg16's nodes (torchvision's names); a "ConvA-B" row is the sum of its convs
VGG16_ROWS = {
    "Conv1": ["features.0"],
    "Conv2": ["features.2"],
    "Pool1": ["features.4"],
    "Conv3": ["features.5"],
    "Conv4": ["features.7"],
    "Pool2": ["features.9"],
    "Conv5": ["features.10"],
    "Conv6": ["features.12"],
    "Conv7": ["features.14"],
    "Conv6-7": ["features.12", "features.14"],
    "Pool3": ["features.16"],
    "Conv8": ["features.17"],
    "Conv9": ["features.19"],
    "Conv10": ["features.21"],
    "Conv9-10": ["features.19", "features.21"],
    "Pool4": ["features.23"],
    "Conv11": ["features.24"],
    "Conv12": ["features.26"],
    "Conv13": ["features.28"],
    "Conv11-13": ["features.24", "features.26", "features.28"],
    "Pool5": ["features.30"],
    "Flatten": ["flatten1"],
    "Fc14": ["classifier.0"],
    "Fc15": ["classifier.3"],
    "fc16": ["classifier.6"],
}


@pytest.fixture(scope="module")
def vgg16():
    report = analyze("vgg16")
    return {r["name"]: r for r in report.rows}, report.totals


def vgg16_value(entry, rows, totals):
    quantity = entry["quantity"]
    if entry["row"] == "Totals":
        return totals[quantity]
    nodes = [rows[n] for n in VGG16_ROWS[entry["row"]]]
    if quantity in ("params", "flops"):
        return sum(r[quantity] for r in nodes)
    (row,) = nodes
    if quantity == "activation_hw":
        shape = row["output_shape"]
        return shape[2:] if len(shape) == 4 else [1, 1]
    if quantity == "channels":  # Fc14's input: pool5's channels
        return rows["features.30"]["output_shape"][1]
    raise AssertionError(quantity)


@pytest.mark.parametrize("entry", table(VGG16_TABLE), ids=lambda e: e["id"])
def test_vgg16_slide_table(entry, vgg16):
    value = vgg16_value(entry, *vgg16)
    assert value == entry["exact"]
    if entry["quantity"] == "activation_hw":
        assert f"{value[0]}x{value[1]}" == entry["printed"]
        row = vgg16[0][VGG16_ROWS[entry["row"]][0]]
        assert math.prod(row["output_shape"][1:]) == entry["elements"]
    elif entry["quantity"] == "channels":  # the printed formula "7 x 7 x 2508": a typo for 512
        assert entry["consistent"] is False and "2508" in entry["printed"] and str(value) not in entry["printed"]
    else:
        assert reproduces(entry, value) == entry["consistent"], entry["printed"]


def test_vgg16_slide_discrepancies_are_the_documented_ones(vgg16):
    rows, totals = vgg16
    wrong = sorted(e["id"] for e in table(VGG16_TABLE) if not e["consistent"])
    assert wrong == [
        "004.vgg16.conv11-13.flops",
        "004.vgg16.conv6-7.params",
        "004.vgg16.fc14.formula_cin",
        "004.vgg16.total.flops",
    ]
    e = entries()
    # "GFlops = 39": netcost gives 30.94 G; 39 is the sum of the printed rows, whose Conv11-13
    # (11.1 G) is the three 512 -> 512 convs counted at 28x28 instead of 14x14
    assert totals["flops"] == 30_940_528_640 and not reproduces(e["004.vgg16.total.flops"], totals["flops"])
    at_28 = analyze("vgg16", input_shape=(3, 448, 448)).rows  # the same convs on a 28x28 map
    conv11_13_at_28 = sum(r["flops"] for r in at_28 if r["name"] in VGG16_ROWS["Conv11-13"])
    assert conv11_13_at_28 == e["004.vgg16.conv11-13.flops"]["exact_alt"]["at_28x28"]
    assert reproduces(e["004.vgg16.conv11-13.flops"], conv11_13_at_28)  # 11.1 G
    wrong_total = totals["flops"] - sum(rows[n]["flops"] for n in VGG16_ROWS["Conv11-13"]) + conv11_13_at_28
    assert wrong_total == e["004.vgg16.total.flops"]["exact_alt"]["sum_of_rows_with_conv11_13_error"]
    assert reproduces(e["004.vgg16.total.flops"], wrong_total)  # 39
    # ... which is also VGG-19's exact total
    assert analyze("vgg19").totals["flops"] == e["004.vgg16.total.flops"]["exact_alt"]["vgg19"] == wrong_total
    # Conv6-7 "1.19M": Conv8 has the same 1,180,160 params and prints 1.18M
    assert sum(rows[n]["params"] for n in VGG16_ROWS["Conv6-7"]) == rows["features.17"]["params"] == 1_180_160


def test_vgg_stage_5x5_against_two_3x3():
    """004: one CxCx5x5 conv vs two stacked CxCx3x3 convs (same 5x5 field), by the table's
    coefficients and its C=64, 56x56 instantiations."""
    e = entries()
    for c, hw in [(64, 56), (128, 28), (512, 14)]:
        five = analyze(load_graph_text(f"input: [{c}, {hw}, {hw}]\nlayers: [conv: {{out: {c}, k: 5, pad: 2}}]")).totals
        conv3 = f"conv: {{out: {c}, k: 3, pad: 1}}"
        three = analyze(load_graph_text(f"input: [{c}, {hw}, {hw}]\nlayers: [{conv3}, {conv3}]"))
        for prefix, totals, outputs in [("5x5", five, c * hw * hw), ("2x3x3", three.totals, 2 * c * hw * hw)]:
            params = e[f"004.vgg_stage.{prefix}.params"]
            assert totals["params"] == params["exact"]["C^2"] * c * c + params["exact"]["C"] * c
            flops = e[f"004.vgg_stage.{prefix}.flops"]
            assert totals["flops"] == flops["exact"]["C^2*W*H"] * c * c * hw * hw
            assert outputs == e[f"004.vgg_stage.{prefix}.activations"]["exact"]["C*W*H"] * c * hw * hw
            if c == 64:
                assert totals["params"] == params["instantiation"]["value"]
                assert totals["flops"] == flops["instantiation"]["value"]
        assert [r["rf_size"] for r in three.rows] == [[3, 3], [5, 5]]  # same field as the 5x5
    assert all(x["consistent"] for x in table("004 VGG stage: one 5x5 conv vs two stacked 3x3 convs"))


def test_vgg_slides_003():
    e = entries()
    # "two 3x3 layers - 5x5 receptive field", "three 3x3 layers - 7x7"
    three = analyze(load_graph_text("input: [8, 32, 32]\nlayers: [repeat: {n: 3, layers: [conv: {out: 8, k: 3}]}]"))
    fields = [r["rf_size"][0] for r in three.rows]
    assert fields[1] == e["003.vgg.receptive_field_2x3x3"]["exact"]
    assert fields[2] == e["003.vgg.receptive_field_3x3x3"]["exact"]
    assert reproduces(e["003.vgg.receptive_field_2x3x3"], fields[1])
    assert reproduces(e["003.vgg.receptive_field_3x3x3"], fields[2])
    # "~140M per net": VGG-16 138.4M and VGG-19 143.7M, both 140M at 2 significant figures
    entry = e["003.vgg.params_per_net"]
    vgg16, vgg19 = analyze("vgg16").totals["params"], analyze("vgg19").totals["params"]
    assert (vgg16, vgg19) == (entry["exact"], entry["exact_alt"]["vgg19"])
    assert sig_reproduces(entry, vgg16) and sig_reproduces(entry, vgg19)
    # "from 11 to 19 layers": configurations A and E
    for line in (158, 182, 211):
        assert weight_layers("vgg11") == e[f"003.vgg.depth_range_{line}.min"]["exact"] == 11
        assert weight_layers("vgg19") == e[f"003.vgg.depth_range_{line}.max"]["exact"] == 19


def channel_ratios(name: str) -> list[int]:
    """Conv width after each of the first four pools over the width before it."""
    rows = analyze(name).rows
    widths, ratios = None, []
    for r in rows:
        if r["op"] == "conv":
            if widths is not None:
                ratios.append(r["output_shape"][1] // widths)
                widths = None
            last = r["output_shape"][1]
        elif r["op"] == "maxpool":
            widths = last
    return ratios


@pytest.mark.parametrize(
    "entry_id",
    ["003.vgg.channel_doubling", "004.vgg.design.channel_doubling_347", "004.vgg.design.channel_doubling_379"],
)
def test_vgg_channel_doubling_claim(entry_id):
    """ "double the feature maps after every pool": x2, x2, x2, then x1 (512 -> 512)."""
    entry = entries()[entry_id]
    for name in ("vgg16", "vgg19"):
        ratios = channel_ratios(name)
        assert ratios == entry["exact"] == [2, 2, 2, 1]
        assert entry["consistent"] is False and not all(r == entry["printed_value"] for r in ratios)


@pytest.mark.parametrize("entry", table("003 VGG ConvNet configuration table (weight layers)"), ids=lambda e: e["id"])
def test_vgg_configuration_table(entry):
    config = entry["row"].removeprefix("config ")
    layers = weight_layers("vgg16", {"config": config})
    assert layers == entry["exact"]
    assert reproduces(entry, layers) == entry["consistent"]


# -- the seeds' AlexNet tables -------------------------------------------------------------------


def alexnet_weight_layers() -> int:
    return weight_layers("alexnet_slide")


def test_alexnet_design_parameters_003():
    e = entries()
    for line in (70, 87):
        entry = e[f"003.alexnet.design.layers_{line}"]
        assert alexnet_weight_layers() == weight_layers("alexnet") == entry["exact"]
        assert reproduces(entry, entry["exact"])
    # "650k neurons": the outputs of the 5 convs and 3 FC layers (55x55 conv1 of the 004 table)
    rows = analyze("alexnet_slide").rows
    neurons = sum(math.prod(r["output_shape"][1:]) for r in rows if r["op"] in WEIGHT_OPS)
    entry = e["003.alexnet.design.neurons"]
    assert neurons == entry["exact"] and sig_reproduces(entry, neurons) == entry["consistent"]
    # "60M parameters": the two-GPU network (grouped conv2/4/5), truncated
    entry = e["003.alexnet.design.params"]
    grouped = analyze("alexnet_slide", {"groups": 2}).totals
    assert grouped["params"] == entry["exact"] and reproduces(entry, grouped["params"]) == entry["consistent"]
    assert analyze("alexnet_slide").totals["params"] == entry["exact_alt"]["ungrouped"]
    assert analyze("alexnet").totals["params"] == entry["exact_alt"]["torchvision_alexnet"]
    # "630M connections": reproduced by no count (grouped MACs 724.4M)
    entry = e["003.alexnet.design.connections"]
    assert grouped["macs"] == entry["exact"] == entry["exact_alt"]["grouped_all_MACs"]
    assert entry["consistent"] is False and not reproduces(entry, grouped["macs"])
    grouped_rows = analyze("alexnet_slide", {"groups": 2}).rows
    conv_macs = sum(r["macs"] for r in grouped_rows if r["op"] == "conv")
    assert conv_macs == entry["exact_alt"]["grouped_convs_only_MACs"]
    assert analyze("alexnet_slide").totals["macs"] == entry["exact_alt"]["ungrouped_all_MACs"]
    assert not any(reproduces(entry, v) for v in (conv_macs, analyze("alexnet_slide").totals["macs"]))


def test_alexnet_text_004():
    e = entries()
    entry = e["004.alexnet.text.params"]  # "About 60M parameters"
    grouped = analyze("alexnet_slide", {"groups": 2}).totals["params"]
    assert grouped == entry["exact"] and reproduces(entry, grouped) == entry["consistent"]
    assert analyze("alexnet_slide").totals["params"] == entry["exact_alt"]["ungrouped"]
    entry = e["004.alexnet.text.layers"]  # "8 layers with weights (5 Conv + 3 FC)"
    ops = [r["op"] for r in analyze("alexnet_slide").rows]
    assert (ops.count("conv"), ops.count("linear")) == (5, 3)
    assert alexnet_weight_layers() == entry["exact"] and reproduces(entry, entry["exact"])


def test_alexnet_activation_sizes_second_table():
    """The seeds print the AlexNet layer table twice; the second copy, as the first
    (tests/test_seed_tables.py), against alexnet_slide."""
    rows = rows_of("alexnet_slide")
    for entry in table("004 AlexNet (2) layer table (activation size)"):
        row = rows[entry["row"].lower() if entry["row"] != "flatten" else "flatten1"]
        shape = row["output_shape"]
        hw = shape[2:] if len(shape) == 4 else [1, 1]
        assert hw == entry["exact"] and f"{hw[0]}x{hw[1]}" == entry["printed"]
        assert math.prod(shape[1:]) == entry["elements"]


@pytest.mark.parametrize(
    ("entry_id", "name"),
    [
        ("003.depth_fig.413.alexnet.layers", "alexnet_slide"),
        ("003.depth_fig.418.vgg-19.layers", "vgg19"),
        ("003.depth_fig.434.vgg-19.layers", "vgg19"),
    ],
)
def test_depth_figure_classic_rows(entry_id, name):
    entry = entries()[entry_id]
    assert weight_layers(name) == entry["exact"] and reproduces(entry, entry["exact"])


# -- LeNet-5 -------------------------------------------------------------------------------------

# LeCun et al. 1998, section II-B: trainable parameters and connections of each layer
LENET_PAPER = {
    #        params  connections  output
    "C1": (156, 122_304, [6, 28, 28]),
    "S2": (12, 5_880, [6, 14, 14]),
    "C3": (1_516, 151_600, [16, 10, 10]),
    "S4": (32, 2_000, [16, 5, 5]),
    "C5": (48_120, 48_120, [120, 1, 1]),
    "F6": (10_164, 10_164, [84]),
}
# Table 1: which S2 maps (rows) each C3 map (columns 0-15) reads
LENET_TABLE_1 = [
    "X   XXX  XXXX XX",
    "XX   XXX  XXXX X",
    "XXX   XXX  X XXX",
    " XXX  XXXX  X XX",
    "  XXX  XXXX XX X",
    "   XXX  XXXX XXX",
]


def test_lenet5_paper_figures():
    report = analyze("lenet5")
    rows = {r["name"]: r for r in report.rows}
    for name, (params, _, shape) in LENET_PAPER.items():
        assert rows[name]["params"] == params, name
        assert rows[name]["output_shape"][1:] == shape, name
    assert report.totals["params"] == 60_000  # "only 60,000 trainable free parameters"
    assert sum(p for p, _, _ in LENET_PAPER.values()) == 60_000
    assert rows["OUTPUT"]["params"] == 0 and rows["OUTPUT"]["buffers"] == 10 * 84  # fixed RBF centres
    assert report.totals["buffers"] == 840
    assert report.rows[-1]["output_shape"] == [1, 10]
    assert [r["op"] for r in report.rows].count("tanh") == 6  # a squashing after C1 ... F6


def test_lenet5_connections():
    """The paper's connections: every input of a unit plus its bias. netcost: MACs plus the
    bias adds (conv, linear), the 4 window inputs + bias of a subsampling unit, and the
    84 x 10 (x - c)^2 terms of the RBF units; "340,908 connections" in all."""
    rows = rows_of("lenet5")
    for name, (_, connections, _) in LENET_PAPER.items():
        assert rows[name]["macs"] + rows[name]["elementwise_flops"] == connections, name
    total = sum(rows[n]["macs"] + rows[n]["elementwise_flops"] for n in LENET_PAPER) + rows["OUTPUT"]["macs"]
    assert total == 340_908
    assert analyze("lenet5").totals["macs"] == 117_600 + 150_000 + 48_000 + 10_080 + 840


def test_lenet5_c3_table_is_the_papers():
    graph = load_graph("lenet5")
    (c3,) = [n.op for n in graph.nodes if n.name == "C3"]
    paper = [tuple(i for i in range(6) if LENET_TABLE_1[i][o] == "X") for o in range(16)]
    assert [tuple(sorted(m)) for m in c3.maps] == paper
    assert [len(m) for m in c3.maps] == [3] * 6 + [4] * 9 + [6]
    assert c3.links == 60 and c3.links * 25 + 16 == 1_516


# -- the LeNet ops -------------------------------------------------------------------------------


def test_parse_table_forms():
    assert parse_table("0 1 2 | 1,2,3|0, 5") == ((0, 1, 2), (1, 2, 3), (0, 5))
    assert parse_table("[[0, 1, 2], [3]]") == ((0, 1, 2), (3,))
    for bad, message in [
        ("0 1 | ", "reads no input"),
        ("0 0 1", "twice"),
        ("0 -1", "input indices"),
        ("0 a", "input indices"),
        ("[[0, 1.5]]", "input indices"),
        ("[0, 1]", "list of lists"),
        ("[[0, 1]", "list of lists"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_table(bad)


def test_sparse_conv_cost():
    op = SparseConv(out=3, k=(3, 3), table="0 1 | 2 | 0 1 2", pad=(1, 1, 1, 1))
    x = Shape.of(3, 8, 8)
    out = op.shape((x,))
    cost = op.cost((x,), out)
    assert out == Shape.of(3, 8, 8)
    assert (cost.params, cost.macs, cost.elementwise, cost.bias) == (6 * 9 + 3, 6 * 9 * 64, 3 * 64, 3)
    assert op.describe() == "3x3 6 links p1"
    assert op.formula((x,), out).params == "6 links x 3 x 3 (+3) = 57"
    with pytest.raises(ShapeError, match="input map 2"):
        op.shape((Shape.of(2, 8, 8),))
    with pytest.raises(ValueError, match="expected out=4"):
        SparseConv(out=4, k=(3, 3), table="0 | 1")


def test_sparse_conv_table_in_a_spec(spec_file):
    """The table as a `|` string or as a YAML list of lists; errors point at the layer."""
    text = """
        input: [4, 9, 9]
        layers:
          - sparse_conv: {{name: a, out: 2, k: 3, table: {table}}}
        """
    for table_text in ['"0 1 | 2 3"', "[[0, 1], [2, 3]]"]:
        rows = {r["name"]: r for r in analyze(spec_file(text.format(table=table_text))).rows}
        assert rows["a"]["params"] == 4 * 9 + 2 and rows["a"]["output_shape"] == [1, 2, 7, 7]
    with pytest.raises(SpecError, match="expected out=2") as err:
        analyze(spec_file(text.format(table='"0 1"')))
    assert err.value.location.line == 3
    with pytest.raises(ShapeError, match="reads input map 4") as err:
        analyze(spec_file(text.format(table='"0 1 | 4"')))
    assert err.value.location.line == 3


def test_subsample_and_rbf_costs():
    s = Subsample()
    x = Shape.of(6, 28, 28)
    out = s.shape((x,))
    cost = s.cost((x,), out)
    assert out == Shape.of(6, 14, 14)
    assert (cost.params, cost.macs, cost.elementwise) == (12, 0, 5 * 6 * 14 * 14)
    with pytest.raises(ValueError, match="dilation"):
        Subsample(dilation=(2, 2))
    r = RBF(out=10)
    cost = r.cost((Shape.of(84),), Shape.of(10))
    assert (cost.params, cost.buffers, cost.macs, cost.elementwise) == (0, 840, 840, 840)
    with pytest.raises(ShapeError, match="flat input"):
        r.shape((Shape.of(6, 2, 7),))
    rows = rows_of("lenet5")
    assert rows["S2"]["rf_size"] == [6, 6] and rows["S2"]["rf_jump"] == [2, 2]
    assert rows["OUTPUT"]["rf_global"]


# -- torch builders of the LeNet ops (skipped without torch) -------------------------------------


def built(op, x: Shape):
    torch = pytest.importorskip("torch")
    out = op.shape((x,))
    cost = op.cost((x,), out)
    module = op.build((x,), out)
    assert sum(p.numel() for p in module.parameters()) == cost.params
    assert sum(b.numel() for b in module.buffers()) == cost.buffers
    y = module(torch.randn(2, *x.dims))
    assert tuple(y.shape[1:]) == out.dims
    return torch, module


@pytest.mark.parametrize(
    ("op", "x"),
    [
        (SparseConv(out=3, k=(5, 5), table="0 1 2 | 3 4 5 | 0 1 2 3 4 5"), Shape.of(6, 14, 14)),
        (SparseConv(out=2, k=(3, 3), stride=(2, 2), pad="same", table="0 | 1 2", bias=False), Shape.of(3, 10, 10)),
        (Subsample(), Shape.of(6, 28, 28)),
        (Subsample(k=(3, 3), stride=(2, 2), pad=(1, 1, 1, 1), ceil_mode=True), Shape.of(3, 10, 10)),
        (Subsample(k=(3, 3), stride=(2, 2), pad="same"), Shape.of(3, 10, 10)),
        (RBF(out=10), Shape.of(84)),
    ],
    ids=lambda v: getattr(v, "kind", str(v)),
)
def test_lenet_op_builders(op, x):
    built(op, x)


def test_lenet_op_builders_compute_what_they_say():
    op = SparseConv(out=3, k=(3, 3), pad=(1, 1, 1, 1), table="0 1 | 2 | 0 1 2")
    torch, module = built(op, Shape.of(3, 8, 8))
    dense = torch.nn.Conv2d(3, 3, 3, padding=1)
    with torch.no_grad():  # the same weights in a dense conv, zero where the table has no link
        dense.weight.zero_()
        for o, (conv, maps) in enumerate(zip(module.convs, op.maps, strict=True)):
            for j, i in enumerate(maps):
                dense.weight[o, i] = conv.weight[0, j]
            dense.bias[o] = conv.bias[0]
        x = torch.randn(2, 3, 8, 8)
        assert torch.allclose(dense(x), module(x), atol=1e-5)
    torch, module = built(Subsample(), Shape.of(2, 4, 4))
    with torch.no_grad():
        module.weight.copy_(torch.tensor([2.0, 3.0]))
        module.bias.copy_(torch.tensor([1.0, -1.0]))
        x = torch.arange(32.0).reshape(1, 2, 4, 4)
        expected = torch.nn.functional.avg_pool2d(x, 2) * torch.tensor([2.0, 3.0]).view(1, 2, 1, 1)
        assert torch.allclose(module(x), expected + torch.tensor([1.0, -1.0]).view(1, 2, 1, 1))
    torch, module = built(RBF(out=3), Shape.of(4))
    with torch.no_grad():
        x = torch.randn(5, 4)
        assert torch.allclose(module(x), torch.cdist(x, module.centres) ** 2, atol=1e-4)


def test_lenet5_builds_whole():
    torch = pytest.importorskip("torch")
    from netcost.api import build

    model = build("lenet5")
    assert sum(p.numel() for p in model.parameters()) == 60_000
    assert sum(b.numel() for b in model.buffers()) == 840
    assert tuple(model(torch.zeros(3, 1, 32, 32)).shape) == (3, 10)

"""Multi-branch networks: GoogLeNet (torchvision and the paper's table), Inception-v3,
DenseNet-121/161/169/201 and U-Net.

The torchvision specs' totals (params, buffers, MACs, output shape, fvcore and FlopCounterMode
totals) are checked by tests/test_models_golden.py; here: their per-module params against
torchvision's (tests/golden/reference.json ``module_params``), names, variants, feature-map
sizes, the seeds' GoogLeNet tables (tests/golden/seed_tables.json) and figures recomputed by
hand in this file.
"""

import pytest

from netcost.analysis.receptive import unit_span
from netcost.api import analyze, load_graph
from tests.reference import reference
from tests.seeds import entries, reproduces, table

GOOGLENET_TABLE = "003 GoogLeNet per-module table"

#              c1   c3r  c3   c5r  c5   proj  grid (GoogLeNet's Table 1)
INCEPTIONS = {
    "3a": (64, 96, 128, 16, 32, 32, 28),
    "3b": (128, 128, 192, 32, 96, 64, 28),
    "4a": (192, 96, 208, 16, 48, 64, 14),
    "4b": (160, 112, 224, 24, 64, 64, 14),
    "4c": (128, 128, 256, 24, 64, 64, 14),
    "4d": (112, 144, 288, 32, 64, 64, 14),
    "4e": (256, 160, 320, 32, 128, 128, 14),
    "5a": (256, 160, 320, 32, 128, 128, 7),
    "5b": (384, 192, 384, 48, 128, 128, 7),
}


def by_name(report) -> dict[str, dict]:
    return {r["name"]: r for r in report.rows}


def module_sum(rows, prefix: str, key: str) -> int:
    return sum(r[key] for r in rows if r["name"] == prefix or r["name"].startswith(prefix + "."))


def assert_module_params(name: str, key: str) -> int:
    """Each top-level torchvision module's params equal netcost's rows under that name."""
    rows = analyze(name).rows
    checked = 0
    for module, params in reference()[key]["module_params"].items():
        if params == 0:
            continue  # pools, dropout: no params (functional or parameter-free)
        assert module_sum(rows, module, "params") == params, module
        checked += 1
    return checked


# -- GoogLeNet, torchvision ---------------------------------------------------------------


def test_googlenet_module_params_and_names():
    assert assert_module_params("googlenet", "googlenet") == 13  # 3 stem convs, 9 modules, fc
    rows = by_name(analyze("googlenet"))
    for name in (
        "conv1.conv",
        "conv1.bn",
        "maxpool1",
        "conv3.bn",
        "inception3a.branch1.conv",
        "inception3a.branch2.0.conv",
        "inception3a.branch2.1.bn",
        "inception3a.branch3.1.conv",
        "inception3a.branch4.0",
        "inception3a.branch4.1.conv",
        "inception5b.branch4.1.bn",
        "maxpool4",
        "avgpool",
        "dropout",
        "fc",
    ):
        assert name in rows, name
    assert rows["conv1.conv"]["params"] == 64 * 3 * 7 * 7  # no bias
    assert rows["conv1.bn"]["params"] == 2 * 64


def test_googlenet_modules_output_and_branch3_bug():
    rows = by_name(analyze("googlenet"))
    for module, (c1, _, c3, _, c5, proj, grid) in INCEPTIONS.items():
        name = f"inception{module}"
        assert module_sum(rows.values(), name, "params") > 0
        concat = rows[f"{name}.concat1"]
        assert concat["output_shape"] == [1, c1 + c3 + c5 + proj, grid, grid], name
        # torchvision issue 906: the "5x5" branch is a 3x3 conv
        assert rows[f"{name}.branch3.1.conv"]["args"].startswith("3x3")


def test_googlenet_branch3_k5_gives_the_papers_5x5_branch():
    """--set branch3_k=5: 16 more weights per 5x5-branch filter tap pair (25 - 9)."""
    base = analyze("googlenet").totals
    fixed = analyze("googlenet", {"branch3_k": 5}).totals
    extra_params = sum(c5r * c5 * (25 - 9) for _, _, _, c5r, c5, _, _ in INCEPTIONS.values())
    extra_macs = sum(c5r * c5 * (25 - 9) * g * g for _, _, _, c5r, c5, _, g in INCEPTIONS.values())
    assert fixed["params"] - base["params"] == extra_params == 380_928
    assert fixed["macs"] - base["macs"] == extra_macs == 84_295_680
    # with 5x5 it has the paper's convolutions: the same MACs, and the paper's weights plus
    # batchnorm (2 per channel) and the classifier's bias
    paper = analyze("googlenet_paper", {"bias": False}).totals
    assert fixed["macs"] == paper["macs"] == 1_582_671_872
    tv_rows = analyze("googlenet", {"branch3_k": 5}).rows
    weights = sum(r["params"] for r in tv_rows if r["op"] == "conv") + 1000 * 1024
    assert weights == paper["params"] == 6_990_272


# -- GoogLeNet, the paper's table (seeds 003) -------------------------------------------------

# table row (entry id part) -> netcost's layer-name prefixes in googlenet_paper
PAPER_ROWS = {
    "conv1": ["conv1"],
    "pool1": ["maxpool1"],
    "conv2": ["conv2", "conv3"],  # "convolution 3x3/1": the 1x1 reduce (64) and the 3x3 (192)
    "pool2": ["maxpool2"],
    **{f"inception_{m}": [f"inception{m}"] for m in INCEPTIONS},
    "pool3": ["maxpool3"],
    "pool4": ["maxpool4"],
    "avgpool": ["avgpool"],
    "dropout": ["dropout"],
    "linear": ["fc"],
    "softmax": ["softmax1"],
}


def paper_row(entry_id: str) -> str:
    return entry_id.split(".")[2]


@pytest.fixture(scope="module")
def paper():
    """googlenet_paper with and without biases (the table's params are weights only)."""
    return analyze("googlenet_paper").rows, analyze("googlenet_paper", {"bias": False}).rows


def paper_value(entry, rows) -> int | list[int]:
    prefixes = PAPER_ROWS[paper_row(entry["id"])]
    if entry["quantity"] == "activation_shape":
        last = [r for r in rows if any(r["name"] == p or r["name"].startswith(p + ".") for p in prefixes)][-1]
        shape = last["output_shape"][1:]
        c, h, w = shape if len(shape) == 3 else (shape[0], 1, 1)  # linear, softmax: 1x1xC
        return [h, w, c]
    return sum(module_sum(rows, p, entry["quantity"]) for p in prefixes)


@pytest.mark.parametrize("entry", table(GOOGLENET_TABLE), ids=lambda e: e["id"])
def test_googlenet_paper_table(entry, paper):
    with_bias, weights_only = paper
    value = paper_value(entry, weights_only)
    assert value == entry["exact"]
    if entry["quantity"] != "activation_shape":
        assert reproduces(entry, value) == entry["consistent"], entry["printed"]
    if "with_bias" in entry.get("exact_alt", {}):
        assert paper_value(entry, with_bias) == entry["exact_alt"]["with_bias"]


def test_googlenet_paper_discrepancies_are_the_documented_ones():
    wrong = sorted(paper_row(e["id"]) + "." + e["quantity"] for e in table(GOOGLENET_TABLE) if not e["consistent"])
    assert wrong == [
        "conv1.macs",
        "conv1.params",
        "inception_3b.params",
        "inception_4a.params",
        "inception_4b.params",
        "inception_4c.params",
        "inception_4d.params",
        "inception_4e.params",
        "inception_5a.macs",
        "inception_5a.params",
        "inception_5b.params",
    ]


def test_googlenet_paper_5a_ops_follow_the_wrong_params():
    """5a's printed 54M is its printed (wrong) 1072K params x 7 x 7, not the layer's MACs."""
    e = entries()
    assert e["003.googlenet.inception_5a.params"]["printed_value"] * 7 * 7 == 53_788_672  # -> 54M
    rows = analyze("googlenet_paper").rows
    assert module_sum(rows, "inception5a", "macs") == 51_079_168
    # conv1: printed 2.7K x 112 x 112 = 34.7M, the printed 34M; the layer is 64 x 3 x 7 x 7
    assert int(e["003.googlenet.conv1.params"]["printed_value"] * 112 * 112) == 34_681_651
    assert module_sum(rows, "conv1", "macs") == 112 * 112 * 64 * 3 * 7 * 7


def test_googlenet_paper_totals():
    totals = analyze("googlenet_paper").totals
    assert totals["params"] == 6_998_552
    assert analyze("googlenet_paper", {"bias": False}).totals["params"] == 6_990_272
    assert totals["macs"] == 1_582_671_872
    assert totals["buffers"] == 0  # no batchnorm
    # LRN adds no params or MACs
    no_lrn = analyze("googlenet_paper", {"lrn": False}).totals
    assert (no_lrn["params"], no_lrn["macs"]) == (totals["params"], totals["macs"])
    assert no_lrn["elementwise_flops"] < totals["elementwise_flops"]


def test_googlenet_key_parameters():
    """'Only 5M params!' and '2x less [computation than] AlexN' (003 l.340-341)."""
    e = entries()
    total = e["003.googlenet.total_params"]
    params = analyze("googlenet_paper").totals["params"]
    assert params == total["exact"]
    assert analyze("googlenet_paper", {"bias": False}).totals["params"] == total["exact_alt"]["weights_only"]
    no_fc = analyze("googlenet_paper", {"bias": False}).totals["params"] - 1024 * 1000
    assert no_fc == total["exact_alt"]["no_classifier"]
    assert reproduces(total, params) is total["consistent"] is False
    # only the weights without the classifier, truncated (5.97M -> 5M), give the printed figure
    assert reproduces(total, no_fc)
    ratio = e["003.googlenet.vs_alexnet.compute_ratio_2"]
    value = round(analyze("alexnet_slide", {"groups": 2}).totals["macs"] / analyze("googlenet_paper").totals["macs"], 3)
    assert value == ratio["exact"]
    assert reproduces(ratio, value) is ratio["consistent"] is False


def test_googlenet_vs_alexnet_claims():
    """'x12 less parameters', 'x2 less computations' than AlexNet (003 l.226-227)."""
    e = entries()
    google = analyze("googlenet_paper").totals
    grouped = analyze("alexnet_slide", {"groups": 2}).totals
    ungrouped = analyze("alexnet_slide").totals
    params = e["003.googlenet.vs_alexnet.params_ratio"]
    assert round(grouped["params"] / google["params"], 3) == params["exact"] == 8.711
    assert round(ungrouped["params"] / google["params"], 3) == params["exact_alt"]["ungrouped_alexnet"]
    assert reproduces(params, grouped["params"] / google["params"]) is params["consistent"] is False
    compute = e["003.googlenet.vs_alexnet.compute_ratio"]
    assert round(grouped["macs"] / google["macs"], 3) == compute["exact"] == 0.458
    assert round(ungrouped["macs"] / google["macs"], 3) == compute["exact_alt"]["ungrouped_alexnet"]
    assert reproduces(compute, grouped["macs"] / google["macs"]) is compute["consistent"] is False
    assert google["macs"] > ungrouped["macs"] > grouped["macs"]  # GoogLeNet costs more, not half


@pytest.mark.parametrize("source", ["000", "001"])
def test_inception_v1_stem_notes(source):
    """'Down-sample the image from a shape of 224 to 28 ... multiple layers are used (5)'."""
    e = entries()
    rows = analyze("googlenet_paper").rows
    stem = rows[: [r["name"] for r in rows].index("inception3a.branch1.conv")]
    assert stem[-1]["output_shape"][2:] == [e[f"{source}.inception_v1.stem.output_hw"]["exact"]] * 2
    layers = [r for r in stem if r["op"] in ("conv", "maxpool")]  # LRN and ReLU not counted
    assert len(layers) == e[f"{source}.inception_v1.stem.layers"]["exact"] == 5
    # ceil-mode pooling is what gives 56 and 28 (floor: 55 and 27)
    assert [r["output_shape"][2] for r in layers] == [112, 56, 56, 56, 28]


def test_googlenet_table3_cost_is_models_times_crops():
    """Table 3's cost column: evaluating m models on c crops costs m x c single passes."""
    single = analyze("googlenet_paper").totals["macs"]
    for entry in table("003 GoogLeNet Table 3 (cost column)"):
        words = entry["row"].split()  # "7 models x 144 crops"
        models, crops = int(words[0]), int(words[3])
        batch = analyze("googlenet_paper", batch=crops).totals["macs"]
        assert models * batch // single == entry["exact"] == entry["printed_value"]


# -- Inception-v3 ----------------------------------------------------------------------------


def test_inception_v3_module_params_and_names():
    assert assert_module_params("inception_v3", "inception_v3") == 17  # 5 stem convs, 11 Mixed, fc
    rows = by_name(analyze("inception_v3"))
    for name in (
        "Conv2d_1a_3x3.conv",
        "Conv2d_1a_3x3.bn",
        "maxpool1",
        "maxpool2",
        "Mixed_5b.branch1x1.conv",
        "Mixed_5b.branch_pool.conv",
        "Mixed_6a.branch3x3dbl_3.bn",
        "Mixed_6e.branch7x7dbl_5.conv",
        "Mixed_7a.branch7x7x3_4.conv",
        "Mixed_7b.branch3x3_2a.conv",
        "Mixed_7c.branch3x3dbl_3b.bn",
        "fc",
    ):
        assert name in rows, name


def test_inception_v3_grid_sizes_and_factorized_kernels():
    rows = by_name(analyze("inception_v3"))
    sizes = {
        "Conv2d_1a_3x3.relu1": [32, 149],
        "Conv2d_2a_3x3.relu1": [32, 147],
        "Conv2d_2b_3x3.relu1": [64, 147],
        "maxpool1": [64, 73],
        "Conv2d_3b_1x1.relu1": [80, 73],
        "Conv2d_4a_3x3.relu1": [192, 71],
        "maxpool2": [192, 35],
        "Mixed_5b.concat1": [256, 35],
        "Mixed_5d.concat1": [288, 35],
        "Mixed_6a.concat1": [768, 17],
        "Mixed_6e.concat1": [768, 17],
        "Mixed_7a.concat1": [1280, 8],
        "Mixed_7c.concat3": [2048, 8],  # two inner concats (3x3 and 3x3dbl) come first
    }
    for name, (c, hw) in sizes.items():
        assert rows[name]["output_shape"] == [1, c, hw, hw], name
    # 1x7 and 7x1: c7 x c7 x 7 weights each, per-axis padding keeps 17x17
    for block, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6e", 192)):
        conv = rows[f"{block}.branch7x7_2.conv"]
        assert conv["args"].startswith("1x7")
        assert conv["params"] == c7 * c7 * 7
        assert conv["macs"] == c7 * c7 * 7 * 17 * 17
        assert rows[f"{block}.branch7x7dbl_2.conv"]["args"].startswith("7x1")
    assert rows["Mixed_7b.branch3x3_2b.conv"]["params"] == 384 * 384 * 3
    # the pooling branches are functional in torchvision: avg pools count padded zeros
    assert rows["Mixed_5b.avgpool1"]["output_shape"] == [1, 192, 35, 35]
    assert rows["Mixed_6a.maxpool1"]["output_shape"] == [1, 288, 17, 17]


def test_inception_v3_aux_classifier_accounts_for_the_weights_count():
    """The ported weights declare 27,161,264 params: the aux classifier is the difference."""
    conv0 = 768 * 128 + 2 * 128  # BasicConv2d(768, 128, 1)
    conv1 = 128 * 768 * 5 * 5 + 2 * 768  # BasicConv2d(128, 768, 5)
    fc = 768 * 1000 + 1000
    assert analyze("inception_v3").totals["params"] + conv0 + conv1 + fc == 27_161_264


# -- DenseNet --------------------------------------------------------------------------------

DENSENETS = {  # growth, blocks, stem features
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
}


@pytest.mark.parametrize("name", DENSENETS)
def test_densenet_structure(name):
    assert assert_module_params(name, name) == 2  # features, classifier
    growth, blocks, init = DENSENETS[name]
    rows = by_name(analyze(name))
    channels, hw = init, 56
    for b, n in enumerate(blocks, start=1):
        block = f"features.denseblock{b}"
        assert f"{block}.denselayer{n}.norm1" in rows
        assert f"{block}.denselayer{n + 1}.norm1" not in rows
        first = f"{block}.denselayer1"
        assert rows[f"{first}.conv1"]["params"] == channels * 4 * growth
        assert rows[f"{first}.conv2"]["params"] == 4 * growth * growth * 9
        channels += n * growth
        assert rows[f"{block}.denselayer{n}.concat1"]["output_shape"] == [1, channels, hw, hw]
        if b < len(blocks):
            channels //= 2
            hw //= 2
            assert rows[f"features.transition{b}.pool"]["output_shape"] == [1, channels, hw, hw]
    assert f"features.transition{len(blocks)}.norm" not in rows
    assert rows["features.norm5"]["params"] == 2 * channels
    assert rows["classifier"]["params"] == channels * 1000 + 1000


def test_densenet121_receptive_field():
    """2,071 for the last dense block (the figure stated in the issue), recomputed here:
    conv 7x7/2 and maxpool 3x3/2 give 11 at jump 4; every dense layer's 3x3 conv adds
    2 x jump, every transition's 2x2/2 average pool 1 x jump (then doubles the jump)."""
    size, jump = 7 + (3 - 1) * 2, 4
    for n in (6, 12, 24, 16):
        size += n * 2 * jump
        if n != 16:
            size += jump
            jump *= 2
    assert (size, jump) == (2071, 32)
    rows = by_name(analyze("densenet121"))
    assert rows["features.denseblock4.denselayer16.concat1"]["rf_size"] == [2071, 2071]
    assert rows["features.denseblock4.denselayer16.concat1"]["rf_jump"] == [32, 32]
    assert analyze("densenet121").totals["receptive_field"] == [2071, 2071]


# -- U-Net -----------------------------------------------------------------------------------


def unet_params_by_hand(in_channels: int = 1, classes: int = 2) -> int:
    def conv3(cin, cout):
        return cout * (cin * 9 + 1)

    widths = [64, 128, 256, 512, 1024]
    down = sum(conv3(cin, c) + conv3(c, c) for cin, c in zip([in_channels, *widths[:-1]], widths, strict=True))
    upconvs = sum(c * (c // 2) * 4 + c // 2 for c in widths[:0:-1])  # 1024->512, ..., 128->64
    up = sum(conv3(c, c // 2) + conv3(c // 2, c // 2) for c in widths[:0:-1])  # after the concat: c in
    return down + upconvs + up + classes * (64 + 1)


def test_unet_feature_map_sizes():
    """Every size of the paper's Figure 1, and the 2x388x388 output."""
    report = analyze("unet")
    rows = by_name(report)
    figure = {
        "down1": (64, [570, 568]),
        "down2": (128, [282, 280]),
        "down3": (256, [138, 136]),
        "down4": (512, [66, 64]),
        "down5": (1024, [30, 28]),
        "up4": (512, [54, 52]),
        "up3": (256, [102, 100]),
        "up2": (128, [198, 196]),
        "up1": (64, [390, 388]),
    }
    for level, (c, sizes) in figure.items():
        for conv, hw in zip(("conv1", "conv2"), sizes, strict=True):
            assert rows[f"{level}.{conv}"]["output_shape"] == [1, c, hw, hw], f"{level}.{conv}"
    pools = {"pool1": [64, 284], "pool2": [128, 140], "pool3": [256, 68], "pool4": [512, 32]}
    upconvs = {"upconv4": [512, 56], "upconv3": [256, 104], "upconv2": [128, 200], "upconv1": [64, 392]}
    for name, (c, hw) in {**pools, **upconvs}.items():
        assert rows[name]["output_shape"] == [1, c, hw, hw], name
    # the concatenations: cropped copy + up-convolution, twice the up-conv's channels
    concats = [r for r in report.rows if r["op"] == "concat"]
    assert [r["output_shape"] for r in concats] == [[1, 2 * c, hw, hw] for c, hw in upconvs.values()]
    assert rows["down1.conv1"]["output_shape"] == [1, 64, 570, 570]
    assert report.rows[0]["name"] == "down1.conv1" and report.rows[-1]["name"] == "out_conv"
    assert report.rows[-1]["output_shape"] == [1, 2, 388, 388]


def test_unet_params_by_hand():
    params = unet_params_by_hand()
    assert params == 31_030_658
    assert analyze("unet").totals["params"] == params
    assert analyze("unet", {"channels": 3}).totals["params"] == unet_params_by_hand(3) == 31_031_810
    # the often quoted 31,031,685 is not this architecture's count (it is odd; with two
    # classes every term here is even), nor that of 1-3 input channels with 1-10 classes
    assert params != 31_031_685
    assert all(unet_params_by_hand(c, k) != 31_031_685 for c in (1, 2, 3) for k in range(1, 11))


def test_unet_macs_by_hand():
    def conv3(cin, cout, hw_out):
        return cout * cin * 9 * hw_out * hw_out

    macs = (
        conv3(1, 64, 570)
        + conv3(64, 64, 568)
        + conv3(64, 128, 282)
        + conv3(128, 128, 280)
        + conv3(128, 256, 138)
        + conv3(256, 256, 136)
        + conv3(256, 512, 66)
        + conv3(512, 512, 64)
        + conv3(512, 1024, 30)
        + conv3(1024, 1024, 28)
        # up-convolutions 2x2/2, counted on their input grid
        + 1024 * 512 * 4 * 28 * 28
        + 512 * 256 * 4 * 52 * 52
        + 256 * 128 * 4 * 100 * 100
        + 128 * 64 * 4 * 196 * 196
        + conv3(1024, 512, 54)
        + conv3(512, 512, 52)
        + conv3(512, 256, 102)
        + conv3(256, 256, 100)
        + conv3(256, 128, 198)
        + conv3(128, 128, 196)
        + conv3(128, 64, 390)
        + conv3(64, 64, 388)
        + 2 * 64 * 388 * 388
    )
    assert analyze("unet").totals["macs"] == macs == 150_428_424_448


def unet_field_1d() -> set[int]:
    """The receptive field of every output unit along one axis, walked exactly: each unit's
    interval of input pixels through valid 3x3 convs, 2x2/2 pools, 2x2/2 up-convolutions
    (output j reads input j // 2 only) and centre-cropped concatenations."""

    def conv(iv):
        return [(iv[i][0], iv[i + 2][1]) for i in range(len(iv) - 2)]

    def pool(iv):
        return [(iv[2 * i][0], iv[2 * i + 1][1]) for i in range(len(iv) // 2)]

    def upconv(iv):
        return [iv[j // 2] for j in range(2 * len(iv))]

    def concat(skip, up):
        offset = (len(skip) - len(up)) // 2
        return [(min(a[0], b[0]), max(a[1], b[1])) for a, b in zip(skip[offset:], up, strict=False)]

    skips, x = [], [(i, i) for i in range(572)]
    for level in range(5):
        x = conv(conv(pool(x) if level else x))
        skips.append(x)
    for skip in reversed(skips[:-1]):
        x = conv(conv(concat(skip, upconv(x))))
    assert len(x) == 388
    return {hi - lo + 1 for lo, hi in x}


def test_unet_receptive_field():
    """After up-convolutions a unit's field depends on its phase: the exact walk above gives
    188 or 204 pixels; netcost carries each unit's span back through the graph and reports
    the largest (the centre unit's 204 is also what `verify unet` measures by gradient)."""
    assert unet_field_1d() == {188, 204}
    assert analyze("unet").totals["receptive_field"] == [204, 204]
    graph = load_graph("unet")
    out = graph.nodes[-1]
    sizes = {unit_span(graph, out.name, (p, out.shape.w // 2))[0] for p in range(out.shape.h)}
    assert {hi - lo + 1 for lo, hi in sizes} == {188, 204}

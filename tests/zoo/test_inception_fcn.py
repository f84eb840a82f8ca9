"""Inception-v4 and Inception-ResNet-v2 (timm) and FCN-ResNet50 (torchvision segmentation).

Their totals (params, buffers, MACs, output shape, fvcore and FlopCounterMode totals) are
checked by tests/test_models_golden.py; here: each module's params against the reference's
(tests/golden/reference.json ``module_params``, and ``nested_modules`` two levels down with
their output shapes), names, and one Inception-ResNet block and the FCN head counted by hand.
"""

import pytest

from netcost.api import analyze
from tests.reference import reference

MODELS = {"inception_v4": "timm/inception_v4", "inception_resnet_v2": "timm/inception_resnet_v2"}
MODELS["fcn_resnet50"] = "fcn_resnet50"


def by_name(rows) -> dict[str, dict]:
    return {r["name"]: r for r in rows}


def under(rows, prefix: str) -> list[dict]:
    return [r for r in rows if r["name"] == prefix or r["name"].startswith(prefix + ".")]


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    name = request.param
    ref = reference()[MODELS[name]]
    return name, ref, analyze(name, input_shape=tuple(ref["input"][1:])).rows


def test_module_params_are_the_references(model):
    _, ref, rows = model
    for module, params in ref["module_params"].items():
        assert sum(r["params"] for r in under(rows, module)) == params, module


def test_modules_two_levels_down_have_the_references_names_params_and_outputs(model):
    """``repeat.3``, ``features.12``, ``backbone.layer4``: each is a prefix of netcost's rows,
    with the reference module's params, and its last row has the module's output shape."""
    name, ref, rows = model
    checked = 0
    for module, entry in ref["nested_modules"].items():
        mine = under(rows, module)
        if entry["output_shape"] is None:  # never called (none in these three)
            continue
        assert mine, f"{module} missing from netcost's layers"
        assert sum(r["params"] for r in mine) == entry["params"], module
        assert mine[-1]["output_shape"] == entry["output_shape"], module
        checked += 1
    assert checked == {"inception_v4": 24, "inception_resnet_v2": 67, "fcn_resnet50": 13}[name]


NAMES = {
    "inception_v4": [
        "features.0.conv",
        "features.0.bn",
        "features.3.maxpool",
        "features.3.conv.conv",
        "features.4.branch1.3.conv",
        "features.9.branch3.0",
        "features.10.branch2",
        "features.17.branch2.4.bn",
        "features.21.branch2_3b.conv",
        "global_pool.pool",
        "head_drop",
        "last_linear",
    ],
    "inception_resnet_v2": [
        "conv2d_1a.conv",
        "maxpool_3a",
        "mixed_5b.branch3.1.conv",
        "repeat.9.conv2d",
        "repeat.9.act",
        "mixed_6a.branch2",
        "repeat_1.19.branch1.2.bn",
        "mixed_7a.branch3",
        "repeat_2.8.relu",
        "block8.conv2d",
        "conv2d_7b.bn",
        "classif",
    ],
    "fcn_resnet50": [
        "backbone.conv1",
        "backbone.maxpool",
        "backbone.layer3.0.downsample.0",
        "backbone.layer4.2.conv3",
        "classifier.0",
        "classifier.3",
        "classifier.4",
    ],
}


def test_names(model):
    name, _, rows = model
    names = by_name(rows)
    missing = [n for n in NAMES[name] if n not in names]
    assert missing == []


def test_the_last_block8_has_no_relu():
    names = by_name(analyze("inception_resnet_v2").rows)
    assert "repeat_2.8.relu" in names and "block8.relu" not in names
    assert names["block8.add1"]["output_shape"] == [1, 2080, 8, 8]


def test_block35_by_hand():
    """repeat.0 (Block35) at 35x35x320: branch0 1x1 320->32; branch1 1x1 320->32, 3x3 32->32;
    branch2 1x1 320->32, 3x3 32->48, 3x3 48->64; concat 128; 1x1 128->320 with bias;
    x * 0.17 + identity; ReLU. Convs have no bias but a BN (2 per channel)."""
    weights = 320 * 32 + (320 * 32 + 9 * 32 * 32) + (320 * 32 + 9 * 32 * 48 + 9 * 48 * 64) + 128 * 320
    bn = 2 * (32 + 32 + 32 + 32 + 48 + 64)
    params = weights + bn + 320
    assert params == 123_168 == reference()["timm/inception_resnet_v2"]["module_params"]["repeat"] // 10
    rows = analyze("inception_resnet_v2").rows
    block = under(rows, "repeat.0")
    assert sum(r["params"] for r in block) == params
    assert sum(r["macs"] for r in block) == weights * 35 * 35 == 149_900_800
    names = by_name(block)
    scale, add = names["repeat.0.scale1"], names["repeat.0.add1"]
    assert scale["op"] == "scale" and scale["args"] == "factor=0.17"
    assert scale["params"] == scale["macs"] == 0
    assert scale["elementwise_flops"] == add["elementwise_flops"] == 320 * 35 * 35  # a multiply, an add
    assert by_name(under(rows, "repeat_1.0"))["repeat_1.0.scale1"]["args"] == "factor=0.1"
    assert by_name(under(rows, "repeat_2.0"))["repeat_2.0.scale1"]["args"] == "factor=0.2"


def test_the_scale_is_free_for_fvcore_and_flopcounter():
    for convention in ("fvcore", "flopcounter"):
        rows = by_name(analyze("inception_resnet_v2", convention=convention).rows)
        assert rows["repeat.0.scale1"]["flops"] == 0


def test_fcn_head_by_hand():
    """FCNHead(2048, 21) on the 2048x65x65 features (520 / 8): 3x3 conv 2048->512 without
    bias, BN 512, ReLU, Dropout(0.1), 1x1 conv 512->21 with bias; then bilinear back to
    520x520 (4 operations per output element, as fvcore counts it)."""
    ref = reference()["fcn_resnet50"]
    rows = by_name(analyze("fcn_resnet50").rows)
    head = [rows[f"classifier.{i}"] for i in range(5)]
    assert [r["op"] for r in head] == ["conv", "bn", "relu", "dropout", "conv"]
    assert head[0]["params"] == 2048 * 512 * 9 and head[0]["macs"] == 2048 * 512 * 9 * 65 * 65
    assert head[1]["params"] == 2 * 512 and head[1]["buffers"] == 2 * 512 + 1
    assert head[4]["params"] == 512 * 21 + 21 and head[4]["macs"] == 512 * 21 * 65 * 65
    assert sum(r["params"] for r in head) == 9_448_981 == ref["module_params"]["classifier"]
    up = rows["interpolate"]
    assert up["output_shape"] == ref["output_shape"] == [1, 21, 520, 520]
    assert up["elementwise_flops"] == 4 * 21 * 520 * 520
    fvcore = by_name(analyze("fcn_resnet50", convention="fvcore").rows)["interpolate"]["flops"]
    assert fvcore == ref["fvcore"]["by_operator"]["upsample_bilinear2d"]


def test_fcn_backbone_is_dilated_resnet50():
    """replace_stride_with_dilation=[False, True, True]: layer3 and layer4 keep 65x65 and
    dilate their 3x3 convs (first block: the previous dilation): 1, 2, 2 | 2, 4, 4."""
    rows = by_name(analyze("fcn_resnet50").rows)
    dilations = [rows[f"backbone.layer{s}.{i}.conv2"]["args"] for s, n in ((3, 6), (4, 3)) for i in range(n)]
    assert dilations == ["3x3 p1 no-bias"] + ["3x3 p2 d2 no-bias"] * 6 + ["3x3 p4 d4 no-bias"] * 2
    assert rows["backbone.layer3.0.downsample.0"]["args"] == "1x1 no-bias"  # stride 1: the width changes
    # the backbone's params are resnet50's without its fc (2048 x 1000 + 1000)
    assert analyze("resnet50").totals["params"] - 2_049_000 == reference()["fcn_resnet50"]["module_params"]["backbone"]

"""Small and mobile networks: SqueezeNet 1.0, MobileNetV3 Large/Small, ShuffleNetV2 at its
four widths, and the stacked hourglass network.

The torchvision specs' totals (params, buffers, MACs, output shape, fvcore and FlopCounterMode
totals) are checked by tests/test_models_golden.py; here: every torchvision module against
its golden row (tests/golden/reference.json: top-level ``module_params``, and for one model
of each family every leaf module's params, fvcore count and output shape), the paper's
feature-map sizes, and the hourglass against a hand count of the paper's modules.
"""

import pytest

from netcost.api import analyze, load_graph
from tests.reference import assert_matches, reference

TORCHVISION = [
    "squeezenet1_0",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
]
WIDTHS = {  # torchvision's stages_out_channels of each ShuffleNetV2 (the paper's Table 5)
    "shufflenet_v2_x0_5": [24, 48, 96, 192, 1024],
    "shufflenet_v2_x1_0": [24, 116, 232, 464, 1024],
    "shufflenet_v2_x1_5": [24, 176, 352, 704, 1024],
    "shufflenet_v2_x2_0": [24, 244, 488, 976, 2048],
}


def module_sum(rows, prefix: str) -> int:
    return sum(r["params"] for r in rows if r["name"] == prefix or r["name"].startswith(prefix + "."))


@pytest.mark.parametrize("name", TORCHVISION)
def test_top_level_module_params(name):
    rows = analyze(name).rows
    modules = reference()[name]["module_params"]
    for module, params in modules.items():
        if params:
            assert module_sum(rows, module) == params, module
    assert sum(modules.values()) == reference()[name]["params"]


@pytest.mark.parametrize("name", ["squeezenet1_0", "mobilenet_v3_small", "shufflenet_v2_x1_0"])
def test_every_leaf_module(name):
    """Every torchvision leaf module that runs is a netcost layer of the same name, with the
    same params, fvcore count and output shape (ReLUs and dropout too: these models make one
    module per use)."""
    rows = {row["name"]: row for row in analyze(name, convention="fvcore").rows}
    checked = 0
    for module, ref in reference()[name]["per_module"].items():
        if ref["calls"] == 0:
            continue  # ShuffleNetV2's empty `branch1` of its stride-1 units
        assert module in rows, f"{module} missing from netcost's layers"
        row = rows[module]
        assert (row["params"], row["flops"], row["output_shape"]) == (ref["params"], ref["fvcore"], ref["output_shape"])
        checked += 1
    assert checked == sum(1 for ref in reference()[name]["per_module"].values() if ref["calls"])


def test_shufflenet_v2_units_split_and_shuffle():
    rows = {row["name"]: row for row in analyze("shufflenet_v2_x1_0").rows}
    # a stride-1 unit: x1, x2 = x.chunk(2, dim=1); cat(x1, branch2(x2)); shuffle
    assert rows["stage2.1.x1"]["op"] == rows["stage2.1.x2"]["op"] == "split"
    assert rows["stage2.1.x1"]["output_shape"] == [1, 58, 28, 28]
    assert rows["stage2.1.branch2.0"]["params"] == 58 * 58  # 1x1 on the half, no bias
    assert rows["stage2.1.concat1"]["output_shape"] == [1, 116, 28, 28]
    assert rows["stage2.1.channel_shuffle1"]["op"] == "channel_shuffle"
    # a stride-2 unit has no split: both branches read the whole input
    assert "stage3.0.x1" not in rows and rows["stage3.0.branch1.0"]["params"] == 116 * 9  # depthwise
    for op in ("split", "channel_shuffle"):
        assert all(r["params"] == r["macs"] == r["elementwise_flops"] == 0 for r in rows.values() if r["op"] == op)


@pytest.mark.parametrize("name", list(WIDTHS))
def test_shufflenet_v2_feature_maps(name):
    """The paper's Table 5: 224 -> conv1 112 -> maxpool 56 -> stages 28, 14, 7 -> conv5 7."""
    rows = {row["name"]: row for row in analyze(name).rows}
    c = WIDTHS[name]
    assert rows["conv1.2"]["output_shape"] == [1, c[0], 112, 112]
    assert rows["maxpool"]["output_shape"] == [1, c[0], 56, 56]
    for stage, last, size in (("stage2", 3, 28), ("stage3", 7, 14), ("stage4", 3, 7)):
        assert rows[f"{stage}.{last}.channel_shuffle1"]["output_shape"] == [1, c[int(stage[-1]) - 1], size, size]
        assert f"{stage}.{last + 1}.concat1" not in rows  # 4, 8, 4 units
    assert rows["conv5.2"]["output_shape"] == [1, c[4], 7, 7]


@pytest.mark.parametrize("key", ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x2_0"])
def test_shufflenet_v2_body_takes_the_widths(key):
    assert_matches("shufflenet_v2", {"widths": WIDTHS[key]}, key)


def test_mobilenet_v3_bnecks():
    rows = {row["name"]: row for row in analyze("mobilenet_v3_large").rows}
    # features.1: exp 16 = in 16: no expand conv, the depthwise is block.0; residual add
    assert rows["features.1.block.0.0"]["params"] == 16 * 9
    assert "features.1.add1" in rows and "features.2.add1" not in rows  # stride 2: no residual
    # features.4: 5x5, exp 72, SE with make_divisible(72 // 4, 8) = 24 squeeze channels
    assert rows["features.4.block.2.fc1"]["params"] == 72 * 24 + 24
    assert rows["features.4.block.2.scale_activation"]["op"] == "hardsigmoid"
    assert rows["features.16.0"]["output_shape"] == [1, 960, 7, 7]  # 6 x 160
    small = {row["name"]: row for row in analyze("mobilenet_v3_small").rows}
    assert small["features.1.block.1.fc1"]["params"] == 16 * 8 + 8  # SE in the first bneck
    assert small["features.12.0"]["output_shape"] == [1, 576, 7, 7]  # 6 x 96
    assert small["classifier.0"]["output_shape"] == [1, 1024]


@pytest.mark.parametrize("key", ["mobilenet_v3_large@width=0.75", "mobilenet_v3_small@width=0.5"])
def test_mobilenet_v3_width(key):
    name, _, width = key.partition("@width=")
    assert_matches(name, {"width": float(width)}, key)


def test_squeezenet1_0_fire_modules():
    """Fire(in, s, e1, e3) = in*s + s + s*e1 + e1 + 9*s*e3 + e3 params; conv1 3*96*49 + 96,
    conv10 512*1000 + 1000."""
    rows = analyze("squeezenet1_0").rows
    fires = {3: (96, 16, 64, 64), 4: (128, 16, 64, 64), 5: (128, 32, 128, 128), 7: (256, 32, 128, 128)}
    fires |= {8: (256, 48, 192, 192), 9: (384, 48, 192, 192), 10: (384, 64, 256, 256), 12: (512, 64, 256, 256)}
    for index, (i, s, a, b) in fires.items():
        assert module_sum(rows, f"features.{index}") == i * s + s + s * a + a + 9 * s * b + b
    by_name = {r["name"]: r for r in rows}
    assert by_name["features.0"]["output_shape"] == [1, 96, 109, 109]  # 7x7/2, no padding
    assert by_name["features.2"]["output_shape"] == [1, 96, 54, 54]  # ceil_mode
    assert by_name["features.12.concat1"]["output_shape"] == [1, 512, 13, 13]
    assert by_name["classifier.1"]["params"] == 512 * 1000 + 1000


# -- stacked hourglass: a hand count of the paper's modules -------------------------------------


def residual(cin: int, cout: int, size: int) -> tuple[int, int, int]:
    """(params, buffers, MACs) of the paper's residual module at size x size:
    BN(cin)-ReLU-conv1x1(cout/2)-BN-ReLU-conv3x3(cout/2)-BN-ReLU-conv1x1(cout), plus a 1x1
    conv skip when cin != cout; every conv with a bias; a BN has 2C params and 2C + 1
    buffers (running mean and variance, num_batches_tracked)."""
    mid = cout // 2
    weights = cin * mid + 9 * mid * mid + mid * cout + (cin * cout if cin != cout else 0)
    biases = mid + mid + cout + (cout if cin != cout else 0)
    bn = 2 * cin + 2 * mid + 2 * mid
    buffers = (2 * cin + 1) + 2 * (2 * mid + 1)
    return weights + biases + bn, buffers, weights * size * size


def conv1x1(cin: int, cout: int, size: int) -> tuple[int, int, int]:
    return cin * cout + cout, 0, cin * cout * size * size


def total(parts) -> tuple[int, int, int]:
    return tuple(sum(p[i] for p in parts) for i in range(3))


def hourglass_by_hand(stacks: int, depth: int, f: int = 256, joints: int = 16) -> tuple[int, int, int]:
    """The whole network at 256x256: stem 256 -> 128 -> 64, then ``stacks`` hourglasses
    working at 64x64."""
    parts = [(3 * 64 * 49 + 64, 0, 3 * 64 * 49 * 128 * 128), (2 * 64, 2 * 64 + 1, 0)]  # conv1 7x7/2, bn1
    parts += [residual(64, 128, 128), residual(128, 128, 64), residual(128, f, 64)]  # layer1, (pool), 2, 3
    for s in range(stacks):
        for level in range(depth):  # up1 at this level's size; low1 and low3 at half of it
            size = 64 >> level
            parts += [residual(f, f, size), residual(f, f, size // 2), residual(f, f, size // 2)]
        parts.append(residual(f, f, 64 >> depth))  # the bottom (low2 of the innermost level)
        parts.append(residual(f, f, 64))  # res
        parts += [conv1x1(f, f, 64), (2 * f, 2 * f + 1, 0)]  # fc: conv-bn-relu
        parts.append(conv1x1(f, joints, 64))  # score: the heatmaps
        if s < stacks - 1:
            parts += [conv1x1(f, f, 64), conv1x1(joints, f, 64)]  # fc_, score_
    return total(parts)


def test_hourglass_residual_module_by_hand():
    rows = analyze("hourglass").rows
    params, _, macs = residual(256, 256, 64)
    assert params == 512 + (256 * 128 + 128) + 256 + (9 * 128 * 128 + 128) + 256 + (128 * 256 + 256) == 214_528
    assert module_sum(rows, "stack0.hg.up1") == module_sum(rows, "stack7.res") == params
    assert sum(r["macs"] for r in rows if r["name"].startswith("stack0.hg.up1.")) == macs
    assert module_sum(rows, "layer1") == residual(64, 128, 128)[0]  # with its 1x1 skip
    assert module_sum(rows, "layer1.skip") == 64 * 128 + 128


@pytest.mark.parametrize(("stacks", "depth"), [(8, 4), (2, 3), (1, 1)])
def test_hourglass_totals_by_hand(stacks, depth):
    totals = analyze("hourglass", {"stacks": stacks, "depth": depth}).totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == hourglass_by_hand(stacks, depth)


def test_hourglass_modules_and_output():
    """The paper's 8-stack network of depth-4 hourglasses: 3 stem modules and 8 x (3 x 4 + 1
    + 1) = 112 residual modules of 256 channels; the last stack's heatmaps are the output."""
    graph = load_graph("hourglass")
    modules = {n.name.rsplit(".", 1)[0] for n in graph.nodes if n.name.endswith(".conv3")}
    assert len(modules) == 3 + 8 * (3 * 4 + 1 + 1)
    assert graph.nodes[-1].name == "stack7.score" and str(graph.nodes[-1].shape) == "16x64x64"
    bottom = graph["stack0.hg.low2.low2.low2.low2.conv3"]
    assert str(bottom.shape) == "256x4x4"  # 64 / 2^4


def test_hourglass_depth_is_bounded_by_the_map():
    from netcost.errors import SpecError

    with pytest.raises(SpecError, match="depth"):
        load_graph("hourglass", overrides={"depth": 7})
    deepest = load_graph("hourglass", overrides={"depth": 6, "stacks": 1})
    assert str(deepest["stack0.hg" + ".low2" * 6 + ".conv3"].shape) == "256x1x1"  # 64 / 2^6

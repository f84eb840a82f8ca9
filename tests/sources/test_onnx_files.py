"""ONNX files written here with onnx.helper (no torch): hand counts of what the lowering
reads, the partial report of an op it has no rule for, bad files and symbolic dims."""

from __future__ import annotations

import subprocess
import sys

import pytest

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from netcost.analysis import analyze_graph  # noqa: E402
from netcost.options import TorchInput  # noqa: E402
from netcost.sources.onnx_lower import OnnxError, is_onnx_path, onnx_graph  # noqa: E402
from netcost.sources.onnx_state import module_path  # noqa: E402

RNG = np.random.default_rng(0)


def weight(name: str, *dims: int):
    return numpy_helper.from_array(RNG.standard_normal(dims).astype(np.float32), name)


def save(tmp_path, nodes, inputs, outputs, initializers=(), name="net.onnx", opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def image(name="x", dims=(1, 8, 15, 15)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def out(name="y"):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


def test_grouped_same_conv_then_batchnorm_hand_count(tmp_path):
    """Conv 8 -> 16, 3x3, groups 2, stride 2, SAME_UPPER on 15x15 -> 8x8:
    weights 16 * (8 / 2) * 3 * 3 = 576, + 16 biases; MACs 576 * 8 * 8 = 36,864.
    BatchNormalization(16): 32 params; its running mean and variance are buffers."""
    nodes = [
        helper.make_node(
            "Conv", ["x", "w", "b"], ["c"], name="/features/conv/Conv", group=2, strides=[2, 2], auto_pad="SAME_UPPER"
        ),
        helper.make_node("BatchNormalization", ["c", "s", "o", "m", "v"], ["y"], name="/features/bn/BN"),
    ]
    inits = [weight("w", 16, 4, 3, 3), weight("b", 16), weight("s", 16), weight("o", 16), weight("m", 16)]
    inits.append(numpy_helper.from_array(np.ones(16, np.float32) + RNG.random(16).astype(np.float32), "v"))
    report = analyze_graph(onnx_graph(save(tmp_path, nodes, [image()], [out()], inits)))
    assert report.totals["params"] == 576 + 16 + 32
    assert report.totals["macs"] == 36_864
    assert [r["name"] for r in report.rows] == ["features.conv", "features.bn"]
    assert report.rows[0]["output_shape"] == [1, 16, 8, 8]
    assert report.rows[0]["rf_size"] == [3, 3]
    assert not report.meta.get("partial")


def test_unsupported_op_is_listed_and_the_report_partial(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="/act/Relu"),
        helper.make_node("CumSum", ["r", "axis"], ["y"], name="/cum/CumSum"),
    ]
    axis = numpy_helper.from_array(np.array(1, dtype=np.int64), "axis")
    graph = onnx_graph(save(tmp_path, nodes, [image()], [out()], [axis]))
    report = analyze_graph(graph)
    assert report.meta["partial"] is True
    assert report.meta["unsupported_ops"] == {"onnx.CumSum": 1}
    assert report.rows[-1]["name"] == "cum"
    assert graph.vars["onnx_unlowered"] == {"cum": "CumSum: no rule for this op"}


def test_shared_initializer_counts_once(tmp_path):
    """Two MatMuls reading one 16x16 weight: 256 params, 2 x 16 x 16 = 512 MACs."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="/a/MatMul"),
        helper.make_node("MatMul", ["h", "w"], ["y"], name="/b/MatMul"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])
    report = analyze_graph(onnx_graph(save(tmp_path, nodes, [x], [out()], [weight("w", 16, 16)])), batch=3)
    assert report.totals["params"] == 256
    assert report.totals["macs"] == 3 * 512


def token_model(tmp_path):
    """ids [batch, seq] -> embedding 100 x 16 -> linear 16 -> 8 (MatMul + Add) -> mean over the tokens."""
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"], name="/embed/Gather"),
        helper.make_node("MatMul", ["e", "w"], ["p"], name="/proj/MatMul"),
        helper.make_node("Add", ["p", "b"], ["q"], name="/proj/Add"),
        helper.make_node("ReduceMean", ["q"], ["y"], name="/pool/ReduceMean", axes=[1], keepdims=0),
    ]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])
    inits = [weight("table", 100, 16), weight("w", 16, 8), weight("b", 8)]
    return save(tmp_path, nodes, [ids], [out()], inits, opset=17)


def test_symbolic_sequence_dim_from_input(tmp_path):
    """seq = 12: params 100 x 16 + 16 x 8 + 8 = 1,736; MACs 12 x 16 x 8 = 1,536 per sample."""
    graph = onnx_graph(token_model(tmp_path), inputs=(TorchInput("ids", (12,)),), batch=4)
    report = analyze_graph(graph, batch=4)
    assert report.totals["params"] == 1_736
    assert report.totals["macs"] == 4 * 1_536
    assert [r["op"] for r in report.rows] == ["embedding", "linear", "opaque"]
    assert report.rows[1]["output_shape"] == [4, 12, 8]


def test_missing_symbolic_dim_asks_for_it(tmp_path):
    with pytest.raises(OnnxError, match=r"input 'ids' is \[batch, seq\]: dim 1 \(seq\) has no size") as caught:
        onnx_graph(token_model(tmp_path))
    assert "--input ids=N" in caught.value.hint


def test_input_shape_that_contradicts_a_fixed_dim(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [image()], [out()])
    with pytest.raises(OnnxError, match="fixes dim 1 at 8"):
        onnx_graph(path, inputs=(TorchInput(None, (3, 15, 15)),))


def test_fixed_batch_above_one_is_refused(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [image(dims=(4, 8, 5, 5))], [out()])
    with pytest.raises(OnnxError, match="fixes the batch at 4"):
        onnx_graph(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, not a model\n", bytes(range(256)) * 8],
    ids=["empty", "text", "binary-noise"],
)
def test_non_onnx_files_are_clear_errors(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(OnnxError, match=r"bad\.onnx: not a"):
        onnx_graph(path)


def test_truncated_file_is_a_clear_error(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="/c/Conv")]
    path = save(tmp_path, nodes, [image()], [out()], [weight("w", 64, 8, 3, 3)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxError, match=r"net\.onnx: not a"):
        onnx_graph(path)


def test_missing_file(tmp_path):
    with pytest.raises(OnnxError, match="no such ONNX file"):
        onnx_graph(tmp_path / "absent.onnx")


def test_is_onnx_path():
    assert is_onnx_path("model.onnx") and is_onnx_path("dir/Model.ONNX")
    assert not is_onnx_path("resnet18") and not is_onnx_path("torchvision.models:resnet18")


@pytest.mark.parametrize(
    ("node_name", "expected"),
    [
        ("/layer1/layer1.0/conv1/Conv", "layer1.0.conv1"),
        ("/C3/convs.0/Conv", "C3.convs.0"),
        ("/features/features.0/Conv", "features.0"),
        ("Conv_12", ""),
        ("", ""),
    ],
)
def test_layer_names_from_node_names(node_name, expected):
    assert module_path(node_name) == expected


def test_lowering_an_onnx_file_never_imports_torch(tmp_path):
    path = token_model(tmp_path)
    code = (
        "import sys\n"
        "from netcost.options import TorchInput\n"
        "from netcost.sources.onnx_lower import onnx_graph\n"
        "from netcost.analysis import analyze_graph\n"
        f"r = analyze_graph(onnx_graph({str(path)!r}, inputs=(TorchInput('ids', (5,)),)))\n"
        "assert r.totals['params'] == 1736, r.totals\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pad_absorbed_into_the_conv_then_lrn_and_relu6(tmp_path):
    """Pad (top 1, bottom 2, left 0, right 1) then a 3x3 conv 8 -> 4 on 15x15: the padded
    input is 18 x 16, the output 16 x 14; weights 4 * 8 * 9 = 288, MACs 288 * 16 * 14 =
    64,512. The field's start is the conv's with that padding before: (3 - 1) / 2 - 1 = 0
    for the rows, (3 - 1) / 2 - 0 = 1 for the columns."""
    pads = numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 2, 1], dtype=np.int64), "pads")
    low = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "low")
    high = numpy_helper.from_array(np.array(6.0, dtype=np.float32), "high")
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="/pad/Pad"),
        helper.make_node("Conv", ["p", "w"], ["c"], name="/conv/Conv", kernel_shape=[3, 3]),
        helper.make_node("LRN", ["c"], ["n"], name="/norm/LRN", size=3),
        helper.make_node("Clip", ["n", "low", "high"], ["y"], name="/act/Clip"),
    ]
    report = analyze_graph(
        onnx_graph(save(tmp_path, nodes, [image()], [out()], [pads, low, high, weight("w", 4, 8, 3, 3)]))
    )
    assert [(r["name"], r["op"]) for r in report.rows] == [("conv", "conv"), ("norm", "lrn"), ("act", "relu6")]
    assert report.rows[0]["output_shape"] == [1, 4, 16, 14]
    assert report.totals["params"] == 288
    assert report.totals["macs"] == 64_512
    assert report.rows[0]["rf_start"] == [0, 1]
    assert report.rows[1]["elementwise_flops"] == (3 + 3) * 4 * 16 * 14  # LRN: size + 3 per element


def test_channels_last_block_with_erf_gelu(tmp_path):
    """ConvNeXt's MLP as torch exports it: Transpose to channels-last, LayerNormalization
    over the 8 channels, MatMul + Add (8 -> 32), the Erf GELU, MatMul (32 -> 8).
    Params 2 x 8 + 8 x 32 + 32 + 32 x 8 = 560; MACs 5 x 5 x (8 x 32 + 32 x 8) = 12,800."""

    def const(name, value):
        return numpy_helper.from_array(np.array(value, dtype=np.float32), name)

    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], name="/block/Transpose", perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", ["t", "g", "beta"], ["n"], name="/block/norm/LayerNormalization"),
        helper.make_node("MatMul", ["n", "w1"], ["m1"], name="/block/fc1/MatMul"),
        helper.make_node("Add", ["m1", "b1"], ["h"], name="/block/fc1/Add"),
        helper.make_node("Div", ["h", "root2"], ["d"], name="/block/act/Div"),
        helper.make_node("Erf", ["d"], ["e"], name="/block/act/Erf"),
        helper.make_node("Add", ["e", "one"], ["a"], name="/block/act/Add"),
        helper.make_node("Mul", ["h", "a"], ["p"], name="/block/act/Mul"),
        helper.make_node("Mul", ["p", "half"], ["g1"], name="/block/act/Mul_1"),
        helper.make_node("MatMul", ["g1", "w2"], ["y"], name="/block/fc2/MatMul"),
    ]
    inits = [weight("g", 8), weight("beta", 8), weight("w1", 8, 32), weight("b1", 32), weight("w2", 32, 8)]
    inits += [const("root2", 2**0.5), const("one", 1.0), const("half", 0.5)]
    report = analyze_graph(onnx_graph(save(tmp_path, nodes, [image(dims=(1, 8, 5, 5))], [out()], inits)))
    rows = [(r["name"], r["op"], r["output_layout"]) for r in report.rows]
    assert rows == [
        ("block", "permute_dims", "HWC"),
        ("block.norm", "layernorm", "HWC"),
        ("block.fc1", "linear", "HWC"),
        ("block.act", "gelu", "HWC"),
        ("block.fc2", "linear", "HWC"),
    ]
    assert report.totals["params"] == 560
    assert report.totals["macs"] == 12_800
    assert report.rows[-1]["rf_size"] == [1, 1]  # per position: no field grows


def test_two_inputs_read_is_a_clear_error(tmp_path):
    nodes = [helper.make_node("Add", ["x", "z"], ["y"], name="/add/Add")]
    path = save(tmp_path, nodes, [image(), image("z")], [out()])
    with pytest.raises(OnnxError, match=r"takes one input; this file's nodes read 2 \(x, z\)"):
        onnx_graph(path)


def test_dequantized_constant_weight_folds_into_the_conv(tmp_path):
    """An int8 weight 4 x 8 x 3 x 3 dequantized before the conv: 288 params, 288 x 13 x 13 MACs."""
    q = numpy_helper.from_array(RNG.integers(-128, 127, (4, 8, 3, 3)).astype(np.int8), "q")
    scale = numpy_helper.from_array(np.array(0.02, dtype=np.float32), "scale")
    zero = numpy_helper.from_array(np.array(0, dtype=np.int8), "zero")
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["w"], name="/conv/DequantizeLinear"),
        helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv"),
    ]
    report = analyze_graph(onnx_graph(save(tmp_path, nodes, [image()], [out()], [q, scale, zero])))
    assert [r["op"] for r in report.rows] == ["conv"]
    assert report.totals["params"] == 288
    assert report.totals["macs"] == 288 * 13 * 13


def test_batchnorm_over_a_sequence(tmp_path):
    """BatchNormalization of [N, 6, 10] (BatchNorm1d): 12 params, 12 statistics, 2 x 60 operations."""
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "o", "m", "v"], ["y"], name="/bn/BN")]
    inits = [weight("s", 6), weight("o", 6), weight("m", 6), weight("v", 6)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 10])
    report = analyze_graph(onnx_graph(save(tmp_path, nodes, [x], [out()], inits)))
    assert (report.totals["params"], report.totals["buffers"]) == (12, 12)
    assert report.totals["elementwise_flops"] == 120
    assert not report.meta.get("partial")

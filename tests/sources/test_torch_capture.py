"""Capturing real torch models into the Graph (netcost.sources.torch_capture): hand counts
written out here, FlopCounterMode's count of the same model, torch's parameter count."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netcost.analysis import analyze_graph  # noqa: E402
from netcost.analysis.training import train_report  # noqa: E402
from netcost.sources.torch_capture import CaptureError, capture  # noqa: E402
from tests.sources import capture_models as models  # noqa: E402

BATCH = 2


def flopcounter_flops(model, x) -> int:
    mode = FlopCounterMode(display=False)
    with torch.no_grad(), mode:
        model(x)
    return mode.get_total_flops()


def test_a_functional_model_is_lowered_onto_conv_pool_and_linear():
    model = models.FunctionalNet().eval()
    x = torch.randn(BATCH, 3, 16, 16)
    graph = capture(model, (x,), {}, name="functional")
    assert [n.op.kind for n in graph.nodes] == ["conv", "relu", "maxpool", "gap", "flatten", "linear"]
    report = analyze_graph(graph, BATCH)
    conv_macs = 8 * 16 * 16 * 3 * 3 * 3  # 55,296: out channels x positions x (in x k x k)
    linear_macs = 10 * 8
    assert report.totals["macs"] == BATCH * (conv_macs + linear_macs) == BATCH * 55_376
    assert report.totals["macs"] * 2 == flopcounter_flops(model, x)
    # bias adds 2048, relu 2048, 2x2 max pool 4 per output (512 outputs), gap 1 per input (512)
    assert report.totals["elementwise_flops"] == BATCH * (2048 + 2048 + 4 * 512 + 512)
    assert report.totals["params"] == 8 * 27 + 8 + 80 == sum(p.numel() for p in model.parameters())
    rf = {r["name"]: r["rf_size"] for r in report.rows}
    assert rf["conv2d"] == [3, 3] and rf["max_pool2d"] == [4, 4] and rf["linear"] is None
    assert report.totals["receptive_field"] == [4, 4]


def test_a_shared_block_counts_its_weights_once_and_its_work_twice():
    model = models.SharedBlockNet().eval()
    x = torch.randn(BATCH, 3, 16, 16)
    graph = capture(model, (x,), {}, name="shared")
    names = [n.name for n in graph.nodes]
    assert names[:5] == ["stem", "block.0", "block.1", "block.0_1", "block.1_1"]
    report = analyze_graph(graph, BATCH)
    params = (3 * 8 * 9 + 8) + 8 * 8 * 9 + (8 * 4 + 4)  # stem, the block's conv once, head
    assert report.totals["params"] == params == 836 == sum(p.numel() for p in model.parameters())
    macs = 8 * 256 * 27 + 2 * 8 * 256 * 72 + 8 * 4  # the block's conv twice
    assert report.totals["macs"] == BATCH * macs == BATCH * 350_240
    assert report.totals["macs"] * 2 == flopcounter_flops(model, x)
    rows = {r["name"]: r for r in report.rows}
    assert rows["block.0"]["params"] == 576 and rows["block.0_1"]["params"] == 0
    assert rows["block.0"]["rf_size"] == [5, 5] and rows["block.0_1"]["rf_size"] == [7, 7]
    assert rows["mean"]["rf_global"] and rows["mean"]["op"] == "opaque"
    assert rows["mean"]["elementwise_flops"] == BATCH * 8 * 256  # aten.mean: one add per input element


def test_a_transformer_encoder_layer_is_attention_linear_and_layernorm():
    model = models.Encoder().eval()
    x = torch.randn(BATCH, 10, 32)
    graph = capture(model, (x,), {}, name="encoder")
    kinds = [n.op.kind for n in graph.nodes]
    assert kinds.count("attention") == 1 and kinds.count("layernorm") == 2 and kinds.count("linear") == 3
    report = analyze_graph(graph, BATCH)
    length, c, ff = 10, 32, 64
    attention = 4 * length * c * c + 2 * length * length * c  # Q, K, V, out projections; QKᵀ and AV
    mlp = 2 * length * c * ff
    assert report.totals["macs"] == BATCH * (attention + mlp + 32 * 3) == BATCH * 88_416
    params = (4 * c * c + 4 * c) + (c * ff + ff) + (ff * c + c) + 2 * (2 * c) + (32 * 3 + 3)
    assert report.totals["params"] == params == sum(p.numel() for p in model.parameters())
    assert report.totals["attention_macs"] == BATCH * 2 * length * length * c
    assert train_report(graph, batch=BATCH).train["trainable_params"] == params


def test_an_lstm_cannot_be_captured_and_says_why():
    with pytest.raises(CaptureError, match="recurrent layer") as info:
        capture(models.LSTMNet().eval(), (torch.randn(BATCH, 5, 8),), {}, name="lstm")
    assert "nn.LSTM" in info.value.reason and "lstm" in info.value.reason


def test_data_dependent_control_flow_cannot_be_captured():
    with pytest.raises(CaptureError, match="data-dependent control flow"):
        capture(models.BranchOnData().eval(), (torch.randn(BATCH, 3, 4, 4),), {}, name="branch")


def test_control_flow_on_shapes_is_followed():
    graph = capture(models.ShapeBranch().eval(), (torch.randn(BATCH, 3, 2, 2),), {}, name="shapes")
    assert [n.op.kind for n in graph.nodes] == ["flatten", "linear"]
    assert analyze_graph(graph, 1).totals["macs"] == 12 * 5


def test_several_input_tensors_are_refused():
    with pytest.raises(CaptureError, match="2 tensors"):
        capture(models.TwoInputs(), (torch.randn(1, 3), torch.randn(1, 3)), {}, name="two")


def test_an_op_without_a_counting_rule_makes_the_report_partial():
    graph = capture(models.CumsumNet().eval(), (torch.randn(BATCH, 4, 6),), {}, name="cumsum")
    report = analyze_graph(graph, BATCH)
    assert report.meta["partial"] is True
    assert report.meta["unsupported_ops"] == {"aten.cumsum": 1}
    assert report.totals["macs"] == BATCH * 4 * 6 * 6  # the linear over 4 tokens is known


def test_a_sort_is_an_unknown_layer_named_sort_and_its_values_no_layer_of_their_own():
    from tests.counted.refnets import Sorts

    graph = capture(Sorts().eval(), (torch.randn(BATCH, 3, 8, 8),), {}, name="sorts")
    assert [n.name for n in graph.nodes] == ["sort", "add"]  # ``.values`` is the sort's element 0
    sort = graph.nodes[0].op
    assert sort.kind == "opaque" and sort.known is False and sort.source_op == "aten.sort"
    report = analyze_graph(graph, BATCH)
    assert report.meta["partial"] is True and report.meta["unsupported_ops"] == {"aten.sort": 1}
    assert report.totals["elementwise_flops"] == BATCH * 3 * 8 * 8  # the ``+ 1``: one add per element


def test_an_unknown_op_returning_a_named_tuple_inside_a_module_makes_the_report_partial():
    graph = capture(models.TopkNet().eval(), (torch.randn(BATCH, 4, 6),), {}, name="topk")
    assert [n.name for n in graph.nodes] == ["fc", "block.topk", "block.mul"]
    assert graph.nodes[1].op.known is False and graph.nodes[1].shape.dims == (4, 2)
    report = analyze_graph(graph, BATCH)
    assert report.meta["unsupported_ops"] == {"aten.topk": 1}
    assert report.totals["macs"] == BATCH * 4 * 6 * 6  # the linear over 4 tokens is known
    assert report.totals["elementwise_flops"] == BATCH * (4 * 6 + 4 * 2)  # its bias adds, the ``* 2``


def test_a_counted_op_returning_a_named_tuple_keeps_its_work():
    graph = capture(models.MaxOverRows().eval(), (torch.randn(BATCH, 3, 8, 8),), {}, name="max")
    assert [n.name for n in graph.nodes] == ["max", "add"]
    report = analyze_graph(graph, BATCH)
    assert "partial" not in report.meta
    # the max reads each of the 3 * 8 * 8 inputs once (one comparison each), the ``+ 1`` adds to its 3 * 8 outputs
    assert report.totals["elementwise_flops"] == BATCH * (3 * 8 * 8 + 3 * 8)


def test_capture_leaves_the_model_as_it_was():
    model = models.SharedBlockNet().eval()
    before = dict(model.__dict__)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    capture(model, (torch.randn(BATCH, 3, 16, 16),), {}, name="shared")
    assert model.__dict__.keys() == before.keys()
    assert not model.training and all(not m._forward_hooks for m in model.modules())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_a_model_on_meta_is_captured_without_fake_tensors():
    model = models.SharedBlockNet().to("meta").eval()
    graph = capture(model, (torch.empty(BATCH, 3, 16, 16, device="meta"),), {}, name="shared")
    assert analyze_graph(graph, BATCH).totals["macs"] == BATCH * 350_240


def test_token_ids_become_an_L_input_of_an_embedding():
    model = torch.nn.Sequential(torch.nn.Embedding(100, 16), torch.nn.Linear(16, 4)).eval()
    graph = capture(model, (torch.zeros(BATCH, 12, dtype=torch.long),), {}, name="tokens")
    assert graph.input_shape.layout == "L" and [n.op.kind for n in graph.nodes] == ["embedding", "linear"]
    report = analyze_graph(graph, BATCH)
    assert report.totals["params"] == 100 * 16 + 16 * 4 + 4 and report.totals["macs"] == BATCH * 12 * 16 * 4


def test_attention_written_out_is_matmul_softmax_and_permutes():
    model = models.FunctionalAttention().eval()
    x = torch.randn(BATCH, 6, 16)
    graph = capture(model, (x,), {}, name="attention")
    kinds = [n.op.kind for n in graph.nodes]
    assert kinds.count("matmul") == 2 and kinds.count("softmax") == 1 and kinds.count("linear") == 4
    assert "permute_dims" in kinds and "reshape" in kinds and "opaque" not in kinds
    report = analyze_graph(graph, BATCH)
    length, c = 6, 16
    macs = 4 * length * c * c + 2 * length * length * c  # q, k, v, proj; q @ kᵀ and attn @ v (4 heads of 4)
    assert report.totals["macs"] == BATCH * macs == BATCH * 7_296
    assert report.totals["macs"] * 2 == flopcounter_flops(model, x)
    softmax = next(r for r in report.rows if r["op"] == "softmax")
    assert softmax["elementwise_flops"] == BATCH * 3 * 4 * length * length  # 3 per score, 4 heads
    assert report.rows[-1]["rf_global"]


def test_a_sequence_first_encoder_cannot_be_captured():
    layer = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0).eval()  # batch_first=False
    with pytest.raises(CaptureError, match="batch_first=False"):
        capture(layer, (torch.randn(5, BATCH, 16),), {}, name="seq_first")


def test_a_model_in_train_mode_is_refused():
    with pytest.raises(CaptureError, match="train mode"):
        capture(models.SharedBlockNet().train(), (torch.randn(BATCH, 3, 8, 8),), {}, name="train")

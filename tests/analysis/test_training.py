"""Training cost, analytic (no torch): backward FLOPs, optimizer state, saved activations and
the step's peak, against hand calculations. The same figures are checked against a real
torch step in tests/counted/test_train_verify.py."""

import json
import subprocess
import sys

import pytest

from netcost.analysis.training import OPTIMIZER_STATE, is_frozen, resolve_optimizer, train_report
from netcost.api import load_graph
from netcost.options import TrainOptions

# conv 8x3x3x3 + 8 (2 tensors), bn 8 + 8 (2), linear 5x8 + 5 (2): 285 params in 6 tensors
SMALL = """
input: [3, 8, 8]
layers:
  - conv: {name: conv, out: 8, k: 3, pad: 1}
  - bn: {name: bn}
  - relu: {name: relu}
  - gap: {name: pool}
  - flatten
  - linear: {name: fc, out: 5}
"""

# fp32 state bytes on SMALL: buffers x 285 x 4, plus a 4-byte step tensor per parameter
# tensor (6) for the optimizers torch gives a step counter (all but SGD)
SMALL_STATE = {
    "sgd": 0,
    "momentum": 1140,
    "nesterov": 1140,
    "adagrad": 1140 + 24,
    "rmsprop": 1140 + 24,
    "rmsprop_momentum": 2280 + 24,
    "rmsprop_centered": 2280 + 24,
    "adam": 2280 + 24,
    "adamw": 2280 + 24,
    "amsgrad": 3420 + 24,
}

# x (1x4x4) -> 1x1 conv (1 weight) -> relu -> flatten -> linear 16 -> 2 (32 weights)
CHAIN = """
input: [1, 4, 4]
layers:
  - conv: {name: conv, out: 1, k: 1, bias: false}
  - relu: {name: relu}
  - flatten: {name: flat}
  - linear: {name: fc, out: 2, bias: false}
"""


def test_the_table_matches_the_seeds_chapter():
    # seeds 000 §1: SGD none, momentum/Nesterov v, AdaGrad s, RMSProp s, Adam/AdamW g and s
    assert OPTIMIZER_STATE["sgd"] == 0
    assert OPTIMIZER_STATE["momentum"] == OPTIMIZER_STATE["nesterov"] == 1
    assert OPTIMIZER_STATE["adagrad"] == OPTIMIZER_STATE["rmsprop"] == 1
    assert OPTIMIZER_STATE["adam"] == OPTIMIZER_STATE["adamw"] == 2
    assert OPTIMIZER_STATE["amsgrad"] == 3
    assert OPTIMIZER_STATE["rmsprop_momentum"] == 2


@pytest.mark.parametrize(("optimizer", "expected"), SMALL_STATE.items())
def test_optimizer_state_bytes_exact(spec_file, optimizer, expected):
    report = train_report(load_graph(spec_file(SMALL)), train=TrainOptions(optimizer=optimizer))
    assert report.train["optimizer_state_bytes"] == expected
    assert report.train["grad_bytes"] == report.train["param_bytes"] == 285 * 4
    assert report.train["buffer_bytes"] == 2 * 8 * 4 + 8  # running mean/var + int64 num_batches_tracked


def test_momentum_argument_selects_the_variant():
    assert resolve_optimizer("sgd", 0.9).buffers == 1
    assert resolve_optimizer("rmsprop", 0.9).buffers == 2
    assert resolve_optimizer("momentum", 0.5).torch_kwargs["momentum"] == 0.5
    with pytest.raises(ValueError, match="unknown optimizer"):
        resolve_optimizer("lion")


def test_backward_flops_per_layer(spec_file):
    report = train_report(load_graph(spec_file(SMALL)), batch=2)
    rows = {r["name"]: r for r in report.rows}
    conv_macs = 8 * 3 * 9 * 64 * 2  # weights x output positions x batch
    # first layer: the input needs no gradient -> no dgrad, only wgrad (= forward MACs)
    assert rows["conv"]["dgrad_flops"] == 0
    assert rows["conv"]["wgrad_flops"] == 2 * conv_macs == rows["conv"]["flops"]
    assert rows["conv"]["backward_elementwise_flops"] == 8 * 64 * 2  # bias gradient: one add per output
    assert rows["fc"]["dgrad_flops"] == rows["fc"]["wgrad_flops"] == 2 * 8 * 5 * 2
    assert rows["relu"]["backward_flops"] == 0 and rows["relu"]["backward_elementwise_flops"] == 8 * 64 * 2
    t = report.train
    assert t["backward_flops"] == 2 * conv_macs + 2 * 2 * 80
    assert t["step_flops"] == t["forward_flops"] + t["backward_flops"]


def test_grouped_and_depthwise_wgrad_is_divided_by_groups():
    # 16 -> 16 depthwise 3x3 on 16x16 (stride 1, pad 1): 16 x 1 x 9 weights x 256 positions
    report = train_report(load_graph("dwsep(16,k=3)", input_shape=(16, 16, 16)))
    dw = report.rows[0]
    assert dw["macs"] == 16 * 9 * 256
    assert dw["wgrad_flops"] == 2 * 16 * 9 * 256  # not x16: each weight meets each position once
    assert dw["dgrad_flops"] == 0  # first layer
    pw = report.rows[1]
    assert pw["dgrad_flops"] == pw["wgrad_flops"] == 2 * 16 * 16 * 256


def test_frozen_layers_have_no_wgrad_and_no_gradients(spec_file):
    graph = load_graph("resnet18")
    full = train_report(graph, train=TrainOptions(optimizer="adam"))
    frozen = train_report(graph, train=TrainOptions(optimizer="adam", freeze=("conv1", "bn1", "layer1", "layer2.*")))
    rows = {r["name"]: r for r in frozen.rows}
    assert rows["layer1.0.conv1"]["backward_flops"] == 0  # nothing trainable feeds it: no backward at all
    assert rows["layer3.0.conv1"]["dgrad_flops"] == 0  # its input needs no gradient
    assert rows["layer3.0.conv1"]["wgrad_flops"] > 0
    trainable = frozen.train["trainable_params"]
    assert trainable == full.train["trainable_params"] - 9408 - 128 - 147968 - 525568
    assert frozen.train["grad_bytes"] == 4 * trainable
    assert frozen.train["saved_activation_bytes"] < full.train["saved_activation_bytes"]
    assert is_frozen("layer2.0.conv1", ["layer2"]) and is_frozen("layer2.0.conv1", ["layer2.*"])
    assert not is_frozen("layer20.conv", ["layer2"]) and not is_frozen("fc", ["*conv*"])


def test_saved_activations_shared_once_and_peak_by_hand(spec_file):
    # batch 1, fp32: x, the conv's output c, r = relu(c) are 16 elements = 64 bytes; fc out 8 bytes.
    # saved: conv keeps x; relu keeps r (its output); fc keeps flat = a view of r: x + r = 128.
    # params 1 + 32 = 33 -> 132 bytes. Step, by hand:
    #   forward peak at relu: params 132 + x + c + r = 324 (c dies after relu)
    #   backward from a seed of 8 bytes (held with the output): fc allocates grad(flat) 64 and
    #   its weight gradient 128; flatten's gradient is a view; relu allocates grad(c) 64:
    #   132 + (x + r + out 8) + (seed 8 + grad(flat) 64 + grad(c) 64) + 128 = 532
    report = train_report(load_graph(spec_file(CHAIN)), train=TrainOptions(optimizer="sgd"))
    t = report.train
    assert t["saved_activation_bytes"] == 128
    assert t["peak_train_bytes"] == 532
    peak = t["memory"]["peak"]
    assert (peak["phase"], peak["at"]) == ("backward", "relu")
    assert peak["breakdown"] == {
        "parameters": 132,
        "buffers": 0,
        "optimizer state": 0,
        "activations": 136,
        "gradients": 136,
        "parameter gradients": 128,
        "transient": 0,
    }
    rows = {r["name"]: r for r in report.rows}
    assert rows["relu"]["saved_activation_bytes"] == 64 and rows["flat"]["saved_activation_bytes"] == 0
    assert sum(r["saved_activation_bytes"] for r in report.rows) + 64 == 128  # + the input x


def test_adam_state_and_its_step_temporaries(spec_file):
    graph = load_graph(spec_file(CHAIN))
    adam = train_report(graph, train=TrainOptions(optimizer="adam", device="cpu")).train
    assert adam["optimizer_state_bytes"] == 2 * 132 + 2 * 4  # exp_avg, exp_avg_sq + 2 step tensors
    assert adam["peak_train_bytes"] == 532 + 272  # the backward peak, state included
    # the step: grads 132 + state 272 + params 132 + the loop's temporaries at the fc weight:
    # the previous denominator (1) + sqrt and quotient of 32 -> 65 x 4 = 260 -> 796, below 804
    foreach = train_report(graph, train=TrainOptions(optimizer="adagrad", device="cuda")).train
    assert foreach["foreach"] and foreach["peak_train_bytes"] == 532 + 132 + 8


def test_maxpool_indices_are_int64_and_bn_stats_fp32_whatever_the_dtype(spec_file):
    spec = spec_file("""
    input: [4, 8, 8]
    layers:
      - conv: {name: conv, out: 4, k: 3, pad: 1, bias: false}
      - bn: {name: bn}
      - maxpool: {name: pool, k: 2}
    """)
    for dtype, width in (("fp32", 4), ("fp16", 2)):
        rows = {r["name"]: r for r in train_report(load_graph(spec), dtype=dtype).rows}
        assert rows["pool"]["saved_activation_bytes"] == 4 * 4 * 4 * 8  # 64 indices x 8 bytes
        # bn: its output (kept by the max pool) + mean and invstd per channel, fp32
        assert rows["bn"]["saved_activation_bytes"] == 4 * 64 * width + 2 * 4 * 4
        assert rows["conv"]["saved_activation_bytes"] == 4 * 64 * width  # conv out, kept by bn


def test_amp_counts_fp32_parameters_and_half_activations(spec_file):
    graph = load_graph(spec_file(CHAIN))
    amp = train_report(graph, train=TrainOptions(optimizer="adamw", amp=True)).train
    full = train_report(graph, train=TrainOptions(optimizer="adamw")).train
    assert amp["param_bytes"] == full["param_bytes"] == 132  # the fp32 master weights
    assert amp["grad_bytes"] == 132 and amp["optimizer_state_bytes"] == full["optimizer_state_bytes"]
    saved = amp["memory"]["saved_activations"]
    # conv keeps a half copy of the fp32 input (32) and of its weight (2); relu keeps r in half (32);
    # fc keeps its half input (= r) and, its input needing a gradient, its half weight (64)
    assert saved == {"tensors": 32, "private": 32, "amp_weight_copies": 2 + 64}
    with pytest.raises(ValueError, match="fp32"):
        train_report(graph, dtype="fp16", train=TrainOptions(amp=True))


def test_json_gains_train_and_layer_columns(spec_file):
    report = train_report(load_graph("resnet18"), batch=8, train=TrainOptions(optimizer="adamw"))
    doc = json.loads(json.dumps(report.to_dict()))
    for key in (
        "forward_flops",
        "backward_flops",
        "param_bytes",
        "grad_bytes",
        "optimizer_state_bytes",
        "saved_activation_bytes",
        "peak_train_bytes",
        "step_flops",
    ):
        assert isinstance(doc["train"][key], int)
    for column in ("backward_flops", "dgrad_flops", "wgrad_flops", "backward_elementwise_flops"):
        assert column in doc["layers"][0]
    folded = report.folded(1)
    layer1 = next(r for r in folded.rows if r["name"] == "layer1")
    assert layer1["backward_flops"] == sum(r["backward_flops"] for r in report.rows if r["name"].startswith("layer1."))
    assert folded.to_dict()["train"] == doc["train"]
    assert "train" not in load_report_without_training()


def load_report_without_training():
    from netcost.api import analyze

    return analyze("resnet18").to_dict()


def test_training_analysis_never_imports_torch():
    code = (
        "import sys\n"
        "from netcost.api import load_graph\n"
        "from netcost.analysis.training import train_report\n"
        "from netcost.options import TrainOptions\n"
        "train_report(load_graph('mobilenet_v2'), train=TrainOptions(optimizer='adam', amp=True))\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

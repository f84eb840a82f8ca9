"""--train on the command line: analyze, compare, check and verify."""

import json

import pytest

REQUIRED = (
    "forward_flops",
    "backward_flops",
    "param_bytes",
    "grad_bytes",
    "optimizer_state_bytes",
    "saved_activation_bytes",
    "peak_train_bytes",
)


def test_analyze_train_json(cli):
    result = cli("analyze", "resnet18", "--train", "--optimizer", "adamw", "--batch", "4", "-f", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    train = doc["train"]
    assert all(isinstance(train[k], int) for k in REQUIRED)
    assert train["forward_flops"] == doc["totals"]["flops"] == 4 * 3_628_146_688
    assert train["param_bytes"] == 4 * 11_689_512 and train["grad_bytes"] == train["param_bytes"]
    # AdamW: two parameter-sized buffers, plus a 4-byte step counter per parameter tensor (62 in resnet18)
    assert train["optimizer_state_bytes"] == 2 * 4 * 11_689_512 + 4 * 62
    assert {"backward_flops", "dgrad_flops", "wgrad_flops", "saved_activation_bytes"} <= set(doc["layers"][0])
    assert doc["layers"][0]["dgrad_flops"] == 0  # the first layer: the input needs no gradient
    table = cli("analyze", "resnet18", "--train", "--optimizer", "adamw").stdout
    assert "peak of the step" in table and "optimizer state" in table


def test_freeze_removes_weight_gradients(cli):
    full = json.loads(cli("analyze", "resnet18", "--train", "-f", "json").stdout)["train"]
    frozen = json.loads(
        cli("analyze", "resnet18", "--train", "--freeze", "layer1", "--freeze", "conv1", "-f", "json").stdout
    )["train"]
    assert frozen["wgrad_flops"] < full["wgrad_flops"] and frozen["trainable_params"] < full["trainable_params"]


def test_check_train_budget(cli):
    ok = cli("check", "resnet18", "--optimizer", "adamw", "--batch", "8", "--max-train-memory-bytes", "24GiB")
    assert ok.exit_code == 0
    over = cli(
        "check", "resnet18", "--optimizer", "adamw", "--batch", "8", "--max-train-memory-bytes", "100MiB", "-f", "json"
    )
    assert over.exit_code == 1
    (row,) = json.loads(over.stdout)["results"]
    assert row["metric"] == "train_memory_bytes" and row["actual"] > 100 * 2**20


def test_compare_train(cli):
    doc = json.loads(cli("compare", "resnet18", "mobilenet_v2", "--train", "--optimizer", "adam", "-f", "json").stdout)
    ratio = doc["models"][1]["ratio_to_first"]["train"]["optimizer_state_bytes"]
    assert ratio == pytest.approx((2 * 4 * 3_504_872 + 4 * 158) / (2 * 4 * 11_689_512 + 4 * 62))


def test_train_on_a_torch_model_uses_its_captured_graph(cli):
    """refnets:tiny has 277 parameters (conv 3 -> 8 3x3 no bias: 216, BN(8): 16, linear
    8 -> 5: 45): fp32 gradients are 4 x 277 bytes, Adam's state two moments each plus a
    4-byte step per tensor (5 tensors: conv weight, BN weight and bias, linear weight and
    bias). An LSTM has no graph, and --train says why."""
    pytest.importorskip("torch")
    args = ("analyze", "tests.counted.refnets:tiny", "--input", "3x16x16", "--train", "--optimizer", "adam")
    doc = json.loads(cli(*args, "-f", "json").stdout)
    assert doc["train"]["grad_bytes"] == 4 * 277
    assert doc["train"]["optimizer_state_bytes"] == 2 * 4 * 277 + 4 * 5
    lstm = cli("analyze", "tests.counted.inputnets:lstm", "--input", "50x128", "--train")
    assert lstm.exit_code == 2 and "--train needs a graph" in lstm.stderr and "recurrent" in lstm.stderr


def test_verify_train_cli(cli, spec_file):
    pytest.importorskip("torch")
    path = spec_file(
        "input: [3, 16, 16]\nlayers: [conv: {out: 8, k: 3, pad: 1, groups: 1}, bn, relu, "
        "conv: {out: 8, k: 3, pad: 1, groups: 8}, gap, flatten, linear: {out: 4}]\n"
    )
    result = cli("verify", path, "--train", "--optimizer", "adam", "--batch", "2", "-f", "json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    checks = {c["check"]: c for c in doc["checks"]}
    assert checks["optimizer state bytes"]["analytic"] == checks["optimizer state bytes"]["measured"]
    assert "over-counts grouped wgrad" in checks["backward FLOPs (FlopCounterMode)"]["note"]

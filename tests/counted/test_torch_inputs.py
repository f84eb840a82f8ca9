"""A torch model's inputs as users have them (--input SHAPE[:DTYPE], NAME=..., several,
the factory's example inputs), where it runs (--device), and --set / --mode refused."""

import importlib.util
import json

import pytest

import netcost
from netcost.options import OptionError, TorchInput, parse_torch_input, parse_torch_inputs
from tests.counted.inputnets import CLASSES, DIM, FFN

ENCODER = "tests.counted.inputnets:encoder"
TOKENS = 16
# by hand, one sample of 16 tokens (the embedding and LayerNorms do no MACs):
ENCODER_MACS = (
    TOKENS * DIM * 3 * DIM  # in-projection of q, k, v: 49,152
    + TOKENS * TOKENS * DIM  # q @ k^T: 8,192
    + TOKENS * TOKENS * DIM  # attention @ v: 8,192
    + TOKENS * DIM * DIM  # out-projection: 16,384
    + TOKENS * DIM * FFN
    + TOKENS * FFN * DIM  # the feed-forward: 65,536
    + TOKENS * DIM * CLASSES  # the head: 5,120
)
# Embedding(100, 32) + in_proj (32*96 + 96) + out_proj (32*32 + 32) + FFN (32*64 + 64 + 64*32 + 32)
# + two LayerNorms (2 * 64) + head (32*10 + 10)
ENCODER_PARAMS = 3200 + 3168 + 1056 + 4192 + 128 + 330


def analyze_doc(cli, *args):
    result = cli("analyze", *args, "-f", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50x128", TorchInput(None, (50, 128))),
        ("128", TorchInput(None, (128,))),
        ("3x224x224", TorchInput(None, (3, 224, 224))),
        ("128:int64", TorchInput(None, (128,), "int64")),
        ("128:bf16", TorchInput(None, (128,), "bfloat16")),
        ("8x8:fp16", TorchInput(None, (8, 8), "float16")),
        ("attention_mask=128:int64", TorchInput("attention_mask", (128,), "int64")),
        (" mask = 4 : bool ", TorchInput("mask", (4,), "bool")),
    ],
)
def test_input_text_forms(text, expected):
    assert parse_torch_input(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3xa", "is not CxHxW"),
        ("128:int65", "int65"),
        ("128:", "nothing after ':'"),
        ("1ids=128", "is not an argument name"),
        ("0x4", "positive"),
        ("1x1x1x1x1x1x1x1x1", "up to 8"),
    ],
)
def test_bad_input_text_is_located(text, message):
    with pytest.raises(OptionError, match=message) as info:
        parse_torch_input(text)
    assert repr(text.strip()) in info.value.message or text in info.value.message


def test_several_inputs_keywords_last_and_once():
    assert [i.name for i in parse_torch_inputs(["8", "context=6"])] == [None, "context"]
    with pytest.raises(OptionError, match="positional input after a keyword"):
        parse_torch_inputs(["context=6", "8"])
    with pytest.raises(OptionError, match="given twice"):
        parse_torch_inputs(["a=6", "a=6"])


def test_token_encoder_hand_count_on_meta_and_cpu(cli):
    meta = analyze_doc(cli, ENCODER, "--input", "16:int64")
    cpu = analyze_doc(cli, ENCODER, "--input", "16:int64", "--device", "cpu")
    for doc in (meta, cpu):
        assert doc["totals"]["macs"] == ENCODER_MACS == 152_576
        assert doc["totals"]["params"] == ENCODER_PARAMS
        assert not doc["partial"]
        assert doc["input"] == [1, TOKENS]
    # captured into a graph on either device: the same analytic peak (its liveness)
    assert meta["totals"]["peak_activation_bytes"] == cpu["totals"]["peak_activation_bytes"] > 0
    assert meta["source"] == cpu["source"] == "captured"
    on_meta = netcost.analyze(ENCODER, inputs=["16:int64"])
    on_cpu = netcost.analyze(ENCODER, inputs=["16:int64"], device="cpu")
    assert (on_meta.meta["device"], on_cpu.meta["device"]) == ("meta", "cpu")


def test_batch_is_prepended_to_each_input(cli):
    doc = analyze_doc(cli, ENCODER, "--input", "16:int64", "--batch", "3")
    assert doc["totals"]["macs"] == 3 * ENCODER_MACS and doc["input"] == [3, TOKENS]


def test_positional_and_keyword_inputs(cli):
    doc = analyze_doc(cli, "tests.counted.inputnets:two_inputs", "--input", "8", "--input", "context=6", "-b", "2")
    assert doc["totals"]["macs"] == 2 * (8 * 4 + 6 * 4)


def test_factory_example_inputs_are_used_as_given(cli):
    doc = analyze_doc(cli, "tests.counted.inputnets:with_example")
    assert doc["totals"]["macs"] == 4 * (8 * 4 + 6 * 4) and doc["input"] == [4, 8]
    assert any("example inputs" in note for note in doc["notes"])
    # --input replaces them; --batch applies to --input shapes only
    doc = analyze_doc(cli, "tests.counted.inputnets:with_example", "-i", "8", "-i", "context=6", "-b", "2")
    assert doc["totals"]["macs"] == 2 * (8 * 4 + 6 * 4)


def test_factory_returning_a_bad_tuple_exit_2(cli):
    result = cli("analyze", "tests.counted.inputnets:bad_tuple")
    assert result.exit_code == 2 and "(model, args)" in result.output


def test_no_input_is_exit_2_with_the_syntax(cli):
    result = cli("analyze", ENCODER)
    assert result.exit_code == 2
    assert "needs an input" in result.output and "--input 128:int64" in result.output


def test_python_api_takes_the_same_inputs():
    report = netcost.analyze(ENCODER, inputs=[TorchInput(None, (TOKENS,), "int64")], device="cpu")
    assert report.totals["macs"] == ENCODER_MACS
    report = netcost.analyze("tests.counted.inputnets:two_inputs", inputs=["8", "context=6"])
    assert report.totals["macs"] == 8 * 4 + 6 * 4
    assert netcost.check(ENCODER, budgets={"macs": 200_000}, inputs=["16:int64"]).passed


def test_a_spec_keeps_its_input_and_refuses_torch_forms(cli):
    assert analyze_doc(cli, "resnet18", "--input", "160")["input"] == [1, 3, 160, 160]
    for args, message in (
        (["--input", "128:int64"], "a spec takes one --input"),
        (["--input", "160", "--input", "160"], "a spec takes one --input"),
        (["--device", "cpu"], "on no device"),
    ):
        result = cli("analyze", "resnet18", *args)
        assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", ENCODER, "-i", "16:int64"),
        ("check", ENCODER, "-i", "16:int64", "--max-macs", "1G"),
        ("compare", ENCODER, ENCODER, "-i", "16:int64"),
        ("profile", "tests.counted.refnets:tiny", "-i", "3x16x16", "--min-time", "0.01"),
    ],
)
def test_set_on_a_torch_model_is_exit_2(cli, args):
    result = cli(*args, "--set", "width=2")
    assert result.exit_code == 2 and "--set applies to specs" in result.output, result.output


def test_mode_train_counts_batchnorm_on_batch_statistics(cli):
    """fvcore's test: a train-mode BatchNorm2d(10, affine=False) on a 10x10x5x5 input is
    10,000 in its convention (4 per element: mean, subtract, variance, divide); in eval
    fvcore counts 1 per element (2,500)."""
    args = ("tests.counted.inputnets:bn10", "-i", "10x5x5", "-b", "10", "-c", "fvcore")
    train = analyze_doc(cli, *args, "--mode", "train")
    assert train["totals"]["flops"] == 10_000 and any("mode: train" in n for n in train["notes"])
    assert analyze_doc(cli, *args)["totals"]["flops"] == 2_500


def test_mode_is_eval_by_default(cli):
    assert analyze_doc(cli, ENCODER, "-i", "16:int64", "--mode", "eval")["totals"]["macs"] == ENCODER_MACS
    result = cli("analyze", ENCODER, "-i", "16:int64", "--mode", "sideways")
    assert result.exit_code == 2 and "unknown mode" in result.output


def test_a_module_in_the_current_directory_is_importable(cli, tmp_path, monkeypatch):
    (tmp_path / "mynet_here.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Linear(5, 3, bias=False)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", ".", str(tmp_path))])
    assert analyze_doc(cli, "mynet_here:build", "--input", "7x5")["totals"]["macs"] == 7 * 5 * 3


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs transformers")
def test_hugging_face_recipe(cli):
    doc = analyze_doc(
        cli, "tests.counted.inputnets:bert", "--input", "input_ids=32:int64", "--input", "attention_mask=32:int64"
    )
    hidden, inner, layers, seq = 64, 128, 2, 32
    per_layer = seq * hidden * 4 * hidden + 2 * seq * seq * hidden + 2 * seq * hidden * inner
    assert doc["totals"]["macs"] == layers * per_layer
    assert not doc["partial"]


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs transformers")
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_hugging_face_gpt2(cli, device):
    """Per layer: the fused QKV projection h x 3h, the output projection h x h, the MLP
    h x 4h and 4h x h (GPT-2's Conv1D layers are addmm), and the causal attention's two
    products L x L x h (the mask drops no multiply in the kernel): 12 L h^2 + 2 L^2 h."""
    doc = analyze_doc(cli, "tests.counted.inputnets:gpt2", "--input", "48:int64", "--device", device)
    hidden, layers, seq = 64, 2, 48
    assert doc["totals"]["macs"] == layers * (12 * seq * hidden * hidden + 2 * seq * seq * hidden)
    assert not doc["partial"]


def test_an_lstm_takes_a_sequence_input():
    """``--input 50x128`` is 50 steps of 128 features (before, an image shape: a 4-D
    input the LSTM refused). Per step, layer 1: 4 gates x 256 x (128 + 256); layer 2:
    4 x 256 x (256 + 256); the head: 256 x 10 on the last step. (Counted on meta; the
    CPU kernel's rule and the split's zero cost belong to the counting rules.)"""
    report = netcost.analyze("tests.counted.inputnets:lstm", inputs=["50x128"])
    assert report.totals["macs"] == 50 * (4 * 256 * (128 + 256) + 4 * 256 * (256 + 256)) + 256 * CLASSES
    assert report.input == [1, 50, 128]

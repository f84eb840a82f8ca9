"""Transformers and ConvNeXt: ViT-B/16 and ConvNeXt-T (torchvision), the token ops, and
shapes beyond CxHxW.

Each spec's default matches its golden row (tests/test_models_golden.py); here: hand counts
of the same totals written out, the parts of MACs the counters miss (attention, the
nn.MultiheadAttention projections) against the golden row's by-formula figures, torchvision's
module names and per-child params, and the spec language's token inputs and layout errors.
"""

from __future__ import annotations

import json

import pytest

from netcost.api import analyze, load_graph
from netcost.core.cost import Cost
from netcost.core.shape import Shape
from netcost.errors import ShapeError, SpecError
from netcost.spec.jsonschema import spec_schema
from tests.reference import reference

# -- ViT-B/16 by hand ------------------------------------------------------------------------

L, C, MLP, LAYERS, HEADS = 197, 768, 3072, 12, 12  # 196 patches + the class token
QKV = 3 * L * C * C  # 348,585,984
OUT_PROJ = L * C * C  # 116,195,328
QK = AV = L * L * C  # 29,805,312
MLP_MACS = 2 * L * C * MLP  # 929,562,624
PATCH_CONV = 196 * C * 3 * 16 * 16  # 115,605,504
HEAD = C * 1000


def test_vit_b_16_hand_count():
    assert (QKV, OUT_PROJ, QK, MLP_MACS, PATCH_CONV) == (
        348_585_984,
        116_195_328,
        29_805_312,
        929_562_624,
        115_605_504,
    )
    macs = LAYERS * (QKV + OUT_PROJ + QK + AV + MLP_MACS) + PATCH_CONV + HEAD
    layer_params = 2 * C + (4 * C * C + 4 * C) + 2 * C + (C * MLP + MLP + MLP * C + C)
    params = (3 * 16 * 16 * C + C) + C + L * C + LAYERS * layer_params + 2 * C + (C * 1000 + 1000)
    totals = analyze("vit_b_16").totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (params, 0, macs) == (86_567_656, 0, 17_563_828_224)


def graph_parts(name: str) -> Cost:
    graph = load_graph(name)
    total = Cost()
    for node in graph.nodes:
        total = total + node.op.cost(node.in_shapes, node.shape)
    return total


def test_vit_b_16_attention_parts_are_what_the_counters_miss():
    """``attention`` (Q·Kᵀ, A·V) and ``mha_projections`` equal the golden row's by-formula
    figures, and rebuild the tools' totals: FlopCounterMode under no_grad misses both, with
    grad Q·Kᵀ and A·V only; fvcore (which adds its LayerNorm counts) Q·Kᵀ and A·V."""
    parts, ref = graph_parts("vit_b_16"), reference()["vit_b_16"]
    assert parts.attention == LAYERS * (QK + AV) == ref["attention_macs"] == 715_327_488
    assert parts.mha_projections == LAYERS * (QKV + OUT_PROJ) == ref["mha_projection_macs"]
    assert 2 * (parts.macs - parts.attention - parts.mha_projections) == ref["flop_counter_total"] == 22_542_249_984
    assert 2 * (parts.macs - parts.attention) == ref["flop_counter_total_grad"] == 33_697_001_472
    layernorm = 25 * 5 * L * C  # 25 LayerNorms, fvcore's 5 per element (affine)
    assert ref["fvcore"]["by_operator"]["layer_norm"] == layernorm
    assert parts.macs - parts.attention + layernorm == ref["fvcore"]["total"] == 16_867_412_736


def test_vit_b_16_names_are_torchvisions():
    rows = {r["name"]: r for r in analyze("vit_b_16").rows}
    for module, params in reference()["vit_b_16"]["module_params"].items():
        assert sum(r["params"] for n, r in rows.items() if n.split(".")[0] == module) == params, module
    layer = "encoder.layers.encoder_layer_11"
    for name, op in [
        ("conv_proj", "conv"),
        ("class_token", "class_token"),
        ("encoder.pos_embedding", "pos_embedding"),
        (f"{layer}.ln_1", "layernorm"),
        (f"{layer}.self_attention", "attention"),
        (f"{layer}.ln_2", "layernorm"),
        (f"{layer}.mlp.0", "linear"),
        (f"{layer}.mlp.1", "gelu"),
        (f"{layer}.mlp.3", "linear"),
        ("encoder.ln", "layernorm"),
        ("heads.head", "linear"),
    ]:
        assert rows[name]["op"] == op, name
    assert rows["class_token"]["params"] == C and rows["encoder.pos_embedding"]["params"] == L * C
    assert rows[f"{layer}.self_attention"]["params"] == 4 * C * C + 4 * C
    assert rows["tokens"]["output_shape"] == [1, 196, C] and rows["tokens"]["output_layout"] == "LC"
    assert rows["class_output"]["output_shape"] == [1, C]
    # fields: a patch token sees its 16x16 patch; after the first attention, everything
    assert rows["encoder.pos_embedding"]["rf_size"] == [16, 16] and not rows["encoder.pos_embedding"]["rf_global"]
    assert rows["encoder.layers.encoder_layer_0.self_attention"]["rf_global"]


def test_vit_variables():
    """ViT-B/32 (torchvision vit_b_32: 88,224,232 params): 49 patches + 1 token."""
    totals = analyze("vit_b_16", {"patch": 32}).totals
    assert totals["params"] == 86_567_656 - (3 * 16 * 16 * C - 3 * 32 * 32 * C) - (197 - 50) * C == 88_224_232
    tokens = 50
    assert totals["macs"] == LAYERS * (4 * tokens * C * C + 2 * tokens * tokens * C + 2 * tokens * C * MLP) + (
        49 * C * 3 * 32 * 32 + HEAD
    )


# -- ConvNeXt-T by hand ----------------------------------------------------------------------

DEPTHS, WIDTHS = (3, 3, 9, 3), (96, 192, 384, 768)


def convnext_by_hand() -> tuple[int, int]:
    """Params and conv + linear MACs of ConvNeXt-T at 224 (maps 56, 28, 14, 7)."""
    params = 3 * 16 * 96 + 96 + 2 * 96  # stem conv, LayerNorm2d
    macs = 3 * 16 * 96 * 56 * 56
    for s, (n, c) in enumerate(zip(DEPTHS, WIDTHS, strict=True)):
        hw = 56 >> s
        if s:
            cin = WIDTHS[s - 1]
            params += 2 * cin + cin * 4 * c + c  # LayerNorm2d, 2x2 /2 conv
            macs += cin * 4 * c * hw * hw
        block = (49 * c + c) + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c) + c  # dw, LN, MLP, layer scale
        params += n * block
        macs += n * (49 * c + 8 * c * c) * hw * hw
    params += 2 * 768 + 768 * 1000 + 1000
    macs += 768 * 1000
    return params, macs


def test_convnext_tiny_hand_count():
    params, macs = convnext_by_hand()
    ref = reference()["convnext_tiny"]
    assert (params, macs) == (ref["params"], ref["conv_linear_macs"]) == (28_589_128, 4_455_531_264)
    totals = analyze("convnext_tiny").totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (params, 0, macs)
    parts = graph_parts("convnext_tiny")
    assert (parts.attention, parts.mha_projections) == (0, 0)
    assert ref["flop_counter_total"] == ref["flop_counter_total_grad"] == 2 * macs


def test_convnext_tiny_names_are_torchvisions():
    rows = {r["name"]: r for r in analyze("convnext_tiny").rows}
    for module, params in reference()["convnext_tiny"]["module_params"].items():
        assert sum(r["params"] for n, r in rows.items() if n.split(".")[0] == module) == params, module
    ops = {
        "features.0.0": "conv",
        "features.0.1": "layernorm",
        "features.1.0.block.0": "conv",
        "features.1.0.block.1": "permute",
        "features.1.0.block.2": "layernorm",
        "features.1.0.block.3": "linear",
        "features.1.0.block.4": "gelu",
        "features.1.0.block.5": "linear",
        "features.1.0.block.6": "permute",
        "features.1.0.layer_scale": "layer_scale",
        "features.1.0.stochastic_depth": "drop_path",
        "features.2.0": "layernorm",
        "features.2.1": "conv",
        "features.5.8.layer_scale": "layer_scale",
        "avgpool": "gap",
        "classifier.0": "layernorm",
        "classifier.2": "linear",
    }
    assert {n: rows[n]["op"] for n in ops} == ops
    assert rows["features.1.0.block.3"]["output_shape"] == [1, 56, 56, 384]
    assert rows["features.1.0.block.3"]["output_layout"] == "HWC"
    assert rows["features.1.0.layer_scale"]["params"] == 96
    # stochastic depth: 0.1 * block / 17 over the 18 blocks, as torchvision
    graph = load_graph("convnext_tiny")
    probs = [n.op.p for n in graph.nodes if n.op.kind == "drop_path"]
    assert probs[0] == 0 and probs[-1] == pytest.approx(0.1) and probs[3] == pytest.approx(0.3 / 17)


def test_layernorm_over_channels_is_per_channel():
    """LayerNorm2d (ConvNeXt): 2C params; over everything: 2 * C * H * W."""
    rows = {r["name"]: r for r in analyze("convnext_tiny").rows}
    assert rows["features.0.1"]["params"] == 2 * 96
    assert rows["features.0.1"]["elementwise_flops"] == 5 * 96 * 56 * 56


# -- the spec language: token inputs, layouts, errors -----------------------------------------

TINY = """
    input: {input}
    layers:
      - {layers}
    """


def tiny(spec_file, input_text: str, layers: str):
    return analyze(spec_file(TINY.format(input=input_text, layers=layers)))


def test_token_input_and_cross_attention(spec_file):
    """Tokens as the input ([L, C] is tokens by default); cross-attention as a merge of a
    query branch and a key/value branch of another length and width."""
    text = """
        input: [10, 16]
        layers:
          - parallel:
              merge: {attention: {heads: 4}}
              branches:
                - []
                - - linear: {out: 8}
          - mean_tokens
        """
    rows = {r["name"]: r for r in analyze(spec_file(text)).rows}
    attention = rows["attention1"]
    c, d, length = 16, 8, 10
    assert attention["output_shape"] == [1, length, c]
    assert attention["params"] == 2 * c * c + 2 * c * d + 4 * c
    assert attention["macs"] == 2 * length * c * c + 2 * length * d * c + 2 * length * length * c
    assert rows["mean_tokens1"]["output_shape"] == [1, c]


def test_causal_self_attention_elementwise(spec_file):
    """Bias adds, Q scaling, softmax 3 per score, the mask 1 per score."""
    rows = tiny(spec_file, "[6, 8]", "attention: {heads: 2, causal: true}").rows
    scores = 2 * 6 * 6
    assert rows[0]["elementwise_flops"] == 4 * 6 * 8 + 6 * 8 + 3 * scores + scores


def test_channels_last_input_and_token_ids(spec_file):
    report = tiny(spec_file, "{shape: [4, 4, 8], layout: HWC}", "linear: {out: 3}")
    assert report.input == [1, 4, 4, 8] and report.rows[0]["output_layout"] == "HWC"
    assert report.rows[0]["macs"] == 16 * 8 * 3
    report = tiny(spec_file, "{shape: [12], layout: L}", "embedding: {vocab: 100, dim: 16}")
    assert report.rows[0]["output_shape"] == [1, 12, 16] and report.rows[0]["params"] == 1600
    assert report.rows[0]["macs"] == 0


@pytest.mark.parametrize(
    ("input_text", "layer", "message", "hint"),
    [
        ("[3, 8, 8]", "attention: {heads: 2}", "attention takes a token sequence", "to_tokens"),
        ("[16, 8]", "conv: {out: 4, k: 3}", "needs a CxHxW feature map", "to_map"),
        ("{shape: [4, 4, 8], layout: HWC}", "maxpool: {k: 2}", "needs a CxHxW", "permute"),
        ("[3, 8, 8]", "linear: {out: 4}", "flat input", "flatten"),
        ("[10, 16]", "attention: {heads: 3}", "must divide the 16 channels", None),
        ("[3, 8, 8]", "permute: {layout: HWC}\n      - bn", "bn takes", "permute"),
    ],
)
def test_wrong_layouts_are_located_errors(spec_file, input_text, layer, message, hint):
    with pytest.raises(ShapeError, match=message) as err:
        tiny(spec_file, input_text, layer)
    assert err.value.location.line is not None
    if hint:
        assert hint in err.value.hint


@pytest.mark.parametrize(
    ("input_text", "message"),
    [
        ("{shape: [4, 4], layout: HWC}", "layout HWC has 3"),
        ("{shape: [4, 4, 8], layout: XYZ}", "unknown input layout"),
        ("{layout: LC}", "needs `shape`"),
        ("[1, 2, 3, 4]", "has 4 entries"),
    ],
)
def test_bad_input_forms(spec_file, input_text, message):
    with pytest.raises(SpecError, match=message) as err:
        tiny(spec_file, input_text, "relu")
    assert err.value.location.line == 1


def test_input_override_of_tokens(spec_file):
    path = spec_file(TINY.format(input="[10, 16]", layers="attention: {heads: 4}"))
    assert analyze(path, input_shape="20x16").rows[0]["output_shape"] == [1, 20, 16]
    with pytest.raises(SpecError, match="give every size"):
        analyze(path, input_shape="3x20x16")


def test_one_input_size_is_the_sequence_length(spec_file, cli):
    """One --input size on a token input is its length (channels kept); on an image, square."""
    tokens = spec_file(TINY.format(input="[10, 16]", layers="attention: {heads: 4}"))
    rows = analyze(tokens, input_shape="128").rows
    assert rows[0]["output_shape"] == [1, 128, 16]
    assert rows[0]["macs"] == 4 * 128 * 16 * 16 + 2 * 128 * 128 * 16  # projections, Q·Kᵀ and A·V
    ids = spec_file(TOKEN_IDS, "ids.yaml")
    doc = json.loads(cli("analyze", str(ids), "--input", "128", "-f", "json").stdout)
    assert doc["input"] == [1, 128] and doc["layers"][0]["output_shape"] == [1, 128, 16]
    assert analyze("resnet18", input_shape="160").rows[0]["output_shape"] == [1, 64, 80, 80]


def test_json_schema_takes_layouts():
    schema = spec_schema()
    (listed, mapping) = schema["properties"]["input"]["anyOf"]
    assert listed["type"] == "array" and set(mapping["properties"]["layout"]["enum"]) >= {"HWC", "LC", "L"}
    text = json.dumps(schema)
    for kind in ("attention", "to_tokens", "class_token", "pos_embedding", "layer_scale", "drop_path", "embedding"):
        assert f'"{kind}"' in text, kind


def test_shape_layouts():
    assert Shape.of(3, 4, 5).layout == "CHW" and Shape.of(7).layout == "F"
    assert Shape.of(3, 4, 5) == Shape((3, 4, 5), "CHW") != Shape.channels_last(3, 4, 5)
    x = Shape.channels_last(4, 5, 8)
    assert (x.c, x.h, x.w, x.spatial, x.is_map) == (8, 4, 5, (4, 5), False)
    t = Shape.tokens(197, 768)
    assert (t.c, t.is_tokens, t.describe()) == (768, True, "197x768 (LC)")
    with pytest.raises(ValueError, match="does not fit"):
        Shape((3, 4), "CHW")


# -- Swin-T by hand --------------------------------------------------------------------------

SWIN_DEPTHS, SWIN_HEADS, WINDOW = (2, 2, 6, 2), (3, 6, 12, 24), 7


def swin_by_hand() -> tuple[int, int, int]:
    """Params, buffers and conv + linear + matmul MACs of Swin-T at 224 (maps 56, 28, 14, 7:
    multiples of the window, so no padding; 49 tokens per window)."""
    n_win = WINDOW * WINDOW
    params = 3 * 16 * 96 + 96 + 2 * 96  # patch conv, LayerNorm
    macs = 3 * 16 * 96 * 56 * 56
    buffers = 0
    for s, (depth, heads) in enumerate(zip(SWIN_DEPTHS, SWIN_HEADS, strict=True)):
        c, n = 96 << s, 56 >> s
        if s:  # patch merging: LayerNorm(4C/2... of the previous width) and a 4C -> 2C linear, no bias
            cin = c // 2
            params += 2 * 4 * cin + 4 * cin * c
            macs += n * n * 4 * cin * c
        attn = 4 * c * c + 4 * c + (2 * WINDOW - 1) ** 2 * heads  # qkv, proj, the bias table
        mlp = c * 4 * c + 4 * c + 4 * c * c + c
        params += depth * (2 * c + attn + 2 * c + mlp)
        buffers += depth * n_win * n_win  # relative_position_index
        windows = (n // WINDOW) ** 2
        macs += depth * (4 * n * n * c * c + 2 * windows * n_win * n_win * c + 8 * n * n * c * c)
    params += 2 * 768 + 768 * 1000 + 1000
    macs += 768 * 1000
    return params, buffers, macs


def test_swin_t_hand_count():
    ref = reference()["swin_t"]
    by_hand = swin_by_hand()
    assert by_hand == (ref["params"], ref["buffers"], ref["conv_linear_macs"]) == (28_288_354, 28_812, 4_490_566_656)
    totals = analyze("swin_t").totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == by_hand
    # explicit matmuls: both counters see them (fvcore's matmul bucket is Q·Kᵀ + A·V)
    parts = graph_parts("swin_t")
    assert (parts.attention, parts.mha_projections) == (0, 0)
    assert ref["fvcore"]["by_operator"]["matmul"] == sum(
        d * 2 * ((56 >> s) // WINDOW) ** 2 * 49 * 49 * (96 << s) for s, d in enumerate(SWIN_DEPTHS)
    )
    assert ref["flop_counter_total"] == 2 * by_hand[2]


def test_swin_t_names_and_shifts():
    rows = {r["name"]: r for r in analyze("swin_t").rows}
    for module, params in reference()["swin_t"]["module_params"].items():
        assert sum(r["params"] for n, r in rows.items() if n.split(".")[0] == module) == params, module
    ops = {
        "features.0.0": "conv",
        "features.0.1": "permute",
        "features.0.2": "layernorm",
        "features.1.0.norm1": "layernorm",
        "features.1.0.attn": "window_attention",
        "features.1.0.mlp.0": "linear",
        "features.1.0.mlp.3": "linear",
        "features.2.norm": "layernorm",
        "features.2.reduction": "linear",
        "norm": "layernorm",
        "permute": "permute",
        "avgpool": "gap",
        "head": "linear",
    }
    assert {n: rows[n]["op"] for n in ops} == ops
    assert rows["features.2.merge"]["output_shape"] == [1, 28, 28, 384]
    assert rows["features.2.reduction"]["params"] == 384 * 192
    graph = load_graph("swin_t")
    shifts = {n.name: n.op.shift for n in graph.nodes if n.op.kind == "window_attention"}
    assert shifts["features.1.0.attn"] == 0 and shifts["features.1.1.attn"] == 3
    # stage 4's 7x7 map is one window: torchvision drops the shift, and with it the mask
    scores = 24 * 49 * 49
    c, p = 768, 49
    no_mask = 4 * c * p + p * c + scores * (1 + 3)
    assert rows["features.7.1.attn"]["elementwise_flops"] == rows["features.7.0.attn"]["elementwise_flops"] == no_mask
    assert rows["features.5.1.attn"]["elementwise_flops"] > rows["features.5.0.attn"]["elementwise_flops"]


def test_window_attention_pads_to_the_window(spec_file):
    """A 9x11 map and 4x4 windows: padded to 12x12, 9 windows of 16 tokens."""
    report = tiny(spec_file, "{shape: [9, 11, 8], layout: HWC}", "window_attention: {heads: 2, window: 4, shift: 2}")
    row = report.rows[0]
    assert row["output_shape"] == [1, 9, 11, 8]
    assert row["params"] == 4 * 64 + 4 * 8 + 49 * 2 and row["buffers"] == 16 * 16
    assert row["macs"] == 4 * 144 * 64 + 2 * 9 * 16 * 16 * 8


# -- compiled and counted (torch) ------------------------------------------------------------

CHANNELS_LAST = """
    input: [8, 16, 16]
    layers:
      - permute: {layout: HWC}
      - layernorm
      - linear: {out: 32}
      - gelu
      - linear: {out: 8}
      - permute: {layout: CHW}
      - layer_scale
      - drop_path: {p: 0.1}
      - layernorm: {over: channels}
      - conv: {out: 8, k: 3, pad: 1}
      - to_tokens
      - class_token
      - pos_embedding
      - select_token
      - linear: {out: 4}
    """
TOKEN_IDS = """
    input: {shape: [12], layout: L}
    layers:
      - embedding: {vocab: 100, dim: 16}
      - linear: {out: 8}
      - mean_tokens
    """


@pytest.mark.parametrize("text", [CHANNELS_LAST, TOKEN_IDS], ids=["channels_last", "token_ids"])
def test_token_and_channels_last_models_verify(spec_file, text):
    """Compiled, run and counted: params, shapes, bytes, both counters' FLOPs and the peak
    memory agree with the analytic rows (token ids are fed as int64)."""
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    from netcost.api import verify

    report = verify(spec_file(text), fields=False)
    assert report.passed, report.mismatches


@pytest.mark.parametrize("name", ["vit_b_16", "convnext_tiny", "swin_t"])
def test_state_dict_is_torchvisions(name):
    """Keys and shapes of the compiled model's state_dict() are torchvision's (the golden row's
    ``state_dict_shapes``): class_token, encoder.pos_embedding and layer_scale are tensors of
    their parent module, not modules. (Swin's PatchMerging registers reduction before norm,
    so its order differs there; loading is by key.)"""
    pytest.importorskip("torch")
    from netcost.counted.compile import build

    model = build(load_graph(name))
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == reference()[name]["state_dict_shapes"]


def test_one_tensor_layers_are_parameters_of_their_parent(spec_file):
    """The layer's module is still found by its name (hooks, --freeze), and follows .to(),
    load_state_dict(assign=True) and freezing, since it is handed the parent's tensor."""
    torch = pytest.importorskip("torch")
    from netcost.counted.compile import build

    text = """
        input: [3, 4, 4]
        layers:
          - conv: {name: conv, out: 8, k: 3, pad: 1}
          - to_tokens
          - class_token: {name: class_token}
          - pos_embedding: {name: pos}
          - select_token
          - linear: {out: 4}
        """
    from netcost.analysis.training import _parameter_order, layer_facts

    graph = load_graph(spec_file(text))
    model = build(graph)
    # a module's own tensors come first: the training model's optimizer order follows
    assert list(dict(model.named_parameters()))[:3] == ["class_token", "pos", "conv.weight"]
    assert [p.numel() for p in model.parameters()] == _parameter_order(graph, layer_facts(graph, 1))
    assert dict(model.named_parameters())["pos"].shape == (1, 17, 8)
    assert "class_token" in dict(model.named_parameters())
    assert not any(n.startswith("class_token.") for n, _ in model.named_parameters())
    token = torch.ones_like(model.class_token)
    model.load_state_dict({**model.state_dict(), "class_token": token}, assign=True)
    assert model.get_submodule("class_token").token is model.class_token
    out = model(torch.randn(2, 3, 4, 4))
    assert out.shape == (2, 4)
    model.get_submodule("class_token").requires_grad_(False)
    assert not model.class_token.requires_grad

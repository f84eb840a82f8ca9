#!/usr/bin/env python3
"""Regenerate tests/golden/reference.json from torchvision / timm models.

The golden file holds reference numbers computed *outside* netcost (parameter
and buffer counts, fvcore and torch.utils.flop_counter totals, output shapes,
per-module tables) so that netcost's tests can assert against them without
torchvision being installed.

This script is NOT run by the normal test suite. It needs its own environment:

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.14.1 torchvision==0.29.1 fvcore timm
    /tmp/refenv/bin/python scripts/golden_reference.py

No weights are ever downloaded: torchvision models are built with
``weights=None`` and timm models with ``pretrained=False``. Every model is built
in eval mode on CPU and run on one random input of batch size 1.

Counting conventions recorded in the file:

* ``fvcore``: fvcore counts one fused multiply-add as one "flop", so its
  ``conv``/``linear`` buckets are MACs. ``conv_linear_macs`` is the sum of the
  conv + linear (+ addmm/matmul/mm/bmm/einsum, when present) buckets.
* ``flop_counter_total``: torch.utils.flop_counter counts 2 flops per MAC and
  only matmul-like ops (convolution, mm, addmm, bmm, ...).

Tables: ``module_params`` (each top-level module), ``nested_modules`` for the models
marked ``nested`` (params and output shape of each module two levels down: ``repeat.0``,
``backbone.layer1``), ``per_module`` for PER_MODULE_MODELS (every leaf module).
A model that returns a dict (torchvision's segmentation models) is measured on ``out``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.metadata
import inspect
import json
import math
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torchvision
from fvcore.nn import FlopCountAnalysis
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

tv_regnet = importlib.import_module("torchvision.models.regnet")
tv_googlenet = importlib.import_module("torchvision.models.googlenet")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "golden" / "reference.json"

# fvcore by_operator buckets that are multiply-accumulate (matmul-like) work.
MAC_OPERATORS = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")

# torchvision's documented eval resolution for each EfficientNet (crop size of
# the IMAGENET1K_V1 weights' transforms). Checked at run time against
# torchvision's own weight metadata; a mismatch aborts the run.
EFFICIENTNET_EXPECTED_RES = {
    0: 224,
    1: 240,
    2: 288,
    3: 300,
    4: 380,
    5: 456,
    6: 528,
    7: 600,
}

# Models that get a full per-leaf-module table.
PER_MODULE_MODELS = ("resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_0")

# torchvision RegNet -> timm model built with the pycls (paper) rounding rule.
REGNETS = {
    "regnet_x_400mf": "regnetx_004",
    "regnet_y_400mf": "regnety_004",
    "regnet_x_800mf": "regnetx_008",
    "regnet_y_800mf": "regnety_008",
    "regnet_x_1_6gf": "regnetx_016",
    "regnet_y_1_6gf": "regnety_016",
}


# Models with attention (or LayerNorm-heavy transformer-style blocks): their rows also record
# FlopCounterMode with grad and the attention MACs by formula (see _attention_record).
TRANSFORMERS = ("vit_b_16", "convnext_tiny", "swin_t")


@dataclass(frozen=True)
class ModelSpec:
    """One model to measure: where it comes from and how it is called."""

    name: str
    library: str  # "torchvision" or "timm"
    builder: str  # torchvision.models function name (``segmentation.fcn_resnet50``), or timm model name
    kwargs: dict[str, Any] = field(default_factory=dict)
    hw: int = 224
    extra: dict[str, Any] = field(default_factory=dict)
    nested: bool = False  # also record each module two levels down (``repeat.0``): params, output shape

    @property
    def call(self) -> str:
        """The exact Python call used to construct the model."""
        if self.library == "torchvision":
            args = {"weights": None, **self.kwargs}
            inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
            return f"torchvision.models.{self.builder}({inner})"
        args = {"pretrained": False, **self.kwargs}
        inner = ", ".join([repr(self.builder)] + [f"{k}={v!r}" for k, v in args.items()])
        return f"timm.create_model({inner})"

    def build(self) -> nn.Module:
        if self.library == "torchvision":
            fn: Callable[..., nn.Module] = torchvision.models
            for part in self.builder.split("."):
                fn = getattr(fn, part)
            return fn(weights=None, **self.kwargs)
        return timm.create_model(self.builder, pretrained=False, **self.kwargs)


def _efficientnet_resolution(index: int) -> int:
    """EfficientNet-B<index> eval crop size from torchvision's weight metadata."""
    weights = torchvision.models.get_weight(f"EfficientNet_B{index}_Weights.IMAGENET1K_V1")
    crop = weights.transforms().crop_size
    res = int(crop[0])
    expected = EFFICIENTNET_EXPECTED_RES[index]
    if res != expected:
        raise SystemExit(f"efficientnet_b{index}: torchvision crop size {res} != expected {expected}")
    return res


def model_specs() -> list[ModelSpec]:
    tv = "torchvision"
    no_aux = {"aux_logits": False, "init_weights": False}
    specs = [
        ModelSpec(n, tv, n)
        for n in (
            "alexnet",
            "vgg11",
            "vgg13",
            "vgg16",
            "vgg19",
            "vgg11_bn",
            "vgg16_bn",
        )
    ]
    specs += [
        ModelSpec("googlenet", tv, "googlenet", no_aux),
        ModelSpec("inception_v3", tv, "inception_v3", no_aux, hw=299),
    ]
    specs += [
        ModelSpec(n, tv, n)
        for n in (
            "resnet18",
            "resnet34",
            "resnet50",
            "resnet101",
            "resnet152",
            "resnext50_32x4d",
            "resnext101_32x8d",
            "wide_resnet50_2",
            "densenet121",
            "densenet169",
            "densenet201",
            "densenet161",
            "mobilenet_v2",
        )
    ]
    specs += [ModelSpec(f"mobilenet_v2@width={w}", tv, "mobilenet_v2", {"width_mult": w}) for w in (0.5, 0.75, 1.4)]
    specs += [ModelSpec(n, tv, n) for n in ("mobilenet_v3_small", "mobilenet_v3_large")]
    specs.append(ModelSpec("mobilenet_v3_large@width=0.75", tv, "mobilenet_v3_large", {"width_mult": 0.75}))
    specs.append(ModelSpec("mobilenet_v3_small@width=0.5", tv, "mobilenet_v3_small", {"width_mult": 0.5}))
    specs.append(ModelSpec("squeezenet1_0", tv, "squeezenet1_0"))
    specs += [ModelSpec(f"shufflenet_v2_{w}", tv, f"shufflenet_v2_{w}") for w in ("x0_5", "x1_0", "x1_5", "x2_0")]
    specs += [
        ModelSpec(
            f"efficientnet_b{i}",
            tv,
            f"efficientnet_b{i}",
            hw=_efficientnet_resolution(i),
            extra={
                "resolution_source": (
                    f"torchvision.models.EfficientNet_B{i}_Weights.IMAGENET1K_V1.transforms().crop_size"
                )
            },
        )
        for i in range(8)
    ]
    specs += [ModelSpec(n, tv, n) for n in REGNETS]
    specs.append(ModelSpec("resnet50@160", tv, "resnet50", hw=160))
    specs += [ModelSpec(n, tv, n) for n in TRANSFORMERS]
    specs.append(
        ModelSpec(
            "fcn_resnet50",
            tv,
            "segmentation.fcn_resnet50",
            {"weights_backbone": None, "aux_loss": False},
            hw=520,
            extra={"output": "model(x)['out'] (the model returns a dict)"},
            nested=True,
        )
    )
    specs += [
        ModelSpec(f"timm/{n}", "timm", n)
        for n in (
            "seresnet50",
            "mobilenetv1_100",
            "efficientnet_b0",
            # pycls-rule RegNets whose widths differ from torchvision's
            "regnetx_004",
            "regnety_008",
        )
    ]
    specs += [ModelSpec(f"timm/{n}", "timm", n, hw=299, nested=True) for n in ("inception_v4", "inception_resnet_v2")]
    return specs


# --------------------------------------------------------------------------- #
# Measurement
# --------------------------------------------------------------------------- #


def _shape(t: Any) -> Any:
    if isinstance(t, torch.Tensor):
        return [int(s) for s in t.shape]
    if isinstance(t, (tuple, list)):
        return [_shape(x) for x in t]
    return type(t).__name__


def _counter_to_ints(counter: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in counter.items()}


def _fvcore(model: nn.Module, x: torch.Tensor) -> FlopCountAnalysis:
    fca = FlopCountAnalysis(model, x)
    fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return fca


def _flop_counter(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    by_op = counter.get_flop_counts().get("Global", {})
    return int(counter.get_total_flops()), _counter_to_ints(by_op)


def _per_module(model: nn.Module, x: torch.Tensor, fca: FlopCountAnalysis) -> dict[str, Any]:
    """Leaf module name -> params, fvcore count and output shape."""
    by_module = fca.by_module()
    leaves = {n: m for n, m in model.named_modules() if n and not list(m.children())}
    calls = _output_shapes(model, x, leaves)
    table = {}
    for name, module in leaves.items():
        shapes = calls[name]
        entry: dict[str, Any] = {
            "type": type(module).__name__,
            "params": sum(p.numel() for p in module.parameters()),
            "fvcore": int(by_module.get(name, 0)),
            "calls": len(shapes),
            "output_shape": shapes[0] if shapes else None,
        }
        if any(s != shapes[0] for s in shapes[1:]):
            entry["output_shapes"] = shapes
        table[name] = entry
    return table


def _nested(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """Each module two levels down (``repeat.0``, ``backbone.layer1``): params and the
    output shape of its first call; None for one that is never called."""
    modules = {n: m for n, m in model.named_modules() if n.count(".") == 1}
    calls = _output_shapes(model, x, modules)
    return {
        n: {"params": sum(p.numel() for p in m.parameters()), "output_shape": calls[n][0] if calls[n] else None}
        for n, m in modules.items()
    }


def _output_shapes(model: nn.Module, x: torch.Tensor, modules: dict[str, nn.Module]) -> dict[str, list[Any]]:
    """The output shape of every call of each of ``modules`` during one no-grad forward."""
    calls: dict[str, list[Any]] = {n: [] for n in modules}
    handles = []
    for name, module in modules.items():

        def hook(_m: nn.Module, _inp: Any, out: Any, name: str = name) -> None:
            calls[name].append(_shape(out))

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return calls


def measure(spec: ModelSpec) -> dict[str, Any]:
    torch.manual_seed(0)
    model = spec.build().eval()
    x = torch.randn(1, 3, spec.hw, spec.hw)

    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    nbt = sum(b.numel() for n, b in model.named_buffers() if n.endswith("num_batches_tracked"))
    buffers = sum(b.numel() for b in model.buffers())

    with torch.no_grad():
        out = model(x)
    if isinstance(out, dict):  # torchvision's segmentation models return {"out": ...}
        out = out["out"]

    fca = _fvcore(model, x)
    by_operator = _counter_to_ints(fca.by_operator())
    mac_ops = sorted(k for k in by_operator if k in MAC_OPERATORS)
    flop_total, flop_by_op = _flop_counter(model, x)

    record: dict[str, Any] = {
        "library": spec.library,
        "call": spec.call,
        "input": [1, 3, spec.hw, spec.hw],
        "output_shape": _shape(out),
        "params": params,
        "trainable_params": trainable,
        "buffers": buffers,
        "buffers_num_batches_tracked": nbt,
        "fvcore": {
            "total": int(fca.total()),
            "by_operator": by_operator,
            "unsupported_ops": _counter_to_ints(fca.unsupported_ops()),
        },
        "conv_linear_macs": sum(by_operator[k] for k in mac_ops),
        "conv_linear_macs_operators": mac_ops,
        "flop_counter_total": flop_total,
        "flop_counter_by_operator": flop_by_op,
        "module_params": {n: sum(p.numel() for p in m.parameters()) for n, m in model.named_children()},
        **spec.extra,
    }
    if spec.name in TRANSFORMERS:
        record.update(_attention_record(model, x))
        # every state_dict entry, in order: what a compiled spec must name alike to load weights
        record["state_dict_shapes"] = {k: list(v.shape) for k, v in model.state_dict().items()}
    if spec.library == "timm":
        record["timm_default_input_size"] = list(model.pretrained_cfg.get("input_size", ()))
    if spec.nested:
        record["nested_modules"] = _nested(model, x)
    if spec.name in PER_MODULE_MODELS:
        record["per_module"] = _per_module(model, x, fca)
    return record


def _attention_record(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """What the counters miss in attention, computed by formula from the shapes each
    ``nn.MultiheadAttention`` sees (batch 1, so per sample):

    * FlopCounterMode counts 0 for CPU flash attention (``_scaled_dot_product_flash_attention_for_cpu``)
      and has no formula for ``_native_multi_head_attention``, the fast path
      nn.MultiheadAttention takes under ``no_grad``: so its total is recorded both under
      ``no_grad`` (``flop_counter_total``: it misses the projections and Q·Kᵀ, A·V) and with
      grad (``flop_counter_total_grad``: the slow path; it misses Q·Kᵀ and A·V only);
    * fvcore skips ``scaled_dot_product_attention`` (it traces with grad: the slow path).

    ``attention_macs``: Q·Kᵀ + A·V = 2·L·S·E per layer (L queries, S keys, E channels);
    ``mha_projection_macs``: the in/out projections, 2·L·E² + 2·S·E² per layer. Attention
    written with explicit matmuls (Swin's ``shifted_window_attention``) is seen by both
    counters and is not in these figures.
    """
    layers: list[tuple[int, int, int]] = []

    def hook(module: nn.MultiheadAttention, args: tuple, kwargs: dict) -> None:
        query = args[0] if args else kwargs["query"]
        key = args[1] if len(args) > 1 else kwargs["key"]
        layers.append((int(query.shape[1]), int(key.shape[1]), int(module.embed_dim)))

    handles = [
        m.register_forward_pre_hook(hook, with_kwargs=True)
        for m in model.modules()
        if isinstance(m, nn.MultiheadAttention)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    return {
        "flop_counter_total_grad": int(counter.get_total_flops()),
        "attention_layers": len(layers),
        "attention_macs": sum(2 * length * source * embed for length, source, embed in layers),
        "mha_projection_macs": sum(
            2 * length * embed * embed + 2 * source * embed * embed for length, source, embed in layers
        ),
    }


# --------------------------------------------------------------------------- #
# Notes: RegNet construction rules and GoogLeNet's branch3 kernel
# --------------------------------------------------------------------------- #


def _source_lines(obj: Any, needles: tuple[str, ...]) -> list[str]:
    """Lines of obj's source containing any of needles (stripped)."""
    src = inspect.getsource(obj).splitlines()
    return [ln.strip() for ln in src if any(n in ln for n in needles)]


def _pycls_style_stages(
    w_0: int,
    w_a: float,
    w_m: float,
    depth: int,
    group_width: int,
    bot_mul: float = 1.0,
    q: int = 8,
) -> dict[str, list[int]]:
    """Independent float64 re-derivation of the RegNet paper's stage rule.

    Per-block widths u_j = w_0 + w_a*j are snapped to w_0 * w_m**round(log_wm(u_j/w_0))
    and quantized to a multiple of q; runs of equal width form the stages. The
    bottleneck width w*b is then rounded to the nearest multiple of the group width
    (Python round(), i.e. half-to-even, no 10% guard), as the pycls reference does.
    """
    widths = []
    for j in range(depth):
        u = w_0 + w_a * j
        k = round(math.log(u / w_0) / math.log(w_m))
        widths.append(round(w_0 * w_m**k / q) * q)
    stage_w, stage_d = [], []
    for w in widths:
        if stage_w and stage_w[-1] == w:
            stage_d[-1] += 1
        else:
            stage_w.append(w)
            stage_d.append(1)
    gws, adj = [], []
    for w in stage_w:
        v = int(w * bot_mul)
        g = min(group_width, v)
        v = max(g, int(round(v / g) * g))
        gws.append(g)
        adj.append(int(v / bot_mul))
    return {
        "block_widths": widths,
        "widths_before_group_adjust": stage_w,
        "widths": adj,
        "depths": stage_d,
        "group_widths": gws,
    }


def _timm_regnet(timm_name: str) -> dict[str, Any]:
    """Stage widths and params of timm's pycls-rule RegNet, as a cross-check."""
    model = timm.create_model(timm_name, pretrained=False)
    stages = [m for n, m in model.named_children() if n[0] == "s" and n[1:].isdigit()]
    return {
        "call": f"timm.create_model({timm_name!r}, pretrained=False)",
        "params": sum(p.numel() for p in model.parameters()),
        "stage_widths": [int(st.b1.conv3.conv.out_channels) for st in stages],
        "stage_depths": [len(list(st.children())) for st in stages],
    }


def regnet_notes() -> dict[str, Any]:
    bp_cls = tv_regnet.BlockParams
    orig_from_init = bp_cls.from_init_params.__func__
    orig_adjust = bp_cls._adjust_widths_groups_compatibilty
    captured: dict[str, Any] = {}

    def spy_from_init(cls: type, **kwargs: Any) -> Any:
        captured["kwargs"] = dict(kwargs)
        captured["result"] = orig_from_init(cls, **kwargs)
        return captured["result"]

    def spy_adjust(stage_widths: list[int], *args: Any) -> Any:
        captured["before_adjust"] = list(stage_widths)
        return orig_adjust(stage_widths, *args)

    notes: dict[str, Any] = {}
    bp_cls.from_init_params = classmethod(spy_from_init)
    bp_cls._adjust_widths_groups_compatibilty = staticmethod(spy_adjust)
    try:
        for name, timm_name in REGNETS.items():
            captured.clear()
            model = getattr(torchvision.models, name)(weights=None)
            kw = captured["kwargs"]
            bp = captured["result"]
            kw.setdefault("bottleneck_multiplier", 1.0)
            kw.setdefault("se_ratio", None)
            blocks = []
            for stage_name, stage in model.trunk_output.named_children():
                for block_name, block in stage.named_children():
                    conv_b = block.f.b[0]
                    se = getattr(block.f, "se", None)
                    blocks.append(
                        {
                            "name": f"trunk_output.{stage_name}.{block_name}",
                            "width_in": int(block.f.a[0].in_channels),
                            "width_out": int(block.f.c[0].out_channels),
                            "bottleneck_width": int(conv_b.out_channels),
                            "groups": int(conv_b.groups),
                            "stride": int(conv_b.stride[0]),
                            "se_squeeze_channels": int(se.fc1.out_channels) if se else None,
                        }
                    )
            pycls = _pycls_style_stages(
                kw["w_0"],
                kw["w_a"],
                kw["w_m"],
                kw["depth"],
                kw["group_width"],
                kw["bottleneck_multiplier"],
            )
            tv_stages = {
                "widths": list(bp.widths),
                "depths": list(bp.depths),
                "group_widths": list(bp.group_widths),
            }
            notes[name] = {
                "constructor_kwargs": dict(sorted(kw.items())),
                "constructor_source": _source_lines(getattr(torchvision.models, name), ("from_init_params", "depth=")),
                "stem_width": int(model.stem[0].out_channels),
                "stage_widths_before_group_adjust": captured["before_adjust"],
                "stage_widths": tv_stages["widths"],
                "stage_depths": tv_stages["depths"],
                "stage_group_widths": tv_stages["group_widths"],
                "stage_bottleneck_multipliers": list(bp.bottleneck_multipliers),
                "stage_strides": list(bp.strides),
                "stage_groups": [
                    int(w * b) // g
                    for w, b, g in zip(bp.widths, bp.bottleneck_multipliers, bp.group_widths, strict=True)
                ],
                "blocks": blocks,
                "float64_paper_rule": pycls,
                "float64_paper_rule_matches_torchvision": all(pycls[k] == tv_stages[k] for k in tv_stages),
                "float32_vs_float64_block_widths_match": (
                    pycls["widths_before_group_adjust"] == captured["before_adjust"]
                    and pycls["depths"] == tv_stages["depths"]
                ),
                "timm_pycls_rule": _timm_regnet(timm_name),
            }
            diffs = [
                f"stage {i + 1}: width before group adjust {pre}, group width {g} -> torchvision {tw}, pycls rule {pw}"
                for i, (pre, g, tw, pw) in enumerate(
                    zip(
                        captured["before_adjust"],
                        tv_stages["group_widths"],
                        tv_stages["widths"],
                        pycls["widths"],
                        strict=True,
                    )
                )
                if tw != pw
            ]
            if diffs:
                notes[name]["pycls_rule_differences"] = diffs
    finally:
        bp_cls.from_init_params = classmethod(orig_from_init)
        bp_cls._adjust_widths_groups_compatibilty = staticmethod(orig_adjust)

    notes["torchvision_rule"] = {
        "summary": (
            "torchvision BlockParams.from_init_params: per-block widths "
            "w_j = round(w_0 * w_m**round(log(u_j/w_0)/log(w_m)) / 8) * 8 with "
            "u_j = w_0 + w_a*j, computed in torch default dtype (float32); runs of "
            "equal width become stages (stride 2 each). Then "
            "_adjust_widths_groups_compatibilty: g = min(group_width, int(w*b)), "
            "w*b -> _make_divisible(w*b, g) (round half up, at least g, bumped by g "
            "if it falls below 90%), w = int(w_bot / b). Groups in the 3x3 conv = "
            "w_b // group_width with w_b = int(round(w_out * b)). SE squeeze "
            "channels = int(round(se_ratio * width_in)) where width_in is the BLOCK "
            "INPUT width (stem width for the first block of stage 1, previous stage "
            "width for the first block of later stages); no _make_divisible on SE."
        ),
        "from_init_params_source": _source_lines(
            bp_cls.from_init_params,
            (
                "widths_cont =",
                "block_capacity =",
                "block_widths =",
                "splits =",
                "QUANT =",
            ),
        ),
        "adjust_source": _source_lines(
            orig_adjust,
            ("widths =", "group_widths_min =", "ws_bot =", "stage_widths ="),
        ),
        "bottleneck_source": _source_lines(
            tv_regnet.BottleneckTransform,
            ("w_b =", "g = ", "width_se_out =", "squeeze_channels="),
        ),
        "make_divisible_source": _source_lines(
            torchvision.models._utils._make_divisible, ("new_v", "min_value = divisor")
        ),
    }
    notes["differences_vs_pycls"] = [
        (
            "Group compatibility: pycls rounds the bottleneck width to the nearest "
            "multiple of the (clipped) group width with Python round() (half-to-even; "
            "newer pycls adjust_block_compatibility also clamps to >= lcm(g, b) and "
            "uses lcm(g, b) as the step when b > 1). torchvision uses _make_divisible "
            "(int(v + g/2) // g * g, i.e. half-up, min g, +g if below 90% of v). The "
            "two differ when w*b/g is exactly k+0.5 with k even (or the 90% guard "
            "fires). Affected here: "
            + "; ".join(
                f"{n} ({'; '.join(notes[n]['pycls_rule_differences'])})"
                for n in REGNETS
                if "pycls_rule_differences" in notes[n]
            )
            + ". timm ships both variants (e.g. regnetx_004 vs regnetx_004_tv) for "
            "this reason; see each model's 'timm_pycls_rule'."
        ),
        (
            "Width generation: pycls uses numpy float64; torchvision computes "
            "torch.arange(depth) * w_a and the logs in torch's default float32. "
            "Per-block widths and depths identical for these six models: "
            + str(all(notes[n]["float32_vs_float64_block_widths_match"] for n in REGNETS))
            + "."
        ),
        (
            "SE width: both pycls (w_se = int(round(w_in * se_r))) and torchvision "
            "(int(round(se_ratio * width_in))) use the block INPUT width, not the "
            "bottleneck width; neither applies _make_divisible to it."
        ),
        (
            "Stage split: torchvision splits runs of equal consecutive widths (like old "
            "pycls get_stages_from_blocks); newer pycls uses np.unique, identical for "
            "the non-decreasing widths produced here."
        ),
    ]
    return notes


def googlenet_notes() -> dict[str, Any]:
    def build() -> nn.Module:
        return torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).eval()

    model = build()
    inceptions = {name: mod for name, mod in model.named_children() if isinstance(mod, tv_googlenet.Inception)}
    kernels = {n: list(m.branch3[1].conv.kernel_size) for n, m in inceptions.items()}

    # The same network with the paper's 5x5 conv in branch3, for comparison.
    paper = build()
    for mod in paper.children():
        if isinstance(mod, tv_googlenet.Inception):
            conv = mod.branch3[1].conv
            mod.branch3[1].conv = nn.Conv2d(conv.in_channels, conv.out_channels, 5, padding=2, bias=False)
    x = torch.randn(1, 3, 224, 224)
    paper_ops = _counter_to_ints(_fvcore(paper, x).by_operator())
    return {
        "branch3_kernel_size": kernels,
        "branch3_source": _source_lines(
            tv_googlenet.Inception.__init__,
            ("branch3", "kernel_size=3 instead", "issues/906", "ch5x5red, ch5x5"),
        ),
        "with_5x5_branch3": {
            "params": sum(p.numel() for p in paper.parameters()),
            "conv_linear_macs": sum(v for k, v in paper_ops.items() if k in MAC_OPERATORS),
        },
        "summary": (
            "torchvision's GoogLeNet Inception.branch3 is 1x1 -> 3x3 conv "
            "(padding=1) where the paper's Inception module has 1x1 -> 5x5; the "
            "source comments it as a known bug (pytorch/vision issue 906: the "
            "model was ported from TF-slim's inception_v1, which has the same 3x3, "
            "and changing it would need retraining). The 'googlenet' model entry "
            "reflects the 3x3 as built; 'with_5x5_branch3' gives the paper variant."
        ),
    }


# --------------------------------------------------------------------------- #
# Driver
# --------------------------------------------------------------------------- #


def provenance(specs: list[ModelSpec]) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "fvcore": importlib.metadata.version("fvcore"),
        "numpy": np.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "generator": "scripts/golden_reference.py",
        "device": "cpu",
        "batch": 1,
        "notes": [
            "batch=1: every input is [1, C, H, W]; all counts are per image.",
            (
                "Models built with weights=None (torchvision) / pretrained=False (timm), "
                "in eval mode; counts do not depend on the random init."
            ),
            (
                "fvcore counts one multiply-add as one flop (so conv/linear buckets are MACs); "
                "FlopCounterMode counts 2 flops per MAC and only matmul-like ops."
            ),
            (
                "buffers includes BatchNorm running_mean/running_var and num_batches_tracked "
                "(one element per BatchNorm)."
            ),
        ],
        "calls": {s.name: s.call for s in specs},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="measure only these models and merge them into an existing --out file",
    )
    args = parser.parse_args(argv)

    specs = model_specs()
    known = {s.name for s in specs}
    if args.only:
        unknown = sorted(set(args.only) - known)
        if unknown:
            parser.error(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        selected = [s for s in specs if s.name in args.only]
    else:
        selected = specs

    prov = provenance(specs)
    data: dict[str, Any] = {"models": {}}
    if args.only and args.out.exists():
        data = json.loads(args.out.read_text())
        old = data.get("provenance", {})
        for lib in ("python", "torch", "torchvision", "timm", "fvcore"):
            if old.get(lib, prov[lib]) != prov[lib]:
                print(
                    f"warning: {lib} {old[lib]} -> {prov[lib]}; other entries of "
                    f"{args.out} were made with the old version",
                    file=sys.stderr,
                )

    for spec in selected:
        print(
            f"measuring {spec.name}: {spec.call} @ {spec.hw}x{spec.hw}",
            file=sys.stderr,
            flush=True,
        )
        data["models"][spec.name] = measure(spec)

    data["provenance"] = prov
    data["notes"] = {"regnet": regnet_notes(), "googlenet": googlenet_notes()}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out} ({len(data['models'])} models)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

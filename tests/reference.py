"""Golden numbers of reference implementations (tests/golden/reference.json) and the
check that a spec reproduces them. Family test files call :func:`assert_matches`."""

from __future__ import annotations

import json
from functools import cache

from netcost.api import analyze
from tests.conftest import GOLDEN


@cache
def reference() -> dict[str, dict]:
    return json.loads((GOLDEN / "reference.json").read_text())["models"]


def golden_key(reference_name: str) -> str:
    """``torchvision.models:resnet18`` -> ``resnet18``; ``timm:seresnet50`` -> ``timm/seresnet50``."""
    module, _, name = reference_name.partition(":")
    return f"timm/{name}" if module.split(".")[0] == "timm" else name


def assert_matches(name: str, overrides: dict, key: str) -> None:
    """Params, buffers, conv+linear MACs, output shape, and the FlopCounterMode and fvcore
    totals of spec ``name`` (with ``overrides``) equal the golden row ``key`` exactly."""
    ref = reference()[key]
    shape = tuple(ref["input"][1:])
    report = analyze(name, overrides, input_shape=shape)
    totals = report.totals
    assert totals["params"] == ref["params"], "params"
    assert totals["buffers"] == ref["buffers"], "buffers"
    # fvcore's conv+linear buckets, plus Q·Kᵀ and A·V, which no counter sees (by formula)
    assert totals["macs"] == ref["conv_linear_macs"] + ref.get("attention_macs", 0), "conv+linear(+attention) MACs"
    assert report.rows[-1]["output_shape"] == ref["output_shape"], "output shape"
    # Each tool's own figure rebuilt from netcost's JSON alone: the convention's total (which
    # counts attention) less the MACs that tool is known to miss (totals.counter_gaps).
    # FlopCounterMode's golden total ran under no_grad (nn.MultiheadAttention's fast path),
    # its `_grad` total with grad; fvcore's traced with grad (it then skips only SDPA).
    docs = {c: analyze(name, overrides, input_shape=shape, convention=c).totals for c in ("flopcounter", "fvcore")}
    fc, fv = docs["flopcounter"], docs["fvcore"]
    assert fc["flops"] == 2 * totals["macs"]  # every convention counts attention
    fc_gaps, fv_gaps = fc["counter_gaps"].get("flopcounter", {}), fv["counter_gaps"].get("fvcore", {})
    fast_path = fc_gaps.get("mha_fast_path_macs", fc_gaps.get("attention_macs", 0))
    assert fc["flops"] - 2 * fast_path == ref["flop_counter_total"], "FlopCounterMode (no_grad)"
    if "flop_counter_total_grad" in ref:
        assert fc["flops"] - 2 * fc_gaps.get("attention_macs", 0) == ref["flop_counter_total_grad"], "(grad)"
    assert fv["flops"] - fv_gaps.get("attention_macs", 0) == ref["fvcore"]["total"], "fvcore"

"""Every bundled spec that names a reference implementation matches it exactly.

The expected numbers come from tests/golden/reference.json, produced by
scripts/golden_reference.py from torchvision/timm (params and buffers by torch's own
numel, conv+linear MACs by fvcore, totals by fvcore and FlopCounterMode); see its
`provenance` block. Adding a model = one spec + its row in reference.json.
"""

import json

import pytest

from netcost.api import analyze, load_spec
from netcost.zoo import bundled
from tests.conftest import GOLDEN

REFERENCE = json.loads((GOLDEN / "reference.json").read_text())["models"]


def golden_key(reference: str) -> str:
    """``torchvision.models:resnet18`` -> ``resnet18``; ``timm:seresnet50`` -> ``timm/seresnet50``."""
    module, _, name = reference.partition(":")
    return f"timm/{name}" if module.split(".")[0] == "timm" else name


# (spec, --set overrides, golden row) beyond each spec's own default reference
VARIANTS = [
    ("mobilenet_v2", {"width": 0.5}, "mobilenet_v2@width=0.5"),
    ("mobilenet_v2", {"width": 0.75}, "mobilenet_v2@width=0.75"),
    ("mobilenet_v2", {"width": 1.4}, "mobilenet_v2@width=1.4"),
]
CASES = [
    (name, {}, golden_key(spec.reference))
    for name, path in bundled().items()
    if (spec := load_spec(path)).reference and golden_key(spec.reference) in REFERENCE
] + VARIANTS


def test_reference_specs_are_covered():
    referenced = {load_spec(p).reference for p in bundled().values()} - {None}
    missing = [r for r in referenced if golden_key(r) not in REFERENCE]
    assert missing == [], "add these to scripts/golden_reference.py and regenerate"


@pytest.mark.parametrize(("name", "overrides", "key"), CASES, ids=[c[2] for c in CASES])
def test_matches_reference(name, overrides, key):
    ref = REFERENCE[key]
    report = analyze(name, overrides, input_shape=tuple(ref["input"][1:]))
    totals = report.totals
    assert totals["params"] == ref["params"]
    assert totals["buffers"] == ref["buffers"]
    assert totals["macs"] == ref["conv_linear_macs"]
    assert report.rows[-1]["output_shape"] == ref["output_shape"]


@pytest.mark.parametrize(("name", "overrides", "key"), CASES, ids=[c[2] for c in CASES])
def test_tool_conventions_reproduce_tool_totals(name, overrides, key):
    ref = REFERENCE[key]
    shape = tuple(ref["input"][1:])
    assert analyze(name, overrides, shape, convention="flopcounter").totals["flops"] == ref["flop_counter_total"]
    assert analyze(name, overrides, shape, convention="fvcore").totals["flops"] == ref["fvcore"]["total"]


@pytest.mark.parametrize("key", ["resnet18", "mobilenet_v2"])
def test_per_layer_names_params_and_fvcore_counts(key):
    """Node names are torchvision's module names, and each module's numbers agree."""
    rows = {row["name"]: row for row in analyze(key, convention="fvcore").rows}
    checked = 0
    for module, ref in REFERENCE[key]["per_module"].items():
        if ref["params"] == 0 and ref["fvcore"] == 0:
            continue  # activations, dropout: torchvision shares one module where netcost has one per call
        assert module in rows, f"{module} missing from netcost's layers"
        assert rows[module]["params"] == ref["params"], module
        assert rows[module]["flops"] == ref["fvcore"], module
        assert rows[module]["output_shape"] == ref["output_shape"], module
        checked += 1
    assert checked > 40

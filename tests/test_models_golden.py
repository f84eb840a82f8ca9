"""Every bundled spec that names a reference implementation matches it exactly.

The expected numbers come from tests/golden/reference.json, produced by
scripts/golden_reference.py from torchvision/timm (params and buffers by torch's own
numel, conv+linear MACs by fvcore, totals by fvcore and FlopCounterMode); see its
`provenance` block. Adding a model = one spec + its row in reference.json.
"""

import pytest

from netcost.api import analyze, load_spec
from netcost.zoo import bundled
from tests.reference import assert_matches, golden_key, reference

# (spec, --set overrides, golden row) beyond each spec's own default reference; family
# test files under tests/zoo/ add their own variants
VARIANTS = [
    ("mobilenet_v2", {"width": 0.5}, "mobilenet_v2@width=0.5"),
    ("mobilenet_v2", {"width": 0.75}, "mobilenet_v2@width=0.75"),
    ("mobilenet_v2", {"width": 1.4}, "mobilenet_v2@width=1.4"),
    ("shufflenet_v2", {}, "shufflenet_v2_x1_0"),  # the generic body's defaults are the 1.0x widths
]
CASES = [
    (name, {}, golden_key(spec.reference))
    for name, path in bundled().items()
    if (spec := load_spec(path)).reference and golden_key(spec.reference) in reference()
] + VARIANTS


def test_reference_specs_are_covered():
    referenced = {load_spec(p).reference for p in bundled().values()} - {None}
    missing = [r for r in referenced if golden_key(r) not in reference()]
    assert missing == [], "add these to scripts/golden_reference.py and regenerate"


@pytest.mark.parametrize(("name", "overrides", "key"), CASES, ids=[c[2] for c in CASES])
def test_matches_reference(name, overrides, key):
    assert_matches(name, overrides, key)


@pytest.mark.parametrize("key", ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0"])
def test_per_layer_names_params_and_fvcore_counts(key):
    """Node names are torchvision's module names, and each module's numbers agree."""
    rows = {row["name"]: row for row in analyze(key, convention="fvcore").rows}
    checked = 0
    for module, ref in reference()[key]["per_module"].items():
        if ref["params"] == 0 and ref["fvcore"] == 0:
            continue  # activations, dropout: torchvision shares one module where netcost has one per call
        assert module in rows, f"{module} missing from netcost's layers"
        assert rows[module]["params"] == ref["params"], module
        assert rows[module]["flops"] == ref["fvcore"], module
        assert rows[module]["output_shape"] == ref["output_shape"], module
        checked += 1
    assert checked > 40

"""``scale``: a constant multiply (Inception-ResNet's ``out * scale + x``), counted by hand."""

import pytest

from netcost.analysis.training import train_report
from netcost.api import analyze, load_graph
from netcost.errors import SpecError

SCALED_RESIDUAL = """
input: [4, 6, 6]
layers:
  - conv: {name: stem, out: 8, k: 3, pad: 1}
  - parallel:
      merge: add
      branches:
        - []
        - - conv: {name: branch, out: 8, k: 1}
          - scale: {name: scale, factor: 0.17}
"""


def test_one_multiply_per_element_no_params_field_unchanged(spec_file):
    rows = {r["name"]: r for r in analyze(spec_file(SCALED_RESIDUAL)).rows}
    scale, branch = rows["scale"], rows["branch"]
    assert (scale["params"], scale["buffers"], scale["macs"], scale["flops"]) == (0, 0, 0, 0)
    assert scale["elementwise_flops"] == 8 * 6 * 6
    assert scale["output_shape"] == [1, 8, 6, 6]
    assert scale["rf_size"] == branch["rf_size"] == [3, 3]  # the stem's 3x3, through a 1x1
    for convention in ("fvcore", "flopcounter", "pycls"):  # none of them counts a multiply by a number
        rows = {r["name"]: r for r in analyze(spec_file(SCALED_RESIDUAL), convention=convention).rows}
        assert rows["scale"]["flops"] == 0


def test_backward_one_multiply_per_element_and_nothing_saved(spec_file):
    rows = {r["name"]: r for r in train_report(load_graph(spec_file(SCALED_RESIDUAL)), batch=2).rows}
    scale = rows["scale"]
    assert scale["backward_flops"] == 0  # no MACs: grad * factor
    assert scale["backward_elementwise_flops"] == 2 * 8 * 6 * 6
    assert scale["saved_activation_bytes"] == 0


@pytest.mark.parametrize("factor", ["1e400", "float('nan')", "'half'"])
def test_a_factor_must_be_a_finite_number(spec_file, factor):
    text = SCALED_RESIDUAL.replace("factor: 0.17", f'factor: "{factor}"')
    with pytest.raises(SpecError) as info:
        analyze(spec_file(text))
    assert info.value.location.line == 9 and info.value.location.path.endswith(".scale.factor")


def test_a_factor_is_required(spec_file):
    with pytest.raises(SpecError, match="missing `factor`"):
        analyze(spec_file(SCALED_RESIDUAL.replace("{name: scale, factor: 0.17}", "{name: scale}")))

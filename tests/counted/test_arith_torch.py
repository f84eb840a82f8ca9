"""``scale`` against torch: the compiled module multiplies by the constant, autograd keeps
nothing for it, and verify (forward) and verify --train (one real step) pass."""

import pytest

torch = pytest.importorskip("torch")

from netcost.api import load_graph, verify  # noqa: E402
from netcost.counted.compile import build  # noqa: E402
from netcost.counted.train_verify import verify_train  # noqa: E402
from tests.ops.test_arith import SCALED_RESIDUAL  # noqa: E402


def test_the_module_multiplies_by_the_factor_and_autograd_keeps_nothing():
    from netcost.counted.modules import Scale

    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    kept = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
        y = Scale(0.17)(x)
    assert kept == [] and torch.equal(y, x * 0.17)
    y.backward(torch.ones_like(y))
    assert torch.allclose(x.grad, torch.full_like(x, 0.17))


def test_a_scaled_residual_verifies(spec_file):
    path = spec_file(SCALED_RESIDUAL)
    report = verify(str(path))
    assert report.passed, report.mismatches
    assert report.fields and all(f.ok for f in report.fields)
    module = build(load_graph(path))
    assert module.get_submodule("scale").factor == 0.17


def test_a_scaled_residual_trains_as_counted(spec_file):
    report = verify_train(load_graph(spec_file(SCALED_RESIDUAL)), batch=2)
    assert report.passed, report.mismatches
    saved = report.check("saved activation bytes")
    assert saved["analytic"] == saved["measured"]
    assert all(r["backward_flops"]["ok"] and r["saved"]["ok"] for r in report.rows)


def test_a_zero_factor_does_not_hide_the_branchs_field(spec_file):
    """The analytic field of ``x + 0 * conv5x5(x)`` is the 5x5 branch's (a field is where a
    unit may depend on, whatever the weights); the gradient check measures it so too."""
    text = SCALED_RESIDUAL.replace("k: 1}", "k: 5, pad: 2}").replace("factor: 0.17", "factor: 0")
    report = verify(str(spec_file(text)), memory=False)
    assert report.passed, report.mismatches
    assert [(f.analytic, f.measured) for f in report.fields if f.node == "add1"] == [((7, 7), (7, 7))]

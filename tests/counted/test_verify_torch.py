"""`verify` on torch models (netcost.counted.verify_torch): the captured Graph against the
model itself, module by module, with FlopCounterMode, fvcore and a real forward pass."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from netcost.counted.verify_torch import verify_module  # noqa: E402
from netcost.sources.torch_capture import capture  # noqa: E402
from tests.sources import capture_models as models  # noqa: E402

BATCH = 2


def verified(model, x):
    model.eval()
    graph = capture(model, (x,), {}, name=type(model).__name__)
    return verify_module(model, (x,), {}, graph, device="cpu")


def test_a_shared_block_verifies_per_module_and_in_memory():
    report = verified(models.SharedBlockNet(), torch.randn(BATCH, 3, 16, 16))
    assert report.passed, report.mismatches
    rows = {r["name"]: r for r in report.rows}
    # the block's conv ran twice: FlopCounterMode sums both calls under its one module
    assert rows["block.0"]["flopcounter"]["counted"] == 2 * 2 * BATCH * 8 * 256 * 72
    assert rows["block"]["params"] == {"analytic": 576, "counted": 576, "ok": True}
    # Python holds a module's argument until the call returns: the stem's output lives
    # through the block (2 x 8x16x16 floats), the input (2 x 3x16x16) to the end
    maps, image = BATCH * 8 * 256 * 4, BATCH * 3 * 256 * 4
    assert report.memory["measured_bytes"] == report.memory["analytic_bytes"] == image + 3 * maps


def test_attention_gaps_are_explained_not_mismatched():
    report = verified(models.Encoder(), torch.randn(BATCH, 10, 32))
    assert report.passed, report.mismatches
    total = next(t for t in report.totals if t["check"] == "flopcounter FLOPs")
    # under no_grad in eval nn.MultiheadAttention takes its fused fast path, which
    # FlopCounterMode does not count: projections 4·L·C² and QKᵀ/AV 2·L²·C per sample
    missed = BATCH * (4 * 10 * 32 * 32 + 2 * 10 * 10 * 32)
    assert total["true"] - total["analytic"] == 2 * missed and "does not count" in total["note"]


def test_a_functional_model_verifies_against_both_counters():
    report = verified(models.FunctionalNet(), torch.randn(BATCH, 3, 16, 16))
    assert report.passed, report.mismatches
    fvcore = next(t for t in report.totals if t["check"] == "fvcore FLOPs")
    assert fvcore["counted"] == BATCH * (55_296 + 80) + BATCH * 512  # MACs, and fvcore's adaptive-pool count


def test_a_wrong_graph_is_a_mismatch():
    x = torch.randn(BATCH, 3, 16, 16)
    graph = capture(models.SharedBlockNet().eval(), (x,), {}, name="shared")
    other = models.SharedBlockNet().eval()
    other.head = torch.nn.Linear(8, 5)
    report = verify_module(other, (x,), {}, graph, device="cpu")
    assert not report.passed
    assert "head: params" in report.mismatches and "head: flopcounter" in report.mismatches

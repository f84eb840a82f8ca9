"""The counters' attention gaps: netcost counts attention in every convention and says, per
convention, what the tool itself misses (``totals.counter_gaps``), so the tool's own figure
can be rebuilt from netcost's JSON. Checked here against the real tools on a ViT encoder
block as torchvision writes it (nn.MultiheadAttention called with need_weights=False)."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netcost.core.conventions import Convention  # noqa: E402
from netcost.core.cost import BackwardCost, Cost  # noqa: E402
from netcost.counted.torchcount import count_model  # noqa: E402
from tests.counted import refnets  # noqa: E402

BATCH, TOKENS, DIM, HEADS, HIDDEN = 2, 5, 16, 4, 32


class EncoderBlock(nn.Module):
    """torchvision.models.vision_transformer.EncoderBlock, without dropout."""

    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(DIM)
        self.self_attention = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
        self.ln_2 = nn.LayerNorm(DIM)
        self.mlp = nn.Sequential(nn.Linear(DIM, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, DIM))

    def forward(self, x):
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + y
        return x + self.mlp(self.ln_2(x))


# hand counts, batch included: Q·Kᵀ and A·V are BATCH x HEADS x TOKENS² x head dim each
ATTENTION = 2 * BATCH * HEADS * TOKENS * TOKENS * (DIM // HEADS)
PROJECTIONS = 4 * BATCH * TOKENS * DIM * DIM  # q, k, v and out
MLP = 2 * BATCH * TOKENS * DIM * HIDDEN


def flopcounter(model, x, grad: bool) -> int:
    mode = FlopCounterMode(display=False)
    with torch.set_grad_enabled(grad), mode:
        model(x)
    return mode.get_total_flops()


@pytest.fixture(scope="module")
def block():
    torch.manual_seed(0)
    return EncoderBlock().eval()


@pytest.fixture(scope="module")
def report(block):
    return count_model(block, (TOKENS, DIM), batch=BATCH)


def test_attention_is_counted_and_its_parts_named(report):
    """The counter runs nn.MultiheadAttention's slow path (its own function mode turns the
    fast path off): the projections are linears, Q·Kᵀ and A·V one SDPA call."""
    t = report.totals
    assert t["macs"] == ATTENTION + PROJECTIONS + MLP
    assert t["attention_macs"] == ATTENTION
    assert t["flops"] == 2 * t["macs"]  # the netcost convention: attention included


def test_the_json_rebuilds_flopcountermodes_figure_with_grad(block, report):
    """With grad, the slow path: FlopCounterMode counts CPU flash attention as 0."""
    gaps = report.totals["counter_gaps"]["flopcounter"]
    assert gaps == {"attention_macs": ATTENTION}
    x = torch.randn(BATCH, TOKENS, DIM)
    assert flopcounter(block, x, grad=True) == 2 * (report.totals["macs"] - gaps["attention_macs"])


def test_the_json_rebuilds_flopcountermodes_figure_of_the_fast_path():
    """Under no_grad in eval, nn.MultiheadAttention runs one fused op, of which
    FlopCounterMode counts nothing."""
    model = refnets.FusedMHA().eval()
    report = count_model(model, (TOKENS, DIM), batch=BATCH)
    t = report.totals
    assert (t["attention_macs"], t["mha_projection_macs"]) == (ATTENTION, PROJECTIONS)
    gaps = t["counter_gaps"]["flopcounter"]
    assert gaps == {"attention_macs": ATTENTION, "mha_fast_path_macs": PROJECTIONS + ATTENTION}
    x = torch.randn(BATCH, TOKENS, DIM)
    assert flopcounter(model, x, grad=False) == 2 * (t["macs"] - gaps["mha_fast_path_macs"]) == 0
    assert t["counter_gaps"]["fvcore"] == gaps


def fvcore_total(model, x, grad: bool) -> int:
    fvcore = pytest.importorskip("fvcore.nn")
    with torch.set_grad_enabled(grad):
        return fvcore.FlopCountAnalysis(model, x).unsupported_ops_warnings(False).total()


def test_the_json_rebuilds_fvcores_figures(block):
    """With grad fvcore skips the SDPA call; under no_grad the whole fused module."""
    report = count_model(block, (TOKENS, DIM), batch=BATCH, convention="fvcore")
    x = torch.randn(BATCH, TOKENS, DIM)
    gap = report.totals["counter_gaps"]["fvcore"]["attention_macs"]
    assert gap == ATTENTION
    assert fvcore_total(block, x, grad=True) == report.totals["flops"] - gap
    assert fvcore_total(block, x, grad=False) == report.totals["flops"] - ATTENTION - PROJECTIONS
    # and what fvcore does count beyond MACs: its layer-norm rule, 5 per element with affine
    assert report.totals["flops"] - report.totals["macs"] == 2 * 5 * BATCH * TOKENS * DIM


def test_the_table_says_so(report):
    notes = " ".join(report.meta["notes"])
    assert "FlopCounterMode counts 0" in notes and "fvcore skips scaled_dot_product_attention" in notes
    assert f"{ATTENTION:,} MACs" in notes


def test_a_cnn_has_no_gaps():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    t = count_model(model, (3, 8, 8)).totals
    assert t["counter_gaps"] == {} and t["attention_macs"] == 0


@pytest.mark.parametrize(
    "no_grad, device, missed, fv_missed", [(True, "cpu", 30, 30), (False, "cpu", 10, 10), (False, "cuda:0", 0, 10)]
)
def test_tool_flops_rules(no_grad, device, missed, fv_missed):
    cost = Cost(macs=100, attention=10, mha_projections=20)
    assert Convention.FLOPCOUNTER.tool_flops(cost, no_grad=no_grad, device=device) == 2 * (100 - missed)
    assert Convention.FVCORE.tool_flops(cost, no_grad=no_grad, device=device) == 100 - fv_missed
    assert Convention.PYCLS.tool_flops(cost) == Convention.PYCLS.flops(cost) == 100


def test_flopcounter_counts_nothing_of_the_cpu_attention_backward():
    """The backward of SDPA's CPU flash kernel has no FlopCounterMode formula: the 4 gradient
    products of Q·Kᵀ and A·V (dQ, dK from the scores' gradient, dA and dV) count 0."""
    q, k, v = (torch.randn(BATCH, HEADS, TOKENS, DIM // HEADS, requires_grad=True) for _ in range(3))
    mode = FlopCounterMode(display=False)
    with mode:
        out = nn.functional.scaled_dot_product_attention(q, k, v)
        forward = mode.get_total_flops()
        out.backward(torch.randn_like(out))
    assert forward == 0 and mode.get_total_flops() == 0
    backward = BackwardCost(dgrad_macs=2 * ATTENTION, attention=2 * ATTENTION)
    assert Convention.FLOPCOUNTER.backward_missed(backward, "cpu") == 2 * ATTENTION


def test_backward_missed_rules():
    """On CUDA FlopCounterMode's SDPA backward formula counts 5 products where the gradients
    take 4 (it adds the recomputed scores): one product, a quarter, on top."""
    backward = BackwardCost(dgrad_macs=100, attention=40)
    assert Convention.FLOPCOUNTER.backward_missed(backward, "cpu") == 40
    assert Convention.FLOPCOUNTER.backward_missed(backward, "cuda:0") == -10
    assert Convention.NETCOST.backward_missed(backward) == Convention.FVCORE.backward_missed(backward) == 0
    assert Convention.FLOPCOUNTER.backward_missed(BackwardCost(dgrad_macs=100)) == 0

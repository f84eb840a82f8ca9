"""Training cost against torch itself: the optimizer's real state tensors, FlopCounterMode's
backward counts (and its grouped-conv over-count, demonstrated), the tensors autograd
saves, and one real training step of bundled models (`verify --train`)."""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netcost.analysis.training import OPTIMIZERS, train_report  # noqa: E402
from netcost.api import load_graph  # noqa: E402
from netcost.counted.compile import build  # noqa: E402
from netcost.counted.train_verify import GROUPED_WGRAD_NOTE, make_optimizer, verify_train  # noqa: E402
from netcost.options import TrainOptions  # noqa: E402
from netcost.zoo import bundled  # noqa: E402
from tests.analysis.test_training import SMALL, SMALL_STATE  # noqa: E402


def _state_bytes_after_a_step(model, optimizer: str) -> int:
    opt = make_optimizer(model, optimizer, 0.0, None)
    out = model(torch.randn(2, 3, 8, 8))
    out.backward(torch.randn_like(out))
    opt.step()
    storages = {
        t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for s in opt.state.values() for t in s.values()
    }
    return sum(storages.values())


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_optimizer_state_bytes_equal_torch_optim_state(spec_file, optimizer):
    graph = load_graph(spec_file(SMALL))
    model = build(graph).train()
    measured = _state_bytes_after_a_step(model, optimizer)
    assert measured == SMALL_STATE[optimizer]  # the hand figure
    assert train_report(graph, train=TrainOptions(optimizer=optimizer)).train["optimizer_state_bytes"] == measured


def _backward_flops(module: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(forward, backward) FLOPs of one step, as FlopCounterMode counts them."""
    mode = FlopCounterMode(display=False)
    with mode:
        out = module(x)
        forward = mode.get_total_flops()
        out.backward(torch.randn_like(out))
    return forward, mode.get_total_flops() - forward


PLAIN_CONVS = [
    ("conv(16,k=3)", (8, 12, 12)),
    ("conv(16,k=3,s=2)", (8, 13, 13)),
    ("conv(8,k=3,d=2)", (8, 16, 16)),
    ("conv(8,k=5,p=1,s=2)", (4, 15, 15)),
]


@pytest.mark.parametrize(("spec", "shape"), PLAIN_CONVS)
def test_backward_flops_of_plain_convs_equal_flopcounter(spec, shape):
    graph = load_graph(spec, input_shape=shape)
    layer = build(graph).get_submodule(graph.nodes[0].name)
    x = torch.randn(2, *shape, requires_grad=True)  # as if a layer before it trained: dgrad too
    _, counted = _backward_flops(layer, x)
    row = train_report(graph, batch=2).rows[0]
    assert row["dgrad_flops"] == 0  # the analysis sees the first layer: no dgrad
    assert row["wgrad_flops"] == row["flops"]
    assert counted == 2 * row["flops"]  # dgrad + wgrad, each the forward's FLOPs
    x_first = torch.randn(2, *shape)  # the network's input: FlopCounterMode counts the wgrad alone
    assert _backward_flops(layer, x_first)[1] == row["backward_flops"]


def test_depthwise_wgrad_flopcounter_overcounts_by_groups():
    c, h, w, n = 16, 14, 14, 2
    conv = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
    x = torch.randn(n, c, h, w)
    forward, counted = _backward_flops(conv, x)  # input without grad: wgrad only
    correct = 2 * c * 9 * h * w * n  # every weight meets every output position once: the forward's FLOPs
    assert forward == correct
    assert counted == c * correct  # FlopCounterMode sizes the wgrad conv as a dense one: x groups

    # the same weight gradient written out as a batched matmul over unfolded patches:
    # FlopCounterMode counts that one right, and it equals autograd's gradient
    grad_out = torch.randn(n, c, h, w)
    patches = F.unfold(x, 3, padding=1).view(n, c, 9, h * w)
    mode = FlopCounterMode(display=False)
    with mode:
        wgrad = torch.einsum("ncl,nckl->ck", grad_out.view(n, c, h * w), patches)
    assert mode.get_total_flops() == correct
    conv.weight.grad = None
    conv(x).backward(grad_out)
    torch.testing.assert_close(wgrad.view(c, 1, 3, 3), conv.weight.grad, rtol=1e-4, atol=1e-4)

    graph = load_graph("conv(16,k=3,g=16,bias=false)", input_shape=(c, h, w))
    row = train_report(graph, batch=n).rows[0]
    assert row["wgrad_flops"] == correct and row["backward_flops"] == correct  # analytic: the correct value


def test_saved_tensors_equal_what_autograd_holds(spec_file):
    graph = load_graph(spec_file(SMALL))
    model = build(graph).train()
    params = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    kept = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.randn(4, 3, 8, 8))
    # input 4x3x8x8 (conv), conv out 4x8x8x8 (bn), relu out (relu keeps its output; gap keeps
    # nothing), bn mean+invstd 2x8 fp32, the pooled 4x8 (fc keeps its flattened input)
    expected = 4 * (4 * 3 * 64 + 4 * 8 * 64 + 4 * 8 * 64 + 2 * 8 + 4 * 8)
    assert sum(kept.values()) == expected
    assert train_report(graph, batch=4).train["saved_activation_bytes"] == expected


@pytest.mark.parametrize(
    ("name", "optimizer"),
    [("resnet18", "adamw"), ("mobilenet_v2", "sgd"), ("efficientnet_b0", "adam")],
)
def test_verify_train_passes(name, optimizer):
    if name not in bundled():
        pytest.skip(f"{name} is not bundled yet")
    report = verify_train(load_graph(name), train=TrainOptions(optimizer=optimizer), batch=2)
    assert report.passed, report.mismatches
    for check in ("optimizer state bytes", "gradient bytes", "saved activation bytes", "peak training memory"):
        c = report.check(check)
        assert c["analytic"] == c["measured"], check
    flops = report.check("backward FLOPs (FlopCounterMode)")
    if name == "resnet18":
        assert flops["analytic"] == flops["measured"]  # no grouped convs: FlopCounterMode agrees exactly
    else:  # depthwise convs: FlopCounterMode counts more, and the report says why
        assert flops["measured"] > flops["analytic"] and GROUPED_WGRAD_NOTE in flops["note"]
        assert any(r["backward_flops"].get("note") == GROUPED_WGRAD_NOTE for r in report.rows)
    assert all(r["backward_flops"]["ok"] and r["saved"]["ok"] for r in report.rows)


def test_verify_train_with_frozen_layers_and_foreach():
    graph = load_graph("resnet18")
    train = TrainOptions(optimizer="rmsprop", momentum=0.9, freeze=("conv1", "bn1", "layer1"), foreach=True)
    report = verify_train(graph, train=train, batch=2)
    assert report.passed, report.mismatches
    assert report.check("gradient bytes")["measured"] == 4 * (11_689_512 - 9408 - 128 - 147_968)
    assert report.analytic["optimizer"] == "rmsprop_momentum"


def test_verify_train_amp_resnet18():
    # CPU autocast (bf16) and CUDA's (fp16) agree on conv, batchnorm, relu, pooling, add, linear
    report = verify_train(load_graph("resnet18"), train=TrainOptions(optimizer="adamw", amp=True), batch=2)
    assert report.passed, report.mismatches
    saved = report.analytic["memory"]["saved_activations"]
    # half copies of every conv weight (kept always) and of fc's (kept: its input needs a gradient)
    assert saved["amp_weight_copies"] == 2 * (11_166_912 + 512_000)
    assert report.check("saved activation bytes")["measured"] == report.analytic["saved_activation_bytes"]


def test_verify_train_refuses_a_fully_frozen_model():
    from netcost.errors import NetcostError

    with pytest.raises(NetcostError, match="every layer is frozen"):
        verify_train(load_graph("resnet18"), train=TrainOptions(freeze=("*",)))


ATTENTION_BLOCK = """
    input: [16, 32]
    layers:
      - linear: {{name: embed, out: 32}}
      - parallel:
          name: block
          merge: add
          branches:
            - - layernorm: {{name: ln}}
              - attention: {{name: attn, heads: 4{extra}}}
            - []
      - linear: {{name: fc, out: 10}}
    """


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("extra", ["", ", bias: false", ", causal: true"], ids=["bias", "no_bias", "causal"])
def test_verify_train_self_attention(spec_file, extra, batch):
    """Self-attention (nn.MultiheadAttention, CPU flash SDPA): FlopCounterMode's backward
    misses the 4 gradient products of Q·Kᵀ and A·V, and says so; the peak of the step is the
    measured one exactly (the backward's stages), and so are the saved tensors of the layer."""
    report = verify_train(load_graph(spec_file(ATTENTION_BLOCK.format(extra=extra))), batch=batch)
    length, c = 16, 32
    products = 4 * length * length * c  # dQ, dK, dA, dV: L x S x d x heads each
    projections = 4 * length * c * c  # q, k, v, out
    row = next(r for r in report.rows if r["name"] == "block.attn")
    flops = row["backward_flops"]
    assert flops["analytic"] == 2 * batch * (2 * projections + products)  # dgrad + wgrad + products
    assert flops["counted"] == flops["analytic"] - 2 * batch * products
    assert flops["ok"] and "CPU flash attention backward" in flops["note"]
    assert report.check("backward FLOPs (FlopCounterMode)")["ok"]
    peak = report.check("peak training memory")
    assert peak["analytic"] == peak["measured"]
    assert report.check("saved activation bytes")["ok"]
    assert all(r["saved"]["ok"] for r in report.rows if r["name"] in ("block.ln", "block.attn"))
    if batch == 1:
        assert report.passed, report.mismatches

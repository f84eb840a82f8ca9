"""The counted route: a real torch model, counted by our own dispatch mode.

Every number asserted here comes from outside the counting code: worked out by hand in the
comments, from ``torch.utils.flop_counter.FlopCounterMode``, from fvcore, from torch's own
parameter count, or from the analytic route on the same network.
"""

import copy

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import netcost  # noqa: E402
from netcost.core.conventions import Convention  # noqa: E402
from netcost.counted.torchcount import ROOT, count_model  # noqa: E402
from netcost.errors import NetcostError  # noqa: E402
from tests.counted import refnets  # noqa: E402

HAND = (3, 8, 8)


def rows(report) -> dict:
    return {r["name"]: r for r in report.rows}


def flopcounter(model: nn.Module, x: torch.Tensor) -> int:
    mode = FlopCounterMode(display=False)
    with torch.no_grad(), mode:
        model.eval()(x)
    return int(mode.get_total_flops())


def assert_rows_add_up(report) -> None:
    for key in ("params", "buffers", "macs", "flops", "elementwise_flops", "activation_bytes"):
        assert report.totals[key] == sum(r[key] for r in report.rows), key


# --- exact counts by hand --------------------------------------------------------------


def test_hand_counted_module():
    """HandCounted at 1x3x8x8, worked out by hand:

    conv   3->4, 3x3 p1: 4*8*8 outputs x 3*3*3 = 6,912 MACs; bias add 256; params 4*27+4 = 112
    relu   (functional, at the root): 256
    dw     depthwise 3x3 on 4x8x8: 4*8*8 x 1*3*3 = 2,304 MACs; no bias; params 36
    add    x + dw(x) (root): 256
    up     ConvTranspose 4->2, k2 s2, on its INPUT grid: 4*8*8 x 2*2*2 = 2,048 MACs
           (on the output grid it would be 2*16*16 x 4*2*2 = 8,192: stride² too many); bias add 512
    F.conv2d with the root's own 2x2x1x1 parameter: 2*16*16 x 2 = 1,024 MACs (root)
    sigmoid 512, mean 512 (one per input element), x += 1: 2 (root)
    fc     2->5: 10 MACs, bias add 5, params 15
    """
    report = count_model(refnets.HandCounted(), HAND)
    r = rows(report)
    assert report.totals["macs"] == 6912 + 2304 + 2048 + 1024 + 10 == 12298
    assert report.totals["flops"] == 2 * 12298
    assert report.totals["elementwise_flops"] == 256 + 256 + 256 + 512 + 512 + 512 + 2 + 5 == 2311
    assert report.totals["params"] == 112 + 36 + 34 + 4 + 15 == 201
    assert (r["conv"]["macs"], r["conv"]["elementwise_flops"], r["conv"]["params"]) == (6912, 256, 112)
    assert (r["dw"]["macs"], r["dw"]["elementwise_flops"]) == (2304, 0)
    assert (r["up"]["macs"], r["up"]["elementwise_flops"], r["up"]["output_shape"]) == (2048, 512, [1, 2, 16, 16])
    root = r[ROOT]
    assert (root["macs"], root["elementwise_flops"], root["params"]) == (1024, 256 + 256 + 512 + 512 + 2, 4)
    assert root["op"] == "HandCounted" and "add_" in root["args"] and "convolution" in root["args"]
    assert r["fc"]["activation_bytes"] == 5 * 4 and r["conv"]["activation_bytes"] == 256 * 4
    assert_rows_add_up(report)
    assert report.meta["source"] == "counted" and report.meta["partial"] is False
    assert report.meta["unsupported_ops"] == {}


def test_batch_dtype_and_conventions():
    """MACs and activations scale with the batch, params do not; pycls adds one per biased
    output channel (conv 4, up 2, fc 5) per sample; fvcore counts a plain mean as 0."""
    one = count_model(refnets.HandCounted(), HAND)
    three = count_model(refnets.HandCounted(), HAND, batch=3, dtype="fp16")
    assert three.input == [3, 3, 8, 8]
    assert three.totals["macs"] == 3 * one.totals["macs"]
    assert three.totals["elementwise_flops"] == 3 * one.totals["elementwise_flops"]
    assert three.totals["params"] == one.totals["params"] and three.totals["param_bytes"] == 2 * 201
    assert three.totals["activation_bytes"] == 3 * one.totals["activation_bytes"] // 2
    pycls = count_model(refnets.HandCounted(), HAND, convention=Convention.PYCLS)
    assert pycls.totals["flops"] == 12298 + 4 + 2 + 5
    fvcore = count_model(refnets.HandCounted(), HAND, convention="fvcore")
    assert fvcore.totals["flops"] == 12298 and fvcore.convention == "fvcore"
    flopcounter_conv = count_model(refnets.HandCounted(), HAND, convention=Convention.FLOPCOUNTER)
    assert flopcounter_conv.totals["flops"] == 2 * 12298


# --- against FlopCounterMode and fvcore --------------------------------------------------


def _models():
    torch.manual_seed(0)
    return {
        "hand_counted": (refnets.HandCounted(), HAND),
        "linear_no_bias": (
            nn.Sequential(nn.Flatten(), nn.Linear(48, 10, bias=False), nn.ReLU(), nn.Linear(10, 3)),
            (3, 4, 4),
        ),
        "grouped_dilated_transposed": (
            nn.Sequential(
                nn.Conv2d(4, 8, 3, stride=2, groups=2, dilation=2),
                nn.ConvTranspose2d(8, 4, 3, stride=2, output_padding=1, groups=4),
                nn.ConvTranspose2d(4, 2, 4, stride=3, padding=1, bias=False),
            ),
            (4, 15, 13),
        ),
        "reused_linear": (refnets.ReusedLinear(), (8,)),
        "tied_lm": (refnets.TiedLM(), (12,)),
        "matmuls": (refnets.Matmuls(), (5, 6)),
        "mobilenet_v2": (netcost.build("mobilenet_v2"), (3, 32, 32)),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_macs_equal_flopcounter(name):
    model, shape = _models()[name]
    report = count_model(model, shape, batch=2)
    dtype = torch.int64 if name == "tied_lm" else torch.float32
    x = torch.zeros(2, *shape, dtype=dtype) if name == "tied_lm" else torch.randn(2, *shape)
    assert report.totals["flops"] == 2 * report.totals["macs"] == flopcounter(model, x)
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())  # unique elements
    assert report.totals["buffers"] == sum(b.numel() for b in model.buffers())
    assert_rows_add_up(report)


def test_reused_linear_params_once_macs_twice():
    model = refnets.ReusedLinear()
    report = count_model(model, (8,), batch=2)
    fc = rows(report)["fc"]
    assert fc["calls"] == 2  # one row, both calls summed
    assert fc["params"] == report.totals["params"] == 8 * 8 + 8
    assert fc["macs"] == 2 * (2 * 8 * 8) == flopcounter(model, torch.randn(2, 8)) // 2
    assert fc["elementwise_flops"] == 2 * 2 * 8  # the bias add, on each call
    assert rows(report)[ROOT]["elementwise_flops"] == 2 * 8  # the functional relu between


def test_tied_weights_counted_once():
    """head.weight is embed.weight: 100x16 once. Summing each module's parameters (what
    per-module hook counters do) gives 1,600 + 272 + 1,600 = 3,472."""
    model = refnets.TiedLM()
    report = count_model(model, (12,), batch=2)
    r = rows(report)
    assert report.totals["params"] == 1600 + 272 == sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for m in model.modules() for p in m.parameters(recurse=False)) == 3472
    assert (r["embed"]["params"], r["head"]["params"]) == (1600, 0)
    assert any("head: shares 1,600 parameter elements with embed" in n for n in report.meta["notes"])
    # 24 tokens: proj 24*16*16, head 24*16*100; bias 384, tanh 384, softmax 3 x 2,400
    assert report.totals["macs"] == 6144 + 38400
    assert report.totals["elementwise_flops"] == 384 + 384 + 3 * 2400


def test_fvcore_total_equals_the_fvcore_convention():
    fvcore = pytest.importorskip("fvcore.nn")
    model = refnets.HandCounted().eval()
    analysis = fvcore.FlopCountAnalysis(model, torch.randn(1, *HAND))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    assert count_model(model, HAND, convention=Convention.FVCORE).totals["flops"] == analysis.total() == 12298


def test_elementwise_work_that_fvcore_and_flopcounter_miss():
    """sigmoid(x) * softmax(x) + x on 4x8: 32 + 3*32 + 32 + 32 = 192 operations; fvcore
    and FlopCounterMode both report 0 for this network."""
    fvcore = pytest.importorskip("fvcore.nn")
    model, x = refnets.Elementwise(), torch.randn(1, 4, 8)
    report = count_model(model, (4, 8))
    assert report.totals["elementwise_flops"] == 192
    analysis = fvcore.FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
    assert analysis.total() == 0 and flopcounter(model, x) == 0


def test_in_place_add_is_counted():
    class InPlace(nn.Module):
        def forward(self, x):
            y = x * 2
            y += 1
            y.relu_()
            return y

    report = count_model(InPlace(), (10,))
    assert report.totals["elementwise_flops"] == 10 + 10 + 10
    assert rows(report)[ROOT]["args"] == "forward: mul, add_, relu_"


def test_functional_conv_is_attributed_to_the_module_running_it():
    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(6, 3, 3, 3))

        def forward(self, x):
            return F.conv2d(x, self.w, padding=1)

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()

        def forward(self, x):
            return self.inner(x)

    report = count_model(Outer(), (3, 5, 5))
    assert rows(report)["inner"]["macs"] == 6 * 5 * 5 * 3 * 3 * 3  # the leaf that ran it
    assert ROOT not in rows(report)


def test_fused_attention_counted_where_flopcounter_sees_none():
    """Causal SDPA, batch 2, 4 heads, 6 tokens of 4: Q·Kᵀ and A·V are 2*4*6*6*4 MACs each.
    On CPU torch runs a fused kernel that FlopCounterMode (torch 2.13) does not know, so it
    reports the two linears only; on meta torch runs the math path, which it does count."""
    model = refnets.Attention()
    linears = 2 * 6 * 16 * 48 + 2 * 6 * 16 * 16
    attention = 2 * (2 * 4 * 6 * 6 * 4)
    cpu = count_model(model, (6, 16), batch=2)
    assert cpu.totals["macs"] == linears + attention
    assert flopcounter(model, torch.randn(2, 6, 16)) <= 2 * cpu.totals["macs"]
    meta_model = copy.deepcopy(model).to("meta")
    meta = count_model(meta_model, (6, 16), batch=2)
    assert meta.meta["device"] == "meta"
    assert flopcounter(meta_model, torch.empty(2, 6, 16, device="meta")) == 2 * meta.totals["macs"]
    for key in ("macs", "elementwise_flops", "params"):
        assert meta.totals[key] == cpu.totals[key], key


def test_fused_multi_head_attention_counts_as_its_decomposition():
    """torch's fused MHA kernel and nn.MultiheadAttention's decomposed path do the same work."""
    torch.manual_seed(0)
    slow = refnets.SlowMHA()
    fused = refnets.FusedMHA()
    fused.load_state_dict(slow.state_dict())
    a, b = count_model(slow, (5, 16), batch=2), count_model(fused, (5, 16), batch=2)
    # projections 4 x 10 tokens x 16 x 16, scores and A·V 2 x 2*4*5*5*4
    assert a.totals["macs"] == b.totals["macs"] == 4 * 10 * 16 * 16 + 2 * (2 * 4 * 5 * 5 * 4)
    assert a.totals["elementwise_flops"] == b.totals["elementwise_flops"]


# --- partial counts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, op",
    [(lambda x: torch.sort(x, dim=-1).values + 1, "aten.sort"), (lambda x: torch.fft.fft2(x).real + 1, "aten._fft")],
)
def test_an_op_outside_the_table_marks_the_report_partial(fn, op):
    class Net(nn.Module):
        def forward(self, x):
            return fn(x)

    report = count_model(Net(), (4, 4))
    assert report.meta["partial"] is True
    assert any(name.startswith(op) for name in report.meta["unsupported_ops"])
    assert any(n.startswith(f"not counted at {ROOT}: {op}") for n in report.meta["notes"])
    assert report.totals["elementwise_flops"] == 16  # the + 1 is still counted


def test_sorts_reference_net_is_partial():
    report = count_model(refnets.Sorts(), (5,))
    assert report.meta["unsupported_ops"] == {"aten.sort": 1} and report.meta["partial"]


# --- counting leaves no trace -----------------------------------------------------------


def _hook_dicts(model: nn.Module) -> list[int]:
    fresh = vars(nn.Module())
    names = [n for n, v in fresh.items() if "hook" in n and isinstance(v, dict)]  # every hook registry
    assert "_forward_hooks" in names and "_forward_pre_hooks" in names and "_forward_hooks_always_called" in names
    return [len(getattr(m, n)) for m in model.modules() for n in names]


def test_counting_leaves_no_trace():
    torch.manual_seed(0)
    model = refnets.HandCounted().train()
    model.fc.eval()  # a mixed state must come back as it was
    training = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    attributes = [sorted(vars(m)) for m in model.modules()]
    conv2d, call, rng = F.conv2d, nn.Module.__call__, torch.random.get_rng_state()
    first = count_model(model, HAND)
    second = count_model(model, HAND)
    assert first.to_dict() == second.to_dict() and first.meta == second.meta
    assert sum(_hook_dicts(model)) == 0 and all(n == 0 for n in _hook_dicts(model))
    assert [m.training for m in model.modules()] == training
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert [sorted(vars(m)) for m in model.modules()] == attributes
    assert F.conv2d is conv2d and nn.Module.__call__ is call
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert torch.is_grad_enabled()
    assert torch._C._len_torch_dispatch_stack() == 0 and torch._C._len_torch_function_stack() == 0
    assert not nn.modules.module._global_forward_hooks and not nn.modules.module._global_forward_pre_hooks


def test_user_hooks_survive_and_still_run():
    model = refnets.ReusedLinear()
    seen = []
    handle = model.fc.register_forward_hook(lambda m, a, out: seen.append(out.shape))
    count_model(model, (8,))
    assert len(seen) == 2 and list(model.fc._forward_hooks) == [handle.id]
    handle.remove()


def test_a_failing_forward_leaves_no_hooks():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x)

    model = Broken().train()
    with pytest.raises(NetcostError, match="forward pass on an input of shape \\[1, 5\\]"):
        count_model(model, (5,))
    assert sum(_hook_dicts(model)) == 0 and model.training and model.fc.training


# --- the dotted-path and meta routes ----------------------------------------------------


def test_dotted_path_is_built_and_counted_on_meta():
    report = count_model("tests.counted.refnets:hand_counted", HAND)
    assert report.meta["device"] == "meta" and report.meta["reference"] == "tests.counted.refnets:hand_counted"
    assert report.model == "tests.counted.refnets:hand_counted"
    assert (report.totals["macs"], report.totals["elementwise_flops"], report.totals["params"]) == (12298, 2311, 201)
    assert report.totals["peak_activation_bytes"] is None
    assert any("meta device" in n for n in report.meta["notes"])
    cpu = count_model("tests.counted.refnets:hand_counted", HAND, device="cpu")
    assert cpu.meta["device"] == "cpu" and cpu.totals["peak_activation_bytes"] > 0
    assert {k: v for k, v in cpu.totals.items() if k != "peak_activation_bytes"} == {
        k: v for k, v in report.totals.items() if k != "peak_activation_bytes"
    }
    assert [r["name"] for r in cpu.rows] == [r["name"] for r in report.rows]


def test_a_model_too_large_for_memory_is_counted_on_meta():
    """Two 65,536 x 65,536 linears: 8.6 G parameters, 34 GB at fp32; built and run on meta."""
    report = count_model("tests.counted.refnets:huge", (2**16,))
    n = 2**16
    assert report.totals["params"] == 2 * (n * n + n)
    assert report.totals["param_bytes"] == 4 * 2 * (n * n + n) > 32 * 2**30
    assert report.totals["macs"] == 2 * n * n
    assert report.totals["elementwise_flops"] == n + n + n  # bias, relu, bias


def test_a_model_that_cannot_run_on_meta_falls_back_to_cpu():
    report = count_model("tests.counted.refnets:data_dependent", (4,))
    assert report.meta["device"] == "cpu"
    assert any("meta device failed" in n and "counted on CPU" in n for n in report.meta["notes"])
    assert report.totals["macs"] == 16 and report.totals["elementwise_flops"] == 4 + 4 + 4  # bias, sum, * 2


def test_a_module_on_meta_is_counted_there():
    with torch.device("meta"):
        model = refnets.HandCounted()
    report = count_model(model, HAND)
    assert report.meta["device"] == "meta" and report.totals["macs"] == 12298
    assert next(model.parameters()).device.type == "meta"


def test_bad_dotted_paths_are_usage_errors():
    with pytest.raises(NetcostError, match="cannot import"):
        count_model("no_such_module_xyz:net")
    with pytest.raises(NetcostError, match=r"not a torch\.nn\.Module"):
        count_model("tests.counted.refnets:TINY_SPEC.upper")


# --- the counted route agrees with the analytic one --------------------------------------


def test_resnet18_counted_equals_analytic():
    """netcost.build("resnet18") counted by torch and by our dispatch mode equals the
    analytic report, row by row: params, buffers, MACs, every convention's FLOPs, output
    shapes and bytes. Elementwise work agrees too, because each analytic rule has a torch
    op with the same count (bn 2/elem, relu 1, max pool 9/output, add 1, gap 1/input,
    fc bias 1). Only the peak differs, by exactly the input (1x3x224x224 fp32): the analytic
    model drops the input after conv1, while a caller holding the input tensor (as we do)
    keeps it alive for the whole pass."""
    with torch.device("meta"):  # shapes only: fast, and the same counts
        on_meta = netcost.build("resnet18")
    for convention in Convention:
        counted = count_model(on_meta, (3, 224, 224), convention=convention)
        analytic = netcost.analyze("resnet18", convention=convention)
        for key in ("params", "buffers", "macs", "flops", "elementwise_flops", "activation_bytes", "max_op_io_bytes"):
            assert counted.totals[key] == analytic.totals[key], (convention, key)
    assert counted.totals["params"] == 11_689_512 and counted.totals["macs"] == 1_814_073_344
    counted, analytic = count_model(netcost.build("resnet18"), (3, 224, 224)), netcost.analyze("resnet18")
    assert counted.meta["device"] == "cpu"
    by_name = rows(counted)
    assert [r["name"] for r in counted.rows] == [r["name"] for r in analytic.rows]
    for row in analytic.rows:
        mine = by_name[row["name"]]
        for key in ("params", "buffers", "macs", "flops", "elementwise_flops", "output_shape", "activation_bytes"):
            assert mine[key] == row[key], (row["name"], key)
    input_bytes = 3 * 224 * 224 * 4
    assert counted.totals["peak_activation_bytes"] == analytic.totals["peak_activation_bytes"] + input_bytes
    assert counted.meta["peak_at"] == analytic.meta["peak_at"] == "bn1"


def test_report_has_the_analytic_json_shape():
    counted = count_model(refnets.HandCounted(), HAND).to_dict()
    analytic = netcost.analyze("resnet18").to_dict()
    assert counted.keys() == analytic.keys()
    assert counted["totals"].keys() == analytic["totals"].keys()
    assert set(analytic["layers"][0]) <= set(counted["layers"][0]) == {*analytic["layers"][0], "calls"}
    assert all(r["rf_size"] is None and r["rf_global"] is False for r in counted["layers"])
    assert counted["totals"]["receptive_field"] is None


def test_the_root_row_comes_after_the_layers():
    """The top-level module's own work (an add between two layers) is one row, after the
    modules, not between them in the order its first op ran."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)

        def forward(self, x):
            return self.b(self.a(x) + x)

    names = [r["name"] for r in count_model(Net(), (4,)).rows]
    assert names == ["a", "b", ROOT]

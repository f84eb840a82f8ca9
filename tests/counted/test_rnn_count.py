"""Recurrent layers counted complete, the same on meta and on CPU (where nn.LSTM runs
oneDNN's ``mkldnn_rnn_layer``), against hand counts. Per step, layer and direction: the
gates' matmuls gates·H·(IN + H); elementwise 13H (LSTM), 10H (GRU), 2H (RNN) plus two bias
adds per gate element (see netcost.counted.aten_rules)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from netcost.budget import Target, check_report  # noqa: E402
from netcost.counted.torchcount import count_model  # noqa: E402
from tests.counted import rnnmodels  # noqa: E402

T, IN, H = 50, 128, 256  # steps, input features, hidden size
HEAD = 256 * 10  # Linear(256, 10) on the last step
LSTM_MACS = T * (4 * H * (IN + H) + 4 * H * (H + H)) + HEAD  # two layers
GRU_MACS = T * (3 * H * (IN + H) + 3 * H * (H + H)) + HEAD
BILSTM_MACS = T * 2 * 4 * H * (IN + H) + 512 * 10  # two directions of one layer; head on 512
RNN_MACS = T * H * (IN + H) + HEAD
# elementwise: per step and layer 13H + 2·4H bias adds (LSTM), 10H + 2·3H (GRU), 2H + 2H
# (RNN); the head's bias add 10; nothing else (slicing the last step is a view)
LSTM_ELEMENTWISE = 2 * T * (13 * H + 8 * H) + 10
GRU_ELEMENTWISE = 2 * T * (10 * H + 6 * H) + 10
BILSTM_ELEMENTWISE = 2 * T * (13 * H + 8 * H) + 10
RNN_ELEMENTWISE = T * (2 * H + 2 * H) + 10

CASES = {
    "lstm": (LSTM_MACS, LSTM_ELEMENTWISE),
    "gru": (GRU_MACS, GRU_ELEMENTWISE),
    "bilstm": (BILSTM_MACS, BILSTM_ELEMENTWISE),
    "rnn_relu": (RNN_MACS, RNN_ELEMENTWISE),
}


def test_the_hand_count_itself():
    assert LSTM_MACS == 50 * (4 * 256 * (128 + 256) + 4 * 256 * (256 + 256)) + 2560 == 45_877_760  # the number


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_recurrent_models_counted_complete_on_every_device(name, device):
    macs, elementwise = CASES[name]
    report = count_model(f"tests.counted.rnnmodels:{name}", (T, IN), device=device)
    assert report.meta["unsupported_ops"] == {}
    assert not report.meta["partial"]
    assert report.totals["macs"] == macs
    assert report.totals["elementwise_flops"] == elementwise


def test_a_module_on_cpu_is_counted_as_on_meta():
    model = rnnmodels.lstm()
    assert count_model(model, (T, IN)).totals["macs"] == LSTM_MACS


@pytest.mark.parametrize("cell, gates", [(nn.LSTMCell, 4), (nn.GRUCell, 3), (nn.RNNCell, 1)])
def test_cells(cell, gates):
    report = count_model(cell(IN, H), (IN,), batch=4, device="cpu")
    assert not report.meta["partial"]
    assert report.totals["macs"] == 4 * gates * H * (IN + H)


def test_split_and_chunk_are_free():
    class Splits(nn.Module):
        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            torch.split(x, [3, 5], dim=1)
            x.unbind(1)
            f, g = x.unsafe_chunk(2, dim=1)
            h, k = x.unsafe_split(4, dim=1)
            torch.ops.aten.unsafe_split_with_sizes(x, [3, 5], 1)
            return a + b + f + g + h + k  # 5 adds of 4 x 4 = 80 elementwise

    report = count_model(Splits(), (8,), batch=4, device="cpu")
    assert not report.meta["partial"]
    assert report.totals["elementwise_flops"] == 5 * 16
    assert report.totals["macs"] == 0


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_the_budget_gate_passes_an_lstm(device):
    """The gate's own check of a counted report (the CLI's input shapes are another matter)."""
    report = count_model("tests.counted.rnnmodels:lstm", (T, IN), device=device)
    rows = check_report(Target(model="lstm", budgets={"macs": "46M"}), report)
    assert [(r.metric, r.actual, r.passed) for r in rows] == [("macs", LSTM_MACS, True)]


class _Run:
    batch = 1


def _bound(op, args):
    from netcost.counted.torchcount import _bind

    return _bind(op, args, {})


def test_whole_rnn_and_cell_rules_that_cpu_and_meta_decompose():
    """aten.lstm / gru_cell and the CUDA kernels reach the counter only on some backends:
    their rules against the same hand counts."""
    from netcost.counted.aten_rules import rule_for

    m = torch.device("meta")
    x = torch.empty(T, 1, IN, device=m)
    w = [torch.empty(4 * H, IN, device=m), torch.empty(4 * H, H, device=m)]
    b = [torch.empty(4 * H, device=m), torch.empty(4 * H, device=m)]
    hx = [torch.empty(1, 1, H, device=m)] * 2
    args = (x, hx, [*w, *b], True, 1, 0.0, False, False, False)
    work = rule_for("lstm")(_bound(torch.ops.aten.lstm.input, args), None, _Run())
    assert (work.macs, work.elementwise) == (T * 4 * H * (IN + H), T * (13 * H + 8 * H))

    g = [torch.empty(3 * H, IN, device=m), torch.empty(3 * H, H, device=m)]
    cell = (torch.empty(2, IN, device=m), torch.empty(2, H, device=m), *g, None, None)
    work = rule_for("gru_cell")(_bound(torch.ops.aten.gru_cell.default, cell), None, _Run())
    assert (work.macs, work.elementwise) == (2 * 3 * H * (IN + H), 2 * 10 * H)

    gates = torch.empty(2, 4 * H, device=m)  # fused: the matmuls ran before, as mm
    fused = (gates, gates, torch.empty(2, H, device=m), b[0], b[1])
    work = rule_for("_thnn_fused_lstm_cell")(_bound(torch.ops.aten._thnn_fused_lstm_cell.default, fused), None, _Run())
    assert (work.macs, work.elementwise) == (0, 2 * (13 * H + 8 * H))


def test_no_arithmetic_ops_outside_aten_are_free():
    """Profiler markers (record_function, nn.DataParallel's), assertions: zero, not unsupported."""

    class Marked(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            with torch.profiler.record_function("marked"):
                torch._assert_async(torch.tensor(True))
                return self.fc(x)

    for model in (Marked(), nn.DataParallel(Marked())):
        report = count_model(model, (8,), batch=2)
        assert report.meta["unsupported_ops"] == {}
        assert report.totals["macs"] == 2 * 8 * 4


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_data_parallel_lstm_counts_complete(device):
    model = nn.DataParallel(rnnmodels.lstm()).to(device)
    report = count_model(model, (T, IN))
    assert not report.meta["partial"]
    assert report.totals["macs"] == LSTM_MACS


def test_the_no_arithmetic_rule_by_schema():
    from netcost.counted.aten_rules import no_arithmetic

    ops = torch.ops
    assert no_arithmetic(ops.profiler._record_function_enter_new.default)
    assert no_arithmetic(ops.profiler._record_function_exit._RecordFunction)
    assert no_arithmetic(ops.aten._assert_async.default)  # returns nothing, writes nothing
    assert no_arithmetic(ops.aten.t.default)  # returns a view
    assert not no_arithmetic(ops.aten._foreach_add_.List)  # returns nothing but writes
    assert not no_arithmetic(ops.aten.add_.Tensor)
    assert not no_arithmetic(ops.aten.equal.default)  # an aten scalar result can be arithmetic


def test_train_mode_batch_norm_is_fvcore_s_own_test():
    """fvcore's test_flop_count: a train-mode BatchNorm2d(10, affine=False) on 10x10x5x5 is
    10,000 (4 per element: mean, subtract, variance, divide); eval mode folds it to 1."""
    from netcost.core.conventions import Convention

    bn = nn.BatchNorm2d(10, affine=False)
    before = bn.running_mean.clone(), bn.num_batches_tracked.clone()
    train = count_model(bn, (10, 5, 5), batch=10, convention=Convention.FVCORE, mode="train")
    assert train.totals["flops"] == 10_000
    assert train.meta["mode"] == "train"
    assert bn.training  # as it was
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.num_batches_tracked, before[1])
    evaluated = count_model(bn, (10, 5, 5), batch=10, convention=Convention.FVCORE)
    assert evaluated.totals["flops"] == 2_500
    assert evaluated.meta["mode"] == "eval"
    assert any(n.startswith("mode: eval") for n in evaluated.meta["notes"])


def test_train_mode_keeps_dropout():
    class Drop(nn.Module):
        def forward(self, x):
            return nn.functional.dropout(x, 0.5, self.training) * 2  # a mul of 8: 8 elementwise

    assert count_model(Drop(), (8,), mode="train").totals["elementwise_flops"] >= 8
    with pytest.raises(Exception, match="unknown mode"):
        count_model(Drop(), (8,), mode="training")


def test_every_counted_report_says_it_followed_the_example_input():
    report = count_model("tests.counted.rnnmodels:lstm", (T, IN))
    assert any("counted along the path of the example input" in n for n in report.meta["notes"])


def test_vector_norm_of_f_normalize():
    """F.normalize on 4x8 (swin_v2's cosine attention): the norm 2·32 + 4 (square and add
    per element, a root per row), clamp_min 4, the divide 32."""

    class Normalize(nn.Module):
        def forward(self, x):
            return nn.functional.normalize(x, dim=-1)

    report = count_model(Normalize(), (8,), batch=4)
    assert not report.meta["partial"]
    assert report.totals["elementwise_flops"] == 2 * 32 + 4 + 4 + 32


def test_cudnn_and_packed_rnn_rules():
    """_cudnn_rnn (CUDA's nn.GRU/LSTM) and a packed lstm: the same hand counts."""
    from netcost.counted.aten_rules import rule_for

    m = torch.device("meta")
    w = [torch.empty(3 * H, IN, device=m), torch.empty(3 * H, H, device=m)]
    b = [torch.empty(3 * H, device=m)] * 2
    x, hx = torch.empty(T, 2, IN, device=m), torch.empty(1, 2, H, device=m)
    args = (x, [*w, *b], 4, None, hx, None, 3, H, 0, 1, False, 0.0, False, False, [], None)
    work = rule_for("_cudnn_rnn")(_bound(torch.ops.aten._cudnn_rnn.default, args), None, _Run())
    assert (work.macs, work.elementwise) == (T * 2 * 3 * H * (IN + H), T * 2 * (10 * H + 6 * H))

    lw = [torch.empty(4 * H, IN, device=m), torch.empty(4 * H, H, device=m)]
    sizes = torch.tensor([2, 2, 1])  # 5 rows over 3 steps
    data = torch.empty(5, IN, device=m)
    packed = (data, sizes, [hx, hx], lw, False, 1, 0.0, False, False)
    work = rule_for("lstm")(_bound(torch.ops.aten.lstm.data, packed), None, _Run())
    assert (work.macs, work.elementwise) == (5 * 4 * H * (IN + H), 5 * 13 * H)


@pytest.mark.parametrize("name", ["lstm", "bilstm"])
def test_every_convention_counts_an_lstm_the_same_on_meta_and_cpu(name):
    from netcost.core.conventions import Convention

    for convention in Convention:
        meta, cpu = (
            count_model(f"tests.counted.rnnmodels:{name}", (T, IN), device=d, convention=convention)
            for d in ("meta", "cpu")
        )
        assert meta.totals["flops"] == cpu.totals["flops"], convention

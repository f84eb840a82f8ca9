"""The per-op-class microbenchmarks: the case table, the fit (by hand), a tiny real
calibration and its cache, profile's measured-vs-predicted columns, and the CUDA paths
(run where a GPU exists)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from netcost.analysis import latency_record as lr  # noqa: E402
from netcost.analysis.predict import OP_CLASSES, op_class, predict_graph  # noqa: E402
from netcost.api import load_graph, opclass_calibration, profile  # noqa: E402
from netcost.counted import opclass_calibrate as oc  # noqa: E402

# one small case per class (the first of a class is its overhead), a merge, two sizes of conv
TINY = (
    oc.Case("conv(8,k=1,bias=false)", (8, 4, 4), "pointwise"),
    oc.Case("conv(8,k=3,bias=false)", (8, 4, 4), "conv3x3"),
    oc.Case("conv(16,k=3,bias=false)", (16, 16, 16), "conv3x3"),
    oc.Case("conv(8,k=5,bias=false)", (8, 8, 8), "conv_large"),
    oc.Case("conv(8,k=3,g=8,bias=false)", (8, 8, 8), "depthwise"),
    oc.Case("conv(8,k=3,g=2,bias=false)", (8, 8, 8), "grouped"),
    oc.Case("to_tokens > linear(8)", (8, 4, 4), "linear"),
    oc.Case("flatten > linear(8)", (8, 1, 1), "matvec"),
    oc.Case("to_tokens > attention(heads=1)", (8, 2, 2), "attention"),
    oc.Case("relu()", (8, 4, 4), "elementwise"),
    oc.Case("relu()", (16, 16, 16), "elementwise"),
    oc.Case("maxpool(k=3,s=2,p=1)", (8, 8, 8), "pool"),
    oc.Case("gap()", (8, 4, 4), "global_pool"),
    oc.Case("bn()", (8, 4, 4), "norm"),
    oc.Case("identity()", (8, 4, 4), "view"),
)
MERGE = (oc.Case("add", (8, 4, 4), "elementwise"),)
SMALL = "conv(16,k=3) > relu() > conv(16,k=3,g=16) > conv(32,k=1) > gap() > flatten() > linear(10)"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def roofline(monkeypatch):
    """profile --per-layer's roofline, not measured (its 2 s matmul and copy are not tested here)."""
    from netcost.counted import calibrate

    fake = calibrate.Roofline("test device", "fp32", 1, 1e10, 1e9, 64, 1024)
    monkeypatch.setattr(calibrate, "measure", lambda device, dtype: fake)


MEASURE = oc.measure  # the real one (tests replace oc.measure to count calls)


def tiny(device="cpu", dtype="fp32", channels_last=False, in_network=False):
    return MEASURE(
        device,
        dtype,
        channels_last,
        min_run_time=0.01,
        rounds=1,
        cases=TINY,
        merges=MERGE,
        in_network=in_network,
        reference_run_time=0.02,
    )


@pytest.mark.parametrize("case", oc.FULL_CASES + oc.FULL_MERGES, ids=lambda c: f"{c.spec}@{c.input}")
def test_every_case_of_the_full_table_is_the_class_it_calibrates(case):
    assert op_class(oc.case_node(case)) == case.op_class


def test_the_full_table_covers_every_class_with_an_overhead_case_first():
    first = {}
    for case in oc.FULL_CASES + oc.FULL_MERGES:
        first.setdefault(case.op_class, case)
    assert set(first) == set(OP_CLASSES)
    for case in first.values():  # the overhead case moves at most a few KiB
        assert oc.case_node(case).shape.numel <= 8 * 8 * 8


def test_the_fit_by_hand():
    case = oc.Case("relu()", (1, 1, 1), "conv3x3")
    measured = [
        oc.Measured(case, flops=10, bytes_moved=8, seconds=2e-6, spread=0.0),  # the overhead
        oc.Measured(case, flops=1_000_000, bytes_moved=8, seconds=12e-6, spread=0.0),  # 1e6 in 10 us: 1e11
        oc.Measured(case, flops=100_000_000, bytes_moved=8, seconds=502e-6, spread=0.0),  # 1e8 in 500 us: 2e11
        oc.Measured(oc.Case("relu()", (1, 1, 1), "elementwise"), flops=0, bytes_moved=4000, seconds=1e-6, spread=0),
        oc.Measured(oc.Case("relu()", (1, 1, 1), "elementwise"), flops=0, bytes_moved=4e6, seconds=1e-4, spread=0),
    ]
    fits, bandwidth = oc.fit(measured)
    conv = fits["conv3x3"]
    assert conv.overhead_s == 2e-6 and conv.points == ((1e6, pytest.approx(1e11)), (1e8, pytest.approx(2e11)))
    assert fits["elementwise"].points == ((4e6, pytest.approx(4e6 / 99e-6)),)
    assert bandwidth == pytest.approx(4e6 / 99e-6)


def test_noise_never_makes_work_free():
    case = oc.Case("relu()", (1, 1, 1), "linear")
    fits, _ = oc.fit([oc.Measured(case, 10, 8, 5e-6, 0.0), oc.Measured(case, 1000, 8, 4e-6, 0.0)])
    assert fits["linear"].points == ((1000.0, pytest.approx(1000 / 4e-7)),)  # 10% of its time, not <= 0


def test_a_tiny_real_calibration_is_a_valid_record():
    rec = tiny(in_network=True)
    assert rec.network_factor >= 1 and rec.step_overhead_s > 0  # fitted on the reference networks
    assert any(note.startswith("in a network: layers x") for note in rec.notes)
    assert set(rec.classes) == set(OP_CLASSES)
    assert rec.threads == torch.get_num_threads() and rec.device_type == "cpu" and rec.cudnn_benchmark is None
    assert all(f.overhead_s > 0 for f in rec.classes.values())
    assert rec.step_overhead_s >= 0 and rec.bandwidth_bytes_per_s > 0 and rec.seconds > 0
    assert lr.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec
    p = predict_graph(load_graph(SMALL, input_shape=(3, 32, 32)), rec)
    assert p.total_s > 0 and all(r["predicted_s"] > 0 for r in p.layers)


def test_a_bf16_channels_last_calibration_is_its_own_entry(cache):
    rec = tiny("cpu", "bf16", channels_last=True)
    assert rec.dtype == "bf16" and rec.channels_last
    assert rec.key.endswith(f"|bf16|threads={rec.threads}|channels_last")
    lr.write_cache(lr.cache_file(), {rec.key: rec.to_dict()})
    entries, _ = lr.read_cache(lr.cache_file())
    assert lr.matching(entries, device_type="cpu", dtype="bf16", channels_last=True, threads=None)[0] == [rec]
    assert lr.matching(entries, device_type="cpu", dtype="bf16", channels_last=False, threads=None)[0] == []


def test_the_calibration_is_measured_once_then_cached(cache, monkeypatch):
    calls = []

    def fake(device, dtype, channels_last):
        calls.append((device, dtype, channels_last))
        return tiny(device, dtype, channels_last)

    monkeypatch.setattr(oc, "measure", fake)
    first, cached = oc.calibration("cpu", "fp32")
    assert not cached and calls == [("cpu", "fp32", False)]
    again = opclass_calibration("cpu", "fp32")
    assert again == first and len(calls) == 1
    _, cached = oc.calibration("cpu", "fp32")
    assert cached and len(calls) == 1
    oc.calibration("cpu", "fp32", recalibrate=True)
    assert len(calls) == 2


def test_a_broken_cache_is_measured_again_and_said(cache, monkeypatch, capsys):
    monkeypatch.setattr(oc, "measure", lambda device, dtype, channels_last: tiny(device, dtype, channels_last))
    lr.cache_file().write_text("{not json")
    record, cached = oc.calibration("cpu", "fp32")
    assert not cached and "not valid (not JSON)" in capsys.readouterr().err
    entries, problem = lr.read_cache(lr.cache_file())
    assert problem is None and record.key in entries


def test_a_busy_machine_is_warned_about(monkeypatch, capsys):
    monkeypatch.setattr(oc, "load_average", lambda: 64.0)
    rec = tiny()
    assert "the machine is busy" in capsys.readouterr().err and rec.load_average == 64.0
    assert any("under load" in d for d in lr.doubts(rec))


def test_profile_per_layer_predict_puts_predicted_beside_measured(cache, roofline):
    rec = tiny()
    lr.write_cache(lr.cache_file(), {rec.key: rec.to_dict()})
    graph = load_graph(SMALL, input_shape=(3, 32, 32))
    report = profile(graph, per_layer=True, predict=True, min_run_time=0.05)
    doc = report.to_dict()
    expected = {r["name"]: r["predicted_s"] for r in predict_graph(graph, rec).layers}
    for row in doc["layers"]:
        assert row["class_predicted_s"] == pytest.approx(expected[row["name"]])
    p = doc["prediction"]
    assert p["layers_compared"] == 7 and -1 <= p["rank_correlation"] <= 1
    assert p["whole_model_predicted_s"] == pytest.approx(predict_graph(graph, rec).total_s)
    assert p["whole_model_measured_over_predicted"] == pytest.approx(
        doc["summary"]["whole_model_s"] / p["whole_model_predicted_s"]
    )


def test_profile_cli_predict_needs_per_layer(cli):
    result = cli("profile", "conv(4,k=3)", "--input", "3x8x8", "--predict")
    assert result.exit_code == 2 and "--predict needs --per-layer" in result.stderr


def test_profile_cli_prints_the_prediction(cli, cache, roofline):
    rec = tiny()
    lr.write_cache(lr.cache_file(), {rec.key: rec.to_dict()})
    args = ("profile", "conv(4,k=3) > relu()", "--input", "3x8x8", "--per-layer", "--predict", "--min-time", "0.02")
    table = cli(*args)
    assert table.exit_code == 0, table.stderr
    assert "per-op-class prediction: rank correlation" in table.stdout and "measured/predicted" in table.stdout
    csv = cli(*args, "--format", "csv")
    assert "class_predicted_s" in csv.stdout.splitlines()[0]


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize(("dtype", "channels_last"), [("fp32", False), ("fp16", True), ("bf16", False)])
def test_cuda_calibration(dtype, channels_last):
    rec = tiny("cuda", dtype, channels_last)
    assert rec.device_type == "cuda" and rec.device == torch.cuda.get_device_name()
    assert rec.cudnn_benchmark is torch.backends.cudnn.benchmark and rec.channels_last is channels_last
    assert all(f.overhead_s > 0 for f in rec.classes.values())


@pytest.mark.gpu
@cuda
def test_cuda_profile_reports_peak_memory_and_cudnn(cache):
    graph = load_graph(SMALL, input_shape=(3, 32, 32))
    report = profile(graph, batches=[4], dtypes=["fp16"], device="cuda", per_layer=True, min_run_time=0.05)
    run = report.runs[0]
    # at least the input and the first conv's output, fp16, batch 4
    assert run["device_peak_bytes"] >= 4 * 16 * 32 * 32 * 2
    assert any("cudnn autotuning" in n for n in report.notes)
    assert all(r["time_s"] > 0 for r in report.layers)


def test_a_disturbed_calibration_is_said_and_not_cached(cache, monkeypatch, capsys):
    from dataclasses import replace

    monkeypatch.setattr(oc, "measure", lambda device, dtype, channels_last: replace(tiny(), disturbed=True))
    record, cached = oc.calibration("cpu", "fp32")
    err = capsys.readouterr().err
    assert not cached and record.disturbed and "not cached" in err and "disagree with its reference" in err
    assert lr.read_cache(lr.cache_file()) == ({}, None)

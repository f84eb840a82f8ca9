"""Latency prediction from the Graph and a per-op-class calibration: synthetic calibration
records (rates and overheads chosen here), every expected time worked out by hand."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections import Counter

import pytest

from netcost.analysis import latency_record as lr
from netcost.analysis.predict import OP_CLASSES, layer_work, op_class, predict_graph
from netcost.api import load_graph, predict

NOW = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def record(rates=None, overhead=0.0, step=0.0, bandwidth=1e30, **changes) -> lr.OpClassCalibration:
    """Every class at one constant rate (work/s) unless ``rates`` says otherwise."""
    rates = rates or {}
    classes = {
        cls: lr.ClassFit(basis, overhead, ((1.0, rates.get(cls, 1e11 if basis == "flops" else 1e10)),))
        for cls, (_, basis) in OP_CLASSES.items()
    }
    values = dict(
        host=lr.host(),
        device_type="cpu",
        device="test cpu",
        dtype="fp32",
        threads=2,
        channels_last=False,
        classes=classes,
        step_overhead_s=step,
        bandwidth_bytes_per_s=bandwidth,
        measured_at=NOW,
        load_average=0.1,
        cpus=2,
        torch_version="test",
    )
    values.update(changes)
    return lr.OpClassCalibration(**values)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    return tmp_path


def store(*records: lr.OpClassCalibration) -> None:
    assert lr.write_cache(lr.cache_file(), {r.key: r.to_dict() for r in records}) is None


def test_op_classes_of_resnet18_by_hand():
    # resnet18: a 7x7 stem, 8 basic blocks of two 3x3 convs, 3 1x1 downsample convs, a BN
    # after each of the 20 convs, max pool + global pool, flatten, one linear on one row
    counts = Counter(op_class(n) for n in load_graph("resnet18").nodes)
    assert counts["conv_large"] == 1 and counts["conv3x3"] == 16 and counts["pointwise"] == 3
    assert counts["norm"] == 20 and counts["pool"] == 1 and counts["global_pool"] == 1 and counts["view"] == 1
    assert counts["matvec"] == 1 and counts["linear"] == 0
    assert counts["elementwise"] == 1 + 8 * 2 + 8  # stem relu, two relus and one add per block


def test_op_classes_of_mobilenet_v2_by_hand():
    # 17 inverted residuals, each with one depthwise 3x3; pointwise: the first block projects
    # only, the other 16 expand and project; then the 1x1 to 1280; the stem is a 3x3
    counts = Counter(op_class(n) for n in load_graph("mobilenet_v2").nodes)
    assert counts["depthwise"] == 17 and counts["pointwise"] == 1 + 16 * 2 + 1 and counts["conv3x3"] == 1


def test_linear_layers_on_rows_and_on_one_row():
    # vit_b_16: 12 blocks x 4 linears on 197 tokens (the attention's own projections are in
    # `attention`), then the head on the class token alone: one row
    counts = Counter(op_class(n) for n in load_graph("vit_b_16").nodes)
    assert counts["linear"] == 12 * 2 and counts["matvec"] == 1 and counts["attention"] == 12
    few = load_graph("to_tokens > linear(8)", input_shape=(4, 2, 4))  # 8 rows: still a matvec
    many = load_graph("to_tokens > linear(8)", input_shape=(4, 3, 3))  # 9 rows
    assert op_class(few.nodes[-1]) == "matvec" and op_class(many.nodes[-1]) == "linear"


def test_window_pooling_is_priced_by_its_window_reads():
    g = load_graph("maxpool(k=3,s=2,p=1) > gap()", input_shape=(8, 16, 16))
    pool = g.nodes[0]
    assert [op_class(n) for n in g.nodes] == ["pool", "global_pool"]
    assert layer_work(pool, 1, "fp32")[0] == 8 * 8 * 8 * 9  # each output reads a 3x3 window
    p = predict_graph(g, record(rates={"pool": 1e9, "global_pool": 1e8}))
    assert p.layers[0]["predicted_s"] == pytest.approx(8 * 8 * 8 * 9 / 1e9)
    assert p.layers[1]["predicted_s"] == pytest.approx((8 * 8 * 8 + 8) * 4 / 1e8)  # bytes in and out


def test_the_network_factor_scales_every_layer_and_the_step_is_per_layer():
    g = load_graph("conv(64,k=3,bias=false) > relu()", input_shape=(64, 56, 56))
    alone = predict_graph(g, record(overhead=1e-5))
    inside = predict_graph(g, record(overhead=1e-5, step=4e-5, network_factor=1.25))
    conv_alone = 1e-5 + 231_211_008 / 1e11  # as in test_one_conv_by_hand
    relu_alone = 1e-5 + 2 * 64 * 56 * 56 * 4 / 1e10
    assert [r["alone_s"] for r in inside.layers] == pytest.approx([conv_alone, relu_alone])
    assert [r["predicted_s"] for r in inside.layers] == pytest.approx([1.25 * conv_alone, 1.25 * relu_alone])
    assert inside.total_s == pytest.approx(1.25 * (conv_alone + relu_alone) + 2 * 4e-5)
    assert alone.total_s == pytest.approx(conv_alone + relu_alone)
    assert inside.calibration["network_factor"] == 1.25 and inside.calibration["step_overhead_s"] == 4e-5


def test_grouped_and_large_kernels():
    g = load_graph("conv(64,k=3,g=4) > conv(64,k=[1,7]) > conv(64,k=5) > conv(64,k=[1,3])", input_shape=(32, 8, 8))
    assert [op_class(n) for n in g.nodes] == ["grouped", "conv_large", "conv_large", "conv3x3"]


def test_throughput_interpolates_in_log_log_and_clamps():
    fit = lr.ClassFit("flops", 0.0, ((1e6, 1e9), (1e8, 1e11)))
    assert fit.rate(1e7) == pytest.approx(1e10)  # halfway in log work: halfway in log rate
    assert fit.rate(1e3) == 1e9 and fit.rate(1e12) == 1e11


def test_one_conv_by_hand():
    g = load_graph("conv(64,k=3,bias=false)", input_shape=(64, 56, 56))
    node = g.nodes[0]
    flops, moved = layer_work(node, 1, "fp32")
    assert flops == 2 * 64 * 64 * 9 * 56 * 56  # 231,211,008
    assert moved == (2 * 64 * 56 * 56 + 64 * 64 * 9) * 4  # input + output + weights
    p = predict_graph(g, record(overhead=1e-5, bandwidth=1e10), batch=1)
    row = p.layers[0]
    assert row["bound"] == "compute"
    assert row["predicted_s"] == pytest.approx(1e-5 + 231_211_008 / 1e11)
    # memory-bound when the bandwidth is low: 1,753,088 bytes at 1e8 B/s
    slow = predict_graph(g, record(overhead=1e-5, bandwidth=1e8)).layers[0]
    assert slow["bound"] == "memory" and slow["predicted_s"] == pytest.approx(1e-5 + 1_753_088 / 1e8)


def test_bandwidth_classes_views_and_the_whole_model():
    g = load_graph("relu() > flatten() > linear(10,bias=false)", input_shape=(4, 2, 2))
    p = predict_graph(g, record(overhead=2e-6, step=1e-6), batch=3)
    relu, flatten, linear = p.layers
    assert relu["bytes_moved"] == 2 * 16 * 3 * 4 and relu["predicted_s"] == pytest.approx(2e-6 + 384 / 1e10)
    assert flatten["flops"] == 0 and flatten["bytes_moved"] == 0 and flatten["predicted_s"] == 2e-6
    assert linear["flops"] == 2 * 16 * 10 * 3  # the batch scales the work
    assert linear["bytes_moved"] == ((16 + 10) * 3 + 160) * 4  # ... not the weights
    assert p.step_overhead_s == pytest.approx(3e-6)
    assert p.total_s == pytest.approx(sum(r["predicted_s"] for r in p.layers) + 3e-6)
    assert p.to_dict()["by_class"]["view"] == {"layers": 1, "predicted_s": 2e-6, "flops": 0}


def test_a_class_the_calibration_lacks_is_a_clear_error():
    rec = record()
    rec.classes.pop("attention")
    with pytest.raises(Exception, match="no op class 'attention'"):
        predict_graph(load_graph("to_tokens > attention(heads=2)", input_shape=(8, 2, 2)), rec)


def test_record_round_trip_and_invalid_entries():
    rec = record()
    assert lr.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec
    broken = [
        {**rec.to_dict(), "threads": 0},
        {**rec.to_dict(), "bandwidth_bytes_per_s": -1.0},
        {**rec.to_dict(), "device_type": "tpu"},
        {k: v for k, v in rec.to_dict().items() if k != "classes"},
        {**rec.to_dict(), "classes": {"conv3x3": {"basis": "flops", "overhead_s": 0.0, "points": [[2, 1], [1, 1]]}}},
        {**rec.to_dict(), "classes": {"conv3x3": {"basis": "flops", "overhead_s": 0.0, "points": [[1, float("nan")]]}}},
        {**rec.to_dict(), "classes": {}},
        "not a record",
    ]
    assert all(lr.from_dict(b) is None for b in broken)


def test_the_cache_finds_this_hosts_entry(cache):
    two, four = record(threads=2), record(threads=4, measured_at="2020-01-01T00:00:00+00:00")
    other = record(host="another-host")
    store(two, four, other)
    entries, problem = lr.read_cache(lr.cache_file())
    assert problem is None
    found, invalid = lr.matching(entries, device_type="cpu", dtype="fp32", channels_last=False, threads=None)
    assert [r.threads for r in found] == [2, 4] and invalid == 0  # newest first, other host left out
    found, _ = lr.matching(entries, device_type="cpu", dtype="fp32", channels_last=False, threads=4)
    assert [r.threads for r in found] == [4]
    assert lr.matching(entries, device_type="cpu", dtype="bf16", channels_last=False, threads=None)[0] == []


@pytest.mark.parametrize(("content", "problem"), [(b"{", "not JSON"), (b'{"schema_version": 1}', "not a schema-2")])
def test_a_broken_cache_file_is_named(cache, content, problem):
    lr.cache_file().write_bytes(content)
    assert problem in lr.read_cache(lr.cache_file())[1]


def test_doubts_about_age_and_load():
    old = record(measured_at="2020-01-01T00:00:00+00:00", load_average=3.0, cpus=2)
    said = lr.doubts(old)
    assert any("days old" in d for d in said) and any("under load (3 on 2 CPUs)" in d for d in said)
    assert lr.doubts(record()) == []


def test_predict_reads_the_cache_without_torch(cache):
    store(record(overhead=1e-6, step=1e-6))
    code = (
        "import json, sys, io, contextlib\n"
        "from netcost.cli import run\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = run(['predict', 'resnet18', '--format', 'json'])\n"
        "assert code == 0, code\n"
        "assert 'torch' not in sys.modules\n"
        "print(out.getvalue())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(cache), timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    # resnet18: 1.814 G MACs (torchvision) -> 3.628 GFLOP of MACs alone, at 1e11 FLOP/s >= 36 ms
    assert doc["totals"]["predicted_s"] > 2 * 1_814_083_944 / 1e11
    assert doc["totals"]["predicted_s"] == pytest.approx(sum(r["predicted_s"] for r in doc["layers"]) + 69e-6)
    assert len(doc["layers"]) == 69


def _env(cache):
    import os

    return {**os.environ, "NETCOST_CACHE_DIR": str(cache)}


def test_compare_predict_puts_latency_beside_the_macs(cli, cache):
    # depthwise 10x slower per FLOP than dense: the 8.7x fewer MACs are not 8.7x faster
    store(record(rates={"conv3x3": 1e11, "pointwise": 1e11, "depthwise": 1e10}))
    args = ("compare", "conv(256,k=3,bias=false)", "dwsep(256,k=3,bias=false)", "--input", "256x56x56")
    result = cli(*args, "--predict", "--format", "json")
    assert result.exit_code == 0, result.stderr
    first, second = json.loads(result.stdout)["models"]
    dense = 2 * 256 * 256 * 9 * 56 * 56
    depthwise, pointwise = 2 * 256 * 9 * 56 * 56, 2 * 256 * 256 * 56 * 56
    assert first["predicted"]["latency_s"] == pytest.approx(dense / 1e11)
    separable = depthwise / 1e10 + pointwise / 1e11
    assert second["predicted"]["latency_s"] == pytest.approx(separable)
    assert second["predicted"]["ratio_to_first"] == pytest.approx(separable / (dense / 1e11))
    assert second["ratio_to_first"]["macs"] == pytest.approx((256 * 9 + 256 * 256) / (256 * 256 * 9))
    table = cli(*args, "--predict")
    assert "predicted latency" in table.stdout and "(1x)" in table.stdout


def test_predict_in_every_format(cli, cache):
    store(record(overhead=1e-6))
    for fmt, marker in (("table", "predicted:"), ("csv", "predicted_s"), ("markdown", "| layer |")):
        result = cli("predict", "conv(8,k=3) > relu()", "--input", "3x16x16", "--format", fmt)
        assert result.exit_code == 0 and marker in result.stdout, result.stderr


def test_predict_at_another_batch_scales_the_work(cache):
    store(record())
    one, eight = (predict("conv(8,k=3,bias=false)", input_shape=(8, 16, 16), batch=b) for b in (1, 8))
    assert eight.layers[0]["flops"] == 8 * one.layers[0]["flops"] == 8 * 2 * 8 * 8 * 9 * 256


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "tests.counted.inputnets:lstm", "--input", "50x128"], "recurrent"),
        (["predict", "resnet18", "--device", "tpu"], "one of cpu, cuda"),
        (["predict", "resnet18", "--dtype", "int3"], "unknown dtype"),
    ],
)
def test_bad_predict_input_is_exit_2(cli, cache, args, message):
    store(record())
    result = cli(*args)
    assert result.exit_code == 2 and message in result.stderr


def test_a_loaded_cached_calibration_is_used_with_a_warning(cli, cache):
    store(record(load_average=5.0, cpus=2))
    result = cli("predict", "conv(8,k=3)", "--input", "3x16x16", "--format", "json")
    assert result.exit_code == 0 and "measured under load" in result.stderr


def test_without_a_calibration_or_torch_predict_says_what_it_needs(cli, cache, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    result = cli("predict", "resnet18")
    assert result.exit_code == 2 and "needs torch" in result.stderr


def test_compare_predict_csv_has_the_latency_columns(cli, cache):
    store(record())
    result = cli("compare", "conv(8,k=3)", "conv(8,k=5)", "--input", "8x16x16", "--predict", "--format", "csv")
    header, first, second = result.stdout.splitlines()
    assert float(first.split(",")[-1]) == 1.0
    assert header.endswith("predicted_s,predicted_s_ratio")
    k3, k5 = (2 * 8 * 8 * k * k * 256 + 8 * 256 for k in (3, 5))  # MACs x 2 + the bias adds
    assert float(second.split(",")[-1]) == pytest.approx(k5 / k3)


def test_the_docs_table_lists_every_op_class():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "latency.md").read_text()
    listed = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}
    assert listed == set(OP_CLASSES)

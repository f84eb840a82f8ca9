"""profile and calibrate on CPU: quick runs on a tiny spec (speed goals live in benchmarks/)."""

import json

import pytest

torch = pytest.importorskip("torch")

from netcost.api import load_graph, profile  # noqa: E402
from netcost.counted import calibrate as calibration  # noqa: E402
from netcost.counted.profile import spearman  # noqa: E402

TINY = """
input: [3, 32, 32]
layers:
  - conv: {out: 16, k: 3, pad: 1}
  - relu
  - conv: {out: 16, k: 3, pad: 1, groups: 16}
  - conv: {out: 32, k: 1}
  - gap
  - flatten
  - linear: {out: 10}
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_spearman_by_hand():
    assert spearman([1, 2, 3], [1, 2, 3]) == pytest.approx(1)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)  # 1 - 6*2/(3*8)
    assert spearman([1, 2], [2, 1]) is None


def test_whole_model_runs(spec_file):
    graph = load_graph(spec_file(TINY))
    report = profile(graph, batches=[1, 2], min_run_time=0.05)
    flops = {1: 2 * (16 * 27 * 1024 + 16 * 9 * 1024 + 32 * 16 * 1024 + 32 * 10)}  # by hand, batch 1
    for run in report.runs:
        assert run["median_s"] > 0 and run["timed_runs"] >= run["timed_blocks"] >= 1
        assert (run["iqr_s"] is None) == (run["timed_blocks"] < 3) and (run["iqr_s"] is None or run["iqr_s"] >= 0)
        assert run["throughput"] == pytest.approx(run["batch"] / run["median_s"])
        assert run["flops"] == flops[1] * run["batch"]
        assert run["achieved_flop_per_s"] == pytest.approx(run["flops"] / run["median_s"])


def test_per_layer_and_roofline(spec_file, cache, monkeypatch):
    fake = calibration.Roofline("test device", "fp32", 1, 1e10, 1e9, 64, 1024)
    monkeypatch.setattr(calibration, "measure", lambda device, dtype: fake)
    report = profile(load_graph(spec_file(TINY)), per_layer=True, min_run_time=0.05)
    doc = report.to_dict()
    assert [r["name"] for r in doc["layers"]][:3] == ["conv1", "relu1", "conv2"]
    assert all(r["time_s"] > 0 for r in doc["layers"])
    kinds = {r["name"]: r["kind"] for r in doc["layers"]}
    assert (
        kinds["conv2"] == "depthwise conv" and kinds["conv3"] == "pointwise conv" and kinds["conv1"] == "standard conv"
    )
    conv1 = doc["layers"][0]
    assert conv1["bytes_moved"] == (3 * 1024 + 16 * 1024 + 16 * 28) * 4  # input + output + weights, fp32
    assert conv1["predicted_s"] == pytest.approx(
        max((conv1["flops"] + conv1["elementwise_flops"]) / 1e10, conv1["bytes_moved"] / 1e9)
    )
    summary = doc["summary"]
    assert 0 < summary["layer_sum_over_whole"] < 5
    assert doc["roofline"]["layers_compared"] >= 5 and -1 <= doc["roofline"]["rank_correlation"] <= 1


def test_calibration_is_cached(cache, monkeypatch):
    calls = []

    def fake(device, dtype):
        calls.append(dtype)
        return calibration.Roofline("d", dtype, 1, 1.0, 2.0, 1, 1)

    monkeypatch.setattr(calibration, "measure", fake)
    first, cached = calibration.roofline("cpu", "fp32")
    again, cached_again = calibration.roofline("cpu", "fp32")
    assert (cached, cached_again, calls) == (False, True, ["fp32"]) and first == again
    calibration.roofline("cpu", "fp32", recalibrate=True)
    assert calls == ["fp32", "fp32"]
    assert json.loads((cache / "calibration.json").read_text())


def test_real_calibration_is_positive():
    result = calibration.measure("cpu", "fp32", matmul_n=128, copy_mib=4)
    assert result.peak_flop_per_s > 0 and result.bandwidth_bytes_per_s > 0


def test_cli(cli, spec_file, cache, tmp_path):
    path = spec_file(TINY)
    doc = json.loads(cli("profile", path, "--min-time", "0.05", "--batch", "1,4", "-f", "json").stdout)
    assert set(doc) >= {"model", "device", "threads", "runs"} and [r["batch"] for r in doc["runs"]] == [1, 4]
    assert cli("profile", path, "--batch", "0").exit_code == 2
    assert cli("profile", path, "--dtype", "fp12").exit_code == 2
    table = cli("profile", path, "--min-time", "0.05", "--per-layer")
    assert table.exit_code == 0 and "depthwise conv" in table.stdout
    pytest.importorskip("matplotlib")
    png = tmp_path / "roofline.png"
    assert cli("profile", path, "--min-time", "0.05", "--per-layer", "--plot", png).exit_code == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cuda_without_gpu(cli, spec_file):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = cli("profile", spec_file(TINY), "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA device" in result.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_profile_fp16_amp(spec_file):
    report = profile(
        load_graph(spec_file(TINY)),
        batches=[8],
        dtypes=["fp16"],
        device="cuda",
        amp=True,
        per_layer=True,
        min_run_time=0.1,
    )
    assert report.runs[0]["median_s"] > 0 and report.layers


def test_profile_a_torch_model_by_dotted_path(cli):
    doc = json.loads(
        cli("profile", "tests.counted.refnets:tiny", "--input", "3x16x16", "--min-time", "0.05", "-f", "json").stdout
    )
    (run,) = doc["runs"]
    # conv 8x27 per pixel at 16x16 + linear 8x5, x2 FLOPs per MAC (counted, no spec)
    assert run["flops"] == 2 * (8 * 27 * 256 + 8 * 5)
    assert run["achieved_flop_per_s"] == pytest.approx(run["flops"] / run["median_s"])
    assert any("need a spec" in n for n in doc["notes"])


def test_no_iqr_from_too_few_blocks_and_a_note_says_so(spec_file, monkeypatch):
    """One timed block has no spread: the IQR is unavailable (not 0) and a note says why."""
    from netcost.counted import profile as profiling
    from netcost.counted.timing import Timing

    monkeypatch.setattr(profiling, "time_model", lambda *a, **k: Timing(0.01, None, 5, 1))
    report = profile(load_graph(spec_file(TINY)), batches=[1], min_run_time=0.05)
    (run,) = report.runs
    assert run["iqr_s"] is None and run["timed_blocks"] == 1
    assert any("no IQR from 1 timed block(s)" in note for note in report.notes)


def test_the_per_layer_table_names_its_setting(spec_file, cache, monkeypatch, capsys):
    fake = calibration.Roofline("test device", "fp32", 1, 1e10, 1e9, 64, 1024)
    monkeypatch.setattr(calibration, "measure", lambda device, dtype: fake)
    report = profile(load_graph(spec_file(TINY)), batches=[2, 1], per_layer=True, min_run_time=0.02)
    doc = report.to_dict()
    assert (doc["summary"]["batch"], doc["summary"]["dtype"]) == (2, "fp32")
    from netcost.report.profile_render import layer_title

    assert layer_title(doc) == "per layer at batch 2 fp32"


def test_the_roofline_plot_is_labelled(tmp_path):
    """Peak, bandwidth and ridge point labelled; the title names the setting and machine."""
    pytest.importorskip("matplotlib")
    from netcost.report.profile_render import plot_roofline, plot_title, roofline_labels

    rl = {"device": "test cpu", "peak_flop_per_s": 1e11, "bandwidth_bytes_per_s": 2e10}
    texts = [t for t, *_ in roofline_labels(rl, 0.5, 100.0)]
    assert texts == ["peak 100 GFLOP/s", "bandwidth 20 GB/s", "ridge 5 FLOP/byte"]
    layer = {"kind": "standard conv", "achieved_flop_per_s": 1e9, "arithmetic_intensity": 3.0}
    doc = {"model": "m", "threads": 2, "roofline": rl, "layers": [layer], "summary": {"batch": 8, "dtype": "fp16"}}
    assert plot_title(doc) == "m, per layer at batch 8 fp16, on test cpu (2 threads)"
    svg = tmp_path / "r.svg"
    plot_roofline(doc, str(svg))
    text = svg.read_text()
    assert all(t in text for t in ("peak 100 GFLOP/s", "ridge 5 FLOP/byte", "batch 8 fp16"))

"""Devices and dtypes are checked up front (exit 2 naming what is accepted, before any
work), and the calibration cache is validated on read, measured again when invalid, and
a cache that cannot be written costs a warning, never the measurement."""

from __future__ import annotations

import datetime
import json

import pytest

torch = pytest.importorskip("torch")

from netcost.analysis.latency_record import STALE_DAYS  # noqa: E402
from netcost.counted import calibrate as calibration  # noqa: E402
from netcost.counted.device import RUN_DTYPES, check_device, check_dtypes  # noqa: E402
from netcost.counted.timing import DTYPES  # noqa: E402
from netcost.errors import NetcostError  # noqa: E402

NOW = datetime.datetime.now(datetime.timezone.utc)

NO_GPU = not torch.cuda.is_available()
TINY = "conv(4,k=3) > relu"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def measured(monkeypatch):
    """``calibrate.measure`` faked: records its calls, returns a valid roofline."""
    calls = []

    def fake(device, dtype):
        calls.append((device, dtype))
        return calibration.Roofline("fake cpu", dtype, 2, 1e11, 2e10, 2048, 2**28)

    monkeypatch.setattr(calibration, "measure", fake)
    return calls


def test_the_run_dtypes_are_timings():
    assert tuple(DTYPES) == RUN_DTYPES


@pytest.mark.parametrize(
    "args",
    [
        ["verify", TINY, "--input", "3x8x8", "--device", "tpu"],
        ["verify", TINY, "--input", "3x8x8", "--train", "--device", "tpu"],
        ["profile", TINY, "--input", "3x8x8", "--device", "tpu"],
        ["profile", TINY, "--input", "3x8x8", "--per-layer", "--device", "tpu"],
        ["profile", "tests.counted.usermodels:factory_prints", "--input", "3x8x8", "--device", "tpu"],
        ["calibrate", "--device", "tpu"],
        ["calibrate", "--device", "cpu:3"],
        ["calibrate", "--device", "meta"],
    ],
)
def test_an_unknown_device_is_exit_2_before_any_work(cli, cache, measured, args):
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert "not a device netcost can run on; one of cpu, cuda, cuda:N" in " ".join(result.stderr.split())
    assert measured == [] and "from the model" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["calibrate", "--dtype", "bogus"], ["profile", TINY, "--input", "3x8x8", "--dtype", "fp32,bogus", "--per-layer"]],
)
def test_an_unknown_dtype_is_exit_2_naming_the_accepted(cli, cache, measured, args):
    result = cli(*args)
    assert result.exit_code == 2 and measured == []
    assert "bogus" in result.stderr and "fp32, fp16, bf16, fp64" in result.stderr


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:7"])
def test_cuda_without_a_gpu(cli, cache, measured, device):
    for args in (["calibrate"], ["verify", TINY, "--input", "3x8x8"], ["profile", TINY, "--input", "3x8x8"]):
        result = cli(*args, "--device", device)
        assert result.exit_code == 2 and "no CUDA device is available" in result.stderr, args
    assert measured == []


def test_a_cuda_index_past_the_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("CUDA:1") == "cuda:1" and check_device(" cuda ") == "cuda"
    with pytest.raises(NetcostError, match=r"cuda:7: no such CUDA device; this machine has 2 \(cuda:0 .. cuda:1\)"):
        check_device("cuda:7")


@pytest.mark.gpu
@pytest.mark.skipif(NO_GPU, reason="needs a CUDA device")
def test_real_cuda_devices_are_accepted_and_bounded():
    count = torch.cuda.device_count()
    assert check_device("cuda") == "cuda" and check_device(f"cuda:{count - 1}") == f"cuda:{count - 1}"
    with pytest.raises(NetcostError, match="no such CUDA device"):
        check_device(f"cuda:{count}")


def test_device_and_dtype_values_of_the_wrong_type():
    for bad in (None, 3, "", "cuda:", "cuda:-1", "cuda:x", "\x1b[2Jcpu"):
        with pytest.raises(NetcostError) as info:
            check_device(bad)
        assert "\x1b" not in str(info.value)
    assert check_dtypes("fp32, bf16") == ["fp32", "bf16"]
    for bad in ([], ["fp32", 3], "fp32,"):
        with pytest.raises(NetcostError):
            check_dtypes(bad)


# --- the calibration cache ------------------------------------------------------------------


def _key() -> str:
    return calibration._key(torch.device("cpu"), "fp32")


def _entry(**changes):
    good = {
        "device": "cached cpu",
        "dtype": "fp32",
        "threads": 2,
        "peak_flop_per_s": 5e10,
        "bandwidth_bytes_per_s": 1e10,
        "matmul_n": 2048,
        "copy_bytes": 2**28,
        "measured_at": NOW.isoformat(timespec="seconds"),
        "load_average": 0.1,
        "cpus": 2,
    }
    return {**good, **changes}


def _doc(entry) -> bytes:
    return json.dumps({"schema_version": 3, "entries": {_key(): entry}}).encode()


def test_a_valid_cache_is_used(cache, measured):
    cache.mkdir()
    (cache / "calibration.json").write_bytes(_doc(_entry()))
    result, cached = calibration.roofline("cpu", "fp32")
    assert cached and measured == [] and result.device == "cached cpu" and result.peak_flop_per_s == 5e10


BAD_FILES = {
    "not UTF-8": b"\xff\xfe\x00garbage",
    "not JSON": b"{not json",
    "a list": b"[]",
    "the old layout (no schema)": json.dumps({"k": _entry()}).encode(),
    "another schema": json.dumps({"schema_version": 99, "entries": {}}).encode(),
    "entries not a mapping": json.dumps({"schema_version": 3, "entries": []}).encode(),
    "the schema-2 layout (no date, load or CPUs)": json.dumps({"schema_version": 2, "entries": {}}).encode(),
}
BAD_ENTRIES = {
    "peak 0": _entry(peak_flop_per_s=0),
    "negative bandwidth": _entry(bandwidth_bytes_per_s=-1.0),
    "NaN peak": _entry(peak_flop_per_s=float("nan")),
    "infinite bandwidth": _entry(bandwidth_bytes_per_s=float("inf")),
    "a string figure": _entry(peak_flop_per_s="1e9"),
    "threads true": _entry(threads=True),
    "a float size": _entry(matmul_n=2048.5),
    "an unknown dtype": _entry(dtype="fp12"),
    "a missing field": {k: v for k, v in _entry().items() if k != "copy_bytes"},
    "no date": {k: v for k, v in _entry().items() if k != "measured_at"},
    "a negative load": _entry(load_average=-1.0),
    "cpus as text": _entry(cpus="2"),
    "an extra field": _entry(extra=1),
    "not an object": [1, 2],
}


@pytest.mark.parametrize(
    "content",
    [*BAD_FILES.values(), *(_doc(e) for e in BAD_ENTRIES.values())],
    ids=[*BAD_FILES, *BAD_ENTRIES],
)
def test_an_invalid_cache_is_measured_again_and_rewritten(cache, measured, capsys, content):
    cache.mkdir()
    (cache / "calibration.json").write_bytes(content)
    result, cached = calibration.roofline("cpu", "fp32")
    assert not cached and measured == [("cpu", "fp32")] and result.device == "fake cpu"
    assert "measuring again" in capsys.readouterr().err
    entries, problem = calibration.read_cache(cache / "calibration.json")
    assert problem is None and calibration.from_entry(entries[_key()]) == result
    assert calibration.roofline("cpu", "fp32") == (result, True)  # and now it is used


def test_an_unwritable_cache_warns_and_keeps_the_measurement(tmp_path, monkeypatch, measured, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(blocker / "cache"))
    result, cached = calibration.roofline("cpu", "fp32")
    assert not cached and result.device == "fake cpu" and measured == [("cpu", "fp32")]
    assert "could not write the calibration cache" in capsys.readouterr().err


def test_a_cache_path_that_is_a_directory(cache, measured, capsys):
    (cache / "calibration.json").mkdir(parents=True)
    result, cached = calibration.roofline("cpu", "fp32")
    assert not cached and result.device == "fake cpu"
    err = capsys.readouterr().err
    assert "cannot read it" in err and "could not write" in err


def test_the_cli_calibrates_with_a_broken_cache(cli, cache, measured):
    cache.mkdir()
    (cache / "calibration.json").write_bytes(b"\xff")
    result = cli("calibrate", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["peak_flop_per_s"] == 1e11 and "measuring again" in result.stderr


def test_an_old_or_loaded_calibration_is_used_with_a_warning(cache, measured, capsys):
    old = NOW - datetime.timedelta(days=STALE_DAYS + 10)
    cache.mkdir()
    entry = _entry(measured_at=old.isoformat(timespec="seconds"), load_average=3.5, cpus=2)
    (cache / "calibration.json").write_bytes(_doc(entry))
    _, cached = calibration.roofline("cpu", "fp32")
    assert cached and measured == []
    err = capsys.readouterr().err
    assert f"{STALE_DAYS + 10} days old" in err and "under load (3.5 on 2 CPUs)" in err
    assert "--recalibrate" in err


def test_a_fresh_idle_calibration_is_used_silently(cache, measured, capsys):
    cache.mkdir()
    (cache / "calibration.json").write_bytes(_doc(_entry()))
    assert calibration.roofline("cpu", "fp32")[1]
    assert capsys.readouterr().err == ""


def test_a_measurement_records_when_and_under_what_load():
    from netcost.counted.calibrate import doubts

    entry = calibration.Roofline("cpu", "fp32", 1, 1.0, 1.0, 1, 1, NOW.isoformat(), 0.2, 4)
    assert doubts(entry, NOW) == []
    busy = calibration.Roofline("cpu", "fp32", 1, 1.0, 1.0, 1, 1, NOW.isoformat(), 2.5, 4)
    assert doubts(busy, NOW) == ["it was measured under load (2.5 on 4 CPUs)"]

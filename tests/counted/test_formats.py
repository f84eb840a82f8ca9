"""Every advertised --format of verify, verify --train, profile and calibrate is honoured:
CSV parses to one row per layer (or setting) with the JSON's raw numbers, Markdown is a
table, and nothing falls back to the rich table."""

from __future__ import annotations

import csv
import io
import json

import pytest

pytest.importorskip("torch")

from netcost.report.profile_render import (
    CALIBRATION_FORMATS,
    PROFILE_FORMATS,
    render_calibration,
    render_profile,
)
from netcost.report.render import Format
from netcost.report.verify_render import TRAIN_VERIFY_FORMATS, VERIFY_FORMATS, render_verify

SPEC = "conv(4,k=3,pad=1) > bn > relu > maxpool(k=2)"
ARGS = ("--input", "3x8x8")


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_format_is_supported():
    for formats in (VERIFY_FORMATS, TRAIN_VERIFY_FORMATS, PROFILE_FORMATS, CALIBRATION_FORMATS):
        assert set(formats) == set(Format)


def test_verify_csv_is_one_row_per_layer_with_the_json_numbers(cli):
    doc = json.loads(cli("verify", SPEC, *ARGS, "--no-fields", "-f", "json").stdout)
    result = cli("verify", SPEC, *ARGS, "--no-fields", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    rows = _csv(result.stdout)
    assert [r["layer"] for r in rows] == [r["name"] for r in doc["layers"]] == ["conv1", "bn1", "relu1", "maxpool1"]
    conv = rows[0]
    assert conv["params_analytic"] == conv["params_counted"] == str(4 * 3 * 9 + 4) and conv["params_ok"] == "true"
    assert conv["flopcounter_analytic"] == str(2 * 4 * 27 * 64) and conv["shape_analytic"] == "1x4x8x8"
    assert rows[3]["fvcore_ok"] in ("true", "")  # fvcore cannot count max pool: no verdict, not a failure
    assert "verify passed" not in result.stdout


def test_verify_markdown_is_a_table_and_the_checks(cli):
    result = cli("verify", SPEC, *ARGS, "-f", "markdown")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("### verify ")
    assert "| layer | op | params | output | output bytes | fvcore | FlopCounterMode | note |" in lines
    assert "| conv1 | conv | ✓ 112 | ✓ 4x8x8 | ✓ 1 KiB | ✓ 6,912 | ✓ 13,824 |  |" in lines
    assert any(line.startswith("- ✓ receptive field of") for line in lines)
    assert lines[-1] == "**verify passed: 4 layers agree**"


def test_verify_train_csv_and_markdown(cli):
    rows = _csv(cli("verify", SPEC, *ARGS, "--train", "-f", "csv").stdout)
    assert [r["layer"] for r in rows] == ["conv1", "bn1", "relu1", "maxpool1"]
    # conv wgrad: 2 x MACs (2 x 4*27*64); no dgrad: the input needs no gradient
    assert rows[0]["wgrad_flops"] == rows[0]["backward_flops_counted"] == str(2 * 4 * 27 * 64)
    assert rows[0]["backward_flops_ok"] == "true"
    md = cli("verify", SPEC, *ARGS, "--train", "-f", "markdown").stdout.splitlines()
    assert "| layer | op | backward FLOPs | saved activations | note |" in md
    assert md[-1] == "**verify --train passed**"


def test_a_failed_verify_says_so_in_every_format(cli, monkeypatch):
    from netcost.ops.conv import Conv

    original = Conv.cost

    def off_by_one(self, ins, out):
        cost = original(self, ins, out)
        return type(cost)(cost.params, cost.buffers, cost.macs + 1, cost.elementwise, cost.bias)

    monkeypatch.setattr(Conv, "cost", off_by_one)
    args = ("verify", SPEC, *ARGS, "--no-fields", "--no-memory")
    rows = _csv(cli(*args, "-f", "csv").stdout)
    assert rows[0]["flopcounter_ok"] == "false" and rows[0]["fvcore_ok"] == "false"
    md = cli(*args, "-f", "markdown")
    assert (
        md.exit_code == 1
        and "✗ 6,913 ≠ 6,912" in md.stdout
        and "**verify FAILED: 4 mismatches: conv1: fvcore" in md.stdout
    )


PROFILE_DOC = {
    "schema_version": 1,
    "model": "net\x1b[31m",
    "device": "cpu",
    "threads": 4,
    "runs": [
        {
            "batch": b,
            "dtype": "fp32",
            "amp": False,
            "channels_last": False,
            "median_s": 0.002 * b,
            "iqr_s": 0.0001,
            "timed_runs": 50,
            "throughput": 500.0,
            "achieved_flop_per_s": 1e9,
            "flops": 2_000_000 * b,
        }
        for b in (1, 8)
    ],
    "notes": ["a note"],
}
LAYERS = [
    {
        "name": n,
        "op": "conv",
        "kind": "standard conv",
        "time_s": 0.001,
        "time_share": 0.5,
        "flops": 1_000_000,
        "flops_share": 0.5,
        "elementwise_flops": 10,
        "bytes_moved": 1000,
        "arithmetic_intensity": 1000.0,
        "achieved_flop_per_s": 1e9,
        "predicted_s": 0.0005,
    }
    for n in ("conv1", "conv2")
]
SUMMARY = {
    "layer_time_sum_s": 0.002,
    "hooked_pass_s": 0.0021,
    "whole_model_s": 0.002,
    "layer_sum_over_whole": 1.0,
    "achieved_flop_per_s_by_kind": {"standard conv": 1e9},
}


def test_profile_csv_rows_are_settings_or_layers(capsys):
    render_profile(PROFILE_DOC, Format.csv)
    rows = _csv(capsys.readouterr().out)
    assert [(r["batch"], r["flops"], r["median_s"]) for r in rows] == [
        ("1", "2000000", "0.002"),
        ("8", "16000000", "0.016"),
    ]
    per_layer = {**PROFILE_DOC, "layers": LAYERS, "summary": SUMMARY, "roofline": None}
    render_profile(per_layer, Format.csv)
    rows = _csv(capsys.readouterr().out)
    assert [(r["name"], r["batch"], r["time_s"], r["predicted_s"]) for r in rows] == [
        ("conv1", "1", "0.001", "0.0005"),
        ("conv2", "1", "0.001", "0.0005"),
    ]


def test_profile_markdown_and_table_escape_names(capsys):
    per_layer = {**PROFILE_DOC, "layers": LAYERS, "summary": SUMMARY, "roofline": None}
    render_profile(per_layer, Format.markdown)
    out = capsys.readouterr().out
    assert "| batch | dtype | median | IQR | images/s | achieved (2 x MACs / time) |" in out
    assert "| 8 | fp32 | 16 ms | 100 µs | 500 | 1 GFLOP/s |" in out
    assert "| conv1 | standard conv | 1 ms | 50.0 | 50.0 | 1 GFLOP/s | 1e+03 | 500 µs |" in out
    assert "\x1b" not in out and "net\\x1b[31m" in out
    render_profile(per_layer, Format.table)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "conv2" in out


def test_calibration_in_every_format(capsys):
    doc = {
        "device": "cpu x",
        "dtype": "fp32",
        "threads": 2,
        "peak_flop_per_s": 1e11,
        "bandwidth_bytes_per_s": 2e10,
        "matmul_n": 2048,
        "copy_bytes": 268435456,
        "cached": True,
    }
    render_calibration(doc, Format.csv)
    assert _csv(capsys.readouterr().out) == [
        {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in doc.items()}
    ]
    render_calibration(doc, Format.json)
    assert json.loads(capsys.readouterr().out) == doc
    render_calibration(doc, Format.markdown)
    assert capsys.readouterr().out.startswith("| device | dtype |")
    render_calibration(doc, Format.table)
    assert "peak 100 GFLOP/s" in capsys.readouterr().out


def test_the_verify_table_escapes_control_characters(capsys):
    doc = {
        "model": "m\x1b[2J",
        "device": "cpu",
        "input": [1, 3, 8, 8],
        "passed": True,
        "mismatches": [],
        "totals": [],
        "layers": [],
        "receptive_fields": [],
        "memory": None,
        "against": None,
        "notes": ["n\x07"],
    }
    render_verify(doc, Format.table)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "m\\x1b[2J" in out

"""`netcost sweep` and `netcost fit` on the command line: rows equal `analyze --set`, the
streams and exit codes of the CLI contract."""

from __future__ import annotations

import csv
import io
import json

import pytest


def analyze_totals(cli, *args) -> dict:
    result = cli("analyze", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["totals"]


def test_grid_csv_rows_equal_analyze_set(cli):
    result = cli("sweep", "mobilenet_v2", "--grid", "width=0.5,1.0,1.4", "--format", "csv")
    assert result.exit_code == 0 and result.stderr == ""  # nothing but the rows on a pipe
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["width"] for r in rows] == ["0.5", "1.0", "1.4"]
    for row in rows:
        totals = analyze_totals(cli, "mobilenet_v2", "--set", f"width={row['width']}")
        assert {k: int(v) for k, v in row.items() if k != "width"} == {k: totals[k] for k in row if k != "width"}
    assert rows[1]["params"] == "3504872"  # torchvision mobilenet_v2


def test_sample_json_rows_equal_analyze_set(cli):
    result = cli("sweep", "regnet", "--sample", "3", "--seed", "11", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["kind"] == "sample" and doc["space"] == "regnetx" and len(doc["rows"]) == 3
    varied = {"depth", "w0", "wa", "wm", "group_width"}
    assert varied <= set(doc["varied"])
    for row in doc["rows"]:
        sets = [a for k in doc["varied"] for a in ("--set", f"{k}={row[k]}")]
        totals = analyze_totals(cli, "regnet", *sets)
        assert all(row[k] == totals[k] for k in doc["columns"] if k not in doc["varied"])


def test_where_filters_rows_and_a_table_on_a_pipe(cli):
    result = cli("sweep", "mobilenet_v2", "--grid", "width=0.5,1.0,1.4", "--where", "macs <= 400e6")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["width", "params", "macs"] and len(lines) == 3  # header + 0.5 and 1.0
    assert "2 models" in result.stderr


def test_grid_over_inputs_and_lists(cli):
    result = cli("sweep", "resnet50", "--grid", "depths=[3,4,6,3],[3,4,23,3]", "--grid", "input=160,224", "-f", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [(r["depths"], r["input"]) for r in rows] == [
        ([3, 4, 6, 3], "160x160"),
        ([3, 4, 6, 3], "224x224"),
        ([3, 4, 23, 3], "160x160"),
        ([3, 4, 23, 3], "224x224"),
    ]
    assert rows[1]["params"] == 25_557_032 and rows[3]["params"] == 44_549_160  # torchvision resnet50, resnet101
    assert rows[0]["macs"] == analyze_totals(cli, "resnet50", "--input", "160")["macs"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "widht=0.5,1"], "declares no variable 'widht'"),
        (["--grid", "width=0.5", "--sample", "3"], "a grid or a sample"),
        ([], "a grid or a sample"),
        (["--grid", "width=0.5", "--where", "mac < 3"], "no column 'mac'"),
        (["--grid", "width=0.5", "--where", "macs <"], "syntax error"),
        (["--grid", "width"], "is not VAR=a,b,c"),
        (["--grid", "width=0.5", "--set", "width=1"], "give the variable one way"),
        (["--grid", "width=abc"], "expected a number"),
        (["--sample", "2", "--space", "nope"], "no design space"),
    ],
)
def test_bad_sweeps_exit_2_with_a_message(cli, args, message):
    result = cli("sweep", "mobilenet_v2", *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_torch_model_is_not_swept(cli):
    result = cli("sweep", "torchvision.models:resnet18", "--grid", "x=1")
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_jobs_give_the_same_csv(cli):
    args = ("sweep", "regnet", "--sample", "40", "--seed", "2", "--format", "csv")
    assert cli(*args, "--jobs", "2").stdout == cli(*args).stdout


def test_plot_writes_a_figure(cli, tmp_path):
    pytest.importorskip("matplotlib")
    grid, sample = tmp_path / "grid.png", tmp_path / "sample.svg"
    assert cli("sweep", "mobilenet_v2", "--grid", "width=0.5,1,2", "--plot", grid, "-f", "csv").exit_code == 0
    assert cli("sweep", "regnet", "--sample", "8", "--plot", sample, "-f", "csv").exit_code == 0
    assert grid.read_bytes()[:4] == b"\x89PNG" and b"<svg" in sample.read_bytes()[:400]


def test_fit_prints_the_largest_fitting_width(cli):
    result = cli("fit", "mobilenet_v2", "--vary", "width", "--max-macs", "300M", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    width, above = doc["value"], doc["next_value"]
    assert analyze_totals(cli, "mobilenet_v2", "--set", f"width={width!r}")["macs"] <= 300_000_000
    assert analyze_totals(cli, "mobilenet_v2", "--set", f"width={above!r}")["macs"] > 300_000_000
    assert 0 < above - width <= 1e-4 * width and doc["next_over"] == ["macs"]
    table = cli("fit", "mobilenet_v2", "--vary", "width", "--max-macs", "300M")
    assert table.exit_code == 0 and "fits macs <= 300 M" in table.stdout


def test_fit_exit_codes(cli):
    nothing = cli("fit", "efficientnet_b0", "--vary", "phi", "--max-params", "1M")
    assert nothing.exit_code == 1 and "fits the budget" in nothing.stderr
    assert cli("fit", "efficientnet_b0", "--vary", "phi").exit_code == 2  # no budget
    assert cli("fit", "efficientnet_b0", "--vary", "nope", "--max-macs", "1G").exit_code == 2
    assert cli("fit", "efficientnet_b0", "--vary", "phi", "--max-macz", "1G").exit_code == 2
    bad = cli("fit", "mobilenet_v2", "--vary", "width", "--max-macs", "1G", "--range", "0.5:x")
    assert bad.exit_code == 2 and "LOW:HIGH" in bad.stderr


def test_fit_within_a_range_and_integers(cli):
    ranged = cli("fit", "mobilenet_v2", "--vary", "width", "--max-macs", "300M", "--range", "0.5:2", "-f", "json")
    doc = json.loads(ranged.stdout)
    assert ranged.exit_code == 0 and abs(doc["value"] - 0.98749) < 1e-4
    top = cli("fit", "mobilenet_v2", "--vary", "width", "--max-macs", "300M", "--range", "0.5:0.9")
    assert top.exit_code == 2 and "give a larger range" in top.stderr
    depth = cli("fit", "regnet", "--vary", "depth", "--max-macs", "400M", "-f", "json")
    found = json.loads(depth.stdout)
    assert isinstance(found["value"], int) and found["next_value"] == found["value"] + 1
    assert analyze_totals(cli, "regnet", "--set", f"depth={found['value']}")["macs"] <= 400_000_000
    assert analyze_totals(cli, "regnet", "--set", f"depth={found['next_value']}")["macs"] > 400_000_000

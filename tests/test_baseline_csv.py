"""`check --write-baseline` (atomic, after the old baseline was read), failures that say why
(an incomplete count is not "over budget"), and the CSV's totals row."""

from __future__ import annotations

import csv
import io
import json

import pytest

from netcost.api import analyze
from netcost.budget import load_baseline
from netcost.report.render import TOTAL_ROW

RESNET18_PARAMS, RESNET18_MACS = 11_689_512, 1_814_073_344  # torchvision (tests/golden/reference.json)


def test_write_baseline_then_gate_on_it(cli, tmp_path):
    path = tmp_path / "ci" / "baseline.json"
    written = cli("check", "resnet18", "--write-baseline", str(path))
    assert written.exit_code == 0, written.output
    assert list(load_baseline(path)) == ["resnet18"]
    totals = load_baseline(path)["resnet18"]
    assert totals["params"] == RESNET18_PARAMS and totals["macs"] == RESNET18_MACS
    # 2,000 classes: fc grows by 512 x 1,000 + 1,000 = 513,000 params (+4.39%)
    grown = cli("check", "resnet18", "--set", "classes=2000", "--baseline", str(path), "--max-increase", "1%")
    assert grown.exit_code == 1
    assert cli("check", "resnet18", "--baseline", str(path), "--max-increase", "1%").exit_code == 0


def test_the_baseline_file_is_read_before_it_is_rewritten(cli, tmp_path):
    path = tmp_path / "baseline.json"
    assert cli("check", "resnet18", "--write-baseline", str(path)).exit_code == 0
    args = ("--baseline", str(path), "--max-increase", "1%", "--write-baseline", str(path), "-f", "json")
    grown = cli("check", "resnet18", "--set", "classes=2000", *args)
    assert grown.exit_code == 1  # judged against the old totals ...
    doc = json.loads(grown.stdout)
    params = next(r for r in doc["results"] if r["metric"] == "params vs baseline")
    assert params["failure"] == "over" and "baseline 11689512" in params["note"]
    assert load_baseline(path)["resnet18"]["params"] == RESNET18_PARAMS + 513_000  # ... then replaced
    assert doc["baseline_written"] == str(path)


def test_a_failed_write_is_an_error_and_leaves_nothing(cli, tmp_path):
    where = tmp_path / "a_directory"
    where.mkdir()
    result = cli("check", "resnet18", "--max-params", "12M", "--write-baseline", str(where))
    assert result.exit_code == 2 and "cannot write the baseline" in result.output
    assert list(where.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a_directory"]


def test_nothing_to_check_and_nothing_to_write_is_still_an_error(cli):
    assert cli("check", "resnet18").exit_code == 2


@pytest.mark.skipif(__import__("importlib").util.find_spec("torch") is None, reason="needs torch")
def test_an_incomplete_count_is_said_so_not_over_budget(cli):
    args = ("check", "tests.counted.refnets:Sorts", "--input", "3x8x8", "--max-flops", "1G")
    (row,) = json.loads(cli(*args, "-f", "json").stdout)["results"]
    assert row["failure"] == "incomplete" and row["actual"] <= row["budget"]
    table = cli(*args).stdout
    assert "FAIL (incomplete count)" in table and "1 incomplete count" in table and "over by" not in table
    junit = cli(*args, "-f", "junit").stdout
    assert 'type="IncompleteCount"' in junit


def test_csv_ends_with_a_totals_row():
    report = analyze("resnet18")
    from netcost.report.render import to_csv

    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert len(rows) == len(report.rows) + 1
    total = rows[-1]
    assert total["name"] == TOTAL_ROW and total["op"] == "" and total["output_shape"] == ""
    assert int(total["params"]) == RESNET18_PARAMS and int(total["macs"]) == RESNET18_MACS
    assert int(total["flops"]) == 2 * RESNET18_MACS
    assert sum(int(r["params"]) for r in rows[:-1]) == RESNET18_PARAMS  # the layers alone still sum


def test_csv_totals_row_with_training_columns(cli):
    out = cli("analyze", "resnet18", "--train", "-f", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    layers, total = rows[:-1], rows[-1]
    assert total["name"] == TOTAL_ROW
    assert int(total["backward_flops"]) == sum(int(r["backward_flops"]) for r in layers)

"""The plain and rich tables show the same cells in the same columns; piped output has no
trailing spaces; outside text (layer and model names) is printed escaped, never as
terminal control sequences or rich markup."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from rich.console import Console

from netcost.api import analyze, analyze_train
from netcost.options import TrainOptions
from netcost.report import render
from netcost.report.check_render import CheckFormat, render_check
from netcost.report.compare_render import render_compare
from netcost.report.render import Format
from netcost.report.zoo import render_zoo

EVIL = "ev\x1b[31mil[bold]x"
SHOWN = "ev\\x1b[31mil[bold]x"

EVIL_SPEC = """
name: "ev\\e[31mil[bold]x"
input: [3, 8, 8]
layers:
  - conv: {name: "c\\e[2Jonv[bold]x", out: 4, k: 3}
  - relu: {name: "[red]r"}
"""


def rich_text(report, formulas=False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=1000, highlight=False, color_system=None)
    render.print_table(report, formulas, console=console)
    return out.getvalue()


@pytest.mark.parametrize(
    "report",
    [
        pytest.param(lambda: analyze("resnet18"), id="resnet18"),
        pytest.param(lambda: analyze("mobilenet_v2", formulas=True), id="mobilenet_v2-formulas"),
        pytest.param(
            lambda: analyze_train("inception_v3", train=TrainOptions(optimizer="adam")), id="inception_v3-train"
        ),
        pytest.param(lambda: analyze("densenet121").folded(2), id="densenet121-folded"),
    ],
)
def test_plain_table_lines_up_with_the_rich_table(report):
    """Same columns, widths and cells: the grid lines are equal, the rule aside."""
    report = report()
    formulas = "formula_params" in report.rows[0]
    rich_lines = [line[1:].rstrip() for line in rich_text(report, formulas).splitlines()]  # [1:]: the box edge
    plain_lines = render.plain_table(report, formulas).splitlines()
    cells = render.table_cells(report, formulas)
    header = plain_lines.index(next(line for line in plain_lines if line.startswith("layer")))
    grid = plain_lines[header : header + 2 + len(cells.rows)]
    start = rich_lines.index(grid[0])
    assert rich_lines[start + 2 : start + 2 + len(cells.rows)] == grid[2:]
    assert set(rich_lines[start + 1].replace(" ", "")) == {"─"} and set(grid[1].replace(" ", "")) == {"-"}
    assert len(grid[1].split()) == len(cells.titles) == len(cells.rows[0])
    for name, value in render.totals_lines(report) + render.train_lines(report):
        assert any(line.startswith(name) and line.endswith(value) for line in plain_lines)


def test_piped_table_has_no_trailing_spaces_and_every_row():
    out = subprocess.run(
        [sys.executable, "-m", "netcost", "analyze", "resnet18", "--train"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "COLUMNS": "100"},
    ).stdout
    lines = out.splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert sum(line.startswith("layer4.1.") for line in lines) == 7
    assert "peak of the step" in out and "\x1b" not in out


def test_columns_fold_text_to_the_width_and_keep_every_character():
    report = analyze("mobilenet_v2", formulas=True)
    wide = render.plain_table(report, True)
    narrow = render.plain_table(report, True, width=170)
    grid = [line for line in narrow.splitlines() if line.startswith("features.0.0") or line.startswith(" ")]
    assert max(len(line) for line in narrow.splitlines()) <= 170 < max(len(x) for x in wide.splitlines())
    assert grid[0].startswith("features.0.0") and grid[1].startswith(" ")  # args continue on the next line
    assert all(line == line.rstrip() for line in narrow.splitlines())


def test_large_tables_are_plain_even_on_a_terminal(monkeypatch, capsys):
    report = analyze("efficientnet_b7")
    assert len(report.rows) > render.RICH_MAX_ROWS
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    render.print_table(report)
    assert capsys.readouterr().out == render.plain_table(report, width=render.terminal_width())


@pytest.fixture
def evil_report(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(EVIL_SPEC)
    return analyze(str(path))


def check_escaped(text: str) -> None:
    assert "\x1b" not in text
    assert SHOWN in text and "c\\x1b[2Jonv[bold]x" in text and "[red]r" in text


def test_names_are_escaped_in_every_analyze_format(evil_report):
    check_escaped(rich_text(evil_report))
    check_escaped(render.plain_table(evil_report))
    check_escaped(render.to_markdown(evil_report))
    check_escaped(render.to_csv(evil_report) + render.title(evil_report))
    assert json.loads(render.to_json(evil_report))["model"] == EVIL  # JSON keeps the value, escaped by JSON


def test_names_are_escaped_by_zoo_compare_and_check(capsys, monkeypatch):
    row = {"name": EVIL, "params": 1, "macs": 2, "input": [3, 8, 8], "vars": [], "reference": None}
    for fmt in (Format.table, Format.csv, Format.markdown):
        render_zoo([row], fmt)
        check_model(capsys.readouterr().out)
    totals = analyze("resnet18").totals
    doc = {"models": [{"model": EVIL, "convention": "netcost", "totals": totals, "ratio_to_first": {}}]}
    doc["models"][0]["notes"] = [EVIL]
    for fmt in (Format.table, Format.csv, Format.markdown):
        render_compare(doc, fmt)
        check_model(capsys.readouterr().out)
    result = {
        "model": EVIL,
        "metric": "params",
        "budget": 1,
        "actual": 2,
        "headroom_pct": -100.0,
        "passed": False,
        "note": EVIL,
    }
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for fmt in CheckFormat:
        if fmt is not CheckFormat.json:
            render_check({"passed": False, "results": [result]}, fmt)
            out = capsys.readouterr()
            check_model(out.out + out.err)


def check_model(text: str) -> None:
    assert "\x1b" not in text and SHOWN in text

"""Tables fit the terminal: columns are left out by a stated priority and long layer names
shortened in the middle, so every layer keeps one line with its MACs; nothing is lost when
the width allows."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console

from netcost.api import analyze
from netcost.report import render
from netcost.units import si


def piped(*args: str, columns: int) -> str:
    return subprocess.run(
        [sys.executable, "-m", "netcost", *args],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "COLUMNS": str(columns)},
    ).stdout


def layer_lines(text: str, report) -> dict[str, str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("layer ")) + 2
    return dict(zip((r["name"] for r in report.rows), lines[start : start + len(report.rows)], strict=True))


@pytest.mark.parametrize("columns", [80, 100])
def test_piped_resnet18_fits_with_each_layers_macs_on_its_row(columns):
    out = piped("analyze", "resnet18", columns=columns)
    report = analyze("resnet18")
    assert all(len(line) <= columns and line == line.rstrip() for line in out.splitlines())
    for row in report.rows:
        line = layer_lines(out, report)[row["name"]]
        assert line.startswith(row["name"] + " ")
        assert f" {si(row['macs'])}" in line and f"{row['params']:,}" in line
    assert "Left out to fit the width: elem., args" in " ".join(out.split())


def test_long_names_are_shortened_in_the_middle_on_a_terminal():
    report = analyze("densenet121").folded(4)
    out = io.StringIO()
    render.print_table(report, console=Console(file=out, width=56, color_system=None, highlight=False))
    lines = out.getvalue().splitlines()
    grid = lines[: next(i for i, line in enumerate(lines) if line.startswith("params"))]
    assert max(len(line) for line in grid) <= 56
    assert any("features.d…er1.conv1" in line for line in grid)  # features.denseblock1.denselayer1.conv1
    assert render.shorten_middle("features.denseblock3.denselayer12.conv2", 16) == "features…2.conv2"
    assert render.shorten_middle("conv1", 16) == "conv1"


def test_the_priority_leaves_layer_output_params_and_macs():
    cells = render.table_cells(analyze("resnet18"))
    fitted, dropped = render.fit(cells, 20)
    assert fitted.titles == ["layer", "output", "params", "MACs"]
    assert dropped == ["elem.", "args", "output bytes", "RF /jump", "op", "FLOPs"]  # the stated order


def test_a_wide_or_unknown_width_keeps_every_column():
    cells = render.table_cells(analyze("resnet18"))
    assert render.fit(cells, None) == (cells, [])
    fitted, dropped = render.fit(cells, 400)
    assert fitted.titles == cells.titles and fitted.rows == cells.rows and dropped == []


def test_formulas_fold_rather_than_go():
    report = analyze("mobilenet_v2", formulas=True)
    fitted, dropped = render.fit(render.table_cells(report, True), 120)
    assert "params formula" in fitted.titles and "FLOPs formula" in fitted.titles
    assert "elem." in dropped

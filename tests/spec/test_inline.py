"""Inline specs: errors carry the column in the inline text; long text is not a path."""

from __future__ import annotations

import json

import pytest

CASES = {
    "duplicate keyword": ("conv(64,k=3,k=5)", 13, "`k` is given twice"),
    "alias and name": ("conv(64,p=1,pad=2)", 13, "`pad` is given twice"),
    "missing required": ("dwsep(k=3)", 1, "missing `out`"),
    "missing in a chain": ("relu > conv(k=3)", 8, "missing `out`"),
    "three kernel sizes": ("conv(64,k=[3,3,3])", 11, "got a list of 3"),
    "kernel 0": ("relu > conv(64,k=0)", 18, "`k` must be >= 1"),
    "too many positional": ("conv(64,3,4)", 11, "takes 2 positional arguments"),
    "unknown op": ("relu > convv(3)", 8, "did you mean 'conv'"),
    "positional after keyword": ("conv(k=3, 64)", 11, "positional argument after keyword"),
}


@pytest.mark.parametrize("case", CASES)
def test_inline_errors_have_the_column(case, cli):
    text, col, fragment = CASES[case]
    result = cli("analyze", text)
    assert result.exit_code == 2, result.output
    assert f":1:{col}" in result.stderr
    assert fragment in result.stderr


def test_long_inline_spec_is_not_taken_for_a_path(cli):
    text = " > ".join(["conv(8,k=3)", "relu"] * 40)
    assert len(text.encode()) > 255
    result = cli("analyze", text, "--input", "8x16x16", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["layers"]) == 80


def test_long_name_that_is_not_inline(cli):
    result = cli("analyze", "x" * 300 + ".yaml")
    assert result.exit_code == 2
    assert "no spec file" in result.stderr


def test_dwsep_is_depthwise_then_pointwise(cli):
    result = cli("analyze", "dwsep(128,k=3)", "--input", "32x8x8", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["layers"]
    assert [r["params"] for r in rows] == [32 * 9 + 32, 32 * 128 + 128]

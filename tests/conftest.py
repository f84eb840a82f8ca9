"""Shared fixtures: temporary specs and a CLI runner that keeps stdout and stderr apart."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netcost.cli import app

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def spec_file(tmp_path):
    """Write YAML text (dedented) to a file and return its path."""

    def write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke

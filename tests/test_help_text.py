"""Every command's --help as written: no Python type placeholders (typer's ``<bool>`` on a
flag, ``<str>``, ``<list[str]>``), markup shown literally, each option with a name."""

from __future__ import annotations

import re

import pytest

from netcost.cli import app

COMMANDS = sorted(c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_has_no_type_placeholders(cli, name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = cli(name, "--help").stdout
    assert cli(name, "--help").exit_code == 0
    assert not re.search(r"<(bool|str|int|float|list\[[a-z]+\]|[a-z]+ range)>", out), out


def test_flags_take_no_value_and_options_show_their_name(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = cli("check", "--help").stdout
    line = next(x for x in out.splitlines() if "--allow-partial" in x)
    assert re.search(r"--allow-partial\s+Let partially", line)
    assert re.search(r"--input\s+-i\s+INPUT\s", out) and re.search(r"--write-baseline\s+FILE\s", out)
    assert "[tool.netcost]" in out  # not eaten as markup
    assert re.search(r"--convention\s+-c\s+netcost\|flopcounter\|fvcore\|pycls", out)


def test_verify_takes_torch_models_but_not_their_training_step(cli, monkeypatch):
    """verify checks a torch model's captured graph against the model (it needs an input);
    --train runs a spec's compiled module, and says so for a torch model."""
    monkeypatch.setenv("COLUMNS", "200")
    text = " ".join(cli("verify", "--help").stdout.split())
    assert "captured graph against the model itself" in text.replace("│", "").replace("  ", " ")
    out = cli("verify", "tests.counted.refnets:tiny")
    assert out.exit_code == 2 and "needs an input" in out.stderr
    assert cli("verify", "tests.counted.refnets:tiny", "--input", "3x16x16").exit_code == 0
    out = cli("verify", "tests.counted.refnets:tiny", "--input", "3x16x16", "--train")
    assert out.exit_code == 2 and "verify --train runs a spec's compiled module" in out.stderr

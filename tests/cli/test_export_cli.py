"""`netcost export`: the spec on stdout or in a file (written whole), analysing as the
model does; every error exits 2 with a message."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest


def _totals(cli, *args):
    result = cli("analyze", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["totals"]


def test_export_to_a_file_analyses_as_the_model(cli, tmp_path):
    out = tmp_path / "nested" / "resnet18.yaml"
    result = cli("export", "resnet18", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and out.is_file()
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]  # written whole
    exported, original = _totals(cli, out), _totals(cli, "resnet18")
    assert exported == original
    assert exported["params"] == 11_689_512  # torchvision resnet18 (tests/golden/reference.json)
    train = [_train(cli, m) for m in (out, "resnet18")]
    assert train[0] == train[1] and train[0]["trainable_params"] == 11_689_512


def _train(cli, model):
    result = cli("analyze", model, "--train", "--optimizer", "adamw", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["train"]


def test_export_to_stdout_with_set_and_input(cli, tmp_path):
    result = cli("export", "resnet18", "--set", "classes=10", "--input", "3x160x160")
    assert result.exit_code == 0, result.output
    path = tmp_path / "r18.yaml"
    path.write_text(result.stdout)
    totals = _totals(cli, path)
    # 11,689,512 - (512 x 1000 + 1000) + (512 x 10 + 10): the 10-class head
    assert totals["params"] == 11_181_642
    assert totals == _totals(cli, "resnet18", "--set", "classes=10", "--input", "3x160x160")


def test_export_inline_spec(cli, tmp_path):
    path = tmp_path / "x.yaml"
    assert cli("export", "conv(64,k=3) > relu", "-o", path).exit_code == 0
    assert _totals(cli, path)["params"] == 64 * 3 * 3 * 3 + 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuchmodel",), "unknown model 'nosuchmodel'"),
        (("resnet18", "--set", "nosuch=1"), "declares no variable 'nosuch'"),
        (("resnet18", "--input", "3x0x5"), "--input"),
        (("tests.counted.refnets:tiny",), "needs an input"),
    ],
)
def test_export_errors_exit_2(cli, args, message):
    result = cli("export", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_unwritable_output_exits_2_and_leaves_nothing(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = cli("export", "resnet18", "-o", blocker / "x.yaml")
    assert result.exit_code == 2
    assert re.search(r"-o .*x\.yaml: cannot write the spec", result.stderr)
    assert blocker.read_text() == "not a directory"


def test_help(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = cli("export", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "readable YAML spec" in text and "--output" in text and "--set" in text and "--input" in text


def test_export_never_imports_torch():
    """Exporting is analytic: no torch, pandas, fvcore or numpy in the process."""
    code = (
        "import sys\n"
        "from netcost.cli import run\n"
        "code = run(['export', 'resnet18'])\n"
        "heavy = sorted(m for m in ('torch', 'pandas', 'fvcore', 'numpy') if m in sys.modules)\n"
        "print('RESULT', code, heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "RESULT 0 []" in result.stderr
    assert result.stdout.startswith("# Exported from resnet18 by netcost ")

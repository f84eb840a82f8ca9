"""The exit-code contract (netcost.cli.run): 0 measured and within budget, 1 only a
measured failure, 2 every error (plain text, never a traceback), 130 interrupted; and
the Python API's boundary (clear NetcostErrors, never a raw TypeError)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import netcost
import netcost.api
from netcost.errors import NetcostError

RESNET18_PARAMS = 11_689_512


def boom(exc: BaseException):
    def raiser(*args, **kwargs):
        raise exc

    return raiser


@pytest.mark.parametrize(
    ("exc", "code", "fragment"),
    [
        (ZeroDivisionError("division by zero"), 2, "internal error: ZeroDivisionError"),
        (RecursionError("deep"), 2, "nests too deeply"),
        (MemoryError(), 2, "out of memory"),
        (SystemExit(0), 2, "sys.exit(0)"),
        (SystemExit(1), 2, "sys.exit(1)"),
        (SystemExit("bye"), 2, "sys.exit('bye')"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_every_failure_maps_onto_the_contract(cli, monkeypatch, exc, code, fragment):
    monkeypatch.setattr(netcost.api, "analyze_options", boom(exc))
    for args in (("analyze", "resnet18"), ("check", "resnet18", "--max-params", "1")):
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert fragment in result.stderr
        assert "Traceback" not in result.output


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(netcost.api, "analyze_options", boom(ZeroDivisionError("x")))
    monkeypatch.setenv("NETCOST_DEBUG", "1")
    from netcost.cli import run

    with pytest.raises(ZeroDivisionError):
        run(["analyze", "resnet18"])


def test_usage_errors_are_plain_text(cli):
    result = cli("analyze", "resnet18", "--format", "xml")
    assert result.exit_code == 2
    assert "╭" not in result.stderr and "'xml' is not one of 'table', 'json', 'csv', 'markdown'" in result.stderr
    assert cli("analyze").exit_code == 2
    assert cli("frobnicate").exit_code == 2


@pytest.mark.parametrize(
    ("command", "fmt"),
    [
        ("calibrate", "junit"),
        ("verify resnet18", "junit"),
        ("profile resnet18", "junit"),
        ("check resnet18 --max-params 1", "csv"),
        ("zoo", "junit"),
    ],
)
def test_a_format_a_command_cannot_write_is_refused(cli, command, fmt):
    result = cli(*command.split(), "--format", fmt)
    assert result.exit_code == 2 and f"'{fmt}' is not one of" in result.stderr


def test_help_offers_only_the_formats_a_command_writes(cli):
    calibrate = cli("calibrate", "--help").stdout
    assert "markdown" in calibrate and "junit" not in calibrate
    check = cli("check", "--help").stdout
    assert "junit" in check and "csv" not in check
    assert "[tool.netcost]" in check  # not eaten as rich markup


def test_error_locations_are_not_markup(cli, spec_file):
    # line 100 would render as an emoji (:100:) through rich markup
    path = spec_file("# padding\n" * 97 + "input: [3, 8, 8]\nlayers:\n  - cnov: {out: 8}\n")
    result = cli("analyze", path)
    assert result.exit_code == 2
    assert f"{path}:100:5" in result.stderr, result.stderr
    assert "💯" not in result.stderr


def test_control_characters_in_errors_are_escaped(cli):
    result = cli("analyze", "res\x1b[31mnet")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\\x1b[31m" in result.stderr


def test_the_installed_command_uses_the_contract(tmp_path):
    env_run = subprocess.run(
        [sys.executable, "-m", "netcost", "check", "resnet18", "--max-macs", "abc"], capture_output=True, text=True
    )
    assert env_run.returncode == 2 and "Traceback" not in env_run.stderr
    for budget, code in (("2G", 0), ("1G", 1)):
        gate = [sys.executable, "-m", "netcost", "check", "resnet18", "--max-macs", budget]
        assert subprocess.run(gate, capture_output=True).returncode == code


def test_no_pydantic_at_start_up():
    """typer would build a pydantic adapter per parameter; netcost coerces plainly."""
    code = (
        "import sys\n"
        "from netcost.cli import run\n"
        "assert run(['analyze', 'resnet18', '--format', 'json', '--batch', '2', '--set', 'classes=10']) == 0\n"
        "assert run(['check', 'resnet18', '--max-macs', '4G', '--format', 'json']) == 0\n"
        "print('PYDANTIC', 'pydantic' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "PYDANTIC False" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--batch", "0"], "--batch"),
        (["--batch", "x"], "is not an integer"),
        (["--depth", "0"], "smaller than the minimum 1"),
        (["--convention", "thop"], "'thop' is not one of"),
        (["--optimizer", "adamm"], "'adamm' is not one of"),
        (["--momentum", "nan"], "NaN"),
        (["--momentum", "-1"], "smaller than the minimum"),
    ],
)
def test_option_values_are_checked(cli, args, fragment):
    result = cli("analyze", "resnet18", *args)
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr


# --- the Python API's boundary ----------------------------------------------------------


def test_api_takes_the_input_as_text_or_a_tuple():
    as_text = netcost.analyze("resnet18", input_shape="3x160x160")
    as_tuple = netcost.analyze("resnet18", input_shape=(3, 160, 160))
    assert as_text.totals == as_tuple.totals
    assert as_text.rows[0]["output_shape"] == [1, 64, 80, 80]  # 7x7/2 p3 conv: (160 + 6 - 7) // 2 + 1 = 80
    assert as_text.totals["params"] == RESNET18_PARAMS  # the input size does not change the weights


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"input_shape": "3xfoo"}, "is not CxHxW"),
        ({"input_shape": [3, "a"]}, "expected a tuple of ints"),
        ({"input_shape": (3, 0, 5)}, "positive integers"),
        ({"batch": 0}, "batch: 0 is out of range"),
        ({"batch": 2.5}, "batch: expected an integer"),
        ({"dtype": "fp12"}, "unknown dtype 'fp12'"),
        ({"dtype": 4}, "dtype: expected one of"),
        ({"convention": "thop"}, "unknown convention 'thop'"),
        ({"train": "adamw"}, "train: expected TrainOptions"),
        ({"formulas": "yes"}, "formulas: expected true or false"),
    ],
)
def test_api_refuses_bad_values_clearly(kwargs, fragment):
    with pytest.raises(NetcostError, match=None) as info:
        netcost.analyze("resnet18", **kwargs)
    assert fragment in str(info.value)


def test_api_positional_misuse_is_a_type_error_with_the_signature():
    with pytest.raises(TypeError):
        netcost.analyze("resnet18", None, (3, 160, 160))  # everything after overrides is keyword-only
    with pytest.raises(NetcostError, match="model: expected a name"):
        netcost.analyze(5)
    with pytest.raises(NetcostError, match="overrides: expected a mapping"):
        netcost.analyze("resnet18", ["classes"])


def test_train_options_validate():
    with pytest.raises(NetcostError, match="unknown optimizer 'adamm'"):
        netcost.TrainOptions(optimizer="adamm")
    with pytest.raises(NetcostError, match="momentum"):
        netcost.TrainOptions(momentum=float("nan"))
    with pytest.raises(NetcostError, match="use it with dtype fp32"):
        netcost.analyze("resnet18", dtype="fp16", train=netcost.TrainOptions(amp=True))
    report = netcost.analyze("resnet18", train=netcost.TrainOptions(optimizer="AdamW"))
    assert report.train["optimizer_state_bytes"] == 2 * 4 * RESNET18_PARAMS + 4 * 62


def test_the_option_names_agree_with_the_training_model():
    from netcost.analysis.training import OPTIMIZERS
    from netcost.options import OPTIMIZER_NAMES

    assert tuple(OPTIMIZERS) == OPTIMIZER_NAMES

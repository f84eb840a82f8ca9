"""The budget gate as a library function (netcost.check) and through `netcost check`:
typed configuration, exact units, baselines, and --train reaching the gate."""

from __future__ import annotations

import json

import pytest

import netcost
from netcost.budget import CheckError
from netcost.errors import NetcostError
from netcost.units import parse_percent, parse_quantity

RESNET18_MACS = 1_814_073_344  # fvcore's conv+linear count of torchvision resnet18 (golden file)
RESNET18_PARAMS = 11_689_512


# --- units: exact decimal ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4.1G", 4_100_000_000),  # 4.1 * 1e9 in binary floating point is 4099999999.9999995
        ("0.3M", 300_000),
        ("1.1K", 1_100),
        ("2gb", 2 * 10**9),
        ("2GB", 2 * 10**9),
        ("2Gib", 2 * 2**30),
        ("2gib", 2 * 2**30),
        ("2GiB", 2 * 2**30),
        ("1.5KiB", 1536),
        (" 12e6 ", 12 * 10**6),
        ("0", 0),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_quantities_are_exact(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["1e400", "nan", "inf", "-1G", "+1G", "2B", "1.5", "4.1234567890123G", "1e31", "0x10", "1_000", True]
)
def test_quantities_refused(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize(("text", "value"), [("5%", 5.0), ("0.5", 0.5), (5, 5.0), ("0%", 0.0)])
def test_percentages(text, value):
    assert parse_percent(text) == value


@pytest.mark.parametrize("text", ["inf", "nan", "-5%", "5%%", float("nan"), float("inf"), -1, "", True])
def test_percentages_refused(text):
    with pytest.raises(ValueError):
        parse_percent(text)


def test_a_decimal_budget_is_met_exactly_at_its_value(cli):
    at = cli("check", "resnet18", "--max-macs", "1.814073344G", "-f", "json")
    assert at.exit_code == 0, at.output
    (row,) = json.loads(at.stdout)["results"]
    assert row["budget"] == RESNET18_MACS and row["headroom_pct"] == 0.0
    under = cli("check", "resnet18", "--max-macs", "1.814073343G")
    assert under.exit_code == 1


@pytest.mark.parametrize("value", ["1e400", "nan", "inf", "-2G", "2B", "1.5"])
def test_bad_budgets_exit_2(cli, value):
    result = cli("check", "resnet18", "--max-macs", value)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "max-macs" in result.stderr


def test_a_zero_budget_has_no_percentage(cli):
    result = cli("check", "resnet18", "--max-macs", "0", "-f", "json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["results"]  # valid JSON: no -Infinity
    assert row["headroom_pct"] is None and not row["passed"]
    table = cli("check", "resnet18", "--max-macs", "0")
    assert "-inf" not in table.stdout and "over by a zero budget" in table.stdout


@pytest.mark.parametrize("value", ["inf", "nan", "-5%", "abc"])
def test_max_increase_must_be_finite(cli, tmp_path, value):
    base = tmp_path / "base.json"
    base.write_text(cli("analyze", "resnet18", "-f", "json").stdout)
    result = cli("check", "resnet18", "--baseline", base, "--max-increase", value)
    assert result.exit_code == 2 and "max-increase" in result.stderr


# --- the gate in the library ------------------------------------------------------------


def test_library_check_returns_rows():
    result = netcost.check("resnet18", budgets={"macs": "2G", "params": 12_000_000})
    assert result.passed
    rows = {r.metric: r for r in result.rows}
    assert rows["macs"].actual == RESNET18_MACS and rows["macs"].budget == 2 * 10**9
    assert rows["params"].headroom_pct == pytest.approx((12e6 - RESNET18_PARAMS) / 12e6 * 100, abs=1e-3)
    doc = result.to_dict()
    assert set(doc) == {"schema_version", "passed", "results"} and doc["passed"] is True
    over = netcost.check(["resnet18"], budgets={"macs": "1.5G"})
    assert not over.passed and over.rows[0].headroom_pct < 0


def test_library_check_refuses_to_check_nothing():
    with pytest.raises(CheckError, match="no budgets given"):
        netcost.check("resnet18")
    with pytest.raises(CheckError, match="unknown budget metric 'macz'"):
        netcost.check("resnet18", budgets={"macz": "1G"})


@pytest.mark.parametrize(
    "flags",
    [
        ["--optimizer", "adamw", "--batch", "32"],
        ["--optimizer", "sgd", "--momentum", "0.9", "--batch", "4"],
        ["--optimizer", "rmsprop", "--momentum", "0.5", "--batch", "2"],
        ["--optimizer", "adam", "--amp", "--batch", "8"],
        ["--optimizer", "adagrad", "--freeze", "layer1*", "--freeze", "conv1", "--batch", "2"],
        ["--optimizer", "amsgrad", "--train-device", "cpu", "--batch", "2"],
    ],
)
def test_check_train_equals_analyze_train(cli, flags):
    """Every training option reaches the gate: check's figures are analyze's."""
    analyzed = json.loads(cli("analyze", "resnet50", "--train", *flags, "-f", "json").stdout)["train"]
    result = cli(
        "check",
        "resnet50",
        "--train",
        *flags,
        "--max-train-memory-bytes",
        "1TiB",
        "--max-optimizer-state-bytes",
        "1TiB",
        "--max-backward-flops",
        "1P",
        "--max-grad-bytes",
        "1TiB",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.output
    got = {r["metric"]: r["actual"] for r in json.loads(result.stdout)["results"]}
    assert got["train_memory_bytes"] == analyzed["peak_train_bytes"]
    assert got["optimizer_state_bytes"] == analyzed["optimizer_state_bytes"]
    assert got["backward_flops"] == analyzed["backward_flops"]
    assert got["grad_bytes"] == analyzed["grad_bytes"]


def test_check_train_adamw_figures(cli):
    # AdamW keeps two parameter-sized fp32 moments per trainable parameter (+ a 4-byte step per tensor):
    # resnet50 has 25,557,032 params in 161 tensors -> 2 * 4 * 25,557,032 + 4 * 161 = 204,456,900 bytes
    doc = json.loads(
        cli(
            "check", "resnet50", "--train", "--optimizer", "adamw", "--batch", "32",
            "--max-optimizer-state-bytes", "1GiB", "-f", "json",
        ).stdout
    )  # fmt: skip
    (row,) = doc["results"]
    assert row["actual"] == 2 * 4 * 25_557_032 + 4 * 161 == 204_456_900


def test_a_training_option_implies_train(cli):
    a = json.loads(cli("analyze", "resnet18", "--optimizer", "adamw", "-f", "json").stdout)
    assert a["train"]["optimizer_state_bytes"] == 2 * 4 * RESNET18_PARAMS + 4 * 62  # 62 parameter tensors


# --- [tool.netcost] is type-checked -----------------------------------------------------


def config(tmp_path, text: str):
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


MODEL = '[[tool.netcost.models]]\nmodel = "resnet18"\nmax-macs = "2G"\n'


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ('batch = "abc"', "batch: expected an integer"),
        ("batch = 2.7", "batch: expected an integer"),
        ("batch = true", "batch: expected an integer"),
        ("batch = 0", "batch: 0 is out of range"),
        ('allow-partial = "no"', "allow-partial: expected true or false"),
        ('train = "false"', "train: expected true or false"),
        ('amp = "yes"', "amp: expected true or false"),
        ('dtype = "fp12"', "unknown dtype 'fp12'"),
        ('convention = "thop"', "unknown convention 'thop'"),
        ('optimizer = "adamm"', "unknown optimizer 'adamm'"),
        ('momentum = "0.9"', "momentum: expected a finite number"),
        ("momentum = -1", "momentum: must be at least 0"),
        ('train-device = "tpu"', "unknown train-device 'tpu'"),
        ("freeze = 5", "freeze: expected layer names"),
        ('input = "3x"', "is not CxHxW"),
        ("set = 5", "set: expected a table"),
        ('max-params = "nan"', "max-params"),
        ("max-params = -5", "max-params"),
        ("max-params = 1.5", "max-params"),
    ],
)
def test_config_values_are_type_checked(cli, tmp_path, extra, fragment):
    path = config(tmp_path, MODEL + extra + "\n")
    result = cli("check", "--config", path)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "#1" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tool = 5\n", "`tool` must be a table"),
        ("[tool]\nnetcost = 5\n", "[tool.netcost] must be a table"),
        ("[tool.netcost]\nmodels = 5\n", "`models` must be an array of tables"),
        ("[tool.netcost]\nbaseline = 5\n" + MODEL, "baseline: expected a path"),
        ('[tool.netcost]\nmax-increase = true\nbaseline = "b.json"\n' + MODEL, "max-increase: expected a percentage"),
        ("[[tool.netcost.models]]\nmax-macs = '2G'\n", "missing `model`"),
        ("[[tool.netcost.models]]\nmodel = 5\n", "missing `model`"),
        ("[tool.netcost]\n", "lists no [[tool.netcost.models]]"),
        ("[tool.other]\n", "has no [tool.netcost] section"),
        ("not toml = = =\n", "pyproject.toml"),
    ],
)
def test_config_structure_errors(cli, tmp_path, text, fragment):
    result = cli("check", "--config", config(tmp_path, text))
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr, result.stderr


def test_config_file_errors(cli, tmp_path):
    raw = tmp_path / "pyproject.toml"
    raw.write_bytes(b'[tool.netcost]\nbaseline = "\xff\xfe"\n')
    assert "not UTF-8" in cli("check", "--config", raw).stderr
    assert cli("check", "--config", raw).exit_code == 2
    folder = cli("check", "--config", tmp_path)
    assert folder.exit_code == 2 and "is a directory" in folder.stderr


def test_config_booleans_and_training_keys(cli, tmp_path):
    path = config(
        tmp_path,
        '[[tool.netcost.models]]\nmodel = "resnet18"\ntrain = true\noptimizer = "adamw"\nbatch = 2\n'
        'max-optimizer-state-bytes = "1GiB"\n',
    )
    result = cli("check", "--config", path, "-f", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    assert row["actual"] == 2 * 4 * RESNET18_PARAMS + 4 * 62


def test_library_check_reads_a_config(tmp_path):
    path = config(tmp_path, MODEL)
    result = netcost.check(config=path)
    assert result.passed and result.rows[0].actual == RESNET18_MACS
    with pytest.raises(NetcostError, match="batch: expected an integer"):
        netcost.check(config=config(tmp_path, MODEL + "batch = 2.7\n"))


# --- baselines are validated ------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"totals": {"params": 5}}, "missing `model`"),
        ({"model": "resnet18", "totals": {"params": "5"}}, "params must be a non-negative integer"),
        ({"model": "resnet18", "totals": {"params": -5}}, "params must be a non-negative integer"),
        ({"model": "resnet18", "totals": {"params": True}}, "params must be a non-negative integer"),
        ({"model": "resnet18", "totals": 5}, "expected an object of totals"),
        ({"models": [5]}, "models[0]"),
        ({"results": [{"model": "resnet18"}]}, "results[0]"),
        ([1, 2], "is not a netcost analyze, compare or check document"),
    ],
)
def test_bad_baselines_exit_2(cli, tmp_path, doc, fragment):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(doc))
    result = cli("check", "resnet18", "--baseline", base, "--max-increase", "5%")
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr, result.stderr


def test_nan_in_a_baseline_exits_2(cli, tmp_path):
    base = tmp_path / "base.json"
    base.write_text('{"model": "resnet18", "totals": {"params": NaN}}')
    result = cli("check", "resnet18", "--baseline", base, "--max-increase", "5%")
    assert result.exit_code == 2 and "NaN" in result.stderr


def test_baseline_zero_total(cli, tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"model": "resnet18", "totals": {"buffers": 0, "params": RESNET18_PARAMS}}))
    result = cli("check", "resnet18", "--baseline", base, "--max-increase", "5%", "-f", "json")
    rows = {r["metric"]: r for r in json.loads(result.stdout)["results"]}
    assert rows["params vs baseline"]["passed"]
    assert not rows["buffers vs baseline"]["passed"]  # 0 -> 9,620 is growth without a percentage
    assert result.exit_code == 1


def test_max_increase_without_baseline_is_an_error(cli):
    result = cli("check", "resnet18", "--max-macs", "2G", "--max-increase", "5%")
    assert result.exit_code == 2 and "--baseline" in result.stderr

"""compare and check: the seeds' comparisons, budgets, exit codes, formats, configuration."""

import json
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest


def compare_doc(cli, *args):
    result = cli("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("n", "k"), [(128, 3), (64, 5)])
def test_depthwise_separable_ratio_is_one_over_n_plus_one_over_k2(cli, n, k):
    # seeds (003, 004): depthwise separable / standard = 1/N + 1/Dk^2 in multiply-adds
    doc = compare_doc(cli, f"conv({n},k={k})", f"dwsep({n},k={k})", "--input", f"{n}x56x56")
    standard, separable = (m["totals"]["macs"] for m in doc["models"])
    assert Fraction(separable, standard) == Fraction(1, n) + Fraction(1, k * k)
    assert doc["models"][1]["ratio_to_first"]["macs"] == pytest.approx(1 / n + 1 / k**2)


def test_one_5x5_against_two_3x3(cli):
    # seeds (004): 25C^2 + C vs 18C^2 + 2C params; 50 C^2 HW vs 36 C^2 HW FLOPs; CHW vs 2CHW activations
    c, h, w = 64, 56, 56
    doc = compare_doc(cli, "conv(64,k=5)", "conv(64,k=3) > conv(64,k=3)", "--input", f"{c}x{h}x{w}")
    five, three = (m["totals"] for m in doc["models"])
    assert five["params"] == 25 * c * c + c and three["params"] == 18 * c * c + 2 * c
    assert five["flops"] == 50 * c * c * h * w and three["flops"] == 36 * c * c * h * w
    assert five["activation_bytes"] == 4 * c * h * w and three["activation_bytes"] == 4 * 2 * c * h * w
    assert five["receptive_field"] == three["receptive_field"] == [5, 5]  # same field


def test_compare_named_models_and_depth(cli):
    doc = compare_doc(cli, "resnet18", "mobilenet_v2", "--depth", "1")
    assert [m["model"] for m in doc["models"]] == ["resnet18", "mobilenet_v2"]
    assert doc["models"][0]["ratio_to_first"]["params"] == 1
    assert doc["models"][1]["ratio_to_first"]["params"] == pytest.approx(3_504_872 / 11_689_512)
    assert [r["name"] for r in doc["models"][0]["layers"]][4] == "layer1"
    table = cli("compare", "resnet18", "mobilenet_v2", "--format", "markdown").stdout
    assert table.startswith("| metric | resnet18 | mobilenet_v2 |")


def test_compare_needs_two(cli):
    assert cli("compare", "resnet18").exit_code == 2


def test_inline_errors(cli):
    result = cli("compare", "conv(64,k=3)", "cnov(64)")
    assert result.exit_code == 2 and "did you mean 'conv'" in result.stderr


def test_check_pass_fail_and_by_how_much(cli):
    ok = cli("check", "resnet18", "--max-params", "12M", "--max-macs", "2G")
    assert ok.exit_code == 0 and "PASS" in ok.stdout
    over = cli("check", "resnet18", "--max-macs", "1.5G", "--format", "json")
    assert over.exit_code == 1
    (row,) = json.loads(over.stdout)["results"]
    assert row["actual"] == 1_814_073_344 and row["budget"] == 1_500_000_000
    assert row["headroom_pct"] == pytest.approx((1.5e9 - 1_814_073_344) / 1.5e9 * 100, abs=1e-3)
    assert not row["passed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--max-macs", "2Q"], "unknown unit 'Q'"), (["--max-params", "abc"], "cannot read"), ([], "no budgets given")],
)
def test_check_usage_errors_exit_2(cli, args, message):
    result = cli("check", "resnet18", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_units_on_any_metric(cli):
    doc = json.loads(
        cli(
            "check", "resnet18", "--max-param-bytes", "45MiB", "--max-peak-activation-bytes", "300M", "-f", "json"
        ).stdout
    )
    budgets = {r["metric"]: r["budget"] for r in doc["results"]}
    assert budgets == {"param_bytes": 45 * 2**20, "peak_activation_bytes": 300_000_000}
    assert doc["passed"]  # 44.6 MiB of params, 6.1 MiB peak


def test_junit_is_valid_xml(cli):
    result = cli("check", "resnet18", "mobilenet_v2", "--max-macs", "1G", "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failures = [c.get("classname") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failures == ["netcost.resnet18"]


def test_github_annotations(cli, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("check", "resnet18", "--max-macs", "1.5G")
    assert "::error title=netcost budget::resnet18 macs is 1.81 G, budget 1.5 G" in result.stdout
    as_json = cli("check", "resnet18", "--max-macs", "1.5G", "-f", "json")
    json.loads(as_json.stdout)  # stdout stays one JSON document; the annotation went to stderr
    assert "::error" in as_json.stderr


def test_pyproject_configuration(cli, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        """
[tool.netcost]
max-params = "50M"

[[tool.netcost.models]]
model = "resnet18"
max-macs = "2G"

[[tool.netcost.models]]
model = "mobilenet_v2"
set = { width = 0.5 }
input = "3x160x160"
max-macs = "60M"
"""
    )
    monkeypatch.chdir(tmp_path)
    result = cli("check", "--format", "json")
    doc = json.loads(result.stdout)
    got = {(r["model"], r["metric"]): r for r in doc["results"]}
    assert set(got) == {
        ("resnet18", "params"),
        ("resnet18", "macs"),
        ("mobilenet_v2", "params"),
        ("mobilenet_v2", "macs"),
    }
    assert got[("mobilenet_v2", "params")]["actual"] == 1_968_680  # width 0.5
    assert result.exit_code == 0, doc


def test_pyproject_errors(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "no pyproject.toml" in cli("check").stderr
    (tmp_path / "pyproject.toml").write_text('[[tool.netcost.models]]\nmodel = "resnet18"\nmax-macz = "1G"\n')
    result = cli("check")
    assert result.exit_code == 2 and "did you mean 'max-macs'" in result.stderr


def test_baseline_growth(cli, tmp_path):
    base = tmp_path / "base.json"
    base.write_text(cli("analyze", "mobilenet_v2", "-f", "json").stdout)
    same = cli("check", "mobilenet_v2", "--baseline", base, "--max-increase", "5%")
    assert same.exit_code == 0
    wider = cli("check", "mobilenet_v2", "--set", "width=1.4", "--baseline", base, "--max-increase", "5%", "-f", "json")
    assert wider.exit_code == 1
    failed = {r["metric"] for r in json.loads(wider.stdout)["results"] if not r["passed"]}
    assert {"params vs baseline", "macs vs baseline"} <= failed
    assert cli("check", "mobilenet_v2", "--baseline", base).exit_code == 2  # needs --max-increase


# -- torch models given as package.module:callable (counted, no spec) --------------------------

torch_needed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is None, reason="counting torch models needs torch"
)


@torch_needed
def test_dotted_path_route(cli):
    doc = json.loads(cli("analyze", "tests.counted.refnets:hand_counted", "--input", "3x8x8", "-f", "json").stdout)
    assert doc["source"] == "captured" and not doc["partial"] and doc["totals"]["params"] == 201
    cmp = compare_doc(cli, "tests.counted.refnets:tiny", "tests.counted.refnets:tiny_wider", "--input", "3x16x16")
    assert [m["totals"]["params"] for m in cmp["models"]] == [277, 10 * 27 + 20 + 10 * 5 + 5]
    ok = cli("check", "tests.counted.refnets:tiny", "--input", "3x16x16", "--max-params", "300")
    assert ok.exit_code == 0


@torch_needed
def test_partial_counts_fail_the_gate_unless_allowed(cli):
    args = ("check", "tests.counted.refnets:Sorts", "--input", "3x8x8", "--max-flops", "1G", "-f", "json")
    strict = cli(*args)
    assert strict.exit_code == 1
    (row,) = json.loads(strict.stdout)["results"]
    assert "aten.sort" in row["note"]
    assert cli(*args, "--allow-partial").exit_code == 0
    table = cli("analyze", "tests.counted.refnets:Sorts", "--input", "3x8x8")
    assert "partial" in table.stdout and "aten.sort" in table.stdout

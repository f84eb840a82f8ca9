"""The CLI contract: exit codes, one clean document on stdout for machine formats."""

import csv
import io
import json
import subprocess
import sys

import pytest


def test_analyze_table(cli):
    result = cli("analyze", "resnet18")
    assert result.exit_code == 0
    assert "11,689,512" in result.stdout and "layer4.1.conv2" in result.stdout
    assert "peak activation memory" in result.stdout


def test_analyze_json_document(cli):
    result = cli("analyze", "resnet18", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["model"] == "resnet18" and doc["convention"] == "netcost"
    assert doc["input"] == [1, 3, 224, 224]
    totals = doc["totals"]
    for key in (
        "params",
        "buffers",
        "param_bytes",
        "macs",
        "flops",
        "elementwise_flops",
        "activation_bytes",
        "peak_activation_bytes",
        "max_op_io_bytes",
    ):
        assert isinstance(totals[key], int), key
    assert totals["flops"] == 2 * totals["macs"]
    layer = doc["layers"][0]
    for key in (
        "name",
        "op",
        "output_shape",
        "params",
        "macs",
        "flops",
        "elementwise_flops",
        "rf_size",
        "rf_jump",
        "rf_start",
        "rf_global",
        "activation_bytes",
    ):
        assert key in layer
    assert sum(r["params"] for r in doc["layers"]) == totals["params"]


def test_csv_and_markdown(cli):
    rows = list(csv.DictReader(io.StringIO(cli("analyze", "alexnet_slide", "-f", "csv").stdout)))
    assert rows[0]["name"] == "conv1" and rows[0]["params"] == "34944"
    md = cli("analyze", "alexnet_slide", "--formulas", "--format", "markdown").stdout
    assert "| conv1 | conv |" in md
    assert "96 x 3 x 11 x 11 (+96) = 34,944" in md and "2 x 96 x 55 x 55 x 363 = 211 MFLOPs" in md


def test_set_input_batch_depth(cli):
    doc = json.loads(cli("analyze", "mobilenet_v2", "--set", "width=0.5", "-f", "json").stdout)
    assert doc["vars"]["width"] == 0.5 and doc["totals"]["params"] == 1_968_680  # torchvision width_mult=0.5
    doc = json.loads(cli("analyze", "resnet18", "--input", "3x160x160", "--batch", "4", "-f", "json").stdout)
    assert doc["input"] == [4, 3, 160, 160]
    folded = json.loads(cli("analyze", "resnet18", "--depth", "1", "-f", "json").stdout)
    assert [r["name"] for r in folded["layers"]][4:8] == ["layer1", "layer2", "layer3", "layer4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "3x2x"], "is not CxHxW"),
        (["--set", "width"], "is not name=value"),
        (["--dtype", "fp12"], "unknown dtype"),
        (["--convention", "thop"], "thop"),
        (["--batch", "0"], "--batch"),
    ],
)
def test_bad_arguments_exit_2(cli, args, message):
    result = cli("analyze", "resnet18", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_conventions(cli):
    def flops(convention):
        return json.loads(cli("analyze", "resnet18", "-c", convention, "-f", "json").stdout)["totals"]["flops"]

    assert flops("flopcounter") == 3_628_146_688  # torch FlopCounterMode on torchvision resnet18
    assert flops("fvcore") == 1_819_065_856  # fvcore FlopCountAnalysis(...).total(), eval mode
    # pycls as published: MACs + one add per output channel of each biased layer (only fc here)
    assert flops("pycls") == 1_814_073_344 + 1000


def test_zoo_ops_schema_version(cli):
    zoo = json.loads(cli("zoo", "--format", "json").stdout)
    names = {m["name"]: m for m in zoo["models"]}
    assert names["resnet18"]["params"] == 11_689_512
    assert "conv" in cli("ops").stdout
    assert "transposed" in cli("ops", "conv_transpose").stdout.lower()
    assert cli("ops", "convv").exit_code == 2
    schema = json.loads(cli("schema").stdout)
    assert "conv" in schema["$defs"]["layers"]["items"]["anyOf"][1]["properties"]
    assert cli("--version").stdout.startswith("netcost ")


def test_analytic_path_never_imports_torch_or_pandas():
    code = (
        "import sys\n"
        "from netcost.cli import app\n"
        "try:\n"
        "    app(['analyze', 'resnet18', '--format', 'json'])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "heavy = sorted(m for m in ('torch', 'pandas', 'fvcore', 'numpy') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 11_689_512


def test_every_bundled_spec_validates_against_the_json_schema(cli):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from netcost.zoo import bundled

    schema = json.loads(cli("schema").stdout)
    validator = jsonschema.Draft202012Validator(schema)
    for name, path in bundled().items():
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (name, errors[0].message)
    bad = {"input": [3, 8, 8], "layers": [{"conv": {"out": 8, "kk": 3}}]}
    assert list(validator.iter_errors(bad))  # an unknown argument is caught by editors too


def test_the_docs_name_every_bundled_spec():
    """The zoo page's family table lists every bundled spec (its figures table is generated
    from the specs when the site is built)."""
    from pathlib import Path

    from netcost.zoo import bundled

    page = (Path(__file__).resolve().parent.parent / "docs" / "zoo.md").read_text()
    section = page[: page.index("### The seeds' tables")]
    effnets = {f"efficientnet_b{i}" for i in range(1, 7)}  # written efficientnet_b0 … efficientnet_b7
    missing = [name for name in bundled() if f"`{name}`" not in section and name not in effnets]
    assert missing == []


def test_the_readme_is_a_first_screen_with_links():
    """README: what it is, the two commands, examples, links; the reference is in docs/
    (at most 15 KB, every docs link resolves to a file)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    assert len(readme.encode()) <= 15_000
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert links and all((root / link).is_file() for link in links), links

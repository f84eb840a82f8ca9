"""Out-of-domain op fields and spec variables: exit 2 at the CLI, with the line:col of the
value and what is allowed; never a traceback or an impossible number."""

from __future__ import annotations

import json

import pytest

HEAD = "input: [3, 32, 32]\nvars: {n: 1}\nlayers:\n"

# (layer lines, the text the bad value starts with on the last line, message fragment)
FIELDS = {
    "conv k 0": ("  - conv: {out: 8, k: 0}\n", "0}", "`k` must be >= 1, got 0"),
    "conv k negative in a pair": ("  - conv: {out: 8, k: [-3, 3]}\n", "[-3", "`k` must be >= 1, got -3"),
    "conv dilation 0": ("  - conv: {out: 8, k: 3, dilation: 0}\n", "0}", "`dilation` must be >= 1"),
    "conv stride 0": ("  - conv: {out: 8, k: 3, stride: 0}\n", "0}", "`stride` must be >= 1"),
    "conv pad same, stride 0": ("  - conv: {out: 8, k: 3, pad: same, stride: 0}\n", "0}", "`stride` must be >= 1"),
    "conv out from an expression": ("  - conv: {out: 'n - 1', k: 3}\n", "'n", "`out` must be >= 1, got 0"),
    "conv groups 0": ("  - conv: {out: 8, k: 3, groups: 0}\n", "0}", "`groups` must be >= 1"),
    "conv huge out": ("  - conv: {out: '10**5000', k: 3}\n", "'10", "too large"),
    "linear out negative": ("  - flatten\n  - linear: {out: -5}\n", "-5", "`out` must be >= 1, got -5"),
    "upsample scale negative": ("  - upsample: {scale: -2}\n", "-2", "`scale` must be >= 1"),
    "upsample scale 0": ("  - upsample: {scale: 0}\n", "0}", "`scale` must be >= 1"),
    "maxpool k 0": ("  - maxpool: {k: 0}\n", "0}", "`k` must be >= 1"),
    "maxpool stride 0": ("  - maxpool: {k: 2, stride: 0}\n", "0}", "`stride` must be >= 1"),
    "avgpool stride 0": ("  - avgpool: {k: 2, stride: 0}\n", "0}", "`stride` must be >= 1"),
    "subsample stride 0": ("  - subsample: {stride: 0}\n", "0}", "`stride` must be >= 1"),
    "transposed conv stride 0": ("  - conv_transpose: {out: 4, k: 2, stride: 0}\n", "0}", "`stride` must be >= 1"),
    "transposed conv negative pad": ("  - conv_transpose: {out: 4, k: 3, pad: -1}\n", "-1", "`pad` must be >= 0"),
    "transposed conv negative output_pad": (
        "  - conv_transpose: {out: 4, k: 3, output_pad: -1}\n",
        "-1",
        "`output_pad` must be >= 0",
    ),
    "adaptive out 0": ("  - adaptive_avgpool: {out: 0}\n", "0}", "`out` must be >= 1"),
    "dropout p above 1": ("  - flatten\n  - dropout: {p: 1.5}\n", "1.5", "between 0 and 1"),
    "groupnorm groups 0": ("  - groupnorm: {groups: 0}\n", "0}", "`groups` must be >= 1"),
    "lrn size 0": ("  - lrn: {size: 0}\n", "0}", "`size` must be >= 1"),
    "nan number": ("  - leaky_relu: {slope: .nan}\n", ".nan", "finite"),
    "crop 0": ("  - crop: {h: 0, w: 4}\n", "0,", "`h` must be >= 1"),
}


@pytest.mark.parametrize("case", FIELDS)
def test_out_of_domain_field_is_located(case, cli, spec_file):
    layers, token, fragment = FIELDS[case]
    path = spec_file(HEAD + layers)
    result = cli("analyze", path)
    assert result.exit_code == 2, result.output
    line = 3 + layers.count("\n")
    col = layers.splitlines()[-1].index(token) + 1
    assert f"{path}:{line}:{col}" in result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_stage_stride_0_is_located(cli, spec_file):
    path = spec_file(
        HEAD
        + "  - stage: {block: b, n: 2, stride: 0}\n"
        + "blocks:\n  b:\n    args: {stride: 1}\n    layers: [conv: {out: 4, k: 3, stride: stride}]\n"
    )
    result = cli("analyze", path)
    assert result.exit_code == 2
    # the value is checked where the block uses it; the hint names the stage that passed it
    assert f"{path}:8:43" in result.stderr and "`stride` must be >= 1, got 0" in result.stderr
    assert f"in block `b` used at {path}:4:" in result.stderr


REPEAT = {
    "repeat n negative": ("  - repeat: {n: -3, layers: [relu]}\n", "-3", "`n` must be >= 0, got -3"),
    "stage n 0": ("  - stage: {block: b, n: 0}\nblocks: {b: {layers: [relu]}}\n", "0}", "`n` must be >= 1, got 0"),
    "stage block a list": ("  - stage: {block: [a], n: 1}\nblocks: {b: {layers: [relu]}}\n", "[a]", "a block name"),
    "repeat var a mapping": ("  - repeat: {n: 1, var: {a: 1}, layers: [relu]}\n", "{a", "a variable name"),
}


@pytest.mark.parametrize("case", REPEAT)
def test_bad_repeat_counts_and_names(case, cli, spec_file):
    text, token, fragment = REPEAT[case]
    path = spec_file(HEAD + text)
    result = cli("analyze", path)
    assert result.exit_code == 2, result.output
    col = text.splitlines()[0].index(token) + 1
    assert f"{path}:4:{col}" in result.stderr
    assert fragment in result.stderr


def test_repeat_zero_times_is_the_identity(cli, spec_file):
    path = spec_file(HEAD + "  - repeat: {n: 0, layers: [conv: {out: 8, k: 3}]}\n  - relu\n")
    result = cli("analyze", path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [row["name"] for row in json.loads(result.stdout)["layers"]] == ["relu1"]


SETS = {
    "negative classes": (["resnet18", "--set", "classes=-5"], "resnet18.yaml:7:27", "classes: must be >= 1, got -5"),
    "fractional int var": (["resnet18", "--set", "classes=2.5"], "resnet18.yaml:7:27", "expected an integer"),
    "unknown var": (["resnet18", "--set", "clases=5"], "resnet18.yaml:7:1", "did you mean 'classes'"),
    "bool var given text": (["resnet50", "--set", "bottleneck=abc"], "resnet50.yaml:20:76", "expected true or false"),
    "misspelt choice": (
        ["regnet_x_400mf", "--set", "rounding=torchvison"],
        "regnet_x_400mf.yaml:15:13",
        "did you mean 'torchvision'",
    ),
    "list item type": (["resnet50", "--set", "depths=[3,4,6.5,3]"], "resnet50.yaml:20:50", "expected an integer"),
    "list given a number": (["resnet50", "--set", "depths=3"], "resnet50.yaml:20:50", "expected a list"),
}


@pytest.mark.parametrize("case", SETS)
def test_set_is_checked_against_the_variable(case, cli):
    args, where, fragment = SETS[case]
    result = cli("analyze", *args)
    assert result.exit_code == 2, result.output
    assert where in result.stderr
    assert fragment in result.stderr


def totals(cli, *args):
    result = cli("analyze", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["totals"]


def test_set_takes_lists_and_expressions(cli):
    deeper = totals(cli, "resnet50", "--set", "depths=[3, 4, 7, 3]")
    assert deeper["params"] > totals(cli, "resnet50")["params"]
    assert totals(cli, "resnet18", "--set", "classes=10 * 10") == totals(cli, "resnet18", "--set", "classes=100")
    assert totals(cli, "mobilenet_v2", "--set", "width=0.75")["params"] < totals(cli, "mobilenet_v2")["params"]


def test_choice_is_applied(cli):
    """regnet_x_400mf rounds like torchvision; pycls rounding gives torchvision's other figure."""
    torchvision = totals(cli, "regnet_x_400mf")
    assert totals(cli, "regnet_x_400mf", "--set", "rounding=torchvision") == torchvision
    assert totals(cli, "regnet_x_400mf", "--set", "rounding=pycls")["macs"] != torchvision["macs"]


DECLARATIONS = {
    "below min": ("vars:\n  width: {default: 0.01, min: 0.0625}\n", 2, "must be >= 0.0625, got 0.01"),
    "unknown key": ("vars:\n  width: {default: 1.0, minimum: 0}\n", 2, "unknown key 'minimum'"),
    "no default": ("vars:\n  width: {min: 0}\n", 2, "declares no `default`"),
    "bad type": ("vars:\n  width: {default: 1, type: integer}\n", 2, "`type` of 'width' is one of"),
    "default not a choice": ("vars:\n  mode: {default: c, choices: [a, b]}\n", 2, "expected one of 'a', 'b'"),
}


@pytest.mark.parametrize("case", DECLARATIONS)
def test_bad_declarations(case, cli, spec_file):
    text, line, fragment = DECLARATIONS[case]
    path = spec_file("input: [3, 8, 8]\n" + text + "layers: [relu]\n")
    result = cli("analyze", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:{line + 1}:" in result.stderr
    assert fragment in result.stderr


def test_declared_range_checks_set(cli, spec_file):
    path = spec_file("input: [3, 8, 8]\nvars:\n  width: {default: 1.0, min: 0.0625, max: 4}\nlayers: [relu]\n")
    assert cli("analyze", path, "--set", "width=0.5").exit_code == 0
    result = cli("analyze", path, "--set", "width=8")
    assert result.exit_code == 2 and "must be between 0.0625 and 4, got 8" in result.stderr
    assert f"{path}:3:" in result.stderr


def test_string_var_without_choices_takes_any_text(cli, spec_file):
    path = spec_file('input: [3, 8, 8]\nvars: {tag: "\'x\'"}\nlayers: [relu: {name: "r{tag}"}]\n')
    result = cli("analyze", path, "--set", "tag=anything", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["layers"][0]["name"] == "ranything"
    assert cli("analyze", path, "--set", "tag=5").exit_code == 2  # a string variable, not a number


def test_ops_lists_the_domains(cli):
    result = cli("ops", "conv")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "out: int >= 1" in text and "each >= 1" in text and "int >= 0" in text


NAMES = {
    "layer name a list": "  - relu: {name: [a]}\n",
    "stage name a mapping": "  - stage: {block: b, n: 1, name: {a: 1}}\nblocks: {b: {layers: [relu]}}\n",
    "merge a list": "  - parallel: {merge: [add], branches: [[], []]}\n",
    "block args a list": "  - b: [1]\nblocks: {b: {layers: [relu]}}\n",
}


@pytest.mark.parametrize("case", NAMES)
def test_lists_and_mappings_where_a_name_is_expected(case, cli, spec_file):
    path = spec_file(HEAD + NAMES[case])
    result = cli("analyze", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:4:" in result.stderr
    assert "unhashable" not in result.stderr


@pytest.mark.parametrize("structure", ["seq", "repeat", "parallel", "stage"])
def test_structure_without_arguments_is_located(structure, cli, spec_file):
    """Found by mutating bundled specs: a structure written with no arguments."""
    path = spec_file(HEAD + f"  - {structure}:\n  - relu\n")
    result = cli("analyze", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:4:5" in result.stderr


def test_range_on_a_non_number_is_refused(cli, spec_file):
    path = spec_file("input: [3, 8, 8]\nvars:\n  w: {default: [1, 2], min: 0}\nlayers: [relu]\n")
    result = cli("analyze", path)
    assert result.exit_code == 2 and f"{path}:3:" in result.stderr and "expected a number" in result.stderr


def test_api_overrides_given_as_text():
    from netcost.api import analyze

    assert analyze("resnet18", {"classes": "10"}).totals == analyze("resnet18", {"classes": 10}).totals
    assert analyze("resnet50", {"depths": "[3, 4, 6, 3]"}).totals == analyze("resnet50").totals

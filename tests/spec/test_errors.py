"""Malformed specs: one paragraph naming file:line:col and what was expected; exit code 2;
never a traceback."""

import pytest

from netcost.api import analyze
from netcost.errors import ShapeError, SpecError

HEAD = "input: [3, 32, 32]\nvars: {width: 1.0}\n"

CASES = {
    "bad yaml": (HEAD + "layers:\n  - conv: {out: 8, k: 3\n  - relu\n", 4, "invalid YAML"),
    "unknown op": (HEAD + "layers:\n  - conv: {out: 8, k: 3}\n  - rleu\n", 5, "unknown op or block 'rleu'"),
    "unknown op hint": (HEAD + "layers:\n  - rleu\n", 4, "did you mean 'relu'"),
    "unknown argument": (HEAD + "layers:\n  - conv: {out: 8, k: 3, strid: 2}\n", 4, "unknown argument 'strid'"),
    "missing argument": (HEAD + "layers:\n  - conv: {out: 8}\n", 4, "missing `k`"),
    "wrong type": (HEAD + "layers:\n  - conv: {out: 8, k: 3, bias: 7}\n", 4, "expected true or false"),
    "fractional channels": (HEAD + "layers:\n  - conv: {out: 8.5, k: 3}\n", 4, "expected an integer, got 8.5"),
    "groups mismatch": (HEAD + "layers:\n  - conv: {out: 8, k: 3, groups: 2}\n", 4, "groups=2 must divide"),
    "negative size": (HEAD + "layers:\n  - conv: {out: 8, k: 3}\n  - conv: {out: 8, k: 31}\n", 5, "shrinks"),
    "unknown variable": (HEAD + "layers:\n  - conv: {out: 8 * widht, k: 3}\n", 4, "did you mean 'width'"),
    "bad expression": (HEAD + "layers:\n  - conv: {out: '8 *', k: 3}\n", 4, "syntax"),
    "no eval": (HEAD + "layers:\n  - conv: {out: \"__import__('os').getpid()\", k: 3}\n", 4, "expression"),
    "template cycle": (
        HEAD + "blocks:\n  a: {layers: [b]}\n  b: {layers: [a]}\nlayers:\n  - a\n",
        4,
        "template cycle: a -> b -> a",
    ),
    "missing block arg": (
        HEAD + "blocks:\n  blk: {args: {out: required}, layers: [conv: {out: out, k: 1}]}\nlayers:\n  - blk\n",
        6,
        "needs argument `out`",
    ),
    "unknown top-level key": (HEAD + "layer:\n  - relu\n", 3, "did you mean 'layers'"),
    "missing layers": (HEAD, 1, "missing `layers`"),
    "add of mismatched shapes": (
        HEAD + "layers:\n  - parallel:\n      merge: add\n      branches: [[conv: {out: 4, k: 1}], []]\n",
        4,
        "add needs equal (or broadcastable) shapes",
    ),
    "concat of mismatched sizes": (
        HEAD + "layers:\n  - parallel:\n      merge: concat\n      branches: [[conv: {out: 4, k: 3}], []]\n",
        4,
        "concat needs equal spatial sizes",
    ),
    "linear without flatten": (HEAD + "layers:\n  - linear: {out: 10}\n", 4, "flat input"),
    "duplicate key": (HEAD + "layers:\n  - conv: {out: 8, out: 9, k: 3}\n", 4, "duplicate key 'out'"),
    "duplicate name": (HEAD + "layers:\n  - relu: {name: a}\n  - relu: {name: a}\n", 5, "duplicate layer name"),
    "bad choice": (HEAD + "layers:\n  - upsample: {mode: bilinaer}\n", 4, "did you mean 'bilinear'"),
    "comma in flow mapping": (HEAD + "layers:\n  - conv: {out: max(8, 4), k: 3}\n", 4, "quote the expression"),
}


@pytest.mark.parametrize("case", CASES)
def test_error_has_location(case, spec_file):
    text, line, fragment = CASES[case]
    path = spec_file(text)
    with pytest.raises(SpecError) as info:
        analyze(path)
    err = info.value
    assert fragment in str(err)
    assert err.location is not None and err.location.file == str(path)
    assert err.location.line == line, str(err)
    assert str(err).startswith(f"{path}:{line}")


@pytest.mark.parametrize("case", ["unknown op", "groups mismatch", "template cycle", "bad yaml"])
def test_cli_exit_code_2_without_traceback(case, spec_file, cli):
    path = spec_file(CASES[case][0])
    result = cli("analyze", path)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{path}:" in result.stderr and result.stdout == ""


def test_shape_errors_name_the_layer(spec_file):
    path = spec_file(HEAD + "layers:\n  - conv: {name: stem, out: 8, k: 3}\n  - conv: {out: 6, k: 3, groups: 4}\n")
    with pytest.raises(ShapeError, match=r"conv1: conv groups=4 must divide both input channels \(8\)"):
        analyze(path)


def test_unknown_set_variable(cli):
    result = cli("analyze", "mobilenet_v2", "--set", "widht=0.5")
    assert result.exit_code == 2
    assert "did you mean 'width'" in result.stderr


def test_unknown_model(cli):
    result = cli("analyze", "resnet81")
    assert result.exit_code == 2
    assert "did you mean 'resnet18'" in result.stderr


def test_missing_file(cli):
    result = cli("analyze", "no/such/spec.yaml")
    assert result.exit_code == 2 and "no spec file" in result.stderr

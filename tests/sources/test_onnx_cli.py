"""`netcost analyze model.onnx` and friends: the ONNX source through the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("onnx")

from tests.sources.test_onnx_files import image, out, save, token_model, weight


def conv_file(tmp_path):
    """Conv 8 -> 16, 3x3, no padding, on 15x15: 16 x 8 x 9 = 1,152 weights + 16 biases;
    MACs 1,152 x 13 x 13 = 194,688; then a ReLU."""
    from onnx import helper

    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/conv/Conv"),
        helper.make_node("Relu", ["c"], ["y"], name="/act/Relu"),
    ]
    return save(tmp_path, nodes, [image()], [out()], [weight("w", 16, 8, 3, 3), weight("b", 16)])


def test_analyze_an_onnx_file_as_json(cli, tmp_path):
    result = cli("analyze", conv_file(tmp_path), "--format", "json", "--batch", "2")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["totals"]["params"] == 1_168
    assert report["totals"]["macs"] == 2 * 194_688
    assert [row["name"] for row in report["layers"]] == ["conv", "act"]


def test_symbolic_dim_from_the_command_line(cli, tmp_path):
    path = token_model(tmp_path)
    missing = cli("analyze", path)
    assert missing.exit_code == 2
    assert "dim 1 (seq) has no size" in missing.stderr and "--input ids=N" in missing.stderr
    given = cli("analyze", path, "--input", "ids=12", "--format", "json")
    assert given.exit_code == 0, given.stderr
    assert json.loads(given.stdout)["totals"]["macs"] == 12 * 16 * 8


@pytest.mark.parametrize("content", [b"", b"not an onnx model\n"], ids=["empty", "text"])
def test_corrupt_file_is_exit_2_with_a_clear_message(cli, tmp_path, content):
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    result = cli("analyze", path)
    assert result.exit_code == 2
    assert "broken.onnx: not a" in result.stderr and "Traceback" not in result.stderr


def test_unsupported_op_makes_check_fail_unless_partial_is_allowed(cli, tmp_path):
    import numpy as np
    from onnx import helper, numpy_helper

    nodes = [helper.make_node("CumSum", ["x", "axis"], ["y"], name="/cum/CumSum")]
    axis = numpy_helper.from_array(np.array(1, dtype=np.int64), "axis")
    path = save(tmp_path, nodes, [image()], [out()], [axis])
    report = json.loads(cli("analyze", path, "--format", "json").stdout)
    assert report["partial"] is True and "onnx.CumSum" in json.dumps(report)
    assert cli("check", path, "--max-macs", "1G").exit_code == 1
    assert cli("check", path, "--max-macs", "1G", "--allow-partial").exit_code == 0


def test_set_is_refused_for_an_onnx_file(cli, tmp_path):
    result = cli("analyze", conv_file(tmp_path), "--set", "width=2")
    assert result.exit_code == 2 and "--set applies to specs" in result.stderr


def test_analyze_onnx_never_imports_torch(tmp_path):
    path = conv_file(tmp_path)
    code = (
        "import sys\n"
        "from netcost.cli import app\n"
        "try:\n"
        f"    app(['analyze', {str(path)!r}, '--format', 'json'])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "TORCH False" in result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 1_168


def test_python_api_takes_an_onnx_path(tmp_path):
    import netcost

    report = netcost.analyze(str(token_model(tmp_path)), inputs=["ids=12"], batch=2)
    assert report.totals["params"] == 1_736 and report.totals["macs"] == 2 * 12 * 16 * 8

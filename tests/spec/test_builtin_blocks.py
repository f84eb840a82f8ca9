"""Built-in blocks (``dwsep``): one definition, usable in YAML and inline, listed by
`netcost ops`, overridable by a spec's own block; positional mistakes get a named hint."""

from __future__ import annotations

import json

from netcost.api import analyze

SPEC = """
name: dw
input: [32, 16, 16]
layers:
  - dwsep: {name: block1, out: 64}
  - dwsep: {name: block2, out: 128, stride: 2, k: 5}
"""


def test_dwsep_in_yaml_by_hand(tmp_path):
    path = tmp_path / "dw.yaml"
    path.write_text(SPEC)
    rows = {r["name"]: r for r in analyze(str(path)).rows}
    # depthwise 3x3 on 32 channels: 32 x 9 weights + 32 biases; pointwise 32 -> 64: 32 x 64 + 64
    assert rows["block1.conv1"]["params"] == 32 * 9 + 32 and rows["block1.conv1"]["output_shape"] == [1, 32, 16, 16]
    assert rows["block1.conv2"]["params"] == 32 * 64 + 64
    assert rows["block1.conv2"]["macs"] == 16 * 16 * 32 * 64
    # 5x5 /2 depthwise pads 2: 16 -> 8; MACs 8 x 8 x 64 x 25
    assert rows["block2.conv1"]["output_shape"] == [1, 64, 8, 8] and rows["block2.conv1"]["macs"] == 8 * 8 * 64 * 25
    assert rows["block2.conv2"]["params"] == 64 * 128 + 128


def test_inline_and_yaml_are_the_same_block(tmp_path, cli):
    inline = json.loads(cli("analyze", "dwsep(64,k=3)", "--input", "32x16x16", "-f", "json").stdout)
    path = tmp_path / "one.yaml"
    path.write_text("name: one\ninput: [32, 16, 16]\nlayers:\n  - dwsep: {out: 64}\n")
    yaml_doc = json.loads(cli("analyze", str(path), "-f", "json").stdout)
    assert [r["params"] for r in inline["layers"]] == [r["params"] for r in yaml_doc["layers"]] == [320, 2112]
    assert [r["name"] for r in inline["layers"]] == ["dwsep1.conv1", "dwsep1.conv2"]


def test_a_specs_own_block_takes_precedence(tmp_path):
    path = tmp_path / "own.yaml"
    path.write_text(
        "name: own\ninput: [8, 4, 4]\nblocks:\n  dwsep:\n    args: {out: required}\n"
        "    layers: [conv: {out: out, k: 1, bias: false}]\nlayers:\n  - dwsep: {out: 2}\n"
    )
    assert [r["params"] for r in analyze(str(path)).rows] == [8 * 2]


def test_ops_lists_the_block_with_whole_descriptions(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    listing = cli("ops").stdout
    line = next(x for x in listing.splitlines() if x.lstrip().startswith("dwsep "))
    assert "block" in line and "out, k = 3" in line
    conv_t = " ".join(listing.split())
    assert "Its MACs are counted on the *input* grid: every input" in conv_t  # past the docstring's first line
    one = cli("ops", "dwsep").stdout
    assert "built-in block" in one and "groups" in one


def test_positional_extra_gets_a_hint_naming_the_field(cli):
    result = cli("analyze", "upsample(2)", "--input", "3x8x8")
    assert result.exit_code == 2
    assert ":1:10:" in result.stderr and "upsample(scale=2)" in result.stderr

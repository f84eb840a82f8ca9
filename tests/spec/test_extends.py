"""``extends`` looks beside the extending file, then among bundled specs; never in the
current directory; anything but a YAML spec is a located error."""

from __future__ import annotations

import json

import pytest

BASE = "input: [3, 8, 8]\nvars: {c: 4}\nlayers: [conv: {out: c, k: 1}]\n"


def params(cli, path, *args):
    result = cli("analyze", path, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["totals"]["params"]


@pytest.mark.parametrize("written", ["base", "base.yaml", "./base"])
def test_parent_beside_the_child_with_or_without_suffix(written, cli, spec_file, tmp_path, monkeypatch):
    spec_file(BASE, name="base.yaml")
    child = spec_file(f"extends: {written}\nvars: {{c: 8}}\n", name="child.yaml")
    monkeypatch.chdir(tmp_path.parent)  # the current directory plays no part
    assert params(cli, child) == 8 * 3 + 8


def test_yml_suffix(cli, spec_file):
    spec_file(BASE, name="base.yml")
    assert params(cli, spec_file("extends: base\n", name="child.yaml")) == 4 * 3 + 4


def test_never_the_current_directory(cli, spec_file, tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text(BASE)
    child = spec_file("extends: base\n", name="child.yaml")
    monkeypatch.chdir(tmp_path / "sub")
    result = cli("analyze", child)
    assert result.exit_code == 2
    assert f"{child}:1:10" in result.stderr and "unknown model 'base'" in result.stderr


def test_bundled_name(cli, spec_file):
    child = spec_file("extends: resnet18\nvars: {classes: 10}\n", name="child.yaml")
    assert params(cli, child) == 11_689_512 - 990 * 513


BAD = {
    "a directory": (lambda tmp: (tmp / "parent").mkdir(), "extends: parent\n", "is a directory"),
    "not yaml": (lambda tmp: (tmp / "parent.txt").write_text(BASE), "extends: parent.txt\n", "not a YAML file"),
    "not a spec": (lambda tmp: (tmp / "parent.yaml").write_text("- 1\n- 2\n"), "extends: parent\n", "is not a spec"),
    "a list": (lambda tmp: None, "extends: [a, b]\n", "`extends` must name a spec"),
    "a suffix, missing": (lambda tmp: None, "extends: nothere.yaml\n", "unknown model 'nothere.yaml'"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_parents_are_located(case, cli, spec_file, tmp_path):
    make, text, fragment = BAD[case]
    make(tmp_path)
    child = spec_file(text, name="child.yaml")
    result = cli("analyze", child)
    assert result.exit_code == 2, result.output
    assert f"{child}:1:10" in result.stderr
    assert fragment in result.stderr


def test_typed_parent_variable_keeps_its_choices(cli, spec_file):
    spec_file("input: [3, 8, 8]\nvars:\n  mode: {default: a, choices: [a, b]}\nlayers: [relu]\n", name="base.yaml")
    child = spec_file("extends: base\nvars: {mode: \"'b'\"}\n", name="child.yaml")
    assert cli("analyze", child).exit_code == 0
    result = cli("analyze", child, "--set", "mode=c")
    assert result.exit_code == 2 and "expected one of 'a', 'b'" in result.stderr


def test_inherited_entries_point_at_their_own_file(cli, spec_file):
    """An error in an entry the child inherits names the parent's file and line."""
    base = spec_file(
        "input: [3, 8, 8]\nvars:\n  a: 1\n  b: a + zz\nblocks:\n  blk:\n    layers: [conv: {out: 4, k: 0}]\n"
        "layers: [blk]\n",
        name="base.yaml",
    )
    child = spec_file("extends: base\nvars: {a: 2}\n", name="child.yaml")
    result = cli("analyze", child)
    assert result.exit_code == 2 and f"{base}:4:6" in result.stderr and "unknown variable 'zz'" in result.stderr
    fixed = spec_file("extends: base\nvars: {b: 3}\n", name="fixed.yaml")
    result = cli("analyze", fixed)
    assert result.exit_code == 2 and f"{base}:7:32" in result.stderr and "`k` must be >= 1" in result.stderr


def test_layers_that_are_not_a_list_are_located(cli, spec_file):
    path = spec_file("input: [3, 8, 8]\nlayers:\n  - seq: {layers: relu}\n")
    result = cli("analyze", path)
    assert result.exit_code == 2 and f"{path}:3:" in result.stderr and "must be a list of layers" in result.stderr

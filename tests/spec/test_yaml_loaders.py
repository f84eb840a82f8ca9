"""libyaml and the pure loader give the same values and the same marks; the document
checks (size, nesting, tabs) give located errors with either."""

from __future__ import annotations

import pytest

from netcost.errors import SpecError
from netcost.spec import load
from netcost.spec.load import LocDict, LocList, load_yaml
from netcost.zoo import bundled

pytestmark = pytest.mark.skipif(not load.FAST, reason="PyYAML without libyaml")


def marks(value):
    """Values with every mark, as plain data."""
    if isinstance(value, LocDict):
        items = {repr(k): (marks(v), value.marks[k], value.key_marks[k]) for k, v in value.items()}
        return ("map", value.mark, value.source, items)
    if isinstance(value, LocList):
        return ("seq", value.mark, value.source, [(marks(v), m) for v, m in zip(value, value.marks, strict=True)])
    return (type(value).__name__, value)


@pytest.mark.parametrize("name", sorted(bundled()))
def test_both_loaders_agree_on_every_bundled_spec(name):
    path = bundled()[name]
    text = path.read_text(encoding="utf-8")
    fast, pure = load_yaml(text, str(path), fast=True), load_yaml(text, str(path), fast=False)
    assert marks(fast) == marks(pure)
    assert fast == pure


BAD = {
    "tab indent": ("input: [3, 8, 8]\nlayers:\n\t- relu\n", 3, "not tabs"),
    "alias bomb under notes": (
        "input: [3, 8, 8]\nlayers: [relu]\nnotes:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcde", "bcdef", strict=True)),
        None,
        "more than 1,000,000 values",
    ),
    "merge-key bomb": (
        "a: &a {x: 1, y: 2}\n"
        + "".join(
            f"{c}: &{c} {{<<: [{', '.join([f'*{p}'] * 8)}]}}\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)
        )
        + "layers: [relu]\ninput: [3, 8, 8]\n",
        None,
        "more than 1,000,000 values",
    ),
    "5000-deep nesting": ("input: [3, 8, 8]\nlayers: [relu]\nnotes: " + "[" * 5000 + "]" * 5000 + "\n", 3, "nest"),
    "deep block nesting": ("input: [3, 8, 8]\nlayers:\n  - " + "seq: {layers: [" * 60 + "relu" + "]}" * 60, 3, "nests"),
}


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "pure"])
@pytest.mark.parametrize("case", BAD)
def test_bad_documents_are_located(case, fast):
    text, line, fragment = BAD[case]
    with pytest.raises(SpecError) as info:
        load_yaml(text, "s.yaml", fast=fast)
    err = info.value
    assert fragment in err.message
    assert err.location.file == "s.yaml" and err.location.line is not None
    if line is not None:
        assert err.location.line == line


def test_cli_reports_the_bomb_fast(cli, spec_file):
    path = spec_file(BAD["alias bomb under notes"][0])
    result = cli("analyze", path)
    assert result.exit_code == 2 and f"{path}:" in result.stderr and "1,000,000 values" in result.stderr

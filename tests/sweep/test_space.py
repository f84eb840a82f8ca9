"""The `space:` section: distributions drawn as pycls draws them, within the variables'
domains, constraints met, and located errors for a malformed space."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

import netcost
from netcost.errors import SpecError
from netcost.spec.space import Distribution

BASE = """
name: tiny
input: [3, 32, 32]
vars:
  width: {default: 1.0, min: 0.25, max: 4}
  depth: 2
  kernel: {default: 3, choices: [3, 5, 7]}
let:
  channels: "int(16 * width)"
layers:
  - repeat:
      n: depth
      layers: [conv: {out: channels, k: kernel, pad: (kernel - 1) // 2}, relu]
  - gap
  - flatten
  - linear: {out: 10}
"""


def spec_with(spec_file, space: str):
    return spec_file(BASE + "space:\n" + space)


def test_quantised_log_uniform_is_pycls_log_uniform():
    """pycls log_uniform(8, 256, 8): values in (8 - 4, 256] log-uniformly, rounded up to a
    multiple of 8; every multiple of 8 in [8, 256] can come out, nothing else."""
    d = Distribution("log_uniform", 8, 256, 8)
    rng = random.Random(1)
    values = [d.draw(rng) for _ in range(20_000)]
    assert set(values) == set(range(8, 257, 8)) and all(isinstance(v, int) for v in values)
    # P(8) = P(f in (4, 8]) = log(8/4) / log(256/4) = 1/6 of the draws
    assert abs(values.count(8) / len(values) - math.log(2) / math.log(64)) < 0.01


def test_quantised_uniform_and_decimal_steps():
    rng = random.Random(2)
    wa = Distribution("log_uniform", 8.0, 256.0, 0.1)
    for v in (wa.draw(rng) for _ in range(2000)):
        assert 8.0 <= v <= 256.0 and Decimal(str(v)) % Decimal("0.1") == 0
    u = Distribution("uniform", 0.25, 2.0, 0.25)
    assert {u.draw(rng) for _ in range(2000)} == {0.25 * k for k in range(1, 9)}
    assert {Distribution("int", 12, 28).draw(rng) for _ in range(3000)} == set(range(12, 29))
    assert {Distribution("int", 2, 10, step=4).draw(rng) for _ in range(500)} == {2, 6, 10}


def test_sampled_regnets_meet_pycls_constraints():
    """Every model drawn has four stages, and the distributions' ranges and steps."""
    df = netcost.sweep("regnet", sample=25, seed=5)
    for row in df.to_dict("records"):
        assert 12 <= row["depth"] <= 28 and row["w0"] % 8 == 0 and 8 <= row["w0"] <= 256
        assert 8 <= row["wa"] <= 256 and 2 <= row["wm"] <= 3 and row["group_width"] % 8 == 0
        graph = netcost.load_graph("regnet", {k: row[k] for k in ("depth", "w0", "wa", "wm", "group_width")})
        assert len(graph.vars["stage_widths"]) == 4
    assert df.attrs["drawn"] > 25  # the constraints rejected some draws
    # RegNetY: the same draws (the same seed), with squeeze-excitation
    y = netcost.sweep("regnet", sample=25, seed=5, space="regnety")
    assert y[["depth", "w0", "wa", "wm"]].values.tolist() == df[["depth", "w0", "wa", "wm"]].values.tolist()
    assert set(y["se_ratio"]) == {0.25} and (y["params"] > df["params"]).all()


def test_seeds_are_reproducible_and_differ():
    a = netcost.sweep("regnet", sample=5, seed=7, frame=False).rows
    assert a == netcost.sweep("regnet", sample=5, seed=7, frame=False).rows
    assert a != netcost.sweep("regnet", sample=5, seed=8, frame=False).rows


def test_a_space_of_a_user_spec(spec_file):
    path = spec_with(
        spec_file,
        """
  small:
    vars:
      width: {uniform: [0.25, 1.0], step: 0.25}
      kernel: {choice: [3, 5]}
      depth: {int: [1, 3]}
    where: [channels * depth <= 32]
""",
    )
    df = netcost.sweep(str(path), sample=40, seed=0)
    assert set(df["kernel"]) <= {3, 5} and set(df["width"]) <= {0.25, 0.5, 0.75, 1.0}
    assert all(int(16 * w) * d <= 32 for w, d in zip(df["width"], df["depth"], strict=True))
    # one conv of 16*w channels: 3 * c * k * k + c weights and biases, then the linear c * 10 + 10
    for w, k, d in zip(df["width"], df["kernel"], df["depth"], strict=True):
        c = int(16 * w)
        first = c * 3 * k * k + c
        later = (d - 1) * (c * c * k * k + c)
        assert df[(df.width == w) & (df.kernel == k) & (df.depth == d)]["params"].iloc[0] == first + later + c * 10 + 10


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("  s:\n    vars: {widht: {uniform: [0.5, 1]}}\n", "declares no variable 'widht'"),
        ("  s:\n    vars: {width: {uniform: [0.1, 1]}}\n", "must be between 0.25 and 4, got 0.1"),
        ("  s:\n    vars: {width: {uniform: [2, 1]}}\n", "low is above high"),
        ("  s:\n    vars: {width: {gauss: [0.5, 1]}}\n", "unknown key 'gauss'"),
        ("  s:\n    vars: {width: {log_uniform: [0, 1]}}\n", "`log_uniform` needs low > 0, got 0"),
        ("  s:\n    vars: {kernel: {choice: [3, 4]}}\n", "expected one of 3, 5, 7, got 4"),
        ("  s:\n    vars: {kernel: {uniform: [3, 7]}}\n", "is one of its choices"),
        ("  s:\n    vars: {depth: {uniform: [1.0, 3.0]}}\n", "depth is an integer"),
        ("  s:\n    vars: {depth: {int: [1, 3]}}\n    where: [chanels > 1]\n", "reads 'chanels'"),
        ("  s:\n    extends: t\n    vars: {depth: 1}\n", "extends 't', which is not a space above it"),
        ("  s:\n    vars: {depth: {int: [1, 3]}, width: 9}\n", "must be between 0.25 and 4, got 9"),
        ("  s:\n    sample: {depth: 1}\n", "unknown space key 'sample'"),
    ],
)
def test_a_malformed_space_is_a_located_error(spec_file, space, message):
    path = spec_with(spec_file, space)
    with pytest.raises(SpecError) as info:
        netcost.load_spec(str(path))
    assert message in info.value.message
    assert info.value.location is not None and info.value.location.line is not None
    assert info.value.location.file == str(path)


def test_sampling_a_spec_without_a_space_says_so(cli):
    result = cli("sweep", "resnet18", "--sample", "3")
    assert result.exit_code == 2
    assert "declares no design space" in result.stderr and "Traceback" not in result.stderr


def test_constraints_no_draw_meets_are_an_error(spec_file):
    path = spec_with(spec_file, "  s:\n    vars: {depth: {int: [1, 3]}}\n    where: [depth > 5]\n")
    from netcost.analysis import sweep as run

    run.MAX_DRAWS, before = 500, run.MAX_DRAWS
    try:
        with pytest.raises(netcost.errors.NetcostError, match="500 draws gave 0 models"):
            netcost.sweep(str(path), sample=2)
    finally:
        run.MAX_DRAWS = before


def test_a_draw_rejected_before_its_variables_are_worked_out_is_one_they_reject():
    """The constraints that read only drawn variables reject a draw from its values alone
    (sweep.RowMaker.rejects): exactly the draws that the worked-out variables reject."""
    from netcost.analysis.sweep import Point, RowMaker, candidates
    from netcost.options import AnalyzeOptions

    spec = netcost.load_spec("regnet")
    space = spec.spaces["regnetx"]
    maker = RowMaker(spec, AnalyzeOptions(), list(space.vars))
    assert maker._on_draws == {} and space.on_draws(frozenset()) == space.early  # all it draws is typed
    early = rejected = 0
    for values, _ in zip(candidates(space, {}, 3), range(3000), strict=False):
        quick = maker.rejects(space, values)
        worked_out = not space.admits(maker.settable(Point(values)), space.early)
        assert quick == worked_out, values
        # by hand: the quantisation index of the last block, round(log(u / w0) / log(wm)), is 3
        u = values["w0"] + values["wa"] * (values["depth"] - 1)
        assert quick == (round(math.log(u / values["w0"]) / math.log(values["wm"])) != 3)
        early += worked_out
        rejected += quick
    assert 0 < rejected == early < 3000


def test_constraints_on_set_or_untyped_variables_wait_for_them(spec_file):
    """A constraint reading a --set variable, or one whose default is an expression (its type
    known only once worked out), is not checked on the draw alone."""
    path = spec_with(spec_file, "  s:\n    vars: {depth: {int: [1, 3]}}\n    where: [depth * width < 3]\n")
    space = netcost.load_spec(str(path)).spaces["s"]
    assert space.on_draws(frozenset()) == () and space.typed == {"depth"}  # width is not drawn
    both = spec_with(spec_file, "  s:\n    vars: {depth: {int: [1, 3]}, width: 1.0}\n    where: [depth * width < 3]\n")
    space = netcost.load_spec(str(both)).spaces["s"]
    assert space.on_draws(frozenset()) == ("depth * width < 3",)
    assert space.on_draws(frozenset({"width"})) == ()  # --set width: its value is checked first
    rows = netcost.sweep(str(both), sample=30, seed=1, overrides={"width": 1.25}, frame=False).rows
    assert {r["depth"] for r in rows} == {1, 2}  # 3 * 1.25 is not below 3
    # a drawn variable whose default is an expression: its type is known only once worked out
    derived = BASE.replace("  depth: 2\n", "  depth: 2\n  blocks: depth * 2\n")
    path = spec_file(derived + "space:\n  s:\n    vars: {blocks: {int: [1, 6]}}\n    where: [blocks < 3]\n")
    space = netcost.load_spec(str(path)).spaces["s"]
    assert space.typed == frozenset() and space.on_draws(frozenset()) == ()

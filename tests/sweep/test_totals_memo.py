"""The sweep's memo (netcost.analysis.sweep_totals) where it must not reuse a result: a
stage whose block reads its index variable, a stage whose shape changes every block, names
that collide, and draws whose expansion fails. Totals are hand counts (written out below)
and equal analyze; errors are analyze's, message and location."""

from __future__ import annotations

import textwrap

import pytest

import netcost
from netcost.analysis.sweep import candidates, space_of
from netcost.analysis.sweep_totals import TOTAL_KEYS, TotalsEngine
from netcost.api import load_spec
from netcost.errors import SpecError

# A stage of 4 blocks on 4 x 8 x 8: a 1x1 conv 4 -> 4 (16 weights + 4 biases = 20 params,
# 16 * 64 = 1,024 MACs), and one more where the block's `extra` is 2 (block 1 only).
INDEX_IN_A_DEFAULT = """
    name: index_in_a_default
    input: [4, 8, 8]
    blocks:
      b:
        args: {extra: index + 1}
        layers:
          - conv: {out: 4, k: 1}
          - conv: {out: 4, k: 1, when: extra == 2}
    layers:
      - stage: {name: s, block: b, n: 4}
"""
# ... the same, the block's layers reading the index themselves (the extra conv in block 2)
INDEX_IN_THE_LAYERS = """
    name: index_in_the_layers
    input: [4, 8, 8]
    blocks:
      b:
        layers:
          - conv: {out: 4, k: 1}
          - conv: {out: 4, k: 1, when: index == 2}
    layers:
      - stage: {name: s, block: b, n: 4}
"""
# conv 3 -> 4, 4 -> 8, 8 -> 12 (1x1 with bias): 16 + 40 + 108 = 164 params,
# 64 * (12 + 32 + 96) = 8,960 MACs; the shape changes every block
SHAPE_CHANGES = """
    name: shape_changes
    input: [3, 8, 8]
    blocks:
      b:
        args: {out: required}
        layers:
          - conv: {out: out, k: 1}
    layers:
      - stage: {name: s, block: b, n: 3, out: 4 * (index + 1)}
"""
# no index read, the same shape: blocks 2.. are block 1 again (5 x 20 = 100 params, 5,120 MACs)
REPEATS = """
    name: repeats
    input: [4, 8, 8]
    blocks:
      b:
        layers:
          - conv: {out: 4, k: 1}
          - relu
    layers:
      - stage: {name: s, block: b, n: 5}
"""


def spec_file(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return load_spec(str(path))


@pytest.mark.parametrize(
    "text, params, macs",
    [
        (INDEX_IN_A_DEFAULT, 5 * 20, 5 * 1024),
        (INDEX_IN_THE_LAYERS, 5 * 20, 5 * 1024),
        (SHAPE_CHANGES, 164, 8960),
        (REPEATS, 5 * 20, 5 * 1024),
    ],
)
def test_stage_totals_are_hand_counts_and_analyzes(tmp_path, text, params, macs):
    spec = spec_file(tmp_path, text)
    engine = TotalsEngine(spec)
    first, again = engine.totals(), engine.totals()  # the second from the remembered summaries
    want = netcost.analyze(spec).totals
    assert first == again == {k: want[k] for k in TOTAL_KEYS}
    assert (first["params"], first["macs"]) == (params, macs)


@pytest.mark.parametrize(
    "names",
    [
        "b{index // 2}",  # blocks 0 and 1 are both b0
        "b{min(index, 1)}",  # blocks 1 and 2 are both b1 (block 2 would be block 1's summary again)
    ],
)
def test_colliding_names_fail_as_in_analyze(tmp_path, names):
    spec = spec_file(tmp_path, REPEATS.replace("n: 5}", f"n: 5, names: '{names}'}}"))
    with pytest.raises(SpecError) as want:
        netcost.analyze(spec)
    assert "duplicate layer name" in want.value.message
    engine = TotalsEngine(spec)
    for _ in range(2):  # and again, with whatever was remembered
        with pytest.raises(SpecError) as got:
            engine.totals()
        assert (got.value.message, got.value.location) == (want.value.message, want.value.location)


GROUPS = """
    name: groups
    input: [8, 8, 8]
    vars: {g: 1, w: 8}
    blocks:
      b:
        args: {out: required, groups: 1}
        layers:
          - conv: {out: out, k: 3, pad: 1, groups: groups}
    layers:
      - stage: {name: s, block: b, n: 3, out: w, groups: g}
    space:
      all:
        vars:
          g: {choice: [1, 2, 3]}
          w: {choice: [8, 12]}
"""


def test_draws_whose_expansion_fails_fail_as_in_analyze(tmp_path):
    """groups 3 does not divide 8 channels: those draws raise analyze's error, the others
    give its totals, in whatever order they come (one engine, its memo shared)."""
    spec = spec_file(tmp_path, GROUPS)
    engine = TotalsEngine(spec)
    failed = 0
    for values, _ in zip(candidates(space_of(spec, None), {}, 7), range(30), strict=False):
        try:
            want = netcost.analyze(spec, values).totals
        except SpecError as exc:
            failed += 1
            with pytest.raises(SpecError) as got:
                engine.totals(values)
            assert (got.value.message, got.value.location) == (exc.message, exc.location)
            continue
        assert engine.totals(values) == {k: want[k] for k in TOTAL_KEYS}
    assert 0 < failed < 30
    with pytest.raises(SpecError, match="groups"):
        netcost.sweep(spec, sample=30, seed=7)


# 2 relus x 1,000 inner blocks x n outer blocks: n = 600 is 1,200,000 layers, past the limit
# (netcost.spec.expand.MAX_NODES, 1,000,000), though the sweep records only a few summaries
PAST_THE_LIMIT = """
    name: past_the_limit
    input: [4, 4, 4]
    vars: {n: 10}
    blocks:
      inner:
        layers: [relu, relu]
      outer:
        layers:
          - stage: {block: inner, n: 1000}
    layers:
      - stage: {block: outer, n: n}
"""


def test_a_model_past_the_layer_limit_fails_as_in_analyze(tmp_path):
    path = tmp_path / "past_the_limit.yaml"
    path.write_text(textwrap.dedent(PAST_THE_LIMIT))
    small = netcost.sweep(str(path), grid={"n": [10]}, frame=False).rows[0]
    assert small["activation_bytes"] == 2 * 1000 * 10 * 64 * 4  # 20,000 relu outputs of 64 floats
    with pytest.raises(SpecError) as analyzed:
        netcost.analyze(str(path), {"n": 600})
    with pytest.raises(SpecError) as swept:
        netcost.sweep(str(path), grid={"n": [10, 600]}, frame=False)
    assert "1,200,000 layers" in analyzed.value.message
    assert swept.value.message == analyzed.value.message and swept.value.location == analyzed.value.location

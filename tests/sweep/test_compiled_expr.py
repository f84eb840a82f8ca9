"""The evaluator's fast path (netcost.spec.compiled) gives the tree walker's values, and
leaves every error and every limit to it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netcost.api import load_spec
from netcost.spec import compiled, expr
from netcost.spec.expand import expand
from netcost.zoo import bundled


def walker(text, scope):
    """The tree walker alone (the fast path switched off for this expression)."""
    prog = expr._program(text)
    fast, prog.fast = prog.fast, None
    try:
        return expr.evaluate(text, scope)
    finally:
        prog.fast = fast


@pytest.mark.parametrize(
    "text",
    [
        "int(round(w0 * wm ** round(log((w0 + wa * j) / w0) / log(wm)) / 8) * 8)",
        "[j for j in range(depth) if j == 0 or j % 3 != 1]",
        "[end - start for start, end in zip([0, 2, 5], [2, 5, 9])]",
        "make_divisible(32 * 1.4, 8) if depth > 3 else -1",
        "1 < depth <= 22 and 'a' or [1, 2][-1]",
        "sum([v * v for v in range(10)]) // 7 % 5",
        "[[1, 2], [3]][0][1:] + [max(1, 2, key=None) if False else 4]",
        "not (depth in [1, 22]) or (3, 4)",
        "2 ** 0.5 + abs(-3) - sorted([3, 1, 2])[0]",
        # comprehension variables shadow the scope's, each clause seeing the ones before it
        "[j for j in [j, 2 * j]]",
        "[y * j for j in [[1, 2], [3]] for y in j]",
        "[[j for j in range(i)] for i in range(3)] + [j]",
        "[i for i in range(4) if [i for i in range(i)]]",
        "[w0 * 2.5 * 3 for w0 in [wa, depth]] + [w0 * 1.5, 'ab' * 2, [1] * 3]",
    ],
)
def test_values_equal_the_walkers(text):
    scope = {"w0": 24, "wa": 24.48, "wm": 2.54, "depth": 22, "j": 5}
    try:
        want = walker(text, scope)
    except expr.ExprError as exc:
        with pytest.raises(expr.ExprError) as info:
            expr.evaluate(text, scope)
        assert info.value.message == exc.message
        return
    got = expr.evaluate(text, scope)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize(
    "text",
    [
        "[0] * 10 ** 7",  # repetition over the item limit
        "[[0] * 1000] * 2000",  # shared nested lists
        pytest.param("[x for x in range(1000) for y in range(3000)]", marks=pytest.mark.slow),  # the step limit
        "[[i] * 600 for i in range(1900)] + [[0] * 600 for i in range(1900)]",  # over the item limit, nested
        "2 ** 200000",
        "1 / 0",
        "unknown + 1",
        "'%d' % 3",
        "[1, 2][5]",
        "len(3)",
        "[a for a, b in [1, 2]]",
    ],
)
def test_errors_are_the_walkers(text):
    with pytest.raises(expr.ExprError) as fast:
        expr.evaluate(text, {})
    with pytest.raises(expr.ExprError) as slow:
        walker(text, {})
    assert fast.value.message == slow.value.message


def test_the_fast_limits_are_inside_the_walkers():
    assert compiled.WORK * 10 <= expr.MAX_STEPS and compiled.ITEMS * 10 <= expr.MAX_ITEMS
    assert compiled.INT_BITS * 10 <= expr.MAX_INT_BITS


SOME = ("regnet", "efficientnet_b0", "mobilenet_v2", "resnet50", "swin_t", "densenet121")


@pytest.mark.parametrize("names", [SOME, pytest.param(tuple(sorted(bundled())), marks=pytest.mark.slow)])
def test_bundled_specs_expand_the_same_either_way(monkeypatch, names):
    graphs = {name: expand(load_spec(name)) for name in names}
    monkeypatch.setattr(expr, "_parse", _walker_only_parse)
    for name, graph in graphs.items():
        again = expand(load_spec(name))
        assert [(n.name, n.op, n.shape) for n in again.nodes] == [(n.name, n.op, n.shape) for n in graph.nodes], name


def _walker_only_parse(text):
    prog = expr._Program(text)
    prog.fast = None
    return prog


# what the fast path returns, the tree walker returns (random expressions over numbers and lists)
NUMERIC = [
    "w0", "wa", "wm", "depth", "widths", "j", "0", "1", "2", "8", "0.5", "3.7", "2 ** 62", "2 ** 70",
    "(", ")", "[", "]", ",", " + ", " - ", " * ", " / ", " // ", " % ", " ** ", " < ", " == ",
    " and ", " or ", " if ", " else ", " for j in range(depth)", " for j in widths", " if j",
    "round(", "int(", "log(", "len(", "max(", "min(", "sum(", "make_divisible(", "abs(",
]  # fmt: skip
NUMBERS = {"w0": 24, "wa": 24.48, "wm": 2.54, "depth": 22, "widths": [32, 64, 160, 384], "j": 3}


def _walked(prog):
    try:
        return expr._Evaluator(prog, NUMBERS).value(prog.tree, {}), None
    except expr.ExprError as exc:
        return None, exc


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(NUMERIC), min_size=1, max_size=20).map("".join))
def test_the_fast_path_agrees_with_the_walker(text):
    try:
        prog = expr._program(text)
    except expr.ExprError:
        return
    if prog.fast is None:
        return
    try:
        fast = prog.fast(NUMBERS)
    except Exception:  # it bails out: the walker decides
        return
    walked, error = _walked(prog)
    assert error is None, f"{text!r}: the fast path gave {fast!r}, the walker {error}"
    assert type(fast) is type(walked) and repr(fast) == repr(walked), text

"""netcost.spec.expr: every supported construct, every rejection, and two real rules
(torchvision's make_divisible and pycls's RegNet widths). Expected values are worked
out by hand in the tables below, never by running Python's own eval."""

from __future__ import annotations

import ast
import contextlib
import inspect
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netcost.spec import expr
from netcost.spec.expr import FUNCTIONS, ExprError, evaluate, make_divisible, names_used

SCOPE = {
    "out": 16,
    "width": 0.75,
    "stride": 2,
    "index": 0,
    "ws": [16, 16, 32, 32, 32, 64],
    "name": "conv",
    "flag": True,
    "nothing": None,
    "cfg": {"k": 3},
}

VALUES = [
    # literals
    ("42", 42),
    ("2.5", 2.5),
    ("1e3", 1000.0),
    ("True", True),
    ("False", False),
    ("None", None),
    ("'abc'", "abc"),
    ("'a' 'b'", "ab"),
    ("[1, 2, 3]", [1, 2, 3]),
    ("[]", []),
    ("(1, 2)", (1, 2)),
    ("(1,)", (1,)),
    ("()", ()),
    ("[1, (2, 'x'), None]", [1, (2, "x"), None]),
    # variables
    ("out", 16),
    ("name", "conv"),
    ("nothing", None),
    ("  out  ", 16),
    # unary
    ("-out", -16),
    ("+width", 0.75),
    ("--3", 3),
    ("not flag", False),
    ("not 0", True),
    ("not []", True),
    # binary, with Python precedence
    ("out * 4", 64),
    ("out + 1", 17),
    ("out - 20", -4),
    ("7 / 2", 3.5),
    ("6 / 2", 3.0),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7.5 // 2", 3.0),
    ("7 % 3", 1),
    ("-7 % 3", 2),
    ("2 ** 10", 1024),
    ("2 ** -1", 0.5),
    ("2 ** 3 ** 2", 512),
    ("-2 ** 2", -4),
    ("4 ** 0.5", 2.0),
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("True + True", 2),
    ("[1] * 3", [1, 1, 1]),
    ("3 * 'ab'", "ababab"),
    ("[1] * 0", []),
    ("[1] + [2]", [1, 2]),
    ("(1,) + (2,)", (1, 2)),
    ("'a' + 'b'", "ab"),
    ("2 ** 10000 == pow(2, 10000)", True),
    ("10 ** 10000 > 0", True),
    # comparisons, chained as in Python
    ("out > 8", True),
    ("out >= 17", False),
    ("out < 8", False),
    ("out <= 16", True),
    ("out == 16", True),
    ("out != 16", False),
    ("1 < 2 < 3", True),
    ("1 < 3 < 2", False),
    ("1 < 2 > 0", True),
    ("3 > 2 >= 2 == 2", True),
    ("16 in ws", True),
    ("17 not in ws", True),
    ("'on' in name", True),
    ("'k' in cfg", True),
    ("nothing == None", True),
    ("[1, 2] == [1, 2]", True),
    ("(1, 2) < (1, 3)", True),
    ("0.1 + 0.2 == 0.3", False),
    # and / or return the deciding operand
    ("0 or 5", 5),
    ("3 or 5", 3),
    ("0 and 5", 0),
    ("3 and 5", 5),
    ("[] or 'x'", "x"),
    ("None or 0 or ''", ""),
    ("flag and out", 16),
    ("not out or flag", True),
    # short-circuit: the part that would fail is never evaluated
    ("True or 1 / 0", True),
    ("False and 1 / 0", False),
    ("0 and undefined", 0),
    ("1 < 0 < 1 / 0", False),
    ("1 / 0 if False else 7", 7),
    # conditional
    ("stride if index == 0 else 1", 2),
    ("stride if index == 1 else 1", 1),
    ("1 if out > 20 else 2 if out > 10 else 3", 2),
    ("'a' if ws else 'b'", "a"),
    # subscripts and slices
    ("ws[0]", 16),
    ("ws[-1]", 64),
    ("ws[out // 8]", 32),
    ("ws[1:3]", [16, 32]),
    ("ws[-2:]", [32, 64]),
    ("ws[:2]", [16, 16]),
    ("ws[::2]", [16, 32, 32]),
    ("ws[::-1][0]", 64),
    ("ws[10:]", []),
    ("name[0]", "c"),
    ("name[1:]", "onv"),
    ("name[::-1]", "vnoc"),
    ("(1, 2, 3)[1]", 2),
    ("(1, 2, 3)[1:]", (2, 3)),
    ("[[1, 2], [3, 4]][1][0]", 3),
    ("cfg['k']", 3),
    # comprehensions: several for / if clauses, tuple targets, scoping
    ("[x * 2 for x in [1, 2, 3]]", [2, 4, 6]),
    ("[x for x in range(10) if x % 2 if x > 4]", [5, 7, 9]),
    ("[(i, j) for i in range(3) for j in range(i)]", [(1, 0), (2, 0), (2, 1)]),
    ("[a + b for a, b in zip([1, 2], [10, 20])]", [11, 22]),
    ("[i for i, (a, b) in enumerate([(1, 2), (4, 3)]) if a < b]", [0]),
    ("[w for i, w in enumerate(ws) if i == 0 or ws[i-1] != w]", [16, 32, 64]),
    ("[[y for y in range(x)] for x in range(3)]", [[], [0], [0, 1]]),
    ("[x for x in range(3) for x in range(x)]", [0, 0, 1]),
    ("[out for out in range(2)]", [0, 1]),
    ("[out for x in range(2)]", [16, 16]),
    ("[c for c in 'ab']", ["a", "b"]),
    ("[k for k in cfg]", ["k"]),
    ("[x for x in []]", []),
    ("sum(x for x in range(5))", 10),
    ("max(len(s) for s in ['a', 'abc'])", 3),
    ("list(x * x for x in (1, 2))", [1, 4]),
    # whitelisted functions
    ("min(3, 1, 2)", 1),
    ("max(ws)", 64),
    ("min([], default=0)", 0),
    ("abs(-3)", 3),
    ("abs(-2.5)", 2.5),
    ("round(2.5)", 2),  # half to even, as in Python and numpy
    ("round(3.5)", 4),
    ("round(-0.5)", 0),
    ("round(2.4)", 2),
    ("round(1234, -2)", 1200),
    ("round(0.125, 2)", 0.12),  # 0.125 is exact in binary: a true tie, to even
    ("round(2.5, ndigits=None)", 2),
    ("floor(2.7)", 2),
    ("floor(-2.5)", -3),
    ("ceil(2.1)", 3),
    ("ceil(-2.5)", -2),
    ("ceil(4)", 4),
    ("log(1)", 0.0),
    ("log(8, 2)", 3.0),
    ("log2(1024)", 10.0),
    ("exp(0)", 1.0),
    ("sqrt(16)", 4.0),
    ("pow(2, 10)", 1024),
    ("pow(2.0, -1)", 0.5),
    ("int(3.9)", 3),
    ("int(-3.9)", -3),
    ("int('12')", 12),
    ("float('1.5')", 1.5),
    ("float(2)", 2.0),
    ("bool(0)", False),
    ("bool('x')", True),
    ("str(12)", "12"),
    ("str(1.5)", "1.5"),
    ("make_divisible(32 * width)", 24),
    ("make_divisible(v=10, divisor=8)", 16),
    ("range(3)", [0, 1, 2]),
    ("range(1, 10, 3)", [1, 4, 7]),
    ("range(5, 0, -2)", [5, 3, 1]),
    ("len(range(10 ** 6))", 1_000_000),
    ("sum(ws)", 192),
    ("sum([0.5, 0.25], 1)", 1.75),
    ("len(ws)", 6),
    ("len('abc')", 3),
    ("enumerate('ab')", [(0, "a"), (1, "b")]),
    ("enumerate('ab', start=1)", [(1, "a"), (2, "b")]),
    ("zip([1, 2], 'ab')", [(1, "a"), (2, "b")]),
    ("zip([1, 2], [3])", [(1, 3)]),
    ("sorted([3, 1, 2])", [1, 2, 3]),
    ("sorted([3, 1, 2], reverse=True)", [3, 2, 1]),
    ("list((1, 2))", [1, 2]),
    ("list('ab')", ["a", "b"]),
    ("tuple([1, 2])", (1, 2)),
    ("all([1, True])", True),
    ("all([])", True),
    ("any([0, ''])", False),
    ("any(w > 32 for w in ws)", True),
    # a multi-line expression (a YAML block scalar keeps its newlines)
    ("(out +\n 1)", 17),
]


@pytest.mark.parametrize(("text", "expected"), VALUES)
def test_evaluate(text, expected):
    result = evaluate(text, SCOPE)
    assert result == expected
    assert type(result) is type(expected)  # e.g. floor() is an int, log() a float


def test_scope_names_do_not_shadow_functions():
    assert evaluate("max(1, max)", {"max": 5}) == 5


def test_scope_is_not_modified():
    scope = {"ws": [1, 2]}
    evaluate("[x for x in ws]", scope)
    assert scope == {"ws": [1, 2]}


def test_functions_whitelist():
    assert set(FUNCTIONS) == {
        "min", "max", "abs", "round", "floor", "ceil", "log", "log2", "exp", "sqrt",
        "pow", "int", "float", "bool", "str", "make_divisible", "range", "sum", "len",
        "enumerate", "zip", "sorted", "list", "tuple", "all", "any",
    }  # fmt: skip
    assert FUNCTIONS["make_divisible"] is make_divisible
    with pytest.raises(TypeError):
        FUNCTIONS["eval"] = eval  # type: ignore[index]


def test_module_never_calls_eval_exec_or_compile():
    tree = ast.parse(inspect.getsource(expr))
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


# ---- make_divisible: torchvision's _make_divisible ---------------------------------
# new_v = max(min_value, int(v + divisor / 2) // divisor * divisor), where a missing
# (None) min_value means divisor; then + divisor if new_v < 0.9 * v. Rows by hand:
MAKE_DIVISIBLE = [
    # MobileNetV2 0.75 stem: 24.0 + 4 = 28 -> 28 // 8 * 8 = 24; 24 >= 21.6
    ((32 * 0.75, 8), 24),
    # MobileNetV2 0.35, 16-channel block: 5.6 + 4 = 9.6 -> 9 // 8 * 8 = 8; 8 >= 5.04
    ((16 * 0.35, 8), 8),
    # MobileNetV2 1.4 last channel: 1792.0 + 4 -> 1796 // 8 * 8 = 1792
    ((1280 * 1.4, 8), 1792),
    # MobileNetV2 0.35, 96-channel block: 33.6 + 4 -> 37 // 8 * 8 = 32; 32 >= 30.24
    ((96 * 0.35, 8), 32),
    # MobileNetV2 0.35 stem: 11.2 + 4 -> 15 // 8 * 8 = 8, but 8 < 10.08 so 16
    ((32 * 0.35, 8), 16),
    # MobileNetV2 1.4, 24-channel block: 33.6 -> 32, as above
    ((24 * 1.4, 8), 32),
    # MobileNetV2 1.4, 160-channel block: 224.0 + 4 -> 228 // 8 * 8 = 224
    ((160 * 1.4, 8), 224),
    # the 10% rule: 10 + 4 = 14 -> 8, but 8 < 9 so 16
    ((10, 8), 16),
    # the floor: 3 + 4 = 7 -> 0, raised to min_value = divisor = 8
    ((3, 8), 8),
    # an explicit min_value: max(1, 0) = 1 < 2.7, so 1 + 8 = 9 (faithful, odd as it is)
    ((3, 8, 1), 9),
    # min_value=0 is not None: max(0, 0) = 0 and 0 < 0.9 * 3 -> 8
    ((3, 8, 0), 8),
    # another divisor: 392 + 8 = 400 -> 400 // 16 * 16 = 400 (rounds half up)
    ((392, 16), 400),
    ((64, 8), 64),
]


@pytest.mark.parametrize(("args", "expected"), MAKE_DIVISIBLE)
def test_make_divisible(args, expected):
    assert make_divisible(*args) == expected
    text = f"make_divisible({', '.join(map(repr, args))})"
    assert evaluate(text, {}) == expected


def test_make_divisible_rejects_a_bad_divisor():
    with pytest.raises(ValueError, match="divisor"):
        make_divisible(10, 0)


# ---- pycls RegNet width rule, written as a spec author would ------------------------
# RegNetX-400MF: w0=24, wa=24.48, wm=2.54, depth=22, group width 16, q=8.
# Worked by hand:
#   ws_cont[i] = 24 + 24.48 i;  k_i = round(log(ws_cont[i] / 24) / log(2.54)).
#   k rounds up to 1 once ws_cont >= 24 * 2.54**0.5 = 38.25  -> from i = 1 (48.48);
#   to 2 once ws_cont >= 24 * 2.54**1.5 = 97.15  -> from i = 3 (97.44; i = 2 is 72.96);
#   to 3 once ws_cont >= 24 * 2.54**2.5 = 246.8  -> from i = 10 (268.8; i = 9 is 244.32).
#   So ks = [0] + [1]*2 + [2]*7 + [3]*12: stage depths [1, 2, 7, 12].
#   Widths 24 * 2.54**k / 8 = 3, 7.62, 19.35, 49.16 round to 3, 8, 19, 49: times 8 =
#   [24, 64, 152, 392] (pycls generate_regnet's output).
#   pycls then makes widths compatible with the group width (adjust_block_compatibility,
#   bottleneck 1): g = min(16, w); w = max(g, int(round(w / g) * g)):
#   24/16 = 1.5 -> 2 -> 32;  64/16 = 4 -> 64;  152/16 = 9.5 -> 10 -> 160;
#   392/16 = 24.5 -> 24 -> 384.  Round half to even matters twice here: half-up would
#   give 400 for the last stage (which is what _make_divisible(392, 16) gives).
REGNET = {"w0": 24, "wa": 24.48, "wm": 2.54, "depth": 22, "q": 8, "group_w": 16}
REGNET_STEPS = [
    ("ws_cont", "[w0 + wa * i for i in range(depth)]"),
    ("ks", "[round(log(w / w0) / log(wm)) for w in ws_cont]"),
    ("ws_all", "[int(round(w0 * wm ** k / q)) * q for k in ks]"),
    ("stage_ws", "[w for i, w in enumerate(ws_all) if i == 0 or ws_all[i - 1] != w]"),
    ("stage_ds", "[len([v for v in ws_all if v == w]) for w in stage_ws]"),
    ("gs", "[min(group_w, w) for w in stage_ws]"),
    ("widths", "[max(g, int(round(w / g) * g)) for w, g in zip(stage_ws, gs)]"),
]


def test_regnet_x_400mf_widths():
    scope = dict(REGNET)
    for var, text in REGNET_STEPS:
        scope[var] = evaluate(text, scope)
    assert scope["ks"] == [0] + [1] * 2 + [2] * 7 + [3] * 12
    assert scope["ws_all"] == [24] + [64] * 2 + [152] * 7 + [392] * 12
    assert scope["stage_ws"] == [24, 64, 152, 392]
    assert scope["stage_ds"] == [1, 2, 7, 12]
    assert scope["widths"] == [32, 64, 160, 384]
    assert evaluate("max(ks) + 1", scope) == 4


def test_regnet_steps_read_only_earlier_results():
    known = set(REGNET)
    for var, text in REGNET_STEPS:
        assert names_used(text) <= known, text
        known.add(var)


# ---- rejections ---------------------------------------------------------------------
REJECTIONS = [
    # (text, part of the message, col or None when not checked)
    ("widht", "unknown variable 'widht' (did you mean 'width'?)", 0),
    ("out + widht", "did you mean 'width'?", 6),
    ("  widht", "unknown variable 'widht'", 2),
    ("'é' + widht", "unknown variable 'widht'", 6),  # a column in characters, not bytes
    ("(out +\n widht)", "unknown variable", 8),
    ("[x for x in ws if y]", "unknown variable 'y'", 18),
    ("zzz", "unknown variable 'zzz'", 0),
    ("max", "max is a function", 0),
    ("mx(1, 2)", "unknown function 'mx' (did you mean 'max'?)", 0),
    ("eval('1')", "unknown function 'eval'", 0),
    ("__import__('os')", "unknown function '__import__'", 0),
    ("ws.__class__", "attribute access ('.__class__') is not allowed", 2),
    ("out.real", "attribute access ('.real')", 3),
    ("ws[0].bit_length()", "only functions called by plain name", 0),
    ("lambda: 1", "lambda is not allowed", 0),
    ("(lambda x: x)(1)", "only functions called by plain name", 0),
    ("__builtins__", "'__builtins__' is not allowed", 0),
    ("[__x for __x in ws]", "'__x' is not allowed", 1),
    ("max(ws, __k=1)", "'__k' is not allowed", 8),
    ("[*ws]", "star unpacking (*x) is not allowed", 1),
    ("max(*ws)", "star unpacking", 4),
    ("max(**cfg)", "keyword unpacking (**x) is not allowed", 4),
    ("(y := 1)", "assignment expressions (:=) are not allowed", 1),
    ("{1: 2}", "dict literals are not allowed", 0),
    ("{1, 2}", "set literals are not allowed", 0),
    ("{x: 1 for x in ws}", "dict comprehensions", 0),
    ("{x for x in ws}", "set comprehensions", 0),
    ("f'{out}'", "f-strings are not allowed", 0),
    ("nothing is None", "operator 'is' is not supported", 0),
    ("out is not None", "operator 'is not'", 0),
    ("out | 1", "operator '|'", 0),
    ("out & 1", "operator '&'", 0),
    ("out ^ 1", "operator '^'", 0),
    ("out << 2", "operator '<<'", 0),
    ("out >> 2", "operator '>>'", 0),
    ("out @ out", "operator '@'", 0),
    ("~out", "operator '~'", 0),
    ("1j", "complex literals are not supported", 0),
    ("b'x'", "bytes literals", 0),
    ("...", "ellipsis literals", 0),
    ("(yield)", "Yield expressions are not supported", 1),
    ("await out", "Await expressions", 0),
    ("[x async for x in ws]", "async comprehensions", None),
    ("[1 for ws[0] in ws]", "comprehension target must be a name", 7),
    # syntax errors, with the column from the SyntaxError
    ("1 +* 2", "syntax error", 3),
    (" 1 +* 2", "syntax error", 4),
    ("out = 1", "syntax error", 4),
    ("1 +", "syntax error", None),
    ("(1, 2", "syntax error", None),
    ("", "syntax error", None),
    ("   ", "syntax error", None),
    ("max(a=1, a=2)", "keyword argument 'a' is repeated", 0),
    ("x\x00", "", None),
    ("(" * 300 + "1" + ")" * 300, "syntax error", None),
    # arithmetic and type errors are ExprErrors too, located at the operation
    ("1 / 0", "division by zero", 0),
    ("out + 1 / 0", "division by zero", 6),
    ("out // 0", "division by zero", 0),
    ("out % 0", "modulo by zero", 0),
    ("1.5 % 0", "modulo by zero", 0),
    ("0.0 ** -1", "zero to a negative power", 0),
    ("'abc' * [1]", "unsupported operand types for *: str and list", 0),
    ("'a' + 1", "unsupported operand types for +: str and int", 0),
    ("nothing - 1", "for -: NoneType and int", 0),
    ("-'a'", "bad operand type for unary -: str", 0),
    ("1 < 'a'", "cannot apply '<' to int and str", 0),
    ("1 in 5", "cannot apply 'in' to int and int", 0),
    ("(-8) ** 0.5", "complex", 0),
    ("10.0 ** 400", "too large", 0),
    ("'%d' % out", "string formatting with % is not supported", 0),
    ("ws[10]", "index 10 is out of range for list of length 6", 0),
    ("ws[-7]", "out of range", 0),
    ("ws[10 ** 10000]", "index <huge int> is out of range", 0),
    ("ws[[0] * 100]", "bad index [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ... for list", 0),
    ("ws['a']", "bad index 'a' for list", 0),
    ("ws[::0]", "bad index", 0),
    ("cfg['z']", "key 'z' not found", 0),
    ("out[0]", "cannot index into int", 0),
    ("[x for x in out]", "cannot iterate over int", 12),
    ("[a for a, b in ws]", "cannot unpack int", 7),
    ("[a for a, b in [(1, 2, 3)]]", "cannot unpack 3 values into 2 names", 7),
    ("sqrt(-1)", "sqrt(): math domain error", 0),
    ("log(0)", "log():", 0),
    ("log(8, 1)", "log():", 0),
    ("exp(1000)", "exp():", 0),
    ("floor(1e400)", "floor():", 0),
    ("int('x')", "int():", 0),
    ("max([])", "max():", 0),
    ("len(5)", "len():", 0),
    ("round(1, 2, 3)", "round():", 0),
    ("min(1, 2, foo=3)", "min():", 0),
    ("zip([1], [1, 2], strict=True)", "zip():", 0),
    ("make_divisible(10, 0)", "divisor must be a positive int", 0),
    ("make_divisible(10, 2.5)", "divisor must be a positive int", 0),
    ("sum(['a'])", "sum() adds numbers only", 0),
    ("sum([[1]], [])", "sum() adds numbers only", 0),
    ("str(10 ** 5000)", "str():", 0),
    ("sorted([1, 'a'])", "sorted():", 0),
    # resource limits
    ("1" + "+1" * 1000, "too long", None),
    ("2 ** 10001", "exponent 10001 is too large", 0),
    ("pow(2, 10 ** 5)", "exponent", 0),
    ("(10 ** 10000) ** 4", "exceed 100000 bits", 0),
    ("round(1, -10 ** 9)", "ndigits", 0),
    ("range(10 ** 6 + 1)", "more than 1000000 items", 0),
    ("range(10 ** 100)", "more than 1000000 items", 0),
    ("[0] * (10 ** 6 + 1)", "repetition would exceed 1000000 items", 0),
    ("(10 ** 6 + 1) * [0]", "repetition", 0),
    ("'ab' * 10 ** 6", "repetition", 0),
    ("[0] * 10 ** 100", "repetition", 0),
    ("[ws] * 10 ** 6", "repetition", 0),  # counts the items inside ws too
    ("[[0] * 1000] * 1001", "repetition", 0),
    ("[0] * 10 ** 6 + [0]", "result is too large", 0),
    ("str([[0] * 1000] * 1000)", "result is too large", 0),
    ("[x for x in range(10 ** 6) for y in range(10 ** 6)]", "too costly", None),
    ("[ws * 100000 for i in range(2)]", "comprehension would exceed", 0),
    ("-" * 60 + "1", "nested too deeply", None),
    ("-" * 1999 + "1", "nested too deeply", None),
    ("[" * 60 + "]" * 60, "nested too deeply", None),
    ("1" + " + 1" * 60, "nested too deeply", None),
    ("not " * 400 + "1", "nested too deeply", None),
]


@pytest.mark.parametrize(("text", "message", "col"), REJECTIONS)
def test_rejected(text, message, col):
    with pytest.raises(ExprError) as info:
        evaluate(text, SCOPE)
    assert message in info.value.message
    assert str(info.value) == info.value.message
    if col is not None:
        assert info.value.col == col


def test_limits_leave_room_for_real_work():
    assert evaluate("len([[0] * 1000] * 1000)", {}) == 1000
    assert evaluate("len('a' * 10 ** 6)", {}) == 10**6
    assert evaluate("sum(range(10 ** 6))", {}) == 499_999_500_000
    assert evaluate("-" * 49 + "1", {}) == -1
    assert evaluate("1" + " + 1" * 40, {}) == 41


def test_runaway_loops_stop_quickly():
    start = time.perf_counter()
    with pytest.raises(ExprError, match="too costly"):
        evaluate("sum(1 for a in range(1000) for b in range(1000) for c in range(1000))", {})
    assert time.perf_counter() - start < 30


def test_a_misbehaving_scope_value_is_an_expr_error():
    class Weird:
        def __bool__(self):
            raise RuntimeError("no truth here")

    with pytest.raises(ExprError, match="no truth here"):
        evaluate("1 if w else 2", {"w": Weird()})


def test_non_string_expression():
    with pytest.raises(ExprError, match="must be a string"):
        evaluate(42, {})  # type: ignore[arg-type]


# ---- names_used ---------------------------------------------------------------------
NAMES = [
    ("out * 4", {"out"}),
    ("make_divisible(32 * width, 8)", {"width"}),
    ("stride if index == 0 else 1", {"stride", "index"}),
    ("[w for i, w in enumerate(ws) if i == 0 or ws[i-1] != w]", {"ws"}),
    ("[x for x in xs if x > y]", {"xs", "y"}),
    ("[a for a in b for c in a if c > d]", {"b", "d"}),
    ("[x for x in x]", {"x"}),  # the first iterable is read outside the loop
    ("[y for x in z for y in x]", {"z"}),
    ("[[y for y in x] for x in z]", {"z"}),
    ("sum(i for i in range(n))", {"n"}),
    ("max(a, key=b)", {"a", "b"}),
    ("len()", set()),
    ("True and None or 'x'", set()),
    ("cfg['k'][i:j:k]", {"cfg", "i", "j", "k"}),
]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_names_used(text, expected):
    assert names_used(text) == expected


@pytest.mark.parametrize("text", ["1 +", "x.y", "foo(x)", "lambda: x", "{x: 1}", "__x"])
def test_names_used_rejects(text):
    with pytest.raises(ExprError):
        names_used(text)


# ---- fuzzing: nothing but ExprError escapes -----------------------------------------
TOKENS = [
    "out", "ws", "name", "cfg", "width", "nothing", "x", "0", "1", "-1", "2.5", "1e308",
    "10", "'a'", "None", "True", "(", ")", "[", "]", ",", ":", " + ", " - ", " * ",
    " / ", " // ", " % ", " ** ", " < ", " == ", " in ", " not ", " and ", " or ",
    " if ", " else ", " for x in ", " for x, y in ", " is ", ".", "=", "*", "**", "{",
    "}", "max(", "min(", "range(", "len(", "int(", "str(", "sorted(", "zip(", "round(",
    "log(", "sum(", "pow(", "make_divisible(", "enumerate(", "floor(", "__class__",
    "lambda x: ", ":=", "f'{", "'", '"', "\\", "\n", " ",
]  # fmt: skip


def _only_expr_errors(text: str) -> None:
    with contextlib.suppress(ExprError):
        evaluate(text, SCOPE)
    with contextlib.suppress(ExprError):
        names_used(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_fuzz_text(text):
    _only_expr_errors(text)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=24).map("".join))
def test_fuzz_tokens(text):
    _only_expr_errors(text)

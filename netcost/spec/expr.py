"""A small, safe evaluator for the expressions inside YAML architecture specs.

The text is parsed with ``ast.parse(text, mode="eval")`` and the tree is walked by hand
over a whitelist of node types; nothing is ever compiled, ``eval``-ed or ``exec``-ed.

Grammar (a subset of Python's expression syntax, with Python's semantics)::

    expr    := literal | name | (expr) | [expr, ...] | (expr, ...)
             | unop expr | expr binop expr
             | expr cmp expr [cmp expr ...]            chained comparisons
             | expr and expr | expr or expr            short-circuit, yield an operand
             | expr if expr else expr
             | expr[index] | expr[start:stop:step]     sequences (negative ok), dict keys
             | [expr for target in expr if expr ...]   any number of for / if clauses
             | (expr for target in expr if expr ...)   evaluated eagerly to a list
             | func(arg, ..., name=arg, ...)           func: a plain name in FUNCTIONS
    literal := int | float | str | True | False | None
    unop    := + | - | not
    binop   := + | - | * | / | // | % | **
    cmp     := < | <= | == | != | > | >= | in | not in
    target  := name | target, target, ...              e.g. ``for i, w in enumerate(ws)``

Rejected: attribute access, lambda, names starting with ``__``, ``*``/``**``
unpacking, ``:=``, dict/set literals and comprehensions, f-strings, ``is``, bitwise,
shift and ``@`` operators, ``str % args`` formatting, complex and bytes literals.

Limits: text <= 2000 chars; nesting <= 50 levels; an int ``**`` exponent <= 10000 and
int results <= 100000 bits; lists, tuples and strings <= 1,000,000 items, counting
nested items (so ``[[0] * 1000] * 1000`` is the largest such square); about 2,000,000
evaluation steps. ``evaluate`` raises nothing but ``ExprError``.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import math
import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_ITEMS = 1_000_000
MAX_STEPS = 2_000_000
MAX_EXPONENT = 10_000
MAX_INT_BITS = 100_000

# What Python operations on plain values raise; anything else escapes to evaluate().
_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError)


class ExprError(Exception):
    """A bad expression. ``col`` is the 0-based character offset of the problem in the
    expression text (its column, for a one-line expression), or None if unknown."""

    def __init__(self, message: str, col: int | None = None):
        super().__init__(message)
        self.message = message
        self.col = col


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision's / TensorFlow's ``_make_divisible``: round ``v`` to the nearest
    multiple of ``divisor``, at least ``min_value`` (default ``divisor``), and never
    more than 10% below ``v``. E.g. make_divisible(32 * 0.75) == 24."""
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor <= 0:
        raise ValueError(f"divisor must be a positive int, got {divisor!r}")
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _power(base, exp):
    """``base ** exp``, refusing huge integer results and complex ones."""
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if exp > MAX_EXPONENT:
            raise ValueError(f"exponent {exp} is too large (limit {MAX_EXPONENT})")
        if (abs(base).bit_length() - 1) * exp > MAX_INT_BITS:
            raise ValueError(f"the result would exceed {MAX_INT_BITS} bits")
    result = base**exp
    if type(result) is complex:
        raise ArithmeticError("the result is a complex number")
    return result


def _round(number, ndigits=None):
    if isinstance(ndigits, int) and abs(ndigits) > MAX_EXPONENT:
        raise ValueError(f"ndigits {ndigits} is out of range")
    return round(number, ndigits)


def _range(*args):
    r = range(*args)
    try:
        n = len(r)
    except OverflowError:
        n = MAX_ITEMS + 1
    if n > MAX_ITEMS:
        raise ValueError(f"it would produce more than {MAX_ITEMS} items")
    return list(r)


def _sum(iterable, start=0):
    items = list(iterable)
    if not all(isinstance(x, (int, float)) for x in [start, *items]):
        raise TypeError("sum() adds numbers only")
    return sum(items, start)


_BUILTINS = ("min", "max", "abs", "int", "float", "bool", "str", "len", "sorted")
_BUILTINS += ("list", "tuple", "all", "any")


def _enumerate(iterable, start=0):
    return list(enumerate(iterable, start))


def _zip(*iterables, strict=False):
    return list(zip(*iterables, strict=strict))


FUNCTIONS: Mapping[str, Callable[..., object]] = MappingProxyType(
    {name: getattr(builtins, name) for name in _BUILTINS}
    | {name: getattr(math, name) for name in ("floor", "ceil", "log", "log2", "exp", "sqrt")}
    | {"round": _round, "pow": _power, "range": _range, "sum": _sum}
    | {"enumerate": _enumerate, "zip": _zip, "make_divisible": make_divisible}
)

_BINOPS = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", _power),
}
_UNOPS = {ast.UAdd: ("+", operator.pos), ast.USub: ("-", operator.neg)}
_CMPOPS = {
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}
_OK_OPS = {*_BINOPS, *_UNOPS, *_CMPOPS, ast.Not, ast.And, ast.Or}
_OP_NODES = (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
_BAD_OPS = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<"}
_BAD_OPS |= {ast.RShift: ">>", ast.MatMult: "@", ast.Invert: "~", ast.Is: "is"}
_BAD_OPS |= {ast.IsNot: "is not"}
_BAD_NODES = {
    ast.Lambda: "lambda is",
    ast.Starred: "star unpacking (*x) is",
    ast.NamedExpr: "assignment expressions (:=) are",
    ast.Dict: "dict literals are",
    ast.Set: "set literals are",
    ast.DictComp: "dict comprehensions are",
    ast.SetComp: "set comprehensions are",
    ast.JoinedStr: "f-strings are",
}
_OK_NODES = (ast.Constant, ast.Name, ast.List, ast.Tuple, ast.UnaryOp, ast.BinOp)
_OK_NODES += (ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Call)
_OK_NODES += (ast.ListComp, ast.GeneratorExp, ast.keyword, ast.comprehension)
# Nodes whose results are new values: their size is checked and charged as steps.
_CHARGED = (ast.BinOp, ast.Call, ast.List, ast.Tuple, ast.ListComp, ast.GeneratorExp)


def _tn(value: object) -> str:
    return type(value).__name__


def _show(value: object) -> str:
    """A short repr for messages (huge ints cannot even be printed)."""
    try:
        text = repr(value)
    except ValueError:
        return f"<huge {_tn(value)}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _suggest(name: str, candidates) -> str:
    names = [c for c in candidates if isinstance(c, str)]
    match = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


class _Program:
    """One parsed and validated expression."""

    def __init__(self, text: str):
        if len(text) > MAX_LENGTH:
            raise ExprError(f"expression is too long ({len(text)} > {MAX_LENGTH} chars)")
        self.body = text.lstrip()  # leading blanks would be an IndentationError
        self.shift = len(text) - len(self.body)
        try:
            with warnings.catch_warnings():  # e.g. invalid escape sequences
                warnings.simplefilter("ignore")
                self.tree = ast.parse(self.body, mode="eval").body
        except SyntaxError as e:
            col = None if e.offset is None else self.pos(e.lineno, e.offset - 1, False)
            raise ExprError(f"syntax error: {e.msg}", col) from None
        except RecursionError:
            raise ExprError(f"expression is nested too deeply (limit {MAX_DEPTH})") from None
        except (ValueError, MemoryError) as e:  # e.g. null bytes, surrogates
            raise ExprError(f"cannot parse expression: {e}") from None
        self._check(self.tree, 0)
        from netcost.spec.compiled import Bail, compile_tree

        try:
            self.fast = compile_tree(self.tree, FUNCTIONS, _BINOPS, _UNOPS, _CMPOPS)
        except (Bail, RecursionError):
            self.fast = None

    def pos(self, lineno: int | None, col: int, in_bytes: bool = True) -> int:
        """Character offset in the original text of (line, column) in the parsed body."""
        lines = self.body.split("\n")
        lineno = min(max(lineno or 1, 1), len(lines))
        if in_bytes:  # AST col_offsets count UTF-8 bytes
            head = lines[lineno - 1].encode("utf-8", "surrogatepass")[:col]
            col = len(head.decode("utf-8", "ignore"))
        start = sum(len(line) + 1 for line in lines[: lineno - 1])
        return self.shift + max(0, min(start + col, len(self.body)))

    def col(self, node) -> int | None:
        if not hasattr(node, "col_offset"):
            return None
        return self.pos(node.lineno, node.col_offset)

    def _check(self, node, depth: int) -> None:
        """Raise ExprError for anything outside the whitelist, anywhere in the tree."""
        if isinstance(node, ast.expr):
            depth += 1
            if depth > MAX_DEPTH:
                msg = f"expression is nested too deeply (limit {MAX_DEPTH})"
                raise ExprError(msg, self.col(node))
        self._check_node(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _OP_NODES) and type(child) not in _OK_OPS:
                sym = _BAD_OPS.get(type(child), type(child).__name__)
                raise ExprError(f"operator '{sym}' is not supported", self.col(node))
            if not isinstance(child, (*_OP_NODES, ast.expr_context)):
                self._check(child, depth)

    def _check_node(self, node) -> None:
        col, kind = self.col(node), type(node)
        if kind in _BAD_NODES:
            raise ExprError(f"{_BAD_NODES[kind]} not allowed", col)
        if kind is ast.Attribute:
            dot = self.pos(node.value.end_lineno, node.value.end_col_offset)
            raise ExprError(f"attribute access ('.{node.attr}') is not allowed", dot)
        literal = kind is ast.Constant and node.value is not None
        if literal and not isinstance(node.value, (int, float, str)):
            raise ExprError(f"{_tn(node.value)} literals are not supported", col)
        if kind is ast.Name and node.id.startswith("__"):
            raise ExprError(f"name '{node.id}' is not allowed (it starts with '__')", col)
        if kind is ast.Call:
            if not isinstance(node.func, ast.Name):
                msg = "only functions called by plain name are allowed, e.g. max(a, b)"
                raise ExprError(msg, col)
            if node.func.id not in FUNCTIONS:
                hint = _suggest(node.func.id, FUNCTIONS)
                raise ExprError(f"unknown function '{node.func.id}'{hint}", col)
            names = [kw.arg for kw in node.keywords if kw.arg is not None]
            for i, arg in enumerate(names):
                if arg in names[:i]:
                    raise ExprError(f"keyword argument '{arg}' is repeated", col)
        if kind is ast.keyword and (node.arg is None or node.arg.startswith("__")):
            what = "keyword unpacking (**x)" if node.arg is None else repr(node.arg)
            raise ExprError(f"{what} is not allowed", col)
        if kind is ast.comprehension:
            if node.is_async:
                raise ExprError("async comprehensions are not allowed", col)
            self._check_target(node.target)
        if not isinstance(node, _OK_NODES):
            raise ExprError(f"{kind.__name__} expressions are not supported", col)

    def _check_target(self, target) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._check_target(elt)
        elif not isinstance(target, ast.Name):
            msg = "a comprehension target must be a name or a tuple of names"
            raise ExprError(msg, self.col(target))

    def free(self, node, bound: frozenset, out: set) -> None:
        """Add to `out` the names `node` reads that are not bound by a comprehension."""
        if isinstance(node, ast.Name):
            if node.id not in bound:
                out.add(node.id)
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            for gen in node.generators:
                self.free(gen.iter, bound, out)
                targets = ast.walk(gen.target)
                bound |= {n.id for n in targets if isinstance(n, ast.Name)}
                for cond in gen.ifs:
                    self.free(cond, bound, out)
            self.free(node.elt, bound, out)
        else:
            call = isinstance(node, ast.Call)  # skip the function's name
            for child in [*node.args, *node.keywords] if call else ast.iter_child_nodes(node):
                self.free(child, bound, out)


class _Evaluator:
    """Evaluates a _Program's tree over a scope, counting steps and value sizes."""

    def __init__(self, prog: _Program, scope: Mapping[str, object]):
        self.prog, self.scope = prog, scope
        self.steps = 0
        self.sizes: dict[int, tuple[object, int]] = {}  # id -> (value, size) cache

    def err(self, message: str, node) -> ExprError:
        return ExprError(message, self.prog.col(node))

    def tick(self, n: int, node) -> None:
        self.steps += n
        if self.steps > MAX_STEPS:
            raise self.err(f"expression is too costly (over {MAX_STEPS} steps)", node)

    def size(self, v) -> int:
        """Items in a value, counting nested items, string length and big-int words.

        Shared references count each time, so `[x] * n` cannot build a huge
        structure that str() or a comparison would later have to walk."""
        if isinstance(v, str):
            return max(1, len(v))
        if isinstance(v, int):
            return 1 + v.bit_length() // 64
        if not isinstance(v, (list, tuple, dict)):
            return 1
        cached = self.sizes.get(id(v))
        if cached is not None and cached[0] is v:
            return cached[1]
        total = 0
        for item in [*v.keys(), *v.values()] if isinstance(v, dict) else v:
            total += self.size(item)
            if total > MAX_ITEMS:
                break
        self.sizes[id(v)] = (v, max(1, total))
        return max(1, total)

    def charge(self, v, node) -> None:
        if isinstance(v, int) and v.bit_length() > MAX_INT_BITS:
            raise self.err(f"integer result is too large (over {MAX_INT_BITS} bits)", node)
        n = self.size(v)
        if n > MAX_ITEMS:
            raise self.err(f"result is too large (over {MAX_ITEMS} items)", node)
        self.tick(n, node)

    def truth(self, v, node) -> bool:
        try:
            return bool(v)
        except _ERRORS as e:
            raise self.err(f"cannot use {_tn(v)} as a condition: {e}", node) from None

    def value(self, node, env: dict):
        """Value of `node`; `env` holds comprehension variables, shadowing the scope."""
        self.tick(1, node)
        result = getattr(self, "_" + type(node).__name__)(node, env)
        if isinstance(node, _CHARGED):
            self.charge(result, node)
        return result

    def _Constant(self, node, env):
        return node.value

    def _Name(self, node, env):
        if node.id in env:
            return env[node.id]
        try:  # one lookup (a ChainMap's `in` and `[]` each walk its maps)
            return self.scope[node.id]
        except KeyError:
            pass
        hint = _suggest(node.id, [*env, *self.scope])
        if not hint and node.id in FUNCTIONS:
            hint = f" ({node.id} is a function: call it as {node.id}(...))"
        raise self.err(f"unknown variable '{node.id}'{hint}", node)

    def _List(self, node, env):
        return [self.value(e, env) for e in node.elts]

    def _Tuple(self, node, env):
        return tuple(self.value(e, env) for e in node.elts)

    def _UnaryOp(self, node, env):
        v = self.value(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not self.truth(v, node)
        sym, fn = _UNOPS[type(node.op)]
        try:
            return fn(v)
        except _ERRORS:
            raise self.err(f"bad operand type for unary {sym}: {_tn(v)}", node) from None

    def _BinOp(self, node, env):
        a, b = self.value(node.left, env), self.value(node.right, env)
        sym, fn = _BINOPS[type(node.op)]
        if sym == "%" and isinstance(a, str):
            raise self.err("string formatting with % is not supported", node)
        if sym == "*":
            for seq, n in ((a, b), (b, a)):
                repeats = isinstance(seq, (str, list, tuple)) and isinstance(n, int)
                if repeats and n > 0 and min(n, MAX_ITEMS + 1) * self.size(seq) > MAX_ITEMS:
                    raise self.err(f"repetition would exceed {MAX_ITEMS} items", node)
        try:
            return fn(a, b)
        except ZeroDivisionError:
            what = {"%": "modulo by zero", "**": "zero to a negative power"}.get(sym)
            raise self.err(what or "division by zero", node) from None
        except TypeError:
            msg = f"unsupported operand types for {sym}: {_tn(a)} and {_tn(b)}"
            raise self.err(msg, node) from None
        except OverflowError:
            raise self.err(f"the result of '{sym}' is too large", node) from None
        except _ERRORS as e:
            raise self.err(f"'{sym}' failed: {e}", node) from None

    def _BoolOp(self, node, env):
        is_or = isinstance(node.op, ast.Or)
        for operand in node.values:  # Python semantics: return the deciding operand
            v = self.value(operand, env)
            if self.truth(v, operand) == is_or:
                return v
        return v

    def _Compare(self, node, env):
        left = self.value(node.left, env)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.value(right_node, env)
            sym, fn = _CMPOPS[type(op)]
            try:
                result = fn(left, right)
            except _ERRORS:
                msg = f"cannot apply '{sym}' to {_tn(left)} and {_tn(right)}"
                raise self.err(msg, node) from None
            if not self.truth(result, node):
                return result
            left = right
        return result

    def _IfExp(self, node, env):
        test = self.truth(self.value(node.test, env), node.test)
        return self.value(node.body if test else node.orelse, env)

    def _Slice(self, node, env):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if p is None else self.value(p, env) for p in parts))

    def _Subscript(self, node, env):
        obj, idx = self.value(node.value, env), self.value(node.slice, env)
        if not isinstance(obj, (Sequence, Mapping)):
            raise self.err(f"cannot index into {_tn(obj)}", node)
        try:
            return obj[idx]
        except IndexError:
            msg = f"index {_show(idx)} is out of range for {_tn(obj)} of length {len(obj)}"
            raise self.err(msg, node) from None
        except KeyError:
            raise self.err(f"key {_show(idx)} not found", node) from None
        except _ERRORS as e:
            raise self.err(f"bad index {_show(idx)} for {_tn(obj)}: {e}", node) from None

    def _Call(self, node, env):
        name = node.func.id
        args = [self.value(a, env) for a in node.args]
        kwargs = {kw.arg: self.value(kw.value, env) for kw in node.keywords}
        try:
            return FUNCTIONS[name](*args, **kwargs)
        except _ERRORS as e:
            raise self.err(f"{name}(): {e}", node) from None

    def _ListComp(self, node, env):
        out: list = []
        self.comprehend(node, 0, env, out, [0])
        return out

    _GeneratorExp = _ListComp

    def comprehend(self, node, i: int, env: dict, out: list, total: list) -> None:
        """Run for-clause `i` (and the ones after it), appending to `out`."""
        if i == len(node.generators):
            out.append(self.value(node.elt, env))
            total[0] += self.size(out[-1])
            if total[0] > MAX_ITEMS:
                raise self.err(f"comprehension would exceed {MAX_ITEMS} items", node)
            return
        gen = node.generators[i]
        iterable = self.value(gen.iter, env)
        try:
            iterator = iter(iterable)
        except TypeError:
            raise self.err(f"cannot iterate over {_tn(iterable)}", gen.iter) from None
        for item in iterator:
            self.tick(1, node)
            inner = dict(env)
            self.bind(gen.target, item, inner)
            if all(self.truth(self.value(c, inner), c) for c in gen.ifs):
                self.comprehend(node, i + 1, inner, out, total)

    def bind(self, target, value, env: dict) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
            return
        try:
            values = list(value)
        except TypeError:
            raise self.err(f"cannot unpack {_tn(value)}", target) from None
        if len(values) != len(target.elts):
            msg = f"cannot unpack {len(values)} values into {len(target.elts)} names"
            raise self.err(msg, target)
        for t, v in zip(target.elts, values, strict=True):
            self.bind(t, v, env)


@functools.lru_cache(maxsize=65536)  # each distinct expression is parsed once
def _parse(text: str) -> _Program:
    return _Program(text)  # immutable once built, so safe to share


def _program(text: str) -> _Program:
    if not isinstance(text, str):
        raise ExprError(f"expression must be a string, not {_tn(text)}")
    return _parse(text)


def evaluate(text: str, scope: Mapping[str, object]) -> object:
    """Evaluate one expression over variables in `scope`. Raises ExprError on any problem.

    The closures of netcost.spec.compiled compute it first; where they leave it (anything
    unusual), the tree walker below decides, value or error."""
    prog = _program(text)
    fast = prog.fast
    if fast is not None:
        try:
            return fast(scope)
        except Exception:  # Bail, or any error: the walker gives the answer
            pass
    try:
        return _Evaluator(prog, scope).value(prog.tree, {})
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None
    except ExprError:
        raise
    except Exception as e:  # e.g. a scope value misbehaving: still only ExprError escapes
        raise ExprError(f"cannot evaluate expression: {_tn(e)}: {e}") from None


def names_used(text: str) -> set[str]:
    """Free variable names an expression reads (not comprehension targets, not function
    names). Raises ExprError on a syntax error or on anything evaluate() would reject
    before evaluating (unknown function, attribute access, lambda, ...)."""
    prog = _program(text)
    out: set[str] = set()
    prog.free(prog.tree, frozenset(), out)
    return out

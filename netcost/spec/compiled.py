"""The fast path of :func:`netcost.spec.expr.evaluate`: a checked expression tree turned
into nested Python closures once, then run without the tree walk.

Nothing is compiled from text: each closure calls the same operator functions and the same
whitelisted FUNCTIONS as the tree walker (:class:`netcost.spec.expr._Evaluator`). The fast
path never decides an error: anything unusual (an exception, a big value, a long
computation) raises :class:`Bail` and ``evaluate`` runs the tree walker, which gives the
value or the exact error it always gave. Its own limits are far inside the walker's (work
under a tenth of MAX_STEPS, values under a tenth of MAX_ITEMS items, integers under a
tenth of MAX_INT_BITS), so whatever it returns the walker returns too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence

WORK = 200_000  # steps + charged sizes at most (the walker's MAX_STEPS is 2,000,000)
ITEMS = 100_000  # items in one value at most (MAX_ITEMS: 1,000,000)
INT_BITS = 10_000  # bits of an integer result at most (MAX_INT_BITS: 100,000)


_WORD = 2**63  # an integer within one 64-bit word has size 1


class Bail(Exception):
    """Leave it to the tree walker."""


class _Run:
    """The state of one evaluation: work done, sizes seen."""

    __slots__ = ("scope", "sizes", "work")

    def __init__(self, scope: Mapping[str, object]):
        self.scope = scope
        self.work = 0
        self.sizes: dict[int, tuple[object, int]] = {}

    def charge(self, v):
        """Count ``v``'s size as work, as the walker does, bailing out well before its limits."""
        if type(v) is int or type(v) is float or type(v) is bool or v is None:
            if type(v) is int and v.bit_length() > INT_BITS:
                raise Bail
            self.work += 1
        else:
            self.work += self.size(v)
        if self.work > WORK:
            raise Bail
        return v

    def charge_sized(self, out: list, items: int) -> list:
        """``charge(out)``, a list made here whose size is already counted (``items``)."""
        items = max(1, items)
        if items > ITEMS:
            raise Bail
        self.sizes[id(out)] = (out, items)
        self.work += items
        if self.work > WORK:
            raise Bail
        return out

    def size(self, v) -> int:
        if isinstance(v, str):
            n = max(1, len(v))
        elif isinstance(v, int):
            if v.bit_length() > INT_BITS:
                raise Bail
            return 1 + v.bit_length() // 64
        elif isinstance(v, (list, tuple)):
            hit = self.sizes.get(id(v))
            if hit is not None and hit[0] is v:
                return hit[1]
            n = 0
            for item in v:
                kind = type(item)
                if kind is float or kind is bool or (kind is int and -_WORD < item < _WORD):
                    n += 1  # what size() gives a number of one word
                else:
                    n += self.size(item)
                if n > ITEMS:
                    raise Bail
            n = max(1, n)
            self.sizes[id(v)] = (v, n)
        elif isinstance(v, (float, bool)) or v is None or isinstance(v, slice):
            return 1
        else:
            raise Bail  # a value the walker would have to judge (a dict, a range, ...)
        if n > ITEMS:
            raise Bail
        return n


Fn = Callable[[_Run, dict], object]


def compile_tree(tree: ast.AST, functions, binops, unops, cmpops) -> Fn:
    """The closure that computes ``tree`` (already checked by the walker's whitelist). The
    work it counts is at least the walker's steps: every node twice (its visit, and its
    result when that is a number of one word, which is then not charged again), every node
    of a comprehension twice more per iteration, and the size of every other value made."""
    body = _Compiler(functions, binops, unops, cmpops).node(tree)
    nodes = 2 * _count(tree)

    def run(scope: Mapping[str, object]):
        state = _Run(scope)
        state.work = nodes
        return body(state, {})

    return run


def _count(node: ast.AST) -> int:
    return sum(1 for n in ast.walk(node) if isinstance(n, ast.expr))


class _Compiler:
    def __init__(self, functions, binops, unops, cmpops):
        self.functions, self.binops, self.unops, self.cmpops = functions, binops, unops, cmpops
        self.bound: frozenset[str] = frozenset()  # names the comprehensions around a node bind

    def node(self, node) -> Fn:
        make = getattr(self, "_" + type(node).__name__, None)
        if make is None:
            raise Bail
        return make(node)

    def _Constant(self, node) -> Fn:
        value = node.value
        return lambda run, env: value

    def _Name(self, node) -> Fn:
        name = node.id
        if name in self.bound:  # a comprehension's variable, bound before this is evaluated
            return lambda run, env: env[name]

        def get(run, env):
            try:
                return run.scope[name]
            except KeyError:
                raise Bail from None

        return get

    def _List(self, node) -> Fn:
        items = [self.node(e) for e in node.elts]
        return lambda run, env: run.charge([f(run, env) for f in items])

    def _Tuple(self, node) -> Fn:
        items = [self.node(e) for e in node.elts]
        return lambda run, env: run.charge(tuple(f(run, env) for f in items))

    def _UnaryOp(self, node) -> Fn:
        operand = self.node(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda run, env: not bool(operand(run, env))
        fn = self.unops[type(node.op)][1]
        return lambda run, env: fn(operand(run, env))

    def _BinOp(self, node) -> Fn:
        left, right = self.node(node.left), self.node(node.right)
        sym, fn = self.binops[type(node.op)]
        if sym == "*":

            def repeat(run, env):
                a, b = left(run, env), right(run, env)
                ta, tb = type(a), type(b)
                numbers = (ta is int or ta is float) and (tb is int or tb is float)
                if not numbers and (isinstance(a, (str, list, tuple)) or isinstance(b, (str, list, tuple))):
                    seq, n = (a, b) if isinstance(a, (str, list, tuple)) else (b, a)
                    if not isinstance(n, int) or n * run.size(seq) > ITEMS:
                        raise Bail
                    if not isinstance(seq, str) and any(isinstance(v, (list, tuple)) for v in seq):
                        raise Bail  # shared nested lists: the walker counts them
                return _charged(run, fn(a, b))

            return repeat
        if sym == "%":

            def modulo(run, env):
                a, b = left(run, env), right(run, env)
                if isinstance(a, str):
                    raise Bail
                return _charged(run, fn(a, b))

            return modulo

        def binop(run, env):
            v = fn(left(run, env), right(run, env))
            kind = type(v)  # _charged, inline: the commonest call of all
            if kind is float or (kind is int and -_WORD < v < _WORD):
                return v
            return run.charge(v)

        return binop

    def _BoolOp(self, node) -> Fn:
        values = [self.node(v) for v in node.values]
        is_or = isinstance(node.op, ast.Or)

        def boolop(run, env):
            for f in values:
                v = f(run, env)
                if bool(v) == is_or:
                    return v
            return v

        return boolop

    def _Compare(self, node) -> Fn:
        left = self.node(node.left)
        pairs = [(self.cmpops[type(op)][1], self.node(c)) for op, c in zip(node.ops, node.comparators, strict=True)]
        if len(pairs) == 1:
            ((fn, right),) = pairs
            return lambda run, env: fn(left(run, env), right(run, env))

        def compare(run, env):
            a = left(run, env)
            for fn, right in pairs:
                b = right(run, env)
                result = fn(a, b)
                if not bool(result):
                    return result
                a = b
            return result

        return compare

    def _IfExp(self, node) -> Fn:
        test, body, orelse = self.node(node.test), self.node(node.body), self.node(node.orelse)
        return lambda run, env: body(run, env) if bool(test(run, env)) else orelse(run, env)

    def _Slice(self, node) -> Fn:
        parts = [None if p is None else self.node(p) for p in (node.lower, node.upper, node.step)]
        return lambda run, env: slice(*(None if p is None else p(run, env) for p in parts))

    def _Subscript(self, node) -> Fn:
        value, index = self.node(node.value), self.node(node.slice)

        def subscript(run, env):
            obj, idx = value(run, env), index(run, env)
            kind = type(obj)
            if kind is not list and kind is not tuple and not isinstance(obj, (Sequence, Mapping)):
                raise Bail
            return obj[idx]

        return subscript

    def _Call(self, node) -> Fn:
        fn = self.functions[node.func.id]
        args = [self.node(a) for a in node.args]
        keywords = [(kw.arg, self.node(kw.value)) for kw in node.keywords]
        if keywords:

            def call(run, env):
                return run.charge(fn(*[a(run, env) for a in args], **{k: v(run, env) for k, v in keywords}))

            return call
        if len(args) == 1:
            (one,) = args

            def call1(run, env):
                v = fn(one(run, env))
                kind = type(v)  # _charged, inline
                if kind is float or (kind is int and -_WORD < v < _WORD):
                    return v
                return run.charge(v)

            return call1
        if len(args) == 2:
            first, second = args
            return lambda run, env: _charged(run, fn(first(run, env), second(run, env)))
        return lambda run, env: _charged(run, fn(*[a(run, env) for a in args]))

    def _ListComp(self, node) -> Fn:
        per_item = 2 * _count(node)  # every node of the comprehension, each iteration (an upper bound)
        outside, clauses = self.bound, []
        for g in node.generators:  # each iterable sees the variables of the clauses before it
            iterable = self.node(g.iter)
            self.bound = self.bound | {n.id for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            clauses.append((iterable, _binder(g.target), [self.node(c) for c in g.ifs]))
        element = self.node(node.elt)
        self.bound = outside
        last = len(clauses) - 1

        def comprehend(run, env, i, out) -> int:
            """Clause ``i`` and those after it, appending to ``out``; the size it added."""
            iterable, bind, ifs = clauses[i]
            inner = dict(env)  # the clause's variables, bound again for each item
            items = 0
            for item in iterable(run, env):
                run.work += per_item
                if run.work > WORK:
                    raise Bail
                bind(item, inner)
                if all(c(run, inner) for c in ifs):
                    if i == last:
                        v = element(run, inner)
                        items += _item_size(run, v)
                        out.append(v)
                    else:
                        items += comprehend(run, inner, i + 1, out)
            return items

        def listcomp(run, env):
            out: list = []
            return run.charge_sized(out, comprehend(run, env, 0, out))

        if len(clauses) == 1 and isinstance(node.generators[0].target, ast.Name) and len(clauses[0][2]) <= 1:
            iterable, _, ifs = clauses[0]  # the common case: one `for name in ...`, one `if` at most
            name, test = node.generators[0].target.id, ifs[0] if ifs else None

            def simple(run, env):
                out: list = []
                inner = dict(env)
                items = 0  # the size of out, counted as it grows
                for item in iterable(run, env):
                    run.work += per_item
                    if run.work > WORK:
                        raise Bail
                    inner[name] = item
                    if test is None or test(run, inner):
                        v = element(run, inner)
                        items += _item_size(run, v)
                        out.append(v)
                return run.charge_sized(out, items)

            return simple
        return listcomp

    _GeneratorExp = _ListComp


def _charged(run: _Run, v):
    """``run.charge(v)``, free for a number of one word (compile_tree counted it)."""
    kind = type(v)
    if kind is float or (kind is int and -_WORD < v < _WORD):
        return v
    return run.charge(v)


def _item_size(run: _Run, v) -> int:
    """What ``v`` adds to the size of a list it is put in; a value bigger than a number of
    one word (which compile_tree counted) is charged too."""
    kind = type(v)
    if kind is float or kind is bool or (kind is int and -_WORD < v < _WORD):
        return 1
    run.charge(v)
    return run.size(v)


def _binder(target) -> Callable[[object, dict], None]:
    if isinstance(target, ast.Name):
        name = target.id

        def bind_name(value, env):
            env[name] = value

        return bind_name
    parts = [_binder(t) for t in target.elts]

    def bind_tuple(value, env):
        if not isinstance(value, (list, tuple)):
            raise Bail
        if len(value) != len(parts):
            raise Bail
        for bind, v in zip(parts, value, strict=True):
            bind(v, env)

    return bind_tuple

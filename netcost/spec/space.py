"""A spec's design spaces (the ``space:`` section): a distribution per variable and
constraints between them, from which ``netcost sweep --sample N`` draws models.

::

    space:
      regnetx:                              # the first space is the default
        description: pycls's RegNetX sampler
        vars:
          depth: {int: [12, 28]}             # uniform integer, both ends included
          w0: {log_uniform: [8, 256], step: 8}
          wm: {log_uniform: [2.0, 3.0], step: 0.001}
          width: {uniform: [0.25, 2.0]}
          kernel: {choice: [3, 5, 7]}
          se_ratio: 0                        # a fixed value
        where:                               # constraints over vars and `let` values
          - len(stage_widths) == 4
      regnety:
        extends: regnetx                     # its vars and where, these entries on top
        vars: {se_ratio: 0.25}

Quantised draws follow pycls (``pycls/sweep/random.py``): ``uniform`` with a ``step`` q
draws in [low, high + q) and rounds down to a multiple of q; ``log_uniform`` draws
log-uniformly in (low - min(q, low / 2), high] and rounds up. Every bound, choice and fixed
value is checked against the variable's declared domain when the spec is loaded.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from netcost.errors import Location, SpecError
from netcost.spec import expr
from netcost.spec.fields import FieldError, did_you_mean, show_value
from netcost.spec.load import LocDict, LocList
from netcost.spec.variables import Variable

KINDS = ("uniform", "log_uniform", "int", "choice")
SPACE_KEYS = {"description", "vars", "where", "extends"}


@dataclass(frozen=True)
class Distribution:
    """How one variable is drawn: ``kind`` over [low, high] (``step``: quantised), one of
    ``choices``, or the fixed ``value`` (kind "fixed")."""

    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    choices: tuple[Any, ...] = ()
    value: Any = None

    def draw(self, rng: random.Random) -> Any:
        if self.kind == "fixed":
            return self.value
        if self.kind == "choice":
            return self.choices[rng.randrange(len(self.choices))]
        if self.kind == "int":
            step = self.step or 1
            return self.low + step * rng.randint(0, (self.high - self.low) // step)
        if self.kind == "uniform":
            if self.step is None:
                return rng.uniform(self.low, self.high)
            f = rng.uniform(self.low, self.high + self.step)
            return self._on_grid(math.floor(f / self.step))
        f = math.exp(rng.uniform(*self._log_range))  # log_uniform
        return f if self.step is None else self._on_grid(math.ceil(f / self.step))

    @functools.cached_property
    def _log_range(self) -> tuple[float, float]:
        """The log-uniform draw's range of logarithms: (low - min(step, low / 2), high] when quantised."""
        low = self.low - min(self.step, self.low / 2) if self.step else self.low
        return math.log(low), math.log(self.high)

    def _on_grid(self, k: int) -> int | float:
        """``k * step`` within [low, high], exact in decimal (0.1 * 3 is 0.3, not
        0.30000000000000004): integers counted in the finest decimal place of the step and
        bounds, then one correctly rounded division."""
        step, low, high, scale = self._grid
        units = min(max(k * step, low), high)
        return units if scale is None else units / scale

    @functools.cached_property
    def _grid(self) -> tuple:
        """(step, low, high) as integers in units of 1 / scale, and the scale (None when they
        are all integers as written: a draw is an integer too)."""
        if all(isinstance(v, int) for v in (self.low, self.high, self.step)):
            return self.step, self.low, self.high, None
        exact = [Decimal(str(v)) for v in (self.step, self.low, self.high)]
        scale = 10 ** max(0, *(-d.as_tuple().exponent for d in exact))
        step, low, high = (int(d * scale) for d in exact)
        return step, low, high, scale

    def text(self) -> str:
        if self.kind == "fixed":
            return show_value(self.value)
        if self.kind == "choice":
            return "one of " + ", ".join(map(show_value, self.choices))
        step = f" step {self.step}" if self.step else ""
        return f"{self.kind} [{self.low}, {self.high}]{step}"


@dataclass(frozen=True)
class Space:
    """A named design space: distributions and the constraints a draw must meet."""

    name: str
    vars: dict[str, Distribution]
    where: tuple[str, ...] = ()
    description: str = ""
    location: Location | None = None
    settable: frozenset[str] = frozenset()  # the spec's `vars` (a constraint on them alone is checked first)
    typed: frozenset[str] = frozenset()  # drawn variables whose draws are already values as --set checks them

    @functools.cached_property
    def early(self) -> tuple[str, ...]:
        """The constraints that read settable variables only (no `let` value)."""
        return tuple(t for t in self.where if expr.names_used(t) <= self.settable)

    def draw(self, rng: random.Random) -> dict[str, Any]:
        return {name: dist.draw(rng) for name, dist in self.vars.items()}

    def on_draws(self, fixed: frozenset[str]) -> tuple[str, ...]:
        """The constraints that read only variables this space draws, of a type known when
        the spec was loaded (so a draw is the value the variable takes), none of them set by
        ``--set`` (``fixed``): these can reject a draw before its variables are worked out."""
        return tuple(t for t in self.early if expr.names_used(t) <= self.typed - fixed)

    def rejects(self, draw: dict[str, Any], constraints: tuple[str, ...]) -> bool:
        """Whether one of ``constraints`` is false for the drawn values; an error is left to
        :meth:`admits`, on the variables worked out as ``--set`` has them."""
        for text in constraints:
            try:
                if not expr.evaluate(text, draw):
                    return True
            except expr.ExprError:
                return False
        return False

    def admits(self, values: dict[str, Any], constraints: tuple[str, ...] | None = None) -> bool:
        """Whether every constraint (of ``constraints``, default all) holds for the model's
        variables (vars and let)."""
        for text in self.where if constraints is None else constraints:
            try:
                if not expr.evaluate(text, values):
                    return False
            except expr.ExprError as exc:
                raise SpecError(f"space {self.name!r}: in constraint {text!r}: {exc}", self.location) from None
        return True


def parse_spaces(raw: Any, variables: dict[str, Variable], file: str, derived: Any = ()) -> dict[str, Space]:
    """The typed ``space:`` section; SpecError (located) on anything malformed."""
    from netcost.spec.schema import expect, unknown_keys, where

    if raw is None:
        return {}
    variables = {k: v if isinstance(v.default, str) else v.typed(v.default) for k, v in variables.items()}
    if not isinstance(raw, LocDict) or not raw:
        raise SpecError("`space` must be a mapping name: {vars, where}", Location(file, path="space"))
    spaces: dict[str, Space] = {}
    for name, body in raw.items():
        path = f"space.{name}"
        at = where(file, raw, name, path)
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"space name {name!r} is not an identifier", at)
        if not isinstance(body, LocDict):
            raise SpecError("a space is a mapping with `vars` (and `where`, `description`, `extends`)", at)
        unknown_keys(body, SPACE_KEYS, file, path, "space key")
        dists: dict[str, Distribution] = {}
        constraints: tuple[str, ...] = ()
        if "extends" in body:
            parent = body["extends"]
            if parent not in spaces:
                known = ", ".join(spaces) or "none before it"
                raise SpecError(
                    f"space {name!r} extends {parent!r}, which is not a space above it (spaces: {known})",
                    where(file, body, "extends", f"{path}.extends"),
                )
            dists, constraints = dict(spaces[parent].vars), spaces[parent].where
        entries = expect(body, "vars", LocDict, file, path, "a mapping variable: distribution", default=LocDict())
        for var, spec in entries.items():
            var_at = where(file, entries, var, f"{path}.vars.{var}")
            if var not in variables:
                hint = did_you_mean(var, variables).strip() or f"the spec's variables: {', '.join(variables)}"
                raise SpecError(f"space {name!r}: the spec declares no variable {var!r}", var_at, hint=hint)
            try:
                dists[var] = _distribution(spec, variables[var])
            except FieldError as exc:
                raise SpecError(f"space {name!r}, {var}: {exc}", var_at) from None
        if not dists:
            raise SpecError(f"space {name!r} draws no variable: give `vars`", at)
        if "where" in body:
            constraints = _constraints(body, file, path, set(variables) | set(derived))
        description = body.get("description", "")
        typed = frozenset(n for n in dists if variables[n].type is not None)
        spaces[name] = Space(name, dists, constraints, str(description), at, frozenset(variables), typed)
    return spaces


def _constraints(body: LocDict, file: str, path: str, known: set[str]) -> tuple[str, ...]:
    from netcost.spec.schema import where

    items = body["where"]
    items = LocList([items]) if isinstance(items, str) else items
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise SpecError("`where` is a list of expressions", where(file, body, "where", f"{path}.where"))
    for i, text in enumerate(items):
        at = where(file, items, i, f"{path}.where[{i}]") if isinstance(items, LocList) else None
        try:
            unknown = sorted(expr.names_used(text) - known)
        except expr.ExprError as exc:
            raise SpecError(f"constraint {text!r}: {exc}", at) from None
        if unknown:
            raise SpecError(f"constraint {text!r} reads {unknown[0]!r}, not a variable of the spec", at)
    return tuple(items)


def _distribution(raw: Any, var: Variable) -> Distribution:
    """One entry of a space's ``vars``, checked against the variable's domain."""
    if not isinstance(raw, LocDict):  # a fixed value
        return Distribution("fixed", value=var.check(_plain(raw)))
    kinds = [k for k in raw if k in KINDS]
    unknown = [k for k in raw if k not in (*KINDS, "step")]
    if unknown or len(kinds) != 1:
        got = f"unknown key {unknown[0]!r}" if unknown else f"{len(kinds)} kinds"
        raise FieldError(f"a distribution is one of {', '.join(KINDS)} (with `step` for a quantised one); got {got}")
    kind = kinds[0]
    body = raw[kind]
    step = raw.get("step")
    if kind == "choice":
        if step is not None:
            raise FieldError("`choice` takes no `step`")
        if not isinstance(body, list) or not body:
            raise FieldError("`choice` is a non-empty list of values")
        return Distribution("choice", choices=tuple(var.check(_plain(v)) for v in body))
    if not (isinstance(body, list) and len(body) == 2 and all(_is_number(v) for v in body)):
        raise FieldError(f"`{kind}` is [low, high], two numbers; got {show_value(_plain(body))}")
    low, high = body
    if low > high:
        raise FieldError(f"`{kind}` [{low}, {high}]: low is above high")
    if step is not None and not (_is_number(step) and step > 0):
        raise FieldError(f"`step` is a positive number, got {show_value(step)}")
    if kind == "int" and not all(isinstance(v, int) for v in (low, high, step or 1)):
        raise FieldError(f"`int` [{low}, {high}] takes integer bounds (and step)")
    if kind == "log_uniform" and low <= 0:
        raise FieldError(f"`log_uniform` needs low > 0, got {low}")
    if var.choices is not None:
        raise FieldError(f"{var.name} is one of its choices: draw it with `choice`")
    integral = step is not None and all(isinstance(v, int) for v in (low, high, step))
    if var.type == "int" and kind != "int" and not integral:
        raise FieldError(f"{var.name} is an integer: draw it with `int`, or integer bounds and an integer `step`")
    for bound in (low, high):
        var.check(bound)
    return Distribution(kind, low, high, step)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        raise FieldError("a mapping is not a value here")
    return value

"""``netcost fit``: the largest value of a numeric variable whose model fits a budget.

The search brackets the answer (from the ``--range`` given, else galloping out from the
variable's default: doubling, or for a tied scale, steps of 1, 2, 4, ...) and bisects it:
integers to the exact largest fitting value, numbers to ``tol`` (relative). It assumes the
budgeted totals never decrease as the value grows, as width, depth and resolution
multipliers do; a spec's own rounding (``make_divisible`` widths, ``ceil`` depths) makes
them steps, and the bisection lands on the last step that fits.

``vary`` ties several variables to one scale ``x``: ``["width=1.1**x", "depth=1.2**x"]``
(a plain name in a tie is ``name = x``); one plain name varies that variable itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from netcost.analysis.sweep import Point, RowMaker
from netcost.budget import TRAIN_METRICS, parse_budgets
from netcost.errors import BudgetExceeded, NetcostError
from netcost.options import AnalyzeOptions, OptionError, TrainOptions
from netcost.report.views import ResultViews
from netcost.spec import expr
from netcost.spec.schema import Spec

SCALE = "x"  # the tied scale's name in --vary expressions
MAX_GALLOP = 40  # bracketing steps at most
MAX_BISECT = 200


@dataclass(frozen=True)
class Tie:
    """One varied variable: ``name`` = ``expression`` of the scale (None: the scale itself)."""

    name: str
    expression: str | None = None


@dataclass
class FitResult(ResultViews):
    TABLE: ClassVar[str] = "totals"
    TITLE: ClassVar[str] = "netcost fit"

    model: str
    scale: str  # the variable bisected, or "x" for a tie
    value: int | float  # the largest value that fits
    variables: dict[str, Any]  # the varied variables at that value
    row: dict[str, Any]  # its totals
    budgets: dict[str, int]
    next_value: int | float  # the smallest value probed that does not fit
    over: list[str]  # the budgets that value exceeds
    probes: int
    ties: list[Tie] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "model": self.model,
            "scale": self.scale,
            "vary": [t.name if t.expression is None else f"{t.name}={t.expression}" for t in self.ties],
            "value": self.value,
            "variables": self.variables,
            "budgets": self.budgets,
            "totals": {k: v for k, v in self.row.items() if k not in self.variables},
            "next_value": self.next_value,
            "next_over": self.over,
            "probes": self.probes,
        }


def parse_ties(vary: Sequence[str], spec: Spec) -> list[Tie]:
    if not vary:
        raise OptionError("fit needs --vary VAR (or VAR=EXPR of x, several tied to one scale)")
    ties = []
    for item in vary:
        name, sep, text = (part.strip() for part in item.partition("="))
        if name not in spec.vars:
            raise OptionError(f"--vary {item}: the spec declares no variable {name!r}", hint=", ".join(spec.vars))
        if sep:
            try:
                extra = sorted(expr.names_used(text) - {SCALE})
            except expr.ExprError as exc:
                raise OptionError(f"--vary {item}: {exc}") from None
            if extra:
                raise OptionError(f"--vary {item}: the expression reads {extra[0]!r}; it may read only {SCALE}")
        ties.append(Tie(name, text if sep else None))
    if len({t.name for t in ties}) != len(ties):
        raise OptionError("--vary: a variable given twice")
    return ties


def fit(
    spec: Spec,
    options: AnalyzeOptions,
    vary: Sequence[str],
    budgets: Mapping[str, int | str],
    *,
    low: float | None = None,
    high: float | None = None,
    tol: float = 1e-4,
) -> FitResult:
    ties = parse_ties(vary, spec)
    limits = parse_budgets(dict(budgets))
    if not limits:
        raise OptionError("fit needs a budget: --max-macs 300M, --max-params 5M, ...")
    if any(m in TRAIN_METRICS for m in limits) and options.train is None:
        options = replace(options, train=TrainOptions())
    for t in ties:
        if t.name in options.overrides:
            raise OptionError(f"--vary {t.name} and --set {t.name}: give the variable one way")
    search = _Search(spec, options, ties, limits)
    integer = search.integer
    if low is None or high is None:
        low, high = search.bracket(low, high)
    elif not low < high:
        raise OptionError(f"--range {low}:{high}: low must be below high")
    else:
        if not search.fits(low):
            raise BudgetExceeded(f"{spec.name}: even {search.scale} = {low} exceeds the budget ({search.why(low)})")
        if search.fits(high):
            raise OptionError(f"{search.scale} = {high}, the top of --range, fits: give a larger range")
    lo, hi = (int(low), int(high)) if integer else (float(low), float(high))
    for _ in range(MAX_BISECT):
        if (hi - lo <= 1) if integer else (hi - lo <= tol * max(1.0, abs(lo))):
            break
        mid = (lo + hi) // 2 if integer else (lo + hi) / 2
        if search.fits(mid):
            lo = mid
        else:
            hi = mid
    row = search.row(lo)
    variables = search.values(lo)
    return FitResult(spec.name, search.scale, lo, variables, row, limits, hi, search.over(hi), search.probes, ties)


class _Search:
    """The probes of one fit: each value's row, kept."""

    def __init__(self, spec: Spec, options: AnalyzeOptions, ties: list[Tie], limits: dict[str, int]):
        self.spec, self.options, self.ties, self.limits = spec, options, ties, limits
        self.tied = len(ties) > 1 or ties[0].expression is not None
        self.scale = SCALE if self.tied else ties[0].name
        self.maker = RowMaker(spec, options, [t.name for t in ties])
        self.rows: dict[Any, dict[str, Any] | NetcostError] = {}
        self.probes = 0
        default = None if self.tied else self.maker.variables(Point(dict(options.overrides)))[self.scale]
        if not self.tied and (isinstance(default, bool) or not isinstance(default, (int, float))):
            raise OptionError(f"--vary {self.scale}: fit varies a number; {self.scale} is {default!r}")
        self.start = 0 if self.tied else default
        self.integer = not self.tied and isinstance(default, int)

    def values(self, value) -> dict[str, Any]:
        if not self.tied:
            return {self.scale: value}
        out = {}
        for t in self.ties:
            if t.expression is None:
                out[t.name] = value
                continue
            try:
                out[t.name] = expr.evaluate(t.expression, {SCALE: value})
            except expr.ExprError as exc:
                raise OptionError(f"--vary {t.name}={t.expression} at {SCALE} = {value}: {exc}") from None
        return out

    def row(self, value) -> dict[str, Any] | NetcostError:
        if value not in self.rows:
            self.probes += 1
            point = Point({**self.options.overrides, **self.values(value)})
            try:
                self.rows[value] = self.maker.row(point)
            except NetcostError as exc:  # e.g. a width too small for its groups: treated as not fitting
                if isinstance(exc, OptionError):
                    raise
                self.rows[value] = exc
        return self.rows[value]

    def over(self, value) -> list[str]:
        row = self.row(value)
        if isinstance(row, NetcostError):
            return []
        return [m for m, limit in self.limits.items() if row[TRAIN_METRICS.get(m, m)] > limit]

    def fits(self, value) -> bool:
        return not isinstance(self.row(value), NetcostError) and not self.over(value)

    def why(self, value) -> str:
        row = self.row(value)
        if isinstance(row, NetcostError):
            return row.message
        return ", ".join(f"{m} {row[TRAIN_METRICS.get(m, m)]:,} > {self.limits[m]:,}" for m in self.over(value))

    def bracket(self, low, high) -> tuple[Any, Any]:
        """(a value that fits, a larger one that does not), galloping out from the given end
        or the default."""
        start = low if low is not None else high if high is not None else self.start
        step = 1
        if self.fits(start):
            lo = start
            for _ in range(MAX_GALLOP):
                hi = self._grow(lo, step)
                if not self.fits(hi):
                    return lo, hi
                lo, step = hi, step * 2
            raise OptionError(f"{self.scale} = {lo} still fits the budget: give --range LOW:HIGH")
        hi = start
        for _ in range(MAX_GALLOP):
            lo = self._shrink(hi, step)
            if lo is None:
                break
            if self.fits(lo):
                return lo, hi
            hi, step = lo, step * 2
        raise BudgetExceeded(f"{self.spec.name}: no {self.scale} down to {hi} fits the budget ({self.why(hi)})")

    def _grow(self, value, step):
        if self.tied or value <= 0:
            return value + step
        return value * 2

    def _shrink(self, value, step):
        if self.tied:
            return value - step
        if self.integer:
            return value - step if value - step >= 0 else None
        return value / 2 if value > 1e-9 else None

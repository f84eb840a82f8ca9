"""``netcost sweep``: the totals of many models of one spec, over a grid of variable values or
drawn from the spec's design space, one row per model.

A row holds the varied variables and the totals under ``analyze``'s JSON keys, and equals
``netcost analyze MODEL --set ...`` with those values (tests/sweep/test_rows.py). The spec
is parsed once; without ``--train`` the totals come from :class:`TotalsEngine` (block
summaries reused between models), with it from the full analysis of each model.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from netcost.analysis.sweep_totals import TOTAL_KEYS, TotalsEngine
from netcost.errors import NetcostError, SpecError
from netcost.options import AnalyzeOptions, OptionError, TrainOptions, parse_shape
from netcost.report.views import ResultViews
from netcost.spec import expr
from netcost.spec.schema import Spec

TRAIN_KEYS = ("step_flops", "backward_flops", "grad_bytes", "optimizer_state_bytes", "saved_activation_bytes")
TRAIN_KEYS += ("peak_train_bytes",)
INPUT = "input"  # the grid key that varies the input size
BATCH_DRAWS = 1000  # candidates drawn per round while sampling
MAX_DRAWS = 1_000_000  # candidates drawn at most (pycls' SETUP.NUM_SAMPLES)


@dataclass(frozen=True)
class Point:
    """One model of a sweep: its ``--set`` values and input (None: the spec's)."""

    values: dict[str, Any]
    input_shape: tuple[int, ...] | None = None


@dataclass
class SweepResult(ResultViews):
    """The rows of a sweep (``columns``: the varied variables, then the totals)."""

    TABLE: ClassVar[str] = "rows"
    TITLE: ClassVar[str] = "netcost sweep"

    model: str
    kind: str  # grid or sample
    varied: list[str]
    columns: list[str]
    rows: list[dict[str, Any]]
    space: str | None = None
    seed: int | None = None
    drawn: int = 0  # sample: candidates drawn, constraints included
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "model": self.model,
            "kind": self.kind,
            "space": self.space,
            "seed": self.seed,
            "drawn": self.drawn,
            "varied": self.varied,
            "columns": self.columns,
            "rows": self.rows,
            **self.meta,
        }

    @property
    def df(self):
        """The rows as a pandas DataFrame (pandas is the `report` extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise NetcostError("a DataFrame needs pandas: pip install 'netcost[report]'") from None
        return pd.DataFrame(self.rows, columns=self.columns)


# -- the models of a sweep -----------------------------------------------------------------
def grid_points(spec: Spec, grid: Mapping[str, Sequence[Any]], fixed: Mapping[str, Any]) -> list[Point]:
    """The cartesian product of ``grid`` (in its order; ``input`` varies the input size)."""
    names = list(grid)
    for name in names:
        if name != INPUT and name not in spec.vars:
            raise OptionError(
                f"--grid {name}: the spec declares no variable {name!r}",
                hint=f"its variables: {', '.join(spec.vars) or 'none'}; `input` varies the input size",
            )
        if name in fixed:
            raise OptionError(f"--grid {name} and --set {name}: give the variable one way")
        if not grid[name]:
            raise OptionError(f"--grid {name}: no values")
    points = []
    for combo in itertools.product(*(grid[n] for n in names)):
        values = {**fixed, **{n: v for n, v in zip(names, combo, strict=True) if n != INPUT}}
        shape = dict(zip(names, combo, strict=True)).get(INPUT)
        points.append(Point(values, parse_shape(shape, "--grid input") if shape is not None else None))
    return points


def space_of(spec: Spec, name: str | None):
    if not spec.spaces:
        raise OptionError(
            f"{spec.name} declares no design space to sample",
            hint="give the spec a `space:` section (docs/sweep.md), or sweep a --grid",
        )
    if name is None:
        return next(iter(spec.spaces.values()))
    if name not in spec.spaces:
        raise OptionError(f"--space {name}: {spec.name}'s spaces are {', '.join(spec.spaces)}")
    return spec.spaces[name]


def candidates(space, fixed: Mapping[str, Any], seed: int) -> Iterable[dict[str, Any]]:
    """Draws from ``space`` (``--set`` values replacing theirs), one stream per seed."""
    rng = random.Random(seed)
    for _ in range(MAX_DRAWS):
        yield {**space.draw(rng), **fixed}


# -- rows ------------------------------------------------------------------------------------
class RowMaker:
    """The row of one model: exact totals, the fast way where it can."""

    def __init__(self, spec: Spec, options: AnalyzeOptions, varied: Sequence[str]):
        self.spec, self.options, self.varied = spec, options, list(varied)
        self.engine = TotalsEngine(spec, options.batch, options.dtype, options.convention)
        self._on_draws: dict[str, tuple[str, ...]] = {}  # a space's name -> its constraints on draws alone

    def rejects(self, space, draw: dict[str, Any]) -> bool:
        """Whether the space's constraints on its drawn values alone reject ``draw`` (checked
        before anything is worked out: most draws of a constrained space are rejected)."""
        constraints = self._on_draws.get(space.name)
        if constraints is None:
            constraints = self._on_draws[space.name] = space.on_draws(frozenset(self.options.overrides))
        return bool(constraints) and space.rejects(draw, constraints)

    def variables(self, point: Point, settable: dict[str, Any] | None = None) -> dict[str, Any]:
        """The spec's variables for ``point`` (``settable``: its `vars`, when already worked out)."""
        from netcost.spec.expand import _derived

        return _derived(self.spec, self.settable(point) if settable is None else settable)

    def settable(self, point: Point) -> dict[str, Any]:
        """The spec's `vars` for ``point`` (not the derived `let`)."""
        from netcost.spec.expand import _settable

        return _settable(self.spec, point.values)

    def row(self, point: Point, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        shape = point.input_shape or self.options.input_shape
        row: dict[str, Any] = {n: point.values[n] for n in self.varied if n in point.values}
        if INPUT in self.varied:
            row[INPUT] = "x".join(map(str, shape))
        if self.options.train is None:
            row.update(self.engine.totals(point.values, shape, variables))
            return row
        from dataclasses import replace

        from netcost.api import analyze_options

        report = analyze_options(self.spec, replace(self.options, overrides=point.values, input_shape=shape))
        row.update({k: report.totals[k] for k in TOTAL_KEYS})
        row.update({k: report.train[k] for k in TRAIN_KEYS})
        return row


def row_filter(text: str | None, columns: Sequence[str]) -> Callable[[dict[str, Any]], bool]:
    """``--where``: a condition over a row's names, read by the spec's safe evaluator."""
    if text is None:
        return lambda row: True
    try:
        unknown = sorted(expr.names_used(text) - set(columns))
    except expr.ExprError as exc:
        raise OptionError(f"--where {text!r}: {exc}") from None
    if unknown:
        raise OptionError(f"--where {text!r}: no column {unknown[0]!r}", hint=f"columns: {', '.join(columns)}")

    def keep(row: dict[str, Any]) -> bool:
        try:
            return bool(expr.evaluate(text, row))
        except expr.ExprError as exc:
            raise OptionError(f"--where {text!r}: {exc}") from None

    return keep


def columns_for(varied: Sequence[str], train: TrainOptions | None) -> list[str]:
    return [*varied, *TOTAL_KEYS, *(TRAIN_KEYS if train is not None else ())]


# -- the sweep -------------------------------------------------------------------------------
def run_grid(spec, options, grid, where, jobs, progress) -> SweepResult:
    points = grid_points(spec, grid, options.overrides)
    varied = list(grid)
    columns = columns_for(varied, options.train)
    keep = row_filter(where, columns)
    rows = [r for r in _rows(spec, options, varied, points, jobs, progress, len(points)) if keep(r)]
    return SweepResult(spec.name, "grid", varied, columns, rows)


def run_sample(spec, options, n, seed, space_name, where, jobs, progress) -> SweepResult:
    space = space_of(spec, space_name)
    varied = list(space.vars)
    columns = columns_for(varied, options.train)
    keep = row_filter(where, columns)
    draws = candidates(space, options.overrides, seed)
    rows: list[dict[str, Any]] = []
    drawn = 0
    for row in _sampled(spec, options, varied, space, draws, jobs, n, rows):
        drawn += 1
        if row is not None:
            rows.append(row)
            if progress:
                progress(len(rows), n)
            if len(rows) == n:
                break
    if len(rows) < n:
        raise NetcostError(
            f"space {space.name!r}: {drawn:,} draws gave {len(rows)} models that meet its constraints, not {n}",
            hint="widen the space or loosen its `where`",
        )
    rows = [r for r in rows if keep(r)]
    return SweepResult(spec.name, "sample", varied, columns, rows, space=space.name, seed=seed, drawn=drawn)


def _sampled(spec, options, varied, space, draws, jobs, n, rows) -> Iterable[dict[str, Any] | None]:
    """Each draw's row (None: it breaks the space's constraints), one draw at a time, or in
    batches split among ``jobs`` workers, as many as the ``n`` rows still wanting may need."""
    if jobs == 1:
        maker = RowMaker(spec, options, varied)
        yield from (point_row(maker, Point(values), space) for values in draws)
        return
    from netcost.analysis.sweep_pool import Pool

    with Pool(spec, options, varied, jobs, space) as pool:
        while len(rows) < n:
            size = min(BATCH_DRAWS, max(4 * (n - len(rows)), 16 * jobs))
            batch = [Point(v) for v in itertools.islice(draws, size)]
            if not batch:
                return
            yield from pool.rows(batch)


def _rows(spec, options, varied, points, jobs, progress, total, space=None) -> list[dict[str, Any] | None]:
    """Each point's row (None: it breaks the space's constraints), in order."""
    if jobs > 1 and len(points) > 1:
        from netcost.analysis.sweep_pool import Pool

        with Pool(spec, options, varied, jobs, space) as pool:
            return pool.rows(points, progress, total)
    maker = RowMaker(spec, options, varied)
    out = []
    for i, point in enumerate(points):
        out.append(point_row(maker, point, space))
        if progress and total:
            progress(i + 1, total)
    return out


def point_row(maker: RowMaker, point: Point, space=None) -> dict[str, Any] | None:
    """The row of ``point``, or None where the design space's constraints reject it."""
    variables = None
    if space is not None:
        if maker.rejects(space, point.values):
            return None  # rejected by the drawn values alone
        try:
            settable = maker.settable(point)
            if space.early and not space.admits(settable, space.early):
                return None  # rejected before the derived values are worked out
            variables = maker.variables(point, settable)
        except SpecError as exc:
            raise SpecError(f"space {space.name!r} drew {_show(point.values)}: {exc.message}", exc.location) from None
        if not space.admits(variables):
            return None
    return maker.row(point, variables)


def _show(values: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())

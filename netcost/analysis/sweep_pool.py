"""``--jobs N``: a sweep's rows computed by N worker processes, in the order of the points.

Each worker parses nothing: it inherits the parsed spec (fork) or unpickles it once
(spawn), keeps one :class:`netcost.analysis.sweep.RowMaker` (and so its block summaries) for
all its chunks, and returns rows in chunk order, so the rows equal a single process's.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

CHUNK = 250  # points per task

_maker = None  # the worker's RowMaker
_space = None


def _start(spec, options, varied, space) -> None:
    global _maker, _space
    from netcost.analysis.sweep import RowMaker

    _maker, _space = RowMaker(spec, options, varied), space


def _chunk(points) -> list[dict[str, Any] | None]:
    from netcost.analysis.sweep import point_row

    return [point_row(_maker, p, _space) for p in points]


def pooled_rows(spec, options, varied, points, jobs, space, progress, total) -> list[dict[str, Any] | None]:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    chunks = [points[i : i + CHUNK] for i in range(0, len(points), CHUNK)]
    out: list[dict[str, Any] | None] = []
    start = (spec, options, varied, space)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start, initargs=start) as ex:
        for rows in ex.map(_chunk, chunks):
            out.extend(rows)
            if progress and total:
                progress(len(out), total)
    return out

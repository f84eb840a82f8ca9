"""``--jobs N``: a sweep's rows computed by N worker processes, in the order of the points.

Each worker parses nothing: it inherits the parsed spec (fork) or unpickles it once
(spawn), and keeps one :class:`netcost.analysis.sweep.RowMaker` (and so its block
summaries) for every chunk it is given while the pool lives; rows come back in chunk
order, so they equal a single process's.
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


class Pool:
    """Worker processes for one sweep (a context manager)."""

    def __init__(self, spec, options, varied, jobs: int, space=None):
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        start = (spec, options, varied, space)
        self.executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start, initargs=start)
        self.chunk = max(1, min(CHUNK, CHUNK // jobs * 2))

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.executor.shutdown(cancel_futures=True)

    def rows(self, points, progress=None, total: int = 0) -> list[dict[str, Any] | None]:
        """Each point's row (None: the space's constraints reject it), in order."""
        chunks = [points[i : i + self.chunk] for i in range(0, len(points), self.chunk)]
        out: list[dict[str, Any] | None] = []
        for rows in self.executor.map(_chunk, chunks):
            out.extend(rows)
            if progress and total:
                progress(len(out), total)
        return out

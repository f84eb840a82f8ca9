"""A memo keyed by an object's identity: ``id()`` hashes in C where a tuple of fields or a
Shape hashes by Python calls, so the sweep's hot lookups key by the id of the spec's own
lists, layers and shapes. An id is only an object's while it lives, so each entry keeps its
object and is checked against it. (The hottest lookups of the sweep write this out inline,
saying so: a call there costs about 1% of a sweep's instructions.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def by_identity(
    memo: dict, key: Any, owner: Any, make: Callable[..., Any], *args: Any, limit: int | None = None
) -> Any:
    """``memo[key]``, made by ``make(*args)`` the first time. ``key`` holds ``id(owner)``;
    the entry keeps ``owner`` alive (so that id stays its) and is checked against it. With a
    ``limit``, the memo is emptied past that many entries."""
    hit = memo.get(key)
    if hit is None or hit[0] is not owner:
        if limit is not None and len(memo) > limit:
            memo.clear()
        hit = memo[key] = (owner, make(*args))
    return hit[1]

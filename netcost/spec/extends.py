"""``extends:``: a spec built on another one.

The parent is looked up beside the extending file first (``base``, ``base.yaml`` or
``base.yml``, or a relative path), then among the bundled specs; never in the current
directory. It must be a YAML file holding a spec (a mapping); the chain may not loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netcost.errors import Location, SpecError
from netcost.spec.load import LocDict, load_file
from netcost.spec.schema import extend, where

SUFFIXES = (".yaml", ".yml")


def load_extended(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """The spec's YAML with its ``extends:`` chain applied."""
    data = load_file(path)
    if not isinstance(data, LocDict) or "extends" not in data:
        return data
    at = where(str(path), data, "extends", "extends")
    parent = find_parent(data["extends"], path, at)
    if parent.resolve() in seen or parent.resolve() == path.resolve():
        chain = " -> ".join(p.stem for p in (*seen, path.resolve(), parent.resolve()))
        raise SpecError(f"extends cycle: {chain}", at)
    parent_data = load_extended(parent, (*seen, path.resolve()))
    if not isinstance(parent_data, LocDict):
        raise SpecError(f"extends: {parent} is not a spec (a YAML mapping with `input` and `layers`)", at)
    return extend(data, parent_data)


def find_parent(name: Any, child: Path, at: Location) -> Path:
    """The file ``extends: name`` means, for a spec at ``child``."""
    from netcost.zoo import bundled, exists, is_dir, is_file

    if not isinstance(name, str) or not name.strip():
        raise SpecError("`extends` must name a spec: a file beside this one or a bundled spec", at)
    base = child.parent / name
    candidates = [base] if base.suffix in SUFFIXES else [base.with_name(base.name + s) for s in SUFFIXES]
    for candidate in candidates:
        if is_file(candidate):
            return candidate
    if base.suffix not in SUFFIXES and exists(base):
        what = "a directory" if is_dir(base) else "not a YAML file (.yaml or .yml)"
        raise SpecError(f"extends: {base} is {what}", at, hint="name a spec file, e.g. `extends: base.yaml`")
    specs = bundled()
    if name in specs:
        return specs[name]
    from netcost.ops import did_you_mean

    hint = did_you_mean(name, specs) or f"looked for {' or '.join(str(c) for c in candidates)} and a bundled spec"
    raise SpecError(f"extends: unknown model {name!r}: no spec beside {child.name} nor bundled", at, hint=hint)

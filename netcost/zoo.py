"""Where specs come from: a bundled name (``resnet18``) or a path to a YAML file."""

from __future__ import annotations

from pathlib import Path

from netcost.errors import UnknownModelError
from netcost.ops import did_you_mean

_HERE = Path(__file__).resolve().parent
# the wheel ships specs/ inside the package; a source checkout has it beside the package
SPEC_DIRS = (_HERE / "specs", _HERE.parent / "specs")


def spec_dir() -> Path:
    for folder in SPEC_DIRS:
        if folder.is_dir():
            return folder
    return SPEC_DIRS[0]


def bundled() -> dict[str, Path]:
    """Bundled spec names -> files, sorted by name."""
    return {p.stem: p for p in sorted(spec_dir().glob("*.yaml"))}


def exists(text: str | Path) -> bool:
    """Whether user text names an existing path; False for text no file system accepts as a
    name (too long, a NUL byte) rather than an OSError."""
    try:
        return Path(text).exists()
    except (OSError, ValueError):
        return False


def is_file(text: str | Path) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def is_dir(text: str | Path) -> bool:
    try:
        return Path(text).is_dir()
    except (OSError, ValueError):
        return False


def resolve(model: str) -> Path:
    """A bundled name, or a path to a spec file."""
    path = Path(model)
    if path.suffix in (".yaml", ".yml") or exists(model):
        if not is_file(path):
            what = "is a directory, not a spec file" if is_dir(path) else "does not exist"
            raise UnknownModelError(f"no spec file {model!r}: it {what}")
        return path
    specs = bundled()
    if model in specs:
        return specs[model]
    hint = did_you_mean(model, specs) or "run `netcost zoo` to list the bundled specs"
    raise UnknownModelError(f"unknown model {model!r}: not a bundled spec nor a file", hint=hint)

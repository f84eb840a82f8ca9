"""Domain errors. Each carries its own exit code; the CLI renders them in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a budget exceeded, a verify mismatch
    USAGE = 2  # a bad spec, bad arguments


@dataclass(frozen=True)
class Location:
    """Where something is in a spec file: 1-based line and column, and the YAML path."""

    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str = ""

    def __str__(self) -> str:
        parts = [self.file or "<spec>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        where = ":".join(parts)
        return f"{where} ({self.path})" if self.path else where


class NetcostError(Exception):
    """Base of all errors netcost reports to users (no traceback)."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class SpecError(NetcostError):
    """The spec is malformed: bad YAML, unknown op or field, wrong type, bad expression."""


class ShapeError(SpecError):
    """The spec is well-formed but its geometry is impossible (groups, sizes, merges)."""


class UnknownModelError(NetcostError):
    """A model name is neither a bundled spec nor an existing file."""


class UserCodeError(NetcostError):
    """The user's own code (a torch model's module, factory or forward) failed or tried to
    exit: always exit 2, never read as a measured result."""


class BudgetExceeded(NetcostError):
    exit_code = ExitCode.FAILED

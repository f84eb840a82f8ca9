"""Shell completion (bash, zsh, fish) through click's completion protocol: `netcost
completion SHELL` prints the script; the shell then runs netcost with ``_NETCOST_COMPLETE``
set, which :func:`netcost.cli.run` answers before any command runs. Only completion builds
the whole command tree; an ordinary start-up is not slowed."""

from __future__ import annotations

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_NETCOST_COMPLETE"


def _protocol():
    """click's shell_completion module, with typer's shell classes registered: typer (>= 0.29)
    carries its own copy of click; an older one runs on click itself."""
    try:
        from typer._click import shell_completion
    except ImportError:  # pragma: no cover - an older typer
        from click import shell_completion
    try:
        from typer._completion_classes import completion_init

        completion_init()
    except ImportError:  # pragma: no cover - click's own classes remain
        pass
    return shell_completion


def complete_model(incomplete: str) -> list[str]:
    """Bundled spec names that start with ``incomplete`` (typer's ``autocompletion``). None
    where it looks like a path: the shell then completes file names (bash's ``-o default``)."""
    from netcost.zoo import bundled

    if "/" in incomplete or incomplete.startswith(".") or incomplete.endswith((".yaml", ".yml")):
        return []
    return [name for name in bundled() if name.startswith(incomplete)]


def script(command, shell: str) -> str:
    """The completion script of ``shell`` for the click ``command``."""
    cls = _protocol().get_completion_class(shell)
    return cls(command, {}, "netcost", COMPLETE_VAR).source()


def answer(command, instruction: str) -> int:
    """Answer one request of the shell's script: ``complete_bash`` (typer's form) or
    ``bash_complete`` (click's), ``source_zsh`` ... Writes the answer; returns the exit code."""
    import sys

    first, _, second = instruction.partition("_")
    action, shell = (first, second) if first in ("complete", "source") else (second, first)
    cls = _protocol().get_completion_class(shell)
    if cls is None or action not in ("complete", "source"):
        return 1
    completer = cls(command, {}, "netcost", COMPLETE_VAR)
    out = completer.source() if action == "source" else completer.complete()
    sys.stdout.write(out + ("" if out.endswith("\n") or not out else "\n"))
    return 0

"""The one boundary around a user's own torch code (a ``package.module:callable``).

Every call into it — importing its module, calling its factory, running its ``forward`` —
happens inside :func:`user_code`. There:

- whatever the code raises (any exception, ``SystemExit`` with any code, a
  ``KeyboardInterrupt`` it raises itself) becomes :class:`~netcost.errors.UserCodeError`,
  naming the model, the stage and the first line of the exception, so the CLI exits 2:
  user code can never make netcost exit 0 ("within budget") or 1 ("over budget");
- a real Ctrl-C (a SIGINT delivered while the code runs) stays a ``KeyboardInterrupt``
  (exit 130): a temporary SIGINT handler records the delivery (main thread only; in
  another thread every ``KeyboardInterrupt`` counts as raised by the code);
- what the code prints goes to stderr, at the Python level (``sys.stdout``) and at the
  file-descriptor level (fd 1 is pointed at fd 2), so ``--format json`` and JUnit on
  stdout stay clean; both are restored afterwards, on error too.

No torch here: the CLI may import this module at start-up.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from netcost.errors import NetcostError, UserCodeError
from netcost.text import one_line

IMPORT, FACTORY, FORWARD = "import", "factory", "forward"
_STAGES = {
    IMPORT: "at import",
    FACTORY: "in the factory",
    FORWARD: "in forward",
}
HINT = "netcost measured nothing; run the model in Python to see its traceback"


def describe(exc: BaseException) -> str:
    """The first line of an exception, as the user would recognise it."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    if isinstance(exc, KeyboardInterrupt):
        return "it raised KeyboardInterrupt"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def failure(
    model: str, stage: str, exc: BaseException, detail: str | None = None, hint: str | None = None
) -> UserCodeError:
    """The UserCodeError for ``exc`` raised by ``model``'s code at ``stage``; it keeps the
    stage and the original exception (``.stage``, ``.original``)."""
    where = _STAGES.get(stage, stage)
    what = f"{detail}: " if detail else ""
    message = one_line(f"{model}: user code failed {where} ({what}{describe(exc)})")
    # a stage's own hint (say, about the input shape) helps with errors, not with exits
    hint = hint if hint and isinstance(exc, Exception) else HINT
    error = UserCodeError(message, hint=one_line(hint))
    error.stage = stage
    error.original = exc
    return error


def ordinary(exc: BaseException) -> bool:
    """A plain exception (not an exit or an interrupt): what a retry on CPU may fix."""
    original = getattr(exc, "original", exc)
    return isinstance(original, Exception)


class _Sigint:
    """Records whether a SIGINT was delivered while installed; the previous handler still runs."""

    def __init__(self) -> None:
        self.delivered = False
        self.previous = None
        self.installed = False

    def __enter__(self) -> _Sigint:
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread
        try:
            previous = signal.getsignal(signal.SIGINT)
            if previous in (signal.SIG_IGN, None):  # ignored, or set outside Python: leave it
                return self
            self.previous = previous
            signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        except (ValueError, OSError):  # no signals here (an embedded interpreter)
            pass
        return self

    def _handle(self, signum, frame) -> None:
        self.delivered = True
        if callable(self.previous):
            self.previous(signum, frame)
        else:  # SIG_DFL: what Python's own handler does
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self.installed:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGINT, self.previous)


def _flush() -> None:
    """Push out whatever is buffered for stdout, in Python and in C's stdio."""
    for stream in (sys.stdout, sys.__stdout__, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def _fd_redirected(fd: int, target: int) -> Iterator[None]:
    """File descriptor ``fd`` leads where ``target`` does until the block ends (C code's
    writes too); where there is no such fd (a closed stream), nothing changes."""
    _flush()
    saved = None
    try:
        saved = os.dup(fd)
        os.dup2(target, fd)
    except OSError:
        if saved is not None:
            os.close(saved)
        saved = None
    try:
        yield
    finally:
        _flush()
        if saved is not None:
            os.dup2(saved, fd)
            os.close(saved)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """``sys.stdout`` and fd 1 both lead to stderr until the block ends."""
    with _fd_redirected(1, 2), contextlib.redirect_stdout(sys.stderr):
        yield


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """fd 2 leads nowhere until the block ends: for libraries that log from C (the torch
    profiler's ``USDT: ... profiler_start`` lines). Python exceptions are unaffected."""
    with open(os.devnull, "w") as null, _fd_redirected(2, null.fileno()):
        yield


@contextlib.contextmanager
def user_code(model: str, stage: str, detail: str | None = None, hint: str | None = None) -> Iterator[None]:
    """Run the block as ``model``'s own code at ``stage`` (``import``, ``factory`` or
    ``forward``): its failures and exits become UserCodeError, its stdout goes to stderr,
    a real Ctrl-C stays a KeyboardInterrupt."""
    with _Sigint() as sigint, _stdout_to_stderr():
        try:
            yield
        except UserCodeError:  # already converted by an inner boundary
            raise
        except GeneratorExit:
            raise
        except KeyboardInterrupt as exc:
            if sigint.delivered:
                raise
            raise failure(model, stage, exc, detail, hint) from exc
        except BaseException as exc:
            if sigint.delivered:  # the code turned a real Ctrl-C into something else
                raise KeyboardInterrupt from exc
            raise failure(model, stage, exc, detail, hint) from exc


def load_callable(reference: str):
    """``package.module:callable`` -> the callable (a class or a factory). Importing the
    module (and looking the name up: a module ``__getattr__`` is code too) runs as user
    code; a module that does not exist is a plain usage error."""
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise NetcostError(f"{one_line(reference)!r} is not package.module:callable (e.g. torchvision.models:resnet18)")
    shown = one_line(module_name)
    _importable_here()
    try:
        with user_code(reference, IMPORT, f"import {shown}"):
            try:
                target = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                    raise _Missing(exc) from None
                raise
            for part in attr.split("."):
                if not hasattr(target, part):
                    raise _Missing(f"{shown!r} has no attribute {one_line(attr)!r}")
                target = getattr(target, part)
    except UserCodeError as error:
        missing = getattr(error, "original", None)
        if isinstance(missing, _Missing):
            raise missing.error() from None
        raise
    return target


def _importable_here() -> None:
    """The current directory is importable, as under ``python -m`` and pytest: a model in
    ``./mymodel.py`` is ``mymodel:build`` without setting PYTHONPATH. It goes last, so an
    installed package of the same name still wins."""
    here = os.getcwd()
    if not any(os.path.abspath(p or os.curdir) == here for p in sys.path):
        sys.path.append(here)


class _Missing(Exception):
    """Not the user's code failing: the module or the name is not there."""

    def __init__(self, cause: object):
        super().__init__(str(cause))
        self.cause = cause

    def error(self) -> NetcostError:
        if isinstance(self.cause, ModuleNotFoundError):
            name = one_line(self.cause.name)
            return NetcostError(
                f"cannot import {name!r}: {one_line(self.cause)}",
                hint="is it installed, in the current directory, or on PYTHONPATH?",
            )
        return NetcostError(str(self.cause))

"""Text that came from outside (spec names, layer names, model paths, user messages) made
safe to print: control characters, ANSI escapes included, are shown escaped, never sent to
the terminal as they are."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object, *, newlines: bool = True) -> str:
    """``str(text)`` with control characters written as ``\\x1b``-style escapes.

    Tabs and (unless ``newlines`` is false) line feeds are kept; everything else below
    0x20, DEL and the C1 range are escaped."""
    s = str(text)
    if not newlines:
        s = s.replace("\n", "\\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def one_line(text: object) -> str:
    """Outside text for one line of output: control characters, newlines too, escaped."""
    if type(text) is str and text.isascii() and text.isprintable():  # the common case, quickly
        return text
    return printable(text, newlines=False)

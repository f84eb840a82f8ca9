"""Outside text (model, layer, op and file names; notes) made safe for the page.

Every string that reaches HTML or SVG goes through :func:`text` (element content and
attribute values alike: ``& < > " '`` escaped, control characters shown as ``\\x1b``);
data for the page's script goes through :func:`script_json`, which can never close the
``<script>`` element that holds it."""

from __future__ import annotations

import html
import json
from typing import Any

from netcost.text import one_line


def text(value: object) -> str:
    """``value`` as HTML text or an attribute value (quoted with ``"``), on one line."""
    return html.escape(one_line(value), quote=True)


def script_json(value: Any) -> str:
    """JSON to embed in a ``<script type="application/json">`` block: ``<``, ``>`` and ``&``
    written as ``\\u003c`` & co., so no ``</script>`` or ``<!--`` can appear inside it;
    U+2028/U+2029 escaped too (they end a line in older JavaScript)."""
    out = json.dumps(value, ensure_ascii=False, default=str)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        out = out.replace(char, escaped)
    return out.replace("\u2029", "\\u2029")

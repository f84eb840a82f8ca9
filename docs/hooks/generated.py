"""mkdocs hook: the pages that must not drift are generated at build time — the op
reference from the op registry, the zoo table from the bundled specs."""

from __future__ import annotations

import contextlib
import io

MARKERS = {
    "<!-- netcost:ops -->": "ops",
    "<!-- netcost:zoo -->": "zoo",
}


def _ops() -> str:
    from netcost.report.ops_doc import ops_markdown

    return ops_markdown()


def _zoo() -> str:
    from netcost.report.render import Format
    from netcost.report.zoo import render_zoo, zoo_rows

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        render_zoo(zoo_rows(cache=False), Format.markdown)
    return out.getvalue()


GENERATORS = {"ops": _ops, "zoo": _zoo}


def on_page_markdown(markdown: str, page, config, files) -> str:
    for marker, name in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, GENERATORS[name]())
    return markdown

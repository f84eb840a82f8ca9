"""What every result offers in Python, one mechanism for all: ``.to_json()`` (the JSON the
command's ``--format json`` prints), ``.df`` (its table as a pandas DataFrame) and
``_repr_html_`` (that table in Jupyter, every value escaped).

A result class has ``to_dict()`` and names, in ``TABLE``, the key of its document whose
list of records is its table (``layers`` of a verify, ``results`` of a check, ``runs`` of
a profile); ``TITLE`` heads the notebook view."""

from __future__ import annotations

import html
import json
from typing import Any, ClassVar

MAX_HTML_ROWS = 500


class ResultViews:
    TABLE: ClassVar[str] = "rows"
    TITLE: ClassVar[str] = "netcost"

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - each result defines it
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON document, as ``--format json`` prints it."""
        return json.dumps(self.to_dict(), indent=indent, default=_plain) + "\n"

    def records(self) -> list[dict[str, Any]]:
        """The table: the document's ``TABLE`` list, nested fields flattened (``fvcore.ok``)."""
        rows = self.to_dict().get(self.TABLE) or []
        if isinstance(rows, dict):
            rows = [rows]
        return [_flat(r) if isinstance(r, dict) else {"value": r} for r in rows]

    @property
    def df(self):
        """The table as a pandas DataFrame (pandas is imported only here)."""
        import pandas as pd

        return pd.DataFrame(self.records())

    def _repr_html_(self) -> str:
        return records_html(self.records(), self._title())

    def _title(self) -> str:
        doc = self.to_dict()
        verdict = doc.get("passed")
        parts = [self.TITLE, str(doc.get("model", "") or "")]
        if verdict is not None:
            parts.append("passed" if verdict else "FAILED")
        return " ".join(p for p in parts if p)


def records_html(records: list[dict[str, Any]], title: str) -> str:
    """An escaped HTML table of ``records`` (the first ``MAX_HTML_ROWS``; a note says so)."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in records[:MAX_HTML_ROWS]
    )
    more = len(records) - MAX_HTML_ROWS
    note = f"<p>{more:,} more rows: .df has them all</p>" if more > 0 else ""
    return f"<p><b>{html.escape(title)}</b></p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _flat(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)

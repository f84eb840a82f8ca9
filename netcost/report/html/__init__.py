"""A self-contained HTML report (``netcost report``) and the notebook view of results."""

from __future__ import annotations

from netcost.report.html.page import page

__all__ = ["page"]

"""A self-contained HTML report (``netcost report``) and the notebook view of results.

:func:`netcost.report.html.page.page` writes the page; :mod:`.notebook` the ``_repr_html_`` views."""

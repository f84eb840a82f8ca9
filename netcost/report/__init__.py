"""Reports (numbers) and their renderers (text). Only ``render`` and ``units`` format.

``netcost.report(...)`` is also the library's ``report`` command (:func:`netcost.api.report`,
the HTML page): a function of that name exported by ``netcost`` would hide this package,
and ``import netcost.report.render as r`` would then fail; so the package itself is made
callable, and both work."""

import sys
import types

from netcost.report.model import Report

__all__ = ["Report"]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        """The HTML report: :func:`netcost.api.report`."""
        from netcost.api import report

        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage

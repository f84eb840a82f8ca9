"""Reports (numbers) and their renderers (text). Only ``render`` and ``units`` format."""

from netcost.report.model import Report

__all__ = ["Report"]

"""Where raw tabs come from: a local workbook (.xlsx) or a Google Sheet.

Both produce a :class:`RawSource` (see ``lib.sources.base``); ``read_source`` picks the reader.
The Google Sheets reader (``lib.sources.gsheets``, gspread + google-auth) is imported only when a
sheet is read.
"""

from __future__ import annotations

from typing import Any

from lib.sources.base import RawSource, SourceError, is_google_sheet
from lib.sources.workbook import read_workbook

__all__ = ["RawSource", "SourceError", "is_google_sheet", "read_source", "read_workbook"]


def read_source(source: str, tabs: list[str] | None = None, **google: Any) -> RawSource:
    """Read a workbook path or a Google Sheet (URL or key); ``google`` goes to the sheet reader."""
    if is_google_sheet(source):
        from lib.sources import gsheets  # lazy: gspread and google-auth only for a sheet

        return gsheets.read_sheet(source, tabs=tabs, **google)
    return read_workbook(source, tabs=tabs)

"""Exports: CSV, XLSX and HTML reports, made safe for spreadsheets and browsers."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

__all__ = ["neutralise", "safe_frame", "safe_csv"]

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"); a leading apostrophe makes it inert text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Make a text cell inert in a spreadsheet; leave numbers and everything else unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and header) neutralised."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` with formula injection neutralised."""
    buf = io.StringIO()
    safe_frame(frame).to_csv(buf, index=False)
    return buf.getvalue()

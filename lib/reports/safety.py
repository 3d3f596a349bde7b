"""Export safety: a text cell of a CSV or workbook never runs as a formula."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

__all__ = ["neutralise", "safe_frame", "safe_csv", "safe_workbook", "typed_text"]

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"); a leading apostrophe makes it inert text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Make a text cell inert in a spreadsheet; leave numbers and everything else unchanged.

    >>> neutralise("=1+1"), neutralise("fine"), neutralise(-3)
    ("'=1+1", 'fine', -3)
    """
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


def safe_workbook(sheets: dict[str, pd.DataFrame], *, as_typed_text: bool = False) -> bytes:
    """An XLSX file with a sheet per frame: bold frozen header, columns sized to their text.

    A text cell that would run as a formula gets a leading apostrophe (``neutralise``), or with
    ``as_typed_text`` is written unchanged as typed text (``typed_text``), for cells meant to be
    copied back into a sheet as they are.
    """
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            (frame if as_typed_text else safe_frame(frame)).to_excel(
                xw, sheet_name=name, index=False
            )
            if as_typed_text:
                typed_text(xw.sheets[name])
            _format_sheet(xw.sheets[name], frame)
    return buf.getvalue()


def typed_text(ws: Any) -> None:
    """Every text cell of ``ws`` that starts like a formula becomes typed text: a string cell
    with the quote-prefix style (what typing ``'=x`` in Excel or Sheets makes).  It shows and
    pastes as written, apostrophe-free, and never runs; openpyxl would otherwise store a text
    starting with ``=`` as a formula."""
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_START):
                cell.data_type = "s"
                cell.quotePrefix = True


def _format_sheet(ws: Any, frame: pd.DataFrame) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = "A2"
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, col in enumerate(frame.columns, start=1):
        longest = max([len(str(col)), *(len(str(v)) for v in frame[col].head(200))])
        width = min(70, max(8, longest + 2))
        ws.column_dimensions[get_column_letter(i)].width = width
        if width >= 40:
            for cell in ws[get_column_letter(i)][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")

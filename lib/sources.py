"""Where raw tabs come from: a local workbook (.xlsx) or a Google Sheet (see ``lib.gsheets``).

Both produce a :class:`RawSource`: for each tab, its rows as lists of cell values, the way the
Sheets API ``values:batchGet`` returns them with ``valueRenderOption=UNFORMATTED_VALUE`` (numbers as
numbers, text as text, trailing empty cells dropped).  Everything downstream (``lib.ingest``) works
on that shape only, so a workbook and a live sheet go through exactly the same path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RawSource", "SourceError", "read_workbook", "is_google_sheet", "read_source"]


class SourceError(Exception):
    """The source could not be read; the message says what the coordinator can do about it."""


@dataclass(frozen=True)
class RawSource:
    """Raw tab values of one source, as read at one moment."""

    tabs: dict[str, list[list[Any]]]
    source: str
    title: str = ""
    time_zone: str | None = None
    all_tabs: list[str] = field(default_factory=list)
    requests: int = 0  # HTTP requests it took to read (0 for a local file)


def is_google_sheet(source: str) -> bool:
    """True when ``source`` is a Google Sheet URL or key rather than a workbook path.

    A workbook is a path: it ends in .xlsx/.xlsm, contains a path separator, or exists.
    """
    s = source.strip()
    if s.startswith(("http://", "https://")):
        return True
    if not s or "/" in s or "\\" in s or s.lower().endswith((".xlsx", ".xlsm")):
        return False
    return not Path(s).exists() and s.replace("-", "").replace("_", "").isalnum()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value  # ingest converts; the Sheets API gives serial numbers instead
    return value


def _trim(row: list[Any]) -> list[Any]:
    end = len(row)
    while end and (row[end - 1] is None or row[end - 1] == ""):
        end -= 1
    return row[:end]


def read_workbook(path: str | Path, tabs: list[str] | None = None) -> RawSource:
    """Read an .xlsx workbook into raw tab values (all tabs, or only ``tabs``)."""
    import openpyxl  # lazy: not needed on the Google Sheets path

    p = Path(path)
    if not p.exists():
        raise SourceError(f"Workbook not found: {p}")
    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise SourceError(f"Cannot open workbook {p.name}: {exc}") from exc
    try:
        names = list(wb.sheetnames)
        wanted = names if tabs is None else [t for t in names if t in set(tabs)]
        out: dict[str, list[list[Any]]] = {}
        for name in wanted:
            rows = [_trim([_cell(v) for v in r]) for r in wb[name].iter_rows(values_only=True)]
            while rows and not rows[-1]:
                rows.pop()
            out[name] = rows
    finally:
        wb.close()
    return RawSource(tabs=out, source=str(p), title=p.stem, all_tabs=names)


def read_source(source: str, tabs: list[str] | None = None, **google: Any) -> RawSource:
    """Read a workbook path or a Google Sheet (URL or key); ``google`` goes to ``lib.gsheets``."""
    if is_google_sheet(source):
        from lib import gsheets

        return gsheets.read_sheet(source, tabs=tabs, **google)
    return read_workbook(source, tabs=tabs)

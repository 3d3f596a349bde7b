"""Read a local workbook (.xlsx) into a :class:`~lib.sources.base.RawSource`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from lib.sources.base import RawSource, SourceError

__all__ = ["read_workbook"]


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

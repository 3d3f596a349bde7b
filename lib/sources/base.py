"""The raw shape every source is read into: :class:`RawSource`, and :class:`SourceError`.

For each tab, its rows as lists of cell values, the way the Sheets API ``values:batchGet`` returns
them with ``valueRenderOption=UNFORMATTED_VALUE`` (numbers as numbers, text as text, trailing
empty cells dropped).  Everything downstream (``lib.ingest``) works on that shape only, so a
workbook and a live sheet go through exactly the same path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["GoogleSheetError", "RawSource", "SourceError", "is_google_sheet"]


class SourceError(Exception):
    """The source could not be read; the message says what the coordinator can do about it."""


class GoogleSheetError(SourceError):
    """A Google Sheet could not be read; ``kind`` says why, ``requests`` how many were made.

    Kinds: ``bad_url``, ``credentials``, ``permission``, ``not_found``, ``missing_tab``,
    ``quota``, ``server``, ``timeout``, ``connection``, ``bad_response``, ``http``.
    """

    def __init__(self, message: str, kind: str, requests: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.requests = requests


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

    >>> is_google_sheet("https://docs.google.com/spreadsheets/d/abc/edit")
    True
    >>> is_google_sheet("data/demo/study.xlsx")
    False
    """
    s = source.strip()
    if s.startswith(("http://", "https://")):
        return True
    if not s or "/" in s or "\\" in s or s.lower().endswith((".xlsx", ".xlsm")):
        return False
    return not Path(s).exists() and s.replace("-", "").replace("_", "").isalnum()

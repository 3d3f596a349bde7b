"""The validation report: every problem found, by tab, row and column; and the refusal.

Row numbers are the sheet's own (the header is row 1); columns are spreadsheet letters
(A, B, …, AA).  A bad cell is reported and excluded, never a crash; a source that cannot be
interpreted at all raises :class:`IngestError` instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["PROBLEM_COLUMNS", "IngestError", "Report", "column_letter"]

PROBLEM_COLUMNS = ["tab", "row", "column", "header", "kind", "message"]


class IngestError(ValueError):
    """The source cannot be interpreted at all; nothing may be stored."""


def column_letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based index (0 -> A, 26 -> AA).

    >>> column_letter(0), column_letter(25), column_letter(26), column_letter(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    out, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


class Report:
    """Collects validation problems, in the order they are found."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self, tab: str, row: int | None, col: int | None, header: str, kind: str, message: str
    ) -> None:
        """Record one problem; ``col`` is a 0-based index (None: the whole row or tab)."""
        letter = column_letter(col) if col is not None else ""
        self.rows.append(
            {
                "tab": tab,
                "row": row,
                "column": letter,
                "header": header,
                "kind": kind,
                "message": message,
            }
        )

    def frame(self) -> pd.DataFrame:
        """The problems as a frame with PROBLEM_COLUMNS."""
        return pd.DataFrame(self.rows, columns=PROBLEM_COLUMNS).astype({"row": "Int64"})

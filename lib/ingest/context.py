"""The state one ingest carries through its steps, instead of long parameter lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.config import StudyConfig
from lib.ingest.cells import Clock, cell_text
from lib.ingest.report import Report

__all__ = ["Context", "RoundTab"]


@dataclass(frozen=True)
class Context:
    """What every round tab of one source is read against."""

    cfg: StudyConfig
    report: Report
    clock: Clock
    listed: pd.DataFrame | None  # the Statements tab, or None when the study has none
    panel_keys: frozenset[str]  # identity keys on the Panel tab (empty: no panel, all accepted)

    def flag(self, tab: RoundTab, row: int | None, col: int | None, kind: str, msg: str) -> None:
        """Report a problem at a cell, row or column of a round tab (under its own header)."""
        self.report.add(tab.name, row, col, tab.header[col] if col is not None else "", kind, msg)


@dataclass(frozen=True)
class RoundTab:
    """One round's tab: its name, round number, rows (the header is ``rows[0]``) and header."""

    name: str
    round: int
    rows: list[list[Any]]
    header: list[str]

    @classmethod
    def read(cls, name: str, rnd: int, rows: list[list[Any]]) -> RoundTab:
        """The tab with its header cells as text."""
        return cls(name, rnd, rows, [cell_text(h) for h in rows[0]] if rows else [])

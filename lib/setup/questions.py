"""The questions of each round tab: which statement each one rates, and how its ID was found.

The columns are classified by the ingest itself (``lib.ingest.columns.classify``), so what is
proposed here is what a refresh will read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from lib.config import StudyConfig
from lib.ingest.cells import Clock, cell_text
from lib.ingest.columns import Column, classify, find_column, grid_parts, split_id
from lib.ingest.context import Context, RoundTab
from lib.ingest.report import Report
from lib.ingest.statements import listed_statements
from lib.setup.answers import Answered

__all__ = ["RoundQuestions", "round_questions"]

_MAX_OPTIONS = 12  # a rating question offers a handful of answers; free text has many


@dataclass
class RoundQuestions:
    """One round tab's rating columns (or, when none matches a statement, the columns that look
    like questions) and how their statements were identified."""

    tab: str
    round: int
    columns: list[Answered]
    matched: int = 0  # columns matched to a statement
    how: Counter = field(default_factory=Counter)  # how each statement was identified -> count
    example: dict[str, str] = field(default_factory=dict)  # how -> a header found so
    ids: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # headers of questions matching nothing


def round_questions(raw_tabs: dict[str, list[list[Any]]], cfg: StudyConfig) -> list[RoundQuestions]:
    """Each round tab of ``cfg`` (a draft: rounds, identity, timestamp, Statements tab), read
    as the ingest reads it."""
    report = Report()
    listed = listed_statements(raw_tabs, cfg, report)
    ctx = Context(cfg, report, Clock(ZoneInfo("UTC"), "MDY"), listed, frozenset())
    out = []
    for name, rnd in cfg.rounds.items():
        tab = RoundTab.read(name, rnd, raw_tabs.get(name) or [])
        out.append(_read(tab, ctx, listed is not None))
    return out


def _read(tab: RoundTab, ctx: Context, listed: bool) -> RoundQuestions:
    found = RoundQuestions(tab.name, tab.round, [])
    if not tab.rows:
        return found
    skip = set(find_column(tab.header, ctx.cfg.identity_column))
    skip |= set(find_column(tab.header, ctx.cfg.timestamp_column))
    cols = [c for c in classify(tab, ctx) if c.index not in skip]
    stmt = [c for c in cols if c.kind == "statement"]
    known = {cell_text(v) for c in stmt for v in _cells(tab, c.index)}
    for c in stmt:
        how = _how(c, listed)
        found.how[how] += 1
        found.example.setdefault(how, c.header)
        found.ids.append(str(c.statement_id))
        found.columns.append(Answered(c.statement_id, c.header, _cells(tab, c.index)))
    found.matched = len(stmt)
    for c in cols:
        cells = _cells(tab, c.index)
        if c.kind == "other" and c.header and _looks_rated(cells, known):
            found.unmatched.append(c.header)
            if not stmt:  # read its answers all the same: the scale is proposed from them
                found.columns.append(Answered(None, c.header, cells))
    return found


def _cells(tab: RoundTab, j: int) -> list[Any]:
    return [r[j] for r in tab.rows[1:] if j < len(r) and cell_text(r[j])]


def _how(col: Column, listed: bool) -> str:
    """How a statement column was identified: an ID its title or grid row starts with, or
    (with a Statements tab) the row's text."""
    grid = grid_parts(col.header) if col.grid else None
    part = grid[1] if grid else col.header
    sid, _ = split_id(part)
    if sid is not None and sid.casefold() == str(col.statement_id).casefold():
        return "an ID at the start of the grid row" if grid else "an ID at the start of the title"
    return "the text of a Statements-tab row" if listed else "the question title"


def _looks_rated(cells: list[Any], known: set[str]) -> bool:
    """Whether a column's answers look like ratings: mostly answers the statement columns
    hold, or (with none to compare) a few short options chosen more than once."""
    texts = [cell_text(v) for v in cells]
    if not texts:
        return False
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in cells):
        return True  # a linear scale: Google Forms writes its answers as numbers
    if known:
        return sum(t in known for t in texts) * 2 >= len(texts)
    distinct = set(texts)
    short = all(len(t) <= 60 for t in distinct)
    return short and len(distinct) <= _MAX_OPTIONS and len(distinct) < len(texts)

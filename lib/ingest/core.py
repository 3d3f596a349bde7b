"""Raw tab values -> tidy ratings + a validation report: :func:`ingest`.

A bad cell is reported (tab, row, column) and excluded, never a crash; a source that cannot be
interpreted at all raises :class:`IngestError` and nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from lib.config import StudyConfig
from lib.ingest.cells import Clock, cell_text, date_order
from lib.ingest.columns import (
    Catalogue,
    classify,
    find_column,
    no_match_message,
    report_unmatched,
)
from lib.ingest.context import Context, RoundTab
from lib.ingest.eligibility import ELIGIBILITY_COLUMNS, criteria_results
from lib.ingest.panel import read_panel
from lib.ingest.ratings import TabRatings, ratings_frame, tab_ratings
from lib.ingest.report import IngestError, Report
from lib.ingest.statements import asked_rows, listed_statements, statement_table
from lib.ingest.submissions import Submission, submissions
from lib.sources.base import RawSource

__all__ = ["RESPONDENT_COLUMNS", "IngestResult", "ingest"]

RESPONDENT_COLUMNS = ["round", "identity", "submitted_at", "tab", "row"]
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_REPR = re.compile(r"\\ud[89a-f][0-9a-f]{2}")  # how repr() writes one


@dataclass
class IngestResult:
    """Tidy tables from one source, plus every problem found."""

    ratings: pd.DataFrame  # RATING_COLUMNS; one row per respondent × statement of the round
    respondents: pd.DataFrame  # round, identity, submitted_at, tab, row
    statements: pd.DataFrame  # statement_id, round, domain, text, revised_from
    panel: pd.DataFrame  # identity, display, name, then the listed attributes (may be empty)
    problems: pd.DataFrame  # PROBLEM_COLUMNS
    identities: dict[str, str]  # identity key -> identity as first written
    # ELIGIBILITY_COLUMNS: each invited panelist (identity key) against each pre-registered
    # criterion; the values are never attributes (lib.ingest.eligibility)
    eligibility: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=ELIGIBILITY_COLUMNS)
    )


@dataclass
class _RoundRead:
    """What one round tab yields (nothing for an empty tab)."""

    tab: RoundTab
    ratings: TabRatings | None = None
    subs: list[Submission] = field(default_factory=list)  # the kept submissions, by row
    asked: list[dict[str, Any]] = field(default_factory=list)  # STATEMENT_COLUMNS records


def ingest(raw: RawSource, cfg: StudyConfig) -> IngestResult:
    """Turn raw tab values into tidy ratings and a validation report."""
    missing = [t for t in cfg.rounds if t not in raw.tabs]
    if missing:
        raise IngestError(
            f"Tab{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not found; the source has: {', '.join(raw.all_tabs or raw.tabs)}"
        )
    # A Sheets cell cut mid-emoji holds half a UTF-16 pair, which no text column accepts: the
    # tables are built as they are and the cells cleaned only if one was refused.  Screening
    # every row first took 0.15 s of CPU at the L benchmark, for a cell that is rare.
    try:
        return _encodable(_ingest(raw, cfg))
    except UnicodeEncodeError:
        pass
    except IngestError as exc:  # its message may quote a cell
        if _encodes([str(exc)]):
            raise
    return _ingest(_without_lone_surrogates(raw), cfg)


def _encodable(result: IngestResult) -> IngestResult:
    """``result``, once every text it holds outside an Arrow column (which refuses a lone
    surrogate when built) is known to encode; else UnicodeEncodeError."""
    frames = (result.ratings, result.respondents, result.statements, result.panel)
    columns = [f[c] for f in (*frames, result.problems, result.eligibility) for c in f.columns]
    texts = [c for c in columns if c.dtype == object]
    if not _encodes([*result.identities, *result.identities.values()], *texts):
        raise UnicodeEncodeError("utf-8", "", 0, 1, "a lone surrogate")
    return result


def _encodes(*texts: Any) -> bool:
    """Whether every string of the ``texts`` collections encodes as UTF-8."""
    try:
        for values in texts:
            "\x00".join(v for v in values if isinstance(v, str)).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ingest(raw: RawSource, cfg: StudyConfig) -> IngestResult:
    """``ingest`` of a source whose round tabs are all there."""
    report = Report()
    listed = listed_statements(raw.tabs, cfg, report)
    panel = read_panel(raw.tabs, cfg, report)
    clock = Clock(_sheet_zone(raw, cfg, report), _date_order(raw, cfg))
    ctx = Context(cfg, report, clock, listed, frozenset(panel["identity"]))
    spellings: dict[str, str] = {}  # without a Statements tab: each ID as first written
    reads = [
        _round_tab(RoundTab.read(t, rnd, raw.tabs[t]), ctx, spellings)
        for t, rnd in cfg.rounds.items()
    ]
    statements = statement_table(listed, [f for r in reads for f in r.asked], cfg, report)
    identities = {p.identity: p.display for p in panel.itertuples()}
    for s in (s for r in reads for s in r.subs):
        identities.setdefault(s.key, s.written)
    respondents = _respondents(reads)
    # the invited: the Panel tab's list, else (no panel) everyone who responded
    invited = list(panel["identity"]) or list(dict.fromkeys(respondents["identity"]))
    eligibility = criteria_results(raw.tabs, cfg, report, invited)
    return IngestResult(
        ratings=ratings_frame([r.ratings for r in reads if r.ratings is not None]),
        respondents=respondents,
        statements=statements,
        panel=panel,
        problems=report.frame(),
        identities=identities,
        eligibility=eligibility,
    )


def _round_tab(tab: RoundTab, ctx: Context, spellings: dict[str, str]) -> _RoundRead:
    """Read one round's tab: classify its columns, keep its submissions, parse its answers.

    A tab none of whose questions matches a statement is refused, naming its first questions
    and the closest Statements-tab texts."""
    if not tab.rows:
        ctx.flag(tab, None, None, "empty tab", "the tab is empty; round skipped")
        return _RoundRead(tab)
    cat = Catalogue(ctx.listed, tab.round, spellings)
    cols = classify(tab, ctx, cat)
    stmt_cols = [c for c in cols if c.kind == "statement"]
    ids = find_column(tab.header, ctx.cfg.identity_column)
    times = find_column(tab.header, ctx.cfg.timestamp_column)
    if not stmt_cols:
        raise IngestError(no_match_message(tab, cols, ctx, set(ids + times), cat))
    report_unmatched(tab, cols, ctx, set(ids + times), cat)
    subs = submissions(tab, ctx)
    ratings = tab_ratings(tab, subs, cols, ctx)
    return _RoundRead(tab, ratings, subs, asked_rows(tab.round, stmt_cols))


def _respondents(reads: list[_RoundRead]) -> pd.DataFrame:
    """One row per kept submission: round, identity, submitted_at, tab, row."""
    rows = [
        {
            "round": r.tab.round,
            "identity": s.key,
            "submitted_at": s.submitted_at,
            "tab": r.tab.name,
            "row": s.row,
        }
        for r in reads
        for s in r.subs
    ]
    return pd.DataFrame(rows, columns=RESPONDENT_COLUMNS)


def _sheet_zone(raw: RawSource, cfg: StudyConfig, report: Report) -> ZoneInfo:
    """The sheet's own time zone, else the configured one (which config.py has checked)."""
    if raw.time_zone:
        try:
            return ZoneInfo(raw.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            why = f"the sheet's time zone {raw.time_zone[:60]!r} is not known here"
            why += f"; timestamps are read as {cfg.timezone}"
            report.add(next(iter(cfg.rounds)), None, None, "", "unknown time zone", why)
    return ZoneInfo(cfg.timezone)


def _date_order(raw: RawSource, cfg: StudyConfig) -> str:
    """D/M/Y or M/D/Y, decided once over every round's timestamps: one locale per workbook."""
    cells: list[Any] = []
    for tab in cfg.rounds:
        rows = raw.tabs.get(tab) or []
        cols = find_column([cell_text(h) for h in rows[0]], cfg.timestamp_column) if rows else []
        cells += [r[cols[0]] for r in rows[1:] if cols and cols[0] < len(r)]
    return date_order(cells, cfg.date_order)


def _without_lone_surrogates(raw: RawSource) -> RawSource:
    """A Sheets cell cut mid-emoji holds half a UTF-16 pair, which no string column accepts:
    each one replaced by U+FFFD (only once a table refused one, see ``ingest``).

    Each row is screened through its ``repr`` (built in C; a surrogate is never printable, so
    ``repr`` writes it as ``\\udXXX``) and only a row that may hold one is copied and cleaned;
    rows are otherwise shared with ``raw``, never changed.  Cleaning every cell took 0.85 s of
    CPU for the 3 million cells of the L benchmark, the screen 0.29 s."""

    def clean(row: list) -> list:
        """The row itself, or a cleaned copy when it holds a lone surrogate."""
        if not _SURROGATE_REPR.search(repr(row)):
            return row
        return [_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for v in row]

    tabs = {name: [clean(row) for row in rows] for name, rows in raw.tabs.items()}
    return replace(raw, tabs=tabs)

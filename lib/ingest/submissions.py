"""The rows of a round tab as submissions: who answered, when; one kept per respondent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.ingest.cells import cell_text, identity_key
from lib.ingest.columns import find_column
from lib.ingest.context import Context, RoundTab
from lib.ingest.report import IngestError

__all__ = ["Submission", "submissions"]


@dataclass
class Submission:
    """One response row of a round tab."""

    key: str  # identity key
    written: str  # the identity as written
    row: int  # sheet row number
    submitted_at: pd.Timestamp | None
    values: list[Any]  # the row's cells


def submissions(tab: RoundTab, ctx: Context) -> list[Submission]:
    """Each respondent's latest submission in ``tab``, in row order; rows left out reported."""
    cfg, flag = ctx.cfg, ctx.flag
    ids = find_column(tab.header, cfg.identity_column)
    if not ids:
        raise IngestError(
            f"Tab '{tab.name}' has no identity column '{cfg.identity_column}' "
            f"(headers: {', '.join(h for h in tab.header if h)[:300]}); set "
            "identity_column in the study configuration"
        )
    ts_cols = find_column(tab.header, cfg.timestamp_column)
    id_col, ts_col = ids[0], (ts_cols[0] if ts_cols else None)
    subs: list[Submission] = []
    for i, row in enumerate(tab.rows[1:], start=2):
        if not any(cell_text(v) for v in row):
            flag(tab, i, None, "empty row", "row has no values; ignored")
            continue
        written = cell_text(row[id_col]) if id_col < len(row) else ""
        if not written:
            flag(tab, i, id_col, "missing identity", "no respondent identity; row ignored")
            continue
        if ctx.panel_keys and identity_key(written) not in ctx.panel_keys:
            flag(tab, i, id_col, "not on panel", "respondent is not on the Panel tab; row ignored")
            continue
        raw_ts = row[ts_col] if ts_col is not None and ts_col < len(row) else None
        ts = ctx.clock.parse(raw_ts)
        if ts is None and cell_text(raw_ts):
            why = f"cannot read {cell_text(raw_ts)[:40]!r} as a date and time"
            flag(tab, i, ts_col, "bad timestamp", why)
        subs.append(Submission(identity_key(written), written, i, ts, row))
    return _dedupe(subs, tab, id_col, ctx)


def _dedupe(subs: list[Submission], tab: RoundTab, id_col: int, ctx: Context) -> list[Submission]:
    """Keep each respondent's latest submission by timestamp (then by row)."""
    latest: dict[str, Submission] = {}
    for s in subs:
        old = latest.get(s.key)
        if old is None:
            latest[s.key] = s
            continue
        keep, drop = (s, old) if _recency(s) >= _recency(old) else (old, s)
        latest[s.key] = keep
        why = f"submitted more than once; kept the latest submission (row {keep.row})"
        ctx.flag(tab, drop.row, id_col, "duplicate submission", why)
    return sorted(latest.values(), key=lambda s: s.row)


def _recency(s: Submission) -> tuple:
    """Sort key: a timestamped submission is newer than one without, then time, then row."""
    return (s.submitted_at is not None, s.submitted_at, s.row)

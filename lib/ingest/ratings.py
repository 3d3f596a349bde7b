"""The tidy ratings table: one row per respondent × statement of a round, built column-wise.

Cells are parsed once per distinct value (:class:`~lib.ingest.cells.Answers`) and the columns
assembled with numpy: at the L benchmark's 1.6 million cells, per-cell Python work is the cost.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lib.config import Scale
from lib.ingest.cells import Answers, cell_text
from lib.ingest.columns import Column
from lib.ingest.context import Context, RoundTab
from lib.ingest.submissions import Submission

__all__ = ["RATING_COLUMNS", "TabRatings", "ratings_frame", "tab_ratings"]

RATING_COLUMNS = [
    "round",
    "identity",
    "statement_id",
    "rating",
    "no_opinion",
    "comment",
    "submitted_at",
]


@dataclass(frozen=True)
class TabRatings:
    """One tab's ratings, submission by submission (``width`` statements each)."""

    columns: dict[str, np.ndarray]  # RATING_COLUMNS but submitted_at
    times: list[pd.Timestamp | None]  # one per submission
    width: int


def tab_ratings(
    tab: RoundTab, subs: list[Submission], cols: list[Column], ctx: Context
) -> TabRatings:
    """One tab's ratings as columns; a bad answer is reported and excluded.

    Each statement's answers are read on its own scale (``StudyConfig.scale_for``); a round
    on one scale (the usual case) parses all its cells in one pass."""
    stmt_cols = [c for c in cols if c.kind == "statement"]
    m, n = len(stmt_cols), len(subs)
    cells = _answer_cells(subs, [c.index for c in stmt_cols])
    rating = np.empty(n * m, dtype=np.float64)
    no_opinion = np.empty(n * m, dtype=bool)
    groups: dict[str, tuple[Scale, list[int]]] = {}
    for j, c in enumerate(stmt_cols):
        scale = ctx.cfg.scale_for(tab.round, c.statement_id)
        groups.setdefault(scale.name, (scale, []))[1].append(j)
    for scale, js in groups.values():
        if len(js) == m:
            where, part = np.arange(n * m), cells
        else:
            where = (np.arange(n)[:, None] * m + np.array(js)).ravel()
            part = [cells[k] for k in where]
        answers = Answers(scale)
        codes = answers.codes(part)
        res = answers.results
        bad = [k for k, r in enumerate(res) if r[2]]
        for k in np.flatnonzero(np.isin(codes, bad)) if bad else []:
            i, j = divmod(int(where[k]), m)
            why = res[codes[k]][2]
            ctx.flag(tab, subs[i].row, stmt_cols[j].index, "bad answer", f"{why}; excluded")
        values = np.array([math.nan if r[0] is None else r[0] for r in res], dtype=np.float64)
        rating[where] = values[codes]
        no_opinion[where] = np.array([r[1] for r in res], dtype=bool)[codes]
    ids = np.array([c.statement_id for c in stmt_cols], dtype=object)
    columns = {
        "round": np.full(n * m, tab.round, dtype=np.int64),
        "identity": np.repeat(np.array([s.key for s in subs], dtype=object), m),
        "statement_id": np.tile(ids, n),
        "rating": rating,
        "no_opinion": no_opinion,
        "comment": _comment_cells(subs, cols, stmt_cols),
    }
    return TabRatings(columns, [s.submitted_at for s in subs], m)


def _answer_cells(subs: list[Submission], idx: list[int]) -> list[Any]:
    """The answer cells of every submission, row by row (None past a row's last cell)."""
    width = max(idx) + 1
    pick = operator.itemgetter(*idx) if len(idx) > 1 else (lambda r: (r[idx[0]],))
    cells: list[Any] = []
    for s in subs:
        row = s.values
        if len(row) < width:
            row = [*row, *[None] * (width - len(row))]
        cells.extend(pick(row))
    return cells


def _comment_cells(
    subs: list[Submission], cols: list[Column], stmt_cols: list[Column]
) -> np.ndarray:
    """Each submission × statement's comment(s), joined in column order, or None."""
    pos = {c.statement_id: j for j, c in enumerate(stmt_cols)}
    targets = [(c.index, pos[c.statement_id]) for c in cols if c.kind == "comment"]
    m = len(stmt_cols)
    out = np.full(len(subs) * m, None, dtype=object)
    for i, s in enumerate(subs):
        vals, n = s.values, len(s.values)
        hits = [(x, j) for x, j in targets if x < n and vals[x] is not None and vals[x] != ""]
        found: dict[int, list[str]] = {}
        for x, j in hits:
            if cell_text(vals[x]):
                found.setdefault(j, []).append(str(vals[x]).strip())
        for j, texts in found.items():
            out[i * m + j] = "\n".join(texts)
    return out


def ratings_frame(parts: list[TabRatings]) -> pd.DataFrame:
    """The tabs' rating columns as one frame; timestamps typed once, over every tab."""
    if not parts:
        return pd.DataFrame([], columns=RATING_COLUMNS).astype(
            {"rating": "float64", "no_opinion": "bool", "round": "int64"}
        )
    frame = pd.DataFrame(
        {
            c: np.concatenate([p.columns[c] for p in parts])
            for c in RATING_COLUMNS
            if c != "submitted_at"
        }
    )
    times = pd.Series([t for p in parts for t in p.times], dtype=None)
    repeats = np.concatenate([np.full(len(p.times), p.width) for p in parts])
    frame["submitted_at"] = times.repeat(repeats).reset_index(drop=True)
    return frame[RATING_COLUMNS]

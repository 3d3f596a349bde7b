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


_TEXT = pd.Series([""]).dtype  # pandas' default text dtype: "str" (Arrow) in pandas 3
_CHUNK = 1 << 17


@dataclass(frozen=True)
class TabRatings:
    """One tab's ratings, submission by submission (``width`` statements each); text columns
    as codes into ``keys``, ``ids`` and ``comments`` (see ``ratings_frame``)."""

    round: int
    rating: np.ndarray  # submissions × statements, row-major
    no_opinion: np.ndarray
    keys: list[str]  # each submission's identity key
    ids: list[str]  # each statement column's id
    comments: dict[int, str]  # position (submission × width + statement) -> its comment(s)
    times: list[pd.Timestamp | None]  # one per submission

    @property
    def width(self) -> int:
        """Statements per submission."""
        return len(self.ids)


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
    return TabRatings(
        tab.round,
        rating,
        no_opinion,
        [s.key for s in subs],
        [c.statement_id for c in stmt_cols],
        _comment_cells(subs, cols, stmt_cols),
        [s.submitted_at for s in subs],
    )


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
) -> dict[int, str]:
    """Each submission × statement's comment(s), joined in column order, by position."""
    pos = {c.statement_id: j for j, c in enumerate(stmt_cols)}
    targets = [(c.index, pos[c.statement_id]) for c in cols if c.kind == "comment"]
    m = len(stmt_cols)
    out: dict[int, str] = {}
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
    """The tabs' rating columns as one frame; timestamps typed once, over every tab.

    ``identity`` is categorical; the other text columns are built from codes in Arrow
    (``_text``): building them from 1.6 million Python strings took 0.5 s of the L benchmark's
    refresh."""
    if not parts:
        return pd.DataFrame([], columns=RATING_COLUMNS).astype(
            {"rating": "float64", "no_opinion": "bool", "round": "int64"}
        )
    sizes = [len(p.keys) * p.width for p in parts]
    people: dict[str, int] = {}  # identity key -> its code, by first appearance
    who, what, said = [], [], []
    n_ids = n_said = 0
    comments: list[str] = []
    for p, size in zip(parts, sizes, strict=True):
        codes = np.array([people.setdefault(k, len(people)) for k in p.keys], dtype=np.int32)
        who.append(np.repeat(codes, p.width))
        what.append(np.tile(np.arange(p.width, dtype=np.int32) + n_ids, len(p.keys)))
        codes = np.full(size, -1, dtype=np.int32)
        codes[list(p.comments)] = np.arange(len(p.comments)) + n_said
        said.append(codes)
        comments += p.comments.values()
        n_ids, n_said = n_ids + p.width, n_said + len(p.comments)
    frame = pd.DataFrame(
        {
            "round": np.repeat([p.round for p in parts], sizes).astype(np.int64),
            # a category per panelist (2,000 names, not 1.6 million: 48 MB less at L)
            "identity": pd.Categorical.from_codes(
                np.concatenate(who), categories=pd.Index(list(people), dtype=_TEXT)
            ),
            "statement_id": _text([i for p in parts for i in p.ids], np.concatenate(what)),
            "rating": np.concatenate([p.rating for p in parts]),
            "no_opinion": np.concatenate([p.no_opinion for p in parts]),
            "comment": _text(comments, np.concatenate(said)),
        },
        copy=False,  # the arrays are new: pandas 3 would copy each
    )
    times = pd.Series([t for p in parts for t in p.times], dtype=None)
    repeats = np.concatenate([np.full(len(p.times), p.width) for p in parts])
    frame["submitted_at"] = times.repeat(repeats).reset_index(drop=True)
    _release_arrow_memory()
    return frame[RATING_COLUMNS]


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator kept from the gathers back to the system: 27 MB of
    the L benchmark's peak (mimalloc keeps freed pages for reuse)."""
    if getattr(_TEXT, "storage", None) == "pyarrow":
        import pyarrow as pa

        pa.default_memory_pool().release_unused()


def _text(values: list[str], codes: np.ndarray) -> Any:
    """``values[codes]`` as pandas' default text column (missing where a code is -1).

    pandas 3's ``str`` is Arrow-backed: the column is gathered in Arrow, with no Python string
    per row.  (A lone surrogate raises UnicodeEncodeError, as building it from strings would.)"""
    if getattr(_TEXT, "storage", None) != "pyarrow":  # pandas 2: object columns
        out = np.array([*values, None], dtype=object)
        return out[np.where(codes < 0, len(values), codes)]
    import pyarrow as pa

    distinct = pa.array(values, type=pa.large_string())
    chunks = []
    for start in range(0, len(codes), _CHUNK):  # in chunks: Arrow's take of 1.6 million rows
        part = codes[start : start + _CHUNK]  # at once held three times its output at its peak
        missing = part < 0
        chunks.append(distinct.take(pa.array(part, mask=missing if missing.any() else None)))
    gathered = pa.chunked_array(chunks, type=pa.large_string())
    return pd.arrays.ArrowStringArray(gathered, dtype=_TEXT)

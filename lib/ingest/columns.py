"""Header classification: which column of a round tab rates which statement, and its comments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.ingest.cells import cell_text, parse_rating
from lib.ingest.context import Context, RoundTab
from lib.ingest.report import column_letter

__all__ = ["MAX_HEADER", "Catalogue", "Column", "classify", "find_column", "grid_parts", "split_id"]

# Longer headers are reported and their column ignored: a question title with its grid row is a
# few hundred characters; a cell can hold 32,767 (Excel) or 50,000 (Sheets).
MAX_HEADER = 4000
_ID = re.compile(
    r"^\s*(?:\[(?P<b>[A-Za-z]{0,4}\d+(?:\.\d+)*[a-z]?)\]|(?P<p>[A-Za-z]{1,4}\d+(?:\.\d+)*[a-z]?)"
    r"(?=\s*[.:)–—-]|\s))\s*[.:)–—-]?\s*(?P<rest>.*)$",
    re.S,
)


def split_id(title: str) -> tuple[str | None, str]:
    """``'S01. text'`` / ``'S1.2 – text'`` / ``'[S07a] text'`` -> (id, text); else (None, title).

    >>> split_id("S01. Acne is common"), split_id("[S07a] Revised"), split_id("Comments")
    (('S01', 'Acne is common'), ('S07a', 'Revised'), (None, 'Comments'))
    """
    m = _ID.match(title)
    if not m or not m.group("rest").strip():
        return None, title.strip()
    return (m.group("b") or m.group("p")), m.group("rest").strip()


def grid_parts(header: str) -> tuple[str, str] | None:
    """(title, row) of a grid question's header ``'Title [row]'``, else None; linear time.

    The row runs from the first ``[`` to the last ``]`` (which only whitespace may follow), as
    Google Forms writes it; a regular expression for this took quadratic time on long headers.

    >>> grid_parts("How much? [S01. Acne [severe]] "), grid_parts("S01. Plain"), grid_parts("x []")
    (('How much?', 'S01. Acne [severe]'), None, None)
    """
    text = header.rstrip()
    start = text.find("[")
    if not text.endswith("]") or start < 0 or start >= len(text) - 2:
        return None
    return text[:start].rstrip(), text[start + 1 : -1]


def find_column(header: list[str], name: str) -> list[int]:
    """Indexes of the header cells equal to ``name`` (trimmed, case-folded)."""
    want = name.strip().casefold()
    return [j for j, h in enumerate(header) if h.strip().casefold() == want]


@dataclass
class Column:
    """One column of a round tab, as classified."""

    index: int
    header: str
    kind: str  # statement | comment | other
    statement_id: str | None = None
    text: str = ""
    domain: str = "Unassigned"
    grid: bool = False


class Catalogue:
    """Statement lookup by exact text (after trimming) or by a leading ID."""

    def __init__(self, statements: pd.DataFrame | None, rnd: int) -> None:
        self.frame = statements
        self.by_text_round: dict[str, str] = {}
        self.by_text: dict[str, str] = {}
        self.ids: set[str] = set()
        if statements is not None:
            for s in statements.itertuples():
                self.by_text.setdefault(s.text.strip(), s.statement_id)
                self.ids.add(s.statement_id)
                if s.round == rnd:
                    self.by_text_round[s.text.strip()] = s.statement_id

    def match(self, header: str) -> Column | None:
        """The statement a question header asks about (a grid row first), or None."""
        grid = grid_parts(header)
        candidates = [(grid[1], grid[0], True)] if grid else []
        candidates.append((header, "Unassigned", False))
        for text, title, is_grid in candidates:
            col = self._match_one(text.strip(), title.strip() or "Unassigned", is_grid)
            if col:
                return col
        return None

    def _match_one(self, text: str, title: str, grid: bool) -> Column | None:
        sid, rest = split_id(text)
        if self.frame is None:
            return Column(-1, "", "statement", sid, rest, title, grid) if sid else None
        found = (
            self.by_text_round.get(text)
            or (sid if sid in self.ids else None)
            or self.by_text.get(text)
        )
        return Column(-1, "", "statement", found, text, title, grid) if found else None


def classify(tab: RoundTab, ctx: Context) -> list[Column]:
    """Every column of ``tab``: a statement, a statement's comment, or other (ignored)."""
    cat = Catalogue(ctx.listed, tab.round)
    cols: list[Column] = []
    seen: dict[str, int] = {}
    comment_re = re.compile(ctx.cfg.comment_pattern)
    for j, h in enumerate(tab.header):
        if len(h) > MAX_HEADER:
            _too_long(tab, j, ctx)
            cols.append(Column(j, h, "other"))
            continue
        col = cat.match(h) if h else None
        if col is not None:
            col.index, col.header = j, h
            if col.statement_id in seen:
                first = column_letter(seen[col.statement_id])
                why = f"a second column for statement {col.statement_id} (first in column {first})"
                ctx.flag(tab, 1, j, "duplicate header", f"{why}; this column is ignored")
                col = Column(j, h, "other")
            else:
                seen[col.statement_id] = j
        elif h and comment_re.search(h):
            col = Column(j, h, "comment")
        else:
            col = Column(j, h, "other")
        cols.append(col)
    _attach_comments(cols, set(seen))
    return cols


def _too_long(tab: RoundTab, j: int, ctx: Context) -> None:
    """Report an over-long header (quoted only in part) and leave its column out."""
    h = tab.header[j]
    why = f"the header has {len(h):,} characters, more than {MAX_HEADER:,}; column ignored"
    ctx.report.add(tab.name, 1, j, h[:200] + "…", "header too long", why)


def _attach_comments(cols: list[Column], ids: set[str]) -> None:
    """A comment column belongs to the statement its header names, else the question just before."""
    for k, col in enumerate(cols):
        if col.kind != "comment":
            continue
        named = [
            s
            for s in ids
            if s in col.header  # the substring test spares most regexes
            and re.search(rf"(?<![\w.]){re.escape(s)}(?!\w)", col.header)
        ]
        if named:
            col.statement_id = max(named, key=len)
        elif k and cols[k - 1].kind == "statement" and not cols[k - 1].grid:
            col.statement_id = cols[k - 1].statement_id
        else:
            col.kind = "other"  # a general free-text column: ignored


def report_unmatched(tab: RoundTab, cols: list[Column], ctx: Context, skip: set[int]) -> None:
    """Report columns that look like rating questions but match no statement."""
    for col in cols:
        if (
            col.kind != "other"
            or col.index in skip
            or not col.header
            or len(col.header) > MAX_HEADER
        ):
            continue
        values = _filled(tab.rows, col.index)
        parsed = [parse_rating(v, ctx.cfg) for v in values]
        if values and sum(p[2] is None for p in parsed) * 2 >= len(values):
            why = "looks like a rating question but matches no statement; column ignored"
            ctx.flag(tab, 1, col.index, "question not matched", why)


def _filled(rows: list[list[Any]], j: int) -> list[Any]:
    """The non-blank cells of column ``j`` below the header."""
    return [r[j] for r in rows[1:] if j < len(r) and cell_text(r[j])]

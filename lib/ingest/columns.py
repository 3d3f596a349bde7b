"""Header classification: which column of a round tab rates which statement, and its comments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.ingest.cells import cell_text, parse_rating
from lib.ingest.context import Context, RoundTab
from lib.ingest.ids import id_key, normal_text, split_id, without_legend
from lib.ingest.report import column_letter

__all__ = [
    "CLOSEST_SCORE",
    "MAX_HEADER",
    "Catalogue",
    "Column",
    "classify",
    "find_column",
    "grid_parts",
    "no_match_message",
    "report_unmatched",
    "split_id",
]

# Longer headers are reported and their column ignored: a question title with its grid row is a
# few hundred characters; a cell can hold 32,767 (Excel) or 50,000 (Sheets).
MAX_HEADER = 4000
# The least similarity (rapidfuzz's normalised Indel ratio, 0-100) at which a Statements-tab
# text is offered as the closest to an unmatched question: a typo or a dropped plural scores
# 90+, a word left out of a sentence 80+, an unrelated question of similar length 25-45.
CLOSEST_SCORE = 75.0
_NUMBERED = re.compile(r"[\d.]+[a-z]?")  # an ID key without letters: "3", "11.1", "3a"
_NAMED_AS_NUMBER = r"(?<!\w)(?:item|statement|question|no\.?|n°|#)\s*"  # how a comment names one
_LISTED = 3  # unmatched questions named in the message that refuses a tab


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
    how: str = ""  # a statement's: "ID", "text" or "text after its ID" (see Catalogue.match)


class Catalogue:
    """Which statement a question title or grid row asks about, for one round tab.

    With a Statements tab: the title's text equals a listed text (compared by
    :func:`~lib.ingest.ids.normal_text`), or its leading ID is a listed ID (compared by
    :func:`~lib.ingest.ids.id_key`; the tab's spelling is kept), or the text after an unlisted
    ID equals a listed text; each tried again without a scale legend ending the title.  This
    round's rows win over other rounds'.  Without a Statements tab the leading ID is the
    statement, spelled as first seen in ``spellings`` (shared by the round tabs of one ingest).
    Lookups are dictionary hits; only :meth:`closest`, for a question that matched nothing,
    compares texts one by one.
    """

    def __init__(
        self, statements: pd.DataFrame | None, rnd: int, spellings: dict[str, str] | None = None
    ) -> None:
        self.frame = statements
        self.spellings = {} if spellings is None else spellings  # ID key -> ID as first written
        self.by_text: dict[str, str] = {}  # normal text -> statement id
        self.by_id: dict[str, str] = {}  # ID key -> statement id as the tab writes it
        self.rows: list[tuple[str, str]] = []  # (text, statement id), this round's first
        self._choices: list[str] | None = None  # normal texts of ``rows``, built by closest()
        if statements is not None:
            columns = (statements["round"], statements["statement_id"], statements["text"])
            listed = list(zip(*columns, strict=True))
            listed = [r for r in listed if r[0] == rnd] + [r for r in listed if r[0] != rnd]
            for _, sid, text in listed:
                self.by_text.setdefault(normal_text(text), sid)
                self.by_id.setdefault(id_key(sid), sid)
                self.rows.append((text, sid))

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

    def _match_one(self, text: str, domain: str, grid: bool) -> Column | None:
        if self.frame is None:
            written, rest = split_id(text)
            if written is None:
                return None
            sid = self.spellings.setdefault(id_key(written), written)
            return Column(
                -1, "", "statement", sid, without_legend(rest) or rest, domain, grid, "ID"
            )
        for form in (text, without_legend(text)):
            found = self._lookup(form) if form else None
            if found:
                return Column(-1, "", "statement", found[0], text, domain, grid, found[1])
        return None

    def _lookup(self, text: str) -> tuple[str, str] | None:
        """(statement id, how) of a title or grid row with the Statements tab, else None."""
        sid = self.by_text.get(normal_text(text))
        if sid is not None:
            return sid, "text"
        written, rest = split_id(text)
        if written is None:
            return None
        sid = self.by_id.get(id_key(written))
        if sid is not None:
            return sid, "ID"
        sid = self.by_text.get(normal_text(rest))
        return (sid, "text after its ID") if sid is not None else None

    def closest(self, header: str) -> tuple[str, str] | None:
        """(text, statement id) of the listed statement closest to an unmatched question, when
        it scores at least CLOSEST_SCORE; the question's ID and legend are left out."""
        if not self.rows:
            return None
        from rapidfuzz import fuzz, process  # only for a question that matched nothing

        if self._choices is None:
            self._choices = [normal_text(t) for t, _ in self.rows]
        best: tuple[str, float, int] | None = None
        for query in _queries(header):
            hit = process.extractOne(
                query, self._choices, scorer=fuzz.ratio, score_cutoff=CLOSEST_SCORE
            )
            if hit is not None and (best is None or hit[1] > best[1]):
                best = hit
        return self.rows[best[2]] if best is not None else None


def _queries(header: str) -> set[str]:
    """The texts a header may mean: its grid row and itself, each with and without its ID and
    legend, normalised."""
    grid = grid_parts(header)
    out: set[str] = set()
    for text in [grid[1], header] if grid else [header]:
        bare = split_id(text)[1]
        out.update([text, bare, without_legend(text) or text, without_legend(bare) or bare])
    return {q for q in map(normal_text, out) if q}


def classify(tab: RoundTab, ctx: Context, cat: Catalogue | None = None) -> list[Column]:
    """Every column of ``tab``: a statement, a statement's comment, or other (ignored)."""
    cat = Catalogue(ctx.listed, tab.round) if cat is None else cat
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
    names = [_name_pattern(s) for s in ids]
    for k, col in enumerate(cols):
        if col.kind != "comment":
            continue
        folded = col.header.casefold()
        # the substring test spares most regexes
        named = [s for s, word, pattern in names if word in folded and pattern.search(folded)]
        if named:
            col.statement_id = max(named, key=len)
        elif k and cols[k - 1].kind == "statement" and not cols[k - 1].grid:
            col.statement_id = cols[k - 1].statement_id
        else:
            col.kind = "other"  # a general free-text column: ignored


def _name_pattern(sid: str) -> tuple[str, str, re.Pattern[str]]:
    """(sid, a substring, a pattern) that find statement ``sid`` named in a case-folded comment
    header: ``Comment on S05``; a numbered statement only as ``item 3``, ``statement 11.1`` or
    ``#3`` ("Comments (max 3 lines)" names none)."""
    key = id_key(sid)
    if _NUMBERED.fullmatch(key):
        return sid, key, re.compile(rf"{_NAMED_AS_NUMBER}{re.escape(key)}(?!\w|\.\d)")
    written = sid.casefold()
    return sid, written, re.compile(rf"(?<![\w.]){re.escape(written)}(?!\w)")


def report_unmatched(
    tab: RoundTab, cols: list[Column], ctx: Context, skip: set[int], cat: Catalogue | None = None
) -> None:
    """Report columns that look like rating questions but match no statement, each with the
    closest Statements-tab text when one is close."""
    cat = Catalogue(ctx.listed, tab.round) if cat is None else cat
    # the scales this round's questions may be on: the main one and any [[scales]] entry for it
    scales = [ctx.cfg.scale] + [u.scale for u in ctx.cfg.scales if tab.round in u.rounds]
    for col in _questions(cols, skip):
        values = _filled(tab.rows, col.index)
        fits = max(sum(parse_rating(v, s)[2] is None for v in values) for s in scales)
        if values and fits * 2 >= len(values):
            why = "looks like a rating question but matches no statement"
            near = cat.closest(col.header)
            if near:
                why += f"; closest in the '{ctx.cfg.statements_tab}' tab: {_near(near)}"
            ctx.flag(tab, 1, col.index, "question not matched", why + "; column ignored")


def no_match_message(
    tab: RoundTab, cols: list[Column], ctx: Context, skip: set[int], cat: Catalogue
) -> str:
    """Why a round tab none of whose questions matches a statement is refused: its first
    questions by column letter, each with the closest Statements-tab text when one is close."""
    comment_re = re.compile(ctx.cfg.comment_pattern)
    questions = [c for c in _questions(cols, skip) if not comment_re.search(c.header)]
    named = []
    for col in questions[:_LISTED]:
        near = cat.closest(col.header)
        closest = f" — closest: {_near(near)}" if near else ""
        named.append(f"column {column_letter(col.index)} {_quoted(col.header)}{closest}")
    more = f" (and {len(questions) - _LISTED} more)" if len(questions) > _LISTED else ""
    listing = f": {'; '.join(named)}{more}" if named else ""
    stab = ctx.cfg.statements_tab or "Statements"
    hint = (
        f"check the '{stab}' tab texts or start question titles with an ID such as 'S01.'"
        if cat.frame is not None
        else f"start question titles with an ID such as 'S01.' or '3)', or list the "
        f"statements in a '{stab}' tab"
    )
    return f"No question in tab '{tab.name}' matches a statement{listing}. To fix it, {hint}"


def _questions(cols: list[Column], skip: set[int]) -> list[Column]:
    """The columns no statement claimed, but for ``skip`` (identity, timestamp), blank headers
    and over-long ones (reported already)."""
    return [
        c
        for c in cols
        if c.kind == "other" and c.index not in skip and c.header and len(c.header) <= MAX_HEADER
    ]


def _near(found: tuple[str, str]) -> str:
    """A closest Statements-tab text and its ID, as a message quotes them."""
    return f"{_quoted(found[0])} ({found[1]})"


def _quoted(text: str, width: int = 80) -> str:
    """``text`` on one line, cut to ``width`` characters, in double quotes."""
    line = " ".join(text.split())
    return '"' + (line if len(line) <= width else line[: width - 1] + "…") + '"'


def _filled(rows: list[list[Any]], j: int) -> list[Any]:
    """The non-blank cells of column ``j`` below the header."""
    return [r[j] for r in rows[1:] if j < len(r) and cell_text(r[j])]

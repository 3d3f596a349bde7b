"""The Google Forms response layout both demo generators write (data/demo/, data/demo-cos/).

A Google Form linked to a Sheet fills one tab per form: a header row (``Timestamp``, ``Email
Address``, then one column per question) and one row per submission.  Each generator describes its
study's form once as a :class:`Form` (wording, rating labels, when each round was open, the free
text respondents may write) and lays out its workbook with it: submission times within a round's
window, the optional free text (nobody repeats a comment verbatim), round 1 as one multiple-choice
grid per domain and later rounds as one question per statement followed by a comment box, the
Statements tab, the .xlsx with real datetime timestamps, and the ratings read back for the
summaries.  What is rated, by whom and how (the study's content and its simulation) stays in each
generator.

Not a package: each generator puts ``data/`` on ``sys.path`` and imports this file as
``forms_layout``, whether it runs as a script or is loaded by the tests and the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from openpyxl import Workbook

TAB_NAMES = ("Round 1", "Round 2", "Round 3", "Statements", "Panel")
TIMESTAMP_FORMAT = "dd/mm/yyyy hh:mm:ss"
FINAL_REMARKS = "Any final remarks?"
ROUND_COMMENT = "Comments (optional)"
STATEMENTS_HEADER = ["statement_id", "round", "domain", "text", "revised_from"]
NO_OPINION = 0  # the code of a form's no-opinion answer; None is an unanswered (blank) cell

Rating = int | None  # a point of the study's scale, NO_OPINION, or None (blank)
Column = tuple[str, str, str | None]  # (header, kind, key): kind is rating/comment/section/final
Tabs = dict[str, list[list[Any]]]  # tab name -> rows, header first
FreeText = Callable[["Response", str, set[str]], None]  # fills (submission, email, texts used)


class Item(Protocol):
    """What the layout reads of a rated statement (the COS demo calls them outcomes)."""

    @property
    def sid(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def revised_from(self) -> str | None: ...


@dataclass
class Response:
    """One form submission (one row of a round tab)."""

    email: str
    timestamp: datetime
    ratings: dict[str, Rating]
    comments: dict[str, str] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    final: str | None = None


@dataclass(frozen=True)
class Form:
    """One study's Google Form and the sheet it fills: wording, schedule and free-text pools."""

    domains: tuple[str, ...]  # round 1's sections, in form order
    grid_suffix: str  # a round-1 grid row's header is "<domain><grid_suffix> [<text>]"
    section_comment: str  # the comment box closing each round-1 section
    commented: tuple[str, ...]  # ids with a comment box of their own in round 1
    labels: dict[int, str | int]  # scale point -> the cell Sheets stores for it
    no_opinion: str  # the answer coded NO_OPINION ("Unable to judge")
    round_start: dict[int, date]
    round_days: dict[int, int]  # how long each round is open
    email_variants: dict[tuple[int, str], str]  # (round, invited email) -> as typed that round
    section_remarks: dict[str, tuple[str, ...]]  # domain -> remarks anyone may write there
    planted_remarks: dict[tuple[str, str], str]  # (email, domain) -> remark always written
    final_texts: tuple[str, ...]  # answers to "Any final remarks?"
    p_section_remark: float
    p_final_remark: float
    creator: str  # the .xlsx's document properties
    created: datetime

    # --- submissions -----------------------------------------------------------------------------

    def submissions(
        self,
        rng: np.random.Generator,
        number: int,
        ratings: dict[str, dict[str, Rating]],
        free_text: FreeText,
    ) -> list[Response]:
        """A round's submissions in panel order: a time in the round's window each, the email
        as the respondent typed it, and the free text ``free_text`` fills in."""
        start, days = self.round_start[number], self.round_days[number]
        times = submission_times(rng, start, days, list(ratings))
        out: list[Response] = []
        used: set[str] = set()
        for email, answers in ratings.items():
            shown = self.email_variants.get((number, email), email)
            resp = Response(shown, times[email], dict(answers))
            free_text(resp, email, used)
            out.append(resp)
        return out

    def add_remarks(
        self, rng: np.random.Generator, resp: Response, number: int, email: str, used: set[str]
    ) -> None:
        """Round 1's answers to each section's comment box, then the final remark (mostly none):
        a planted remark where there is one, else now and then one from the pool."""
        if number == 1:
            for domain in self.domains:
                text = self.planted_remarks.get((email, domain))
                if text is None and rng.random() < self.p_section_remark:
                    text = pick_unused(rng, self.section_remarks[domain], used)
                if text:
                    resp.sections[domain] = text
        if rng.random() < self.p_final_remark:
            resp.final = pick_unused(rng, self.final_texts, used)

    # --- the workbook ----------------------------------------------------------------------------

    def columns(self, number: int, items: Sequence[Item]) -> list[Column]:
        """A round's questions: round 1 in grids per domain, later rounds one by one; then the
        final remarks."""
        cols = self._grid_columns(items) if number == 1 else _question_columns(items)
        return cols + [(FINAL_REMARKS, "final", None)]

    def _grid_columns(self, items: Sequence[Item]) -> list[Column]:
        """Per domain: a multiple-choice grid, a comment box for each ``commented`` id, and the
        section's comment box."""
        cols: list[Column] = []
        for domain in self.domains:
            rows = [s for s in items if s.domain == domain]
            cols += [(f"{domain}{self.grid_suffix} [{s.text}]", "rating", s.sid) for s in rows]
            own_box = [s for s in rows if s.sid in self.commented]
            cols += [(f"Comment on {s.sid} (optional)", "comment", s.sid) for s in own_box]
            cols.append((self.section_comment, "section", domain))
        return cols

    def rating_cell(self, value: Rating) -> str | int | None:
        """A rating as the sheet holds it: its label, the no-opinion answer, or blank."""
        if value is None:
            return None
        return self.no_opinion if value == NO_OPINION else self.labels[value]

    def cell(self, resp: Response, kind: str, key: str | None) -> str | int | None:
        """The value a respondent's submission puts in one column (None when left empty)."""
        if kind == "rating":
            return self.rating_cell(resp.ratings.get(key or ""))
        if kind == "comment":
            return resp.comments.get(key or "")
        if kind == "section":
            return resp.sections.get(key or "")
        return resp.final

    def round_rows(
        self, number: int, items: Sequence[Item], responses: list[Response]
    ) -> list[list[Any]]:
        """A round tab: header row, then one row per submission in the order given."""
        cols = self.columns(number, items)
        rows: list[list[Any]] = [["Timestamp", "Email Address", *(c[0] for c in cols)]]
        for resp in responses:
            cells = (self.cell(resp, kind, key) for _, kind, key in cols)
            rows.append([resp.timestamp, resp.email, *cells])
        return rows

    def tabs(
        self, rounds: Iterable[tuple[int, Sequence[Item], list[Response]]], panel: list[list[Any]]
    ) -> Tabs:
        """The workbook's tabs from each round's (number, statements, submissions in sheet
        order) and the Panel tab's rows."""
        tabs: Tabs = {}
        statements: list[tuple[int, Sequence[Item]]] = []
        for number, items, responses in rounds:
            tabs[f"Round {number}"] = self.round_rows(number, items, responses)
            statements.append((number, items))
        tabs["Statements"] = statement_rows(statements)
        tabs["Panel"] = panel
        return tabs

    def write(self, tabs: Tabs, path: Path) -> None:
        """Save the tabs as an .xlsx with real datetime timestamps and fixed properties."""
        wb = Workbook()
        wb.remove(wb.active)
        wb.properties.creator = self.creator
        wb.properties.created = self.created
        for name in TAB_NAMES:
            ws = wb.create_sheet(name)
            for row in tabs[name]:
                ws.append(row)
            if name.startswith("Round"):
                for (first,) in ws.iter_rows(min_row=2, max_col=1):
                    first.number_format = TIMESTAMP_FORMAT
            ws.freeze_panes = "A2"
        wb.save(path)

    # --- reading it back (summaries) -------------------------------------------------------------

    def latest_ratings(self, tabs: Tabs, number: int) -> dict[str, dict[str, Rating]]:
        """Identity -> statement id -> rating code, keeping each identity's last submission."""
        codes: dict[Any, int] = {cell: k for k, cell in self.labels.items()}
        codes[self.no_opinion] = NO_OPINION
        cols = rating_columns(tabs, number)
        out: dict[str, dict[str, Rating]] = {}
        for row in sorted(tabs[f"Round {number}"][1:], key=lambda r: r[0]):
            out[identity(row[1])] = {sid: codes.get(row[j]) for j, sid in cols.items()}
        return out


def submission_times(
    rng: np.random.Generator, start: date, days: int, emails: list[str]
) -> dict[str, datetime]:
    """A submission time per respondent within the round's window, between 07:00 and 23:00."""
    out: dict[str, datetime] = {}
    for email in emails:
        day = start + timedelta(days=int(rng.integers(0, days - 3)))
        seconds = int(rng.integers(7 * 3600, 23 * 3600))
        out[email] = datetime.combine(day, time()) + timedelta(seconds=seconds)
    return out


def unused(text: str | None, used: set[str]) -> str | None:
    """``text`` unless someone already wrote it this round (nobody repeats a comment verbatim)."""
    if text is None or text in used:
        return None
    used.add(text)
    return text


def pick_unused(rng: np.random.Generator, pool: Sequence[str], used: set[str]) -> str | None:
    """A text drawn from ``pool``, or None when someone already wrote that one this round."""
    return unused(pool[int(rng.integers(len(pool)))], used)


def leave_blank(
    rng: np.random.Generator, ratings: dict[str, dict[str, Rating]], count: int
) -> None:
    """Blank ``count`` answered cells drawn at random (questions a respondent skipped)."""
    cells = [(e, s) for e, r in ratings.items() for s, v in r.items() if v]
    for k in rng.choice(len(cells), count, replace=False):
        email, sid = cells[int(k)]
        ratings[email][sid] = None


def _question_columns(items: Sequence[Item]) -> list[Column]:
    """One multiple-choice question per statement, each followed by a comment paragraph."""
    cols: list[Column] = []
    for s in items:
        cols += [(s.text, "rating", s.sid), (ROUND_COMMENT, "comment", s.sid)]
    return cols


def statement_rows(rounds: Iterable[tuple[int, Sequence[Item]]]) -> list[list[Any]]:
    """The Statements tab: one row per statement per round (number, statements) it is rated in."""
    rows: list[list[Any]] = [list(STATEMENTS_HEADER)]
    for number, items in rounds:
        rows += [[s.sid, number, s.domain, s.text, s.revised_from] for s in items]
    return rows


def identity(value: Any) -> str:
    """An email as an identity: trimmed and case-folded."""
    return str(value).strip().casefold()


def rating_columns(tabs: Tabs, number: int) -> dict[int, str]:
    """Column index -> statement id for the rating columns of a round tab."""
    texts = {row[3]: row[0] for row in tabs["Statements"][1:] if row[1] == number}
    out: dict[int, str] = {}
    for j, header in enumerate(tabs[f"Round {number}"][0]):
        grid = number == 1 and " [" in header and header.endswith("]")
        text = header[header.index(" [") + 2 : -1] if grid else header
        if text in texts:
            out[j] = texts[text]
    return out

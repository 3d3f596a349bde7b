"""Personal pre-filled links to the next round's Google Form.

A pre-filled link is the form's ``responderUri`` with ``?usp=pp_url&entry.N=value`` for each
question filled in, where ``N`` is the question's ``questionId`` (hexadecimal in the Forms API's
``forms.get``) written in decimal.  Google does not document the mapping; it is the one
described in https://qiita.com/que9/items/19dd5a3b24d654be9c7c ("entry.<questionId converted
to decimal>", responderUri + "?usp=pp_url"), and the ids are 8 hex digits from 00000000 to
7fffffff (https://gist.github.com/tanaikech/f391fd4d596d45bb846d374ff0ded695).

Each panelist's link fills in their identity question (when the form asks one) and their own
rating, in the round just closed, of each statement carried unchanged (same ID): they see it
and change it only if persuaded.  A revised statement (a new ID) is not pre-filled: its wording
is new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pandas as pd

from lib.analysis.scales import Scale
from lib.forms.build import options
from lib.ingest.ids import split_id
from lib.reports.feedback import feedback_file_name

__all__ = [
    "FormQuestion",
    "answer_text",
    "decode_link",
    "entry_id",
    "form_questions",
    "links_by_pseudonym",
    "panelist_link",
    "prefilled_links",
    "ratings_from_link",
]


def entry_id(question_id: str) -> int:
    """The ``entry.N`` number of a Forms API ``questionId`` (hexadecimal).

    >>> entry_id("1a2b0003")
    439025667
    """
    return int(question_id, 16)


@dataclass(frozen=True)
class FormQuestion:
    """One answerable question of a form, as ``forms.get`` returns it."""

    entry: int
    title: str
    statement_id: str | None  # from the title's (or grid row's) leading ID
    kind: str  # choice | scale | text | grid
    answers: tuple[str, ...] = ()  # a choice's or grid's options
    low: int | None = None
    high: int | None = None


def _question(title: str, q: dict[str, Any], kind: str, answers: tuple[str, ...]) -> FormQuestion:
    low = high = None
    if "scaleQuestion" in q:
        kind, low, high = "scale", q["scaleQuestion"].get("low"), q["scaleQuestion"].get("high")
    elif "choiceQuestion" in q:
        kind = "choice"
        answers = tuple(o.get("value", "") for o in q["choiceQuestion"].get("options", []))
    sid = split_id(title)[0]
    return FormQuestion(entry_id(q["questionId"]), title, sid, kind, answers, low, high)


def form_questions(form: dict[str, Any]) -> list[FormQuestion]:
    """Every question of a ``forms.get`` body (a grid gives one per row), in order."""
    out = []
    for item in form.get("items", []):
        if "questionItem" in item:
            q = item["questionItem"]["question"]
            out.append(_question(str(item.get("title", "")), q, "text", ()))
        elif "questionGroupItem" in item:
            group = item["questionGroupItem"]
            cols = (group.get("grid") or {}).get("columns", {}).get("options", [])
            answers = tuple(o.get("value", "") for o in cols)
            for q in group.get("questions", []):
                title = str((q.get("rowQuestion") or {}).get("title", ""))
                out.append(_question(title, q, "grid", answers))
    return out


def answer_text(q: FormQuestion, score: float | None, no_opinion: bool, scale: Scale) -> str | None:
    """The answer that gives ``score`` (or no opinion) to question ``q``; None if it has none."""
    if q.kind == "scale":
        ok = score is not None and not no_opinion and q.low <= score <= q.high
        return str(int(score)) if ok else None
    if q.kind not in ("choice", "grid"):
        return None
    wanted = {label.casefold(): s for label, s in options(scale)}
    for answer in q.answers:
        known = wanted.get(answer.strip().casefold(), "unknown")
        if no_opinion and known is None:
            return answer
        if not no_opinion and score is not None and known == int(score):
            return answer
    return None


def panelist_link(form: dict[str, Any], values: dict[int, str]) -> str:
    """The pre-filled link giving each ``entry.N`` its value."""
    query = [("usp", "pp_url")] + [(f"entry.{n}", v) for n, v in values.items()]
    return f"{form['responderUri']}?{urlencode(query)}"


def decode_link(url: str) -> dict[int, str]:
    """The ``entry.N`` values of a pre-filled link."""
    return {
        int(k[6:]): v
        for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        if k.startswith("entry.") and k[6:].isdigit()
    }


def ratings_from_link(
    form: dict[str, Any], url: str, scale_of: Callable[[str], Scale]
) -> dict[str, float | str]:
    """Statement ID -> the rating a link pre-fills (the no-opinion answer as its text)."""
    values, out = decode_link(url), {}
    for q in form_questions(form):
        if q.statement_id is None or q.entry not in values:
            continue
        text = values[q.entry]
        if q.kind == "scale":
            out[q.statement_id] = float(text)
            continue
        score = dict((k.casefold(), s) for k, s in options(scale_of(q.statement_id)))
        found = score.get(text.casefold())
        out[q.statement_id] = text if found is None else float(found)
    return out


def _identity_entry(questions: list[FormQuestion], identity_column: str) -> int | None:
    for q in questions:
        if q.kind == "text" and q.title.strip().casefold() == identity_column.strip().casefold():
            return q.entry
    return None


def prefilled_links(
    form: dict[str, Any],
    previous: pd.DataFrame,
    recipients: pd.DataFrame,
    scale_of: Callable[[str], Scale],
    identity_column: str,
    closed_round: int,
) -> pd.DataFrame:
    """identity, pseudonym, feedback file name and pre-filled link of every panelist.

    ``previous``: the ratings of ``closed_round`` (round, panelist, statement_id, rating,
    no_opinion); ``recipients``: panelist, identity (lib.store.feedback_recipients).
    """
    questions = [q for q in form_questions(form) if q.statement_id is not None]
    who = _identity_entry(form_questions(form), identity_column)
    mine = previous[previous["round"] == closed_round].groupby("panelist")
    own = {p: frame for p, frame in mine}
    fd = SimpleNamespace(round=closed_round)  # feedback_file_name reads the round only
    rows = []
    for r in recipients.itertuples():
        values = {} if who is None else {who: str(r.identity)}
        rated = own.get(r.panelist)
        if rated is not None:
            by_id = {s.statement_id: s for s in rated.itertuples()}
            for q in questions:
                s = by_id.get(q.statement_id)
                if s is None:
                    continue
                score = None if pd.isna(s.rating) else float(s.rating)
                text = answer_text(q, score, bool(s.no_opinion), scale_of(q.statement_id))
                if text is not None:
                    values[q.entry] = text
        rows.append(
            {
                "identity": r.identity,
                "pseudonym": r.panelist,
                "file_name": feedback_file_name(fd, r.panelist),  # type: ignore[arg-type]
                "link": panelist_link(form, values),
            }
        )
    return pd.DataFrame(rows, columns=["identity", "pseudonym", "file_name", "link"])


def links_by_pseudonym(links: pd.DataFrame) -> dict[str, str]:
    """Pseudonym -> pre-filled link (for the mail-merge list's ``form_link`` column)."""
    return dict(zip(links["pseudonym"], links["link"], strict=True))

"""The answers seen in the rating columns: each label with its proposed score, the no-opinion
answers, the scale's ends, and which rounds (or statements) are Yes/No votes."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lib.ingest.cells import cell_text
from lib.ingest.labels import label_number
from lib.setup.vocabulary import KNOWN_ORDERS, is_no_opinion, known_order, yes_no_score

__all__ = ["Answered", "LabelSeen", "RoundAnswers", "read_round"]

# A scale legend in a question title: "(1 - Nada importante; …; 4 - Muito importante)".
_GROUP = re.compile(r"\(([^()]*)\)")
_LEGEND_PART = re.compile(r"^\s*(\d{1,2})\s*[-–—=:.)]\s*(\S.*?)\s*$")
# The usual top of a scale whose highest answers nobody gave (8 seen: a 1–9 scale).
_ROUND_UP = {6: 7, 8: 9}


@dataclass
class LabelSeen:
    """One answer label as seen, with the score proposed for it and how."""

    label: str
    score: int | None
    how: str
    count: int = 0
    rounds: set[int] = field(default_factory=set)
    no_opinion: bool = False
    check: bool = False


@dataclass(frozen=True)
class Answered:
    """One rating column of a round tab and its filled cells."""

    statement_id: str | None
    header: str
    cells: list[Any]


@dataclass
class RoundAnswers:
    """What one round's rating columns hold."""

    round: int
    min: int
    max: int
    labels: dict[str, LabelSeen]  # the round's rating labels and no-opinion answers
    numbers: set[int]  # answers given as numbers
    yes_no: list[str]  # statements answered Yes/No (every one: a Yes/No round)
    yes_no_labels: dict[str, LabelSeen]
    all_yes_no: bool
    notes: list[str]


def _legend(headers: list[str]) -> dict[str, int]:
    """Label -> number from the legends in the question titles."""
    out: dict[str, int] = {}
    for header in headers:
        for group in _GROUP.findall(header):
            parts = [_LEGEND_PART.match(p) for p in re.split(r"[;|/]|,(?=\s*\d)", group)]
            if len(parts) >= 2 and all(parts):
                out.update({m.group(2): int(m.group(1)) for m in parts if m})
    return out


def _texts(cells: list[Any]) -> tuple[Counter, set[int]]:
    """Text answers with their counts, and the whole numbers given as numbers."""
    texts: Counter = Counter()
    numbers: set[int] = set()
    for v in cells:
        if isinstance(v, bool):
            texts[str(v)] += 1
        elif isinstance(v, int | float):
            if float(v).is_integer():
                numbers.add(int(v))
        elif cell_text(v):
            texts[cell_text(v)] += 1
    return texts, numbers


def _is_yes_no(texts: Counter) -> bool:
    answers = [t for t in texts if not is_no_opinion(t)]
    return bool(answers) and all(yes_no_score(t) is not None for t in answers)


def read_round(rnd: int, columns: list[Answered]) -> RoundAnswers:
    """Score every label of one round: a number in the label, then a legend in a title, then
    a known order of labels (to check); Yes/No columns apart."""
    legend = _legend([c.header for c in columns])
    per_column = [(c, *_texts(c.cells)) for c in columns]
    votes = [(c, t) for c, t, n in per_column if not n and _is_yes_no(t)]
    all_votes = bool(votes) and len(votes) == len([1 for _, t, n in per_column if t or n])
    yes_no_ids = [c.statement_id for c, _ in votes if c.statement_id]
    voted = {id(c) for c, _ in votes}
    texts: Counter = Counter()
    numbers: set[int] = set()
    for c, t, n in per_column:
        if id(c) not in voted:
            texts.update(t)
            numbers |= n
    labels, order = _scored(texts, legend, rnd)
    vote_texts = sum((t for _, t in votes), Counter())
    vote_labels = {
        text: LabelSeen(text, yes_no_score(text), "Yes/No", n, {rnd}, is_no_opinion(text))
        for text, n in vote_texts.items()
    }
    lo, hi, notes = _ends(labels, numbers, legend, order, rnd)
    return RoundAnswers(rnd, lo, hi, labels, numbers, yes_no_ids, vote_labels, all_votes, notes)


def _scored(
    texts: Counter, legend: dict[str, int], rnd: int
) -> tuple[dict[str, LabelSeen], int | None]:
    """Each text answer of a rating scale, scored by its number, a legend or a known order
    (whose length is returned: the scale's top)."""
    out: dict[str, LabelSeen] = {}
    unnumbered = []
    legend_keys = {k.casefold(): v for k, v in legend.items()}
    for text, n in texts.items():
        seen = LabelSeen(text, None, "", n, {rnd})
        if is_no_opinion(text):
            seen.no_opinion, seen.how = True, "no opinion"
        elif label_number(text) is not None:
            seen.score, seen.how = label_number(text), "number in the label"
        elif text.casefold() in legend_keys:
            seen.score, seen.how = legend_keys[text.casefold()], "legend in the question title"
        else:
            unnumbered.append(text)
        out[text] = seen
    order = known_order(unnumbered) if unnumbered else None
    for text in unnumbered:
        seen = out[text]
        seen.check = True
        if order and text in order[1]:
            seen.score, seen.how = order[1][text], f"usual order ({order[0]})"
        else:
            seen.how = "no score known: give it one"
    return out, len(KNOWN_ORDERS[order[0]]) if order else None


def _ends(
    labels: dict[str, LabelSeen],
    numbers: set[int],
    legend: dict[str, int],
    order: int | None,
    rnd: int,
) -> tuple[int, int, list[str]]:
    """The scale's lowest and highest points: 0 or 1, and the highest answer seen (a known
    order's length, a legend's top), rounded up to the usual 7 or 9 when 6 or 8."""
    scores = numbers | {s.score for s in labels.values() if s.score is not None}
    scores |= set(legend.values())
    notes: list[str] = []
    if not scores:
        return 1, 5, [f"round {rnd}: no answer gives a score; proposed 1–5: check"]
    lo = min(min(scores), 1)  # scales start at 1, or at 0 (0–10) or below when answers do
    hi = max(scores)
    if order:
        hi = max(hi, order)
    elif not legend and hi in _ROUND_UP:
        notes.append(
            f"round {rnd}: the highest answer seen is {hi}; proposed the usual "
            f"{lo}–{_ROUND_UP[hi]} scale: check"
        )
        hi = _ROUND_UP[hi]
    if hi - lo < 1 or hi - lo > 20:
        notes.append(f"round {rnd}: answers run {lo}–{hi}, not a rating scale; proposed 1–5")
        lo, hi = 1, 5
    return lo, hi, notes

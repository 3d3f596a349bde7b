"""The next round's Google Form: one question per statement, built as Forms API items.

Each statement becomes a question whose title starts with its ID (``S07c. …``, so the next
refresh matches the column by ID, whatever Google does to the wording), in the study's scale:
a linear scale, multiple choice, or a grid per domain.  Its description gives the group's
result for the previous version of the statement (n, % agree, median, the distribution in
words) and what changed in the wording.  An optional comment question follows each.  The first
question asks the panelist's identity (the study's ``identity_column``), which a pre-filled
link fills in (``lib.forms.links``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.analysis.scales import Scale
from lib.config import YES_NO_LABELS, StudyConfig

__all__ = [
    "STYLES",
    "FormPlan",
    "build_form",
    "comment_title",
    "options",
    "question_style",
    "result_words",
    "rounds_toml",
    "statement_title",
]

STYLES = ("auto", "scale", "choice", "grid")
_LEGEND_NUMBER = re.compile(r"^\s*\d{1,2}\s*[-=:.)\u2013\u2014]\s*")  # "1 - Strongly disagree"


@dataclass(frozen=True)
class FormPlan:
    """What will be written to the form: the batchUpdate requests, and a preview table."""

    round: int
    closed_round: int
    requests: list[dict[str, Any]]
    preview: pd.DataFrame  # position, kind, statement_id, title, description, answers
    notes: tuple[str, ...] = ()

    @property
    def n_questions(self) -> int:
        """Questions (and grids) the form will have."""
        return len(self.preview)


def statement_title(statement_id: str, text: str) -> str:
    """A question title the ingest matches by its leading ID.

    >>> statement_title("S07c", "Doses below 10 mg work.")
    'S07c. Doses below 10 mg work.'
    """
    return f"{statement_id}. {text}"


def rounds_toml(rounds: dict[str, int], rnd: int, tab: str = "Form Responses 1") -> str:
    """The study file's ``[rounds]`` table once round ``rnd`` is read from ``tab`` (the tab
    Google creates when the form's responses are linked to the spreadsheet).

    >>> print(rounds_toml({"Round 1": 1}, 2))
    [rounds]
    "Round 1" = 1
    "Form Responses 1" = 2  # the tab Google Forms created (rename it here and in the sheet)
    """
    lines = ["[rounds]"]
    for name, r in rounds.items():
        if r != rnd and name != tab:
            lines.append(f"{_toml_key(name)} = {r}")
    note = "# the tab Google Forms created (rename it here and in the sheet)"
    lines.append(f"{_toml_key(tab)} = {rnd}  {note}")
    return "\n".join(lines)


def _toml_key(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def comment_title(statement_id: str) -> str:
    """The title of a statement's comment question: names the statement (lib.ingest.columns)."""
    return f"Comments on statement {statement_id} (optional)"


def options(scale: Scale) -> list[tuple[str, int | None]]:
    """(answer, score) of each point, lowest first, then the no-opinion answers (score None)."""
    if scale.yes_no:
        labels = scale.labels or YES_NO_LABELS
        names = {score: label for label, score in reversed(labels.items())}
        return [(names.get(1, "Yes"), 1), (names.get(0, "No"), 0)]
    points = [(label, score) for score, label in scale.point_labels().items()]
    return points + [(label, None) for label in scale.no_opinion]


def question_style(scale: Scale, style: str = "auto") -> str:
    """The question type for ``scale``: ``scale`` (linear), ``choice`` or ``grid``.

    A linear scale takes 0 or 1 up to 2–10, words only at its two ends and no no-opinion
    answer; anything else is asked as multiple choice (``auto``), as Google Forms allows.
    """
    fits = (
        not scale.yes_no
        and not scale.no_opinion
        and scale.min in (0, 1)
        and 2 <= scale.max <= 10
        and all(
            label.strip() == str(score) or score in (scale.min, scale.max)
            for label, score in scale.labels.items()
        )
    )
    if style == "auto":
        return "scale" if fits else "choice"
    if style == "scale" and not fits:
        return "choice"
    return style


def _plain(label: str) -> str:
    """A point's words without the number a Forms-style label repeats."""
    return _LEGEND_NUMBER.sub("", label).strip()


def result_words(
    metric: pd.Series, counts: pd.DataFrame, scale: Scale, closed_round: int, previous_id: str
) -> str:
    """The group's result for the previous version, in a sentence or two."""
    labels = dict(options(scale))
    by_score = {score: label for label, score in labels.items() if score is not None}
    parts = []
    for answer, count in zip(counts["answer"], counts["count"], strict=True):
        if answer == "missing" or not count:
            continue
        if answer == "no_opinion":
            name = scale.no_opinion[0] if scale.no_opinion else "no opinion"
        else:
            name = _plain(by_score.get(int(answer), str(answer))) or str(answer)
        parts.append(f"{int(count)} {name}")
    median = "" if pd.isna(metric["median"]) else f", median {metric['median']:g}"
    agree = "" if pd.isna(metric["pct_agree"]) else f", {metric['pct_agree']:.0f}% agree"
    spread = f" Answers: {', '.join(parts)}." if parts else ""
    return (
        f"Round {closed_round} result for {previous_id}: n = {int(metric['n'])}"
        f"{agree}{median}.{spread}"
    )


def _text(value: Any) -> str:
    """A cell as text; empty for None and NaN."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _change(statement_id: str, revised_from: str, old_text: dict[str, str], note: str) -> str:
    """What changed in the wording since the closed round."""
    why = f" Why: {note}" if note else ""
    if revised_from:
        was = old_text.get(revised_from, "")
        return f"Revised from {revised_from}; the previous wording was: “{was}”{why}"
    if statement_id in old_text:
        return f"Wording unchanged.{why}"
    return f"A new statement in this round.{why}"


def _question(kind: str, scale: Scale) -> dict[str, Any]:
    """The ``question`` of a statement's item."""
    if kind == "scale":
        ends = scale.point_labels()
        low, high = _plain(ends[scale.min]), _plain(ends[scale.max])
        body: dict[str, Any] = {"low": scale.min, "high": scale.max}
        body |= {"lowLabel": low} if low != str(scale.min) else {}
        body |= {"highLabel": high} if high != str(scale.max) else {}
        return {"required": False, "scaleQuestion": body}
    choices = [{"value": label} for label, _ in options(scale)]
    return {"required": False, "choiceQuestion": {"type": "RADIO", "options": choices}}


def _identity_item(identity_column: str) -> dict[str, Any]:
    return {
        "title": identity_column,
        "description": "Filled in by your personal link; please leave it as it is.",
        "questionItem": {"question": {"required": True, "textQuestion": {"paragraph": False}}},
    }


def _comment_item(statement_id: str) -> dict[str, Any]:
    return {
        "title": comment_title(statement_id),
        "questionItem": {"question": {"required": False, "textQuestion": {"paragraph": True}}},
    }


@dataclass(frozen=True)
class _Entry:
    """One statement of the form with what its description says."""

    statement_id: str
    title: str
    domain: str
    scale: Scale
    kind: str
    description: str


def _entries(
    rows: pd.DataFrame,
    metrics: pd.DataFrame,
    distribution: pd.DataFrame,
    scales: tuple[Callable[[str], Scale], Callable[[str], Scale]],
    closed_round: int,
    notes: dict[str, str],
    style: str,
) -> list[_Entry]:
    """The form's statements; ``scales`` looks a statement's scale up in the form's round and
    in ``closed_round`` (whose result is described on that round's scale: a round may have
    a scale of its own)."""
    scale_of, closed_scale_of = scales
    closed = metrics[metrics["round"] == closed_round].set_index("statement_id")
    dist = distribution[distribution["round"] == closed_round]
    old_text = dict(zip(closed.index, closed["text"], strict=True))
    out = []
    for row in rows.itertuples():
        sid, revised_from = str(row.statement_id), _text(row.revised_from).strip()
        scale, previous = scale_of(sid), revised_from or sid
        said = []
        if previous in closed.index:
            counts = dist[dist["statement_id"] == previous]
            prev_scale = closed_scale_of(previous)
            said.append(
                result_words(closed.loc[previous], counts, prev_scale, closed_round, previous)
            )
        said.append(_change(sid, revised_from, old_text, _text(notes.get(sid)).strip()))
        out.append(
            _Entry(
                sid,
                statement_title(sid, _text(row.text).strip()),
                _text(row.domain).strip() or "Unassigned",
                scale,
                question_style(scale, style),
                " ".join(said),
            )
        )
    return out


def _answers(scale: Scale, kind: str) -> str:
    if kind == "scale":
        return f"linear scale {scale.min}–{scale.max}"
    return " / ".join(label for label, _ in options(scale))


def _grouped(entries: list[_Entry]) -> list[list[_Entry]]:
    """Grid entries of one domain and scale share a grid (placed where the domain first
    appears); other entries stand alone."""
    groups: list[list[_Entry]] = []
    grids: dict[tuple, list[_Entry]] = {}
    for e in entries:
        if e.kind != "grid":
            groups.append([e])
            continue
        key = (e.domain, tuple(options(e.scale)))
        if key not in grids:
            grids[key] = []
            groups.append(grids[key])
        grids[key].append(e)
    return groups


def _items(entries: list[_Entry], comments: bool) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(API item, preview row) for each statement, grid and comment question."""
    out = []
    for group in _grouped(entries):
        first = group[0]
        if first.kind == "grid":
            choices = [{"value": label} for label, _ in options(first.scale)]
            item = {
                "title": first.domain,
                "description": "\n".join(f"{e.statement_id}: {e.description}" for e in group),
                "questionGroupItem": {
                    "questions": [{"rowQuestion": {"title": e.title}} for e in group],
                    "grid": {"columns": {"type": "RADIO", "options": choices}},
                },
            }
            ids = ", ".join(e.statement_id for e in group)
            out.append((item, _row("grid", ids, item, _answers(first.scale, "grid"))))
        else:
            item = {
                "title": first.title,
                "description": first.description,
                "questionItem": {"question": _question(first.kind, first.scale)},
            }
            kind = "linear scale" if first.kind == "scale" else "multiple choice"
            out.append((item, _row(kind, first.statement_id, item, _answers(first.scale, kind))))
        for e in group if comments else []:
            note = _comment_item(e.statement_id)
            out.append((note, _row("comment (paragraph)", e.statement_id, note, "free text")))
    return out


def _row(kind: str, ids: str, item: dict[str, Any], answers: str) -> dict[str, Any]:
    rows = item.get("questionGroupItem", {}).get("questions", [])
    title = item["title"] + "".join(f"\n  [{q['rowQuestion']['title']}]" for q in rows)
    return {
        "kind": kind,
        "statement_id": ids,
        "title": title,
        "description": item.get("description", ""),
        "answers": answers,
    }


def build_form(
    rows: pd.DataFrame,
    metrics: pd.DataFrame,
    distribution: pd.DataFrame,
    cfg: StudyConfig,
    closed_round: int,
    *,
    style: str = "auto",
    comments: bool = True,
    notes: dict[str, str] | None = None,
) -> FormPlan:
    """The form of the round in ``rows`` (the Statements tab's rows of that round).

    ``metrics`` and ``distribution`` are the snapshot's (every round); the description of each
    question quotes the result in ``closed_round`` of the statement it carries or revises.
    ``notes`` maps a statement ID to the coordinator's reason for a change.
    """
    if style not in STYLES:
        raise ValueError(f"the question style must be one of {', '.join(STYLES)}")
    if rows.empty:
        raise ValueError("the round has no statements: nothing to put in a form")
    rnd = int(rows["round"].iloc[0])
    scales = (lambda s: cfg.scale_for(rnd, s), lambda s: cfg.scale_for(closed_round, s))
    entries = _entries(rows, metrics, distribution, scales, closed_round, notes or {}, style)
    found = []
    if comments and not re.search(cfg.comment_pattern, comment_title("S01")):
        comments = False
        found.append(
            "comment questions left out: the study's comment_pattern would not recognise "
            f"“{comment_title('S01')}”"
        )
    pairs = [(_identity_item(cfg.identity_column), None), *_items(entries, comments)]
    requests = [
        {"createItem": {"item": item, "location": {"index": i}}}
        for i, (item, _) in enumerate(pairs)
    ]
    identity = _row("identity (short answer)", "", pairs[0][0], "text, pre-filled")
    preview = pd.DataFrame([identity] + [row for _, row in pairs[1:]])
    preview.insert(0, "position", range(1, len(preview) + 1))
    return FormPlan(rnd, closed_round, requests, preview, tuple(found))

"""What a source's tabs propose for its study file: :func:`propose` reads a RawSource once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lib.config import ConfigError, StudyConfig, config_from_dict
from lib.ingest.cells import cell_text
from lib.ingest.columns import find_column
from lib.setup.answers import LabelSeen, RoundAnswers, read_round
from lib.setup.people import Choice, identity_column, timestamp_column
from lib.setup.questions import RoundQuestions, round_questions
from lib.setup.tabs import TabRole, statements_tab, tab_roles
from lib.sources.base import RawSource
from lib.textsafe import plural

__all__ = ["Proposal", "ScaleDraft", "propose"]

YES_NO_NAME = "Yes/No vote"


@dataclass
class ScaleDraft:
    """A proposed scale: the main one (``name == ""``) or a ``[[scales]]`` entry."""

    name: str
    yes_no: bool
    tabs: list[str]  # the round tabs it applies to (the main scale: every other one)
    statements: list[str]  # only these statements of those tabs (empty: all of them)
    min: int
    max: int
    labels: list[LabelSeen]  # rating labels, then no-opinion answers
    seen: tuple[int, int] | None = None  # the lowest and highest score answered


@dataclass
class Proposal:
    """Everything proposed for one source's study file, with the reason for each choice."""

    source: str
    title: str
    time_zone: str | None  # the sheet's own (a workbook has none)
    tabs: list[TabRole]
    rounds: dict[str, int]
    identity: Choice
    timestamp: Choice
    statements_tab: str | None
    statements_why: str
    panel_tab: str | None
    panel_why: str
    panel_columns: list[str]
    questions: list[RoundQuestions]
    scales: list[ScaleDraft]  # the main scale first
    notes: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)  # every header of the round tabs
    preset: str | None = None  # the coordinator's consensus preset; None: left to choose
    version: str = ""  # the rule's version as pre-registered ("v1, pre-registered 2026-09-01")

    @property
    def main(self) -> ScaleDraft:
        """The study's main scale."""
        return self.scales[0]

    def outline(self) -> str:
        """What was found, in one sentence (the command line prints it)."""
        rounds = ", ".join(f"{t!r} = {n}" for t, n in self.rounds.items()) or "none"
        scales = "; ".join(_outline(s) for s in self.scales if s.tabs or not s.name)
        who = self.identity.column
        return f"rounds {rounds}; {scales}; identity column {who!r}."


def propose(
    raw: RawSource, *, rounds: dict[str, int] | None = None, identity: str | None = None
) -> Proposal:
    """Recognise the round tabs, identity and timestamp columns, Statements and Panel tabs,
    answer labels and scales of ``raw``; ``rounds`` and ``identity`` override the guesses."""
    order = list(raw.all_tabs or raw.tabs)
    roles = _with_rounds(tab_roles(raw.tabs, order), rounds)
    chosen = {r.tab: r.round for r in roles if r.role == "round" and r.tab in raw.tabs}
    chosen = dict(sorted(chosen.items(), key=lambda kv: kv[1]))
    stmt = next((r for r in roles if r.role == "statements"), None)
    panel_role = next((r for r in roles if r.role == "panel"), None)
    tabs = [raw.tabs[t] for t in chosen]
    panel_rows = raw.tabs.get(panel_role.tab) if panel_role else None
    who = identity_column(tabs, panel_rows)
    if identity and identity.casefold() != (who.column or "").casefold():
        who = Choice(identity, "chosen by you")
    when = timestamp_column(tabs)
    notes = [f"tab {r.tab!r}: {r.why}" for r in roles if r.why.endswith(": check")]
    notes += _people_notes(who, when)
    panel, panel_why, columns = _panel(panel_role, panel_rows, who.column, notes)
    stmt_why = stmt.why if stmt else statements_tab(raw.tabs)[1]
    draft = _draft(chosen, who, when, stmt.tab if stmt else None, notes)
    questions = round_questions(raw.tabs, draft) if draft else []
    answers = [read_round(q.round, q.columns) for q in questions]
    notes += [n for a in answers for n in a.notes] + _question_notes(questions, stmt is not None)
    if not chosen:
        notes.insert(0, "no round tab found: give each round tab its number under [rounds]")
    return Proposal(
        source=raw.source, title=raw.title, time_zone=raw.time_zone, tabs=roles,
        rounds=chosen, identity=who, timestamp=when,
        statements_tab=stmt.tab if stmt else None, statements_why=stmt_why,
        panel_tab=panel, panel_why=panel_why, panel_columns=columns, questions=questions,
        scales=_scales(answers, chosen), notes=notes, headers=_all_headers(tabs),
    )  # fmt: skip


def _outline(s: ScaleDraft) -> str:
    """'scale 1–5, 5 labels (5 to check), no opinion: 'Unable to judge''."""
    rating = [x for x in s.labels if not x.no_opinion and not (s.yes_no and not x.check)]
    check = sum(x.check for x in rating)
    kind = "Yes/No" if s.yes_no else f"{s.min}–{s.max}"
    text = f"{s.name}: {kind}" if s.name else f"scale {kind}"
    if rating:
        text += f", {plural(len(rating), 'label')}" + (f" ({check} to check)" if check else "")
    no_op = [x.label for x in s.labels if x.no_opinion]
    return text + (f", no opinion: {', '.join(map(repr, no_op))}" if no_op else "")


def _all_headers(tabs: list[list[list[Any]]]) -> list[str]:
    """Each header of the round tabs once (first spelling), in order."""
    seen: dict[str, str] = {}
    for rows in tabs:
        for h in (cell_text(h) for h in (rows[0] if rows else [])):
            if h:
                seen.setdefault(h.casefold(), h)
    return list(seen.values())


def _with_rounds(roles: list[TabRole], rounds: dict[str, int] | None) -> list[TabRole]:
    """The tab roles with the coordinator's round tabs instead of the guessed ones."""
    if rounds is None:
        return roles
    out = []
    for r in roles:
        if r.tab in rounds and (r.role, r.round) == ("round", rounds[r.tab]):
            out.append(r)  # as guessed
        elif r.tab in rounds:
            out.append(TabRole(r.tab, "round", rounds[r.tab], "chosen by you"))
        elif r.role == "round":
            out.append(TabRole(r.tab, "ignored", None, "left out by you"))
        else:
            out.append(r)
    return out


def _people_notes(who: Choice, when: Choice) -> list[str]:
    notes = []
    for what, choice in (("identity column", who), ("timestamp column", when)):
        if choice.check:
            named = f" {choice.column!r}" if choice.column else ""
            notes.append(f"{what}{named}: {choice.why}: check")
    return notes


def _panel(
    role: TabRole | None, rows: list[list[Any]] | None, identity: str | None, notes: list[str]
) -> tuple[str | None, str, list[str]]:
    """The Panel tab (when it has the identity column), why, and its other columns."""
    if role is None:
        return None, "none: every respondent counts, and response rates are not known", []
    header = [cell_text(h) for h in rows[0]] if rows else []
    ids = find_column(header, identity or "")
    if not ids:
        why = f"the {role.tab!r} tab has no {identity!r} column, so it is not used"
        notes.append(why + ": rename its identity column to use it")
        return None, why, []
    others = [h for j, h in enumerate(header) if h and j != ids[0]]
    return role.tab, f"it lists the panelists by {identity!r}", others


def _draft(
    rounds: dict[str, int], who: Choice, when: Choice, stmt: str | None, notes: list[str]
) -> StudyConfig | None:
    """A configuration the ingest can classify the round tabs with (no scale yet); None, and
    a note, when the rounds chosen cannot be one (two tabs with one number)."""
    if not rounds:
        return None
    draft = {
        "rounds": rounds,
        "identity_column": who.column or "Email Address",
        "timestamp_column": when.column or "Timestamp",
        "statements_tab": stmt or "",
        "panel_tab": "",
    }
    try:
        return config_from_dict(draft)
    except ConfigError as exc:
        notes.append(str(exc))
        return None


def _question_notes(questions: list[RoundQuestions], listed: bool) -> list[str]:
    notes = []
    for q in questions:
        if q.unmatched and q.matched:
            notes.append(
                f"round {q.round}: {len(q.unmatched)} question(s) look like ratings but match "
                f"no statement, e.g. {q.unmatched[0][:80]!r}"
            )
        elif q.columns and not q.matched:
            fix = (
                "make their titles equal the Statements tab's texts"
                if listed
                else "add a Statements tab or start each title with an ID such as 'S01.'"
            )
            notes.append(f"round {q.round}: no question matches a statement: {fix}")
    return notes


def _scales(answers: list[RoundAnswers], rounds: dict[str, int]) -> list[ScaleDraft]:
    """The main scale (the one most rounds use), then a ``[[scales]]`` entry for each other
    rating scale, for the Yes/No rounds, and for the Yes/No statements of a mixed round."""
    tab_of = {n: t for t, n in rounds.items()}
    rating = [a for a in answers if not a.all_yes_no]
    groups: list[list[RoundAnswers]] = []
    for a in rating:
        home = next((g for g in groups if _fits(g, a)), None)
        if home is None:
            groups.append([a])
        else:
            home.append(a)
    groups.sort(key=lambda g: (-len([a for a in g if a.labels or a.numbers]), g[0].round))
    drafts = [_likert(g, tab_of, i) for i, g in enumerate(groups)] or [
        ScaleDraft("", False, [], [], 1, 5, [])
    ]
    votes = [a for a in answers if a.all_yes_no]
    if votes:
        labels = _merged([a.yes_no_labels for a in votes])
        tabs = [tab_of[a.round] for a in votes]
        drafts.append(ScaleDraft(YES_NO_NAME, True, tabs, [], 0, 1, labels))
    for a in (a for a in rating if a.yes_no):  # only statements a refresh identifies
        name = f"{YES_NO_NAME}, round {a.round}"
        labels = _merged([a.yes_no_labels])
        drafts.append(ScaleDraft(name, True, [tab_of[a.round]], list(a.yes_no), 0, 1, labels))
    return drafts


def _fits(group: list[RoundAnswers], a: RoundAnswers) -> bool:
    """Whether round ``a`` rates on the group's scale: same ends, no label scored otherwise
    (a round without answers fits any)."""
    first = next((g for g in group if g.labels or g.numbers), None)
    if first is None or not (a.labels or a.numbers):
        return True
    if (first.min, first.max) != (a.min, a.max):
        return False
    scores = {k: s.score for g in group for k, s in g.labels.items() if s.score is not None}
    return all(
        scores.get(k, s.score) == s.score for k, s in a.labels.items() if s.score is not None
    )


def _likert(group: list[RoundAnswers], tab_of: dict[int, str], i: int) -> ScaleDraft:
    scored = next((a for a in group if a.labels or a.numbers), group[0])
    rounds = [a.round for a in group]
    name = "" if i == 0 else f"{scored.min}–{scored.max} scale, round {'/'.join(map(str, rounds))}"
    labels = _merged([a.labels for a in group])
    scores = {n for a in group for n in a.numbers} | {
        x.score for x in labels if x.score is not None
    }
    seen = (min(scores), max(scores)) if scores else None
    tabs = [tab_of[r] for r in rounds]
    return ScaleDraft(name, False, tabs, [], scored.min, scored.max, labels, seen)


def _merged(per_round: list[dict[str, LabelSeen]]) -> list[LabelSeen]:
    """One entry per label over several rounds (counts added), rating labels by score first,
    then the no-opinion answers."""
    out: dict[str, LabelSeen] = {}
    for labels in per_round:
        for key, seen in labels.items():
            if key not in out:
                out[key] = replace(seen, rounds=set(seen.rounds))
                continue
            have = out[key]
            have.count += seen.count
            have.rounds |= seen.rounds
            if have.score is None:
                have.score, have.how, have.check = seen.score, seen.how, seen.check
    return sorted(
        out.values(),
        key=lambda s: (s.no_opinion, s.score is None, s.score or 0, -s.count, s.label),
    )

"""A proposal as a commented study TOML file that ``lib.config.load_config`` accepts.

Every text from the sheet (tab names, headers, labels) is written as a TOML string, escaped by
``lib.ingest.labels.toml_string``, also inside comments: no sheet text can add a line or a key.
"""

from __future__ import annotations

import textwrap
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lib.analysis.rules import PRESETS
from lib.config import YES_NO_LABELS
from lib.ingest.labels import toml_string as q
from lib.setup.answers import LabelSeen
from lib.setup.people import looks_identifying
from lib.setup.proposal import Proposal, ScaleDraft
from lib.setup.questions import RoundQuestions
from lib.sources.base import is_google_sheet
from lib.textsafe import short

__all__ = ["proposal_toml"]


def proposal_toml(p: Proposal, out_dir: str | Path | None = None) -> str:
    """The study file proposed for ``p``; a workbook path is written relative to ``out_dir``
    (where the file will be) when the workbook lies inside it, else absolute."""
    parts = [
        _head(p),
        _top(p, out_dir),
        _scale("[scale]", p.main, main=True),
        _rounds(p),
        _consensus(p.preset, p.version),
        *[_extra(p, s) for s in p.scales[1:]],
        _PRIVACY,
    ]
    return "\n".join(part for part in parts if part).rstrip() + "\n"


def _c(text: str) -> str:
    """Text for a comment: one line, control characters shown as U+FFFD."""
    clean = "".join(
        "\ufffd" if unicodedata.category(ch) in ("Cc", "Cs") and ch != "\t" else ch
        for ch in str(text)
    )
    return " ".join(clean.split())


def _wrapped(text: str, indent: str = "") -> list[str]:
    """A comment of one or more lines, each at most 100 characters."""
    lines = textwrap.wrap(_c(text), 96 - len(indent), break_long_words=False) or [""]
    return [
        f"# {indent}{line}" if i == 0 else f"# {' ' * len(indent)}{line}"
        for i, line in enumerate(lines)
    ]


def _head(p: Proposal) -> str:
    kind = "Google Sheet" if is_google_sheet(p.source) else "workbook"
    lines = [
        f"# Study configuration proposed by `python -m lib init` from the {kind} {q(_c(p.title))}.",
        '# Lines marked "check" are guesses: confirm them. Choose the consensus rule (below)',
        "# before round 1. Then: python -m lib refresh --study <this file> --db <its database>",
    ]
    if p.notes:
        lines += ["#", "# To check:", *(x for n in p.notes for x in _wrapped(n, "  - "))]
    return "\n".join(lines) + "\n"


def _top(p: Proposal, out_dir: str | Path | None) -> str:
    title = p.title.strip() or "Untitled Delphi study"
    lines = [f"title = {q(_c(title))}", f"source = {q(_source(p.source, out_dir))}", ""]
    lines += _wrapped(f"The identity column: {p.identity.why}{_check(p.identity.check)}")
    lines += [f"identity_column = {q(p.identity.column or 'Email Address')}"]
    lines += _wrapped(f"The timestamp column: {p.timestamp.why}{_check(p.timestamp.check)}")
    lines += [f"timestamp_column = {q(p.timestamp.column or 'Timestamp')}"]
    lines += _wrapped(f"The Statements tab: {p.statements_why}")
    lines += [f"statements_tab = {q(p.statements_tab or '')}"]
    lines += [*_wrapped(f"The Panel tab: {p.panel_why}"), f"panel_tab = {q(p.panel_tab or '')}"]
    lines += _attributes(p.panel_columns)
    lines += _time_zone(p.time_zone)
    lines += ['# Formatted timestamps: "auto" (a day > 12 settles it), "DMY", "MDY" or "YMD".']
    return "\n".join([*lines, 'date_order = "auto"']) + "\n"


def _attributes(columns: list[str]) -> list[str]:
    """The Panel tab's other columns as a commented ``panel_attributes``: privacy fails
    closed, so the coordinator lists them; those that look identifying are named apart."""
    if not columns:
        return []
    lines = [
        "# The Panel tab's other columns. Observers see none of them unless listed here, in",
        "# groups pooled under privacy.min_group_size: uncomment only columns that identify",
        "# nobody. Check each one.",
    ]
    kept = [c for c in columns if not looks_identifying(c)]
    never = [c for c in columns if looks_identifying(c)]
    if kept:
        lines += ["# panel_attributes = ["]
        lines += textwrap.wrap(
            ", ".join(q(_c(c)) for c in kept) + ",",
            94,
            initial_indent="#     ",
            subsequent_indent="#     ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines += ["# ]"]
    if never:
        lines += _wrapped(
            "Never list these (they name, reach or single out a person): "
            + ", ".join(q(_c(c)) for c in never)
        )
    return lines


def _check(flag: bool) -> str:
    return ": check" if flag else ""


def _source(source: str, out_dir: str | Path | None) -> str:
    if is_google_sheet(source):
        return source.strip()
    path = Path(source).resolve()
    if out_dir is not None:
        base = Path(out_dir).resolve()
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return str(path)


def _time_zone(zone: str | None) -> list[str]:
    try:
        ZoneInfo(zone or "")
        known = bool(zone)
    except (ZoneInfoNotFoundError, ValueError):
        known = False
    if known:
        return [
            "# Time zone: the sheet's own (a live Google Sheet says it).",
            f"timezone = {q(zone)}",
        ]
    return [
        "# Time zone of the timestamps: a workbook does not say; set the sheet's (e.g.",
        '# "Europe/London"): check',
        'timezone = "UTC"',
    ]


def _seen(s: LabelSeen) -> str:
    """How often and where a label was given: '394 answers, rounds 1–3'."""
    answers = "1 answer" if s.count == 1 else f"{s.count} answers"
    return f"{answers}, {_round_list(sorted(s.rounds))}"


def _round_list(rounds: list[int]) -> str:
    """'round 2', 'rounds 1–3', 'rounds 1, 3'."""
    if len(rounds) == 1:
        return f"round {rounds[0]}"
    if rounds == list(range(rounds[0], rounds[-1] + 1)):
        return f"rounds {rounds[0]}–{rounds[-1]}"
    return "rounds " + ", ".join(map(str, rounds))


def _scale(section: str, s: ScaleDraft, main: bool = False) -> str:
    """``[scale]`` (or a ``[[scales]]`` body): ends, no-opinion answers, labels with scores."""
    rating = [x for x in s.labels if not x.no_opinion]
    no_op = [x for x in s.labels if x.no_opinion]
    lines = [section] if section else []
    if not s.yes_no:
        seen = f"{s.seen[0]}–{s.seen[1]}" if s.seen else "none with a score"
        lines += [
            f"# The scale's ends (answers seen: {seen}): check",
            f"min = {s.min}",
            f"max = {s.max}",
        ]
    if no_op or main:
        lines += ["# Answers that are no rating (counted apart):"]
        lines += [f"no_opinion = [{', '.join(q(x.label) for x in no_op)}]"]
    if main:
        lines += [
            '# "No opinion" answers left out of the denominator of percentages (the common',
            "# choice); true counts them in it.",
            "no_opinion_in_denominator = false",
        ]
    labels = [x for x in rating if not (s.yes_no and _default_yes_no(x))]
    if labels:
        table = "[scale.labels]" if main else "[scales.labels]"
        lines += ["", table, *(_label_line(x) for x in labels)]
    return "\n".join(lines) + "\n" if lines else ""


def _default_yes_no(x: LabelSeen) -> bool:
    return any(
        x.label.casefold() == k.casefold() and x.score == v for k, v in YES_NO_LABELS.items()
    )


def _label_line(x: LabelSeen) -> str:
    why = f"{x.how}{', check' if x.check else ''}; {_seen(x)}"
    if x.score is None:
        return f"# {q(x.label)} = ?  # {_c(why)}"
    return f"{q(x.label)} = {x.score}  # {_c(why)}"


def _rounds(p: Proposal) -> str:
    lines = ["# Which tab holds which round: the number in each tab's name."]
    others = [r for r in p.tabs if r.role == "ignored"]
    if others:
        lines += ["# Not rounds:", *(f"#   {q(_c(r.tab))}: {_c(r.why)}" for r in others)]
    lines += ["[rounds]", *(f"{q(tab)} = {n}" for tab, n in p.rounds.items())]
    if p.questions:
        lines += ["", "# The statements each round asks, and how they were identified:"]
        lines += [_questions_line(x) for x in p.questions]
    return "\n".join(lines) + "\n"


def _questions_line(x: RoundQuestions) -> str:
    """'round 1, "Round 1": 40 statements by the text of a Statements-tab row (S01, S02, …)'."""
    where = f"#   round {x.round}, {q(_c(short(x.tab, 40)))}: "
    if not x.matched:
        return where + "no statement found" + ("" if x.columns else " (the tab is empty)")
    hows = ", ".join(f"{n} by {h}" for h, n in x.how.most_common())
    if len(x.how) == 1:
        hows = f"{x.matched} statements by {next(iter(x.how))}"
    ids = ", ".join(_c(short(i, 20)) for i in x.ids[:3]) + (", …" if len(x.ids) > 3 else "")
    return where + f"{hows} ({ids})"


def _consensus(preset: str | None, version: str = "") -> str:
    lines = [
        "# The consensus rule, pre-registered before round 1 and stated in every report.",
        "# Presets:",
        *(f"#   {name:<12} {label}" for name, label in PRESETS.items()),
        "# Any key below overrides the preset (then it is reported as a customised rule), e.g.",
        "# on a 1–5 scale:",
        "#   agree = [4, 5], disagree = [1, 2], threshold = 75, max_opposite = 15, max_iqr = 1,",
        "#   median_agree = [4, 5], median_disagree = [1, 2], min_n = 10",
    ]
    if preset is None:
        lines += [
            "# Choose one and uncomment these lines; until then the default, pct75, applies.",
            "# [consensus]",
            '# preset = "pct75"',
            '# version = "v1, pre-registered YYYY-MM-DD"',
        ]
    else:
        lines += ["[consensus]", f"preset = {q(preset)}"]
        if version.strip():
            lines.append(f"version = {q(version.strip())}")
        else:  # every report prints the version: a blank one reads "(none given)"
            lines.append('# version = "v1, pre-registered YYYY-MM-DD"   # check: give it')
    return "\n".join(lines) + "\n"


def _extra(p: Proposal, s: ScaleDraft) -> str:
    """A ``[[scales]]`` entry: the rounds (or statements) with a scale of their own."""
    rounds = sorted(p.rounds[t] for t in s.tabs if t in p.rounds)
    what = "answered Yes/No" if s.yes_no else f"rated {s.min}–{s.max}"
    where = f"Round{'s' if len(rounds) > 1 else ''} {', '.join(map(str, rounds))}"
    if s.statements:
        where += f", statement{'s' if len(s.statements) > 1 else ''} " + ", ".join(
            _c(short(x, 20)) for x in s.statements
        )
    lines = [f"# {where}: {what}."]
    lines += ["[[scales]]", f"name = {q(s.name)}", f"rounds = [{', '.join(map(str, rounds))}]"]
    if s.statements:
        lines += [f"statements = [{', '.join(q(x) for x in s.statements)}]"]
    lines += [f'type = "{"yes_no" if s.yes_no else "likert"}"']
    return "\n".join(lines) + "\n" + _scale("", s)


_PRIVACY = """[privacy]
# Groups of panelists smaller than this are pooled into one "Other (groups under N)" row, for
# every role; attrition is not compared when fewer than this many panelists dropped out.
min_group_size = 5
# Whether observers (the shared link, no sign-in) may read the anonymised comments.
observer_comments = false
"""

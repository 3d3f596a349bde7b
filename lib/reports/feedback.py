"""Feedback for each panelist after a round: one document each (``feedback.html.j2``), a ZIP of
them named by pseudonym, and the mail-merge list that links each file to an address.

A document names no other panelist and carries nothing that runs (no script may load).  With
stakeholder groups (``[groups]``) each panelist also sees their own group's result under the
panel's, or the pooled group's when theirs had fewer than ``privacy.min_group_size``
respondents in the round (in a group of two, one would otherwise learn the other's rating).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pandas as pd
from markupsafe import Markup

from lib.analysis.scales import Scale
from lib.reports import charts
from lib.reports.data import FeedbackData
from lib.reports.groups import FeedbackGroups
from lib.reports.render import macros, render, stylesheet
from lib.reports.safety import safe_csv
from lib.reports.scale_uses import no_opinion_label, point_labels

__all__ = [
    "COMMENTS_SHOWN",
    "StatementPart",
    "feedback_file_name",
    "feedback_parts",
    "feedback_html",
    "feedback_data_url",
    "feedback_zip",
    "feedback_documents",
    "own_answers",
    "own_kind",
    "own_text",
    "panelist_group_line",
    "round_rules_of",
    "write_feedback_zip",
    "write_zip",
    "mail_merge_csv",
    "zip_files",
    "Progress",
]

# progress(done, total): called after each document of a pack (the page's progress bar)
Progress = Callable[[int, int], None]

# Comments shown per statement in a panelist's document: at the L benchmark size (2,000
# panelists, ~52 comments per statement) every document repeated all 10,400 comments of the
# round (1.3 MB each); the coordinator holds every comment (the report's workbook).
COMMENTS_SHOWN = 10


@dataclass(frozen=True)
class StatementPart:
    """The panel's side of one statement's feedback: the same in every panelist's document.

    ``head``, ``summary`` and ``said`` are rendered (autoescaped) by the macros of
    ``_statement.html.j2``; ``rows`` keeps the distribution drawn for each own answer met so
    far, and ``groups`` the line of each group's result met so far.  Everything is on the
    statement's own ``scale`` (its labels, rule and no-opinion answers).
    """

    statement_id: str
    head: Markup  # heading and domain
    summary: Markup  # the panel's summary line
    said: Markup  # the panel's comments
    counts: dict[int, int]  # valid ratings per score
    other: dict[str, int]  # answers not counted (no opinion)
    scale: Scale | None = None
    labels: dict[int, str] = field(default_factory=dict)  # the scale's label per point
    dont_know: tuple[str, int] | None = None  # no-opinion answers counted in the denominator
    rows: dict[int | str | None, Markup] = field(default_factory=dict)
    judged: dict[str, Any] = field(default_factory=dict)  # how its scale reads it (_judged)
    groups: dict[str, Markup] = field(default_factory=dict)
    # the whole card drawn for each (own answer, group) met so far: a panelist's document is
    # then a join of cards, not a template loop (2,000 documents × 200 statements at L)
    cards: dict[tuple[Any, ...], Markup] = field(default_factory=dict)

    @property
    def word(self) -> str:
        """What the panelist gave: a rating, or (Yes/No) an answer."""
        return "answer" if self.scale is not None and self.scale.yes_no else "rating"


def feedback_file_name(fd: FeedbackData, panelist: str, ext: str = "html") -> str:
    """The file name of one panelist's feedback: by round and pseudonym."""
    return f"feedback_round{fd.round}_{re.sub(r'[^A-Za-z0-9_-]', '_', panelist)}.{ext}"


def feedback_parts(
    fd: FeedbackData, comments_shown: int = COMMENTS_SHOWN
) -> dict[str, StatementPart]:
    """Per statement of the round (in order), the panel's side of the feedback, built once.

    Each statement carries its own comments, the first ``comments_shown`` of them with a count
    of the rest.  One pass over the distribution and the comments instead of a filter per
    statement and panelist (the preview took 85 ms of the Reports page's rerun at the S
    benchmark size)."""
    counts: dict[str, dict[int, int]] = {}
    not_counted: dict[str, int] = {}
    for sid, answer, n in zip(
        fd.distribution["statement_id"],
        fd.distribution["answer"],
        fd.distribution["count"],
        strict=True,
    ):
        if answer == "no_opinion":
            not_counted[sid] = not_counted.get(sid, 0) + int(n)
        elif answer != "missing":
            counts.setdefault(sid, {})[int(answer)] = int(n)
    said: dict[str, list[str]] = {}
    for sid, comment in zip(fd.comments["statement_id"], fd.comments["comment"], strict=True):
        said.setdefault(sid, []).append(comment)
    html = macros("_statement.html.j2")
    parts = {}
    for r in fd.metrics.itertuples():
        sid = r.statement_id
        scale = fd.scales.scale_for(fd.round, sid)
        labels = charts.clean_labels(point_labels(scale, fd.scale))
        label, n_no = no_opinion_label(scale), not_counted.get(sid, 0)
        counted = scale.no_opinion_in_denominator
        judged = _judged(r, scale, labels, n_no)
        parts[sid] = StatementPart(
            statement_id=sid,
            head=html.head(r),
            summary=html.summary(r, scale.rule.agree, judged),
            said=html.said(*_capped(said.get(sid, []), comments_shown)),
            counts=counts.get(sid, {}),
            other={} if counted else {f"{label} (not counted)": n_no},
            scale=scale,
            labels=labels,
            dont_know=(label, n_no) if counted else None,
            judged=judged,
        )
    return parts


def _capped(comments: list[str], shown: int) -> tuple[list[str], int]:
    """The comments a document shows (the first ``shown``, in the stored order) and how many
    more there are."""
    return comments[:shown], max(0, len(comments) - shown)


def _judged(r: Any, scale: Scale, labels: dict[int, str], n_no_opinion: int) -> dict[str, Any]:
    """How the summary line reads a statement on its scale: % agree or % answering Yes, and
    its denominator (valid ratings, or with the no-opinion answers when they count)."""
    counted = scale.no_opinion_in_denominator
    n = int(r.n) if pd.notna(r.n) else 0
    return {
        "yes_no": scale.yes_no,
        "yes": labels.get(1, "Yes"),
        "no": labels.get(0, "No"),
        "denominator": n + (n_no_opinion if counted else 0),
        "dont_know": (no_opinion_label(scale), n_no_opinion) if counted and n_no_opinion else None,
    }


def _rows(part: StatementPart, scale: dict[int, str], own: int | str | None) -> Markup:
    """The statement's distribution with ``own`` (a score, or "no_opinion") marked."""
    if own not in part.rows:
        labels = part.labels or scale
        yes_no = part.scale is not None and part.scale.yes_no
        rows = charts.distribution_rows(
            part.counts, labels, own, part.other, part.dont_know, numbered=not yes_no
        )
        part.rows[own] = macros("_statement.html.j2").rows(rows, part.word)
    return part.rows[own]


def panelist_group_line(
    g: FeedbackGroups, part: StatementPart, own: str, agree: tuple[float, float]
) -> Markup:
    """The result group ``own``'s members see for the statement: their group's, or the pooled
    group's when theirs had fewer than the minimum respondents (drawn once per group)."""
    if own not in part.groups:
        shown = g.shown.get(own)
        view = {
            "own": own,
            "shown": shown,
            "pooled": shown is not None and shown != own,
            "small": g.sizes.get(own, 0) < g.min_size,
            "min_size": g.min_size,
            "m": None if shown is None else g.result(part.statement_id, shown),
        }
        agree = part.scale.rule.agree if part.scale is not None else agree
        part.groups[own] = macros("_statement.html.j2").group_line(view, agree, part.judged)
    return part.groups[own]


def own_kind(own: tuple[Any, Any] | None) -> tuple[str, int | None]:
    """What a panelist answered: (none | score | no_opinion | blank, the score if any)."""
    if own is None:
        return "none", None
    rating, no_opinion = own
    if pd.notna(rating):
        return "score", int(rating)
    return ("no_opinion" if bool(no_opinion) else "blank"), None


def own_answers(fd: FeedbackData) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Each panelist's answers of the round (statement -> (rating, no_opinion)), in one pass
    over the ratings instead of a filter of the whole round per panelist (at the L benchmark
    size, 400,000 rows filtered 2,000 times)."""
    out: dict[str, dict[str, tuple[Any, Any]]] = {}
    r = fd.ratings
    cols = (r[c].tolist() for c in ("panelist", "statement_id", "rating", "no_opinion"))
    for who, sid, rating, no_op in zip(*cols, strict=True):
        out.setdefault(who, {})[sid] = (rating, no_op)
    return out


def feedback_html(
    fd: FeedbackData,
    panelist: str,
    parts: dict[str, StatementPart] | None = None,
    own: dict[str, tuple[Any, Any]] | None = None,
) -> str:
    """One panelist's feedback: per statement the panel's results with their own rating marked.

    ``parts`` (from :func:`feedback_parts`) saves recomputing the panel's side for every
    panelist, and ``own`` (their entry of :func:`own_answers`) filtering the round's ratings.
    """
    parts = parts if parts is not None else feedback_parts(fd)
    if own is None:
        mine = fd.ratings[fd.ratings["panelist"] == panelist]
        own = {
            sid: (rating, no_op)
            for sid, rating, no_op in zip(
                mine["statement_id"], mine["rating"], mine["no_opinion"], strict=True
            )
        }
    groups = fd.groups
    group = groups.own.get(panelist) if groups is not None else None
    cards = Markup("").join(_card(fd, part, own.get(sid), group) for sid, part in parts.items())
    return render(
        "feedback.html.j2",
        fd=fd,
        panelist=panelist,
        cards=cards,
        words=list(dict.fromkeys(p.word for p in parts.values())),
        round_rules=round_rules_of(fd, parts),
        took_part=panelist in fd.responded,
        css=stylesheet("base.css", "feedback.css", "charts.css", *_extra_css(fd)),
    )


def _card(fd: FeedbackData, part: StatementPart, answer: Any, group: str | None) -> Markup:
    """One statement's card for a panelist who gave ``answer`` (in ``group``), drawn once per
    distinct answer and group."""
    kind, score = own_kind(answer)
    key = (kind, score, group)
    if key not in part.cards:
        mark = "no_opinion" if kind == "no_opinion" and part.dont_know else score
        line = None
        if fd.groups is not None and group is not None:
            line = panelist_group_line(fd.groups, part, group, fd.rule.agree)
        part.cards[key] = macros("_statement.html.j2").card(
            part, score, own_text(part, kind, score), _rows(part, fd.scale, mark), line
        )
    return part.cards[key]


def _extra_css(fd: FeedbackData) -> list[str]:
    """The group line's style, for a study with stakeholder groups."""
    return ["groups.css"] if fd.groups is not None else []


def own_text(part: StatementPart, kind: str, score: int | None) -> str:
    """The panelist's own answer in the statement's scale's words."""
    if kind == "score":
        label = part.labels.get(score, score) if score is not None else ""
        return str(label) if part.word == "answer" else charts.point_text(score, str(label))
    if kind == "no_opinion":
        scale = part.scale
        return scale.no_opinion[0] if scale is not None and scale.no_opinion else "no opinion"
    if kind == "blank":
        return "left blank"
    return f"you did not {'answer' if part.word == 'answer' else 'rate'} this statement"


def round_rules_of(fd: FeedbackData, parts: dict[str, StatementPart]) -> list[tuple[str, Any]]:
    """The rules the round's statements were judged by: (what they apply to, rule); one
    entry with an empty first item when the whole round was on the study's main scale."""
    scales = {p.scale.name: p.scale for p in parts.values() if p.scale is not None}
    if set(scales) <= {""}:
        return [("", fd.rule)]
    if len(scales) == 1:
        return [("", next(iter(scales.values())).rule)]
    return [
        (f"{s.describe()} questions{f' (“{s.name}”)' if s.name else ''}", s.rule)
        for s in scales.values()
    ]


def feedback_data_url(
    fd: FeedbackData, panelist: str, parts: dict[str, StatementPart] | None = None
) -> str:
    """One panelist's feedback as a ``data:`` URL, to preview in a frame.

    A ``data:`` URL has an opaque origin: a document shown from it cannot reach the app.
    """
    doc = base64.b64encode(feedback_html(fd, panelist, parts).encode("utf-8")).decode("ascii")
    return f"data:text/html;base64,{doc}"


def write_zip(
    out: BinaryIO,
    files: Iterable[tuple[str, str | bytes]],
    when: dt.datetime,
    progress: Progress | None = None,
    total: int | None = None,
) -> None:
    """Write ``files`` ((name, content) pairs, made one at a time) into a ZIP on ``out``, every
    entry dated ``when``; ``progress(done, total)`` after each.  Only one file's content is
    held at a time: the archive grows on ``out`` (a temporary file) as they come."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for done, (name, content) in enumerate(files, start=1):
            info = zipfile.ZipInfo(name, date_time=stamp)
            # level 1: the documents repeat their markup, so it compresses nearly as well as
            # the default level 6 (within a few percent) at several times the speed
            zf.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
            if progress is not None:
                progress(done, total if total is not None else done)


def zip_files(files: dict[str, str | bytes], when: dt.datetime) -> bytes:
    """A ZIP of ``files`` (name -> content), every entry dated ``when``."""
    buf = io.BytesIO()
    write_zip(buf, files.items(), when)
    return buf.getvalue()


def feedback_documents(fd: FeedbackData) -> Iterator[tuple[str, str]]:
    """Every panelist's feedback as (file name, HTML), made one at a time, by pseudonym."""
    parts, answers = feedback_parts(fd), own_answers(fd)
    for p in fd.panelists:
        yield feedback_file_name(fd, p), feedback_html(fd, p, parts, answers.get(p, {}))


def write_feedback_zip(fd: FeedbackData, out: BinaryIO, progress: Progress | None = None) -> None:
    """Every panelist's feedback as HTML files in a ZIP written on ``out``, document by
    document; ``progress(done, total)`` after each document."""
    write_zip(out, feedback_documents(fd), fd.snapshot["created_at"], progress, len(fd.panelists))


def feedback_zip(fd: FeedbackData) -> bytes:
    """Every panelist's feedback as HTML files in one ZIP, named by pseudonym (the archive
    built in a temporary file that spills to disk past 64 MB, then read back)."""
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as tmp:
        write_feedback_zip(fd, tmp)
        tmp.seek(0)
        return tmp.read()


def mail_merge_csv(
    fd: FeedbackData,
    recipients: pd.DataFrame,
    ext: str = "html",
    links: Mapping[str, str] | None = None,
) -> str:
    """identity, name, pseudonym, file name (and whether they took part) for a mail-merge; with
    ``links`` (pseudonym -> the next round's pre-filled form link, ``lib.forms.links``) also
    each panelist's ``form_link``."""
    frame = recipients[recipients["panelist"].isin(fd.panelists)]
    out = pd.DataFrame(
        {
            "identity": frame["identity"],
            "name": frame["name"],
            "pseudonym": frame["panelist"],
            "file_name": [feedback_file_name(fd, p, ext) for p in frame["panelist"]],
            f"responded_round_{fd.round}": [
                "yes" if p in fd.responded else "no" for p in frame["panelist"]
            ],
        }
    )
    if links is not None:
        out["form_link"] = [links.get(p, "") for p in frame["panelist"]]
    return safe_csv(out)

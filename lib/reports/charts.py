"""Charts for reports: a Plotly figure, and the print-safe HTML charts that need no JavaScript.

The HTML charts (distribution bars and rows, flow diagrams) are plain markup with inline widths,
so they print to PDF exactly as shown and work in documents that carry no script at all (the
per-panelist feedback).  Flow diagrams and distribution rows are drawn by the macros of
``templates/_charts.html.j2`` from the data here; ``distribution_bar`` returns its markup (every
text in it escaped) for the report template to mark safe.  Their styles are ``charts.css``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import pandas as pd
import plotly.graph_objects as go

from lib.charts.base import STATUS_COLORS, STATUS_LABELS, likert_colors
from lib.reports.scale_uses import DONT_KNOW_COLOR, clean_labels
from lib.textsafe import short

__all__ = [
    "FlowStep",
    "clean_labels",
    "point_text",
    "DistributionRow",
    "final_agreement_chart",
    "distribution_bar",
    "distribution_rows",
    "agreement_spark",
]

_FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=12)


def point_text(score: int, label: str) -> str:
    """One point as a reader sees it: "9 · Strongly agree", or "2" for a point whose label is
    its number (never "2 · 2")."""
    words = clean_labels({score: label})[score]
    return str(score) if words == str(score) else f"{score} · {words}"


@dataclass(frozen=True)
class FlowStep:
    """One box of a flow diagram, an optional side box, and the label of the arrow below it."""

    title: str
    lines: list[str] = field(default_factory=list)
    side: list[str] = field(default_factory=list)
    arrow: str | None = None


@dataclass(frozen=True)
class DistributionRow:
    """One answer of a distribution: its bar's share of the denominator and colour.

    A no-opinion answer has no ``score``; it is ``counted`` when the study counts it in the
    denominator of percentages (then it has a share and a bar, drawn grey), otherwise it is
    listed with its count only.
    """

    label: str
    n: int
    score: int | None = None  # None: a no-opinion answer
    pct: float = 0.0
    color: str = ""
    own: bool = False
    counted: bool = False


def _pct(count: int, total: int) -> float:
    return 100.0 * count / total if total else 0.0


def _colors(scores: list[int]) -> dict[int, str]:
    """Brown (disagree) to teal (agree); a Yes/No question's No and Yes a shade darker than
    the palest pair of two classes, so that they show on paper."""
    palette = likert_colors(4)[::3] if len(scores) == 2 else likert_colors(len(scores))
    return dict(zip(scores, palette, strict=True))


def distribution_bar(
    counts: dict[int, int],
    labels: dict[int, str],
    dont_know: tuple[str, int] | None = None,
    numbered: bool = True,
) -> str:
    """One stacked bar of the valid ratings (brown = disagree … teal = agree), for tables.

    ``dont_know`` (label, count): no-opinion answers counted in the denominator, drawn as a
    striped grey segment at the right end and counted in every share.  ``numbered``: the
    bar's description names scores ("ratings 1: 0, …"); otherwise (Yes/No) the labels.
    """
    scores = sorted(labels)
    colors = _colors(scores)
    extra = dont_know[1] if dont_know else 0
    total = sum(counts.get(s, 0) for s in scores) + extra
    spans = []
    for s in scores:
        n = counts.get(s, 0)
        if n:
            tip = f"{labels[s]}: {n} of {total}"
            spans.append(
                f'<span style="width:{_pct(n, total):.1f}%;background:{colors[s]}" '
                f'title="{escape(tip)}"></span>'
            )
    summary = (
        _summary(counts, scores)
        if numbered
        else "answers " + ", ".join(f"{labels[s]}: {counts.get(s, 0)}" for s in scores)
    )
    if dont_know and extra:
        tip = f"{dont_know[0]}: {extra} of {total}"
        spans.append(
            f'<span class="dk" style="width:{_pct(extra, total):.1f}%" '
            f'title="{escape(tip)}"></span>'
        )
    if dont_know:
        summary += f", {dont_know[0]}: {extra}"
    return f'<div class="dbar" role="img" aria-label="{escape(summary)}">{"".join(spans)}</div>'


def _summary(counts: dict[int, int], scores: list[int]) -> str:
    return "ratings " + ", ".join(f"{s}: {counts.get(s, 0)}" for s in scores)


def distribution_rows(
    counts: dict[int, int],
    labels: dict[int, str],
    own: int | str | None,
    other: dict[str, int] | None = None,
    dont_know: tuple[str, int] | None = None,
    numbered: bool = True,
) -> list[DistributionRow]:
    """A row per answer, highest score first, with its share of the denominator; the
    panelist's own answer marked (a score, or ``"no_opinion"``).

    ``dont_know`` (label, count) is the no-opinion answers counted in the denominator: a row of
    its own, with its share, after the scores.  ``other`` are answers not counted (listed if
    given at all).  ``numbered`` puts each score before its label ("6 · Agree"); a Yes/No
    question shows its labels alone.
    """
    colors = _colors(sorted(labels))
    extra = dont_know[1] if dont_know else 0
    total = sum(counts.get(s, 0) for s in labels) + extra
    rows = [
        DistributionRow(
            point_text(s, labels[s]) if numbered else labels[s],
            counts.get(s, 0),
            s,
            _pct(counts.get(s, 0), total),
            colors[s],
            own == s,
        )
        for s in sorted(labels, reverse=True)
    ]
    if dont_know:
        rows.append(
            DistributionRow(
                dont_know[0],
                extra,
                None,
                _pct(extra, total),
                DONT_KNOW_COLOR,
                own == "no_opinion",
                counted=True,
            )
        )
    return rows + [DistributionRow(name, n) for name, n in (other or {}).items() if n]


def final_agreement_chart(
    final: pd.DataFrame,
    threshold: float | None,
    agree_range: str,
    lines: dict[str, float] | None = None,
) -> go.Figure:
    """Dots: each final statement's % agreement, coloured by status, with the threshold line.

    ``final`` has statement_id, text, pct_agree, status and round (the last round rated).
    ``lines`` (scale in words -> threshold), for statements on several scales, draws each
    scale's threshold instead of ``threshold``; a ``yes_no`` column then makes a Yes/No
    statement's hover say "% yes".
    """
    frame = final.sort_values(["pct_agree", "statement_id"]).reset_index(drop=True)
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        part = frame[frame["status"] == status]
        if part.empty:
            continue
        data = [[escape(short(t, 80)), r] for t, r in zip(part["text"], part["round"], strict=True)]
        word = "agree"
        if lines is not None and "yes_no" in part:
            data = [
                [*d, "yes" if y else "agree"] for d, y in zip(data, part["yes_no"], strict=True)
            ]
            word = "%{customdata[2]}"
        fig.add_scatter(
            x=part["pct_agree"],
            y=part["statement_id"],
            mode="markers",
            name=STATUS_LABELS[status],
            marker=dict(color=color, size=9, line=dict(color="white", width=0.5)),
            customdata=data,
            hovertemplate=f"%{{y}} (round %{{customdata[1]}}): %{{x:.0f}}% {word}"
            "<br>%{customdata[0]}<extra></extra>",
        )
    marks = (
        {f"{t:g}%": t for t in [threshold] if t is not None}
        if lines is None
        else {f"{t:g}% ({escape(name)})": t for name, t in lines.items()}
    )
    # two labels 5 points apart would overlap: the lower one to the left of its line
    ordered = sorted(marks.items(), key=lambda kv: kv[1])
    for i, (text, x) in enumerate(ordered):
        side = "top" if len(ordered) == 1 else ("top left" if i == 0 else "top right")
        fig.add_vline(
            x=x,
            line=dict(color="#333", dash="dash", width=1),
            annotation_text=text,
            annotation_position=side,
        )
    fig.update_layout(
        title=dict(
            text=f"Final agreement per statement (% rating {escape(agree_range)})",
            x=0,
            font=dict(size=14),
        ),
        font=_FONT,
        height=110 + 15 * len(frame),
        margin=dict(l=10, r=10, t=60, b=30),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        plot_bgcolor="white",
        xaxis=dict(range=[-3, 103], ticksuffix="%", gridcolor="#e5e5e5", zeroline=False),
        yaxis=dict(
            categoryorder="array",
            categoryarray=frame["statement_id"].tolist(),
            tickfont=dict(size=10),
            gridcolor="#f0f0f0",
        ),
    )
    return fig


def agreement_spark(points: list[tuple[str, float]], threshold: float | None = None) -> str:
    """A row of small bars, one per round, each as tall as the % agree of the version rated
    then (``points``: its description, its percentage), with the rule's threshold as a line;
    every text in it escaped, for tables."""
    bars = "".join(
        f'<span style="height:{max(0.0, min(100.0, pct)):.0f}%" title="{escape(tip)}"></span>'
        for tip, pct in points
    )
    line = (
        f'<i style="bottom:{threshold:g}%" title="{escape(f"threshold {threshold:g}%")}"></i>'
        if threshold is not None
        else ""
    )
    said = "; ".join(tip for tip, _ in points)
    return f'<div class="spark" role="img" aria-label="{escape(said)}">{bars}{line}</div>'

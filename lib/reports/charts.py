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
from lib.textsafe import short

__all__ = [
    "FlowStep",
    "DistributionRow",
    "final_agreement_chart",
    "distribution_bar",
    "distribution_rows",
]

_FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=12)


@dataclass(frozen=True)
class FlowStep:
    """One box of a flow diagram, an optional side box, and the label of the arrow below it."""

    title: str
    lines: list[str] = field(default_factory=list)
    side: list[str] = field(default_factory=list)
    arrow: str | None = None


@dataclass(frozen=True)
class DistributionRow:
    """One answer of a distribution: its bar's share of the valid ratings and colour."""

    label: str
    n: int
    score: int | None = None  # None: an answer not counted (no opinion)
    pct: float = 0.0
    color: str = ""
    own: bool = False


def _pct(count: int, total: int) -> float:
    return 100.0 * count / total if total else 0.0


def distribution_bar(counts: dict[int, int], labels: dict[int, str]) -> str:
    """One stacked bar of the valid ratings (brown = disagree … teal = agree), for tables."""
    scores = sorted(labels)
    colors = dict(zip(scores, likert_colors(len(scores)), strict=True))
    total = sum(counts.get(s, 0) for s in scores)
    spans = []
    for s in scores:
        n = counts.get(s, 0)
        if n:
            tip = f"{labels[s]}: {n} of {total}"
            spans.append(
                f'<span style="width:{_pct(n, total):.1f}%;background:{colors[s]}" '
                f'title="{escape(tip)}"></span>'
            )
    return (
        f'<div class="dbar" role="img" aria-label="{escape(_summary(counts, scores))}">'
        f"{''.join(spans)}</div>"
    )


def _summary(counts: dict[int, int], scores: list[int]) -> str:
    return "ratings " + ", ".join(f"{s}: {counts.get(s, 0)}" for s in scores)


def distribution_rows(
    counts: dict[int, int],
    labels: dict[int, str],
    own: int | None,
    other: dict[str, int] | None = None,
) -> list[DistributionRow]:
    """A row per answer, highest score first, with its share of the valid ratings; the
    panelist's own answer marked, then the answers not counted (those given at all)."""
    colors = dict(zip(sorted(labels), likert_colors(len(labels)), strict=True))
    total = sum(counts.get(s, 0) for s in labels)
    rows = [
        DistributionRow(
            f"{s} · {labels[s]}",
            counts.get(s, 0),
            s,
            _pct(counts.get(s, 0), total),
            colors[s],
            own == s,
        )
        for s in sorted(labels, reverse=True)
    ]
    return rows + [DistributionRow(name, n) for name, n in (other or {}).items() if n]


def final_agreement_chart(
    final: pd.DataFrame, threshold: float | None, agree_range: str
) -> go.Figure:
    """Dots: each final statement's % agreement, coloured by status, with the threshold line.

    ``final`` has statement_id, text, pct_agree, status and round (the last round rated).
    """
    frame = final.sort_values(["pct_agree", "statement_id"]).reset_index(drop=True)
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        part = frame[frame["status"] == status]
        if part.empty:
            continue
        fig.add_scatter(
            x=part["pct_agree"],
            y=part["statement_id"],
            mode="markers",
            name=STATUS_LABELS[status],
            marker=dict(color=color, size=9, line=dict(color="white", width=0.5)),
            customdata=[
                [escape(short(t, 80)), r] for t, r in zip(part["text"], part["round"], strict=True)
            ],
            hovertemplate="%{y} (round %{customdata[1]}): %{x:.0f}% agree<br>%{customdata[0]}"
            "<extra></extra>",
        )
    if threshold is not None:
        fig.add_vline(
            x=threshold,
            line=dict(color="#333", dash="dash", width=1),
            annotation_text=f"{threshold:g}%",
            annotation_position="top",
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

"""Results of one snapshot: statuses per round, and one statement's ratings as Likert bars."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from lib.charts.base import STATUS_COLORS, STATUS_LABELS, layout, legend_below, likert_colors
from lib.textsafe import wrap

__all__ = ["status_by_round_chart", "likert_chart"]


def status_by_round_chart(metrics: pd.DataFrame) -> go.Figure:
    """Stacked bars: statements per round by consensus status."""
    counts = (
        metrics.groupby(["round", "status"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(STATUS_COLORS), fill_value=0)
    )
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        fig.add_bar(
            x=[f"Round {r}" for r in counts.index],
            y=counts[status],
            name=STATUS_LABELS[status],
            marker_color=color,
            hovertemplate="%{x}: %{y} statements "
            + STATUS_LABELS[status].lower()
            + "<extra></extra>",
        )
    fig.update_layout(barmode="stack", yaxis_title="Statements rated")
    return legend_below(layout(fig, "Consensus status per round", 320))  # half-width


def likert_chart(dist: pd.DataFrame, labels: dict[int, str], title: str = "") -> go.Figure:
    """Diverging stacked bars (neutral centred), one bar per round.

    ``dist`` has columns round, answer (a score as text, 'no_opinion' or 'missing'), count.
    Percentages are of valid ratings; no-opinion and missing counts are shown in the hover.
    """
    scores = sorted(labels)
    colors = dict(zip(scores, likert_colors(len(scores)), strict=True))
    mid = (scores[0] + scores[-1]) / 2
    rounds = sorted(dist["round"].unique())
    valid = dist[~dist["answer"].isin(["no_opinion", "missing"])]
    totals = valid.groupby("round")["count"].sum().reindex(rounds, fill_value=0)
    other = (
        dist[dist["answer"].isin(["no_opinion", "missing"])]
        .pivot_table(index="round", columns="answer", values="count", aggfunc="sum")
        .reindex(rounds)
    )
    # Counts in one pass (a filter per bar and round took 55 ms for a statement at L size).
    n_of = valid.groupby(["round", "answer"])["count"].sum().to_dict()
    fig = go.Figure()
    for score in _center_out(scores, mid):
        ns = [int(n_of.get((r, str(score)), 0)) for r in rounds]
        pct = [100.0 * n / totals[r] if totals[r] else 0.0 for r, n in zip(rounds, ns, strict=True)]
        half = score == mid
        side = -1 if score < mid else 1
        for part in (-1, 1) if half else (side,):
            fig.add_bar(
                y=[f"Round {r}" for r in rounds],
                x=[part * p / (2 if half else 1) for p in pct],
                orientation="h",
                marker_color=colors[score],
                name=labels[score],
                legendgroup=str(score),
                legendrank=score,
                showlegend=part == (1 if half else side),
                customdata=[
                    [p, n, totals[r], _other(other, r)]
                    for r, p, n in zip(rounds, pct, ns, strict=True)
                ],
                hovertemplate=(
                    f"{labels[score]}: " + "%{customdata[0]:.0f}% "
                    "(%{customdata[1]} of %{customdata[2]})%{customdata[3]}"
                    "<extra>%{y}</extra>"
                ),
            )
    fig.update_layout(
        barmode="relative",
        bargap=0.35,
        xaxis=dict(
            range=[-100, 100],
            ticksuffix="%",
            zeroline=True,
            zerolinecolor="#444",
            tickvals=[-100, -50, 0, 50, 100],
            ticktext=["100%", "50%", "0", "50%", "100%"],
        ),
        yaxis=dict(autorange="reversed"),
    )
    fig.update_layout(legend=dict(traceorder="normal"))
    return layout(fig, wrap(title, 90, 2) if title else "", 130 + 45 * len(rounds))


def _center_out(scores: list[int], mid: float) -> list[int]:
    """Bar order for a relative stack: from the centre outwards on each side."""
    below = sorted([s for s in scores if s < mid], reverse=True)
    above = sorted([s for s in scores if s > mid])
    return [s for s in scores if s == mid] + below + above


def _other(other: pd.DataFrame, rnd: int) -> str:
    parts = []
    for col, name in (("no_opinion", "no opinion"), ("missing", "blank")):
        if col in other.columns and pd.notna(other.loc[rnd, col]) and other.loc[rnd, col] > 0:
            parts.append(f"{int(other.loc[rnd, col])} {name}")
    return f"<br>not counted: {', '.join(parts)}" if parts else ""

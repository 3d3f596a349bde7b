"""Results of one snapshot: statuses per round, and one statement's ratings as Likert bars."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go

from lib.analysis.scales import ScaleMap
from lib.charts.base import STATUS_COLORS, STATUS_LABELS, layout, likert_colors
from lib.textsafe import wrap

__all__ = ["status_by_round_chart", "likert_chart", "RoundScale", "round_scales"]


def status_by_round_chart(metrics: pd.DataFrame) -> go.Figure:
    """Horizontal stacked bars: statements rated per round by consensus status, round 1 on
    top (a bar per round: full width on a desktop and readable on a phone)."""
    counts = (
        metrics.groupby(["round", "status"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(STATUS_COLORS), fill_value=0)
    )
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        fig.add_bar(
            y=[f"Round {r}" for r in counts.index],
            x=counts[status],
            orientation="h",
            name=STATUS_LABELS[status],
            marker_color=color,
            hovertemplate="%{y}: %{x} statements "
            + STATUS_LABELS[status].lower()
            + "<extra></extra>",
        )
    fig.update_layout(barmode="stack", xaxis_title="Statements rated", bargap=0.3)
    fig.update_yaxes(autorange="reversed")
    fig = layout(fig, "Consensus status per round", 150 + 36 * len(counts))
    return fig.update_layout(legend=dict(traceorder="normal"))


class RoundScale(NamedTuple):
    """How one round's bars are drawn: its points' labels, and the label of "no opinion"
    answers when the study counts them in the denominator (None: they are not counted)."""

    labels: dict[int, str]
    counted_no_opinion: str | None = None


def round_scales(scales: ScaleMap, pairs: pd.DataFrame) -> dict[int, RoundScale]:
    """Each round's :class:`RoundScale` for one statement's versions (``pairs``: round and
    statement_id, one row per round)."""
    out = {}
    for rnd, sid in zip(pairs["round"], pairs["statement_id"], strict=True):
        scale = scales.scale_for(int(rnd), sid)
        counted = None
        if scale.no_opinion_in_denominator:
            counted = scale.no_opinion[0] if scale.no_opinion else "No opinion"
        out[int(rnd)] = RoundScale(scale.point_labels(), counted)
    return out


def likert_chart(
    dist: pd.DataFrame,
    labels: dict[int, str],
    title: str = "",
    per_round: dict[int, RoundScale] | None = None,
) -> go.Figure:
    """Diverging stacked bars (neutral centred), one bar per round.

    ``dist`` has columns round, answer (a score as text, 'no_opinion' or 'missing'), count.
    Each round is drawn on ``per_round[round]`` (its own points and labels; a round rated
    Yes/No has two bars, No left and Yes right), else on ``labels``.  Percentages are of valid
    ratings; where a round counts no-opinion answers in the denominator they are part of it
    and drawn as a grey bar of their own, to the right of the scale; otherwise no-opinion and
    blank counts are in the hover.
    """
    rounds = sorted(dist["round"].unique())
    scale_of = {r: (per_round or {}).get(r) or RoundScale(labels) for r in rounds}
    counted = {r: scale_of[r].counted_no_opinion for r in rounds}
    valid = dist[~dist["answer"].isin(["no_opinion", "missing"])]
    totals = valid.groupby("round")["count"].sum().reindex(rounds, fill_value=0)
    n_of = valid.groupby(["round", "answer"])["count"].sum().to_dict()
    other = (
        dist[dist["answer"].isin(["no_opinion", "missing"])]
        .pivot_table(index="round", columns="answer", values="count", aggfunc="sum")
        .reindex(rounds)
    )
    no_op = {r: _count(other, r, "no_opinion") for r in rounds}
    denom = {r: totals[r] + (no_op[r] if counted[r] else 0) for r in rounds}
    fig = go.Figure()
    # rounds sharing labels share traces (and one legend entry per point)
    groups: dict[tuple, list[int]] = {}
    for r in rounds:
        groups.setdefault(tuple(scale_of[r].labels.items()), []).append(r)
    for g, (items, rs) in enumerate(groups.items()):
        _scale_bars(fig, dict(items), rs, n_of, denom, other, counted, g)
    if any(counted.values()):
        _no_opinion_bars(fig, rounds, no_op, denom, counted)
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
            domain=[0, 0.8] if any(counted.values()) else [0, 1],
        ),
        yaxis=dict(
            autorange="reversed",
            categoryorder="array",
            categoryarray=[f"Round {r}" for r in rounds],
        ),
    )
    fig.update_layout(legend=dict(traceorder="normal"))
    # room below for the legend: one row on a desktop, up to four on a phone
    return layout(fig, wrap(title, 90, 2) if title else "", 230 + 45 * len(rounds))


def _scale_bars(
    fig: go.Figure,
    labels: dict[int, str],
    rounds: list[int],
    n_of: dict,
    denom: dict,
    other: pd.DataFrame,
    counted: dict,
    group: int,
) -> None:
    """The diverging bars of the rounds drawn on one scale."""
    scores = sorted(labels)
    # two points (No / Yes) take BrBG's second-darkest pair: its lightest two are too pale
    palette = ["#BF812D", "#35978F"] if len(scores) == 2 else likert_colors(len(scores))
    colors = dict(zip(scores, palette, strict=True))
    mid = (scores[0] + scores[-1]) / 2
    for score in _center_out(scores, mid):
        ns = [int(n_of.get((r, str(score)), 0)) for r in rounds]
        pct = [100.0 * n / denom[r] if denom[r] else 0.0 for r, n in zip(rounds, ns, strict=True)]
        half = score == mid
        side = -1 if score < mid else 1
        for part in (-1, 1) if half else (side,):
            fig.add_bar(
                y=[f"Round {r}" for r in rounds],
                x=[part * p / (2 if half else 1) for p in pct],
                orientation="h",
                marker_color=colors[score],
                name=labels[score],
                legendgroup=f"{group}:{score}",
                legendrank=100 * group + score,
                showlegend=part == (1 if half else side),
                customdata=[
                    [p, n, denom[r], "" if counted[r] else _other(other, r)]
                    for r, p, n in zip(rounds, pct, ns, strict=True)
                ],
                hovertemplate=(
                    f"{labels[score]}: " + "%{customdata[0]:.0f}% "
                    "(%{customdata[1]} of %{customdata[2]})%{customdata[3]}"
                    "<extra>%{y}</extra>"
                ),
            )


def _no_opinion_bars(
    fig: go.Figure, rounds: list[int], no_op: dict, denom: dict, counted: dict
) -> None:
    """No-opinion answers counted in the denominator: a grey bar per round on a second axis."""
    shown = [r for r in rounds if counted[r]]
    label = next(counted[r] for r in shown)
    pct = [100.0 * no_op[r] / denom[r] if denom[r] else 0.0 for r in shown]
    fig.add_bar(
        y=[f"Round {r}" for r in shown],
        x=pct,
        xaxis="x2",
        orientation="h",
        marker_color="#9E9E9E",
        marker_pattern_shape="/",
        name=label,
        legendrank=10_000,
        text=[f"{p:.0f}%" for p in pct],
        textposition="outside",
        customdata=[[no_op[r], denom[r]] for r in shown],
        hovertemplate=label + ": %{x:.0f}% (%{customdata[0]} of %{customdata[1]})"
        "<extra>%{y}</extra>",
    )
    fig.update_layout(
        xaxis2=dict(
            domain=[0.84, 1],
            range=[0, 100],
            tickvals=[0, 50, 100],
            ticktext=["0", "50%", "100%"],
            title=dict(text=label, font=dict(size=11)),
            showgrid=False,
        )
    )


def _count(other: pd.DataFrame, rnd: int, col: str) -> int:
    if col in other.columns and pd.notna(other.loc[rnd, col]):
        return int(other.loc[rnd, col])
    return 0


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

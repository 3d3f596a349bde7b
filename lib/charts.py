"""Frames in, Plotly figures out.  Colours are colour-blind safe and the same in every chart."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from lib.textsafe import wrap

__all__ = ["STATUS_COLORS", "STATUS_LABELS", "likert_colors", "status_by_round_chart",
           "likert_chart"]

# Okabe & Ito (2008) colour-blind-safe palette: blue = in, vermillion = out, grey = none.
STATUS_COLORS = {"consensus_in": "#0072B2", "consensus_out": "#D55E00",
                 "no_consensus": "#9E9E9E"}
STATUS_LABELS = {"consensus_in": "Consensus in", "consensus_out": "Consensus out",
                 "no_consensus": "No consensus"}
_FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)


def likert_colors(k: int) -> list[str]:
    """k diverging colours: brown (disagree) to teal (agree), grey middle (ColorBrewer BrBG)."""
    brbg = ["#8C510A", "#BF812D", "#DFC27D", "#F6E8C3", "#C7EAE5", "#80CDC1", "#35978F",
            "#01665E"]
    half = k // 2
    left = brbg[4 - half:4] if half <= 4 else brbg[:4]
    right = brbg[4:4 + half] if half <= 4 else brbg[4:]
    return left + (["#BDBDBD"] if k % 2 else []) + right


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), font=_FONT,
                      height=height, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
                      plot_bgcolor="white")
    return fig


def status_by_round_chart(metrics: pd.DataFrame) -> go.Figure:
    """Stacked bars: statements per round by consensus status."""
    counts = (metrics.groupby(["round", "status"]).size().unstack(fill_value=0)
              .reindex(columns=list(STATUS_COLORS), fill_value=0))
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        fig.add_bar(x=[f"Round {r}" for r in counts.index], y=counts[status],
                    name=STATUS_LABELS[status], marker_color=color,
                    hovertemplate="%{x}: %{y} statements " + STATUS_LABELS[status].lower()
                    + "<extra></extra>")
    fig.update_layout(barmode="stack", yaxis_title="Statements rated")
    return _layout(fig, "Consensus status per round", 320)


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
    other = dist[dist["answer"].isin(["no_opinion", "missing"])].pivot_table(
        index="round", columns="answer", values="count", aggfunc="sum").reindex(rounds)
    fig = go.Figure()
    for score in _center_out(scores, mid):
        pct = [_share(valid, r, score, totals) for r in rounds]
        half = score == mid
        side = -1 if score < mid else 1
        for part in ((-1, 1) if half else (side,)):
            fig.add_bar(
                y=[f"Round {r}" for r in rounds], x=[part * p / (2 if half else 1) for p in pct],
                orientation="h", marker_color=colors[score], name=labels[score],
                legendgroup=str(score), showlegend=part == (1 if half else side),
                customdata=[[p, _n(valid, r, score), totals[r], _other(other, r)] for r, p in
                            zip(rounds, pct, strict=True)],
                hovertemplate=(f"{labels[score]}: " + "%{customdata[0]:.0f}% "
                               "(%{customdata[1]} of %{customdata[2]})%{customdata[3]}"
                               "<extra>%{y}</extra>"))
    fig.update_layout(barmode="relative", bargap=0.35,
                      xaxis=dict(range=[-100, 100], ticksuffix="%", zeroline=True,
                                 zerolinecolor="#444", tickvals=[-100, -50, 0, 50, 100],
                                 ticktext=["100%", "50%", "0", "50%", "100%"]),
                      yaxis=dict(autorange="reversed"))
    fig.update_layout(legend=dict(traceorder="normal"))
    return _layout(fig, wrap(title, 90, 2) if title else "", 130 + 45 * len(rounds))


def _center_out(scores: list[int], mid: float) -> list[int]:
    """Bar order for a relative stack: from the centre outwards on each side."""
    below = sorted([s for s in scores if s < mid], reverse=True)
    above = sorted([s for s in scores if s > mid])
    return [s for s in scores if s == mid] + below + above


def _n(valid: pd.DataFrame, rnd: int, score: int) -> int:
    hit = valid[(valid["round"] == rnd) & (valid["answer"] == str(score))]["count"]
    return int(hit.sum())


def _share(valid: pd.DataFrame, rnd: int, score: int, totals: pd.Series) -> float:
    total = totals.get(rnd, 0)
    return 100.0 * _n(valid, rnd, score) / total if total else 0.0


def _other(other: pd.DataFrame, rnd: int) -> str:
    parts = []
    for col, name in (("no_opinion", "no opinion"), ("missing", "blank")):
        if col in other.columns and pd.notna(other.loc[rnd, col]) and other.loc[rnd, col] > 0:
            parts.append(f"{int(other.loc[rnd, col])} {name}")
    return f"<br>not counted: {', '.join(parts)}" if parts else ""
